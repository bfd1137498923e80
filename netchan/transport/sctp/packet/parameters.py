"""Variable-length parameters of INIT, INIT ACK and HEARTBEAT chunks (RFC 9260 §3.2.1).

Known types decode into their own dataclass; any other type is kept as ``UnknownParameter``
with its type and raw value, so the association can apply the §3.2.1 rules (see
``UnrecognizedAction``) and echo the exact bytes back in an Unrecognized Parameter.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from ._base import Parameter, ParseError, UnrecognizedAction, parse_tlv_list
from .auth import ChunkListParameter, HmacAlgorithmParameter, RandomParameter

__all__ = [
    "PARAMETER_PARSERS",
    "CookiePreservativeParameter",
    "EcnCapableParameter",
    "ForwardTsnSupportedParameter",
    "HeartbeatInfoParameter",
    "HostNameAddressParameter",
    "IPv4AddressParameter",
    "IPv6AddressParameter",
    "StateCookieParameter",
    "SupportedAddressTypesParameter",
    "SupportedExtensionsParameter",
    "UnknownParameter",
    "UnrecognizedParameter",
    "parse_parameters",
]

_U32 = struct.Struct("!I")


@dataclass(slots=True)
class HeartbeatInfoParameter(Parameter):
    """Heartbeat Info (type 1, RFC 9260 §3.3.5): opaque sender data echoed in HEARTBEAT ACK."""

    TYPE = 1
    info: bytes

    def value_bytes(self) -> bytes:
        return self.info

    @classmethod
    def from_value(cls, value: bytes) -> HeartbeatInfoParameter:
        return cls(value)


@dataclass(slots=True)
class IPv4AddressParameter(Parameter):
    """IPv4 Address (type 5, RFC 9260 §3.3.2.1.1): an additional address of a multihomed peer."""

    TYPE = 5
    address: ipaddress.IPv4Address

    def value_bytes(self) -> bytes:
        return self.address.packed

    @classmethod
    def from_value(cls, value: bytes) -> IPv4AddressParameter:
        if len(value) != 4:
            raise ParseError(f"IPv4 Address parameter has {len(value)} value bytes, not 4")
        return cls(ipaddress.IPv4Address(value))


@dataclass(slots=True)
class IPv6AddressParameter(Parameter):
    """IPv6 Address (type 6, RFC 9260 §3.3.2.1.2)."""

    TYPE = 6
    address: ipaddress.IPv6Address

    def value_bytes(self) -> bytes:
        return self.address.packed

    @classmethod
    def from_value(cls, value: bytes) -> IPv6AddressParameter:
        if len(value) != 16:
            raise ParseError(f"IPv6 Address parameter has {len(value)} value bytes, not 16")
        return cls(ipaddress.IPv6Address(value))


@dataclass(slots=True)
class StateCookieParameter(Parameter):
    """State Cookie (type 7, RFC 9260 §3.3.3.1): mandatory in INIT ACK, opaque to the peer."""

    TYPE = 7
    cookie: bytes

    def value_bytes(self) -> bytes:
        return self.cookie

    @classmethod
    def from_value(cls, value: bytes) -> StateCookieParameter:
        return cls(value)


@dataclass(slots=True)
class UnrecognizedParameter(Parameter):
    """Unrecognized Parameter (type 8, RFC 9260 §3.3.3.1) in an INIT ACK.

    ``parameter`` is the complete TLV we did not understand in the INIT, as received
    (``UnknownParameter.serialize()`` gives it back).
    """

    TYPE = 8
    parameter: bytes

    def value_bytes(self) -> bytes:
        return self.parameter

    @classmethod
    def from_value(cls, value: bytes) -> UnrecognizedParameter:
        return cls(value)


@dataclass(slots=True)
class CookiePreservativeParameter(Parameter):
    """Cookie Preservative (type 9, RFC 9260 §3.3.2.1.3): asks for a longer cookie lifetime.

    ``lifespan_increment`` is in milliseconds.
    """

    TYPE = 9
    lifespan_increment: int

    def value_bytes(self) -> bytes:
        return _U32.pack(self.lifespan_increment)

    @classmethod
    def from_value(cls, value: bytes) -> CookiePreservativeParameter:
        if len(value) != 4:
            raise ParseError(f"Cookie Preservative has {len(value)} value bytes, not 4")
        return cls(_U32.unpack(value)[0])


@dataclass(slots=True)
class HostNameAddressParameter(Parameter):
    """Host Name Address (type 11, RFC 9260 §3.3.2.1.4), deprecated.

    A receiver answers it with ABORT and an Unresolvable Address cause; it is decoded only so
    that it can be recognized and reported. ``host_name`` excludes the terminating NUL.
    """

    TYPE = 11
    host_name: str

    def value_bytes(self) -> bytes:
        return self.host_name.encode("ascii") + b"\x00"

    @classmethod
    def from_value(cls, value: bytes) -> HostNameAddressParameter:
        name = value.split(b"\x00", 1)[0]
        try:
            return cls(name.decode("ascii"))
        except UnicodeDecodeError:
            raise ParseError("Host Name Address is not ASCII") from None


@dataclass(slots=True)
class SupportedAddressTypesParameter(Parameter):
    """Supported Address Types (type 12, RFC 9260 §3.3.2.1.5): parameter types 5, 6, 11."""

    TYPE = 12
    address_types: tuple[int, ...]

    def value_bytes(self) -> bytes:
        return struct.pack(f"!{len(self.address_types)}H", *self.address_types)

    @classmethod
    def from_value(cls, value: bytes) -> SupportedAddressTypesParameter:
        if len(value) % 2:
            raise ParseError("Supported Address Types has an odd value length")
        return cls(struct.unpack(f"!{len(value) // 2}H", value))


@dataclass(slots=True)
class EcnCapableParameter(Parameter):
    """ECN Capable (type 0x8000): reserved by RFC 9260 §3.3.2 for ECN (RFC 4960 Appendix A).

    Peers such as usrsctp still offer it; we decode it so it can be recognized and ignored.
    """

    TYPE = 0x8000

    def value_bytes(self) -> bytes:
        return b""

    @classmethod
    def from_value(cls, value: bytes) -> EcnCapableParameter:
        if value:
            raise ParseError("ECN Capable parameter carries a value")
        return cls()


@dataclass(slots=True)
class SupportedExtensionsParameter(Parameter):
    """Supported Extensions (type 0x8008, RFC 5061 §4.2.7): chunk types the sender supports."""

    TYPE = 0x8008
    chunk_types: tuple[int, ...]

    def value_bytes(self) -> bytes:
        return bytes(self.chunk_types)

    @classmethod
    def from_value(cls, value: bytes) -> SupportedExtensionsParameter:
        return cls(tuple(value))


@dataclass(slots=True)
class ForwardTsnSupportedParameter(Parameter):
    """Forward-TSN-Supported (type 0xC000, RFC 3758 §3.1): the sender supports PR-SCTP."""

    TYPE = 0xC000

    def value_bytes(self) -> bytes:
        return b""

    @classmethod
    def from_value(cls, value: bytes) -> ForwardTsnSupportedParameter:
        if value:
            raise ParseError("Forward-TSN-Supported parameter carries a value")
        return cls()


@dataclass(slots=True)
class UnknownParameter(Parameter):
    """A parameter of a type this stack does not decode, kept byte for byte.

    Anything a peer offers that is not listed in ``PARAMETER_PARSERS``. ``action`` says what
    RFC 9260 §3.2.1 requires.
    """

    type: int
    value: bytes

    @property
    def parameter_type(self) -> int:
        return self.type

    @property
    def action(self) -> UnrecognizedAction:
        """What RFC 9260 §3.2.1 says to do with it (from the type's upper two bits)."""
        return UnrecognizedAction(self.type >> 14)

    def value_bytes(self) -> bytes:
        return self.value


PARAMETER_PARSERS: dict[int, type[Parameter]] = {
    cls.TYPE: cls
    for cls in (
        HeartbeatInfoParameter,
        IPv4AddressParameter,
        IPv6AddressParameter,
        StateCookieParameter,
        UnrecognizedParameter,
        CookiePreservativeParameter,
        HostNameAddressParameter,
        SupportedAddressTypesParameter,
        EcnCapableParameter,
        SupportedExtensionsParameter,
        ForwardTsnSupportedParameter,
        # RFC 4895 §3 (packet/auth.py).
        RandomParameter,
        ChunkListParameter,
        HmacAlgorithmParameter,
    )
}
"""Known parameter types and their classes (each has ``from_value(bytes)``)."""

_FROM_VALUE = {code: cls.from_value for code, cls in PARAMETER_PARSERS.items()}


def parse_parameters(data: bytes, start: int = 0, end: int | None = None) -> list[Parameter]:
    """Parse a region of parameter TLVs (RFC 9260 §3.2.1); unknown types are preserved.

    Raises:
        ParseError: a length field is out of range or a known parameter is malformed.
    """
    return parse_tlv_list(
        data,
        start,
        len(data) if end is None else end,
        _FROM_VALUE,
        UnknownParameter,
        "parameter",
    )
