"""The node's core: the one object links, peers and exports talk to (it is their ``Host``).

It owns the link table and the parts (peers, exports, references, router), starts the
node's tasks, and shuts it down gracefully.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import Callable
from typing import Any

import trio

from .. import _protocol as P
from .._listing import ExportQueries
from ..transport import Endpoint
from ._exports import Exports
from ._frames import Payload, Received
from ._host import Counters
from ._keys import NodeKeys
from ._links import Link
from ._peers import Peer, PeerTable
from ._refs import References
from ._routing import Router
from ._state import LinkState


class Core:
    """Implements :class:`~netchan.node._host.Host` for a node's links, peers and exports."""

    def __init__(
        self,
        endpoint: Endpoint,
        nursery: trio.Nursery,
        *,
        max_value_size: int,
        reference_buffer: int,
        connect_timeout: float,
        keys: NodeKeys | None = None,
    ) -> None:
        self.endpoint = endpoint
        #: The node's shared keys (``open_node(key=...)``), None without.
        self.keys = keys
        self._nursery = nursery
        self._node_id = secrets.token_bytes(16)
        self._counters = Counters()
        self._closed = False
        self._max_value_size = max_value_size
        self._token = trio.lowlevel.current_trio_token()
        self._link_ids = itertools.count(1)
        self._links: dict[int, Link] = {}
        self.peers = PeerTable(self, endpoint, connect_timeout=connect_timeout)
        self.exports = Exports(self)
        #: LIST questions this node asked, waiting for their EXPORTS answers.
        self.queries = ExportQueries()
        self.refs = References(
            self,
            self.exports,
            address=endpoint.address,
            max_value_size=max_value_size,
            reference_buffer=reference_buffer,
        )
        self.router = Router(self, endpoint)
        #: Credit granted while the router handles a batch of messages, sent at its end
        #: (``grant_credit``).
        self._credits: dict[Link, int] = {}

    def start(self) -> None:
        """Start the tasks that read the endpoint."""
        self.router.start()

    # -------------------------------------------------------------- Host

    @property
    def node_id(self) -> bytes:
        return self._node_id

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def counters(self) -> Counters:
        return self._counters

    @property
    def max_value_size(self) -> int:
        return self._max_value_size

    def add_link(self, link: Link) -> int:
        link_id = next(self._link_ids) & 0xFFFFFFFF
        self._links[link_id] = link
        return link_id

    def forget_link(self, link: Link) -> None:
        if self._links.get(link.id) is link:
            del self._links[link.id]

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        self._nursery.start_soon(fn, *args)

    def call_soon(self, fn: Callable[[], None]) -> None:
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(fn)

    def grant_credit(self, link: Link, n: int) -> None:
        self._credits[link] = self._credits.get(link, 0) + n
        if not self.router.routing:
            self.send_credits()

    def send_credits(self) -> None:
        """Send the CREDIT messages granted while the router handled a batch of messages.

        Collected so that a link whose END arrived in the same batch sends none (a reply
        channel's one value and its END come in one packet) and a link granting twice sends
        one message.
        """
        credits = self._credits
        if not credits:
            return
        self._credits = {}
        for link, n in credits.items():
            peer = link.peer
            if peer is not None and link.state is LinkState.OPEN and peer.error is None:
                peer.send_control(P.Credit(link.peer_link, n))

    def encode(self, value: Any) -> Payload:
        return self.refs.encode(value)

    def decode(self, payload: Received, peer: Peer | None, tp: Any) -> Any:
        return self.refs.decode(payload, peer, tp)

    async def peer_to(self, address: str | None, owner_id: bytes | None) -> Peer:
        return await self.peers.connect(address, owner_id)

    def ready_peer(self, owner_id: bytes) -> Peer | None:
        return self.peers.ready(owner_id)

    def peer_failed(self, peer: Peer, cause: BaseException) -> None:
        self.peers.failed(peer, cause)

    def key_name(self, peer: Peer) -> str | None:
        if self.keys is None:
            return None
        return self.keys.name_of(peer.assoc.peer_key_id)

    # -------------------------------------------------------------- for the Node

    def link(self, link_id: int) -> Link | None:
        """The live link with this id."""
        return self._links.get(link_id)

    def links(self) -> list[Link]:
        """Every live link."""
        return list(self._links.values())

    def _flushing(self) -> bool:
        """Whether values, END markers or control messages still wait to be sent."""
        for link in self._links.values():
            if link.peer is None or link.peer.error is not None:
                continue
            if link.flushing():
                return True
        return any(not p.drained() for p in self.peers if p.error is None)

    async def shutdown(self, linger: float) -> None:
        """Close gracefully: END every channel, flush, SHUTDOWN associations, close ends."""
        self._closed = True
        for link in list(self._links.values()):
            link.changed.fire()  # tasks blocked in send/receive see ClosedResourceError
            link.on_node_closing()
        with trio.move_on_after(linger):
            while self._flushing():
                await trio.sleep(0.01)
        with trio.move_on_after(linger):
            async with trio.open_nursery() as nursery:
                for peer in self.peers:
                    if peer.error is None:
                        nursery.start_soon(peer.assoc.aclose)
        await self.exports.close_all()
