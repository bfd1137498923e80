"""Error causes carried in ABORT and ERROR chunks (RFC 9260 §3.3.10).

All thirteen RFC 9260 causes decode into their own dataclass; any other code is kept as
``UnknownErrorCause`` with its raw information. ``str(cause)`` reads as a sentence, for the
"aborted: ..." messages users see.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._base import ErrorCause, ParseError, parse_tlv_list
from .auth import UnsupportedHmacIdentifierCause

__all__ = [
    "ERROR_CAUSE_PARSERS",
    "CookieReceivedWhileShuttingDownCause",
    "InvalidMandatoryParameterCause",
    "InvalidStreamIdentifierCause",
    "MissingMandatoryParameterCause",
    "NoUserDataCause",
    "OutOfResourceCause",
    "ProtocolViolationCause",
    "RestartWithNewAddressesCause",
    "StaleCookieErrorCause",
    "UnknownErrorCause",
    "UnrecognizedChunkTypeCause",
    "UnrecognizedParametersCause",
    "UnresolvableAddressCause",
    "UserInitiatedAbortCause",
    "parse_error_causes",
]

_U32 = struct.Struct("!I")
_U16_RESERVED = struct.Struct("!HH")


def _text(data: bytes) -> str:
    """Peer-supplied text for messages: decoded leniently, never raising."""
    return data.decode("utf-8", errors="replace")


def _expect_empty(name: str, value: bytes) -> None:
    if value:
        raise ParseError(f"{name} cause carries {len(value)} unexpected bytes")


@dataclass(slots=True)
class InvalidStreamIdentifierCause(ErrorCause):
    """Cause 1 (§3.3.10.1): DATA arrived for a stream that does not exist."""

    CODE = 1
    stream_id: int

    def value_bytes(self) -> bytes:
        return _U16_RESERVED.pack(self.stream_id, 0)

    @classmethod
    def from_value(cls, value: bytes) -> InvalidStreamIdentifierCause:
        if len(value) != 4:
            raise ParseError("Invalid Stream Identifier cause must have 4 value bytes")
        return cls(_U16_RESERVED.unpack(value)[0])

    def __str__(self) -> str:
        return f"invalid stream identifier {self.stream_id}"


@dataclass(slots=True)
class MissingMandatoryParameterCause(ErrorCause):
    """Cause 2 (§3.3.10.2): INIT or INIT ACK lacked mandatory parameters (their types)."""

    CODE = 2
    missing_types: tuple[int, ...]

    def value_bytes(self) -> bytes:
        n = len(self.missing_types)
        return struct.pack(f"!I{n}H", n, *self.missing_types)

    @classmethod
    def from_value(cls, value: bytes) -> MissingMandatoryParameterCause:
        if len(value) < 4:
            raise ParseError("Missing Mandatory Parameter cause is too short")
        (count,) = _U32.unpack_from(value)
        if len(value) != 4 + 2 * count:
            raise ParseError("Missing Mandatory Parameter cause count does not match its length")
        return cls(struct.unpack_from(f"!{count}H", value, 4))

    def __str__(self) -> str:
        types = ", ".join(str(t) for t in self.missing_types)
        return f"missing mandatory parameter(s): {types}"


@dataclass(slots=True)
class StaleCookieErrorCause(ErrorCause):
    """Cause 3 (§3.3.10.3): a COOKIE ECHO arrived after the cookie expired.

    ``staleness`` is in microseconds: how long past its lifetime the cookie was.
    """

    CODE = 3
    staleness: int

    def value_bytes(self) -> bytes:
        return _U32.pack(self.staleness)

    @classmethod
    def from_value(cls, value: bytes) -> StaleCookieErrorCause:
        if len(value) != 4:
            raise ParseError("Stale Cookie Error cause must have 4 value bytes")
        return cls(_U32.unpack(value)[0])

    def __str__(self) -> str:
        return f"stale cookie ({self.staleness} us past its lifetime)"


@dataclass(slots=True)
class OutOfResourceCause(ErrorCause):
    """Cause 4 (§3.3.10.4): the sender is out of resources."""

    CODE = 4

    def value_bytes(self) -> bytes:
        return b""

    @classmethod
    def from_value(cls, value: bytes) -> OutOfResourceCause:
        _expect_empty("Out of Resource", value)
        return cls()

    def __str__(self) -> str:
        return "peer out of resources"


@dataclass(slots=True)
class UnresolvableAddressCause(ErrorCause):
    """Cause 5 (§3.3.10.5): an address parameter (TLV bytes) could not be resolved."""

    CODE = 5
    address: bytes

    def value_bytes(self) -> bytes:
        return self.address

    @classmethod
    def from_value(cls, value: bytes) -> UnresolvableAddressCause:
        return cls(value)

    def __str__(self) -> str:
        return f"unresolvable address ({len(self.address)} bytes)"


@dataclass(slots=True)
class UnrecognizedChunkTypeCause(ErrorCause):
    """Cause 6 (§3.3.10.6): the peer did not understand a chunk (its bytes as we sent it)."""

    CODE = 6
    chunk: bytes

    def value_bytes(self) -> bytes:
        return self.chunk

    @classmethod
    def from_value(cls, value: bytes) -> UnrecognizedChunkTypeCause:
        return cls(value)

    def __str__(self) -> str:
        if self.chunk:
            return f"unrecognized chunk type {self.chunk[0]}"
        return "unrecognized chunk type"


@dataclass(slots=True)
class InvalidMandatoryParameterCause(ErrorCause):
    """Cause 7 (§3.3.10.7): a mandatory INIT / INIT ACK parameter had an invalid value."""

    CODE = 7

    def value_bytes(self) -> bytes:
        return b""

    @classmethod
    def from_value(cls, value: bytes) -> InvalidMandatoryParameterCause:
        _expect_empty("Invalid Mandatory Parameter", value)
        return cls()

    def __str__(self) -> str:
        return "invalid mandatory parameter"


@dataclass(slots=True)
class UnrecognizedParametersCause(ErrorCause):
    """Cause 8 (§3.3.10.8): parameters the peer did not understand (their TLV bytes)."""

    CODE = 8
    parameters: bytes

    def value_bytes(self) -> bytes:
        return self.parameters

    @classmethod
    def from_value(cls, value: bytes) -> UnrecognizedParametersCause:
        return cls(value)

    def __str__(self) -> str:
        return f"unrecognized parameters ({len(self.parameters)} bytes)"


@dataclass(slots=True)
class NoUserDataCause(ErrorCause):
    """Cause 9 (§3.3.10.9): a DATA chunk with this TSN carried no user data."""

    CODE = 9
    tsn: int

    def value_bytes(self) -> bytes:
        return _U32.pack(self.tsn)

    @classmethod
    def from_value(cls, value: bytes) -> NoUserDataCause:
        if len(value) != 4:
            raise ParseError("No User Data cause must have 4 value bytes")
        return cls(_U32.unpack(value)[0])

    def __str__(self) -> str:
        return f"DATA chunk with TSN {self.tsn} had no user data"


@dataclass(slots=True)
class CookieReceivedWhileShuttingDownCause(ErrorCause):
    """Cause 10 (§3.3.10.10): a COOKIE ECHO arrived while shutting down."""

    CODE = 10

    def value_bytes(self) -> bytes:
        return b""

    @classmethod
    def from_value(cls, value: bytes) -> CookieReceivedWhileShuttingDownCause:
        _expect_empty("Cookie Received While Shutting Down", value)
        return cls()

    def __str__(self) -> str:
        return "cookie received while shutting down"


@dataclass(slots=True)
class RestartWithNewAddressesCause(ErrorCause):
    """Cause 11 (§3.3.10.11): a restart INIT added addresses (their TLV bytes)."""

    CODE = 11
    addresses: bytes

    def value_bytes(self) -> bytes:
        return self.addresses

    @classmethod
    def from_value(cls, value: bytes) -> RestartWithNewAddressesCause:
        return cls(value)

    def __str__(self) -> str:
        return "restart of an association with new addresses"


@dataclass(slots=True)
class UserInitiatedAbortCause(ErrorCause):
    """Cause 12 (§3.3.10.12): the peer's user aborted; ``reason`` is its upper-layer text."""

    CODE = 12
    reason: bytes = b""

    def value_bytes(self) -> bytes:
        return self.reason

    @classmethod
    def from_value(cls, value: bytes) -> UserInitiatedAbortCause:
        return cls(value)

    def __str__(self) -> str:
        if self.reason:
            return f"user-initiated abort: {_text(self.reason)}"
        return "user-initiated abort"


