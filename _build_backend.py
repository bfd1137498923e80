"""setuptools' build backend, plus mypy (which provides mypyc) when ``NETCHAN_COMPILE=1``.

pyproject.toml names this module as the build backend so that ``NETCHAN_COMPILE=1 pip install
.`` installs the compiler into pip's isolated build environment by itself; a pure build asks
for nothing more than setuptools does. See setup.py.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (the rest of the backend, unchanged)

_COMPILER = ["mypy>=1.10"]


def _extra() -> list[str]:
    return [] if os.environ.get("NETCHAN_COMPILE", "0") in ("", "0") else _COMPILER


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _setuptools.get_requires_for_build_wheel(config_settings) + _extra()


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _setuptools.get_requires_for_build_editable(config_settings) + _extra()
