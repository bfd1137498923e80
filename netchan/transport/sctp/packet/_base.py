"""Shared pieces of the wire format: the parse error, base classes, TLV helpers.

RFC 9260 §3.2 (chunk layout and padding), §3.2.1 (parameter TLVs and the meaning of the upper
two bits of unknown types), §3.3.10 (error cause TLVs).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Mapping
from typing import ClassVar, Self, TypeVar

__all__ = [
    "Chunk",
    "ErrorCause",
    "Parameter",
    "ParseError",
    "UnrecognizedAction",
    "padded",
    "unrecognized_chunk_action",
    "unrecognized_parameter_action",
]


class ParseError(ValueError):
    """Bytes from the network do not form a valid SCTP packet, chunk, parameter or cause.

    This is the only exception parsing raises, whatever the input: the endpoint catches it,
    drops the packet and counts the drop, so hostile bytes never escape the stack.
    """


def padded(length: int) -> int:
    """Round ``length`` up to a multiple of 4 (RFC 9260 §3.2, §3.2.1 padding)."""
    return (length + 3) & ~3


# Zero padding by missing byte count, indexed by ``length & 3``.
PAD: tuple[bytes, ...] = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")

TLV_HEADER = struct.Struct("!HH")
CHUNK_HEADER = struct.Struct("!BBH")


class UnrecognizedAction(enum.IntEnum):
    """What to do with a chunk or parameter whose type is unknown (RFC 9260 §3.2, §3.2.1).

    The value is the type's upper two bits. For chunks, "stop" means: stop processing the
    packet and discard it; for parameters: stop processing this parameter and the following
    ones of the same chunk (what was already processed stays processed). "Report" means: for a
    chunk, send an ERROR with an Unrecognized Chunk Type cause; for a parameter in INIT, put an
    Unrecognized Parameter parameter in the INIT ACK, elsewhere send an ERROR with an
    Unrecognized Parameters cause (§3.2.2).
    """

    STOP = 0
    STOP_AND_REPORT = 1
    SKIP = 2
    SKIP_AND_REPORT = 3

    @property
    def skip(self) -> bool:
        """True if processing continues after the unknown item."""
        return bool(self & 2)

    @property
    def report(self) -> bool:
        """True if the unknown item must be reported to the peer."""
        return bool(self & 1)


def unrecognized_chunk_action(chunk_type: int) -> UnrecognizedAction:
    """The RFC 9260 §3.2 action for an unknown chunk type (from its upper two bits)."""
    if not 0 <= chunk_type <= 0xFF:
        raise ValueError(f"chunk type must be 0..255, got {chunk_type}")
    return UnrecognizedAction(chunk_type >> 6)


def unrecognized_parameter_action(parameter_type: int) -> UnrecognizedAction:
    """The RFC 9260 §3.2.1 action for an unknown parameter type (from its upper two bits)."""
    if not 0 <= parameter_type <= 0xFFFF:
        raise ValueError(f"parameter type must be 0..65535, got {parameter_type}")
    return UnrecognizedAction(parameter_type >> 14)


class Chunk:
    """Base of every chunk (RFC 9260 §3.2).

    Subclasses are slotted dataclasses holding the decoded fields. Treat them as immutable
    records once handed to another component.

    ``serialize()`` gives the chunk's wire bytes including the padding to 4 bytes;
    ``serialized_size()`` gives that length without serializing, so a sender can fill a
    packet up to the path MTU and serialize each chunk exactly once.
    """

    __slots__ = ()

    #: The chunk type code (RFC 9260 §3.2 Table 1, RFC 3758, RFC 8260).
    TYPE: ClassVar[int]

    @property
    def chunk_type(self) -> int:
        """The chunk type code on the wire."""
        return self.TYPE

    def serialized_size(self) -> int:
        """Bytes this chunk occupies in a packet, padding included."""
        raise NotImplementedError

    def write(self, out: list[bytes | memoryview]) -> None:
        """Append the chunk's wire bytes (padding included) to ``out`` as one or more parts.

        Parts are joined once per packet by ``serialize_packet``: large user data is never
        copied more than once.
        """
        raise NotImplementedError

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> Self:
        """Decode a chunk of this type whose value is ``data[start:end]`` (padding excluded).

        ``parse_packet`` calls it after checking the chunk header; it slices ``data`` once
        rather than copying the value first.

        Raises:
            ParseError: the value is malformed for this chunk type.
        """
        raise NotImplementedError

    def serialize(self) -> bytes:
        """The chunk's wire bytes, padding included."""
        parts: list[bytes | memoryview] = []
        self.write(parts)
        return b"".join(parts)


