"""SCTP-AUTH wire format (RFC 4895): the AUTH chunk, its three INIT parameters, its cause.

- ``RandomParameter`` (0x8002, §3.1): a random number, 32 bytes from us.
- ``ChunkListParameter`` (0x8003, §3.2): chunk types the sender wants authenticated.
- ``HmacAlgorithmParameter`` (0x8004, §3.3): HMAC identifiers the sender accepts, in order
  of preference (SHA-1 = 1 must be listed, SHA-256 = 3).
- ``AuthChunk`` (0x0F, §4.2): Shared Key Identifier, HMAC Identifier and the HMAC over the
  AUTH chunk (HMAC field zeroed) and every chunk after it in the packet (§6.2).
- ``UnsupportedHmacIdentifierCause`` (0x0105, §4.1).

Parsing keeps, next to the decoded fields, the bytes the HMAC covers
(``AuthChunk.covered``): the parser sees the whole packet, so the receiver can verify without
serializing again; ``serialize_authenticated`` builds a packet with an AUTH chunk and
computes its HMAC over the bytes actually sent.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ._base import CHUNK_HEADER, PAD, Chunk, ErrorCause, Parameter, ParseError

__all__ = [
    "AUTH_CHUNK_TYPE",
    "HMAC_SHA1",
    "HMAC_SHA256",
    "AuthChunk",
    "ChunkListParameter",
    "HmacAlgorithmParameter",
    "RandomParameter",
    "UnsupportedHmacIdentifierCause",
]

#: The AUTH chunk type (RFC 4895 §4.2).
AUTH_CHUNK_TYPE = 0x0F
#: HMAC identifiers (RFC 4895 §3.3): SHA-1 (mandatory to support) and SHA-256.
HMAC_SHA1 = 1
HMAC_SHA256 = 3

_U16_PAIR = struct.Struct("!HH")


@dataclass(slots=True)
class RandomParameter(Parameter):
    """RANDOM (type 0x8002, RFC 4895 §3.1): the sender's random number (32 bytes from us).

    It is part of the sender's key vector (§6.1); its length is checked by the association
    (a RANDOM of another length than 32 bytes is a protocol violation there).
    """

    TYPE = 0x8002
    random: bytes

    def value_bytes(self) -> bytes:
        return self.random

    @classmethod
    def from_value(cls, value: bytes) -> RandomParameter:
        if not value:
            raise ParseError("RANDOM parameter without a random number")
        return cls(value)


@dataclass(slots=True)
class ChunkListParameter(Parameter):
    """CHUNKS (type 0x8003, RFC 4895 §3.2): chunk types that must arrive authenticated."""

    TYPE = 0x8003
    chunk_types: tuple[int, ...]

    def value_bytes(self) -> bytes:
        return bytes(self.chunk_types)

    @classmethod
    def from_value(cls, value: bytes) -> ChunkListParameter:
        return cls(tuple(value))


@dataclass(slots=True)
class HmacAlgorithmParameter(Parameter):
    """HMAC-ALGO (type 0x8004, RFC 4895 §3.3): accepted HMAC identifiers, preferred first."""

    TYPE = 0x8004
    hmac_ids: tuple[int, ...]

    def value_bytes(self) -> bytes:
        return struct.pack(f"!{len(self.hmac_ids)}H", *self.hmac_ids)

    @classmethod
    def from_value(cls, value: bytes) -> HmacAlgorithmParameter:
        if not value or len(value) % 2:
            raise ParseError(f"HMAC-ALGO parameter has {len(value)} value bytes (even, > 0)")
        return cls(struct.unpack(f"!{len(value) // 2}H", value))


@dataclass(slots=True)
class AuthChunk(Chunk):
    """AUTH (type 0x0F, RFC 4895 §4.2).

    Attributes:
        shared_key_id: which endpoint pair shared key (and so association shared key) the
            HMAC was computed with.
        hmac_id: the HMAC algorithm (``HMAC_SHA1``, ``HMAC_SHA256``...).
        hmac: the HMAC value; zero bytes of the right length while building a packet.
        packet, offset: after parsing, the packet it came in and where it starts there (not
            copied, not part of equality); ``covered_parts()`` gives what the HMAC covers.
    """

    TYPE = AUTH_CHUNK_TYPE
    shared_key_id: int
    hmac_id: int
    hmac: bytes
    packet: bytes = field(default=b"", compare=False, repr=False)
    offset: int = field(default=-1, compare=False, repr=False)

    def covered_parts(self) -> tuple[bytes | memoryview, ...]:
        """What the HMAC covers (§6.2), in pieces: this chunk with its HMAC field zeroed,
        then everything after it in the packet. Empty for a chunk that was not parsed."""
        offset = self.offset
        if offset < 0:
            return ()
        packet = self.packet
        n = len(self.hmac)
        end = offset + 8 + n
        return packet[offset : offset + 8], bytes(n), memoryview(packet)[end:]

    @property
    def covered(self) -> bytes:
        """``covered_parts()`` joined (for tests and debugging)."""
        return b"".join(self.covered_parts())

    def serialized_size(self) -> int:
        return (11 + len(self.hmac)) & ~3

    def write(self, out: list[bytes | memoryview]) -> None:
        n = len(self.hmac)
        out.append(CHUNK_HEADER.pack(AUTH_CHUNK_TYPE, 0, 8 + n))
        out.append(_U16_PAIR.pack(self.shared_key_id, self.hmac_id))
        out.append(self.hmac)
        out.append(PAD[n & 3])

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> AuthChunk:
        """Decode the value ``data[start:end]``; ``covered`` runs to the end of ``data``."""
        if end - start < 4:
            raise ParseError(f"AUTH chunk length {end - start + 4} < 8")
        key_id, hmac_id = _U16_PAIR.unpack_from(data, start)
        return cls(key_id, hmac_id, data[start + 4 : end], data, start - 4)


@dataclass(slots=True)
class UnsupportedHmacIdentifierCause(ErrorCause):
    """Unsupported HMAC Identifier (cause 0x0105, RFC 4895 §4.1): an AUTH chunk used an
    HMAC algorithm the receiver did not list in its HMAC-ALGO parameter."""

    CODE = 0x0105
    hmac_id: int

    def value_bytes(self) -> bytes:
        # Cause Length 6: the identifier; the 2 bytes of padding follow the TLV.
        return self.hmac_id.to_bytes(2, "big")

    @classmethod
    def from_value(cls, value: bytes) -> UnsupportedHmacIdentifierCause:
        if len(value) not in (2, 4):
            raise ParseError("Unsupported HMAC Identifier cause must have 2 value bytes")
        return cls(int.from_bytes(value[:2], "big"))

    def __str__(self) -> str:
        return f"unsupported HMAC identifier {self.hmac_id} (RFC 4895)"
