"""An in-memory implementation of the endpoint API (``netchan.transport._api``) for tests.

It behaves like the real backends where the channel layer can tell the difference:

* one association per pair of endpoints, found again by ``connect`` / ``send(to=...)``;
* negotiated stream counts (``min`` of both sides' offers), ``ValueError`` on a bad stream id;
* messages delivered reliably and in order per stream (here: in order per association, which
  is a stronger guarantee than SCTP gives and never weaker);
* backpressure: ``send`` blocks while the peer's unread bytes exceed its receive window
  (a message larger than the window still goes through once the queue is empty);
* peer restart (a new endpoint on a crashed one's address reconnects: ``AssociationRestarted``
  on the other side, same association, RFC 9260 §5.2.4),
* graceful close (``AssociationClosed`` on both sides; data already sent stays readable, then
  the peer's ``receive`` raises ``EndOfChannel``), abort (``AssociationAborted``;
  ``BrokenResourceError`` with the cause on the peer, ``ClosedResourceError`` locally) and a
  crashed peer, detected after ``dead_after`` seconds of (trio) time, as heartbeats would;
* SCTP-AUTH keys (``open_endpoint(..., auth_keys={id: key}, auth_active_key=id)``, RFC 4895 as
  the userspace stack does it): a keyless peer, or one whose active key the other side does
  not hold, is refused at ``connect`` with the stack's messages; ``peer_key_id`` is the key
  the connecting side uses.

It passes the endpoint conformance suite (tests/memory/test_suite.py), as the real backends do.

It is deterministic under ``trio.testing.MockClock``: nothing depends on wall time.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import trio

from netchan.transport import (
    Association,
    AssociationAborted,
    AssociationAbortedError,
    AssociationClosed,
    AssociationEstablished,
    AssociationEvent,
    AssociationRestarted,
    AssociationStatistics,
    Endpoint,
    EndpointStatistics,
    InvalidAddressError,
    Message,
    MessageTooLargeError,
    parse_address,
)
from netchan.transport._common import EventQueue
from netchan.transport._nursery import open_internal_nursery


class MemoryNetwork:
    """A set of in-memory endpoints that can reach each other by address.

    Attributes:
        dead_after: seconds after a crash before the survivors' associations abort
            (the heartbeat-bounded detection time of a real stack).
        receive_window: unread bytes an endpoint accepts per association before senders block
            (an endpoint may be given its own, ``open_endpoint(..., receive_window=N)``).
        streams: streams offered by each endpoint.
        max_message_size: largest message accepted by ``send``.
    """

    def __init__(
        self,
        *,
        dead_after: float = 3.0,
        receive_window: int = 256 * 1024,
        streams: int = 1024,
        max_message_size: int = 64 * 1024 * 1024,
    ) -> None:
        self.dead_after = dead_after
        self.receive_window = receive_window
        self.streams = streams
        self.max_message_size = max_message_size
        self.endpoints: dict[tuple[str, int], MemoryEndpoint] = {}
        self._ports = itertools.count(40000)
        self._assoc_ids = itertools.count(1)

    def _bind(self, address: str) -> tuple[str, str, int]:
        addr = parse_address(address)
        port = addr.port or next(self._ports)
        host = addr.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if (host, port) in self.endpoints:
            raise OSError(f"address already in use: {addr.scheme}://{host}:{port}")
        return addr.scheme, host, port

    @asynccontextmanager
    async def open_endpoint(
        self,
        address: str,
        *,
        receive_window: int | None = None,
        auth_keys: dict[int, bytes] | None = None,
        auth_active_key: int | None = None,
    ) -> AsyncIterator[MemoryEndpoint]:
        """Bind an endpoint to ``address`` (port 0: ephemeral) for the block's duration."""
        scheme, host, port = self._bind(address)
        async with open_internal_nursery() as nursery:
            ep = MemoryEndpoint(self, scheme, host, port, nursery)
            if auth_keys:
                ep.auth_keys = dict(auth_keys)
                ep.auth_active = min(auth_keys) if auth_active_key is None else auth_active_key
            if receive_window is not None:
                ep.receive_window = receive_window
            self.endpoints[(host, port)] = ep
            try:
                yield ep
            finally:
                await ep.aclose()
                nursery.cancel_scope.cancel()

    def factory(self) -> Callable[[str], AbstractAsyncContextManager[Endpoint]]:
        """An ``open_endpoint``-like callable for ``netchan.open_node(transport=...)``."""
        return self.open_endpoint

    def crash(self, address: str) -> None:
        """The process owning ``address`` dies silently: no ABORT reaches anyone.

        Its peers notice after ``dead_after`` seconds (their associations abort with
        "peer unreachable"); the crashed endpoint's own users see ``ClosedResourceError``.
        """
        addr = parse_address(address)
        ep = self.endpoints.pop((addr.host, addr.port), None)
        if ep is None:
            raise ValueError(f"no endpoint at {address}")
        ep._crash()


