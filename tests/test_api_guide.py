"""Every program in docs/api.md runs as printed and finishes cleanly.

The guide promises that what a reader copies works; each ``python`` block is a complete
program (two nodes on loopback), run here in its own interpreter with a bounded time.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
_BLOCK = re.compile(r"^## (?P<title>.+?)$|^```python\n(?P<code>.*?)^```$", re.M | re.S)


def _programs() -> list[tuple[str, str]]:
    programs: list[tuple[str, str]] = []
    title = "intro"
    for m in _BLOCK.finditer(GUIDE.read_text()):
        if m.group("title"):
            title = m.group("title")
        else:
            programs.append((title, m.group("code")))
    return programs


def test_guide_has_programs() -> None:
    assert len(_programs()) >= 8


@pytest.mark.parametrize(("title", "code"), _programs(), ids=[t for t, _ in _programs()])
def test_guide_program_runs(title: str, code: str, tmp_path: Path) -> None:
    script = tmp_path / "program.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{title}:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip(), f"{title} printed nothing"
