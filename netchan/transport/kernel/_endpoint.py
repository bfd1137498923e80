"""The ``sctp://`` endpoint: the operating system's SCTP driven by trio.

One one-to-many (``SOCK_SEQPACKET``) socket per endpoint, non-blocking, polled with
``trio.lowlevel.wait_readable`` / ``wait_writable``. A single reader task drains the socket:
data pieces are reassembled per (association, stream) until MSG_EOR, complete messages go to
their association's queue, notifications become the API's association events.

Memory is bounded: the reader stops reading while the messages queued for the application
exceed ``receive_window`` bytes; the kernel's receive buffer then fills, the advertised window
closes and the peer's senders block (RFC 9260 §6.1 flow control does the rest). Because the
kernel has one receive queue per socket, an association whose messages are never read
eventually stops the reading of the others too (see docs/kernel.md).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import MappingProxyType
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
    AssociationStatistics,
    Endpoint,
    EndpointStatistics,
    Message,
    PeerAddressChanged,
)
from .._common import (
    EventQueue,
    Inbox,
    ReadyRing,
    raise_if_ended,
    resolve_host,
)
from .._nursery import open_internal_nursery
from ..errors import (
    AssociationAbortedError,
    InvalidAddressError,
    MessageTooLargeError,
    SCTPUnavailableError,
    TransportError,
)
from . import _auth, _notify, _platform
from ._options import KernelOptions, _options
from ._socket import PeerAddr, Received, SctpSocket

# Linux's enum sctp_sstat_state (SCTP_STATUS), named as RFC 9260 names the states.
_STATE_NAMES = {
    0: "CLOSED",
    1: "CLOSED",
    2: "COOKIE_WAIT",
    3: "COOKIE_ECHOED",
    4: "ESTABLISHED",
    5: "SHUTDOWN_PENDING",
    6: "SHUTDOWN_SENT",
    7: "SHUTDOWN_RECEIVED",
    8: "SHUTDOWN_ACK_SENT",
}

_MAX_NOTIFICATION = 64 * 1024
_RECVS_PER_WAKEUP = 64  # recvmsg calls per wake-up before yielding to other tasks


def _url(addrs: list[PeerAddr] | tuple[PeerAddr, ...]) -> str:
    """``sctp://`` URL of a peer: its addresses (same port) joined by commas."""
    if not addrs:
        return "sctp://unknown:0"
    hosts = [h for h, _ in addrs]
    return format_address("sctp", hosts, addrs[0][1])


async def _resolve(address: Address) -> list[PeerAddr]:
    """Every host of ``address`` as an IP address (the one resolver, transport/_common.py)."""
    return [
        (await resolve_host(host, address.port, socktype=socket.SOCK_STREAM), address.port)
        for host in address.hosts
    ]


def _validate(data: bytes, stream: int, ppid: int, streams: int, max_size: int) -> None:
    """Caller mistakes, caught before anything reaches the kernel."""
    if not 0 <= stream < streams:
        raise ValueError(f"stream {stream} not in 0..{streams - 1} (outbound streams)")
    if not 0 <= ppid <= 0xFFFFFFFF:
        raise ValueError(f"ppid {ppid} does not fit in 32 bits")
    if len(data) > max_size:
        raise MessageTooLargeError(
            f"message of {len(data)} bytes exceeds max_message_size {max_size}"
        )


