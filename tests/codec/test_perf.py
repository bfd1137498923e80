"""Cost sanity: plain values cost what msgpack costs, within a generous factor.

Bounds are loose (shared, loaded machines) but catch a slow path sneaking into every call,
such as a Python walk over every value.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable

import msgpack

from netchan.codec import Codec
from tests.codec.helpers import Point

SMALL = {"n": 4, "name": "job", "args": [1, 2, 3], "x": 1.5}


def per_call(fn: Callable[[], object], rounds: int = 20000) -> float:
    best = float("inf")
    for _ in range(3):
        started = _time.perf_counter()
        for _ in range(rounds):
            fn()
        best = min(best, (_time.perf_counter() - started) / rounds)
    return best


def test_small_dict_costs_microseconds() -> None:
    codec = Codec()
    data = codec.encode(SMALL)
    assert data == msgpack.packb(SMALL)  # plain values are plain msgpack
    assert per_call(lambda: codec.encode(SMALL)) < 50e-6
    assert per_call(lambda: codec.decode(data)) < 50e-6


def test_codec_overhead_over_msgpack_is_bounded() -> None:
    codec = Codec()
    value = [
        {"id": i, "name": f"item{i}", "tags": ["a", "b"], "blob": b"\x00" * 16} for i in range(200)
    ]
    data = codec.encode(value)
    raw_pack = per_call(lambda: msgpack.packb(value), 200)
    raw_unpack = per_call(lambda: msgpack.unpackb(data), 200)
    assert per_call(lambda: codec.encode(value), 200) < 10 * raw_pack + 200e-6
    assert per_call(lambda: codec.decode(data), 200) < 10 * raw_unpack + 200e-6


def test_registered_dataclass_costs_microseconds() -> None:
    codec = Codec()
    data = codec.encode(Point(1, 2))
    assert per_call(lambda: codec.encode(Point(1, 2)), 5000) < 100e-6
    assert per_call(lambda: codec.decode(data), 5000) < 100e-6
