"""PAD chunk (RFC 4820 §3): padding that makes an SCTP packet a chosen size.

RFC 8899 §6.2 builds a path MTU probe from a minimum-length HEARTBEAT and a PAD chunk that
fills the packet up to the size being probed. The receiver ignores the chunk (RFC 4820 §3),
so only its length is kept: a 64 KiB probe is neither copied when parsed nor held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._base import CHUNK_HEADER, PAD, Chunk, ParseError

__all__ = ["PAD_CHUNK_HEADER_SIZE", "PadChunk"]

#: Bytes of a PAD chunk that are not padding data (type, flags, length).
PAD_CHUNK_HEADER_SIZE = 4

_MAX_PADDING = 0xFFFF - PAD_CHUNK_HEADER_SIZE


@dataclass(slots=True)
class PadChunk(Chunk):
    """PAD (type 0x84, RFC 4820 §3): ``padding`` bytes of Padding Data, sent as zeros.

    The type's upper bits are ``10`` (RFC 9260 §3.2: skip and continue, no report), so a
    peer that does not know PAD still processes the rest of the packet.
    """

    TYPE = 0x84

    padding: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.padding <= _MAX_PADDING:
            raise ValueError(f"PAD chunk padding must be 0..{_MAX_PADDING} bytes")

    def serialized_size(self) -> int:
        return (PAD_CHUNK_HEADER_SIZE + self.padding + 3) & ~3

    def write(self, out: list[bytes | memoryview]) -> None:
        n = self.padding
        out.append(CHUNK_HEADER.pack(self.TYPE, 0, PAD_CHUNK_HEADER_SIZE + n))
        out.append(bytes(n))
        out.append(PAD[n & 3])

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> PadChunk:
        """Decode the value ``data[start:end]``: only its length matters (RFC 4820 §3:
        the receiver MUST ignore the Padding Data; the flags are ignored too)."""
        if end < start:  # the packet parser never passes this; kept for direct callers
            raise ParseError("PAD chunk with a negative length")
        return cls(end - start)
