"""The msgpack ext type table: part of netchan's wire protocol (see docs/codec.md).

Every Python type that msgpack has no native format for is carried as an ext type with a
code from this one table. A second implementation needs exactly this table plus the payload
layouts documented next to each code. Codes 0..127 are the application range of the msgpack
spec; negative codes are msgpack's own (-1 is its timestamp) and are refused, like any code
not listed here.
"""

from __future__ import annotations

import struct
from enum import IntEnum


class ExtCode(IntEnum):
    """Ext type codes. Never renumber: peers of different versions must agree.

    Two families. *Scalar* ext types carry the whole value in their payload. *Marker* ext
    types have an empty payload and only appear as the first element of a msgpack array;
    the rest of that array is the value's content, so containers nest inside the one msgpack
    document (decoding never recurses into an ext payload, which keeps hostile nesting
    bounded by msgpack's own iterative parser and our depth limit).
    """

    # -- markers: [marker, ...content]
    TUPLE = 1
    """``[TUPLE, item, item, ...]``"""
    SET = 2
    """``[SET, item, ...]`` (any order, duplicates collapse)."""
    FROZENSET = 3
    """``[FROZENSET, item, ...]``"""
    DATACLASS = 16
    """``[DATACLASS, wire_name: str, fields: map of field name (str) -> value]``"""
    ENUM = 17
    """``[ENUM, wire_name: str, member]``: member name (str) for an Enum, integer value for a
    Flag (so combined flags travel too)."""
    REF = 32
    """``[REF, description]``: a channel reference; the description (any value) comes from the
    codec's ``encode_ref`` hook and its meaning belongs to the channel layer."""

    # -- scalars: the payload is the value
    BYTEARRAY = 4
    """The raw bytes."""
    BIGINT = 5
    """Signed big-endian two's complement, shortest form (only for ints outside int64/uint64)."""
    DATETIME = 6
    """``DATETIME_NAIVE`` struct (12 bytes), followed by a big-endian int64 UTC offset in
    microseconds when the datetime is aware (20 bytes)."""
    DATE = 7
    """``DATE`` struct: year, month, day (4 bytes)."""
    TIME = 8
    """``TIME_NAIVE`` struct (8 bytes), followed by an int64 UTC offset in microseconds when
    aware (16 bytes)."""
    TIMEDELTA = 9
    """``TIMEDELTA`` struct: days, seconds, microseconds as int32 (12 bytes)."""
    UUID = 10
    """The 16 bytes of the UUID (``UUID.bytes``, big-endian field order)."""
    DECIMAL = 11
    """ASCII of ``str(decimal)`` (e.g. ``"-1.50"``, ``"NaN"``, ``"Infinity"``)."""
    COMPLEX = 12
    """``COMPLEX`` struct: real, imaginary as big-endian IEEE 754 doubles (16 bytes)."""


MARKER_CODES = frozenset(
    {
        ExtCode.TUPLE,
        ExtCode.SET,
        ExtCode.FROZENSET,
        ExtCode.DATACLASS,
        ExtCode.ENUM,
        ExtCode.REF,
    }
)

# A marker is an ext with an empty payload, which msgpack always writes as ext 8:
# 0xc7 0x00 CODE. Bytes without this prefix hold no canonical marker.
MARKER_PREFIX = b"\xc7\x00"

# Fixed-layout payloads (network byte order).
DATETIME_NAIVE = struct.Struct(">HBBBBBBI")  # year, month, day, hour, minute, second, fold, us
DATE = struct.Struct(">HBB")  # year, month, day
TIME_NAIVE = struct.Struct(">BBBBI")  # hour, minute, second, fold, microsecond
UTC_OFFSET = struct.Struct(">q")  # utcoffset() in microseconds, appended when aware
TIMEDELTA = struct.Struct(">iii")  # days, seconds, microseconds
COMPLEX = struct.Struct(">dd")  # real, imag

# First bytes of every msgpack container and ext header (fixmap, fixarray, array16/32,
# map16/32, fixext1..16, ext8/16/32). Each nesting level of a value needs at least one of
# them, so their count in an encoding bounds its depth from above without parsing it.
CONTAINER_HEADER_BYTES = bytes(
    [*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF, *range(0xD4, 0xD9), 0xC7, 0xC8, 0xC9]
)
# First bytes of msgpack bin 8/16/32: the only formats a bytearray can take natively.
BIN_HEADERS = (b"\xc4", b"\xc5", b"\xc6")
