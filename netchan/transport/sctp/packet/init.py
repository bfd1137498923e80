"""INIT (RFC 9260 §3.3.2) and INIT ACK (§3.3.3) chunks.

The parser checks structure only (lengths, parameter TLVs). Semantic checks are the
association's, because the RFC asks for different reactions: a zero Initiate Tag means
"silently discard" (§3.3.2), zero stream counts or an a_rwnd below 1500 mean "discard and
answer ABORT" (§3.3.2), a missing State Cookie in INIT ACK means an ABORT with a Missing
Mandatory Parameter cause (§5.1), a Host Name Address means an ABORT with an Unresolvable
Address cause (§3.3.2.1.4, §3.3.3), unknown parameters follow their upper two bits (§3.2.1).
``InitChunk.problem()`` names the first RFC rule a chunk breaks, to help with that.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._base import CHUNK_HEADER, PAD, Chunk, Parameter, ParseError, join_tlvs
from .parameters import StateCookieParameter, parse_parameters

__all__ = ["InitAckChunk", "InitChunk"]

# Initiate Tag, a_rwnd, outbound streams, inbound streams, initial TSN
_FIXED = struct.Struct("!IIHHI")


@dataclass(slots=True)
class _InitBase(Chunk):
    """Fields shared by INIT and INIT ACK."""

    initiate_tag: int
    a_rwnd: int
    outbound_streams: int
    inbound_streams: int
    initial_tsn: int
    parameters: tuple[Parameter, ...] = ()

    def serialized_size(self) -> int:
        size = 20
        for parameter in self.parameters:
            size += parameter.serialized_size()
        return size

    def write(self, out: list[bytes | memoryview]) -> None:
        params = join_tlvs(self.parameters)
        out.append(CHUNK_HEADER.pack(self.TYPE, 0, 20 + len(params)))
        out.append(
            _FIXED.pack(
                self.initiate_tag,
                self.a_rwnd,
                self.outbound_streams,
                self.inbound_streams,
                self.initial_tsn,
            )
        )
        out.append(params)
        out.append(PAD[len(params) & 3])

    def problem(self) -> str | None:
        """The first RFC 9260 §3.3.2 / §3.3.3 value rule this chunk breaks, or None."""
        if self.initiate_tag == 0:
            return "initiate tag is 0"
        if self.outbound_streams == 0:
            return "number of outbound streams is 0"
        if self.inbound_streams == 0:
            return "number of inbound streams is 0"
        if self.a_rwnd < 1500:
            return f"a_rwnd {self.a_rwnd} < 1500"
        return None


def _parse_fixed(data: bytes, start: int, end: int, name: str) -> tuple[int, int, int, int, int]:
    if end - start < 16:
        raise ParseError(f"{name} chunk length {end - start + 4} < 20")
    fields: tuple[int, int, int, int, int] = _FIXED.unpack_from(data, start)
    return fields


@dataclass(slots=True)
class InitChunk(_InitBase):
    """INIT (type 1, RFC 9260 §3.3.2): starts an association.

    Attributes:
        initiate_tag: the verification tag the peer must put in every packet to us.
        a_rwnd: our initial receive window.
        outbound_streams: streams we want to send on (OS).
        inbound_streams: streams we accept (MIS).
        initial_tsn: the TSN of our first DATA chunk.
        parameters: optional/variable parameters, unknown ones preserved.
    """

    TYPE = 1

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> InitChunk:
        """Decode the value ``data[start:end]`` of an INIT chunk."""
        fixed = _parse_fixed(data, start, end, "INIT")
        return cls(*fixed, tuple(parse_parameters(data, start + 16, end)))


@dataclass(slots=True)
class InitAckChunk(_InitBase):
    """INIT ACK (type 2, RFC 9260 §3.3.3): answers INIT; carries the State Cookie.

    Fields as in ``InitChunk``; ``state_cookie`` finds the mandatory State Cookie parameter.
    """

    TYPE = 2

    @property
    def state_cookie(self) -> bytes | None:
        """The State Cookie parameter's value (§3.3.3.1), or None if the peer left it out."""
        for parameter in self.parameters:
            if isinstance(parameter, StateCookieParameter):
                return parameter.cookie
        return None

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> InitAckChunk:
        """Decode the value ``data[start:end]`` of an INIT ACK chunk."""
        fixed = _parse_fixed(data, start, end, "INIT ACK")
        return cls(*fixed, tuple(parse_parameters(data, start + 16, end)))
