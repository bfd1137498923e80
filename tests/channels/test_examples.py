"""The README's examples run to completion on loopback (each starts its own node processes).

They are written for ``udp://``; the ``sctp://`` run of this suite (inside the SCTP VM, where
every Python start takes seconds) leaves them to the host runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("NETCHAN_TEST_SCHEME") == "sctp",
        reason="the examples use udp://; they run in the host's memory and udp runs",
    ),
]


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("request_reply.py", [], "reverse((1,2,3)) -> ('ok', (3, 2, 1))"),
        ("fan_in.py", ["--publishers", "3", "--events", "5"], "15 events from 3 publishers"),
        ("worker_fanout.py", ["--workers", "2", "--jobs", "6"], "job   5 ->"),
    ],
)
def test_example_runs(script: str, args: list[str], expect: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert expect in result.stdout, result.stdout
