"""The peer table: one association per peer node, found by association or by node id.

Each association carries a control stream (0) with HELLO first; a peer is *ready* once its
HELLO arrived. A failed association's id is remembered for a while so its late messages are
dropped instead of creating a new peer.
"""

from __future__ import annotations

import heapq
import ipaddress
import logging
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

import trio

from .. import _protocol as P
from .._errors import PeerUnreachableError
from ..transport import (
    Association,
    AssociationAbortedError,
    Endpoint,
    TransportError,
    parse_address,
)
from ..transport._address import format_address
from ._host import Host
from ._signal import Signal

if TYPE_CHECKING:
    from ._links import Link

log = logging.getLogger("netchan")

MAX_CONTROL_QUEUE = 10_000
"""Control messages queued toward one peer before it is considered hostile and aborted."""
MAX_DEAD_ASSOCIATIONS = 4096
"""Failed associations remembered (to drop their late messages)."""


def resolve_address(address: str | None, owner_id: bytes, peer: Peer | None) -> str | None:
    """An address as announced by a node, with an unspecified host filled in.

    A client-only node binds ``0.0.0.0``: when the announcement came from that very node
    (``peer``), the host it is seen from is the one to use.
    """
    if address is None:
        return peer.address if peer is not None and peer.node_id == owner_id else None
    # Every reply channel in a request names its owner's address: parse each one once.
    unspecified = _unspecified_host.get(address)
    if unspecified is None:
        try:
            unspecified = ipaddress.ip_address(parse_address(address).host).is_unspecified
        except ValueError:
            unspecified = False
        if len(_unspecified_host) >= MAX_ADDRESS_CACHE:
            _unspecified_host.clear()
        _unspecified_host[address] = unspecified
    if unspecified and peer is not None and peer.node_id == owner_id and peer.remote_host:
        addr = parse_address(address)
        return format_address(addr.scheme, [peer.remote_host], addr.port, addr.sctp_port)
    return address


MAX_ADDRESS_CACHE = 4096
"""Announced addresses whose parse :func:`resolve_address` remembers."""
_unspecified_host: dict[str, bool] = {}


