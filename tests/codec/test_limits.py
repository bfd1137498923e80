"""Limits: size, depth and item bombs are refused on decode and on encode, quickly."""

from __future__ import annotations

import struct
import time as _time
from typing import Any

import pytest

from netchan.codec import (
    Codec,
    CodecLimits,
    DecodeError,
    EncodeError,
    EncodeLimitError,
    ExtCode,
)
from netchan.codec._limits import MAX_DEPTH_CEILING
from tests.codec.helpers import Box, Color, Slotted, same
from tests.codec.wire import array, ext, fixmap, i, marker, s


def nested_list(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def nested_mixed(depth: int) -> Any:
    """``depth`` levels of lists, tuples and dicts: one msgpack array or map each."""
    value: Any = 0
    for k in range(depth):
        kind = k % 3
        if kind == 0:
            value = [value]
        elif kind == 1:
            value = (value,)
        else:
            value = {"k": value}
    return value


# ------------------------------------------------------------------ CodecLimits itself


def test_defaults() -> None:
    limits = CodecLimits()
    assert limits.max_size == 16 * 1024 * 1024
    assert limits.max_depth == 64
    assert limits.max_items is None
    assert Codec().limits == limits


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_size": 0},
        {"max_size": 1.5},
        {"max_depth": 0},
        {"max_depth": MAX_DEPTH_CEILING + 1},
        {"max_depth": True},
        {"max_items": 2},
        {"max_items": "3"},
    ],
)
def test_bad_limits_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CodecLimits(**kwargs)


