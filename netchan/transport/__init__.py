"""The SCTP endpoint layer: a one-to-many SCTP socket for trio, in two backends.

``open_endpoint("udp://HOST:PORT")`` uses netchan's userspace SCTP over UDP (RFC 6951) and works
on any OS; ``open_endpoint("sctp://HOST:PORT")`` uses the operating system's SCTP. Both return
an :class:`Endpoint` with the same API.
"""

from __future__ import annotations

from ._address import Address, format_address, parse_address
from ._api import (
    Association,
    AssociationAborted,
    AssociationClosed,
    AssociationEstablished,
    AssociationEvent,
    AssociationRestarted,
    AssociationStatistics,
    Endpoint,
    EndpointStatistics,
    Message,
    PeerAddressChanged,
)
from ._open import open_endpoint
from .errors import (
    AssociationAbortedError,
    InvalidAddressError,
    MessageTooLargeError,
    SCTPUnavailableError,
    TransportError,
)

__all__ = [
    "Address",
    "Association",
    "AssociationAborted",
    "AssociationAbortedError",
    "AssociationClosed",
    "AssociationEstablished",
    "AssociationEvent",
    "AssociationRestarted",
    "AssociationStatistics",
    "Endpoint",
    "EndpointStatistics",
    "InvalidAddressError",
    "Message",
    "MessageTooLargeError",
    "PeerAddressChanged",
    "SCTPUnavailableError",
    "TransportError",
    "format_address",
    "open_endpoint",
    "parse_address",
]
