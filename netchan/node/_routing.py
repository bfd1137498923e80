"""Routing: every frame and control message goes, by table, to the part that owns it.

Frames (``docs/protocol.md`` "Frames") and link-addressed control messages go to a method
of their link; HELLO goes to the peer table, OPEN to the exports. A message a link does not
take is a protocol error (the link base class refuses it): counted and logged, and the
association serves everyone else on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from .. import _protocol as P
from ..transport import (
    AssociationAborted,
    AssociationAbortedError,
    AssociationClosed,
    AssociationRestarted,
    Endpoint,
    Message,
)
from ._frames import piece_fragments
from ._peers import Peer

if TYPE_CHECKING:
    from ._core import Core
    from ._links import Link

log = logging.getLogger("netchan")

CLOSED_GRACE = 0.5
"""Seconds a gracefully shut association is kept, so messages delivered before its SHUTDOWN
are still read."""

INLINE_LIMIT = 8 * 1024
"""Largest message the router takes in the endpoint's reading task (``Router.start``)."""

#: Frame kind -> the link method that handles it.
FRAME_ROUTES: dict[P.Frame, Callable[[Link, P.Frame, memoryview], None]] = {
    P.Frame.VALUE: lambda link, kind, payload: link.on_data(kind, payload),
    P.Frame.MORE: lambda link, kind, payload: link.on_data(kind, payload),
    P.Frame.BATCH: lambda link, kind, payload: link.on_batch(payload),
    P.Frame.END: lambda link, kind, payload: link.on_end(payload),
    P.Frame.RETURN: lambda link, kind, payload: link.on_return(payload),
    P.Frame.CLOSE: lambda link, kind, payload: link.on_close(payload),
}

#: Link-addressed control message class -> the link method that handles it.
LINK_CONTROL_ROUTES: dict[type, Callable[[Link, Any], None]] = {
    P.OpenOk: lambda link, msg: link.on_open_ok(msg),
    P.OpenErr: lambda link, msg: link.on_open_err(msg),
    P.Credit: lambda link, msg: link.on_credit(msg),
    P.Error: lambda link, msg: link.on_error(msg),
    P.Reject: lambda link, msg: link.on_reject(msg),
}


