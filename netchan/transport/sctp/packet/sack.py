"""SACK chunk (RFC 9260 §3.3.4): cumulative TSN ack, window, gap ack blocks, duplicates.

On the hot path: precompiled header struct, one ``unpack_from`` for all gap blocks and one for
all duplicate TSNs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._base import Chunk, ParseError

__all__ = ["SackChunk"]

# type, flags, length, cumulative TSN ack, a_rwnd, number of gap blocks, number of dup TSNs
_SACK = struct.Struct("!BBHIIHH")
_SACK_VALUE = struct.Struct("!IIHH")


@dataclass(slots=True)
class SackChunk(Chunk):
    """SACK (type 3, RFC 9260 §3.3.4).

    Attributes:
        cumulative_tsn_ack: the last TSN received in sequence.
        a_rwnd: the sender's current receive window in bytes.
        gap_ack_blocks: (start, end) offsets relative to ``cumulative_tsn_ack``: TSNs
            cum+start .. cum+end (inclusive) were received. 16-bit each.
        duplicate_tsns: TSNs received more than once since the previous SACK.
    """

    TYPE = 3
    cumulative_tsn_ack: int
    a_rwnd: int
    gap_ack_blocks: tuple[tuple[int, int], ...] = ()
    duplicate_tsns: tuple[int, ...] = ()

    def serialized_size(self) -> int:
        return 16 + 4 * (len(self.gap_ack_blocks) + len(self.duplicate_tsns))

    def write(self, out: list[bytes | memoryview]) -> None:
        ngap = len(self.gap_ack_blocks)
        ndup = len(self.duplicate_tsns)
        out.append(
            _SACK.pack(
                3, 0, 16 + 4 * (ngap + ndup), self.cumulative_tsn_ack, self.a_rwnd, ngap, ndup
            )
        )
        if ngap:
            flat = [x for block in self.gap_ack_blocks for x in block]
            out.append(struct.pack(f"!{2 * ngap}H", *flat))
        if ndup:
            out.append(struct.pack(f"!{ndup}I", *self.duplicate_tsns))

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> SackChunk:
        """Decode the value ``data[start:end]`` of a SACK chunk."""
        if end - start < 12:
            raise ParseError(f"SACK chunk length {end - start + 4} < 16")
        cum, a_rwnd, ngap, ndup = _SACK_VALUE.unpack_from(data, start)
        if end - start != 12 + 4 * (ngap + ndup):
            raise ParseError(
                f"SACK chunk length {end - start + 4} does not match "
                f"{ngap} gap blocks and {ndup} duplicate TSNs"
            )
        gaps: tuple[tuple[int, int], ...] = ()
        if ngap:
            flat = struct.unpack_from(f"!{2 * ngap}H", data, start + 12)
            it = iter(flat)
            gaps = tuple(zip(it, it, strict=True))
        dups: tuple[int, ...] = ()
        if ndup:
            dups = struct.unpack_from(f"!{ndup}I", data, start + 12 + 4 * ngap)
        return cls(cum, a_rwnd, gaps, dups)