class Peer:
    """One association to another node, with its control stream sender."""

    def __init__(self, host: Host, assoc: Association) -> None:
        self.host = host
        self.assoc = assoc
        self.node_id: bytes | None = None
        #: The protocol version both sides speak (the lower of the two HELLOs'); 0 before
        #: the peer's HELLO.
        self.version = 0
        self.address: str | None = None
        self.ready = trio.Event()
        self.error: BaseException | None = None
        self.links: set[Link] = set()
        #: Links this side accepted from the peer, by the peer's id for them: its EARLY
        #: frames (sent before our OPEN_OK reached it) name them so.
        self.early: dict[int, Link] = {}
        self.closing = False
        self._ctl: deque[bytes] = deque()
        self._ctl_signal = Signal()
        self._free_streams: list[int] = []
        self._next_stream = 1
        self._stream_users: dict[int, int] = {}

    @property
    def remote_host(self) -> str | None:
        """The host part of the peer's primary address."""
        try:
            return parse_address(self.assoc.peer_addresses[0]).host
        except Exception:
            return None

    def take_stream(self) -> int:
        """An outgoing data stream for a new link toward this peer.

        The lowest free stream: streams in use follow the links open now, so the
        association's per-stream state stays as small as the number of open channels (a
        stream used once would otherwise be kept for good). Reusing a stream keeps its order
        intact: its sequence numbers continue. Links share streams only when there are more
        of them than streams.
        """
        n = self.assoc.outbound_streams
        if n <= 1:
            return P.CONTROL_STREAM
        if self._free_streams:
            stream = heapq.heappop(self._free_streams)
        elif self._next_stream < n:
            stream = self._next_stream
            self._next_stream += 1
        else:
            stream = min(self._stream_users, key=self._stream_users.__getitem__)
        self._stream_users[stream] = self._stream_users.get(stream, 0) + 1
        return stream

    def release_stream(self, stream: int) -> None:
        """A link is gone: its stream is free again (once no other link shares it)."""
        users = self._stream_users.get(stream, 0) - 1
        if users > 0:
            self._stream_users[stream] = users
        elif users == 0:
            del self._stream_users[stream]
            heapq.heappush(self._free_streams, stream)

    @property
    def streams_in_use(self) -> int:
        """Data streams taken by open links."""
        return len(self._stream_users)

    def send_control(self, msg: P.Control) -> None:
        """Queue a control message on stream 0 (sent in order by the peer's sender task)."""
        self.send_raw(P.encode_control(msg))

    def send_raw(self, data: bytes, *, push: bool = False) -> None:
        """Queue bytes on stream 0 (control messages, or a link's lifecycle frames).

        ``push``: nothing follows from the caller (a link's END): the association's pending
        flush goes now (``Association.send_nowait``)."""
        if self.error is not None:
            return
        if len(self._ctl) >= MAX_CONTROL_QUEUE:
            self.host.counters.count("control_flood")
            log.warning("peer %s floods the control stream; aborting it", self.describe())
            self.assoc.abort("control stream flood")
            self.host.peer_failed(self, PeerUnreachableError("control stream flood"))
            return
        if not self._ctl:
            # Nothing queued before it: straight to the association when it can leave at
            # once (no hop through the sender task); otherwise the sender task sends it.
            try:
                # ``bundle``: a flush already pending takes it along (the sender task
                # would only hand it to that same flush, one task hop later).
                self.assoc.send_nowait(
                    data, stream=P.CONTROL_STREAM, ppid=P.PPID_CONTROL, bundle=True, push=push
                )
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the sender task sends it (and reports a broken association)
            else:
                return
        self._ctl.append(data)
        self._ctl_signal.fire()

    async def run_sender(self) -> None:
        """Send queued control messages on stream 0 until the association ends."""
        try:
            while True:
                while self._ctl:
                    data = self._ctl[0]
                    await self.assoc.send(data, stream=P.CONTROL_STREAM, ppid=P.PPID_CONTROL)
                    self._ctl.popleft()
                if self.error is not None:
                    return
                await self._ctl_signal.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.host.peer_failed(self, exc.__cause__ or exc)

    def fail(self, cause: BaseException) -> None:
        """The association is gone: wake waiters, stop the sender, fail or wind down links."""
        self.error = cause
        self.ready.set()
        if self.links:
            log.info("association with %s ended: %s", self.describe(), cause)
        for link in list(self.links):
            link.peer_failed(cause)
        self._ctl_signal.fire()

    def drained(self) -> bool:
        """Whether every queued control message was handed to the association."""
        return not self._ctl

    def describe(self) -> str:
        """``node-id-prefix@address`` for log lines."""
        ident = self.node_id.hex()[:8] if self.node_id else "?"
        return f"{ident}@{self.address or (self.assoc.peer_addresses or ('?',))[0]}"


