"""benchmarks/channel_bench.py: a short run with sizes other than the defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_size_outside_the_defaults_is_measured(tmp_path: Path) -> None:
    """The receiving process exports a data channel per size asked for (``--sizes 3K``
    once failed: the receiver had only the default sizes' channels)."""
    out = tmp_path / "results.json"
    subprocess.run(
        [
            sys.executable,
            "benchmarks/channel_bench.py",
            "--parts",
            "throughput",
            "--sizes",
            "3K",
            "--seconds",
            "0.2",
            "--kinds",
            "netchan",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    )
    rows = json.loads(out.read_text())["main"]
    measured = [row for row in rows if row.get("part") == "throughput" and row["size"] == 3072]
    assert measured and measured[0]["n"] > 0, rows
