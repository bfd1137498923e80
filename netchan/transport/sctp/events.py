"""Events the sans-io SCTP stack hands to its driver (frozen, slotted, past tense).

The driver drains them with ``SctpEndpoint.next_event()`` after feeding datagrams or time.
``association_id`` is the local id of the association (``Association.id``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of sans-io stack events."""

    association_id: int


@dataclass(frozen=True, slots=True)
class AssociationEstablished(Event):
    """ESTABLISHED reached: COOKIE ACK received (active side) or valid COOKIE ECHO (passive)."""

    outbound_streams: int
    inbound_streams: int


@dataclass(frozen=True, slots=True)
class AssociationRestarted(Event):
    """The peer restarted (RFC 9260 §5.2.4 case A): stream state was reset."""


@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    """A complete user message, delivered in stream order unless ``unordered``.

    Its bytes count against our receive window until the driver calls
    ``Association.message_consumed(size)`` (that is how memory stays bounded).

    ``data`` is the message's bytes; with ``Options.deliver_fragments`` a message that came
    in several chunks is the list of their payloads instead (``rx.reassembly.message_size``
    gives its size either way).
    """

    stream: int
    ppid: int
    data: bytes | list[bytes]
    unordered: bool


@dataclass(frozen=True, slots=True)
class SendBufferAvailable(Event):
    """Queued bytes fell below the send-buffer limit: blocked senders may go on."""


@dataclass(frozen=True, slots=True)
class AssociationClosed(Event):
    """Graceful shutdown completed (SHUTDOWN COMPLETE sent or received)."""


@dataclass(frozen=True, slots=True)
class AssociationAborted(Event):
    """The association is gone: ABORT received/sent, retransmission limit, or ICMP.

    Attributes:
        reason: human-readable, including the peer's error causes if it sent any.
        by_peer: True when the peer ended it.
    """

    reason: str
    by_peer: bool


@dataclass(frozen=True, slots=True)
class PeerAddressChanged(Event):
    """A destination address changed state (RFC 9260 §8.2); ``state`` as in the endpoint API."""

    address: tuple[str, int]
    state: str