@dataclass(slots=True)
class ProtocolViolationCause(ErrorCause):
    """Cause 13 (§3.3.10.13): the peer saw a protocol violation; ``information`` explains."""

    CODE = 13
    information: bytes = b""

    def value_bytes(self) -> bytes:
        return self.information

    @classmethod
    def from_value(cls, value: bytes) -> ProtocolViolationCause:
        return cls(value)

    def __str__(self) -> str:
        if self.information:
            return f"protocol violation: {_text(self.information)}"
        return "protocol violation"


@dataclass(slots=True)
class UnknownErrorCause(ErrorCause):
    """An error cause of a code this stack does not decode, kept byte for byte."""

    code: int
    value: bytes

    @property
    def cause_code(self) -> int:
        return self.code

    def value_bytes(self) -> bytes:
        return self.value

    def __str__(self) -> str:
        return f"error cause {self.code} ({len(self.value)} bytes)"


ERROR_CAUSE_PARSERS: dict[int, type[ErrorCause]] = {
    cls.CODE: cls
    for cls in (
        InvalidStreamIdentifierCause,
        MissingMandatoryParameterCause,
        StaleCookieErrorCause,
        OutOfResourceCause,
        UnresolvableAddressCause,
        UnrecognizedChunkTypeCause,
        InvalidMandatoryParameterCause,
        UnrecognizedParametersCause,
        NoUserDataCause,
        CookieReceivedWhileShuttingDownCause,
        RestartWithNewAddressesCause,
        UserInitiatedAbortCause,
        ProtocolViolationCause,
        UnsupportedHmacIdentifierCause,  # RFC 4895 §4.1 (packet/auth.py)
    )
}
"""Known cause codes and their classes (each has ``from_value(bytes)``)."""

_FROM_VALUE = {code: cls.from_value for code, cls in ERROR_CAUSE_PARSERS.items()}


def parse_error_causes(data: bytes, start: int = 0, end: int | None = None) -> list[ErrorCause]:
    """Parse a region of error cause TLVs (RFC 9260 §3.3.10); unknown codes are preserved.

    Raises:
        ParseError: a length field is out of range or a known cause is malformed.
    """
    return parse_tlv_list(
        data,
        start,
        len(data) if end is None else end,
        _FROM_VALUE,
        UnknownErrorCause,
        "error cause",
    )
