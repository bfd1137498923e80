"""The endpoint API shared by both SCTP backends (``udp://`` userspace, ``sctp://`` kernel).

An :class:`Endpoint` is a one-to-many SCTP socket for trio: it owns one local port and any
number of :class:`Association` objects (one per peer). Messages carry a stream id, a PPID and
an unordered flag. Both backends implement exactly these classes and pass one conformance
suite (``tests/endpoint_suite.py``), so code above this layer never knows which one it runs on.

Error conventions follow trio, and both backends raise exactly these (the conformance suite
checks each case):

* ``trio.ClosedResourceError``: *we* closed or aborted the association, or closed the endpoint.
* ``trio.EndOfChannel`` from ``Association.receive``: the peer shut the association down
  gracefully (SHUTDOWN, RFC 9260 §9.2), after every message it sent before that was read. A
  graceful end is a clean end, as a trio channel's ``EndOfChannel`` after its sender closed.
* ``trio.BrokenResourceError`` (``__cause__``: :class:`AssociationAbortedError`): the peer or
  the network ended the association abnormally (ABORT, dead peer, ICMP unreachable); from
  ``receive`` after the messages delivered before the end were read. ``send`` raises it also
  after a graceful SHUTDOWN by the peer: the other side will take nothing more, as a trio send
  channel whose receivers all closed.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import trio

from .errors import TransportError

if TYPE_CHECKING:
    from .errors import AssociationAbortedError

_EMPTY: Mapping[str, int] = MappingProxyType({})


class Message:
    """One SCTP user message as received.

    Attributes:
        data: the payload, reassembled if it was fragmented.
        fragments: the payloads of the chunks a fragmented message came in, in order, when
            the endpoint kept them (``udp://``), else None. ``data`` is then their join,
            made the first time it is read: a consumer that keeps a big message in pieces
            (netchan's channel layer, for big values) reads ``fragments`` and never pays for
            that copy of the whole message.
        size: the payload's length in bytes (without joining fragments).
        stream: the SCTP stream id it arrived on.
        ppid: the payload protocol identifier, passed through as the sender gave it.
        unordered: True if it was sent unordered (U bit).
        association: the association it came from (reply with ``association.send``).
    """

    __slots__ = ("_data", "association", "fragments", "ppid", "size", "stream", "unordered")

    def __init__(
        self,
        data: bytes | list[bytes],
        stream: int,
        ppid: int,
        unordered: bool,
        association: Association,
    ) -> None:
        if isinstance(data, list):
            self._data: bytes | None = None
            self.fragments: list[bytes] | None = data
            self.size = sum(map(len, data))
        else:
            self._data = data
            self.fragments = None
            self.size = len(data)
        self.stream = stream
        self.ppid = ppid
        self.unordered = unordered
        self.association = association

    @property
    def data(self) -> bytes:
        """The payload, reassembled if it was fragmented."""
        data = self._data
        if data is None:
            assert self.fragments is not None
            data = self._data = b"".join(self.fragments)
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.data, self.stream, self.ppid, self.unordered, self.association) == (
            other.data,
            other.stream,
            other.ppid,
            other.unordered,
            other.association,
        )

    def __hash__(self) -> int:
        return hash((self.data, self.stream, self.ppid, self.unordered, self.association))

    def __repr__(self) -> str:
        return (
            f"Message(size={self.size}, stream={self.stream}, ppid={self.ppid}, "
            f"unordered={self.unordered}, fragments="
            f"{None if self.fragments is None else len(self.fragments)})"
        )


# --- association events (past tense, frozen) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationEvent:
    """Base class of what happens to an association, as seen by ``Endpoint.next_event``."""

    association: Association


@dataclass(frozen=True, slots=True)
class AssociationEstablished(AssociationEvent):
    """The association reached ESTABLISHED (we connected, or a peer connected to us)."""


@dataclass(frozen=True, slots=True)
class AssociationRestarted(AssociationEvent):
    """The peer restarted (RFC 9260 §5.2.4): messages in flight may have been lost."""


@dataclass(frozen=True, slots=True)
class AssociationClosed(AssociationEvent):
    """Graceful SHUTDOWN completed (either side started it): everything sent was delivered."""


@dataclass(frozen=True, slots=True)
class AssociationAborted(AssociationEvent):
    """The association ended abnormally: ABORT sent or received, peer dead, ICMP unreachable.

    Attributes:
        error: why, with ``reason`` and ``by_peer``.
    """

    error: AssociationAbortedError


@dataclass(frozen=True, slots=True)
class PeerAddressChanged(AssociationEvent):
    """A peer transport address changed state (multihoming, RFC 9260 §8.2, RFC 7829).

    Attributes:
        address: the peer address URL.
        state: ``"available"`` (active again), ``"unreachable"`` (inactive: Path.Max.Retrans
            exceeded), ``"potentially_failed"`` (RFC 7829: data moved to another path after
            a timeout), ``"confirmed"`` (RFC 9260 §5.4: answered a HEARTBEAT, may carry
            data), ``"primary"`` (made the primary path), ``"added"`` or ``"removed"``.
    """

    address: str
    state: str


# --- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationStatistics:
    """A snapshot of one association's counters and congestion state.

    Times are in seconds. A backend that cannot know a value (the kernel hides some) reports
    ``None`` for gauges and 0 for counters it cannot see.
    """

    state: str
    outbound_streams: int
    inbound_streams: int
    packets_sent: int = 0
    packets_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    retransmissions: int = 0
    fast_retransmits: int = 0
    t3_expiries: int = 0
    srtt: float | None = None
    rto: float | None = None
    cwnd: int | None = None
    ssthresh: int | None = None
    peer_rwnd: int | None = None
    local_rwnd: int | None = None
    bytes_in_flight: int | None = None
    send_buffered: int = 0
    receive_buffered: int = 0
    drops: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    #: The path MTU the association sends with, in SCTP packet bytes (``udp://``: the
    #: PLPMTU its path MTU discovery confirmed, RFC 8899); None where the backend hides it.
    pmtu: int | None = None


@dataclass(frozen=True, slots=True)
class EndpointStatistics:
    """A snapshot of an endpoint: totals and drops of what could not be tied to an association.

    Attributes:
        associations: associations currently open.
        datagrams_received / datagrams_sent: UDP datagrams (``udp://``) or SCTP packets seen.
        drops: packets dropped by reason (``"bad_checksum"``, ``"out_of_the_blue"``,
            ``"bad_verification_tag"``, ``"malformed"``, ``"bad_cookie"``, ...).
        events_discarded: association events dropped unread: ``next_event`` keeps the latest
            4096, so a program that never reads events cannot grow memory without bound.
    """

    associations: int
    datagrams_received: int = 0
    datagrams_sent: int = 0
    drops: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    events_discarded: int = 0


# --- the two objects -------------------------------------------------------------------------


class Association(abc.ABC):
    """One SCTP association (a connection to one peer) on an :class:`Endpoint`."""

    @property
    @abc.abstractmethod
    def id(self) -> int:
        """The association id, unique within its endpoint."""

    @property
    @abc.abstractmethod
    def peer_addresses(self) -> tuple[str, ...]:
        """The peer's transport addresses as URLs, primary first."""

    @property
    @abc.abstractmethod
    def primary_path(self) -> str:
        """The peer address data goes to while it is reachable (RFC 9260 §6.4), as a URL."""

    @abc.abstractmethod
    def set_primary(self, address: str) -> None:
        """Make ``address`` (one of :attr:`peer_addresses`) the primary path; a
        :class:`PeerAddressChanged` event with state ``"primary"`` follows.

        Raises:
            InvalidAddressError: ``address`` is not one of the peer's addresses.
        """

    @property
    @abc.abstractmethod
    def outbound_streams(self) -> int:
        """Number of streams we may send on (negotiated)."""

    @property
    @abc.abstractmethod
    def inbound_streams(self) -> int:
        """Number of streams the peer may send on (negotiated)."""

    @abc.abstractmethod
    async def send(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> None:
        """Queue one message; blocks while the association's send buffer is full.

        Raises:
            trio.ClosedResourceError: we closed or aborted this association or its endpoint.
            trio.BrokenResourceError: the peer or the network ended it, gracefully or not
                (cause attached): nothing sent now would be delivered.
            MessageTooLargeError: larger than the maximum message size.
            ValueError: stream id not below ``outbound_streams``.
        """

    def send_nowait(
        self,
        data: bytes,
        *,
        stream: int = 0,
        ppid: int = 0,
        bundle: bool = False,
        push: bool = False,
    ) -> None:
        """Send one ordered message now, without a checkpoint, if it can leave at once.

        A fast path for callers that keep their own queue (the channel layer): when it
        raises ``trio.WouldBlock`` the caller queues the message and sends it with
        :meth:`send`. A backend takes the message only when nothing would make it wait
        (room in the send buffer, established, no burst of sends being collected); the
        default never takes it.

        ``bundle=True``: the message may also join a burst being collected (it then leaves
        with that burst's flush, in its packets) instead of being refused; for messages the
        caller would otherwise queue behind nothing but that same flush (the channel
        layer's control messages), which saves the hop through the caller's sender task.

        ``push=True`` (with ``bundle``): the caller has nothing to add after this message (a
        link's last frame), so the burst being collected leaves now with it rather than
        after the rounds a backend waits for more (TCP's PSH); a backend that sends at once
        ignores it.

        Raises:
            trio.WouldBlock: not now (use :meth:`send`).
            trio.ClosedResourceError, trio.BrokenResourceError: as :meth:`send`.
        """
        raise trio.WouldBlock

    @abc.abstractmethod
    async def receive(self) -> Message:
        """The next message of this association only (``Endpoint.receive`` takes any).

        Messages delivered before the association ended stay readable; the end is reported
        once they were all taken.

        Raises:
            trio.ClosedResourceError: we closed or aborted this association or its endpoint
                (unread messages are dropped then).
            trio.EndOfChannel: the peer shut the association down gracefully (SHUTDOWN).
            trio.BrokenResourceError: the peer aborted it, or it failed (cause attached).
        """

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Graceful SHUTDOWN: returns once everything sent was acknowledged and it is closed.

        Idempotent. If the shutdown cannot complete (peer dead), the association is aborted.
        """

    @abc.abstractmethod
    def abort(self, reason: str = "") -> None:
        """Send ABORT with a user-initiated-abort cause and drop everything queued."""

    @abc.abstractmethod
    def statistics(self) -> AssociationStatistics:
        """A snapshot of counters and congestion state."""

    @property
    def peer_key_id(self) -> int | None:
        """SCTP-AUTH (RFC 4895): the Shared Key Identifier of the key the peer's
        authenticated chunks use, i.e. which of the endpoint's keys the peer holds; None on
        an endpoint without keys (docs/security.md)."""
        return None


class Endpoint(abc.ABC):
    """A one-to-many SCTP socket: one local port, many associations."""

    @property
    @abc.abstractmethod
    def address(self) -> str:
        """The bound address as a URL, e.g. ``"udp://127.0.0.1:40123"`` (port 0 resolved)."""

    @property
    @abc.abstractmethod
    def associations(self) -> tuple[Association, ...]:
        """The associations that are open now."""

    @abc.abstractmethod
    async def connect(self, address: str) -> Association:
        """Set up an association to ``address`` (or return the existing one)."""

    @abc.abstractmethod
    async def send(
        self,
        data: bytes,
        *,
        to: str,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
    ) -> Association:
        """Send one message to ``to``, setting up an association implicitly if needed."""

    @abc.abstractmethod
    async def receive(self) -> Message:
        """The next message from any association (round-robin across associations)."""

    def set_message_handler(
        self,
        handler: Callable[[Message], None] | None,
        *,
        max_size: int | None = None,
        done: Callable[[], None] | None = None,
    ) -> bool:
        """Hand messages to ``handler`` as they arrive, instead of queueing them for
        :meth:`receive`; returns False where the backend does not offer it (the default).

        A fast path for a caller whose handling never blocks (the channel layer's router):
        the handler runs synchronously in the backend's reading task, as soon as the
        datagram carrying the message was processed, so a message costs no wake-up of a
        receiving task. A message counts as read once the handler returned; an exception
        it raises is logged and counted, never propagated into the backend.

        ``max_size``: larger messages still go to :meth:`receive` (so do the ones behind
        them on the same stream, in order, until it has read them; a message of another
        stream may overtake them, as SCTP orders per stream only): bulk data keeps the pace
        of the task that reads it, and with it the receive window's backpressure.
        Messages that were waiting for :meth:`receive` stay there. ``None`` as the handler
        returns to :meth:`receive`.

        ``done``: called after the handler was given the messages that arrived together,
        before the packets with its answers are built: where a handler sends what it
        collected across them (the channel layer grants credit there, and none for a link
        whose END came in the same batch).
        """
        return False

    @abc.abstractmethod
    async def next_event(self) -> AssociationEvent:
        """The next association event (established, closed, aborted, ...).

        Unread events are bounded (``EndpointStatistics.events_discarded`` counts the oldest
        ones dropped). Raises ``trio.ClosedResourceError`` once the endpoint is closed.
        """

    @abc.abstractmethod
    def statistics(self) -> EndpointStatistics:
        """Endpoint-wide counters."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Abort every association and close the socket. Idempotent."""

    # --- SCTP-AUTH key rotation (RFC 4895; endpoints opened with ``auth_keys``) --------------

    def add_auth_key(self, key_id: int, key: bytes) -> None:
        """Add a shared key (identifier 0..65535); peers may use it at once.

        Rotation without a restart: add the new key on both sides, make it active on both,
        then remove the old one (docs/security.md).

        Raises:
            TransportError: the endpoint was opened without ``auth_keys``.
        """
        raise TransportError("this endpoint was opened without auth_keys (SCTP-AUTH)")

    def set_active_auth_key(self, key_id: int) -> None:
        """Authenticate what we send with this key from now on."""
        raise TransportError("this endpoint was opened without auth_keys (SCTP-AUTH)")

    def remove_auth_key(self, key_id: int) -> None:
        """Forget a key (not the active one): peers' chunks using it are dropped."""
        raise TransportError("this endpoint was opened without auth_keys (SCTP-AUTH)")

    async def __aenter__(self) -> Endpoint:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
