"""Hostile and broken bytes: decode raises DecodeError and nothing else, ever."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netchan.codec import Codec, CodecLimits, DecodeError, ExtCode
from tests.codec.helpers import Box, Color, Perm, Point
from tests.codec.wire import array, ext, fixmap, i, marker, s

T, SET, FS, DC, EN, REF = (
    ExtCode.TUPLE,
    ExtCode.SET,
    ExtCode.FROZENSET,
    ExtCode.DATACLASS,
    ExtCode.ENUM,
    ExtCode.REF,
)

CODEC = Codec(decode_ref=lambda d: ("ref", d))

BAD: dict[str, bytes] = {
    "empty": b"",
    "never-used byte 0xc1": b"\xc1",
    "trailing data": b"\x01\x02",
    "truncated array": b"\x93\x01\x02",
    "truncated str": b"\xa5abc",
    "truncated int64": b"\xd3\x00\x00",
    "invalid utf-8": b"\xa2\xff\xfe",
    "unhashable map key": b"\x81\x90\x01",
    "unknown ext code": ext(99, b"\x00"),
    "msgpack timestamp out of range": ext(-1, struct.pack(">Iq", 0, 2**62)),
    "bare tuple marker": marker(T),
    "marker not at head": array(i(1), marker(T)),
    "two markers": array(marker(T), marker(T)),
    "marker as map key": fixmap((marker(T), i(1))),
    "marker with payload": array(ext(T, b"\x00")),
    "marker in ext 16": b"\xc8\x00\x00\x01",  # non-canonical header, still a bare marker
    "unhashable set item": array(marker(SET), array(i(1))),
    "unhashable frozenset item": array(marker(FS), fixmap()),
    "tuple key holding a list": fixmap((array(marker(T), array()), i(1))),
    "bigint empty": ext(ExtCode.BIGINT, b""),
    "datetime short": ext(ExtCode.DATETIME, b"\x07\xe8\x01"),
    "datetime month 13": ext(
        ExtCode.DATETIME, struct.pack(">HBBBBBBI", 2024, 13, 1, 0, 0, 0, 0, 0)
    ),
    "datetime fold 2": ext(ExtCode.DATETIME, struct.pack(">HBBBBBBI", 2024, 1, 1, 0, 0, 0, 2, 0)),
    "datetime us 10**6": ext(
        ExtCode.DATETIME, struct.pack(">HBBBBBBI", 2024, 1, 1, 0, 0, 0, 0, 10**6)
    ),
    "datetime offset 24h": ext(
        ExtCode.DATETIME,
        struct.pack(">HBBBBBBIq", 2024, 1, 1, 0, 0, 0, 0, 0, 24 * 3600 * 10**6),
    ),
    "date year 0": ext(ExtCode.DATE, struct.pack(">HBB", 0, 1, 1)),
    "date long": ext(ExtCode.DATE, b"\x00" * 5),
    "time hour 24": ext(ExtCode.TIME, struct.pack(">BBBBI", 24, 0, 0, 0, 0)),
    "time bad length": ext(ExtCode.TIME, b"\x00" * 9),
    "timedelta too big": ext(ExtCode.TIMEDELTA, struct.pack(">iii", 2**31 - 1, 2**31 - 1, 0)),
    "timedelta short": ext(ExtCode.TIMEDELTA, b"\x00" * 11),
    "uuid 15 bytes": ext(ExtCode.UUID, b"\x00" * 15),
    "decimal garbage": ext(ExtCode.DECIMAL, b"1.2.3"),
    "decimal non-ascii": ext(ExtCode.DECIMAL, "\u0661".encode()),
    "decimal empty": ext(ExtCode.DECIMAL, b""),
    "complex short": ext(ExtCode.COMPLEX, b"\x00" * 15),
    "dataclass unknown name": array(marker(DC), s("no.such.Type"), fixmap()),
    "dataclass name not str": array(marker(DC), i(1), fixmap()),
    "dataclass short": array(marker(DC), s("tests.codec.Point")),
    "dataclass fields not map": array(marker(DC), s("tests.codec.Point"), array()),
    "dataclass unknown field": array(
        marker(DC),
        s("tests.codec.Point"),
        fixmap((s("x"), i(1)), (s("y"), i(2)), (s("z"), i(3))),
    ),
    "dataclass non-str field": array(marker(DC), s("tests.codec.Point"), fixmap((i(1), i(1)))),
    "dataclass missing field": array(marker(DC), s("tests.codec.Point"), fixmap((s("x"), i(1)))),
    "dataclass name of an enum": array(marker(DC), s("tests.codec.Color"), fixmap()),
    "dataclass refused by __post_init__": array(
        marker(DC), s("tests.codec.Positive"), fixmap((s("n"), i(2**62)))
    ),
    "enum unknown member": array(marker(EN), s("tests.codec.Color"), s("PURPLE")),
    "enum member by value": array(marker(EN), s("tests.codec.Color"), i(1)),
    "enum name of a dataclass": array(marker(EN), s("tests.codec.Point"), s("x")),
    "flag member by name": array(marker(EN), s("tests.codec.Perm"), s("R")),
    "flag bool member": array(marker(EN), s("tests.codec.Perm"), b"\xc3"),
    "enum extra item": array(marker(EN), s("tests.codec.Color"), s("RED"), i(0)),
    "ref without description": array(marker(REF)),
    "ref with two descriptions": array(marker(REF), i(1), i(2)),
}


@pytest.mark.parametrize("data", list(BAD.values()), ids=list(BAD))
def test_bad_input_is_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        CODEC.decode(data)


def test_decode_error_is_value_error_with_cause() -> None:
    with pytest.raises(ValueError) as info:
        CODEC.decode(b"\x01\x02")
    assert isinstance(info.value, DecodeError)
    assert info.value.__cause__ is not None


def test_post_init_refusal_message_names_the_class() -> None:
    with pytest.raises(DecodeError, match=r"Positive\(\.\.\.\) refused"):
        CODEC.decode(BAD["dataclass refused by __post_init__"])


def test_hand_built_values_decode() -> None:
    # The same framing as BAD, but valid: the helpers build what the docs describe.
    assert CODEC.decode(array(marker(T), i(1), s("a"))) == (1, "a")
    point = array(marker(DC), s("tests.codec.Point"), fixmap((s("x"), i(1)), (s("y"), i(2))))
    assert CODEC.decode(point) == Point(1, 2)
    assert CODEC.decode(array(marker(EN), s("tests.codec.Color"), s("RED"))) is Color.RED
    assert CODEC.decode(array(marker(EN), s("tests.codec.Perm"), i(6))) == Perm.R | Perm.W
    assert CODEC.decode(array(marker(REF), s("desc"))) == ("ref", "desc")
    # msgpack's standard timestamp (ext -1), as other msgpack producers write datetimes.
    assert CODEC.decode(ext(-1, b"\x00\x00\x00\x10")) == datetime(1970, 1, 1, 0, 0, 16, tzinfo=UTC)
    # A marker in a non-canonical ext 16 header is still understood at the head of an array.
    assert CODEC.decode(b"\x92\xc8\x00\x00\x01\x05") == (5,)


def _corpus() -> list[bytes]:
    values: list[Any] = [
        {"n": 4, "tags": ("a", "b"), "when": None},
        [1, 2.5, "x", b"y", bytearray(b"z"), {1, 2}, frozenset({(1, 2)})],
        Box(Point(1, 2), label="l"),
        {"color": Color.GREEN, "perm": Perm.R | Perm.X, "big": 2**100},
        ("ref", [1, (2, [3, (4,)])]),
    ]
    import datetime as dt
    import decimal
    import uuid

    values.append(
        [
            dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
            dt.date(2020, 2, 2),
            dt.time(1, 2),
            dt.timedelta(3),
            uuid.UUID(int=5),
            decimal.Decimal("1.5"),
            1 + 2j,
        ]
    )
    return [CODEC.encode(v) for v in values]


def _check(codec: Codec, data: bytes) -> None:
    try:
        value = codec.decode(data)
    except DecodeError:
        return
    # Whatever is accepted is a proper value: it can be sent on again.
    codec.encode(value)


def test_mutated_encodings_only_raise_decode_error() -> None:
    rng = random.Random(0x5EED)
    codec = Codec(decode_ref=lambda d: d)
    corpus = _corpus()
    for _ in range(3000):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(4)
            pos = rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[min(pos, len(data) - 1)] = rng.randrange(256)
            elif op == 1:
                data.insert(pos, rng.randrange(256))
            elif op == 2 and data:
                del data[min(pos, len(data) - 1)]
            else:
                del data[pos:]
        _check(codec, bytes(data))


def test_random_bytes_only_raise_decode_error() -> None:
    rng = random.Random(1234)
    codec = Codec(decode_ref=lambda d: d, limits=CodecLimits(max_depth=8, max_items=16))
    for _ in range(3000):
        _check(codec, rng.randbytes(rng.randrange(0, 48)))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=64))
def test_hypothesis_bytes_only_raise_decode_error(data: bytes) -> None:
    _check(CODEC, data)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [marker(c) for c in (T, SET, FS, DC, EN, REF)]
                + [b"\x90", b"\x91", b"\x92", b"\x81", b"\xc0", s("tests.codec.Point"), s("x")]
            ),
            st.binary(max_size=3),
        ),
        max_size=12,
    ).map(b"".join)
)
def test_marker_soup_only_raises_decode_error(data: bytes) -> None:
    # Structure-aware fuzzing: valid-looking pieces glued at random reach the list hook.
    _check(CODEC, data)