class PeerTable:
    """The peers of a node: by association id, by node id, and the recently failed ones."""

    def __init__(self, host: Host, endpoint: Endpoint, *, connect_timeout: float) -> None:
        self._host = host
        self._ep = endpoint
        self._connect_timeout = connect_timeout
        self._by_assoc: dict[int, Peer] = {}
        self._by_id: dict[bytes, Peer] = {}
        # Ids of associations that failed: late messages from them are ignored. Bounded:
        # association ids are never reused, and late messages come soon after the end.
        self._dead: dict[int, None] = {}

    @property
    def connect_timeout(self) -> float:
        """How long to wait for an association and the peer's HELLO (``open_node``'s)."""
        return self._connect_timeout

    def __iter__(self) -> Iterator[Peer]:
        return iter(list(self._by_assoc.values()))

    def get(self, assoc: Association) -> Peer | None:
        """The peer of a live association, if known."""
        return self._by_assoc.get(assoc.id)

    def is_dead(self, assoc: Association) -> bool:
        """Whether ``assoc`` failed: its late messages are dropped."""
        return assoc.id in self._dead

    def peer_for(self, assoc: Association) -> Peer:
        """The peer of ``assoc``, created (HELLO queued, sender started) on first contact."""
        peer = self._by_assoc.get(assoc.id)
        if peer is None and assoc.id in self._dead:
            raise trio.BrokenResourceError("association already failed")
        if peer is None:
            peer = Peer(self._host, assoc)
            self._by_assoc[assoc.id] = peer
            peer.send_control(P.Hello(P.PROTOCOL_VERSION, self._host.node_id, self._ep.address))
            self._host.spawn(peer.run_sender)
        return peer

    def ready(self, owner_id: bytes) -> Peer | None:
        """The peer with ``owner_id`` if its association is up and not closing, else None."""
        peer = self._by_id.get(owner_id)
        if peer is not None and peer.error is None and not peer.closing:
            return peer
        return None

    async def connect(self, address: str | None, owner_id: bytes | None) -> Peer:
        """The ready peer with ``owner_id``, or a new association to ``address``."""
        if owner_id is not None:
            peer = self.ready(owner_id)
            if peer is not None:
                return peer
        if address is None:
            raise PeerUnreachableError("the channel's owner has no known address")
        try:
            with trio.fail_after(self._connect_timeout):
                assoc = await self._ep.connect(address)
                peer = self.peer_for(assoc)
                await peer.ready.wait()
        except trio.TooSlowError:
            raise PeerUnreachableError(f"no answer from {address}") from None
        except (OSError, trio.BrokenResourceError, TransportError) as exc:
            raise PeerUnreachableError(f"cannot reach {address}: {exc}") from exc
        if peer.error is not None:
            raise PeerUnreachableError(f"cannot reach {address}: {peer.error}") from peer.error
        return peer

    def on_hello(self, peer: Peer, msg: P.Hello) -> None:
        """The peer's HELLO: it is ready (or aborted, when it speaks another version)."""
        if peer.node_id is not None:
            raise P.ProtocolError("unexpected_control", "second HELLO")
        if not P.MIN_PROTOCOL_VERSION <= msg.version <= P.PROTOCOL_VERSION:
            self._host.counters.count("version_mismatch")
            log.warning(
                "peer speaks protocol version %d, not %d..%d",
                msg.version,
                P.MIN_PROTOCOL_VERSION,
                P.PROTOCOL_VERSION,
            )
            peer.assoc.abort(
                f"netchan protocol version {P.MIN_PROTOCOL_VERSION}..{P.PROTOCOL_VERSION} required"
            )
            self.failed(peer, PeerUnreachableError(f"protocol version {msg.version}"))
            return
        peer.node_id = msg.node_id
        peer.version = msg.version
        peer.address = resolve_address(msg.address, msg.node_id, peer) if msg.address else None
        self._by_id.setdefault(msg.node_id, peer)
        peer.ready.set()

    def restarted(self, assoc: Association) -> None:
        """The peer restarted the association (RFC 9260 §5.2.4): a new incarnation.

        The old peer's links fail (their values may have been lost with the old process);
        the association itself lives on, so it is not remembered as dead: the new
        incarnation gets a fresh peer (and our HELLO) at once.
        """
        old = self._by_assoc.pop(assoc.id, None)
        self._dead.pop(assoc.id, None)
        if old is not None:
            if old.node_id is not None and self._by_id.get(old.node_id) is old:
                del self._by_id[old.node_id]
            if old.error is None:
                old.fail(AssociationAbortedError("peer restarted"))
        self.peer_for(assoc)

    def failed(self, peer: Peer, cause: BaseException) -> None:
        """The association to ``peer`` ended: forget it, remember its id as dead."""
        if peer.error is not None:
            return
        self._dead[peer.assoc.id] = None
        if len(self._dead) > MAX_DEAD_ASSOCIATIONS:
            del self._dead[next(iter(self._dead))]
        self._by_assoc.pop(peer.assoc.id, None)
        if peer.node_id is not None and self._by_id.get(peer.node_id) is peer:
            del self._by_id[peer.node_id]
        peer.fail(cause)
