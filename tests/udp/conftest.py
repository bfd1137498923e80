"""``udp://`` tests: the conformance suite (tests/endpoint_suite.py) runs against ``udp://``."""

from __future__ import annotations

import pytest


@pytest.fixture
def endpoint_scheme() -> str:
    """The backend the shared endpoint suite exercises in this directory."""
    return "udp"
