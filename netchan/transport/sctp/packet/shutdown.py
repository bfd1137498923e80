"""SHUTDOWN (RFC 9260 §3.3.8), SHUTDOWN ACK (§3.3.9) and SHUTDOWN COMPLETE (§3.3.13)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._base import Chunk, ParseError

__all__ = ["ShutdownAckChunk", "ShutdownChunk", "ShutdownCompleteChunk"]

FLAG_T = 0x01  # T bit (§3.3.13): the verification tag is reflected
_SHUTDOWN = struct.Struct("!BBHI")


@dataclass(slots=True)
class ShutdownChunk(Chunk):
    """SHUTDOWN (type 7, RFC 9260 §3.3.8): graceful close; also acks up to a TSN."""

    TYPE = 7
    cumulative_tsn_ack: int

    def serialized_size(self) -> int:
        return 8

    def write(self, out: list[bytes | memoryview]) -> None:
        out.append(_SHUTDOWN.pack(7, 0, 8, self.cumulative_tsn_ack))

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> ShutdownChunk:
        """Decode the value ``data[start:end]`` of a SHUTDOWN chunk (exactly 8 bytes long)."""
        if end - start != 4:
            raise ParseError(f"SHUTDOWN chunk length {end - start + 4} != 8")
        (cum,) = struct.unpack_from("!I", data, start)
        return cls(cum)


@dataclass(slots=True)
class ShutdownAckChunk(Chunk):
    """SHUTDOWN ACK (type 8, RFC 9260 §3.3.9): answers SHUTDOWN once all data is acked."""

    TYPE = 8

    def serialized_size(self) -> int:
        return 4

    def write(self, out: list[bytes | memoryview]) -> None:
        out.append(b"\x08\x00\x00\x04")

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> ShutdownAckChunk:
        """Decode a SHUTDOWN ACK chunk (exactly 4 bytes long)."""
        if end != start:
            raise ParseError(f"SHUTDOWN ACK chunk length {end - start + 4} != 4")
        return cls()


@dataclass(slots=True)
class ShutdownCompleteChunk(Chunk):
    """SHUTDOWN COMPLETE (type 14, RFC 9260 §3.3.13): the last packet of a graceful close.

    Attributes:
        tag_reflected: T bit, as for ABORT (§8.4 answers to an out-of-the-blue SHUTDOWN ACK).
    """

    TYPE = 14
    tag_reflected: bool = False

    def serialized_size(self) -> int:
        return 4

    def write(self, out: list[bytes | memoryview]) -> None:
        out.append(b"\x0e\x01\x00\x04" if self.tag_reflected else b"\x0e\x00\x00\x04")

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> ShutdownCompleteChunk:
        """Decode a SHUTDOWN COMPLETE chunk (exactly 4 bytes long)."""
        if end != start:
            raise ParseError(f"SHUTDOWN COMPLETE chunk length {end - start + 4} != 4")
        return cls(bool(flags & FLAG_T))
