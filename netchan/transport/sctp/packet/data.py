"""DATA (RFC 9260 §3.3.1) and I-DATA (RFC 8260 §2.1) chunks: the hot path.

Parse and serialize with one precompiled ``struct.Struct`` each and a single slice of the
user data; serialization hands the header, the user data and the padding to the packet join
separately, so the payload is copied once per packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._base import PAD, Chunk, ParseError

__all__ = [
    "DATA_HEADER",
    "DATA_HEADER_SIZE",
    "IDATA_HEADER",
    "IDATA_HEADER_SIZE",
    "DataChunk",
    "IDataChunk",
]

# Flag bits shared by DATA and I-DATA (RFC 9260 §3.3.1, RFC 8260 §2.1).
FLAG_E = 0x01  # ending fragment
FLAG_B = 0x02  # beginning fragment
FLAG_U = 0x04  # unordered
FLAG_I = 0x08  # immediate: the receiver should SACK without delay (RFC 9260 §3.3.1)

# type, flags, length, TSN, stream id, SSN, PPID
_DATA = struct.Struct("!BBHIHHI")
_DATA_VALUE = struct.Struct("!IHHI")
DATA_HEADER_SIZE = _DATA.size  # 16
# type, flags, length, TSN, stream id, reserved, MID, PPID or FSN
_IDATA = struct.Struct("!BBHIHHII")
_IDATA_VALUE = struct.Struct("!IHHII")
IDATA_HEADER_SIZE = _IDATA.size  # 20
#: The chunk header structs, for the send side's own chunk records (``tx.OutgoingChunk``),
#: which write themselves into packets without becoming ``DataChunk`` objects first.
DATA_HEADER = _DATA
IDATA_HEADER = _IDATA


def _payload_repr(data: bytes) -> str:
    """Short form of user data for logs: a 64 KiB payload must not flood them."""
    if len(data) <= 32:
        return repr(data)
    return f"<{len(data)} bytes {data[:16]!r}...>"


def _flags_byte(immediate: bool, unordered: bool, beginning: bool, ending: bool) -> int:
    """The I, U, B, E bits of DATA (RFC 9260 §3.3.1) and I-DATA (RFC 8260 §2.1) as one byte."""
    return (
        (FLAG_I if immediate else 0)
        | (FLAG_U if unordered else 0)
        | (FLAG_B if beginning else 0)
        | (FLAG_E if ending else 0)
    )


def _flag_letters(immediate: bool, unordered: bool, beginning: bool, ending: bool) -> str:
    letters = ("I" if immediate else "") + ("U" if unordered else "")
    letters += ("B" if beginning else "") + ("E" if ending else "")
    return letters or "-"


@dataclass(slots=True, repr=False)
class DataChunk(Chunk):
    """DATA (type 0, RFC 9260 §3.3.1): one message or one fragment of one.

    Attributes:
        tsn: transmission sequence number (32-bit, wraps).
        stream_id: stream identifier S.
        ssn: stream sequence number n (16-bit, wraps); ignored by receivers when unordered.
        ppid: payload protocol identifier (opaque to SCTP; our codec uses it).
        user_data: the payload. May be empty only on the wire from a broken peer: the
            association answers that with ABORT / No User Data (§6.2), the parser does not.
        unordered: U bit.
        beginning: B bit, first fragment.
        ending: E bit, last fragment (an unfragmented message has both).
        immediate: I bit (§3.3.1): ask the peer to SACK at once.
    """

    TYPE = 0
    tsn: int
    stream_id: int
    ssn: int
    ppid: int
    user_data: bytes
    unordered: bool = False
    beginning: bool = True
    ending: bool = True
    immediate: bool = False

    @property
    def flags(self) -> int:
        """The chunk flags byte (I, U, B, E bits)."""
        return _flags_byte(self.immediate, self.unordered, self.beginning, self.ending)

    def __repr__(self) -> str:
        return (
            f"DataChunk(tsn={self.tsn}, stream_id={self.stream_id}, ssn={self.ssn}, "
            f"ppid={self.ppid}, user_data={_payload_repr(self.user_data)}, "
            f"flags={_flag_letters(self.immediate, self.unordered, self.beginning, self.ending)})"
        )

    def serialized_size(self) -> int:
        return (19 + len(self.user_data)) & ~3

    def write(self, out: list[bytes | memoryview]) -> None:
        user_data = self.user_data
        n = len(user_data)
        # The flags byte, computed inline (hot path): I, U, B, E bits (§3.3.1).
        flags = (
            (8 if self.immediate else 0)
            | (4 if self.unordered else 0)
            | (2 if self.beginning else 0)
            | (1 if self.ending else 0)
        )
        out.append(_DATA.pack(0, flags, 16 + n, self.tsn, self.stream_id, self.ssn, self.ppid))
        out.append(user_data)
        if n & 3:
            out.append(PAD[n & 3])

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> DataChunk:
        """Decode the value ``data[start:end]`` of a DATA chunk with these flags."""
        if end - start < 12:
            raise ParseError(f"DATA chunk length {end - start + 4} < 16")
        tsn, sid, ssn, ppid = _DATA_VALUE.unpack_from(data, start)
        return cls(
            tsn,
            sid,
            ssn,
            ppid,
            data[start + 12 : end],
            bool(flags & FLAG_U),
            bool(flags & FLAG_B),
            bool(flags & FLAG_E),
            bool(flags & FLAG_I),
        )


@dataclass(slots=True, repr=False)
class IDataChunk(Chunk):
    """I-DATA (type 64, RFC 8260 §2.1): DATA with a message identifier, for interleaving.

    The fourth word is the PPID in the first fragment (B bit set) and the Fragment Sequence
    Number otherwise; ``ppid`` is 0 on parsed non-first fragments and ``fsn`` is 0 on first
    fragments (RFC 8260: the FSN of the first fragment is implicitly 0).

    Attributes:
        tsn: transmission sequence number.
        stream_id: stream identifier.
        mid: message identifier (32-bit, wraps), per stream and per ordered/unordered.
        fsn: fragment sequence number within the message.
        ppid: payload protocol identifier (first fragment only).
        user_data, unordered, beginning, ending, immediate: as for ``DataChunk``.
    """

    TYPE = 64
    tsn: int
    stream_id: int
    mid: int
    fsn: int
    ppid: int
    user_data: bytes
    unordered: bool = False
    beginning: bool = True
    ending: bool = True
    immediate: bool = False

    @property
    def flags(self) -> int:
        """The chunk flags byte (I, U, B, E bits)."""
        return _flags_byte(self.immediate, self.unordered, self.beginning, self.ending)

    def __repr__(self) -> str:
        return (
            f"IDataChunk(tsn={self.tsn}, stream_id={self.stream_id}, mid={self.mid}, "
            f"fsn={self.fsn}, ppid={self.ppid}, user_data={_payload_repr(self.user_data)}, "
            f"flags={_flag_letters(self.immediate, self.unordered, self.beginning, self.ending)})"
        )

    def serialized_size(self) -> int:
        return (23 + len(self.user_data)) & ~3

    def write(self, out: list[bytes | memoryview]) -> None:
        user_data = self.user_data
        n = len(user_data)
        beginning = self.beginning
        # The flags byte, computed inline (hot path): I, U, B, E bits (RFC 8260 §2.1).
        flags = (
            (8 if self.immediate else 0)
            | (4 if self.unordered else 0)
            | (2 if beginning else 0)
            | (1 if self.ending else 0)
        )
        word = self.ppid if beginning else self.fsn
        out.append(_IDATA.pack(64, flags, 20 + n, self.tsn, self.stream_id, 0, self.mid, word))
        out.append(user_data)
        if n & 3:
            out.append(PAD[n & 3])

    @classmethod
    def parse(cls, data: bytes, flags: int, start: int, end: int) -> IDataChunk:
        """Decode the value ``data[start:end]`` of an I-DATA chunk with these flags."""
        if end - start < 16:
            raise ParseError(f"I-DATA chunk length {end - start + 4} < 20")
        tsn, sid, _reserved, mid, word = _IDATA_VALUE.unpack_from(data, start)
        beginning = bool(flags & FLAG_B)
        return cls(
            tsn,
            sid,
            mid,
            0 if beginning else word,
            word if beginning else 0,
            data[start + 16 : end],
            bool(flags & FLAG_U),
            beginning,
            bool(flags & FLAG_E),
            bool(flags & FLAG_I),
        )