class KernelAssociation(Association):
    """One association of a :class:`KernelEndpoint`.

    The kernel identifies it by an ``sctp_assoc_t``; the API's ``id`` is the endpoint's own
    counter, because an association set up implicitly has no kernel id at first.
    """

    def __init__(
        self, ep: KernelEndpoint, kid: int, peers: list[PeerAddr], established: bool
    ) -> None:
        self._ep = ep
        ep._last_id += 1
        self._id = ep._last_id  # ours: never reused within the endpoint
        # The kernel's sctp_assoc_t; 0 until the kernel has assigned one (an association set
        # up implicitly by sendmsg gets its id only as the handshake progresses).
        self._kid = kid
        self._peers = list(peers)
        self._out = ep._opts.outbound_streams
        self._in = ep._opts.inbound_streams
        self._established = trio.Event()
        if established:
            self._established.set()
        self._ended = trio.Event()
        self._local_closed = False
        self._peer_closed = False  # graceful end (either side started it)
        self._shutdown_received = False
        self._error: AssociationAbortedError | None = None
        self.inbox = Inbox()  # delivered, not yet read (transport/_common.py)
        self.messages_sent = 0
        self.messages_received = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.drops: dict[str, int] = {}
        # SCTP-AUTH: the key the peer signs with (our active key unless the kernel reported
        # another one with SCTP_AUTH_NEW_KEY).
        self._peer_key: int | None = None

    @property
    def peer_key_id(self) -> int | None:
        """The Shared Key Identifier the peer's AUTH chunks use (RFC 4895), or None."""
        return self._peer_key

    def __repr__(self) -> str:
        return f"<KernelAssociation id={self._id} kid={self._kid} peer={_url(self._peers)}>"

    # --- API properties ---------------------------------------------------------------------

    @property
    def id(self) -> int:
        return self._id

    @property
    def peer_addresses(self) -> tuple[str, ...]:
        return tuple(_url([p]) for p in self._peers)

    @property
    def primary_path(self) -> str:
        """The primary path as the kernel reports it (SCTP_STATUS), as a URL."""
        if self._kid and not self._ended.is_set():
            addr = self._ep._sock.primary_address(self._kid)
            if addr is not None:
                return _url([addr])
        return _url(self._peers[:1])

    def set_primary(self, address: str) -> None:
        """SCTP_PRIMARY_ADDR for one of :attr:`peer_addresses`; the kernel reports it with an
        SCTP_ADDR_MADE_PRIM notification (a ``PeerAddressChanged`` event, ``"primary"``)."""
        target = parse_address(address)
        if target.scheme != "sctp" or len(target.hosts) != 1:
            raise InvalidAddressError(f"{address!r} is not one sctp:// peer address")
        wanted = str(ipaddress.ip_address(target.hosts[0]))
        for peer in self._peers:
            if str(ipaddress.ip_address(peer[0])) == wanted and peer[1] == target.port:
                if not self._kid or self._ended.is_set():
                    raise trio.ClosedResourceError("the association is not open")
                self._ep._sock.set_primary(self._kid, peer)
                return
        raise InvalidAddressError(f"{address!r} is not an address of the peer ({self!r})")

    @property
    def outbound_streams(self) -> int:
        return self._out

    @property
    def inbound_streams(self) -> int:
        return self._in

    # --- state helpers ----------------------------------------------------------------------

    def _target(self) -> tuple[int, PeerAddr | None]:
        """How sendmsg names this association: by id, or by peer address until it has one."""
        if self._kid:
            return self._kid, None
        return 0, self._peers[0]

    def _check_sendable(self) -> None:
        # From the peer's SHUTDOWN on, it takes no new data (RFC 9260 §9.2): ended for send.
        raise_if_ended(
            closed_by_us=self._local_closed or self._ep._closed,
            ended=self._ended.is_set() or self._shutdown_received,
            error=self._error,
            receiving=False,
        )

    def _end(self, error: AssociationAbortedError | None) -> None:
        """The association is gone (closed gracefully when error is None)."""
        if self._ended.is_set():
            return
        if error is None:
            self._peer_closed = True
        else:
            self._error = error
        self._established.set()  # wake connect() waiters; they check _error
        self._ended.set()
        self.inbox.waiters.unpark_all()
        self._ep._forget(self)

    # --- API methods ------------------------------------------------------------------------

    async def send(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        self._check_sendable()
        _validate(data, stream, ppid, self._out, self._ep._opts.max_message_size)
        flags = self._ep._c.sctp_unordered if unordered else 0
        await self._ep._send(self, data, stream=stream, ppid=ppid, flags=flags, to=None)
        self.messages_sent += 1
        self.bytes_sent += len(data)
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def receive(self) -> Message:
        await trio.lowlevel.checkpoint_if_cancelled()
        inbox = self.inbox
        parked = False
        while True:
            if self._local_closed or self._ep._closed:
                raise trio.ClosedResourceError("association closed")
            if inbox.messages:
                msg = inbox.take()
                if not inbox.messages:
                    self._ep._ready.discard(self)
                self._ep._consumed(self, len(msg.data))
                if not parked:
                    # Taken: a cancellation from here on must not lose it. (After parking,
                    # the wait already was the checkpoint, as in trio's own channels.)
                    await trio.lowlevel.cancel_shielded_checkpoint()
                return msg
            # Messages that arrived before the end were read: now the end shows (_api.py).
            raise_if_ended(
                closed_by_us=False,
                ended=self._ended.is_set(),
                error=self._error,
                receiving=True,
            )
            parked = True
            await inbox.waiters.park()

    def _close_locally(self) -> None:
        """We closed it: unread messages are dropped (and stop counting against the window)."""
        self._local_closed = True
        dropped = self.inbox.drop_all()
        if dropped:
            self._ep._consumed(self, dropped)
        self._ep._ready.discard(self)
        self.inbox.waiters.unpark_all()

    async def aclose(self) -> None:
        if self._local_closed:
            await trio.lowlevel.checkpoint()
            return
        self._close_locally()
        if self._ended.is_set() or self._ep._closed:
            await trio.lowlevel.checkpoint()
            return
        try:
            await self._established.wait()
            if not self._ended.is_set():
                # RFC 9260 §9.2: SHUTDOWN once everything outstanding is acknowledged; the
                # kernel starts it on sendmsg with SCTP_EOF and no data.
                # An error means it is already going away; the notification ends it.
                with contextlib.suppress(OSError):
                    kid, to = self._target()
                    self._ep._sock.send(
                        b"", stream=0, ppid=0, flags=self._ep._c.sctp_eof, assoc_id=kid, to=to
                    )
                await self._ended.wait()
        except BaseException:
            self._abort_now("association close cancelled")
            raise

    def abort(self, reason: str = "") -> None:
        already = self._local_closed
        self._close_locally()
        if already or self._ended.is_set() or self._ep._closed:
            return
        self._abort_now(reason)

    def _abort_now(self, reason: str) -> None:
        if self._ended.is_set():
            return
        # RFC 9260 §9.1 / RFC 6458 SCTP_ABORT: the data becomes the user-initiated abort
        # cause (RFC 9260 §3.3.10.12).
        with contextlib.suppress(OSError):
            kid, to = self._target()
            self._ep._sock.send(
                reason.encode("utf-8")[:256],
                stream=0,
                ppid=0,
                flags=self._ep._c.sctp_abort,
                assoc_id=kid,
                to=to,
            )
        err = AssociationAbortedError(
            f"aborted locally{': ' + reason if reason else ''}", by_peer=False
        )
        self._end(err)
        self._ep._events.publish(AssociationAborted(self, err))

    def statistics(self) -> AssociationStatistics:
        st = None if self._ended.is_set() or not self._kid else self._ep._sock.status(self._kid)
        if st is None:
            # gone, or set up implicitly and the kernel has not named it yet
            state = "CLOSED" if self._ended.is_set() else "COOKIE_WAIT"
            return AssociationStatistics(
                state=state,
                outbound_streams=self._out,
                inbound_streams=self._in,
                messages_sent=self.messages_sent,
                messages_received=self.messages_received,
                bytes_sent=self.bytes_sent,
                bytes_received=self.bytes_received,
                receive_buffered=self.inbox.bytes,
                drops=MappingProxyType(dict(self.drops)),
            )
        return AssociationStatistics(
            state=_STATE_NAMES.get(st.state, str(st.state)),
            outbound_streams=st.outbound_streams or self._out,
            inbound_streams=st.inbound_streams or self._in,
            packets_sent=st.packets_sent,
            packets_received=st.packets_received,
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
            messages_sent=self.messages_sent,
            messages_received=self.messages_received,
            retransmissions=st.retransmitted_chunks,
            srtt=st.srtt,
            rto=st.rto,
            cwnd=st.cwnd,
            peer_rwnd=st.peer_rwnd,
            local_rwnd=st.local_rwnd,
            bytes_in_flight=None,  # the kernel reports chunk counts only, not bytes
            receive_buffered=self.inbox.bytes,
            drops=MappingProxyType(dict(self.drops)),
        )


class KernelEndpoint(Endpoint):
    """A one-to-many kernel SCTP socket with the endpoint API (see the module docstring)."""

    def __init__(
        self, sock: SctpSocket, hosts: list[str], opts: KernelOptions, c: _platform.SctpConstants
    ) -> None:
        self._sock = sock
        self._hosts = hosts
        self._port = sock.local_port()
        self._opts = opts
        self._c = c
        self._closed = False
        self._assocs: dict[int, KernelAssociation] = {}  # by kernel id
        self._pending: list[KernelAssociation] = []  # kernel id not known yet
        self._live: list[KernelAssociation] = []  # every open association, in setup order
        self._last_id = 0
        self._by_peer: dict[PeerAddr, KernelAssociation] = {}
        self._ready: ReadyRing[KernelAssociation] = ReadyRing()
        self._events = EventQueue()
        self._queued_bytes = 0  # in every association's inbox: the reader stops above the window
        self._reader_resume = trio.Event()
        self._partial: dict[tuple[int, int], bytearray] = {}
        self._discarding: set[tuple[int, int]] = set()
        self._notif_buf = bytearray()
        self._notif_discarding = False
        self._write_lock = trio.Lock()
        self._reader_scope = trio.CancelScope()
        self.drops: dict[str, int] = {}
        self.notifications = 0
        # SCTP-AUTH keys (kernel/_auth.py), for rotation on the socket and live associations.
        self._keyring = (
            _auth.Keyring(sock, opts.auth_keys, opts.auth_active_key) if opts.auth_keys else None
        )

    # --- API --------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return format_address("sctp", self._hosts, self._port)

    @property
    def associations(self) -> tuple[Association, ...]:
        return tuple(self._live)

    def _keys(self) -> _auth.Keyring:
        if self._keyring is None:
            raise TransportError("this endpoint was opened without auth_keys (SCTP-AUTH)")
        return self._keyring

    def _live_kids(self) -> list[int]:
        return [a._kid for a in self._live if a._kid and not a._ended.is_set()]

    def add_auth_key(self, key_id: int, key: bytes) -> None:
        """Add an SCTP-AUTH shared key; see ``Endpoint.add_auth_key``."""
        self._keys().add(key_id, key, self._live_kids())

    def set_active_auth_key(self, key_id: int) -> None:
        """Sign with this key from now on (new and live associations)."""
        self._keys().set_active(key_id, self._live_kids())
        for assoc in self._live:
            # Linux reports the peer's key only when it differs from the association's
            # active key (SCTP_AUTH_NEW_KEY): until such a report, it is this one.
            assoc._peer_key = key_id

    def remove_auth_key(self, key_id: int) -> None:
        """Forget a key (not the active one)."""
        self._keys().remove(key_id, self._live_kids())

    async def connect(self, address: str) -> Association:
        self._check_open()
        addr = self._parse(address)
        peers = await _resolve(addr)
        assoc = self._find(peers)
        if assoc is None:
            try:
                aid = self._sock.connectx(peers)
            except OSError as exc:
                raise trio.BrokenResourceError(f"cannot connect to {address}") from (
                    AssociationAbortedError(f"connect failed: {exc.strerror}", by_peer=False)
                )
            assoc = self._register(aid, peers, established=False)
        await assoc._established.wait()
        if assoc._error is not None:
            raise trio.BrokenResourceError(
                f"cannot connect to {address}: {assoc._error}"
            ) from assoc._error
        if assoc._local_closed or self._closed:
            raise trio.ClosedResourceError("closed while connecting")
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
        self._check_open()
        addr = self._parse(to)
        peers = await _resolve(addr)
        assoc = self._find(peers)
        if assoc is not None:
            await assoc.send(data, stream=stream, ppid=ppid, unordered=unordered)
            return assoc
        # Implicit setup (RFC 6458 §3.1.4): sendmsg to an address with no association
        # starts the handshake and queues the message until COOKIE ACK.
        _validate(data, stream, ppid, self._opts.outbound_streams, self._opts.max_message_size)
        flags = self._c.sctp_unordered if unordered else 0
        await self._send(None, data, stream=stream, ppid=ppid, flags=flags, to=peers[0])
        # Another task may have set it up while this one waited for room; the kernel then
        # used that association, and so do we.
        assoc = self._find(peers)
        if assoc is None:
            aid = self._sock.assoc_id_for(peers[0])
            if aid is None:
                raise trio.BrokenResourceError(f"association to {to} vanished") from (
                    AssociationAbortedError("association setup failed", by_peer=False)
                )
            assoc = self._register(aid, peers, established=False)
        assoc.messages_sent += 1
        assoc.bytes_sent += len(data)
        return assoc

    async def receive(self) -> Message:
        await trio.lowlevel.checkpoint_if_cancelled()
        parked = False
        while True:
            self._check_open()
            taken = self._ready.take()  # round-robin across associations
            if taken is not None:
                assoc, msg = taken
                self._consumed(assoc, len(msg.data))
                if not parked:
                    await trio.lowlevel.cancel_shielded_checkpoint()
                return msg
            parked = True
            await self._ready.waiters.park()

    async def next_event(self) -> AssociationEvent:
        return await self._events.get()

    def statistics(self) -> EndpointStatistics:
        sent = received = 0
        for a in self._assocs.values():
            st = self._sock.status(a._kid) if a._kid else None
            if st is not None:
                sent += st.packets_sent
                received += st.packets_received
        return EndpointStatistics(
            associations=len(self._live),
            datagrams_received=received,
            datagrams_sent=sent,
            drops=MappingProxyType(dict(self.drops)),
            events_discarded=self._events.discarded,
        )

    async def aclose(self) -> None:
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        for assoc in list(self._live):
            assoc.abort("endpoint closed")
        self._closed = True
        self._reader_scope.cancel()
        # (Each association's readers were woken by its abort above.)
        self._ready.waiters.unpark_all()
        self._events.close()
        trio.lowlevel.notify_closing(self._sock.fd)
        self._sock.close()
        await trio.lowlevel.checkpoint()

    # --- internals: bookkeeping -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("endpoint closed")

    def _parse(self, url: str) -> Address:
        addr = parse_address(url)
        if addr.scheme != "sctp":
            raise InvalidAddressError(f"an sctp:// endpoint cannot reach {url!r}")
        return addr

    def _find(self, peers: list[PeerAddr]) -> KernelAssociation | None:
        for p in peers:
            a = self._by_peer.get(p)
            if a is not None and not a._ended.is_set():
                return a
        return None

    def _register(self, kid: int, peers: list[PeerAddr], *, established: bool) -> KernelAssociation:
        assoc = self._assocs.get(kid) if kid else None
        if assoc is None:
            assoc = KernelAssociation(self, kid, peers, established)
            if kid:
                self._assocs[kid] = assoc
            else:
                self._pending.append(assoc)
            self._live.append(assoc)
        for p in peers:
            self._by_peer.setdefault(p, assoc)
        return assoc

    def _bind_kid(self, kid: int) -> KernelAssociation | None:
        """Find the association a new kernel id belongs to: known, or pending (by address)."""
        assoc = self._assocs.get(kid)
        if assoc is not None or not self._pending:
            return assoc
        peers = self._sock.peer_addresses(kid)
        for cand in self._pending:
            if any(p in peers for p in cand._peers):
                self._pending.remove(cand)
                cand._kid = kid
                self._assocs[kid] = cand
                for p in peers:
                    self._by_peer.setdefault(p, cand)
                return cand
        return None

    def _forget(self, assoc: KernelAssociation) -> None:
        if assoc._kid:
            self._assocs.pop(assoc._kid, None)
        if assoc in self._pending:
            self._pending.remove(assoc)
        if assoc in self._live:
            self._live.remove(assoc)
        for p in [p for p, a in self._by_peer.items() if a is assoc]:
            del self._by_peer[p]

    def _push_event(self, ev: AssociationEvent) -> None:
        self._events.publish(ev)

    def _count(self, what: str, assoc: KernelAssociation | None = None) -> None:
        target = assoc.drops if assoc is not None else self.drops
        target[what] = target.get(what, 0) + 1

    def _consumed(self, assoc: KernelAssociation, n: int) -> None:
        """``n`` bytes of ``assoc``'s messages were taken (or dropped) by the application."""
        self._queued_bytes -= n
        if self._queued_bytes < self._opts.receive_window:
            self._reader_resume.set()

    # --- internals: sending -----------------------------------------------------------------

    async def _send(
        self,
        assoc: KernelAssociation | None,
        data: bytes,
        *,
        stream: int,
        ppid: int,
        flags: int,
        to: PeerAddr | None,
    ) -> None:
        """sendmsg, waiting for the socket to become writable on EAGAIN (backpressure)."""
        backoff = 0.0
        while True:
            if self._closed:
                raise trio.ClosedResourceError("endpoint closed")
            if assoc is not None:
                assoc._check_sendable()
            try:
                self._sock.send(
                    data,
                    stream=stream,
                    ppid=ppid,
                    flags=flags,
                    assoc_id=assoc._target()[0] if assoc is not None else 0,
                    to=assoc._target()[1] if assoc is not None else to,
                )
                return
            except BlockingIOError:
                pass
            except OSError as exc:
                self._raise_send_error(assoc, exc, len(data), stream)
            # Wait for room. The kernel may report writable while this association (or this
            # message size) still has none, so spurious wake-ups back off a little.
            async with self._write_lock:
                if backoff:
                    await trio.sleep(backoff)
                await trio.lowlevel.wait_writable(self._sock.fd)
            backoff = min(0.02, backoff * 2 or 0.001)

    def _raise_send_error(
        self, assoc: KernelAssociation | None, exc: OSError, size: int, stream: int
    ) -> None:
        if exc.errno == errno.EMSGSIZE:
            raise MessageTooLargeError(
                f"message of {size} bytes is larger than the kernel accepts (the socket send "
                "buffer; raise send_buffer / net.core.wmem_max)"
            ) from exc
        if exc.errno == errno.EINVAL and assoc is not None and stream >= assoc._out:
            raise ValueError(f"stream {stream} not below outbound streams {assoc._out}")
        if assoc is not None:
            if assoc._error is not None:
                raise trio.BrokenResourceError("association aborted") from assoc._error
            reason = f"send failed: {os.strerror(exc.errno or 0)}"
            raise trio.BrokenResourceError(reason) from AssociationAbortedError(
                reason, by_peer=exc.errno in (errno.ECONNRESET, errno.EPIPE)
            )
        raise trio.BrokenResourceError(f"send failed: {exc.strerror}") from (
            AssociationAbortedError(f"send failed: {exc.strerror}", by_peer=False)
        )

    # --- internals: receiving ---------------------------------------------------------------

    async def _reader(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self._reader_scope:
            task_status.started()
            while True:
                while self._queued_bytes >= self._opts.receive_window:
                    self._reader_resume = trio.Event()
                    await self._reader_resume.wait()
                await trio.lowlevel.wait_readable(self._sock.fd)
                for _ in range(_RECVS_PER_WAKEUP):
                    try:
                        got = self._sock.receive()
                    except OSError as exc:
                        # Errors reported on the socket itself (e.g. ICMP after a send):
                        # count; the association notifications say what it means.
                        self._count(f"recv_error_{errno.errorcode.get(exc.errno or 0, '?')}")
                        break
                    if got is None:
                        break
                    self._handle(got)
                    if self._queued_bytes >= self._opts.receive_window:
                        break
                await trio.lowlevel.checkpoint()

    def _handle(self, got: Received) -> None:
        if got.notification:
            if self._notif_discarding:
                self._notif_discarding = not got.eor
                return
            self._notif_buf += got.data
            if not got.eor:
                if len(self._notif_buf) > _MAX_NOTIFICATION:
                    # e.g. SEND_FAILED carrying a huge undelivered message: skip to its end
                    self._notif_buf.clear()
                    self._notif_discarding = True
                    self._count("oversize_notification")
                return
            data = bytes(self._notif_buf)
            self._notif_buf.clear()
            self.notifications += 1
            if self._keyring is not None:
                new_key = _auth.decode_new_key(data)
                if new_key is not None:
                    peer = self._bind_kid(new_key[0])
                    if peer is not None:
                        peer._peer_key = new_key[1]
                    return
            note = _notify.decode(data, self._c)
            if note is None:
                self._count("unknown_notification")
                return
            self._on_notification(note)
            return
        if got.assoc_id == -1:
            self._count("no_rcvinfo")
            return
        key = (got.assoc_id, got.stream)
        if key in self._discarding:
            if got.eor:
                self._discarding.discard(key)
            return
        if not got.eor:
            buf = self._partial.setdefault(key, bytearray())
            buf += got.data
            if len(buf) > self._opts.max_message_size:
                del self._partial[key]
                self._discarding.add(key)
                self._count("oversize_message")
            return
        data = got.data
        part = self._partial.pop(key, None)
        if part is not None:
            part += data
            data = bytes(part)
        assoc = self._bind_kid(got.assoc_id)
        if assoc is None:
            assoc = self._adopt(got.assoc_id)
        if assoc is None or assoc._local_closed:
            self._count("unknown_association" if assoc is None else "after_close")
            return
        msg = Message(data, got.stream, got.ppid, got.unordered, assoc)
        assoc.messages_received += 1
        assoc.bytes_received += len(data)
        self._queued_bytes += len(data)
        self._ready.deliver(assoc, msg)

    def _adopt(self, aid: int) -> KernelAssociation | None:
        """An association we have not seen COMM_UP for (should not happen; be robust)."""
        st = self._sock.status(aid)
        if st is None:
            return None
        assoc = self._register(aid, self._sock.peer_addresses(aid), established=True)
        assoc._out, assoc._in = st.outbound_streams, st.inbound_streams
        return assoc

    def _on_notification(self, note: _notify.Notification) -> None:
        c = self._c
        assoc = self._bind_kid(note.assoc_id)
        if isinstance(note, _notify.AssocChange):
            self._on_assoc_change(note, assoc)
        elif assoc is None:
            self._count("notification_unknown_association")
        elif isinstance(note, _notify.PeerAddrChange):
            if note.address is not None:
                state = c.addr_states.get(note.state, f"state {note.state}")
                if state == "added" and note.address not in assoc._peers:
                    assoc._peers.append(note.address)
                    self._by_peer.setdefault(note.address, assoc)
                elif state == "primary" and note.address in assoc._peers:
                    assoc._peers.remove(note.address)
                    assoc._peers.insert(0, note.address)
                self._push_event(PeerAddressChanged(assoc, _url([note.address]), state))
        elif isinstance(note, _notify.ShutdownEvent):
            # RFC 9260 §9.2: the peer sent SHUTDOWN; it will send no new data and we may not.
            assoc._shutdown_received = True
        elif isinstance(note, _notify.SendFailed):
            self._count("send_failed", assoc)
        else:
            if note.type == c.sctp_partial_delivery_event:
                for key in [k for k in self._partial if k[0] == note.assoc_id]:
                    del self._partial[key]
                self._count("partial_delivery_aborted", assoc)
            else:
                self._count("remote_error", assoc)

    def _on_assoc_change(self, note: _notify.AssocChange, assoc: KernelAssociation | None) -> None:
        c = self._c
        if note.state == c.sctp_comm_up:
            if assoc is None:
                peers = self._sock.peer_addresses(note.assoc_id)
                assoc = self._register(note.assoc_id, peers, established=False)
            elif not assoc._peers or len(assoc._peers) == 1:
                peers = self._sock.peer_addresses(note.assoc_id)
                if peers:
                    assoc._peers = peers
                    for p in peers:
                        self._by_peer.setdefault(p, assoc)
            assoc._out = note.outbound_streams
            assoc._in = note.inbound_streams
            if self._keyring is not None:
                if not _auth.peer_capable(self._sock, note.assoc_id):
                    # Linux associates with a peer offering no AUTH; this endpoint requires
                    # it (docs/security.md): refuse, as the userspace stack does.
                    self._count("auth_refused")
                    assoc._abort_now(_auth.NO_AUTH)
                    return
                if assoc._peer_key is None:
                    assoc._peer_key = self._keyring.active
            assoc._established.set()
            self._push_event(AssociationEstablished(assoc))
            return
        if assoc is None and note.state in (c.sctp_comm_lost, c.sctp_cant_str_assoc):
            # A failed setup before the kernel id was known: the pending association whose
            # peer no longer has an association in the kernel is the one.
            for cand in list(self._pending):
                if self._sock.assoc_id_for(cand._peers[0]) is None:
                    assoc = cand
                    break
        if assoc is None:
            return  # we already forgot it (e.g. we aborted it ourselves)
        if note.state == c.sctp_restart:
            assoc._out = note.outbound_streams or assoc._out
            assoc._in = note.inbound_streams or assoc._in
            self._push_event(AssociationRestarted(assoc))
        elif note.state == c.sctp_shutdown_comp:
            assoc._end(None)
            self._push_event(AssociationClosed(assoc))
        elif note.state in (c.sctp_comm_lost, c.sctp_cant_str_assoc):
            if note.abort_causes:
                err = AssociationAbortedError(_notify.abort_reason(note.abort_causes), by_peer=True)
            else:
                what = "lost" if note.state == c.sctp_comm_lost else "could not be set up"
                code = note.error
                if code == errno.ECONNREFUSED:
                    err = AssociationAbortedError(
                        f"association {what}: peer refused (ABORT/ICMP)", by_peer=True
                    )
                elif code in (errno.ETIMEDOUT, 0):
                    err = AssociationAbortedError(
                        f"association {what}: peer unreachable (retransmission limit)",
                        by_peer=False,
                    )
                else:
                    err = AssociationAbortedError(
                        f"association {what}: {errno.errorcode.get(code, f'error {code}')}",
                        by_peer=code in (errno.ECONNRESET, 12),
                    )
            assoc._end(err)
            self._push_event(AssociationAborted(assoc, err))


def _family(hosts: list[str]) -> int:
    if any(ipaddress.ip_address(h).version == 6 for h in hosts):
        return socket.AF_INET6
    return socket.AF_INET


def _force_buffer(sock: SctpSocket, name: str, size: int) -> None:
    force = {"SO_SNDBUF": 32, "SO_RCVBUF": 33}  # SO_SNDBUFFORCE / SO_RCVBUFFORCE (Linux)
    try:
        sock.sock.setsockopt(socket.SOL_SOCKET, force[name], size)
    except OSError:
        sock.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, name), size)