class Router:
    """Reads the endpoint's messages and events and hands each to its owner."""

    def __init__(self, core: Core, endpoint: Endpoint) -> None:
        self._core = core
        self._ep = endpoint
        #: Between a message and the end of its batch (:meth:`end_batch`): credit granted
        #: meanwhile is sent at the batch's end (``Core.send_credits``).
        self.routing = False
        #: Control messages not addressed to a link.
        self._node_routes: dict[type, Callable[[Peer, Any], None]] = {
            P.Hello: core.peers.on_hello,
            P.Open: core.exports.on_open,
            P.ListExports: core.exports.on_list,
            P.Exports: self._on_exports,
        }

    def start(self) -> None:
        """Route the endpoint's messages from now on, and follow its events.

        Where the endpoint hands messages to a handler as they arrive
        (``Endpoint.set_message_handler``, ``udp://``), :meth:`on_message` runs in its
        reading task for messages up to ``INLINE_LIMIT`` bytes: routing never blocks, so
        a control message or a small value costs no wake-up of a receive loop. The receive
        loop task reads the rest (pieces of big values, full BATCH frames), at its own
        pace: what it has not read yet counts against the receive window, which keeps a
        big value from filling the path ahead of a small channel's next message.
        """
        self._ep.set_message_handler(self.on_message, max_size=INLINE_LIMIT, done=self.end_batch)
        self._core.spawn(self.run_receive)
        self._core.spawn(self.run_events)

    async def run_receive(self) -> None:
        """Route every message until the endpoint closes."""
        while True:
            try:
                msg = await self._ep.receive()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            self.on_message(msg)
            self.end_batch()

    def end_batch(self) -> None:
        """The messages that arrived together were routed: send the credit they granted."""
        self.routing = False
        self._core.send_credits()

    def on_message(self, msg: Message) -> None:
        """Route one message to its owner (never blocks, never raises)."""
        self.routing = True
        peers = self._core.peers
        if peers.is_dead(msg.association):
            return
        try:
            peer = peers.peer_for(msg.association)
        except trio.BrokenResourceError:
            return
        try:
            fragments = msg.fragments
            if fragments is not None and self._on_fragments(peer, fragments, msg.size):
                return
            data = msg.data
            if data[:1] in P.FRAME_FIRST_BYTES:
                self._on_frame(peer, data)
            elif msg.stream == P.CONTROL_STREAM:
                self._on_control(peer, P.decode_control(data))
            else:
                raise P.ProtocolError("malformed_frame", "control message on a data stream")
        except P.ProtocolError as exc:
            self._core.counters.count(exc.kind)
            log.warning("protocol error from %s: %s", peer.describe(), exc)
        except Exception:
            # A bug of ours triggered by this message: keep serving everyone else, but
            # say so loudly (with the traceback).
            self._core.counters.count("internal_error")
            log.exception("internal error handling a message from %s", peer.describe())

    async def run_events(self) -> None:
        """Follow association events (aborted, shut down, restarted, established)."""
        peers = self._core.peers
        while True:
            try:
                event = await self._ep.next_event()
            except (trio.ClosedResourceError, trio.EndOfChannel):
                return
            peer = peers.get(event.association)
            if isinstance(event, AssociationAborted):
                if peer is not None:
                    peers.failed(peer, event.error)
            elif isinstance(event, AssociationClosed):
                if peer is not None:
                    peer.closing = True
                    self._core.spawn(self._closed_after_grace, peer)
            elif isinstance(event, AssociationRestarted):
                peers.restarted(event.association)
            elif not peers.is_dead(event.association):
                peers.peer_for(event.association)

    async def _closed_after_grace(self, peer: Peer) -> None:
        # Messages delivered before the SHUTDOWN are still being read: let them through.
        await trio.sleep(CLOSED_GRACE)
        self._core.peers.failed(
            peer, AssociationAbortedError("association shut down", by_peer=True)
        )

    def _on_exports(self, peer: Peer, msg: P.Exports) -> None:
        """An answer to one of our LIST questions; one nobody asked for is counted."""
        if not self._core.queries.on_answer(peer, msg):
            self._core.counters.count("unexpected_control")

    def _link(self, peer: Peer, link_id: int) -> Link | None:
        link = self._core.link(link_id)
        return link if link is not None and link.peer is peer else None

    def _on_control(self, peer: Peer, msg: P.Control) -> None:
        cls = type(msg)
        if cls is not P.Hello and peer.node_id is None:
            raise P.ProtocolError("no_hello", f"{cls.__name__} before HELLO")
        route = self._node_routes.get(cls)
        if route is not None:
            route(peer, msg)
            return
        link = self._link(peer, msg.link)  # type: ignore[union-attr]
        if link is None:
            self._core.counters.count("unknown_link")
            return
        link_route = LINK_CONTROL_ROUTES.get(cls)
        if link_route is None:
            raise P.ProtocolError("unexpected_control", f"{cls.__name__} not expected")
        link_route(link, msg)

    def _on_fragments(self, peer: Peer, fragments: list[bytes], size: int) -> bool:
        """A VALUE or MORE frame that came in several chunks (a piece of a big value),
        routed with its chunks' payloads as they are (``piece_fragments``): the piece is
        not joined into one new object and then copied again without its frame header
        (docs/benchmarks.md "Big values: fragments kept as they came"). Whether it was
        one; anything else is routed from the joined message."""
        frame = piece_fragments(fragments, size)
        if frame is None:
            return False
        kind, link_id, pieces = frame
        link = self._link(peer, link_id)
        if link is None:
            self._core.counters.count("late_frame")
            return True
        link.on_data(kind, pieces)
        return True

    def _on_frame(self, peer: Peer, data: bytes) -> None:
        kind, link_id, payload = P.decode_frame(data)
        if kind is P.Frame.EARLY:
            # A frame of a link the peer is opening: named by the peer's id for it.
            kind, payload = P.decode_early(payload)
            link = peer.early.get(link_id)
        else:
            link = self._link(peer, link_id)
        if link is None:
            # Frames may legitimately arrive after we dropped a link (ERROR crossing them).
            self._core.counters.count("late_frame")
            return
        FRAME_ROUTES[kind](link, kind, payload)
