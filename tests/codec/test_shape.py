"""The shape check on bytes: the C fast path agrees with the pure-Python scanner."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netchan.codec import Codec, CodecLimits, DecodeError, EncodeLimitError, _shape
from netchan.codec._shape import ShapeError, check_shape, scan_shape
from tests.codec.helpers import Box, Color

CODEC = Codec()


def outcome(check: Any, data: bytes, max_depth: int, max_items: int | None) -> str:
    try:
        check(data, max_depth, max_items)
    except ShapeError as exc:
        return exc.what
    return "ok"


def true_depth(value: Any) -> int:
    """Depth of a plain msgpack value (lists and dicts), computed on the objects."""
    if isinstance(value, list):
        return 1 + max(map(true_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(true_depth, [*value, *value.values()]), default=0)
    return 0


plain = st.recursive(
    st.one_of(
        st.none(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=3), st.binary(max_size=3)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.integers(0, 9), inner, max_size=3)
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(plain, st.integers(1, 12), st.one_of(st.none(), st.integers(1, 5)))
def test_fast_path_agrees_with_scanner(value: Any, max_depth: int, max_items: int | None) -> None:
    data = msgpack.packb(value)
    fast = outcome(check_shape, data, max_depth, max_items)
    slow = outcome(scan_shape, data, max_depth, max_items)
    if max_items is None:
        assert fast == slow
        assert (fast == "ok") == (true_depth(value) <= max_depth)
    else:
        # Both report a violation when there is one (which one first may differ).
        assert (fast == "ok") == (slow == "ok")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x92\x01", b"\xc1", b"\xdc\x00", b"\xd9\x05ab", b"\xc7\x01"],
    ids=["empty", "short-array", "c1", "short-header", "short-str", "short-ext"],
)
def test_scanner_refuses_malformed(data: bytes) -> None:
    with pytest.raises(ValueError):
        scan_shape(data, 10, None)


def test_scanner_reads_every_format() -> None:
    value = [
        None, True, False, 1, -1, 200, -200, 70000, -70000, 2**40, -(2**40), 2**64 - 1,
        1.5, "x" * 40, "y" * 300, "z" * 70000, b"b" * 300, b"c" * 70000,
        msgpack.ExtType(5, b"a"), msgpack.ExtType(5, b"ab"), msgpack.ExtType(5, b"abcd"),
        msgpack.ExtType(5, b"a" * 8), msgpack.ExtType(5, b"a" * 16),
        msgpack.ExtType(5, b"a" * 3), msgpack.ExtType(5, b"a" * 300),
        msgpack.ExtType(5, b"a" * 70000), list(range(20)), {k: k for k in range(20)}, [], {},
    ]  # fmt: skip
    data = msgpack.packb(value, use_single_float=True)
    scan_shape(data, 2, None)
    with pytest.raises(ShapeError):
        scan_shape(data, 1, None)
    # Trailing bytes after the first document are not the scanner's business.
    scan_shape(data + b"\xc1", 2, None)


@pytest.fixture
def pure_python_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_shape, "C_STACK_LEVELS", None)


@pytest.mark.usefixtures("pure_python_shape")
def test_limits_hold_without_the_c_fast_path() -> None:
    codec = Codec(limits=CodecLimits(max_depth=8, max_items=5))
    with pytest.raises(DecodeError):
        codec.decode(b"\x91" * 100 + b"\xc0")
    with pytest.raises(EncodeLimitError):
        codec.encode([[[[[[[[[1]]]]]]]]])
    with pytest.raises(EncodeLimitError):
        codec.encode(list(range(6)))
    value = [Box((1, 2), label="l"), {"c": Color.RED}, list(range(5))]
    assert codec.decode(codec.encode(value)) == value


def test_c_fast_path_is_available() -> None:
    # The msgpack wheels ship the C extension; without it the pure-Python scanner is used.
    assert _shape.C_STACK_LEVELS == 1024
