"""Fixtures for interoperability tests against usrsctp's example programs (over UDP, loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks._tsctp import quiet_shim


@pytest.fixture(scope="session")
def tsctp_quiet(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The LD_PRELOAD shim that silences tsctp's per-packet logging (None without gcc)."""
    return quiet_shim(tmp_path_factory.mktemp("shim"))
