"""benchmarks/hop_floor.py: netchan's ping-pong shape over bare UDP runs and reports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_both_shapes_run_and_the_ratio_is_printed() -> None:
    """A short run: a p50 for the bare floor and for the shape, and their ratio."""
    done = subprocess.run(
        [sys.executable, "benchmarks/hop_floor.py", "--count", "50", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    )
    bare = re.search(r"bare trio UDP ping-pong p50: +(\d+) us", done.stdout)
    shaped = re.search(r"netchan's shape, no protocol: +(\d+) us", done.stdout)
    ratio = re.search(r"ratio of the medians \(shape / bare\): ([\d.]+)x", done.stdout)
    assert bare and shaped and ratio, done.stdout
    assert int(bare[1]) > 0 and int(shaped[1]) > 0
    assert abs(float(ratio[1]) - int(shaped[1]) / int(bare[1])) < 0.05 * float(ratio[1]) + 0.01
