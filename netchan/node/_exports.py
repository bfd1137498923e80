"""Exports: the channel ends this node serves, by name or by reference token, and their pumps.

An exported ``SendChannel`` has one :class:`ExportSendLink` per importer, each pushing what
arrives into it (``ExportSendLink.run_pump``). An exported ``ReceiveChannel`` is a work queue:
:meth:`Exports.run_work_queue` takes a value only when an importer has credit and gives it to
exactly one of them.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections import deque
from typing import Any

import trio

from .. import _protocol as P
from .._listing import answer
from ..codec import check_type
from ._credit import window_of
from ._export_links import ExportReceiveLink, ExportSendLink
from ._frames import Payload
from ._host import Host
from ._links import type_name
from ._peers import Peer
from ._signal import Signal

log = logging.getLogger("netchan")


class Export:
    """A channel end this node serves: by name (``node.export``) or by reference token."""

    def __init__(
        self,
        exports: Exports,
        name: str,
        end: Any,
        tp: Any,
        *,
        token: str | None = None,
        allow: frozenset[str] | None = None,
    ) -> None:
        self._exports = exports
        self.name = name
        #: Names of the node keys whose holders may open it; None: any peer that associates.
        self.allow = allow
        self.end = end
        self.type = tp
        self.token = token
        self.is_send = isinstance(end, trio.abc.SendChannel)
        self.window = window_of(end) if self.is_send else 0
        self.senders: set[ExportSendLink] = set()
        self.receivers: set[ExportReceiveLink] = set()
        # References handed out (in values) whose holders have not opened a link yet.
        self.pending = 0
        # Values taken from a work queue (or returned to it) that no importer had room for.
        self.held: deque[Payload] = deque()
        self.signal = Signal()
        self.ended = False
        self.broken: BaseException | None = None
        self.closed = False

    @property
    def links(self) -> set[ExportSendLink] | set[ExportReceiveLink]:
        """The open links of this export (all of one kind)."""
        return self.senders if self.is_send else self.receivers

    def add_link(self, link: ExportSendLink | ExportReceiveLink) -> None:
        """An importer opened a link to this export."""
        if isinstance(link, ExportSendLink):
            self.senders.add(link)
        else:
            self.receivers.add(link)
        if self.token is not None:
            self.pending -= 1
        self.signal.fire()

    def link_gone(self, link: ExportSendLink | ExportReceiveLink, forwards: int) -> None:
        """A link ended; ``forwards`` references to this export travelled on through it."""
        if link not in self.links:
            return
        if isinstance(link, ExportSendLink):
            self.senders.discard(link)
        else:
            self.receivers.discard(link)
        self.pending += forwards
        self.signal.fire()
        self.maybe_release()

    def maybe_release(self) -> None:
        """A reference export ends when no holder is left (docs/protocol.md "References")."""
        if self.token is None or self.closed or self.links or self.pending != 0:
            return
        self._exports.release(self)

    def pick(self) -> ExportReceiveLink | None:
        """The importer to give the next value to, if one has credit."""
        ready = [link for link in self.receivers if link.ready()]
        if not ready:
            return None
        # Round robin by who was served least recently (lowest values_sent first).
        return min(ready, key=lambda link: (link.values_sent, link.id))

    def broke(self, exc: BaseException, message: str) -> None:
        """The exported end failed: every link of the export fails with it."""
        self.broken = exc
        for link in list(self.links):
            if link.peer is not None:
                link.peer.send_control(P.Error(link.peer_link, P.ErrorCode.BROKEN, message))
            link.fail(exc)


class Exports:
    """The exports of a node: named ones, reference tokens, and the moved trio channel ends."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self.named: dict[str, Export] = {}
        self.tokens: dict[str, Export] = {}
        self._moved: dict[int, Export] = {}

    def add(self, name: str, end: Any, tp: Any, allow: frozenset[str] | None = None) -> Export:
        """Serve ``end`` under ``name`` (the caller checked the arguments)."""
        export = Export(self, name, end, tp, allow=allow)
        self.named[name] = export
        if not export.is_send:
            self._host.spawn(self.run_work_queue, export)
        return export

    def moved(self, end: Any) -> Export:
        """The reference export of a trio channel end that travels inside a value.

        The end is handed over to the node (moved, not copied): the node serves it under a
        random token while remote holders exist, then closes it.

        Raises:
            trio.ClosedResourceError: ``end`` is a closed SendChannel.
        """
        export = self._moved.get(id(end))
        if export is None or export.closed or export.end is not end:
            if isinstance(end, trio.MemorySendChannel) and end.statistics().open_send_channels == 0:
                raise trio.ClosedResourceError("a closed channel end cannot be sent")
            export = Export(self, "<ref>", end, None, token=secrets.token_hex(16))
            assert export.token is not None
            self.tokens[export.token] = export
            self._moved[id(end)] = export
            if not export.is_send:
                self._host.spawn(self.run_work_queue, export)
        return export

    def lookup(self, kind: P.TargetKind, key: str) -> Export | None:
        """The live export a name or token designates."""
        export = (self.tokens if kind is P.TargetKind.TOKEN else self.named).get(key)
        return None if export is None or export.closed else export

    def release(self, export: Export) -> None:
        """A reference export has no holder left: forget it and close its end."""
        export.closed = True
        self.tokens.pop(export.token or "", None)
        if self._moved.get(id(export.end)) is export:
            del self._moved[id(export.end)]
        export.signal.fire()
        with contextlib.suppress(Exception):
            export.end.close()

    async def close_all(self) -> None:
        """The node closed: close every exported end."""
        for export in list(self.named.values()) + list(self.tokens.values()):
            export.closed = True
            export.signal.fire()
            with contextlib.suppress(Exception):
                await export.end.aclose()

    def on_list(self, peer: Peer, msg: P.ListExports) -> None:
        """Answer LIST with the open named exports (none once the node closed)."""
        exports = [] if self._host.closed else self.named.values()
        listed = [
            (e.name, e.is_send, type_name(e.type))
            for e in exports
            if not e.closed and self.allowed(e, peer)
        ]
        peer.send_control(answer(msg, listed))

    def allowed(self, export: Export, peer: Peer) -> bool:
        """Whether ``peer`` may open ``export``: its ``allow`` list names the key the peer's
        association authenticated with (SCTP-AUTH key identifier), or it has no list."""
        return export.allow is None or self._host.key_name(peer) in export.allow

    def on_open(self, peer: Peer, msg: P.Open) -> None:
        """OPEN from an importer: a new link, or OPEN_ERR."""
        export = None if self._host.closed else self.lookup(msg.target_kind, msg.target)
        if export is not None and not self.allowed(export, peer):
            self._host.counters.count("access_denied")
            key = self._host.key_name(peer)
            log.warning(
                "peer %s (key %r) refused: channel %r is not open to it",
                peer.describe(),
                key,
                export.name,
            )
            peer.send_control(
                P.OpenErr(
                    msg.link,
                    P.ErrorCode.FORBIDDEN,
                    f"channel {msg.target!r} is not open to the key {key!r}",
                )
            )
            return
        if export is None:
            self._host.counters.count("unknown_channel")
            log.warning("peer %s asked for unknown channel %r", peer.describe(), msg.target[:80])
            peer.send_control(
                P.OpenErr(msg.link, P.ErrorCode.UNKNOWN_CHANNEL, f"no channel {msg.target!r}")
            )
            return
        wants_send = msg.direction is P.Dir.SEND
        if wants_send != export.is_send:
            self._host.counters.count("wrong_direction")
            what = "SendChannel" if export.is_send else "ReceiveChannel"
            peer.send_control(
                P.OpenErr(msg.link, P.ErrorCode.WRONG_DIRECTION, f"{msg.target!r} is a {what}")
            )
            return
        if export.broken is not None:
            peer.send_control(P.OpenErr(msg.link, P.ErrorCode.BROKEN, "the channel is broken"))
            return
        link: ExportSendLink | ExportReceiveLink
        if wants_send:
            link = ExportSendLink(self._host, export, peer, msg.link)
            peer.early[msg.link] = link
            credit = link.window.window
        else:
            link = ExportReceiveLink(self._host, export, peer, msg.link, msg.credit)
            self._host.spawn(link.run_sender)
            credit = 0
        export.add_link(link)
        peer.send_control(P.OpenOk(msg.link, link.id, credit))

    async def run_work_queue(self, export: Export) -> None:
        """Take values from an exported ReceiveChannel only when an importer has credit."""
        while not export.closed:
            if export.ended and not export.held:
                # The queue ended: every importer gets END after what it was given, once no
                # value can come back (a link whose association dies returns what it had not
                # handed to SCTP yet, and another importer must still be there to take it).
                if any(other.outbox and other.error is None for other in export.receivers):
                    await export.signal.wait()
                    continue
                for other in list(export.receivers):
                    other.finish()
                await export.signal.wait()
                continue
            link = export.pick()
            if link is None:
                await export.signal.wait()
                continue
            if export.held:
                link.queue_value(export.held.popleft())
                continue
            try:
                value = await export.end.receive()
            except trio.EndOfChannel:
                export.ended = True
                continue
            except (trio.ClosedResourceError, trio.BrokenResourceError) as exc:
                export.ended = True
                export.broke(exc, str(exc))
                continue
            try:
                if export.type is not None:
                    check_type(value, export.type)
                payload = self._host.encode(value)
            except Exception as exc:
                self._host.counters.count("local_unencodable")
                log.error("value put into exported channel %r cannot be sent: %s", export.name, exc)
                continue
            link = export.pick()
            if link is None:
                export.held.append(payload)
            else:
                link.queue_value(payload)
