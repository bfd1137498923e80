"""setuptools' build backend, plus mypy (which provides mypyc) when ``NETCHAN_COMPILE=1``.

pyproject.toml names this module as the build backend so that ``NETCHAN_COMPILE=1 pip install
.`` installs the compiler into pip's isolated build environment by itself; a pure build asks
for nothing more than setuptools does. See setup.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (the rest of the backend, unchanged)

# mypy (which provides mypyc), and crc32c: the packet module's checksum is typed through it.
_COMPILER = ["mypy>=1.10", "crc32c>=2.4"]


def _requires(
    hook: Callable[[dict[str, Any] | None], list[str]], config_settings: dict[str, Any] | None
) -> list[str]:
    flag = os.environ.get("NETCHAN_COMPILE", "0")
    if flag in ("", "0"):
        return hook(config_settings)
    # setuptools runs setup.py to collect its requirements, before mypyc is installed: ask as
    # for a pure build, then add the compiler.
    del os.environ["NETCHAN_COMPILE"]
    try:
        return hook(config_settings) + _COMPILER
    finally:
        os.environ["NETCHAN_COMPILE"] = flag


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _requires(_setuptools.get_requires_for_build_wheel, config_settings)


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _requires(_setuptools.get_requires_for_build_editable, config_settings)
