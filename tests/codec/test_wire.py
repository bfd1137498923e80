"""The wire format of docs/codec.md, byte for byte (golden encodings written by hand)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgpack
import pytest

from netchan.codec import Codec, ExtCode
from tests.codec.helpers import Color, Perm, Point, same


class End:
    """Stands for a channel end."""

    def __init__(self, ident: bytes) -> None:
        self.ident = ident


CODEC = Codec(ref_types=(End,), encode_ref=lambda o: ["ref", o.ident])
PLAIN = Codec()

GOLDEN: list[tuple[Any, str]] = [
    (None, "c0"),
    (1, "01"),
    (-1, "ff"),
    (2**64 - 1, "cf ffffffffffffffff"),
    (2**64, "c7 09 05 01 0000000000000000"),
    (-(2**63) - 1, "c7 09 05 ff 7fffffffffffffff"),
    (-(2**64), "c7 09 05 ff 0000000000000000"),
    (2**71, "c7 0a 05 0080 0000000000000000"),
    (1.5, "cb 3ff8000000000000"),
    ("a", "a1 61"),
    (b"a", "c4 01 61"),
    ([1, 2], "92 01 02"),
    ({"a": 1}, "81 a1 61 01"),
    ((1, "a"), "93 c7 00 01 01 a1 61"),
    ((), "91 c7 00 01"),
    (((1,),), "92 c7 00 01 92 c7 00 01 01"),
    ({1}, "92 c7 00 02 01"),
    (frozenset({1}), "92 c7 00 03 01"),
    ({(1,): 2}, "81 92 c7 00 01 01 02"),
    (datetime(2024, 1, 2, 3, 4, 5, 6), "c7 0c 06 07e8 01 02 03 04 05 00 00000006"),
    (
        datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=1))),
        "c7 14 06 07e8 01 02 03 04 05 00 00000006 00000000d693a400",
    ),
    (datetime(2021, 11, 7, 1, 30, fold=1), "c7 0c 06 07e5 0b 07 01 1e 00 01 00000000"),
    (datetime(2000, 1, 1, tzinfo=UTC), "c7 14 06 07d0 01 01 00 00 00 00 00000000 0000000000000000"),
    (date(2024, 1, 2), "d6 07 07e8 01 02"),
    (time(12, 30), "d7 08 0c 1e 00 00 00000000"),
    (
        time(1, 2, 3, 4, tzinfo=timezone(-timedelta(minutes=1))),
        "d8 08 01 02 03 00 00000004 fffffffffc6c7900",
    ),
    (timedelta(days=1, seconds=2, microseconds=3), "c7 0c 09 00000001 00000002 00000003"),
    (timedelta(microseconds=-1), "c7 0c 09 ffffffff 0001517f 000f423f"),
    (uuid.UUID(int=1), "d8 0a 00000000000000000000000000000001"),
    (Decimal("1.5"), "c7 03 0b 31 2e 35"),
    (Decimal("-Infinity"), "c7 09 0b" + b"-Infinity".hex()),
    (complex(1, 2), "d8 0c 3ff0000000000000 4000000000000000"),
    (
        Point(1, 2),
        "93 c7 00 10 b1" + b"tests.codec.Point".hex() + "82 a1 78 01 a1 79 02",
    ),
    (Color.RED, "93 c7 00 11 b1" + b"tests.codec.Color".hex() + "a3" + b"RED".hex()),
    (Perm.R | Perm.X, "93 c7 00 11 b0" + b"tests.codec.Perm".hex() + "05"),
]


@pytest.mark.parametrize(("value", "hex_"), GOLDEN, ids=[h for _, h in GOLDEN])
def test_golden_encoding(value: Any, hex_: str) -> None:
    expected = bytes.fromhex(hex_)
    assert PLAIN.encode(value) == expected
    assert same(PLAIN.decode(expected), value)


@pytest.mark.parametrize(
    "value",
    [
        {"n": 4, "name": "job", "args": [1, 2, 3], "x": 1.5},
        [{"id": i, "name": f"item{i}", "tags": ["a", "b"], "blob": b"\x00" * 16} for i in range(9)],
    ],
    ids=["small-dict", "records"],
)
def test_plain_values_are_plain_msgpack(value: Any) -> None:
    # Any msgpack reader understands them (docs/codec.md); what they cost next to msgpack is
    # measured by benchmarks/codec_bench.py, not asserted here.
    assert PLAIN.encode(value) == msgpack.packb(value)
    assert same(PLAIN.decode(msgpack.packb(value)), value)


def test_bytearray_is_an_ext_not_bin() -> None:
    assert PLAIN.encode(bytearray(b"ab")) == bytes.fromhex("d5 04 61 62")
    assert PLAIN.encode([bytearray(b"ab")]) == bytes.fromhex("91 d5 04 61 62")
    # Mixed with bytes, only the bytearray changes format.
    assert PLAIN.encode((b"a", bytearray(b"a"))) == bytes.fromhex("93 c7 00 01 c4 01 61 d4 04 61")


def test_reference_form() -> None:
    data = CODEC.encode({"reply": End(b"\x07")})
    reply, ref = b"reply".hex(), b"ref".hex()
    assert data == bytes.fromhex(f"81 a5 {reply} 92 c7 00 20 92 a3 {ref} c4 01 07")


def test_ref_types_cannot_be_value_types() -> None:
    with pytest.raises(ValueError, match="bytearray"):
        Codec(ref_types=(bytearray,), encode_ref=repr)


def test_ext_codes_are_pinned() -> None:
    # Renumbering breaks every deployed peer: this table is the protocol.
    assert {code.name: int(code) for code in ExtCode} == {
        "TUPLE": 1,
        "SET": 2,
        "FROZENSET": 3,
        "DATACLASS": 16,
        "ENUM": 17,
        "REF": 32,
        "BYTEARRAY": 4,
        "BIGINT": 5,
        "DATETIME": 6,
        "DATE": 7,
        "TIME": 8,
        "TIMEDELTA": 9,
        "UUID": 10,
        "DECIMAL": 11,
        "COMPLEX": 12,
    }
