"""Nodes: named channels exported and imported over SCTP associations (docs/protocol.md).

A :class:`Node` owns one endpoint. It keeps one association per peer node (found again by the
peer's node id or address), a control stream (0) per association for HELLO/OPEN/CREDIT/ERROR,
and one *link* per imported channel, numbered by the side that owns it. Every link is one of
four kinds, depending on which side it lives on and which way values flow:

==================  ==================  =============================================
link                lives on            does
==================  ==================  =============================================
ImportSendLink      importer            sends values (credit-limited) to an exported
                                        SendChannel; ``RemoteSendChannel`` wraps it
ExportSendLink      exporter            receives them into a bounded inbox and pushes
                                        them into the exported SendChannel
ImportReceiveLink   importer            receives values into ``max_buffer`` slots;
                                        ``RemoteReceiveChannel`` wraps it
ExportReceiveLink   exporter            gets values from the exported ReceiveChannel
                                        (a work queue) while the importer has credit
==================  ==================  =============================================

The receive loop never blocks on a local channel: every value that arrives has a slot
reserved by credit, so one slow consumer never stalls the association (and so no other
channel).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import math
import secrets
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import trio

from . import _protocol as P
from ._channels import RemoteReceiveChannel, RemoteSendChannel
from ._errors import ChannelNotFoundError, PeerUnreachableError, RemoteError
from ._listing import ExportInfo, ExportQueries, answer
from ._stats import ChannelStatistics, NodeStatistics, PeerStatistics
from .codec import Codec, CodecLimits, DecodeError, check_type
from .transport import (
    Association,
    AssociationAborted,
    AssociationAbortedError,
    AssociationClosed,
    AssociationRestarted,
    Endpoint,
    TransportError,
    open_endpoint,
    parse_address,
)
from .transport._address import format_address
from .transport._nursery import open_internal_nursery
from .transport._open import default_client_address

log = logging.getLogger("netchan")

EndpointFactory = Callable[[str], AbstractAsyncContextManager[Endpoint]]

DEFAULT_BUFFER = 16
"""Credit window used when the receiver's buffer is unbounded or unknown."""
MAX_CREDIT = 1 << 20
"""Largest credit window a link accepts from a peer (more is clamped)."""
MAX_CONTROL_QUEUE = 10_000
"""Control messages queued toward one peer before it is considered hostile and aborted."""
MAX_DEAD_ASSOCIATIONS = 4096
"""Failed associations remembered (to drop their late messages)."""


