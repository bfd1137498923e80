"""Cost of netchan's codec next to plain msgpack, value shape by value shape.

The codec adds to msgpack what a channel needs (registered types, channel references, limits
checked on every value); this script shows what that costs. For each shape it times
``Codec.encode`` / ``Codec.decode`` and the baseline a user would otherwise write with
msgpack alone, in the same process, and prints microseconds per call and the ratio
codec / msgpack:

* ``small-dict``: a small dict of plain values (the codec's output is plain msgpack);
* ``list-200``: 200 records of str, int, bytes and a list;
* ``dataclass``: a registered frozen dataclass; the baseline packs ``dataclasses.astuple``
  and rebuilds the object from the unpacked list (what hand-written code would do).

Timings are CPU time of this process (``time.process_time``), best of ``--repeat`` runs, so a
shared machine disturbs them less. The numbers are for comparing versions and spotting a slow
path (a Python walk over every value, say); the unit tests assert behaviour only.

Usage::

    .venv/bin/python benchmarks/codec_bench.py [--rounds N] [--repeat 3] [--shapes a,b] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgpack

from netchan.codec import Codec, register


@register(name="bench.Point")
@dataclasses.dataclass(frozen=True)
class Point:
    """A small registered dataclass, as a typed channel carries."""

    x: int
    y: int
    label: str


def _shapes() -> dict[str, tuple[Any, Callable[[Any], bytes], Callable[[bytes], Any], int]]:
    """name -> (value, baseline encode, baseline decode, default rounds)."""
    small = {"n": 4, "name": "job", "args": [1, 2, 3], "x": 1.5}
    records = [
        {"id": i, "name": f"item{i}", "tags": ["a", "b"], "blob": b"\x00" * 16} for i in range(200)
    ]
    point = Point(1, 2, "p")
    return {
        "small-dict": (small, msgpack.packb, msgpack.unpackb, 20_000),
        "list-200": (records, msgpack.packb, msgpack.unpackb, 300),
        "dataclass": (
            point,
            lambda p: msgpack.packb(dataclasses.astuple(p)),
            lambda b: Point(*msgpack.unpackb(b)),
            20_000,
        ),
    }


def per_call(fn: Callable[[], object], rounds: int, repeat: int) -> float:
    """Seconds of CPU per call of ``fn``: the best of ``repeat`` runs of ``rounds`` calls."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(rounds):
            fn()
        best = min(best, (time.process_time() - started) / rounds)
    return best


def measure(names: list[str], rounds: int | None, repeat: int) -> list[dict[str, Any]]:
    """One result per shape and direction: codec and msgpack seconds per call."""
    codec = Codec()
    results = []
    shapes = _shapes()
    for name in names:
        value, base_encode, base_decode, default_rounds = shapes[name]
        n = rounds or default_rounds
        encoded = codec.encode(value)
        baseline = base_encode(value)
        assert codec.decode(encoded) == value and base_decode(baseline) == value
        # Bound methods and partials: every call is timed with this shape's own objects.
        for direction, ours, theirs in (
            ("encode", partial(codec.encode, value), partial(base_encode, value)),
            ("decode", partial(codec.decode, encoded), partial(base_decode, baseline)),
        ):
            results.append(
                {
                    "shape": name,
                    "direction": direction,
                    "bytes": len(encoded),
                    "codec_s": per_call(ours, n, repeat),
                    "msgpack_s": per_call(theirs, n, repeat),
                }
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="calls per run (per shape)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best one counts")
    parser.add_argument("--shapes", default=",".join(_shapes()), help="comma-separated shapes")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    args = parser.parse_args()
    names = [s for s in args.shapes.split(",") if s]
    unknown = sorted(set(names) - set(_shapes()))
    if unknown:
        parser.error(f"unknown shape(s): {', '.join(unknown)}; known: {', '.join(_shapes())}")
    results = measure(names, args.rounds, args.repeat)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'shape':<12} {'op':<7} {'bytes':>6} {'codec µs':>10} {'msgpack µs':>11} {'ratio':>6}")
    for r in results:
        ratio = r["codec_s"] / r["msgpack_s"] if r["msgpack_s"] else float("inf")
        print(
            f"{r['shape']:<12} {r['direction']:<7} {r['bytes']:>6} "
            f"{r['codec_s'] * 1e6:>10.2f} {r['msgpack_s'] * 1e6:>11.2f} {ratio:>6.2f}"
        )


if __name__ == "__main__":
    main()