class _Direction:
    """Messages from one side of an association to the other, with the reader's window."""

    def __init__(self) -> None:
        self.queue: deque[Message] = deque()
        self.bytes = 0
        self.changed = trio.Event()

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


class MemoryAssociation(Association):
    """One side of an in-memory association."""

    def __init__(self, endpoint: MemoryEndpoint, assoc_id: int, streams: int) -> None:
        self._endpoint = endpoint
        self._id = assoc_id
        self._streams = streams
        self.peer: MemoryAssociation | None = None
        self.inbound = _Direction()
        self.closed_locally = False
        self.error: AssociationAbortedError | None = None
        self.ended = False
        self.messages_sent = 0
        self.messages_received = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.key_id: int | None = None

    @property
    def id(self) -> int:
        return self._id

    @property
    def peer_key_id(self) -> int | None:
        return self.key_id

    @property
    def peer_addresses(self) -> tuple[str, ...]:
        assert self.peer is not None  # set at creation, before anyone sees the object
        return (self.peer._endpoint.address,)

    @property
    def primary_path(self) -> str:
        return self.peer_addresses[0]

    def set_primary(self, address: str) -> None:
        if address not in self.peer_addresses:
            raise InvalidAddressError(f"{address!r} is not an address of the peer")

    @property
    def outbound_streams(self) -> int:
        return self._streams

    @property
    def inbound_streams(self) -> int:
        return self._streams

    def _check_open(self, *, receiving: bool = False) -> None:
        if self.closed_locally:
            raise trio.ClosedResourceError("association closed")
        if self.error is not None:
            raise trio.BrokenResourceError("association aborted") from self.error
        if self.ended:
            # The rule of _api.py: a graceful SHUTDOWN by the peer ends receiving cleanly.
            if receiving:
                raise trio.EndOfChannel("association was shut down by the peer")
            raise trio.BrokenResourceError("association was shut down by the peer") from (
                AssociationAbortedError("the peer shut the association down", by_peer=True)
            )

    async def send(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        if not 0 <= stream < self._streams:
            raise ValueError(f"stream {stream} not below outbound_streams={self._streams}")
        if len(data) > self._endpoint.network.max_message_size:
            raise MessageTooLargeError(f"message of {len(data)} bytes is too large")
        while True:
            self._check_open()
            assert self.peer is not None
            target = self.peer.inbound
            if target.bytes < self.peer._endpoint.receive_window or not target.queue:
                break
            await target.changed.wait()
        target.queue.append(Message(bytes(data), stream, ppid, unordered, self.peer))
        target.bytes += len(data)
        self.messages_sent += 1
        self.bytes_sent += len(data)
        self._endpoint.packets_sent += 1
        target.notify()
        self.peer._endpoint._wake()
        await trio.lowlevel.cancel_shielded_checkpoint()

    def _pop(self) -> Message:
        msg = self.inbound.queue.popleft()
        self.inbound.bytes -= len(msg.data)
        self.messages_received += 1
        self.bytes_received += len(msg.data)
        self._endpoint.packets_received += 1
        self.inbound.notify()
        return msg

    async def receive(self) -> Message:
        await trio.lowlevel.checkpoint_if_cancelled()
        while not self.inbound.queue:
            self._check_open(receiving=True)
            await self.inbound.changed.wait()
        msg = self._pop()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return msg

    def _finish(self, error: AssociationAbortedError | None, *, local: bool) -> None:
        """End this side: record why, emit the event, wake every waiter."""
        if self.ended or self.error is not None or self.closed_locally:
            return
        if local:
            self.closed_locally = True
        elif error is not None:
            self.error = error
        else:
            self.ended = True
        event: AssociationEvent = (
            AssociationClosed(self) if error is None else AssociationAborted(self, error)
        )
        self._endpoint._association_ended(self, event)
        self.inbound.notify()
        if self.peer is not None:
            self.peer.inbound.notify()

    async def aclose(self) -> None:
        peer = self.peer
        if not self.closed_locally and self.error is None and not self.ended:
            # Graceful SHUTDOWN: data already queued stays readable on the peer side.
            self._finish(None, local=True)
            if peer is not None:
                peer._finish(None, local=False)
        await trio.lowlevel.checkpoint()

    def abort(self, reason: str = "") -> None:
        peer = self.peer
        self._finish(AssociationAbortedError(f"aborted locally: {reason}"), local=True)
        if peer is not None:
            peer.inbound.queue.clear()
            peer.inbound.bytes = 0
            peer._finish(
                AssociationAbortedError(f"peer sent ABORT: {reason}", by_peer=True), local=False
            )

    def _peer_window(self) -> int | None:
        """Room left in the peer's receive window, as an SCTP peer would advertise it."""
        if self.peer is None:
            return None
        return max(self.peer._endpoint.receive_window - self.peer.inbound.bytes, 0)

    def statistics(self) -> AssociationStatistics:
        return AssociationStatistics(
            state="ESTABLISHED" if not (self.closed_locally or self.error) else "CLOSED",
            outbound_streams=self._streams,
            inbound_streams=self._streams,
            # One packet per message: the in-memory "network" never bundles or splits.
            packets_sent=self.messages_sent,
            packets_received=self.messages_received,
            messages_sent=self.messages_sent,
            messages_received=self.messages_received,
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
            srtt=0.0001,
            rto=0.1,
            cwnd=4380,
            peer_rwnd=self._peer_window(),
            local_rwnd=max(self._endpoint.receive_window - self.inbound.bytes, 0),
            receive_buffered=self.inbound.bytes,
        )


class MemoryEndpoint(Endpoint):
    """An in-memory one-to-many endpoint (see :class:`MemoryNetwork`)."""

    def __init__(
        self,
        network: MemoryNetwork,
        scheme: str,
        host: str,
        port: int,
        nursery: trio.Nursery,
    ) -> None:
        self.network = network
        self._scheme = scheme
        self._host = host
        self._port = port
        self._nursery = nursery
        self._assocs: dict[int, MemoryAssociation] = {}
        self._by_peer: dict[str, MemoryAssociation] = {}
        # The backends' bounded event queue (unread events beyond its limit are counted).
        self._events = EventQueue()
        self._ended: list[MemoryAssociation] = []
        self._rr = 0
        self._changed = trio.Event()
        self._closed = False
        self.receive_window = network.receive_window
        self.auth_keys: dict[int, bytes] | None = None
        self.auth_active = 0
        self.packets_sent = 0
        self.packets_received = 0

    @property
    def address(self) -> str:
        return f"{self._scheme}://{self._host}:{self._port}"

    @property
    def associations(self) -> tuple[Association, ...]:
        return tuple(self._assocs.values())

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _association_ended(self, assoc: MemoryAssociation, event: AssociationEvent) -> None:
        self._assocs.pop(assoc.id, None)
        if isinstance(event, AssociationClosed) and not assoc.closed_locally:
            self._ended.append(assoc)
        if assoc.peer is not None:
            self._by_peer.pop(assoc.peer._endpoint.address, None)
        if not self._closed:
            self._events.publish(event)
        self._wake()

    def _target(self, address: str) -> MemoryEndpoint:
        addr = parse_address(address)
        host = "127.0.0.1" if addr.host in ("0.0.0.0", "::", "localhost") else addr.host
        ep = self.network.endpoints.get((host, addr.port))
        if ep is None or ep._closed:
            raise trio.BrokenResourceError(f"no answer from {address}") from (
                AssociationAbortedError("peer unreachable (INIT not answered)")
            )
        return ep

    async def connect(self, address: str) -> Association:
        await trio.lowlevel.checkpoint()
        if self._closed:
            raise trio.ClosedResourceError("endpoint closed")
        other = self._target(address)
        existing = self._by_peer.get(other.address)
        if existing is not None:
            return existing
        refusal = self._auth_refusal(other)
        if refusal is not None:
            raise trio.BrokenResourceError(refusal) from AssociationAbortedError(refusal)
        streams = min(self.network.streams, other.network.streams)
        stale = other._by_peer.get(self.address)
        if stale is not None and stale.peer is not None and stale.peer._endpoint._closed:
            # The process that had our address died and we are its new incarnation: our
            # INIT restarts the peer's association (RFC 9260 §5.2.4 A), same id on its side.
            mine = MemoryAssociation(self, next(self.network._assoc_ids), streams)
            mine.peer, stale.peer = stale, mine
            self._assocs[mine.id] = mine
            self._by_peer[other.address] = mine
            self._events.publish(AssociationEstablished(mine))
            other._events.publish(AssociationRestarted(stale))
            return mine
        mine = MemoryAssociation(self, next(self.network._assoc_ids), streams)
        theirs = MemoryAssociation(other, next(self.network._assoc_ids), streams)
        mine.peer, theirs.peer = theirs, mine
        if self.auth_keys is not None:
            mine.key_id = theirs.key_id = self.auth_active
        self._assocs[mine.id] = mine
        self._by_peer[other.address] = mine
        other._assocs[theirs.id] = theirs
        other._by_peer[self.address] = theirs
        self._events.publish(AssociationEstablished(mine))
        other._events.publish(AssociationEstablished(theirs))
        return mine

    def add_auth_key(self, key_id: int, key: bytes) -> None:
        if self.auth_keys is None:
            super().add_auth_key(key_id, key)
        else:
            self.auth_keys[key_id] = key

    def set_active_auth_key(self, key_id: int) -> None:
        if self.auth_keys is None or key_id not in self.auth_keys:
            super().set_active_auth_key(key_id)
        self.auth_active = key_id
        for assoc in self._assocs.values():  # what the peer sees from now on
            if assoc.peer is not None:
                assoc.peer.key_id = key_id

    def remove_auth_key(self, key_id: int) -> None:
        if self.auth_keys is None:
            super().remove_auth_key(key_id)
        elif key_id == self.auth_active:
            raise ValueError("cannot remove the active key; set another active key first")
        else:
            self.auth_keys.pop(key_id, None)

    def _auth_refusal(self, other: MemoryEndpoint) -> str | None:
        """Why an association with ``other`` cannot be set up under SCTP-AUTH, or None."""
        unsupported = (
            "no SCTP-AUTH (RFC 4895) parameters: the sender has no key, "
            "and this endpoint requires one"
        )
        if self.auth_keys is None and other.auth_keys is None:
            return None
        if self.auth_keys is None:
            return f"peer sent ABORT: protocol violation: {unsupported}"
        if other.auth_keys is None:
            return f"INIT ACK refused: protocol violation: {unsupported}"
        mine = self.auth_keys[self.auth_active]
        if other.auth_keys.get(self.auth_active) != mine:
            return (
                "peer sent ABORT: protocol violation: SCTP-AUTH failed: the peer does not hold "
                "the key this endpoint requires"
            )
        return None

    async def send(
        self,
        data: bytes,
        *,
        to: str,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
    ) -> Association:
        assoc = await self.connect(to)
        await assoc.send(data, stream=stream, ppid=ppid, unordered=unordered)
        return assoc

    async def receive(self) -> Message:
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._closed:
                raise trio.ClosedResourceError("endpoint closed")
            ready = [a for a in self._all_readable() if a.inbound.queue]
            if ready:
                self._rr += 1
                msg = ready[self._rr % len(ready)]._pop()
                await trio.lowlevel.cancel_shielded_checkpoint()
                return msg
            await self._changed.wait()

    def _all_readable(self) -> list[MemoryAssociation]:
        # Associations shut down by the peer keep their unread data readable.
        self._ended = [a for a in self._ended if a.inbound.queue]
        return list(self._assocs.values()) + self._ended

    async def next_event(self) -> AssociationEvent:
        return await self._events.get()

    def statistics(self) -> EndpointStatistics:
        return EndpointStatistics(
            associations=len(self._assocs),
            datagrams_received=self.packets_received,
            datagrams_sent=self.packets_sent,
            events_discarded=self._events.discarded,
        )

    def _crash(self) -> None:
        self._closed = True
        for assoc in list(self._assocs.values()):
            assoc.closed_locally = True
            peer = assoc.peer
            if peer is not None:
                self._nursery_of(peer).start_soon(self._detect_death, peer)
        self._assocs.clear()
        self._by_peer.clear()
        self._events.close()
        self._wake()

    @staticmethod
    def _nursery_of(assoc: MemoryAssociation) -> trio.Nursery:
        return assoc._endpoint._nursery

    async def _detect_death(self, peer: MemoryAssociation) -> None:
        await trio.sleep(self.network.dead_after)
        if peer.peer is not None and peer.peer._endpoint is not self:
            return  # restarted by a new incarnation meanwhile
        peer._finish(
            AssociationAbortedError("peer unreachable (heartbeats unanswered)"), local=False
        )

    async def aclose(self) -> None:
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        for assoc in list(self._assocs.values()):
            assoc.abort("endpoint closed")
        self._closed = True
        self.network.endpoints.pop((self._host, self._port), None)
        self._events.close()
        self._wake()
        await trio.lowlevel.checkpoint()
