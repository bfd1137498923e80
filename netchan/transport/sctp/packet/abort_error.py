"""ABORT (RFC 9260 §3.3.7) and ERROR (§3.3.10) chunks: lists of error causes."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import CHUNK_HEADER, PAD, Chunk, ErrorCause, join_tlvs
from .error_causes import parse_error_causes

__all__ = ["AbortChunk", "ErrorChunk"]

FLAG_T = 0x01  # T bit (§3.3.7): the verification tag is the peer's own (reflected)


def _describe(causes: tuple[ErrorCause, ...]) -> str:
    return "; ".join(str(cause) for cause in causes)


@dataclass(slots=True)
class AbortChunk(Chunk):
    """ABORT (type 6, RFC 9260 §3.3.7): ends the association at once.

    Attributes:
        causes: zero or more error causes explaining why.
        tag_reflected: the T bit: set when the packet carries the receiver's own verification
            tag instead of ours (§8.4, §8.5.1), e.g. answering an out-of-the-blue packet.
    """

    TYPE = 6
    causes: tuple[ErrorCause, ...] = ()
    tag_reflected: bool = False

    def serialized_size(self) -> int:
        size = 4
        for cause in self.causes:
            size += cause.serialized_size()
        return size

    def write(self, out: list[bytes | memoryview]) -> None:
        body = join_tlvs(self.causes)
        out.append(CHUNK_HEADER.pack(6, FLAG_T if self.tag_reflected else 0, 4 + len(body)))
        out.append(body)
        out.append(PAD[len(body) & 3])

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> AbortChunk:
        """Decode the value ``data[start:end]`` of an ABORT chunk with these flags."""
        return cls(tuple(parse_error_causes(data, start, end)), bool(flags & FLAG_T))

    def __str__(self) -> str:
        return _describe(self.causes) or "no cause given"


@dataclass(slots=True)
class ErrorChunk(Chunk):
    """ERROR (type 9, RFC 9260 §3.3.10): reports conditions that do not end the association.

    Attributes:
        causes: one or more error causes.
    """

    TYPE = 9
    causes: tuple[ErrorCause, ...] = ()

    def serialized_size(self) -> int:
        size = 4
        for cause in self.causes:
            size += cause.serialized_size()
        return size

    def write(self, out: list[bytes | memoryview]) -> None:
        body = join_tlvs(self.causes)
        out.append(CHUNK_HEADER.pack(9, 0, 4 + len(body)))
        out.append(body)
        out.append(PAD[len(body) & 3])

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> ErrorChunk:
        """Decode the value ``data[start:end]`` of an ERROR chunk."""
        return cls(tuple(parse_error_causes(data, start, end)))

    def __str__(self) -> str:
        return _describe(self.causes) or "no cause given"
