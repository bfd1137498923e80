"""The trio driver of the sans-io SCTP stack over one UDP socket (``udp://``, RFC 6951).

The driver is thin on purpose (docs/architecture.md, "Driver contract"): it feeds received
datagrams and the clock to one :class:`SctpEndpoint`, sends what the stack wants sent, turns
the stack's events into per-association queues and public events, and keeps ONE timer task
armed at the stack's earliest deadline. All protocol decisions stay in the stack.

Tasks (in the endpoint's nursery):

* the reader waits until the socket is readable, then reads every datagram available (up to a
  batch limit) before handing the results on, so a burst costs one wake-up;
* the timer sleeps until ``next_deadline()`` or until something new must be sent (application
  sends are queued in the stack and flushed here, so back-to-back small sends bundle);
* the writer only runs when the kernel's socket buffer was full (EAGAIN) and sends the rest.

With a message handler (``set_message_handler``: the channel layer's router) small messages
do not wait for ``receive()``: the flush that follows a datagram hands them to the handler
first, in the task that read it, then builds packets, so an answer rides with the SACK.

Multihoming (``udp://A,B:PORT``, RFC 9260 §6.4): one socket per local address, all on one
port, a reader task each; the stack lists the addresses in INIT / INIT ACK and each datagram
leaves from the socket chosen for its destination (:mod:`._sources`).

Memory is bounded by the stack: delivered-but-unread messages count against the receive window
we advertise until the application takes them (``message_consumed``); sends block while the
association's send buffer is full (``SendBufferAvailable`` wakes them).
"""

from __future__ import annotations

import collections
import errno
import ipaddress
import logging
import math
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import trio

from .._address import Address, format_address, parse_address
from .._api import (
    Association,
    AssociationAborted,
    AssociationClosed,
    AssociationEstablished,
    AssociationEvent,
    AssociationRestarted,
    Endpoint,
    EndpointStatistics,
    Message,
    PeerAddressChanged,
)
from .._common import EventQueue, ReadyRing, check_option_names, resolve_host
from .._nursery import open_internal_nursery
from ..errors import AssociationAbortedError, InvalidAddressError, TransportError
from ..sctp import events as ev
from ..sctp.options import Options
from ..sctp.plpmtud import Fragmentable
from . import _mmsg
from ._association import _CLOSING, _CONNECTING, _ENDED, _OPEN, UdpAssociation
from ._socket import (
    PENDING_ICMP_ERRNOS,
    IcmpReport,
    PeerAddr,
    header_overhead,
    local_mtu,
    open_udp_socket,
    read_error_queue,
    set_dont_fragment,
)
from ._sources import LocalSockets

log = logging.getLogger("netchan.transport.udp")

#: Datagrams read per wake-up before the stack's output is flushed (bounds latency of ACKs).
RECV_BATCH = 256
#: Largest UDP payload we accept; an SCTP packet never exceeds the path MTU, but a peer may be
#: configured for jumbo frames on loopback.
RECV_SIZE = 65535
#: In a burst of received datagrams, flush (and so send the due SACK) after this many.
ACK_EVERY = 8
#: Scheduler rounds a flush may wait while application sends keep adding to it (a sending
#: loop adds one message per round). Ends after two rounds that added nothing, or at once
#: when a send fills a packet (``UdpAssociation.send``). 64 rounds of 1 KiB messages fill a
#: 64 KiB loopback packet; 16 gave 89k instead of 105k 1 KiB msgs/s (endpoint_bench).
FLUSH_DEFER_ROUNDS = 64
#: Application sends flush at once when this many base-size packets are queued (or one
#: packet at the path's current PLPMTU, if larger).
BURST_PACKETS = 8


