"""Hash flooding: keys a peer chose to share one hash are refused in linear time."""

from __future__ import annotations

import sys
import time as _time
from decimal import Decimal
from typing import Any

import pytest

from netchan.codec import Codec, DecodeError

CODEC = Codec()
P = sys.hash_info.modulus  # 2**61 - 1: hash(n) == n % P for non-negative ints
MASK = 2**64 - 1


def _map_of(keys: list[Any]) -> bytes:
    """A msgpack map32 of ``key: None`` built from encoded keys (no dict built here)."""
    n = len(keys)
    return b"\xdf" + n.to_bytes(4, "big") + b"".join(CODEC.encode(k) + b"\xc0" for k in keys)


def _set_of(keys: list[Any]) -> bytes:
    n = len(keys) + 1
    return b"\xdd" + n.to_bytes(4, "big") + b"\xc7\x00\x02" + b"".join(map(CODEC.encode, keys))


def _colliding_int_pairs(count: int) -> list[tuple[int, int]]:
    """2-tuples of plain 64-bit ints with one tuple hash (CPython's xxHash-based tuplehash):
    the second lane enters linearly, so it can be solved for."""
    x1, x2, x5 = 11400714785074694791, 14029467366897019727, 2870177450012600261
    inv_x2 = pow(x2, -1, 2**64)

    def first_lane(a: int) -> int:
        acc = (x5 + (hash(a) & MASK) * x2) & MASK
        acc = ((acc << 31) | (acc >> 33)) & MASK
        return (acc * x1) & MASK

    target = first_lane(10**6) + 12345 * x2  # what (10**6, 12345) reaches before rotation
    pairs: list[tuple[int, int]] = []
    a = 0
    while len(pairs) < count and a < 50 * count:
        lane = ((target - first_lane(a)) * inv_x2) & MASK
        if lane < P:
            b = lane
        elif lane > 2**64 - P and lane != MASK:  # a negative hash: -(2**64 - lane)
            b = -(2**64 - lane)
        else:
            a += 1
            continue
        pairs.append((a, b))
        a += 1
    return pairs


def _assert_refused_quickly(data: bytes) -> None:
    started = _time.perf_counter()
    with pytest.raises(DecodeError, match="hash flooding"):
        CODEC.decode(data)
    assert _time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "make",
    [
        lambda i: (i + 8) * P,
        lambda i: Decimal((i + 8) * P),
        lambda i: ((i + 8) * P, "x"),
        lambda i: frozenset({(i + 8) * P}),
    ],
    ids=["bigint", "decimal", "tuple", "frozenset"],
)
def test_colliding_keys_are_refused(make: Any) -> None:
    keys = [make(i) for i in range(20_000)]
    assert len({hash(k) for k in keys}) == 1
    _assert_refused_quickly(_map_of(keys))
    _assert_refused_quickly(_set_of(keys))


def test_colliding_tuples_of_plain_ints_are_refused() -> None:
    pairs = _colliding_int_pairs(5000)
    assert len(pairs) == 5000
    assert len({hash(p) for p in pairs}) == 1, "tuple hash differs from CPython 3.11's"
    _assert_refused_quickly(_map_of(list(pairs)))


def test_many_legitimate_risky_keys_decode() -> None:
    value = {(i, str(i)): Decimal(i) for i in range(20_000)}
    value[(-1, "")] = Decimal(1)
    value[(-2, "")] = Decimal(2)  # hash(-1) == hash(-2): a few equal hashes are fine
    started = _time.perf_counter()
    assert CODEC.decode(CODEC.encode(value)) == value
    assert _time.perf_counter() - started < 2.0
    big = {2**70 + i: frozenset({i}) for i in range(1000)}
    assert CODEC.decode(CODEC.encode(big)) == big
    assert CODEC.decode(CODEC.encode({2**70 + i for i in range(1000)})) == {
        2**70 + i for i in range(1000)
    }
