"""FORWARD TSN (RFC 3758 §3.2) and I-FORWARD-TSN (RFC 8260 §2.3.1) chunks.

Partial reliability: the sender tells the receiver to move its cumulative TSN forward past
abandoned messages. Parsed and serialized so that interop peers offering them are understood;
the association may leave them unused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._base import CHUNK_HEADER, Chunk, ParseError

__all__ = ["ForwardTsnChunk", "IForwardTsnChunk"]

_U32 = struct.Struct("!I")
_IFWD_ENTRY = struct.Struct("!HHI")


@dataclass(slots=True)
class ForwardTsnChunk(Chunk):
    """FORWARD TSN (type 192, RFC 3758 §3.2).

    Attributes:
        new_cumulative_tsn: the receiver treats every TSN up to this one as received.
        streams: (stream id, stream sequence number) pairs: the largest SSN skipped per
            ordered stream.
    """

    TYPE = 192
    new_cumulative_tsn: int
    streams: tuple[tuple[int, int], ...] = ()

    def serialized_size(self) -> int:
        return 8 + 4 * len(self.streams)

    def write(self, out: list[bytes | memoryview]) -> None:
        n = len(self.streams)
        out.append(CHUNK_HEADER.pack(192, 0, 8 + 4 * n) + _U32.pack(self.new_cumulative_tsn))
        if n:
            flat = [x for entry in self.streams for x in entry]
            out.append(struct.pack(f"!{2 * n}H", *flat))

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> ForwardTsnChunk:
        """Decode the value ``data[start:end]`` of a FORWARD TSN chunk."""
        length = end - start
        if length < 4 or length % 4:
            raise ParseError(f"FORWARD TSN chunk length {length + 4} is not 8 + 4n")
        (new_cum,) = _U32.unpack_from(data, start)
        n = (length - 4) // 4
        flat = struct.unpack_from(f"!{2 * n}H", data, start + 4)
        it = iter(flat)
        return cls(new_cum, tuple(zip(it, it, strict=True)))


@dataclass(slots=True)
class IForwardTsnChunk(Chunk):
    """I-FORWARD-TSN (type 194, RFC 8260 §2.3.1).

    Attributes:
        new_cumulative_tsn: as for ``ForwardTsnChunk``.
        streams: (stream id, unordered, message identifier) triples: the largest MID skipped
            per stream and ordering.
    """

    TYPE = 194
    new_cumulative_tsn: int
    streams: tuple[tuple[int, bool, int], ...] = ()

    def serialized_size(self) -> int:
        return 8 + 8 * len(self.streams)

    def write(self, out: list[bytes | memoryview]) -> None:
        n = len(self.streams)
        out.append(CHUNK_HEADER.pack(194, 0, 8 + 8 * n) + _U32.pack(self.new_cumulative_tsn))
        for sid, unordered, mid in self.streams:
            out.append(_IFWD_ENTRY.pack(sid, 1 if unordered else 0, mid))

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> IForwardTsnChunk:
        """Decode the value ``data[start:end]`` of an I-FORWARD-TSN chunk."""
        length = end - start
        if length < 4 or (length - 4) % 8:
            raise ParseError(f"I-FORWARD-TSN chunk length {length + 4} is not 8 + 8n")
        (new_cum,) = _U32.unpack_from(data, start)
        streams = tuple(
            (sid, bool(u_word & 1), mid)
            for sid, u_word, mid in _IFWD_ENTRY.iter_unpack(data[start + 4 : end])
        )
        return cls(new_cum, streams)