class UdpEndpoint(Endpoint):
    """A one-to-many SCTP endpoint on one UDP socket (``udp://HOST:PORT``), or one per local
    address (``udp://A,B:PORT``, multihomed).

    Create it with :func:`open_udp_endpoint` (or ``netchan.transport.open_endpoint``), which
    also runs its background tasks. One socket serves any number of associations.
    """

    def __init__(
        self,
        address: Address,
        options: Options,
        *,
        rng: random.Random | None = None,
        stack_factory: Any = None,
    ) -> None:
        if address.scheme != "udp":
            raise InvalidAddressError(f"{address} is not a udp:// address")
        if len(set(address.hosts)) != len(address.hosts):
            raise InvalidAddressError(f"an address is listed twice in {address}")
        self._sock = open_udp_socket(address.host, address.port)
        self._family = self._sock.family
        socks = [self._sock]
        try:
            for host in address.hosts[1:]:
                # RFC 6951 §5.1: one UDP port for all our addresses (peers learn it from
                # the source port); the kernel's choice for port 0 is taken for all.
                sock = open_udp_socket(host, self._sock.getsockname()[1])
                socks.append(sock)
                if sock.family != self._family:
                    raise TransportError(
                        f"a multihomed udp:// endpoint binds addresses of one family ({address})"
                    )
        except BaseException:
            for sock in socks:
                sock.close()
            raise
        self._socks = socks
        self._sources = LocalSockets(socks) if len(socks) > 1 else None
        #: Test hook: ``f(local_host, peer_addr) -> bool``; True drops the datagram sent or
        #: received between them (a black-holed path on loopback). None in production.
        self._path_filter: Any = None
        if options.plpmtud and not all(set_dont_fragment(sock, True) for sock in socks):
            # Without the Don't Fragment bit a probe would be fragmented and confirm a size
            # the path does not carry (RFC 8899 §3 item 2): no path MTU discovery here.
            options = replace(options, plpmtud=False)
        if not options.deliver_fragments:
            # A fragmented message is kept as its chunks' payloads (``Message.fragments``);
            # ``Message.data`` joins them only for a reader that asks for it.
            options = replace(options, deliver_fragments=True)
        self._options = options
        # Local interface limit per peer host (RFC 8899 §3 item 5), asked once per host.
        self._local_mtus: dict[str, int | None] = {}
        bound = self._sock.getsockname()
        self._host: str = bound[0]
        self._hosts = [sock.getsockname()[0] for sock in socks]
        self._port: int = bound[1]
        # RFC 6951: the SCTP port is independent of the UDP port; it defaults to the same
        # number, also when that number was chosen by the kernel (port 0).
        self._sctp_port = address.sctp_port or self._port
        if stack_factory is None:
            from ..sctp.endpoint import SctpEndpoint

            stack_factory = SctpEndpoint
        # The run's clock, read directly: ``trio.current_time()`` costs two more Python calls,
        # and the driver reads the time several times per packet.
        self._now: Callable[[], float] = trio.lowlevel.current_clock().current_time
        self._sctp: Any = stack_factory(
            options,
            local_port=self._sctp_port,
            rng=rng if rng is not None else random.SystemRandom(),
            now=self._now(),
        )
        if options.plpmtud and hasattr(self._sctp, "local_mtu"):
            self._sctp.local_mtu = self._local_mtu
        if len(socks) > 1:
            # §5.1.2: every address in our INIT / INIT ACK.
            self._sctp.local_addresses = self._hosts
        self._closed = False
        self._assocs: dict[int, UdpAssociation] = {}
        self._by_peer: dict[tuple[PeerAddr, int], UdpAssociation] = {}
        self._ready: ReadyRing[UdpAssociation] = ReadyRing()
        self._events = EventQueue()
        self._timer_lot = trio.lowlevel.ParkingLot()
        self._writer_lot = trio.lowlevel.ParkingLot()
        self._flush_requested = False
        self._unflushed = 0  # bytes queued by application sends since the last flush
        self._burst_bytes = BURST_PACKETS * options.pmtu
        self._armed_deadline = math.inf
        # The timer's sleep while it is parked: an earlier deadline moves it without a wake-up.
        self._timer_scope: trio.CancelScope | None = None
        self._outgoing: collections.deque[tuple[bytes, PeerAddr]] = collections.deque()
        self._icmp_pending = False
        self._flushing = False
        self._counters: collections.Counter[str] = collections.Counter()
        self._drops: collections.Counter[str] = collections.Counter()
        self._cancel_scope: trio.CancelScope | None = None
        self._batcher = _mmsg.BatchSender(self._sock) if _mmsg.available else None
        # set_message_handler: a flush hands the messages the stack delivered to it first,
        # then builds packets (what the handler sends goes in them); never re-entered.
        self._handler: Callable[[Message], None] | None = None
        self._handler_done: Callable[[], None] | None = None
        self._handler_max_size: float = math.inf
        self._handled: collections.deque[Message] = collections.deque()
        self._handling = False

    # --- public API ---------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The bound address, e.g. ``udp://127.0.0.1:40123`` (ephemeral port resolved)."""
        return format_address("udp", self._hosts, self._port, self._sctp_port)

    def _auth_keys(self) -> Any:
        keys = getattr(self._sctp, "auth_keys", None)
        if keys is None:
            raise TransportError("this endpoint was opened without auth_keys (SCTP-AUTH)")
        return keys

    def add_auth_key(self, key_id: int, key: bytes) -> None:
        """Add an SCTP-AUTH shared key (RFC 4895); see ``Endpoint.add_auth_key``."""
        self._auth_keys().add_key(key_id, key)

    def set_active_auth_key(self, key_id: int) -> None:
        """Authenticate what we send with this key from now on."""
        self._auth_keys().set_active_key(key_id)

    def remove_auth_key(self, key_id: int) -> None:
        """Forget a key (not the active one)."""
        self._auth_keys().remove_key(key_id)

    @property
    def associations(self) -> tuple[Association, ...]:
        """Associations that are established and not yet closed or aborted."""
        return tuple(a for a in self._assocs.values() if a._phase in (_OPEN, _CLOSING))

    async def connect(self, address: str) -> Association:
        """Set up an association to ``address`` (or return the one that exists).

        ``address`` is ``udp://HOST:UDP_PORT[?sctp_port=N]``; the SCTP port defaults to the
        UDP port. ``udp://A,B:PORT`` names a multihomed peer: the INIT goes to A, then to B
        when A does not answer (RFC 9260 §5.1). Raises BrokenResourceError (cause attached)
        if the peer never answers within Max.Init.Retransmits or refuses.
        """
        self._check_open()
        target = parse_address(address)
        if target.scheme != "udp":
            raise InvalidAddressError(f"a udp:// endpoint cannot reach {address!r}")
        peers = [await self._resolve(host, target.port) for host in target.hosts]
        peer = peers[0]
        key = (peer, target.sctp_port)
        assoc = self._by_peer.get(key)
        if assoc is None or assoc._phase == _ENDED:
            self._check_open()
            if len(peers) > 1:
                sctp_assoc = self._sctp.connect(
                    peer, target.sctp_port, trio.current_time(), alternates=peers[1:]
                )
            else:
                sctp_assoc = self._sctp.connect(peer, target.sctp_port, trio.current_time())
            existing = self._assocs.get(sctp_assoc.id)
            if existing is not None:
                # Another address of a (multihomed) peer we are associated with: the stack
                # returned that association (RFC 9260 §5.2.1 allows one per peer).
                assoc = existing
            else:
                assoc = UdpAssociation(self, sctp_assoc, target.sctp_port)
                self._assocs[assoc.id] = assoc
                self._by_peer[key] = assoc
                assoc._peer_key = key
            self._flush()
        try:
            await assoc._wait_established()
        except trio.Cancelled:
            if assoc._phase == _CONNECTING and not assoc._phase_waiters:
                assoc.abort("connect cancelled")
            raise
        return assoc

    async def send(
        self,
        data: bytes,
        *,
        to: str,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
    ) -> Association:
        """Send one message to ``to``, setting up the association first if needed."""
        assoc = await self.connect(to)
        await assoc.send(data, stream=stream, ppid=ppid, unordered=unordered)
        return assoc

    async def receive(self) -> Message:
        """The next message from any association, taking them round-robin.

        A slow or chatty peer cannot starve the others: each association with messages waiting
        gives one message per turn.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._ready:
            # The schedule point before taking (see UdpAssociation.receive): a message
            # still counts as waiting until the caller has it, so a message handler cannot
            # take a later message of its stream first.
            await trio.lowlevel.cancel_shielded_checkpoint()
        while True:
            if self._closed:
                raise trio.ClosedResourceError("endpoint was closed")
            taken = self._ready.take()
            if taken is not None:
                assoc, message = taken
                assoc._consumed(message)
                return message
            await self._ready.waiters.park()

    def set_message_handler(
        self,
        handler: Callable[[Message], None] | None,
        *,
        max_size: int | None = None,
        done: Callable[[], None] | None = None,
    ) -> bool:
        """Hand messages to ``handler`` as they arrive (see ``Endpoint``); True.

        The handler runs in the task that processed the datagram (the reader, or the timer
        task after a timeout), in the flush that follows it, before that flush builds its
        packets: a message costs no wake-up of a receiving task, and what the handler sends
        in answer leaves in the same packet as the SACK the message made due. A message
        larger than ``max_size``, and whatever follows it on its stream while a message of
        that stream waits in the association's inbox, goes to ``receive()``.
        """
        self._handler = handler
        self._handler_done = done if handler is not None else None
        self._handler_max_size = max_size if max_size is not None else math.inf
        return True

    async def next_event(self) -> AssociationEvent:
        """The next association event (established, closed, aborted, restarted, ...)."""
        return await self._events.get()

    def statistics(self) -> EndpointStatistics:
        """Datagrams in/out and drops by reason (the stack's and the driver's)."""
        drops: collections.Counter[str] = collections.Counter(self._drops)
        sctp_stats = self._sctp.statistics()
        received = self._counters["datagrams_received"]
        sent = self._counters["datagrams_sent"]
        if isinstance(sctp_stats, dict):
            for name, value in sctp_stats.items():
                if name == "drops" and isinstance(value, dict):
                    drops.update({str(k): int(v) for k, v in value.items()})
                elif isinstance(name, str) and name.startswith("drop_") and isinstance(value, int):
                    drops[name[5:]] += value
        else:
            stack_drops = getattr(sctp_stats, "drops", None)
            if stack_drops:
                drops.update({str(k): int(v) for k, v in dict(stack_drops).items()})
        return EndpointStatistics(
            associations=len(self.associations),
            datagrams_received=received,
            datagrams_sent=sent,
            drops={k: v for k, v in drops.items() if v},
            events_discarded=self._events.discarded,
        )

    async def aclose(self) -> None:
        """Abort every association, close the socket and stop the background tasks."""
        self._close()
        await trio.lowlevel.checkpoint()

    def __repr__(self) -> str:
        return f"<UdpEndpoint {self.address} associations={len(self._assocs)}>"

    # --- lifecycle -------------------------------------------------------------------------

    async def _run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        with trio.CancelScope() as scope:
            self._cancel_scope = scope
            if self._closed:
                scope.cancel()
            async with open_internal_nursery() as nursery:
                for sock in self._socks:
                    nursery.start_soon(self._reader, sock)
                nursery.start_soon(self._timer)
                nursery.start_soon(self._writer)
                task_status.started()

    def _close(self) -> None:
        if self._closed:
            return
        for assoc in list(self._assocs.values()):
            if assoc._phase != _ENDED:
                assoc._closed_by_us = True
                try:
                    assoc._sctp.abort("endpoint closed", trio.current_time())
                except Exception:
                    log.debug("abort of association %d ignored by the stack", assoc.id)
                assoc._end(None)
        try:
            self._flush()
        except Exception:  # pragma: no cover - best effort on the way out
            log.exception("flush on close failed")
        self._closed = True
        for assoc in list(self._assocs.values()):
            assoc._wake_all()
        self._ready.waiters.unpark_all()
        self._events.close()
        for sock in self._socks:
            trio.lowlevel.notify_closing(sock)
            sock.close()
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    def _is_closed(self) -> bool:
        # A call, not an attribute: it changes while a task awaits.
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("endpoint was closed")

    async def _lookup(self, host: str, port: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """Resolve a host name in the socket's address family."""
        found = await resolve_host(host, port, family=self._family, socktype=socket.SOCK_DGRAM)
        return ipaddress.ip_address(found)

    async def _resolve(self, host: str, port: int) -> PeerAddr:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = await self._lookup(host, port)
        if self._family == socket.AF_INET6 and ip.version == 4:
            return (f"::ffff:{ip}", port)
        if self._family == socket.AF_INET and ip.version == 6:
            raise InvalidAddressError(f"an IPv4 endpoint cannot reach IPv6 address {host!r}")
        return (str(ip), port)

    # --- background tasks ----------------------------------------------------------------

    async def _reader(self, sock: socket.socket) -> None:
        while not self._closed:
            try:
                await trio.lowlevel.wait_readable(sock)
            except trio.ClosedResourceError:
                return
            if self._is_closed():
                return
            count = self._read_available(self._now(), sock)
            if count < 0:
                return
            if count == 0:
                # Woken without data: the error queue has entries (EPOLLERR).
                self._icmp_pending = True
            self._flush()
            if count == RECV_BATCH:
                await trio.lowlevel.checkpoint()

    def _read_all(self, now: float) -> int:
        """:meth:`_read_available` on every socket; -1 once closed."""
        total = 0
        for sock in self._socks:
            count = self._read_available(now, sock)
            if count < 0:
                return -1
            total += count
        return total

    def _read_available(self, now: float, sock: socket.socket) -> int:
        """Feed the stack every datagram waiting on ``sock`` (up to ``RECV_BATCH``); -1 once
        closed."""
        sctp = self._sctp
        path_filter = self._path_filter
        count = 0
        for _ in range(RECV_BATCH):
            try:
                data, addr = sock.recvfrom(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno in PENDING_ICMP_ERRNOS:
                    self._icmp_pending = True
                    continue
                if self._is_closed():
                    return -1
                # Nothing a peer sends may stop the reader: count it and go on.
                self._drops["recv_error"] += 1
                log.debug("recvfrom failed: %s", exc)
                break
            count += 1
            if path_filter is not None and path_filter(sock.getsockname()[0], addr):
                self._drops["test_path_filter"] += 1
                continue
            try:
                sctp.receive_datagram(data, (addr[0], addr[1]), now)
            except Exception:
                # A bug in the stack; the socket keeps serving the other associations.
                log.exception("SCTP stack raised on a datagram from %s", addr)
                self._drops["stack_error"] += 1
            if count % ACK_EVERY == 0:
                # Within a long burst, let SACKs out regularly: one SACK per batch
                # would be a stretch ACK, and the peer's slow start grows by at most
                # one MTU per SACK (RFC 9260 §7.2.1).
                self._flush()
        self._counters["datagrams_received"] += count
        return count

    async def _timer(self) -> None:
        """The one timer: sleeps until the stack's next deadline or a flush request.

        A flush request (an application send, a consumed message) is served after the tasks
        that are ready to run had their turn, for at most ``FLUSH_DEFER_ROUNDS`` scheduler
        rounds: a task sending in a loop queues several messages, which then leave in full
        packets (bundling, RFC 9260 §6.10) and in one burst.
        """
        sctp = self._sctp
        while not self._closed:
            if not self._flush_requested:
                deadline = sctp.next_deadline()
                self._armed_deadline = math.inf if deadline is None else deadline
                with trio.move_on_at(self._armed_deadline) as scope:
                    self._timer_scope = scope
                    try:
                        await self._timer_lot.park()
                    finally:
                        self._timer_scope = None
            if self._flush_requested:
                # Let senders that are still going queue more (they yield at every send);
                # stop once two rounds in a row added nothing. Not "one quiet round and
                # nothing runnable": trio runs a round's tasks in random order, so the
                # sender often runs after this check within the same round (it is then in
                # no run queue) and one message per flush went out (44k -> 89k 1 KiB msgs/s
                # for the fix, tests/udp/test_driver.py).
                # Nothing left unflushed when the timer runs (the request came with a flush
                # made at once, Nagle's rule for a lone message): no rounds to wait, a round
                # costs a scheduler batch (an epoll_wait) in the middle of a round trip. A
                # sender that goes on queues again and asks again; 1 KiB values did not lose
                # by it (docs/benchmarks.md, "Round trips: enum lookups and timer rounds").
                seen = self._unflushed
                quiet_rounds = 0
                for _ in range(FLUSH_DEFER_ROUNDS if seen else 0):
                    await trio.lowlevel.checkpoint()
                    unflushed = self._unflushed
                    if unflushed == 0:
                        break
                    if unflushed != seen:
                        seen = unflushed
                        quiet_rounds = 0
                        continue
                    quiet_rounds += 1
                    if quiet_rounds >= 2:
                        break
            self._flush_requested = False
            if self._is_closed():
                return
            now = self._now()
            if now >= self._armed_deadline:
                # Input first: after this process was descheduled for a while, the SACKs
                # that arrived meanwhile must count before T3-rtx or a heartbeat timer
                # decides the peer is late (a spurious timeout collapses cwnd, §7.2.3).
                if self._read_all(now) < 0:
                    return
                sctp.handle_timeout(now)
            self._armed_deadline = math.inf
            self._flush()

    async def _writer(self) -> None:
        """Sends what the kernel refused with EAGAIN, once the socket is writable again."""
        while not self._closed:
            while not self._outgoing:
                await self._writer_lot.park()
            if self._is_closed():
                return
            try:
                await trio.lowlevel.wait_writable(self._socket_for(self._outgoing[0][1]))
            except trio.ClosedResourceError:
                return
            while self._outgoing and not self._closed:
                data, addr = self._outgoing[0]
                if not self._sendto(data, addr):
                    break
                self._outgoing.popleft()

    # --- glue -------------------------------------------------------------------------------

    def _request_flush(self) -> None:
        """Ask the timer task to flush soon (after the current burst of application calls)."""
        if not self._flush_requested:
            self._flush_requested = True
            self._timer_lot.unpark_all()

    def _local_mtu(self, addr: object) -> int | None:
        """MAX_PLPMTU's local bound toward ``addr`` for the stack (``SctpEndpoint.local_mtu``)."""
        if not isinstance(addr, tuple) or len(addr) < 2 or not isinstance(addr[0], str):
            return None
        host = addr[0]
        if host not in self._local_mtus:
            if len(self._local_mtus) >= 4096:
                self._local_mtus.clear()  # bounded; routes may change anyway
            self._local_mtus[host] = local_mtu(self._family, (host, int(addr[1])))
        return self._local_mtus[host]

    def _socket_for(self, addr: PeerAddr) -> socket.socket:
        """The socket whose address is the source toward ``addr`` (multihomed: §6.4)."""
        sources = self._sources
        if sources is None:
            return self._sock
        return sources.for_peer(addr[0])

    def _sendto(self, data: bytes, addr: PeerAddr) -> bool:
        """One datagram; False when the kernel buffer is full (caller keeps it)."""
        sources = self._sources
        sock = self._sock if sources is None else sources.for_peer(addr[0])
        if self._path_filter is not None and self._path_filter(sock.getsockname()[0], addr):
            self._drops["test_path_filter"] += 1
            return True
        if type(data) is Fragmentable:
            # RFC 9260 §6.9: a chunk cut for a larger PMTU goes IP-fragmented: DF off for it.
            set_dont_fragment(sock, False)
            try:
                return self._sendto_df(sock, data, addr)
            finally:
                set_dont_fragment(sock, True)
        return self._sendto_df(sock, data, addr)

    def _sendto_df(self, sock: socket.socket, data: bytes, addr: PeerAddr) -> bool:
        for _attempt in range(2):
            try:
                sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as exc:
                if exc.errno in PENDING_ICMP_ERRNOS:
                    # An earlier ICMP report surfaced as this call's error and the datagram
                    # was not sent: read the error queue later, try this datagram once more.
                    self._icmp_pending = True
                    continue
                if exc.errno == errno.EBADF:
                    return True
                self._drops["send_failed"] += 1
                log.debug("sendto %s failed: %s", addr, exc)
                return True
            self._counters["datagrams_sent"] += 1
            return True
        self._drops["send_failed"] += 1
        return True

    def _transmit(self, batch: list[tuple[bytes, PeerAddr]]) -> None:
        """Send a flush's datagrams: one ``sendmmsg`` per burst where available."""
        self._counters["send_batches"] += 1
        if self._outgoing:
            self._outgoing.extend(batch)
            self._writer_lot.unpark_all()
            return
        start = 0
        # A Fragmentable datagram (rare: after the path MTU shrank) needs the socket's DF
        # option changed around it: such a flush goes datagram by datagram.
        if (
            self._batcher is not None
            and self._sources is None
            and self._path_filter is None
            and len(batch) > 1
            and not self._has_fragmentable(batch)
        ):
            retried = False
            while len(batch) - start > 1:
                sent, error = self._batcher.send(batch[start:] if start else batch)
                start += sent
                self._counters["datagrams_sent"] += sent
                if error == 0:
                    if sent == 0:  # nothing accepted and no error: leave it to sendto
                        break
                    continue
                if error == errno.EAGAIN:
                    break
                if error in PENDING_ICMP_ERRNOS and not retried:
                    # An earlier ICMP report surfaced here; the datagram was not sent.
                    self._icmp_pending = True
                    retried = True
                    continue
                # This datagram cannot be sent (sendto below counts and drops it).
                break
        for index in range(start, len(batch)):
            data, addr = batch[index]
            if not self._sendto(data, addr):
                self._outgoing.extend(batch[index:])
                self._writer_lot.unpark_all()
                return

    @staticmethod
    def _has_fragmentable(batch: list[tuple[bytes, PeerAddr]]) -> bool:
        return any(type(data) is Fragmentable for data, _addr in batch)

    def _flush(self) -> None:
        """Send what the stack wants sent, dispatch its events, re-arm the timer."""
        if self._flushing or self._sock.fileno() < 0:
            return
        self._flushing = True
        try:
            if self._handler is not None:
                # Messages first: what the handler sends in answer (a channel's CREDIT)
                # joins this flush's packet, with the SACK that the packet carrying the
                # message made due (RFC 9260 §6.2: bundled with outgoing DATA), instead
                # of a SACK alone now and the answer in a second packet right after.
                self._dispatch_events()
                if self._handled:
                    self._run_handler()
            self._unflushed = 0
            for _round in range(4):
                now = self._now()
                batch = self._sctp.datagrams_to_send(now)
                if batch:
                    self._transmit(batch)
                self._dispatch_events()
                if not self._icmp_pending:
                    break
                self._icmp_pending = False
                for sock in self._socks:
                    self._handle_icmp(read_error_queue(sock), now)
        finally:
            self._flushing = False
        if self._handled:
            self._run_handler()
        deadline = self._sctp.next_deadline()
        if deadline is not None and deadline < self._armed_deadline:
            scope = self._timer_scope
            if scope is not None:
                # Move the parked timer's deadline: no task switch (a received DATA arms the
                # delayed SACK timer, which the reply usually cancels again).
                self._armed_deadline = deadline
                scope.deadline = deadline
            else:
                self._timer_lot.unpark_all()

    def _run_handler(self) -> None:
        """Give the messages dispatched to the handler to it, in order, each counted as
        read (``message_consumed``) once handled. Not re-entered: a flush the handler
        causes (it sends) leaves its own messages to this loop."""
        if self._handling:
            return
        self._handling = True
        handled = self._handled
        try:
            while handled:
                message = handled.popleft()
                handler = self._handler
                assoc: UdpAssociation = message.association  # type: ignore[assignment]
                if handler is None:  # switched back to receive() meanwhile
                    self._ready.deliver(assoc, message)
                    continue
                try:
                    handler(message)
                except Exception:
                    # Nothing the handler does may stop the reader.
                    self._drops["handler_error"] += 1
                    log.exception("message handler raised")
                assoc._consumed(message)
        finally:
            self._handling = False
            done = self._handler_done
            if done is not None:
                try:
                    done()
                except Exception:
                    self._drops["handler_error"] += 1
                    log.exception("message handler's done callback raised")

    def _handle_icmp(self, reports: list[IcmpReport], now: float) -> None:
        for report in reports:
            if report.too_big and report.mtu > 0 and self._options.plpmtud:
                self._counters["icmp_packet_too_big"] += 1
                # RFC 8899 §4.6.2: PL_PTB_SIZE is the reported MTU less the headers below
                # SCTP; the stack checks the quoted verification tag (§4.6.1).
                size = report.mtu - header_overhead(report.destination[0])
                self._sctp.icmp_packet_too_big(report.destination, report.quoted, size, now)
                continue
            if not report.unreachable:
                self._drops["icmp_ignored"] += 1
                continue
            self._counters["icmp_unreachable"] += 1
            # RFC 9260 §10 / RFC 6951 §5: the stack checks the quoted verification tag.
            self._sctp.icmp_unreachable(report.destination, report.quoted, now)

    def _dispatch_events(self) -> None:
        sctp = self._sctp
        while True:
            event = sctp.next_event()
            if event is None:
                return
            if isinstance(event, ev.MessageReceived):
                assoc = self._wrapper(event.association_id)
                if assoc is None:
                    continue
                message = Message(event.data, event.stream, event.ppid, event.unordered, assoc)
                if (
                    self._handler is not None
                    and message.size <= self._handler_max_size
                    # In order behind a message of its stream waiting there; messages
                    # of other streams may be overtaken (SCTP orders per stream only,
                    # RFC 9260 §6.6): a request is not held behind bulk data.
                    and not assoc.inbox.holds(event.stream)
                ):
                    assoc._bytes_received += message.size
                    self._handled.append(message)
                else:
                    assoc._deliver(message)
            elif isinstance(event, ev.SendBufferAvailable):
                assoc = self._assocs.get(event.association_id)
                if assoc is not None:
                    assoc._senders.unpark_all()
            elif isinstance(event, ev.AssociationEstablished):
                assoc = self._wrapper(event.association_id)
                if assoc is None:
                    continue
                assoc._established(event.outbound_streams, event.inbound_streams)
                self._publish(AssociationEstablished(assoc))
            elif isinstance(event, ev.AssociationClosed):
                assoc = self._assocs.get(event.association_id)
                if assoc is None:
                    continue
                assoc._end(None)
                self._publish(AssociationClosed(assoc))
            elif isinstance(event, ev.AssociationAborted):
                assoc = self._assocs.get(event.association_id)
                if assoc is None:
                    continue
                error = AssociationAbortedError(event.reason, by_peer=event.by_peer)
                if assoc._closed_by_us and not event.by_peer:
                    assoc._end(None)
                else:
                    assoc._end(error)
                self._publish(AssociationAborted(assoc, error))
            elif isinstance(event, ev.AssociationRestarted):
                assoc = self._assocs.get(event.association_id)
                if assoc is not None:
                    self._publish(AssociationRestarted(assoc))
            elif isinstance(event, ev.PeerAddressChanged):
                assoc = self._assocs.get(event.association_id)
                if assoc is not None:
                    host, port = event.address
                    url = format_address("udp", [host], port, assoc._remote_sctp_port)
                    self._publish(PeerAddressChanged(assoc, url, event.state))

    def _wrapper(self, association_id: int) -> UdpAssociation | None:
        """The handle of a stack association, created on first sight (passive side)."""
        assoc = self._assocs.get(association_id)
        if assoc is not None:
            return assoc
        sctp_assoc = self._sctp.associations.get(association_id)
        if sctp_assoc is None:
            return None
        remote_port = getattr(sctp_assoc, "remote_port", None)
        if not isinstance(remote_port, int):
            remote_port = self._sctp_port
        assoc = UdpAssociation(self, sctp_assoc, remote_port)
        self._assocs[association_id] = assoc
        try:
            primary = next(iter(sctp_assoc.peer_addresses))
            key = ((primary[0], primary[1]), remote_port)
            if key not in self._by_peer:
                self._by_peer[key] = assoc
                assoc._peer_key = key
        except (StopIteration, TypeError, AttributeError):
            pass
        return assoc

    def _forget(self, assoc: UdpAssociation) -> None:
        """An association ended: drop it from the lookup tables (its handle lives on)."""
        self._assocs.pop(assoc.id, None)
        key = assoc._peer_key
        if key is not None and self._by_peer.get(key) is assoc:
            del self._by_peer[key]
        if not assoc.inbox.messages:
            self._ready.discard(assoc)

    def _publish(self, event: AssociationEvent) -> None:
        self._events.publish(event)


def _make_options(options: dict[str, Any]) -> Options:
    given = options.pop("options", None)
    if given is not None and not isinstance(given, Options):
        raise TypeError(f"options= must be an Options instance, not {type(given).__name__}")
    base = given if given is not None else Options()
    if not options:
        return base
    check_option_names("udp", options, Options.__dataclass_fields__)
    return replace(base, **options)


@asynccontextmanager
async def open_udp_endpoint(address: Address | str, **options: Any) -> AsyncIterator[UdpEndpoint]:
    """Open a ``udp://`` endpoint: userspace SCTP over one UDP socket (RFC 6951).

    Args:
        address: where to bind, e.g. ``udp://127.0.0.1:0`` (port 0: ephemeral) or
            ``udp://[::1]:9000?sctp_port=5001``.
        **options: fields of :class:`netchan.transport.sctp.Options` (``rto_min=0.05``...),
            or ``options=Options(...)`` plus overrides; ``rng=random.Random(seed)`` makes the
            stack's choices (tags, TSNs, cookie secrets) reproducible in tests;
            ``stack_factory=`` replaces the sans-io endpoint class (tests drive the driver with
            a scripted stack that way).

    Leaving the block aborts every association still open and closes the socket.
    """
    addr = parse_address(address) if isinstance(address, str) else address
    rng = options.pop("rng", None)
    stack_factory = options.pop("stack_factory", None)
    ep = UdpEndpoint(addr, _make_options(dict(options)), rng=rng, stack_factory=stack_factory)
    try:
        async with open_internal_nursery() as nursery:
            await nursery.start(ep._run)
            try:
                yield ep
            finally:
                ep._close()
    finally:
        ep._close()