class _Signal:
    """A re-armable broadcast: ``wait`` until the next ``fire``.

    The event is created by the first waiter, so ``fire`` with nobody waiting (most of them:
    several per value on the hot path) allocates nothing and costs ~0.1 us instead of ~1 us.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: trio.Event | None = None

    async def wait(self) -> None:
        event = self._event
        if event is None:
            event = self._event = trio.Event()
        await event.wait()

    def fire(self) -> None:
        event = self._event
        if event is not None:
            self._event = None
            event.set()


class _Rejected(Exception):
    """A received value is refused (undecodable or wrong type)."""

    def __init__(self, code: P.ErrorCode, kind: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind


def _type_name(tp: Any) -> str | None:
    if tp is None:
        return None
    return str(getattr(tp, "__qualname__", None) or repr(tp))[:200]


def _window_of(end: Any) -> int:
    """Credit window for an exported SendChannel: its buffer size (a rendezvous counts as 1)."""
    try:
        size = end.statistics().max_buffer_size
    except AttributeError:
        return DEFAULT_BUFFER
    if not isinstance(size, (int, float)) or math.isinf(size):
        return DEFAULT_BUFFER
    return max(1, min(int(size), MAX_CREDIT))


# ---------------------------------------------------------------------------- peers


class Peer:
    """One association to another node, with its control stream sender."""

    def __init__(self, node: Node, assoc: Association) -> None:
        self.node = node
        self.assoc = assoc
        self.node_id: bytes | None = None
        self.address: str | None = None
        self.ready = trio.Event()
        self.error: BaseException | None = None
        self.links: set[Link] = set()
        self._ctl: deque[bytes] = deque()
        self._ctl_signal = _Signal()
        self.closing = False

    @property
    def remote_host(self) -> str | None:
        try:
            return parse_address(self.assoc.peer_addresses[0]).host
        except Exception:
            return None

    def send_control(self, msg: P.Control) -> None:
        """Queue a control message on stream 0 (sent in order by the peer's sender task)."""
        self.send_raw(P.encode_control(msg))

    def send_raw(self, data: bytes) -> None:
        """Queue bytes on stream 0 (control messages, or a link's lifecycle frames)."""
        if self.error is not None:
            return
        if len(self._ctl) >= MAX_CONTROL_QUEUE:
            self.node._count("control_flood")
            log.warning("peer %s floods the control stream; aborting it", self.describe())
            self.assoc.abort("control stream flood")
            self.node._peer_failed(self, PeerUnreachableError("control stream flood"))
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
            self.node._peer_failed(self, exc.__cause__ or exc)

    def drained(self) -> bool:
        return not self._ctl

    def describe(self) -> str:
        ident = self.node_id.hex()[:8] if self.node_id else "?"
        return f"{ident}@{self.address or (self.assoc.peer_addresses or ('?',))[0]}"


# ---------------------------------------------------------------------------- links


class Link:
    """State of one channel between two nodes, on one side (see the module docstring)."""

    direction: str = "?"

    def __init__(self, node: Node, name: str) -> None:
        self.node = node
        self.id = node._new_link_id()
        self.name = name
        self.peer: Peer | None = None
        self.peer_link = 0
        self.stream = 0
        self.error: BaseException | None = None
        self.changed = _Signal()
        self.values_sent = 0
        self.values_received = 0
        self.rejected = 0
        self.waiting = 0
        self.clones = 0
        self.in_flight = False
        self.partial: bytearray | None = None
        node._links[self.id] = self

    def attach(self, peer: Peer, peer_link: int) -> None:
        self.peer = peer
        self.peer_link = peer_link
        self.stream = P.stream_for(self.id, peer.assoc.outbound_streams)
        peer.links.add(self)

    def remove(self) -> None:
        """Forget this link (its id may still arrive in late frames: they are dropped)."""
        self.node._links.pop(self.id, None)
        if self.peer is not None:
            self.peer.links.discard(self)
        self.changed.fire()

    def peer_failed(self, cause: BaseException) -> None:
        """The association died: fail or wind down."""
        self.fail(cause)

    def fail(self, cause: BaseException) -> None:
        if self.error is None:
            self.error = cause
        self.remove()

    def raise_if_failed(self) -> None:
        if self.node._closed:
            raise trio.ClosedResourceError("the node of this channel end is closed")
        if self.error is not None:
            raise trio.BrokenResourceError(f"channel {self.name!r} is broken") from self.error

    def describe(self) -> str:
        remote = self.peer.describe() if self.peer else "?"
        return f"{self.direction} {self.name!r} link {self.id} with {remote}"

    def _stats(self, **kw: Any) -> ChannelStatistics:
        base: dict[str, Any] = {
            "name": self.name,
            "direction": self.direction,
            "remote": self.peer.address if self.peer else None,
            "values_sent": self.values_sent,
            "values_received": self.values_received,
            "open_clones": self.clones,
            "tasks_waiting": self.waiting,
            "rejected": self.rejected,
        }
        base.update(kw)
        return ChannelStatistics(**base)


class _ImportLink(Link):
    """Common part of the importer's links: how to find the owner and open the link."""

    def __init__(
        self,
        node: Node,
        name: str,
        address: str | None,
        owner_id: bytes | None,
        target_kind: P.TargetKind,
        target: str,
        tp: Any,
    ) -> None:
        super().__init__(node, name)
        self.address = address
        self.owner_id = owner_id
        self.target_kind = target_kind
        self.target = target
        self.type = tp
        self.opened = trio.Event()
        self.forwards = 0

    def fail(self, cause: BaseException) -> None:
        super().fail(cause)
        self.opened.set()

    def release_handle(self) -> None:
        """A channel end (one clone) was closed; the last one to close finishes the link."""
        self.clones -= 1
        if self.clones == 0:
            self.finish()
        self.changed.fire()

    def on_open_ok(self, msg: P.OpenOk) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """The last handle closed: end the channel toward the owner (per direction)."""
        raise NotImplementedError

    def state(self) -> str:
        if self.error is not None:
            return "broken"
        if not self.opened.is_set():
            return "opening"
        return "open"


class ImportSendLink(_ImportLink):
    """Importer side of a channel we send into (``import_send``, or a SendChannel reference)."""

    direction = "send"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.credit = 0
        self.window = 0
        self.outbox: deque[bytes] = deque()
        self.outbox_bytes = 0
        self.finishing = False
        self.done = False
        self.sender_signal = _Signal()

    def check_type(self, value: Any) -> None:
        if self.type is not None:
            check_type(value, self.type)

    def can_send(self) -> bool:
        return self.opened.is_set() and self.credit > 0 and self.error is None

    def commit(self, value: Any) -> None:
        """Encode and queue one value; the caller checked :meth:`can_send`."""
        assert self.peer is not None  # can_send() implies an open link
        payload = self.node._encode(value)
        frame = P.encode_frame(P.Frame.VALUE, self.peer_link, payload)
        self.credit -= 1
        self.outbox.append(frame)
        self.outbox_bytes += len(frame)
        self.values_sent += 1
        self.node._values_out += 1
        self.sender_signal.fire()

    def on_open_ok(self, msg: P.OpenOk) -> None:
        self.credit = self.window = min(msg.credit, MAX_CREDIT)
        self.opened.set()
        self.node._spawn(self.node._run_link_sender, self)
        self.changed.fire()

    def on_credit(self, n: int) -> None:
        self.credit = min(self.credit + n, MAX_CREDIT)
        self.changed.fire()

    def finish(self) -> None:
        """Every clone closed: send END after what is queued."""
        self.finishing = True
        self.sender_signal.fire()

    def final_frame(self) -> bytes:
        return P.frame_end(self.peer_link, self.forwards)

    def fail(self, cause: BaseException) -> None:
        super().fail(cause)
        self.sender_signal.fire()

    def after_final(self) -> None:
        self.done = True
        self.remove()

    def statistics(self) -> ChannelStatistics:
        state = self.state()
        if self.done or (self.clones == 0 and self.finishing):
            state = "closed"
        return self._stats(
            state=state,
            credit=self.credit,
            max_buffer=self.window,
            current_buffer_used=len(self.outbox),
            queued_bytes=self.outbox_bytes,
        )


class ImportReceiveLink(_ImportLink):
    """Importer side of a channel we receive from (``import_receive`` or a reference)."""

    direction = "receive"

    def __init__(self, *args: Any, window: int) -> None:
        super().__init__(*args)
        self.window = max(1, min(window, MAX_CREDIT))
        self.granted = self.window
        self.received = 0
        self.consumed = 0
        self.inbox: deque[bytes] = deque()
        self.inbox_bytes = 0
        self.remote_ended = False
        self.user_closed = False
        self.end_sent = False

    def on_open_ok(self, msg: P.OpenOk) -> None:
        self.opened.set()
        if self.user_closed:
            self._close_remote()
        self.changed.fire()

    def on_value(self, payload: memoryview) -> None:
        assert self.peer is not None
        if self.received >= self.granted:
            self.node._link_protocol_error(
                self, P.ErrorCode.CREDIT_EXCEEDED, "credit_exceeded", "more values than credit"
            )
            return
        self.received += 1
        if self.user_closed:
            # Closed here: give it back so the work queue hands it to another importer.
            self.peer.send_raw(P.encode_frame(P.Frame.RETURN, self.peer_link, bytes(payload)))
            return
        data = bytes(payload)
        self.inbox.append(data)
        self.inbox_bytes += len(data)
        self.changed.fire()

    def on_end(self) -> None:
        self.remote_ended = True
        if self.user_closed:
            self._send_final_end()
        self.changed.fire()

    def take(self) -> tuple[bool, Any]:
        """Next value if any; raises EndOfChannel / BrokenResourceError when there are none."""
        while self.inbox:
            data = self.inbox.popleft()
            self.inbox_bytes -= len(data)
            self._consumed_one()
            try:
                value = self.node._decode(data, self.peer, self.type)
            except _Rejected as exc:
                self.rejected += 1
                self.node._reject(self, exc)
                continue
            self.values_received += 1
            self.node._values_in += 1
            return True, value
        if self.error is not None:
            raise trio.BrokenResourceError(f"channel {self.name!r} is broken") from self.error
        if self.remote_ended:
            raise trio.EndOfChannel
        return False, None

    def _consumed_one(self) -> None:
        self.consumed += 1
        # Grant credit back in batches of half the window (every value for tiny windows).
        if (
            self.peer is not None
            and not self.remote_ended
            and self.error is None
            and self.consumed >= max(1, self.window // 2)
        ):
            self.peer.send_control(P.Credit(self.peer_link, self.consumed))
            self.granted += self.consumed
            self.consumed = 0

    def finish(self) -> None:
        """Every clone closed: return unread values and tell the exporter to stop."""
        self.user_closed = True
        if self.error is not None:
            self.remove()
            return
        if self.opened.is_set():
            self._close_remote()

    def _close_remote(self) -> None:
        assert self.peer is not None
        for data in self.inbox:
            self.peer.send_raw(P.encode_frame(P.Frame.RETURN, self.peer_link, data))
        self.inbox.clear()
        self.inbox_bytes = 0
        if self.remote_ended:
            self._send_final_end()
        else:
            self.peer.send_raw(P.encode_frame(P.Frame.CLOSE, self.peer_link))

    def _send_final_end(self) -> None:
        if self.end_sent or self.peer is None:
            return
        self.end_sent = True
        self.peer.send_raw(P.frame_end(self.peer_link, self.forwards))
        self.remove()

    def statistics(self) -> ChannelStatistics:
        state = self.state()
        if self.user_closed:
            state = "closed"
        elif self.remote_ended and self.error is None:
            state = "ended"
        return self._stats(
            state=state,
            credit=self.granted - self.received,
            max_buffer=self.window,
            current_buffer_used=len(self.inbox),
            queued_bytes=self.inbox_bytes,
        )


class ExportSendLink(Link):
    """Exporter side of a remote sender: values go into the exported SendChannel."""

    direction = "send"

    def __init__(self, node: Node, export: Export, peer: Peer, peer_link: int) -> None:
        super().__init__(node, export.name)
        self.export = export
        self.window = export.window
        self.granted = self.window
        self.received = 0
        self.consumed = 0
        self.inbox: deque[Any] = deque()
        self.ended = False
        self.forwards = 0
        self.attach(peer, peer_link)

    def on_value(self, payload: memoryview) -> None:
        if self.received >= self.granted:
            self.node._link_protocol_error(
                self, P.ErrorCode.CREDIT_EXCEEDED, "credit_exceeded", "more values than credit"
            )
            return
        self.received += 1
        try:
            value = self.node._decode(payload, self.peer, self.export.type)
        except _Rejected as exc:
            self.rejected += 1
            self.node._reject(self, exc)
            self._consumed_one()
            return
        self.values_received += 1
        self.node._values_in += 1
        if not self.inbox and self.error is None:
            # Fast path: straight into the exported channel when it has room (one task
            # switch less per value); otherwise the pump waits for room, in order.
            send_nowait = getattr(self.export.end, "send_nowait", None)
            if send_nowait is not None:
                try:
                    send_nowait(value)
                except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
                    pass  # the pump retries with send() and handles a broken channel
                else:
                    self._consumed_one()
                    return
        self.inbox.append(value)
        self.changed.fire()

    def on_end(self, forwards: int) -> None:
        self.ended = True
        self.forwards = forwards
        self.changed.fire()

    def _consumed_one(self) -> None:
        self.consumed += 1
        if (
            self.peer is not None
            and not self.ended
            and self.error is None
            and self.consumed >= max(1, self.window // 2)
        ):
            self.peer.send_control(P.Credit(self.peer_link, self.consumed))
            self.granted += self.consumed
            self.consumed = 0

    def peer_failed(self, cause: BaseException) -> None:
        # What arrived is still delivered by the pump; nothing more will come.
        self.ended = True
        self.changed.fire()

    def fail(self, cause: BaseException) -> None:
        # Values that arrived within credit are still delivered by the pump.
        self.ended = True
        super().fail(cause)

    def remove(self) -> None:
        super().remove()
        self.export.link_gone(self, self.forwards)


class ExportReceiveLink(Link):
    """Exporter side of a remote receiver: the work queue hands it values while it has credit."""

    direction = "receive"

    def __init__(self, node: Node, export: Export, peer: Peer, peer_link: int, credit: int):
        super().__init__(node, export.name)
        self.export = export
        self.credit = min(credit, MAX_CREDIT)
        self.outbox: deque[bytes] = deque()
        self.outbox_bytes = 0
        self.finishing = False
        self.closing = False
        self.end_sent = False
        self.sender_signal = _Signal()
        self.attach(peer, peer_link)

    def ready(self) -> bool:
        return self.credit > 0 and not self.finishing and self.error is None

    def give(self, payload: bytes) -> None:
        frame = P.encode_frame(P.Frame.VALUE, self.peer_link, payload)
        self.credit -= 1
        self.outbox.append(frame)
        self.outbox_bytes += len(frame)
        self.values_sent += 1
        self.node._values_out += 1
        self.sender_signal.fire()

    def on_credit(self, n: int) -> None:
        self.credit = min(self.credit + n, MAX_CREDIT)
        self.export.signal.fire()

    def on_close(self) -> None:
        """The importer closed: stop, hand unsent values back to the queue, then END."""
        self.closing = True
        self._return_unsent(keep_first=True)
        self.finish()

    def _return_unsent(self, *, keep_first: bool) -> None:
        frames = list(self.outbox)
        keep = frames[:1] if keep_first and self.in_flight else []
        for frame in frames[len(keep) :]:
            self.export.held.append(frame[P.FRAME_HEADER_SIZE :])
            self.values_sent -= 1
        self.outbox = deque(keep)
        self.outbox_bytes = sum(len(f) for f in keep)
        self.export.signal.fire()

    def finish(self) -> None:
        self.finishing = True
        self.sender_signal.fire()
        self.export.signal.fire()

    def final_frame(self) -> bytes:
        return P.frame_end(self.peer_link, 0)

    def after_final(self) -> None:
        self.end_sent = True
        # The link stays until the importer's own END (its RETURNs may still come).

    def on_end(self, forwards: int) -> None:
        self.forwards = forwards
        self.remove()

    def peer_failed(self, cause: BaseException) -> None:
        self._return_unsent(keep_first=False)
        self.fail(cause)

    def fail(self, cause: BaseException) -> None:
        self.sender_signal.fire()
        super().fail(cause)

    forwards = 0

    def remove(self) -> None:
        super().remove()
        self.export.link_gone(self, self.forwards)


# ---------------------------------------------------------------------------- exports


class Export:
    """A channel end this node serves: by name (``node.export``) or by reference token."""

    def __init__(
        self,
        node: Node,
        name: str,
        end: Any,
        tp: Any,
        *,
        token: str | None = None,
    ) -> None:
        self.node = node
        self.name = name
        self.end = end
        self.type = tp
        self.token = token
        self.is_send = isinstance(end, trio.abc.SendChannel)
        self.window = _window_of(end) if self.is_send else 0
        self.links: set[Link] = set()
        self.pending = 0
        self.held: deque[bytes] = deque()
        self.signal = _Signal()
        self.ended = False
        self.broken: BaseException | None = None
        self.closed = False
        self.values = 0

    def link_gone(self, link: Link, forwards: int) -> None:
        if link not in self.links:
            return
        self.links.discard(link)
        self.pending += forwards
        self.signal.fire()
        self.maybe_release()

    def maybe_release(self) -> None:
        """A reference export ends when no holder is left (docs/protocol.md "References")."""
        if self.token is None or self.closed or self.links or self.pending != 0:
            return
        self.node._release_token(self)

    def pick(self) -> ExportReceiveLink | None:
        ready = [
            link for link in self.links if isinstance(link, ExportReceiveLink) and link.ready()
        ]
        if not ready:
            return None
        # Round robin by who was served least recently (lowest values_sent first).
        return min(ready, key=lambda link: (link.values_sent, link.id))


# ---------------------------------------------------------------------------- the node


class Node:
    """A netchan node: exports named channels and imports channels of other nodes.

    Obtain one with :func:`open_node`. All methods must be called from the trio task tree the
    node runs in.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        nursery: trio.Nursery,
        *,
        listening: bool,
        max_value_size: int,
        reference_buffer: int,
        connect_timeout: float,
    ) -> None:
        self._ep = endpoint
        self._nursery = nursery
        self._listening = listening
        self.node_id = secrets.token_bytes(16)
        self._reference_buffer = reference_buffer
        self._connect_timeout = connect_timeout
        self._link_ids = itertools.count(1)
        self._links: dict[int, Link] = {}
        self._peers: dict[int, Peer] = {}
        self._peers_by_id: dict[bytes, Peer] = {}
        # Ids of associations that failed: late messages from them are ignored. Bounded:
        # association ids are never reused, and late messages come soon after the end.
        self._dead: dict[int, None] = {}
        self._exports: dict[str, Export] = {}
        self._tokens: dict[str, Export] = {}
        self._moved: dict[int, Export] = {}
        self._errors: Counter[str] = Counter()
        self._values_in = 0
        self._values_out = 0
        self._closed = False
        self._token = trio.lowlevel.current_trio_token()
        self._decode_peer: Peer | None = None
        self._decoded_refs: list[trio.abc.AsyncResource] = []
        self._queries = ExportQueries()
        self._codec = Codec(
            limits=CodecLimits(max_size=max_value_size),
            ref_types=(
                trio.MemorySendChannel,
                trio.MemoryReceiveChannel,
                RemoteSendChannel,
                RemoteReceiveChannel,
            ),
            encode_ref=self._encode_ref,
            decode_ref=self._decode_ref,
        )

    # -------------------------------------------------------------- public API

    @property
    def address(self) -> str | None:
        """The address peers can reach this node at (``None`` for a client-only node)."""
        return self._ep.address if self._listening else None

    def export(self, name: str, channel_end: Any, type: Any = None) -> None:
        """Serve ``channel_end`` under ``name``.

        A ``SendChannel``: values remote importers send are pushed into it (any number of
        importers, each with credit sized by the channel's buffer). A ``ReceiveChannel``: a
        work queue; each value goes to exactly one importer that has credit. The node owns the
        end from now on and closes it when the node closes.

        Raises:
            TypeError: ``channel_end`` is not a trio channel end, or ``name`` not a string.
            ValueError: ``name`` is already exported.
            trio.ClosedResourceError: the node is closed.
        """
        if self._closed:
            raise trio.ClosedResourceError("the node is closed")
        if not isinstance(name, str) or not name or len(name) > 1024:
            raise TypeError("an export name is a non-empty string of at most 1024 characters")
        if not isinstance(channel_end, (trio.abc.SendChannel, trio.abc.ReceiveChannel)):
            raise TypeError(
                f"export() takes a trio SendChannel or ReceiveChannel, not {type_name(channel_end)}"
            )
        if name in self._exports:
            raise ValueError(f"a channel named {name!r} is already exported")
        export = Export(self, name, channel_end, type)
        self._exports[name] = export
        if not export.is_send:
            self._spawn(self._run_work_queue, export)

    async def list_exports(self, address: str) -> list[ExportInfo]:
        """The channels the node at ``address`` exports by name, sorted by name.

        Raises:
            PeerUnreachableError: no association could be set up, or no answer came within
                ``connect_timeout``.
        """
        self._check_import(address, "list")
        peer = await self._get_peer(address, None)
        with trio.move_on_after(self._connect_timeout):
            return await self._queries.ask(peer, peer.send_control)
        raise PeerUnreachableError(f"no answer to LIST from {address}")

    async def import_send(
        self,
        address: str,
        name: str,
        type: Any = None,
    ) -> RemoteSendChannel[Any]:
        """A SendChannel into the SendChannel ``name`` exported by the node at ``address``.

        Raises:
            ChannelNotFoundError: no such export there (or it is a ReceiveChannel).
            PeerUnreachableError: no association could be set up.
        """
        self._check_import(address, name)
        link = ImportSendLink(self, name, address, None, P.TargetKind.NAME, name, type)
        await self._open_link(link)
        return RemoteSendChannel(link)

    async def import_receive(
        self,
        address: str,
        name: str,
        max_buffer: int = DEFAULT_BUFFER,
        type: Any = None,
    ) -> RemoteReceiveChannel[Any]:
        """A ReceiveChannel from the ReceiveChannel (work queue) ``name`` at ``address``.

        Up to ``max_buffer`` values (at least 1) are sent ahead into this end's buffer: the
        exporter's credit.

        Raises:
            ChannelNotFoundError: no such export there (or it is a SendChannel).
            PeerUnreachableError: no association could be set up.
        """
        self._check_import(address, name)
        if not isinstance(max_buffer, int) or max_buffer < 0:
            raise ValueError(f"max_buffer must be an int >= 0, got {max_buffer!r}")
        link = ImportReceiveLink(
            self, name, address, None, P.TargetKind.NAME, name, type, window=max_buffer
        )
        await self._open_link(link)
        return RemoteReceiveChannel(link)

    def statistics(self) -> NodeStatistics:
        """A snapshot: peers with their association statistics, channels, values, errors."""
        peers = []
        for peer in self._peers.values():
            try:
                astats = peer.assoc.statistics()
            except Exception:
                astats = None
            peers.append(
                PeerStatistics(
                    node_id=peer.node_id.hex() if peer.node_id else None,
                    address=peer.address,
                    links=len(peer.links),
                    association=astats,
                )
            )
        return NodeStatistics(
            node_id=self.node_id.hex(),
            address=self.address,
            peers=tuple(peers),
            exports=len(self._exports),
            references=len(self._tokens),
            imports=sum(isinstance(link, _ImportLink) for link in self._links.values()),
            values_in=self._values_in,
            values_out=self._values_out,
            errors=dict(self._errors),
        )

    # -------------------------------------------------------------- helpers

    def _dropped(self, link: ImportSendLink | ImportReceiveLink) -> None:
        """A channel end was garbage-collected unclosed: close it soon, from the trio loop.

        Called from ``__del__``, which may run anywhere (even inside trio's own code), so the
        work is handed to ``run_sync_soon`` instead of being done here.
        """

        def close() -> None:
            link.clones -= 1
            if link.clones == 0 and not self._closed:
                link.finish()
            link.changed.fire()

        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(close)

    def _check_import(self, address: str, name: str) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the node is closed")
        scheme = parse_address(address).scheme
        mine = self._ep.address.partition("://")[0]
        if scheme != mine:
            raise ValueError(
                f"this node runs on {mine}:// and cannot reach {address}; open the node on "
                f"{scheme}:// (for a client-only node: client_address='{scheme}://0.0.0.0:0')"
            )
        if not isinstance(name, str) or not name:
            raise TypeError("a channel name is a non-empty string")
        if self._listening and address == self._ep.address:
            raise ValueError("a node cannot import its own channels; use them directly")

    def _new_link_id(self) -> int:
        return next(self._link_ids) & 0xFFFFFFFF

    def _count(self, kind: str) -> None:
        self._errors[kind] += 1

    def _spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        self._nursery.start_soon(fn, *args)

    # -------------------------------------------------------------- codec and references

    def _encode(self, value: Any) -> bytes:
        return self._codec.encode(value)

    def _decode(self, payload: bytes | memoryview, peer: Peer | None, tp: Any) -> Any:
        self._decode_peer = peer
        self._decoded_refs = []
        try:
            value = self._codec.decode(payload)
            if tp is not None:
                try:
                    check_type(value, tp)
                except Exception as exc:  # TypeError, or whatever a strange type raises
                    raise _Rejected(P.ErrorCode.TYPE_MISMATCH, "type_mismatch", str(exc)) from None
        except DecodeError as exc:
            self._close_decoded_refs()
            raise _Rejected(P.ErrorCode.DECODE, "undecodable", str(exc)) from None
        except _Rejected:
            self._close_decoded_refs()
            raise
        finally:
            self._decode_peer = None
        self._decoded_refs = []
        return value

    def _close_decoded_refs(self) -> None:
        for end in self._decoded_refs:
            with contextlib.suppress(Exception):
                end.close()  # type: ignore[attr-defined]
        self._decoded_refs = []

    def _ref_address(self) -> str:
        return self._ep.address

    def _encode_ref(self, obj: Any) -> object:
        if isinstance(obj, (RemoteSendChannel, RemoteReceiveChannel)):
            link = obj._netchan_link
            direction = P.Dir.SEND if isinstance(obj, RemoteSendChannel) else P.Dir.RECEIVE
            if link.owner_id is None:
                raise TypeError("this channel end is not connected yet and cannot travel")
            if link.target_kind is P.TargetKind.TOKEN:
                link.forwards += 1
            return [int(direction), link.owner_id, link.address, int(link.target_kind), link.target]
        # A trio channel end in a value is handed over to the node (moved, not copied): the
        # node serves it under a random token while remote holders exist, then closes it.
        direction = P.Dir.SEND if isinstance(obj, trio.MemorySendChannel) else P.Dir.RECEIVE
        export = self._moved.get(id(obj))
        if export is None or export.closed or export.end is not obj:
            if obj.statistics().open_send_channels == 0 and direction is P.Dir.SEND:
                raise trio.ClosedResourceError("a closed channel end cannot be sent")
            export = Export(self, "<ref>", obj, None, token=secrets.token_hex(16))
            assert export.token is not None
            self._tokens[export.token] = export
            self._moved[id(obj)] = export
            if not export.is_send:
                self._spawn(self._run_work_queue, export)
        export.pending += 1
        return [
            int(direction),
            self.node_id,
            self._ref_address(),
            int(P.TargetKind.TOKEN),
            export.token,
        ]

    def _decode_ref(self, desc: Any) -> Any:
        if (
            not isinstance(desc, list)
            or len(desc) < 5
            or desc[0] not in (0, 1)
            or not isinstance(desc[1], bytes)
            or not (desc[2] is None or isinstance(desc[2], str))
            or desc[3] not in (0, 1)
            or not isinstance(desc[4], str)
        ):
            raise ValueError("malformed channel reference")
        direction = P.Dir(desc[0])
        owner_id: bytes = desc[1]
        kind = P.TargetKind(desc[3])
        key: str = desc[4]
        if owner_id == self.node_id:
            return self._claim_local(direction, kind, key)
        address = self._resolve(desc[2], owner_id)
        link: _ImportLink
        end: Any
        if direction is P.Dir.SEND:
            link = ImportSendLink(self, "<ref>", address, owner_id, kind, key, None)
            end = RemoteSendChannel(link)
        else:
            link = ImportReceiveLink(
                self, "<ref>", address, owner_id, kind, key, None, window=self._reference_buffer
            )
            end = RemoteReceiveChannel(link)
        if kind is P.TargetKind.NAME:
            link.name = key
        self._decoded_refs.append(end)
        self._spawn(self._open_ref_link, link)
        return end

    def _resolve(self, address: str | None, owner_id: bytes) -> str | None:
        """Fill in an unspecified host (a client-only node) from the association it came on."""
        peer = self._decode_peer
        if address is None:
            return peer.address if peer is not None and peer.node_id == owner_id else None
        try:
            addr = parse_address(address)
            unspecified = ipaddress.ip_address(addr.host).is_unspecified
        except ValueError:
            return address
        if unspecified and peer is not None and peer.node_id == owner_id and peer.remote_host:
            return format_address(addr.scheme, [peer.remote_host], addr.port, addr.sctp_port)
        return address

    def _claim_local(self, direction: P.Dir, kind: P.TargetKind, key: str) -> Any:
        export = (self._tokens if kind is P.TargetKind.TOKEN else self._exports).get(key)
        if export is None or export.closed:
            raise ValueError(f"reference to a channel of this node that no longer exists: {key}")
        if export.is_send != (direction is P.Dir.SEND) or not hasattr(export.end, "clone"):
            raise ValueError("reference with the wrong direction")
        end = export.end.clone()
        if kind is P.TargetKind.TOKEN:
            export.pending -= 1
            export.maybe_release()
        return end

    def _release_token(self, export: Export) -> None:
        export.closed = True
        self._tokens.pop(export.token or "", None)
        if self._moved.get(id(export.end)) is export:
            del self._moved[id(export.end)]
        export.signal.fire()
        with contextlib.suppress(Exception):
            export.end.close()

    # -------------------------------------------------------------- peers and links

    def _peer_for(self, assoc: Association) -> Peer:
        peer = self._peers.get(assoc.id)
        if peer is None and assoc.id in self._dead:
            raise trio.BrokenResourceError("association already failed")
        if peer is None:
            peer = Peer(self, assoc)
            self._peers[assoc.id] = peer
            peer.send_control(P.Hello(P.PROTOCOL_VERSION, self.node_id, self._ref_address()))
            self._nursery.start_soon(peer.run_sender)
        return peer

    async def _get_peer(self, address: str | None, owner_id: bytes | None) -> Peer:
        if owner_id is not None:
            peer = self._peers_by_id.get(owner_id)
            if peer is not None and peer.error is None and not peer.closing:
                return peer
        if address is None:
            raise PeerUnreachableError("the channel's owner has no known address")
        try:
            with trio.fail_after(self._connect_timeout):
                assoc = await self._ep.connect(address)
                peer = self._peer_for(assoc)
                await peer.ready.wait()
        except trio.TooSlowError:
            raise PeerUnreachableError(f"no answer from {address}") from None
        except (OSError, trio.BrokenResourceError, TransportError) as exc:
            raise PeerUnreachableError(f"cannot reach {address}: {exc}") from exc
        if peer.error is not None:
            raise PeerUnreachableError(f"cannot reach {address}") from peer.error
        return peer

    async def _open_link(self, link: _ImportLink) -> None:
        """Connect (or reuse the association), send OPEN, wait for OPEN_OK / OPEN_ERR."""
        try:
            peer = await self._get_peer(link.address, link.owner_id)
        except PeerUnreachableError as exc:
            link.fail(exc)
            raise
        if link.error is not None:
            link.raise_if_failed()
        if peer.node_id == self.node_id:
            link.fail(ValueError("connected to itself"))
            raise ValueError("a node cannot import its own channels; use them directly")
        link.owner_id = peer.node_id
        if link.address is None:
            link.address = peer.address
        link.attach(peer, 0)
        credit = link.window if isinstance(link, ImportReceiveLink) else 0
        direction = P.Dir.RECEIVE if isinstance(link, ImportReceiveLink) else P.Dir.SEND
        peer.send_control(
            P.Open(link.id, link.target_kind, link.target, direction, credit, _type_name(link.type))
        )
        await link.opened.wait()
        if isinstance(link.error, RemoteError) and link.error.code in (
            "UNKNOWN_CHANNEL",
            "WRONG_DIRECTION",
        ):
            raise ChannelNotFoundError(
                f"{peer.address or link.address} has no {link.direction}able channel "
                f"{link.target!r} ({link.error})"
            ) from link.error
        link.raise_if_failed()

    async def _open_ref_link(self, link: _ImportLink) -> None:
        try:
            await self._open_link(link)
        except (PeerUnreachableError, ChannelNotFoundError, trio.BrokenResourceError) as exc:
            self._count("reference_unreachable")
            log.warning("channel reference %s could not be opened: %s", link.target[:12], exc)
        except ValueError as exc:
            log.warning("channel reference %s refused: %s", link.target[:12], exc)

    async def _run_link_sender(self, link: ImportSendLink | ExportReceiveLink) -> None:
        """Hand a link's queued frames to the association in order, then its END."""
        peer = link.peer
        assert peer is not None
        try:
            while True:
                if link.outbox:
                    data = link.outbox[0]
                    link.in_flight = True
                    if len(data) > P.FRAGMENT_SIZE + P.FRAME_HEADER_SIZE:
                        await self._send_fragmented(peer, link, data)
                    else:
                        await peer.assoc.send(data, stream=link.stream, ppid=P.PPID_VALUE)
                    link.in_flight = False
                    if link.outbox and link.outbox[0] is data:
                        link.outbox.popleft()
                        link.outbox_bytes -= len(data)
                    if not link.outbox and isinstance(link, ExportReceiveLink):
                        link.export.signal.fire()
                    link.changed.fire()
                    continue
                if link.error is not None:
                    return
                if link.finishing:
                    await peer.assoc.send(link.final_frame(), stream=link.stream, ppid=P.PPID_VALUE)
                    link.after_final()
                    return
                await link.sender_signal.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            link.in_flight = False
            self._peer_failed(peer, exc.__cause__ or exc)

    async def _send_fragmented(self, peer: Peer, link: Link, frame: bytes) -> None:
        """Send a big value as MORE frames and a last VALUE frame.

        SCTP queues whole messages: one 100 MiB message would sit in front of every small
        message of every other channel of the association. In pieces, the other channels'
        messages get in between, so a big value delays them by one piece, not the whole value.
        """
        payload = memoryview(frame)[P.FRAME_HEADER_SIZE :]
        last = len(payload) - P.FRAGMENT_SIZE
        for offset in range(0, last, P.FRAGMENT_SIZE):
            piece = payload[offset : offset + P.FRAGMENT_SIZE]
            more = P.encode_frame(P.Frame.MORE, link.peer_link, bytes(piece))
            await peer.assoc.send(more, stream=link.stream, ppid=P.PPID_VALUE)
        start = ((last + P.FRAGMENT_SIZE - 1) // P.FRAGMENT_SIZE) * P.FRAGMENT_SIZE
        tail = P.encode_frame(P.Frame.VALUE, link.peer_link, bytes(payload[start:]))
        await peer.assoc.send(tail, stream=link.stream, ppid=P.PPID_VALUE)

    def _assemble(self, link: Link, kind: P.Frame, payload: memoryview) -> memoryview | None:
        """Collect MORE pieces of a value; returns the whole value on its VALUE frame."""
        if kind is P.Frame.MORE:
            if link.partial is None:
                link.partial = bytearray()
            if len(link.partial) + len(payload) > self._codec.limits.max_size:
                link.partial = None
                self._link_protocol_error(
                    link, P.ErrorCode.PROTOCOL, "oversize_value", "value over max_value_size"
                )
                return None
            link.partial += payload
            return None
        if link.partial is not None:
            link.partial += payload
            whole = memoryview(bytes(link.partial))
            link.partial = None
            return whole
        return payload

    def _peer_failed(self, peer: Peer, cause: BaseException) -> None:
        if peer.error is not None:
            return
        peer.error = cause
        peer.ready.set()
        self._dead[peer.assoc.id] = None
        if len(self._dead) > MAX_DEAD_ASSOCIATIONS:
            del self._dead[next(iter(self._dead))]
        self._peers.pop(peer.assoc.id, None)
        if peer.node_id is not None and self._peers_by_id.get(peer.node_id) is peer:
            del self._peers_by_id[peer.node_id]
        if peer.links:
            log.info("association with %s ended: %s", peer.describe(), cause)
        for link in list(peer.links):
            link.peer_failed(cause)
        peer._ctl_signal.fire()

    def _link_protocol_error(self, link: Link, code: P.ErrorCode, kind: str, msg: str) -> None:
        """The peer broke the protocol on one link: count, log, tell it, refuse the link."""
        self._count(kind)
        log.warning("protocol error on %s: %s", link.describe(), msg)
        if link.peer is not None:
            link.peer.send_control(P.Error(link.peer_link, code, msg))
        link.fail(RemoteError(code.name, f"peer broke the protocol: {msg}"))

    def _reject(self, link: Link, exc: _Rejected) -> None:
        self._count(exc.kind)
        log.warning("value refused on %s: %s", link.describe(), exc)
        if link.peer is not None and link.peer.error is None:
            link.peer.send_control(P.Reject(link.peer_link, exc.code, str(exc)[:1000]))

    # -------------------------------------------------------------- work queues and pumps

    async def _run_work_queue(self, export: Export) -> None:
        """Take values from an exported ReceiveChannel only when an importer has credit."""
        while not export.closed:
            if export.ended and not export.held:
                # The queue ended: every importer gets END after what it was given, once no
                # value can come back (a link whose association dies returns what it had not
                # handed to SCTP yet, and another importer must still be there to take it).
                if any(
                    isinstance(other, ExportReceiveLink) and other.outbox and other.error is None
                    for other in export.links
                ):
                    await export.signal.wait()
                    continue
                for other in list(export.links):
                    if isinstance(other, ExportReceiveLink) and not other.finishing:
                        other.finish()
                await export.signal.wait()
                continue
            link = export.pick()
            if link is None:
                await export.signal.wait()
                continue
            if export.held:
                link.give(export.held.popleft())
                continue
            try:
                value = await export.end.receive()
            except trio.EndOfChannel:
                export.ended = True
                continue
            except (trio.ClosedResourceError, trio.BrokenResourceError) as exc:
                export.ended = True
                export.broken = exc
                for other in list(export.links):
                    if other.peer is not None:
                        other.peer.send_control(
                            P.Error(other.peer_link, P.ErrorCode.BROKEN, str(exc))
                        )
                    other.fail(exc)
                continue
            try:
                if export.type is not None:
                    check_type(value, export.type)
                payload = self._encode(value)
            except Exception as exc:
                self._count("local_unencodable")
                log.error("value put into exported channel %r cannot be sent: %s", export.name, exc)
                continue
            export.values += 1
            link = export.pick()
            if link is None:
                export.held.append(payload)
            else:
                link.give(payload)

    async def _run_push(self, link: ExportSendLink) -> None:
        """Push values received on a link into the exported SendChannel, returning credit."""
        export = link.export
        while True:
            if not link.inbox:
                if link.ended or link.error is not None:
                    if link.error is None:
                        link.remove()
                    return
                await link.changed.wait()
                continue
            value = link.inbox[0]
            try:
                await export.end.send(value)
            except (trio.ClosedResourceError, trio.BrokenResourceError) as exc:
                export.broken = exc
                for other in list(export.links):
                    if other.peer is not None:
                        other.peer.send_control(
                            P.Error(other.peer_link, P.ErrorCode.BROKEN, "receiver is gone")
                        )
                    other.fail(exc)
                return
            if link.inbox and link.inbox[0] is value:
                link.inbox.popleft()
            del value  # hold no reference: channel ends inside are closed when dropped
            link._consumed_one()

    # -------------------------------------------------------------- receive loop

    async def _run_receive(self) -> None:
        while True:
            try:
                msg = await self._ep.receive()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            if msg.association.id in self._dead:
                continue
            peer = self._peer_for(msg.association)
            try:
                data = msg.data
                if data[:1] in P.FRAME_FIRST_BYTES:
                    self._on_frame(peer, data)
                elif msg.stream == P.CONTROL_STREAM:
                    self._on_control(peer, P.decode_control(data))
                else:
                    raise P.ProtocolError("malformed_frame", "control message on a data stream")
            except P.ProtocolError as exc:
                self._count(exc.kind)
                log.warning("protocol error from %s: %s", peer.describe(), exc)
            except Exception:
                # A bug of ours triggered by this message: keep serving everyone else, but
                # say so loudly (with the traceback).
                self._count("internal_error")
                log.exception("internal error handling a message from %s", peer.describe())

    async def _run_events(self) -> None:
        while True:
            try:
                event = await self._ep.next_event()
            except (trio.ClosedResourceError, trio.EndOfChannel):
                return
            if isinstance(event, AssociationAborted):
                peer = self._peers.get(event.association.id)
                if peer is not None:
                    self._peer_failed(peer, event.error)
            elif isinstance(event, AssociationClosed):
                peer = self._peers.get(event.association.id)
                if peer is not None:
                    peer.closing = True
                    self._nursery.start_soon(self._closed_after_grace, peer)
            elif isinstance(event, AssociationRestarted):
                peer = self._peers.get(event.association.id)
                if peer is not None:
                    self._peer_failed(peer, AssociationAbortedError("peer restarted"))
            elif event.association.id not in self._dead:
                self._peer_for(event.association)

    async def _closed_after_grace(self, peer: Peer) -> None:
        # Messages delivered before the SHUTDOWN are still being read: let them through.
        await trio.sleep(0.5)
        self._peer_failed(peer, AssociationAbortedError("association shut down", by_peer=True))

    def _on_control(self, peer: Peer, msg: P.Control) -> None:
        if isinstance(msg, P.Hello):
            self._on_hello(peer, msg)
            return
        if peer.node_id is None:
            raise P.ProtocolError("no_hello", f"{type(msg).__name__} before HELLO")
        if isinstance(msg, P.Open):
            self._on_open(peer, msg)
            return
        if isinstance(msg, P.ListExports):
            exports = [] if self._closed else self._exports.values()
            listed = [(e.name, e.is_send, _type_name(e.type)) for e in exports if not e.closed]
            peer.send_control(answer(msg, listed))
            return
        if isinstance(msg, P.Exports):
            if not self._queries.on_answer(peer, msg):
                self._count("unexpected_control")
            return
        link = self._links.get(msg.link)
        if link is None or link.peer is not peer:
            self._count("unknown_link")
            return
        if isinstance(msg, P.OpenOk):
            if not isinstance(link, _ImportLink) or link.opened.is_set():
                raise P.ProtocolError("unexpected_control", "OPEN_OK for a link not opening")
            link.peer_link = msg.peer_link
            link.on_open_ok(msg)
        elif isinstance(msg, P.OpenErr):
            if not isinstance(link, _ImportLink):
                raise P.ProtocolError("unexpected_control", "OPEN_ERR for a link not opening")
            link.fail(RemoteError(msg.code.name, msg.message))
        elif isinstance(msg, P.Credit):
            if not isinstance(link, (ImportSendLink, ExportReceiveLink)):
                raise P.ProtocolError("unexpected_control", "CREDIT for a receiving link")
            link.on_credit(msg.n)
        elif isinstance(msg, P.Error):
            log.info("peer reported an error on %s: %s", link.describe(), msg.message)
            link.fail(RemoteError(msg.code.name, msg.message))
        elif isinstance(msg, P.Reject):
            self._count("rejected_by_peer")
            log.warning("peer refused a value on %s: %s", link.describe(), msg.message)

    def _on_hello(self, peer: Peer, msg: P.Hello) -> None:
        if peer.node_id is not None:
            raise P.ProtocolError("unexpected_control", "second HELLO")
        if msg.version != P.PROTOCOL_VERSION:
            self._count("version_mismatch")
            log.warning("peer speaks protocol version %d, not %d", msg.version, P.PROTOCOL_VERSION)
            peer.assoc.abort(f"netchan protocol version {P.PROTOCOL_VERSION} required")
            self._peer_failed(peer, PeerUnreachableError(f"protocol version {msg.version}"))
            return
        peer.node_id = msg.node_id
        self._decode_peer = peer
        peer.address = self._resolve(msg.address, msg.node_id) if msg.address else None
        self._decode_peer = None
        self._peers_by_id.setdefault(msg.node_id, peer)
        peer.ready.set()

    def _on_open(self, peer: Peer, msg: P.Open) -> None:
        table = self._exports if msg.target_kind is P.TargetKind.NAME else self._tokens
        export = table.get(msg.target)
        if export is None or export.closed or self._closed:
            self._count("unknown_channel")
            log.warning("peer %s asked for unknown channel %r", peer.describe(), msg.target[:80])
            peer.send_control(
                P.OpenErr(msg.link, P.ErrorCode.UNKNOWN_CHANNEL, f"no channel {msg.target!r}")
            )
            return
        wants_send = msg.direction is P.Dir.SEND
        if wants_send != export.is_send:
            self._count("wrong_direction")
            what = "SendChannel" if export.is_send else "ReceiveChannel"
            peer.send_control(
                P.OpenErr(msg.link, P.ErrorCode.WRONG_DIRECTION, f"{msg.target!r} is a {what}")
            )
            return
        if export.broken is not None:
            peer.send_control(P.OpenErr(msg.link, P.ErrorCode.BROKEN, "the channel is broken"))
            return
        link: Link
        if wants_send:
            link = ExportSendLink(self, export, peer, msg.link)
            self._nursery.start_soon(self._run_push, link)
            credit = link.window
        else:
            link = ExportReceiveLink(self, export, peer, msg.link, msg.credit)
            self._nursery.start_soon(self._run_link_sender, link)
            credit = 0
        if export.token is not None:
            export.pending -= 1
        export.links.add(link)
        peer.send_control(P.OpenOk(msg.link, link.id, credit))
        export.signal.fire()

    def _on_frame(self, peer: Peer, data: bytes) -> None:
        kind, link_id, payload = P.decode_frame(data)
        link = self._links.get(link_id)
        if link is None or link.peer is not peer:
            # Frames may legitimately arrive after we dropped a link (ERROR crossing them).
            self._count("late_frame")
            return
        if kind is P.Frame.VALUE or kind is P.Frame.MORE:
            if not isinstance(link, (ImportReceiveLink, ExportSendLink)):
                raise P.ProtocolError("unexpected_frame", "VALUE toward a sending link")
            if link.received >= link.granted:
                # Checked on the first piece too: no credit, no buffering.
                link.partial = None
                self._link_protocol_error(
                    link, P.ErrorCode.CREDIT_EXCEEDED, "credit_exceeded", "more values than credit"
                )
                return
            whole = self._assemble(link, kind, payload)
            if whole is not None:
                link.on_value(whole)
        elif kind is P.Frame.END:
            forwards = P.end_forwards(payload)
            if isinstance(link, ImportReceiveLink):
                link.on_end()
            elif isinstance(link, (ExportSendLink, ExportReceiveLink)):
                link.on_end(forwards)
            else:
                raise P.ProtocolError("unexpected_frame", "END toward a sending link")
        elif kind is P.Frame.RETURN:
            if not isinstance(link, ExportReceiveLink):
                raise P.ProtocolError("unexpected_frame", "RETURN toward a non-queue link")
            link.export.held.append(bytes(payload))
            link.values_sent -= 1
            link.export.signal.fire()
        elif kind is P.Frame.CLOSE:
            if not isinstance(link, ExportReceiveLink):
                raise P.ProtocolError("unexpected_frame", "CLOSE toward a non-queue link")
            link.on_close()

    # -------------------------------------------------------------- shutdown

    def _flushing(self) -> bool:
        """Whether values, END markers or control messages still wait to be sent."""
        for link in self._links.values():
            if link.peer is None or link.peer.error is not None:
                continue
            if isinstance(link, ImportSendLink) and (link.outbox or not link.done):
                return True
            if isinstance(link, ExportReceiveLink) and (link.outbox or not link.end_sent):
                return True
            if isinstance(link, ImportReceiveLink) and link.user_closed and not link.end_sent:
                # CLOSE sent, the exporter's END not seen yet: values it sent before reading
                # CLOSE are still arriving and go back (RETURN) to its work queue; leaving now
                # would lose them with the association.
                return True
        return any(not p.drained() for p in self._peers.values() if p.error is None)

    async def _shutdown(self, linger: float) -> None:
        """Close gracefully: END every channel, flush, SHUTDOWN associations, close ends."""
        self._closed = True
        for link in list(self._links.values()):
            link.changed.fire()  # tasks blocked in send/receive see ClosedResourceError
            if isinstance(link, (ImportSendLink, ImportReceiveLink)):
                if link.error is None and link.opened.is_set():
                    link.finish()
            elif isinstance(link, ExportReceiveLink):
                link.finish()
            elif isinstance(link, ExportSendLink) and link.peer is not None:
                link.peer.send_control(
                    P.Error(link.peer_link, P.ErrorCode.CLOSED, "the exporting node closed")
                )
        with trio.move_on_after(linger):
            while self._flushing():
                await trio.sleep(0.01)
        with trio.move_on_after(linger):
            async with trio.open_nursery() as nursery:
                for peer in list(self._peers.values()):
                    if peer.error is None:
                        nursery.start_soon(peer.assoc.aclose)
        for export in list(self._exports.values()) + list(self._tokens.values()):
            export.closed = True
            export.signal.fire()
            with contextlib.suppress(Exception):
                await export.end.aclose()


def type_name(obj: Any) -> str:
    return type(obj).__name__


@asynccontextmanager
async def open_node(
    address: str | None = None,
    *,
    transport: EndpointFactory | None = None,
    max_value_size: int = 64 * 1024 * 1024,
    reference_buffer: int = DEFAULT_BUFFER,
    connect_timeout: float = 20.0,
    linger: float = 2.0,
    client_address: str | None = None,
) -> AsyncIterator[Node]:
    """Open a node: ``async with netchan.open_node("udp://127.0.0.1:9000") as node: ...``.

    With ``address`` the node listens there (port 0: ephemeral, see ``node.address``); without,
    it is client-only: it still binds an ephemeral endpoint (dual-stack ``udp://[::]:0``, so
    it reaches IPv4 and IPv6 peers alike) so peers can reach the channel ends it passes in
    values over the associations it opens.

    Args:
        address: ``udp://HOST:PORT`` or ``sctp://HOST:PORT``, or ``None``.
        transport: an ``open_endpoint``-like factory (tests use an in-memory network), e.g.
            ``functools.partial(open_endpoint, nodelay=True)`` to turn off Nagle's rule on
            ``udp://`` (see docs/protocol.md, Credit).
        max_value_size: largest encoded value accepted or sent (codec ``max_size``).
        reference_buffer: the buffer of a ReceiveChannel that arrives inside a value.
        connect_timeout: how long to wait for an association and the peer's HELLO.
        linger: on exit, how long to wait for queued values and END markers to be sent.
        client_address: what a client-only node binds (e.g. ``sctp://0.0.0.0:0`` to use the
            kernel's SCTP, or a loopback address). Default: ``udp://[::]:0``, dual-stack;
            ``udp://0.0.0.0:0`` on hosts without IPv6.

    Leaving the block ends every imported channel (the peers see ``EndOfChannel``), tells
    importers of our exports that the node closed, shuts the associations down gracefully
    and closes the exported channel ends.
    """
    opener: EndpointFactory = transport or open_endpoint
    bind = address or client_address or default_client_address()
    async with opener(bind) as endpoint, open_internal_nursery() as nursery:
        node = Node(
            endpoint,
            nursery,
            listening=address is not None,
            max_value_size=max_value_size,
            reference_buffer=reference_buffer,
            connect_timeout=connect_timeout,
        )
        nursery.start_soon(node._run_receive)
        nursery.start_soon(node._run_events)
        try:
            yield node
        finally:
            with trio.CancelScope(shield=True):
                await node._shutdown(linger)
            nursery.cancel_scope.cancel()
