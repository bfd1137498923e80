"""The SCTP packet: common header (RFC 9260 §3.1), CRC32c (§6.8, Appendix A), chunk list.

Checksum byte order: the CRC32c of the packet (computed with the checksum field zero) is the
usual reflected CRC-32C value, and the wire carries it least significant byte first, i.e.
``struct.pack("<I", crc)``. RFC 9260 Appendix A (RFC 4960's Appendix B) maps the remainder's
coefficients back to bytes so that a reflected (LSB-first) implementation's result is stored
low byte first; the Linux kernel (``cpu_to_le32``), usrsctp and dcSCTP do exactly that.
``tests/sctp/test_packet_crc.py`` pins it with captured packets and
``tests/sctp/test_packet_usrsctp.py`` with a live usrsctp peer.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import crc32c as _crc32c

from ._base import Chunk, ParseError
from .abort_error import AbortChunk, ErrorChunk
from .auth import AuthChunk
from .cookie import CookieAckChunk, CookieEchoChunk
from .data import DataChunk, IDataChunk
from .forward_tsn import ForwardTsnChunk, IForwardTsnChunk
from .heartbeat import HeartbeatAckChunk, HeartbeatChunk
from .init import InitAckChunk, InitChunk
from .pad import PadChunk
from .sack import SackChunk
from .shutdown import ShutdownAckChunk, ShutdownChunk, ShutdownCompleteChunk
from .unknown import UnknownChunk

__all__ = [
    "CHUNK_CLASSES",
    "COMMON_HEADER_SIZE",
    "Packet",
    "compute_checksum",
    "parse_chunk",
    "parse_chunks",
    "parse_packet",
    "peek_header",
    "serialize_packet",
    "serialized_size",
]

COMMON_HEADER_SIZE = 12

# source port, destination port, verification tag (the checksum follows, little-endian)
_PORTS_TAG = struct.Struct("!HHI")
_HEADER = struct.Struct("!HHI4x")
_CRC = struct.Struct("<I")
_CHUNK_HEADER = struct.Struct("!BBH")
_ZERO_CRC = b"\x00\x00\x00\x00"
_DATA_VALUE = struct.Struct("!IHHI")
_IDATA_VALUE = struct.Struct("!IHHII")

_crc = _crc32c.crc32c

ChunkParser = Callable[[bytes, int, int, int], Chunk]

CHUNK_CLASSES: dict[int, type[Chunk]] = {
    cls.TYPE: cls
    for cls in (
        DataChunk,
        InitChunk,
        InitAckChunk,
        SackChunk,
        HeartbeatChunk,
        HeartbeatAckChunk,
        AbortChunk,
        ShutdownChunk,
        ShutdownAckChunk,
        ErrorChunk,
        CookieEchoChunk,
        CookieAckChunk,
        ShutdownCompleteChunk,
        IDataChunk,
        ForwardTsnChunk,
        IForwardTsnChunk,
        PadChunk,
        AuthChunk,
    )
}
"""Chunk types this stack decodes, and their classes; every other type is an UnknownChunk."""

_PARSERS: dict[int, ChunkParser] = {code: cls.parse for code, cls in CHUNK_CLASSES.items()}


@dataclass(slots=True)
class Packet:
    """One SCTP packet (RFC 9260 §3): common header fields and the chunks in order.

    Attributes:
        src_port: SCTP source port.
        dst_port: SCTP destination port.
        verification_tag: the tag the receiver checks (§8.5); 0 only for packets with INIT.
        chunks: the chunks, in packet order (bundling order matters, §6.10).
    """

    src_port: int
    dst_port: int
    verification_tag: int
    chunks: list[Chunk] = field(default_factory=list)

    def serialize(self) -> bytes:
        """The packet's wire bytes, checksum included."""
        return serialize_packet(self.src_port, self.dst_port, self.verification_tag, self.chunks)


def compute_checksum(data: bytes) -> int:
    """CRC32c of a packet as RFC 9260 §6.8 defines it: over all bytes, checksum field zeroed.

    Returns the integer whose little-endian bytes belong in the checksum field.
    """
    if len(data) < COMMON_HEADER_SIZE:
        raise ValueError("an SCTP packet is at least 12 bytes long")
    return _crc(memoryview(data)[COMMON_HEADER_SIZE:], _crc(data[:8] + _ZERO_CRC))


def peek_header(data: bytes) -> tuple[int, int, int]:
    """(source port, destination port, verification tag) without any checking.

    Cheap demultiplexing before a full parse, and reading the quoted header in ICMP errors
    (RFC 9260 §10), where only the first 8 bytes may be present.

    Raises:
        ParseError: fewer than 8 bytes.
    """
    if len(data) < 8:
        raise ParseError(f"{len(data)} bytes cannot hold an SCTP common header")
    ports_tag: tuple[int, int, int] = _PORTS_TAG.unpack_from(data)
    return ports_tag