class Parameter:
    """Base of INIT / INIT ACK / HEARTBEAT parameters (RFC 9260 §3.2.1).

    ``serialize()`` gives the TLV without trailing padding (its length is the parameter
    length); ``serialized_size()`` is the padded size it occupies inside a chunk.
    """

    __slots__ = ()

    #: The parameter type code.
    TYPE: ClassVar[int]

    @property
    def parameter_type(self) -> int:
        """The parameter type code on the wire."""
        return self.TYPE

    @classmethod
    def from_value(cls, value: bytes) -> Self:
        """Decode the value of a parameter of this type.

        Raises:
            ParseError: the value is malformed for this type.
        """
        raise NotImplementedError

    def value_bytes(self) -> bytes:
        """The parameter value (without the 4-byte type/length header)."""
        raise NotImplementedError

    def serialize(self) -> bytes:
        """The parameter TLV (type, length, value), without padding."""
        value = self.value_bytes()
        return TLV_HEADER.pack(self.parameter_type, 4 + len(value)) + value

    def serialized_size(self) -> int:
        """Padded size of the TLV inside a chunk."""
        return padded(4 + len(self.value_bytes()))


class ErrorCause:
    """Base of error causes carried in ABORT and ERROR chunks (RFC 9260 §3.3.10).

    ``str(cause)`` is a readable sentence used in "aborted: ..." messages.
    """

    __slots__ = ()

    #: The cause code.
    CODE: ClassVar[int]

    @property
    def cause_code(self) -> int:
        """The cause code on the wire."""
        return self.CODE

    @classmethod
    def from_value(cls, value: bytes) -> Self:
        """Decode the information of a cause with this code.

        Raises:
            ParseError: the information is malformed for this code.
        """
        raise NotImplementedError

    def value_bytes(self) -> bytes:
        """The cause-specific information (without the 4-byte code/length header)."""
        raise NotImplementedError

    def serialize(self) -> bytes:
        """The cause TLV (code, length, information), without padding."""
        value = self.value_bytes()
        return TLV_HEADER.pack(self.cause_code, 4 + len(value)) + value

    def serialized_size(self) -> int:
        """Padded size of the TLV inside a chunk."""
        return padded(4 + len(self.value_bytes()))


T = TypeVar("T")


def iter_tlvs(data: bytes, start: int, end: int, what: str) -> list[tuple[int, int, int]]:
    """Split ``data[start:end]`` into TLVs: a list of (type, value_start, value_end).

    Each TLV's length (header included, padding excluded) must be at least 4 and stay inside
    the region; padding after a TLV is skipped, and the padding of the last one may be absent
    (RFC 9260 §3.2: a robust receiver accepts either). Left-over bytes that cannot hold a TLV
    header are an error.
    """
    out: list[tuple[int, int, int]] = []
    offset = start
    while end - offset >= 4:
        tlv_type, length = TLV_HEADER.unpack_from(data, offset)
        if length < 4:
            raise ParseError(f"{what} of type {tlv_type} has length {length} < 4")
        value_end = offset + length
        if value_end > end:
            raise ParseError(f"{what} of type {tlv_type} with length {length} overruns its chunk")
        out.append((tlv_type, offset + 4, value_end))
        offset += (length + 3) & ~3
    if offset < end:
        raise ParseError(f"{end - offset} stray bytes after the last {what}")
    return out


def parse_tlv_list(
    data: bytes,
    start: int,
    end: int,
    parsers: Mapping[int, Callable[[bytes], T]],
    unknown: Callable[[int, bytes], T],
    what: str,
) -> list[T]:
    """Parse a TLV region with per-type parsers; unknown types go to ``unknown(type, value)``."""
    items: list[T] = []
    for tlv_type, vstart, vend in iter_tlvs(data, start, end, what):
        value = data[vstart:vend]
        parser = parsers.get(tlv_type)
        items.append(unknown(tlv_type, value) if parser is None else parser(value))
    return items


def join_tlvs(items: tuple[Parameter, ...] | tuple[ErrorCause, ...]) -> bytes:
    """Serialize a TLV list with padding between items but not after the last one.

    RFC 9260 §3.2: a chunk's length includes the padding of every parameter but the last; the
    chunk's own padding then covers the last one.
    """
    parts: list[bytes] = []
    for item in items:
        if parts:
            parts.append(PAD[len(parts[-1]) & 3])
        parts.append(item.serialize())
    return b"".join(parts)