@asynccontextmanager
async def open_kernel_endpoint(address: Address, **options: Any) -> AsyncIterator[Endpoint]:
    """Open an ``sctp://`` endpoint on the operating system's SCTP.

    Raises at once (before yielding):
        SCTPUnavailableError: the OS has no SCTP (or this OS is not ported yet); ``udp://``
            works everywhere.
        TypeError: an unknown option.
    """
    opts = _options(options)
    consts = _platform.current()
    if consts is None:
        raise SCTPUnavailableError(
            "the sctp:// backend supports Linux only so far; use udp:// (netchan's userspace "
            "SCTP over UDP) instead"
        )
    hosts = [host for host, _port in await _resolve(address)]
    sock = SctpSocket(_family(hosts), consts, opts.recv_chunk)
    try:
        c = consts
        sock.set_initmsg(
            opts.outbound_streams,
            opts.inbound_streams,
            opts.max_init_retransmits,
            round(opts.rto_max * 1000),
        )
        sock.set_int(c.sctp_recvrcvinfo, 1)
        for event in (
            c.sctp_assoc_change,
            c.sctp_peer_addr_change,
            c.sctp_send_failed_event,
            c.sctp_remote_error,
            c.sctp_shutdown_event,
            c.sctp_partial_delivery_event,
        ):
            sock.subscribe(event)
        sock.set_rtoinfo(opts.rto_initial, opts.rto_max, opts.rto_min)
        sock.set_assoc_max_retrans(opts.association_max_retransmissions)
        if opts.heartbeat_interval > 0:
            sock.set_heartbeat(opts.heartbeat_interval)
        sock.set_delayed_sack(opts.delayed_ack_timeout, opts.delayed_ack_packets)
        if opts.nodelay:
            sock.set_int(c.sctp_nodelay, 1)
        # Allow pieces of different associations to interleave during partial delivery,
        # so one huge message does not hold up other associations (level 1, RFC 6458
        # §8.1.20); reassembly is per (association, stream) anyway.
        sock.set_int(c.sctp_fragment_interleave, 1)
        _force_buffer(sock, "SO_SNDBUF", opts.send_buffer)
        _force_buffer(sock, "SO_RCVBUF", opts.receive_window)
        if opts.udp_encapsulation_port is not None:
            sock.set_udp_encaps_port(opts.udp_encapsulation_port)
        if opts.auth_keys:
            _auth.configure(sock, opts.auth_keys, opts.auth_active_key)
        sock.bind([(h, address.port) for h in hosts])
        sock.sock.listen(128)
    except BaseException:
        sock.close()
        raise
    ep = KernelEndpoint(sock, hosts, opts, consts)
    try:
        async with open_internal_nursery() as nursery:
            await nursery.start(ep._reader)
            try:
                yield ep
            finally:
                with trio.CancelScope(shield=True):
                    await ep.aclose()
    finally:
        if not ep._closed:
            sock.close()
