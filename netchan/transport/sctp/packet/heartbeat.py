"""HEARTBEAT (RFC 9260 §3.3.5) and HEARTBEAT ACK (§3.3.6) chunks.

Both carry one Heartbeat Info parameter (type 1) whose value is opaque to the receiver: the
sender puts there what it needs to match the ACK (path, time sent, a nonce) and the receiver
echoes it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._base import CHUNK_HEADER, PAD, TLV_HEADER, Chunk, ParseError
from .parameters import HeartbeatInfoParameter, parse_parameters

__all__ = ["HeartbeatAckChunk", "HeartbeatChunk"]


def _parse_info(data: bytes, start: int, end: int, name: str) -> bytes:
    for parameter in parse_parameters(data, start, end):
        if isinstance(parameter, HeartbeatInfoParameter):
            return parameter.info
    raise ParseError(f"{name} chunk without a Heartbeat Info parameter")


@dataclass(slots=True)
class _HeartbeatBase(Chunk):
    info: bytes

    def serialized_size(self) -> int:
        return 8 + ((len(self.info) + 3) & ~3)

    def write(self, out: list[bytes | memoryview]) -> None:
        n = len(self.info)
        out.append(CHUNK_HEADER.pack(self.TYPE, 0, 8 + n) + TLV_HEADER.pack(1, 4 + n))
        out.append(self.info)
        out.append(PAD[n & 3])


@dataclass(slots=True)
class HeartbeatChunk(_HeartbeatBase):
    """HEARTBEAT (type 4, RFC 9260 §3.3.5): probes a path; ``info`` is our opaque data."""

    TYPE = 4

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> HeartbeatChunk:
        """Decode the value ``data[start:end]`` of a HEARTBEAT chunk."""
        return cls(_parse_info(data, start, end, "HEARTBEAT"))


@dataclass(slots=True)
class HeartbeatAckChunk(_HeartbeatBase):
    """HEARTBEAT ACK (type 5, RFC 9260 §3.3.6): echoes the HEARTBEAT's ``info``."""

    TYPE = 5

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> HeartbeatAckChunk:
        """Decode the value ``data[start:end]`` of a HEARTBEAT ACK chunk."""
        return cls(_parse_info(data, start, end, "HEARTBEAT ACK"))
