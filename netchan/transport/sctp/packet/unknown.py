"""Chunks of types this stack does not decode (RFC 9260 §3.2)."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import CHUNK_HEADER, PAD, Chunk, UnrecognizedAction

__all__ = ["UnknownChunk"]


@dataclass(slots=True)
class UnknownChunk(Chunk):
    """A chunk of an unknown type, kept byte for byte (type, flags, value without padding).

    ``action`` tells what RFC 9260 §3.2 requires from the type's upper two bits;
    ``raw_bytes()`` gives the chunk back for an Unrecognized Chunk Type cause (§3.3.10.6).
    """

    type: int
    flags: int
    value: bytes

    @property
    def chunk_type(self) -> int:
        return self.type

    @property
    def action(self) -> UnrecognizedAction:
        """What RFC 9260 §3.2 says to do with it."""
        return UnrecognizedAction(self.type >> 6)

    def raw_bytes(self) -> bytes:
        """The chunk as it arrived, without padding: the Unrecognized Chunk cause's value."""
        return CHUNK_HEADER.pack(self.type, self.flags, 4 + len(self.value)) + self.value

    def serialized_size(self) -> int:
        return (7 + len(self.value)) & ~3

    def write(self, out: list[bytes | memoryview]) -> None:
        n = len(self.value)
        out.append(CHUNK_HEADER.pack(self.type, self.flags, 4 + n))
        out.append(self.value)
        out.append(PAD[n & 3])

    @classmethod
    def parse_unknown(
        cls, data: bytes, chunk_type: int, flags: int, start: int, end: int
    ) -> UnknownChunk:
        """Keep the value ``data[start:end]`` of a chunk of unknown type.

        (``parse`` does not apply: the type is not implied by the class.)
        """
        return cls(chunk_type, flags, data[start:end])
