"""COOKIE ECHO (RFC 9260 §3.3.11) and COOKIE ACK (§3.3.12) chunks."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import CHUNK_HEADER, PAD, Chunk, ParseError

__all__ = ["CookieAckChunk", "CookieEchoChunk"]


@dataclass(slots=True)
class CookieEchoChunk(Chunk):
    """COOKIE ECHO (type 10, RFC 9260 §3.3.11): returns the State Cookie from the INIT ACK.

    Must be the first chunk of its packet (§3.2.2, §5.1); that is the sender's business.
    """

    TYPE = 10
    cookie: bytes

    def serialized_size(self) -> int:
        return (7 + len(self.cookie)) & ~3

    def write(self, out: list[bytes | memoryview]) -> None:
        n = len(self.cookie)
        out.append(CHUNK_HEADER.pack(10, 0, 4 + n))
        out.append(self.cookie)
        out.append(PAD[n & 3])

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> CookieEchoChunk:
        """Decode the value ``data[start:end]`` of a COOKIE ECHO chunk."""
        return cls(data[start:end])


@dataclass(slots=True)
class CookieAckChunk(Chunk):
    """COOKIE ACK (type 11, RFC 9260 §3.3.12): the association is established."""

    TYPE = 11

    def serialized_size(self) -> int:
        return 4

    def write(self, out: list[bytes | memoryview]) -> None:
        out.append(b"\x0b\x00\x00\x04")

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> CookieAckChunk:
        """Decode a COOKIE ACK chunk (exactly 4 bytes long)."""
        if end != start:
            raise ParseError(f"COOKIE ACK chunk length {end - start + 4} != 4")
        return cls()