def test_codec_argument_checks() -> None:
    with pytest.raises(TypeError):
        Codec(limits={"max_size": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encode_ref"):
        Codec(ref_types=(Box,))
    with pytest.raises(TypeError):
        Codec(ref_types=("Box",), encode_ref=repr)  # type: ignore[arg-type]


# ------------------------------------------------------------------ depth


@pytest.mark.parametrize("make", [nested_list, nested_mixed])
def test_depth_at_limit_passes_and_one_more_fails(make: Any) -> None:
    codec = Codec(limits=CodecLimits(max_depth=16))
    ok = make(16)
    assert same(codec.decode(codec.encode(ok)), ok)
    with pytest.raises(EncodeLimitError, match="max_depth=16"):
        codec.encode(make(17))
    # The same bytes from a peer with looser limits are refused by the receiver.
    data = Codec(limits=CodecLimits(max_depth=17)).encode(make(17))
    with pytest.raises(DecodeError, match="max_depth=16"):
        codec.decode(data)


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_plain_array_depth_bomb(depth: int) -> None:
    data = b"\x91" * depth + b"\xc0"
    with pytest.raises(DecodeError):
        Codec().decode(data)


@pytest.mark.parametrize("code", [ExtCode.TUPLE, ExtCode.SET, ExtCode.FROZENSET])
def test_marker_depth_bomb(code: int) -> None:
    # Nested tuples are one msgpack document: no recursion for the bomb to exploit.
    data = (b"\x92" + marker(code)) * 50_000 + b"\xc0"
    started = _time.perf_counter()
    with pytest.raises(DecodeError):
        Codec().decode(data)
    assert _time.perf_counter() - started < 5.0


def test_dataclass_depth_bomb() -> None:
    head = b"\x93" + marker(ExtCode.DATACLASS) + s("tests.codec.Box") + b"\x81" + s("content")
    data = head * 5000 + b"\xc0"
    with pytest.raises(DecodeError):
        Codec().decode(data)


def test_ref_description_depth_bomb() -> None:
    data = b"\x92" + marker(ExtCode.REF) + b"\x91" * 5000 + b"\xc0"
    with pytest.raises(DecodeError):
        Codec(decode_ref=lambda d: d).decode(data)


def test_registered_types_count_their_arrays_and_maps() -> None:
    # Box(x) is [DATACLASS, name, {"content": x, "label": ...}]: two levels around x.
    codec = Codec(limits=CodecLimits(max_depth=4))
    assert codec.decode(codec.encode(Box(Box(1)))) == Box(Box(1))
    with pytest.raises(EncodeLimitError):
        codec.encode(Box(Box([1])))
    # An Enum member is [ENUM, name, member]: one level.
    codec = Codec(limits=CodecLimits(max_depth=2))
    assert codec.decode(codec.encode([Color.RED])) == [Color.RED]
    with pytest.raises(EncodeLimitError):
        codec.encode([[Color.RED]])


def test_max_depth_ceiling_works_deep_in_the_stack() -> None:
    codec = Codec(limits=CodecLimits(max_depth=MAX_DEPTH_CEILING))
    value = nested_mixed(MAX_DEPTH_CEILING)

    def recurse(n: int) -> Any:
        return recurse(n - 1) if n else codec.decode(codec.encode(value))

    assert same(recurse(300), value)
    with pytest.raises(EncodeLimitError):
        codec.encode([value])


def _self_list() -> Any:
    x: list[Any] = []
    x.append(x)
    return x


def _self_dict() -> Any:
    d: dict[str, Any] = {}
    d["self"] = d
    return d


def _self_through_tuple() -> Any:
    x: list[Any] = []
    x.append((x,))
    return x


def _self_through_dataclass() -> Any:
    b = Box(None)
    b.content = [b]
    return b


@pytest.mark.parametrize(
    "make",
    [_self_list, _self_dict, _self_through_tuple, _self_through_dataclass],
    ids=["list", "dict", "through-tuple", "through-dataclass"],
)
def test_value_containing_itself_is_refused(make: Any) -> None:
    with pytest.raises(EncodeLimitError):
        Codec().encode(make())


# ------------------------------------------------------------------ size


def test_size_limit_on_encode_and_decode() -> None:
    codec = Codec(limits=CodecLimits(max_size=1000))
    codec.encode(b"x" * 990)
    with pytest.raises(EncodeLimitError, match="max_size=1000"):
        codec.encode(b"x" * 1000)
    big = Codec().encode(b"x" * 1000)
    with pytest.raises(DecodeError, match="max_size=1000"):
        codec.decode(big)


def test_size_limit_is_checked_before_parsing() -> None:
    codec = Codec(limits=CodecLimits(max_size=100))
    started = _time.perf_counter()
    with pytest.raises(DecodeError):
        codec.decode(b"\x91" * 50_000_000)
    assert _time.perf_counter() - started < 1.0


def test_encode_limit_error_is_encode_error_and_value_error() -> None:
    with pytest.raises(EncodeLimitError) as info:
        Codec(limits=CodecLimits(max_size=10)).encode("x" * 100)
    assert isinstance(info.value, EncodeError)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "data",
    [
        b"\xdd\xff\xff\xff\xff",  # array 32 of 4 G items
        b"\xdf\xff\xff\xff\xff",  # map 32
        b"\xdb\xff\xff\xff\xffabc",  # str 32
        b"\xc6\xff\xff\xff\xffabc",  # bin 32
        b"\xc9\xff\xff\xff\xff\x04abc",  # ext 32 (bytearray)
        b"\xdc\xff\xff" + marker(ExtCode.TUPLE),  # array 16 heading a tuple
        b"\x92" + marker(ExtCode.SET) + b"\xdd\x7f\xff\xff\xff",
    ],
    ids=["array32", "map32", "str32", "bin32", "ext32", "tuple16", "nested-array32"],
)
def test_huge_declared_lengths(data: bytes) -> None:
    started = _time.perf_counter()
    with pytest.raises(DecodeError):
        Codec().decode(data)
    assert _time.perf_counter() - started < 1.0


# ------------------------------------------------------------------ items


@pytest.mark.parametrize(
    ("make", "marker"),
    [
        (lambda n: list(range(n)), 0),
        (lambda n: {k: None for k in range(n)}, 0),
        (lambda n: [[*range(n)]], 0),
        (lambda n: tuple(range(n)), 1),
        (lambda n: set(range(n)), 1),
        (lambda n: frozenset(range(n)), 1),
        (lambda n: Box(tuple(range(n))), 1),
    ],
    ids=["list", "dict", "inner-list", "tuple", "set", "frozenset", "in-dataclass"],
)
def test_max_items(make: Any, marker: int) -> None:
    # Counted on the wire: a marker takes one element of its array.
    codec = Codec(limits=CodecLimits(max_items=8))
    ok = make(8 - marker)
    assert same(codec.decode(codec.encode(ok)), ok)
    with pytest.raises(EncodeLimitError, match="max_items=8"):
        codec.encode(make(9 - marker))
    with pytest.raises(DecodeError):
        codec.decode(Codec().encode(make(9 - marker)))


def test_max_items_counts_dataclass_fields() -> None:
    codec = Codec(limits=CodecLimits(max_items=3))
    assert codec.decode(codec.encode(Box(1))) == Box(1)  # [marker, name, {2 fields}]
    assert codec.decode(codec.encode(Slotted(a=1))) == Slotted(a=1)


def test_max_items_bounds_memory_amplification() -> None:
    # 65535 empty lists: 3 bytes of header, 1 byte each, ~56 bytes each once decoded.
    data = b"\xdc\xff\xff" + b"\x90" * 65535
    assert len(Codec().decode(data)) == 65535
    with pytest.raises(DecodeError):
        Codec(limits=CodecLimits(max_items=1000)).decode(data)


def test_hand_built_map_over_max_items() -> None:
    data = fixmap(*[(i(k), i(k)) for k in range(5)])
    with pytest.raises(DecodeError):
        Codec(limits=CodecLimits(max_items=4)).decode(data)
    assert Codec(limits=CodecLimits(max_items=5)).decode(data) == {k: k for k in range(5)}


def test_struct_helpers_agree_with_docs() -> None:
    # ext 8 is used for a 3-byte payload; fixext for 4; the wire helper follows msgpack.
    assert ext(ExtCode.BYTEARRAY, b"abc") == b"\xc7\x03\x04abc"
    assert ext(ExtCode.DATE, struct.pack(">HBB", 2024, 1, 2)) == b"\xd6\x07\x07\xe8\x01\x02"
    assert array(i(1)) == b"\x91\x01"


# ------------------------------------------------------------------ big values


BLOB = bytes(range(256)) * 512  # 128 KiB holding every byte value, header-like ones too


def test_big_value_with_a_late_marker_decodes() -> None:
    # Big values are first decoded without hooks and restarted at the first marker.
    value = {"blob": BLOB, "then": (1, {2}), "and": [bytearray(b"x"), Box(1)]}
    assert same(Codec().decode(Codec().encode(value)), value)


def test_big_value_depth_is_checked() -> None:
    codec = Codec(limits=CodecLimits(max_depth=8))
    ok = {"blob": BLOB, "deep": nested_list(7)}
    assert same(codec.decode(codec.encode(ok)), ok)
    too_deep = {"blob": BLOB, "deep": nested_list(8)}
    with pytest.raises(EncodeLimitError):
        codec.encode(too_deep)
    with pytest.raises(DecodeError):
        codec.decode(Codec().encode(too_deep))


def test_big_value_items_are_checked() -> None:
    codec = Codec(limits=CodecLimits(max_items=3))
    codec.encode([BLOB, 1, 2])
    with pytest.raises(EncodeLimitError):
        codec.encode([BLOB, 1, 2, 3])
    many = Codec(limits=CodecLimits(max_items=1000))
    with pytest.raises(EncodeLimitError):
        many.encode(list(range(40_000)))  # past the header budget: checked by msgpack
    with pytest.raises(DecodeError):
        many.decode(Codec().encode(list(range(40_000))))


def test_big_depth_bomb_past_the_header_budget() -> None:
    data = b"\x91" * 40_000 + b"\xc0"
    with pytest.raises(DecodeError):
        Codec().decode(data)
    data = b"\x92" + b"\xc4\xff" + b"\x00" * 255 + b"\x91" * 40_000 + b"\xc0"
    with pytest.raises(DecodeError):
        Codec().decode(data)
