"""Values arrive as themselves: explicit cases per type and a hypothesis round trip."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netchan.codec import Codec, CodecLimits, EncodeError
from tests.codec.helpers import Box, Color, Level, Perm, Point, Slotted, same

CODEC = Codec()

EXAMPLES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    2**64,
    -(2**63) - 1,
    2**200 + 12345,
    -(2**200),
    -(2**64),
    1.5,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "héllo ☃ \U0001f600",
    b"",
    b"\x00\xff" * 100,
    bytearray(),
    bytearray(b"abc"),
    [],
    [1, [2, [3]]],
    (),
    (1,),
    (1, "a", (2.5, None)),
    {},
    {"a": 1, 2: "b", None: [], 1.5: (), (1, 2): {"x"}},
    {(1, (2, 3)): "nested tuple key", frozenset({1}): "frozenset key"},
    set(),
    {1, "a", (2, 3)},
    frozenset(),
    frozenset({b"x", 1.5}),
    datetime(2024, 2, 29, 23, 59, 59, 999999),
    datetime(1, 1, 1),
    datetime(9999, 12, 31, 23, 59, 59, 999999),
    datetime(2021, 11, 7, 1, 30, fold=1),
    datetime(2024, 1, 1, 12, tzinfo=UTC),
    datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2024, 1, 1, 12, tzinfo=timezone(-timedelta(hours=23, minutes=59, microseconds=1))),
    date(2024, 2, 29),
    date(1, 1, 1),
    time(0, 0),
    time(23, 59, 59, 999999, fold=1),
    time(12, 30, tzinfo=timezone(timedelta(hours=-8))),
    timedelta(0),
    timedelta(days=-1, microseconds=1),
    timedelta(days=999999999, seconds=86399, microseconds=999999),
    timedelta.min,
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    uuid.UUID(int=0),
    Decimal("0"),
    Decimal("-1.50"),
    Decimal("1E+1000"),
    Decimal("-0"),
    Decimal("NaN"),
    Decimal("Infinity"),
    Decimal("sNaN"),
    complex(1, -2),
    complex(math.inf, math.nan),
    Point(1, 2),
    Box(Point(3, 4), label="nested"),
    Box([Box({"k": (1, 2)})]),
    Slotted(a=1, b=[2, 3]),
    Color.RED,
    Color.BLUE,
    Level.HIGH,
    Perm.R,
    Perm.R | Perm.W,
    Perm(0),
    {"job": Point(1, 2), "when": datetime(2020, 1, 1), "ids": [uuid.UUID(int=7)]},
    [bytearray(b"in a list"), (bytearray(b"in a tuple"),), {"k": bytearray(b"in a dict")}],
    Box(bytearray(b"in a dataclass")),
    Slotted(a=1, b=[bytearray(b"in a slotted dataclass")]),  # type: ignore[list-item]
    {Point(1, 2): "dataclass key", Color.GREEN: "enum key"},
]


@pytest.mark.parametrize("value", EXAMPLES, ids=lambda v: type(v).__name__)
def test_round_trip_examples(value: Any) -> None:
    data = CODEC.encode(value)
    assert isinstance(data, bytes)
    assert same(CODEC.decode(data), value)


def test_round_trip_is_stable() -> None:
    # Encoding the decoded value again gives the same bytes (no drift through a hop).
    for value in EXAMPLES:
        if isinstance(value, (set, frozenset)) or (isinstance(value, dict) and len(value) > 3):
            continue  # set iteration order is not part of the value
        data = CODEC.encode(value)
        assert CODEC.encode(CODEC.decode(data)) == data


def test_bigint_uses_ext_only_outside_64_bits() -> None:
    assert CODEC.encode(2**64 - 1) == b"\xcf" + b"\xff" * 8
    assert CODEC.encode(-(2**63)) == b"\xd3\x80" + b"\x00" * 7
    assert CODEC.encode(2**64)[0:1] == b"\xc7"  # ext 8


def test_aware_datetime_keeps_instant_and_offset() -> None:
    from zoneinfo import ZoneInfo

    paris: tzinfo
    try:
        paris = ZoneInfo("Europe/Paris")
    except Exception:  # pragma: no cover - tz database missing on this host
        paris = timezone(timedelta(hours=2))
    value = datetime(2024, 7, 1, 12, 0, tzinfo=paris)
    back = CODEC.decode(CODEC.encode(value))
    assert back == value
    assert back.utcoffset() == timedelta(hours=2)
    assert isinstance(back.tzinfo, timezone)


def test_tzinfo_without_fixed_offset_makes_a_naive_time() -> None:
    # Python defines a time as aware only when tzinfo.utcoffset(None) is not None.
    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

        def dst(self, dt: datetime | None) -> timedelta | None:
            return None

        def tzname(self, dt: datetime | None) -> str | None:
            return None

    back = CODEC.decode(CODEC.encode(time(12, 30, tzinfo=NoOffset())))
    assert back == time(12, 30) and back.tzinfo is None


def test_decoded_bytes_types() -> None:
    assert type(CODEC.decode(CODEC.encode(b"x"))) is bytes
    assert type(CODEC.decode(CODEC.encode(bytearray(b"x")))) is bytearray
    # A memoryview is a view, not a value: it travels as its bytes.
    assert same(CODEC.decode(CODEC.encode(memoryview(b"mv"))), b"mv")


def test_decode_accepts_bytes_like() -> None:
    data = CODEC.encode([1, (2,)])
    assert same(CODEC.decode(bytearray(data)), [1, (2,)])
    assert same(CODEC.decode(memoryview(data)), [1, (2,)])
    with pytest.raises(TypeError, match="takes bytes"):
        CODEC.decode("not bytes")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- hypothesis

offsets = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59, seconds=59),
    max_value=timedelta(hours=23, minutes=59, seconds=59),
)
fixed_tz = st.one_of(st.none(), st.just(UTC), offsets.map(timezone))

hashable_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.complex_numbers(),
    st.datetimes(timezones=fixed_tz, allow_imaginary=True),
    st.dates(),
    st.times(timezones=fixed_tz),
    st.timedeltas(),
    st.uuids(),
    st.sampled_from([Color.RED, Color.GREEN, Level.LOW, Perm.R | Perm.X, Perm(0)]),
    st.builds(Point, st.integers(), st.integers()),
)
scalars = st.one_of(
    hashable_scalars,
    st.binary(max_size=20).map(bytearray),
    st.decimals(allow_nan=True, places=None),
)
hashables = st.recursive(
    hashable_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(tuple),
        st.frozensets(inner, max_size=4),
    ),
    max_leaves=8,
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(hashables, inner, max_size=5),
        st.sets(hashables, max_size=5),
        st.frozensets(hashables, max_size=5),
        st.builds(Box, inner, st.text(max_size=5)),
        st.builds(Slotted, a=st.integers(), b=st.lists(st.integers(), max_size=3)),
    )


values = st.recursive(scalars, _containers, max_leaves=30)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(values)
def test_round_trip_random_values(value: Any) -> None:
    try:
        data = CODEC.encode(value)
    except EncodeError as exc:  # only nesting can exceed the default limits here
        pytest.fail(f"unexpected EncodeError: {exc}")
    assert same(CODEC.decode(data), value)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(values)
def test_round_trip_with_tight_item_limit(value: Any) -> None:
    # A codec with small limits either round-trips or refuses cleanly; never half-works.
    codec = Codec(limits=CodecLimits(max_size=300, max_depth=3, max_items=4))
    try:
        data = codec.encode(value)
    except EncodeError:
        return
    # What one side accepts to send, the same limits accept to receive.
    assert same(codec.decode(data), value)


def test_big_values_decode_from_a_buffer_view_as_from_bytes() -> None:
    # A node decodes a reassembled big value from a view of its buffer, without a copy.
    codec = Codec(limits=CodecLimits(max_size=8 * 1024 * 1024))
    value = {"blob": b"B" * (1 << 20), "point": Point(1, 2), "items": [Color.RED, bytearray(b"x")]}
    data = codec.encode(value)
    for buffer in (memoryview(bytearray(data)), bytearray(data), memoryview(data)):
        assert same(codec.decode(buffer), value)
