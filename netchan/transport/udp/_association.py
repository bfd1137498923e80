"""The handle of one ``udp://`` association: what the application holds and calls.

A thin handle on the sans-io stack's association: it owns the queue of messages delivered but
not yet read, waits for the association to be established or for send buffer room, and maps
the stack's counters onto the backend-neutral record. Its endpoint
(:class:`~netchan.transport.udp._endpoint.UdpEndpoint`) feeds it from the stack's events.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import trio

from .._address import format_address, parse_address
from .._api import Association, AssociationAborted, AssociationStatistics, Message
from .._common import Inbox, raise_if_ended
from ..errors import AssociationAbortedError, InvalidAddressError, TransportError
from ._socket import PeerAddr

if TYPE_CHECKING:
    from ._endpoint import UdpEndpoint

log = logging.getLogger("netchan.transport.udp")

# Association life cycle as the driver sees it (the stack holds the RFC 9260 states).
_CONNECTING = "connecting"
_OPEN = "open"
_CLOSING = "closing"
_ENDED = "ended"


class UdpAssociation(Association):
    """One association of a :class:`UdpEndpoint`: a thin handle on the stack's association.

    It owns the queue of messages delivered but not yet read by the application; taking one
    tells the stack (``message_consumed``), which reopens the receive window.
    """

    def __init__(self, endpoint: UdpEndpoint, sctp_assoc: Any, remote_sctp_port: int) -> None:
        self._endpoint = endpoint
        self._sctp = sctp_assoc
        self._id: int = sctp_assoc.id
        self._remote_sctp_port = remote_sctp_port
        # Its key in the endpoint's (peer address, SCTP port) table, if it is there.
        self._peer_key: tuple[PeerAddr, int] | None = None
        self._phase = _CONNECTING
        self._closed_by_us = False
        # Why it ended when the peer or the network ended it; None for a graceful close.
        self._error: AssociationAbortedError | None = None
        self.inbox = Inbox()  # delivered, not yet read (transport/_common.py)
        # User payload bytes (the stack counts whole packets; the endpoint API counts what
        # the application sent and received, like the kernel backend).
        self._bytes_sent = 0
        self._bytes_received = 0
        self._senders = trio.lowlevel.ParkingLot()
        self._phase_waiters = trio.lowlevel.ParkingLot()
        self._outbound = 0
        self._inbound = 0
        self._last_stats: AssociationStatistics | None = None

    # --- public API ---------------------------------------------------------------------

    @property
    def id(self) -> int:
        """The association id, unique within its endpoint (the stack's id)."""
        return self._id

    @property
    def peer_key_id(self) -> int | None:
        """The Shared Key Identifier of the peer's last verified AUTH chunk (RFC 4895)."""
        key_id: int | None = getattr(self._sctp, "peer_key_id", None)
        return key_id

    @property
    def peer_addresses(self) -> tuple[str, ...]:
        """The peer's transport addresses as ``udp://`` URLs, primary first."""
        try:
            addrs: Iterable[PeerAddr] = self._sctp.peer_addresses
        except Exception:  # the stack may drop state of an ended association
            addrs = ()
        return tuple(
            format_address("udp", [host], port, self._remote_sctp_port) for host, port in addrs
        )

    @property
    def primary_path(self) -> str:
        """The peer address data goes to while it is reachable (RFC 9260 §6.4), as a URL."""
        host, port = self._sctp.primary_path[:2]
        return format_address("udp", [host], port, self._remote_sctp_port)

    def set_primary(self, address: str) -> None:
        """Make ``address`` (one of :attr:`peer_addresses`) the primary path.

        Data moves there at once when the path is active and confirmed (RFC 9260 §5.4),
        otherwise as soon as it is; a ``PeerAddressChanged`` event with state ``"primary"``
        follows.

        Raises:
            InvalidAddressError: not a ``udp://`` URL of one of the peer's addresses.
        """
        target = parse_address(address)
        if target.scheme != "udp" or len(target.hosts) != 1:
            raise InvalidAddressError(f"{address!r} is not one udp:// peer address")
        wanted = _normalized(target.hosts[0])
        for addr in self._sctp.peer_addresses:
            if _normalized(addr[0]) == wanted and addr[1] == target.port:
                self._sctp.set_primary(addr, trio.current_time())
                self._endpoint._flush()
                return
        raise InvalidAddressError(f"{address!r} is not an address of the peer ({self!r})")

    @property
    def outbound_streams(self) -> int:
        """Streams we may send on (negotiated in INIT / INIT ACK, RFC 9260 §5.1.1)."""
        return self._outbound

    @property
    def inbound_streams(self) -> int:
        """Streams the peer may send on."""
        return self._inbound

    async def send(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> None:
        """Queue one message; blocks while the association's send buffer is full.

        The message is handed to the stack at once when there is room; the datagrams go out
        from the endpoint's timer task a moment later, so consecutive sends share packets.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._phase == _CONNECTING:
            await self._wait_established()
        while True:
            self._check_sendable()
            if not 0 <= stream < self._outbound:
                raise ValueError(
                    f"stream {stream} is not below the {self._outbound} outbound streams"
                )
            try:
                self._sctp.send(
                    data,
                    stream=stream,
                    ppid=ppid,
                    unordered=unordered,
                    now=self._endpoint._now(),
                )
            except BufferError:
                # Send buffer full: wait for SendBufferAvailable (or the end).
                await self._senders.park()
                continue
            except ValueError:
                raise
            except TransportError:
                raise
            except Exception as exc:  # the stack refused: not sendable in its state
                self._check_sendable()
                raise trio.BrokenResourceError(f"association cannot send: {exc}") from exc
            break
        self._bytes_sent += len(data)
        endpoint = self._endpoint
        endpoint._unflushed += len(data)
        if endpoint._unflushed >= max(
            endpoint._burst_bytes, self._sctp.pmtu
        ) or self._sctp.buffered_amount <= len(data):
            # A burst's worth is queued (waiting longer only adds latency), or this message
            # is all the association has to send (an idle association: send it now, as
            # Nagle's rule would; later messages bundle while it is in flight).
            endpoint._flush()
        else:
            endpoint._request_flush()
        # Queued: from here on a cancellation must not pretend it was not sent.
        await trio.lowlevel.cancel_shielded_checkpoint()

    def send_nowait(
        self,
        data: bytes,
        *,
        stream: int = 0,
        ppid: int = 0,
        bundle: bool = False,
        push: bool = False,
    ) -> None:
        """Hand one message to the stack now if it leaves at once (see the base class).

        Not while application sends of a burst are being collected for one flush (the
        message would wait for that flush anyway; the caller can coalesce meanwhile) unless
        ``bundle`` (then it joins that flush, or with ``push`` makes it now), nor while the
        send buffer is full or the association is not established.
        """
        endpoint = self._endpoint
        if self._phase == _OPEN and not 0 <= stream < self._outbound:
            raise ValueError(f"stream {stream} is not below the {self._outbound} outbound streams")
        if self._phase != _OPEN or (endpoint._flush_requested and not bundle):
            self._check_sendable()
            raise trio.WouldBlock
        try:
            self._sctp.send(data, stream=stream, ppid=ppid, unordered=False, now=endpoint._now())
        except BufferError:
            raise trio.WouldBlock from None
        except (ValueError, TransportError):
            raise
        except Exception as exc:  # the stack refused: not sendable in its state
            self._check_sendable()
            raise trio.BrokenResourceError(f"association cannot send: {exc}") from exc
        self._bytes_sent += len(data)
        endpoint._unflushed += len(data)
        if self._sctp.buffered_amount <= len(data):
            endpoint._flush()  # an idle association: out now
        elif not bundle and not endpoint._flush_requested:
            # The first message of a possible burst: out now (Nagle's rule in the stack
            # still holds it while two packets await their SACK); the rest of the burst
            # is refused until the timer task's flush, so the caller coalesces it.
            endpoint._flush()
            endpoint._request_flush()
        elif push and endpoint._unflushed > len(data):
            # The caller's last message (a reply channel's END after its value) and more
            # was collected before it: all of it leaves now, in one packet, instead of
            # scheduler rounds later (the timer's pending request then finds nothing left
            # and costs no rounds). A push that would carry only itself waits as before:
            # many replies ending in one round (a busy server) then still share packets.
            endpoint._flush()
        else:
            endpoint._request_flush()

    async def receive(self) -> Message:
        """The next message of this association only.

        Raises:
            trio.ClosedResourceError: we closed the association or the endpoint.
            trio.EndOfChannel: the peer shut it down gracefully, raised once every message
                delivered before that was read.
            trio.BrokenResourceError: the peer aborted it or died, raised once every message
                delivered before that was read.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.inbox.messages:
            # The schedule point comes before the message is taken, not after: until the
            # caller has it, it must still count as waiting here, or a message handler
            # (set_message_handler) would take the next message of its stream first.
            # Shielded: a message was there, so this call will not be cancelled now. (After
            # parking, the wait is the checkpoint, as in trio's own channels.)
            await trio.lowlevel.cancel_shielded_checkpoint()
        while True:
            if self._closed_by_us or self._endpoint._closed:
                raise trio.ClosedResourceError("association was closed")
            inbox = self.inbox
            if inbox.messages:
                message = inbox.take()
                if not inbox.messages:
                    self._endpoint._ready.discard(self)
                self._consumed(message)
                return message
            self._raise_if_ended(receiving=True)
            await inbox.waiters.park()

    async def aclose(self) -> None:
        """Graceful SHUTDOWN (RFC 9260 §9.2); returns once it completed or the peer died.

        Everything queued is delivered and acknowledged first. Idempotent. If cancelled
        while waiting, the association is aborted so nothing is left half-open.
        """
        if self._phase == _ENDED or self._closed_by_us:
            self._closed_by_us = True
            await trio.lowlevel.checkpoint()
            return
        if self._phase == _CONNECTING:
            self.abort("closed before established")
            await trio.lowlevel.checkpoint()
            return
        self._phase = _CLOSING
        self._closed_by_us = True
        self._wake_all()
        try:
            self._sctp.shutdown(trio.current_time())
            self._endpoint._flush()
            while self._phase != _ENDED:
                await self._phase_waiters.park()
        except BaseException:
            if self._phase != _ENDED:
                self.abort("shutdown interrupted")
            raise

    def abort(self, reason: str = "") -> None:
        """Send ABORT with a User-Initiated Abort cause (RFC 9260 §9.1, cause 12)."""
        self._closed_by_us = True
        if self._phase != _ENDED:
            try:
                self._sctp.abort(reason, trio.current_time())
            except Exception:  # already gone in the stack: nothing left to abort
                log.debug("abort of association %d ignored by the stack", self._id)
            self._end(None)
            error = AssociationAbortedError(f"aborted locally: {reason}", by_peer=False)
            self._endpoint._publish(AssociationAborted(self, error))
            self._endpoint._flush()
        self._wake_all()

    def statistics(self) -> AssociationStatistics:
        """A snapshot of the stack's counters and congestion state for this association."""
        if self._phase == _ENDED and self._last_stats is not None:
            return self._last_stats
        try:
            counters = self._sctp.statistics()
        except Exception:
            counters = None
        stats = _association_statistics(self, counters)
        if self._phase == _ENDED:
            self._last_stats = stats
        return stats

    def __repr__(self) -> str:
        peers = ",".join(self.peer_addresses) or "?"
        return f"<UdpAssociation id={self._id} {self._phase} peer={peers}>"

    # --- driver side --------------------------------------------------------------------

    def _check_sendable(self) -> None:
        if self._closed_by_us or self._endpoint._closed or self._phase == _CLOSING:
            raise trio.ClosedResourceError("association was closed")
        self._raise_if_ended()

    def _raise_if_ended(self, *, receiving: bool = False) -> None:
        if self._phase == _ENDED:
            raise_if_ended(
                closed_by_us=self._closed_by_us,
                ended=True,
                error=self._error,
                receiving=receiving,
            )

    async def _wait_established(self) -> None:
        while self._phase == _CONNECTING:
            await self._phase_waiters.park()
        if self._phase == _ENDED and self._error is not None and not self._closed_by_us:
            raise trio.BrokenResourceError(str(self._error)) from self._error
        if self._phase != _OPEN:
            raise trio.ClosedResourceError("association was closed")

    def _established(self, outbound: int, inbound: int) -> None:
        self._outbound = outbound
        self._inbound = inbound
        if self._phase == _CONNECTING:
            self._phase = _OPEN
        self._phase_waiters.unpark_all()

    def _end(self, error: AssociationAbortedError | None) -> None:
        if self._phase == _ENDED:
            return
        self._phase = _ENDED
        self._error = error
        # Keep the last counters: the stack forgets an ended association.
        try:
            self._last_stats = _association_statistics(self, self._sctp.statistics())
        except Exception:
            self._last_stats = None
        self._endpoint._forget(self)
        self._wake_all()

    def _wake_all(self) -> None:
        self.inbox.waiters.unpark_all()
        self._senders.unpark_all()
        self._phase_waiters.unpark_all()
        self._endpoint._ready.waiters.unpark_all()

    def _deliver(self, message: Message) -> None:
        self._bytes_received += message.size
        self._endpoint._ready.deliver(self, message)

    def _consumed(self, message: Message) -> None:
        """The application took ``message``: reopen our receive window (RFC 9260 §6.2).

        The stack decides whether that is worth a window update (§6.2's silly window
        syndrome avoidance); only then is the timer task asked to flush. A reader taking
        messages one by one from a full inbox used to wake it for every message (two
        scheduler rounds each, for a flush that usually had nothing to send).
        """
        if self._phase == _ENDED:
            return
        try:
            due = self._sctp.message_consumed(message.size, self._endpoint._now())
        except Exception:  # the stack already dropped the association
            return
        if due:
            self._endpoint._request_flush()


def _association_statistics(assoc: UdpAssociation, counters: Any) -> AssociationStatistics:
    """Map the stack's counters onto the backend-neutral record."""

    def get(name: str, default: Any = None) -> Any:
        return getattr(counters, name, default) if counters is not None else default

    state = get("state", None)
    if state is None:
        try:
            state = assoc._sctp.state
        except Exception:
            state = None
    state_text = getattr(state, "name", None) or (str(state) if state is not None else "CLOSED")
    if assoc._phase == _ENDED:
        state_text = "CLOSED"
    drops = get("drops", None)
    return AssociationStatistics(
        state=state_text,
        outbound_streams=assoc._outbound,
        inbound_streams=assoc._inbound,
        packets_sent=int(get("packets_sent", 0)),
        packets_received=int(get("packets_received", 0)),
        bytes_sent=assoc._bytes_sent,
        bytes_received=assoc._bytes_received,
        messages_sent=int(get("messages_sent", 0)),
        messages_received=int(get("messages_received", 0)),
        retransmissions=int(get("retransmissions", 0)),
        fast_retransmits=int(get("fast_retransmits", 0)),
        t3_expiries=int(get("t3_expiries", 0)),
        srtt=get("srtt"),
        rto=get("rto"),
        cwnd=get("cwnd"),
        ssthresh=get("ssthresh"),
        peer_rwnd=get("peer_rwnd"),
        local_rwnd=get("local_rwnd"),
        bytes_in_flight=get("bytes_in_flight", get("in_flight")),
        send_buffered=int(get("send_buffered", 0) or 0),
        receive_buffered=assoc.inbox.bytes,
        drops=dict(drops) if drops else {},
        pmtu=get("pmtu"),
    )


def _normalized(host: str) -> str:
    """An IP literal in one spelling (IPv4-mapped IPv6 as IPv4), for comparing addresses."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