def parse_chunks(data: bytes, start: int = COMMON_HEADER_SIZE) -> list[Chunk]:
    """Parse the chunks of ``data[start:]`` (RFC 9260 §3.2).

    Every chunk length must be at least 4 and stay inside the data; padding after a chunk is
    skipped (the last chunk's padding may be missing). At least one chunk must be present.

    Raises:
        ParseError: any malformation; nothing else escapes.
    """
    chunks: list[Chunk] = []
    append = chunks.append
    total = len(data)
    offset = start
    parsers = _PARSERS
    unpack_header = _CHUNK_HEADER.unpack_from
    unpack_data = _DATA_VALUE.unpack_from
    unpack_idata = _IDATA_VALUE.unpack_from
    try:
        while total - offset >= 4:
            chunk_type, flags, length = unpack_header(data, offset)
            end = offset + length
            if length < 4:
                raise ParseError(f"chunk of type {chunk_type} has length {length} < 4")
            if end > total:
                raise ParseError(
                    f"chunk of type {chunk_type} with length {length} overruns the packet"
                )
            if chunk_type == 0 and length >= 16:
                # The hot path, inlined: DATA (RFC 9260 §3.3.1), as DataChunk.parse does it.
                tsn, sid, ssn, ppid = unpack_data(data, offset + 4)
                append(
                    DataChunk(
                        tsn,
                        sid,
                        ssn,
                        ppid,
                        data[offset + 16 : end],
                        flags & 4 != 0,
                        flags & 2 != 0,
                        flags & 1 != 0,
                        flags & 8 != 0,
                    )
                )
                offset += (length + 3) & ~3
                continue
            if chunk_type == 64 and length >= 20:
                # I-DATA (RFC 8260 §2.1), inlined as IDataChunk.parse does it: the last word
                # is the PPID in a first fragment (B bit), the FSN otherwise.
                tsn, sid, _reserved, mid, word = unpack_idata(data, offset + 4)
                if flags & 2:
                    fsn = 0
                    ppid = word
                else:
                    fsn = word
                    ppid = 0
                append(
                    IDataChunk(
                        tsn,
                        sid,
                        mid,
                        fsn,
                        ppid,
                        data[offset + 20 : end],
                        flags & 4 != 0,
                        flags & 2 != 0,
                        flags & 1 != 0,
                        flags & 8 != 0,
                    )
                )
                offset += (length + 3) & ~3
                continue
            parser = parsers.get(chunk_type)
            if parser is None:
                append(UnknownChunk.parse_unknown(data, chunk_type, flags, offset + 4, end))
            else:
                append(parser(data, flags, offset + 4, end))
            offset += (length + 3) & ~3
    except ParseError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, struct.error) as exc:
        # Defence in depth: every parser validates lengths first; anything else is still a
        # malformed packet from the peer's point of view, never a crash of the stack.
        raise ParseError(f"malformed chunk (unexpected {type(exc).__name__}): {exc}") from exc
    if offset < total:
        raise ParseError(f"{total - offset} stray bytes after the last chunk")
    if not chunks:
        raise ParseError("packet without chunks")
    return chunks


def parse_chunk(data: bytes) -> Chunk:
    """Parse exactly one chunk (with optional padding) from ``data``.

    Raises:
        ParseError: malformed, or more than one chunk.
    """
    chunks = parse_chunks(data, 0)
    if len(chunks) != 1:
        raise ParseError(f"expected one chunk, found {len(chunks)}")
    return chunks[0]


def parse_packet(data: bytes | bytearray | memoryview, verify_checksum: bool = True) -> Packet:
    """Parse one SCTP packet (RFC 9260 §3).

    Args:
        data: the packet (for RFC 6951, the UDP payload).
        verify_checksum: check the CRC32c (§6.8); a mismatch raises ParseError. Turn off
            only for data already verified elsewhere.

    Raises:
        ParseError: bad checksum, bad lengths, malformed chunks: the packet is to be dropped
            (§6.8: silently) and counted. No other exception escapes.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) < COMMON_HEADER_SIZE:
        raise ParseError(f"{len(data)} bytes cannot hold an SCTP common header")
    src, dst, vtag = _HEADER.unpack_from(data)
    # The checksum is little-endian on the wire (see the module docstring).
    (checksum,) = _CRC.unpack_from(data, 8)
    if verify_checksum and checksum != compute_checksum(data):
        raise ParseError("bad CRC32c checksum")
    return Packet(src, dst, vtag, parse_chunks(data))


def serialized_size(chunks: Iterable[Chunk]) -> int:
    """Size of a packet carrying these chunks: common header plus padded chunks."""
    return COMMON_HEADER_SIZE + sum(chunk.serialized_size() for chunk in chunks)


def serialize_packet(
    src_port: int, dst_port: int, verification_tag: int, chunks: Iterable[Chunk]
) -> bytes:
    """Build a packet: common header, the chunks (padded), CRC32c (RFC 9260 §3.1, §6.8).

    Chunk bytes are gathered as parts and joined once; the CRC runs once over the result.

    Raises:
        ValueError: no chunks, or a field does not fit its width (a bug of the caller).
    """
    # parts[0:2] are the common header's: ports and tag, then the checksum (filled in last).
    parts: list[bytes | memoryview] = [b"", b""]
    chunk: Chunk | None = None
    try:
        for chunk in chunks:
            chunk.write(parts)
        ports_tag = _PORTS_TAG.pack(src_port, dst_port, verification_tag)
    except struct.error as exc:
        raise ValueError(f"field out of range while serializing {chunk!r}: {exc}") from exc
    if len(parts) == 2:
        raise ValueError("an SCTP packet needs at least one chunk")
    if len(parts) > _CRC_PARTS_MAX:
        # Many small chunks: one CRC call over the joined body is cheaper than one per part.
        body = b"".join(parts)
        crc = _crc(body, _crc(ports_tag + _ZERO_CRC))
        return b"".join((ports_tag, _CRC.pack(crc), body))
    # A few big chunks (fragments of a big message: views of it): the CRC runs over the
    # parts and one join builds the packet, so the user data is copied once.
    crc = _crc(ports_tag + _ZERO_CRC)
    for index in range(2, len(parts)):
        crc = _crc(parts[index], crc)
    parts[0] = ports_tag
    parts[1] = _CRC.pack(crc)
    return b"".join(parts)


#: Most parts (chunk headers, user data, padding) a packet's CRC is computed over one by one.
_CRC_PARTS_MAX = 16
