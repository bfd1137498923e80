"""The exporter's links: ExportSendLink and ExportReceiveLink (see ``_links.py`` for the four
kinds and their common base classes).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import trio

from .. import _protocol as P
from ..codec import Scattered
from ._credit import clamp_credit
from ._frames import prepare
from ._host import Host, Rejected
from ._links import _Receiving, _Sending
from ._state import EXPORT_RECEIVE, EXPORT_SEND
from ._state import LinkState as S
from ._state import Trigger as T

if TYPE_CHECKING:
    from ._exports import Export
    from ._peers import Peer

log = logging.getLogger("netchan")


#: What :meth:`ExportSendLink._decode` returns for a refused value.
_REFUSED = object()


class ExportSendLink(_Receiving):
    """Exporter side of a remote sender: values go into the exported SendChannel."""

    direction = "send"
    TRANSITIONS = EXPORT_SEND

    def __init__(self, host: Host, export: Export, peer: Peer, peer_link: int) -> None:
        super().__init__(host, export.name)
        self.export = export
        self._init_receiving(export.window)
        self.inbox: deque[Any] = deque()
        self.forwards = 0
        # The pump task runs only while values wait for room in the exported channel: a
        # link whose values all go in at once (a reply channel) never costs a task.
        self.pumping = False
        self.attach(peer, peer_link)

    def start_pump(self) -> None:
        """Run the pump (values are waiting, or the exported channel refused one)."""
        if not self.pumping:
            self.pumping = True
            self.host.spawn(self.run_pump)

    def on_value(self, payload: memoryview | bytes | Scattered) -> None:
        if type(payload) is Scattered:
            # A big value: the pump decodes it once a worker thread cut its big fields out
            # (no GIL held for the copy), so this loop keeps serving the other channels.
            self.inbox.append(payload)
            self.start_pump()
            self.changed.fire()
            return
        value = self._decode(payload)
        if value is _REFUSED:
            return
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
                    self.consumed_one()
                    return
        self.inbox.append(value)
        self.start_pump()
        self.changed.fire()

    def _decode(self, payload: memoryview | bytes | Scattered) -> Any:
        """The value, counted; ``_REFUSED`` (the sender told, credit given back) if it
        does not decode or type-check."""
        try:
            value = self.host.decode(payload, self.peer, self.export.type)
        except Rejected as exc:
            self.refuse(exc)
            self.consumed_one()
            return _REFUSED
        self.values_received += 1
        self.host.counters.values_in += 1
        return value

    def on_end(self, payload: memoryview) -> None:
        self.forwards = P.end_forwards(payload)
        self.life.fire(T.REMOTE_END)
        self._ended()

    def peer_failed(self, cause: BaseException) -> None:
        # What arrived is still delivered by the pump; nothing more will come.
        if self.life.can(T.REMOTE_END):
            self.life.fire(T.REMOTE_END)
        self._ended()

    def _ended(self) -> None:
        """Nothing more will arrive: the pump delivers what waits, or the link is done now."""
        if not self.pumping and not self.inbox and self.state is S.ENDED:
            self.life.fire(T.DELIVERED)
            self.remove()
        self.changed.fire()

    def remove(self) -> None:
        super().remove()
        if self.peer is not None and self.peer.early.get(self.peer_link) is self:
            del self.peer.early[self.peer_link]
        self.export.link_gone(self, self.forwards)

    def on_node_closing(self) -> None:
        if self.peer is not None:
            self.peer.send_control(
                P.Error(self.peer_link, P.ErrorCode.CLOSED, "the exporting node closed")
            )

    async def run_pump(self) -> None:
        """Push the values received into the exported SendChannel, returning credit.

        Values that arrived within credit are delivered even after the link ended or failed.
        """
        export = self.export
        while True:
            if not self.inbox:
                if self.state is S.ENDED:
                    self.life.fire(T.DELIVERED)
                    self.remove()
                    return
                if self.state is not S.OPEN:
                    return
                # Drained: the pump stops until values wait again (start_pump).
                self.pumping = False
                return
            value = self.inbox[0]
            if type(value) is Scattered:
                await prepare(value)
                if not self.inbox or self.inbox[0] is not value:
                    continue
                self.inbox[0] = value = self._decode(value)
                if value is _REFUSED:
                    self.inbox.popleft()
                    continue
            try:
                await export.end.send(value)
            except (trio.ClosedResourceError, trio.BrokenResourceError) as exc:
                export.broke(exc, "receiver is gone")
                return
            if self.inbox and self.inbox[0] is value:
                self.inbox.popleft()
            del value  # hold no reference: channel ends inside are closed when dropped
            self.consumed_one()


class ExportReceiveLink(_Sending):
    """Exporter side of a remote receiver: the work queue hands it values while it has credit."""

    direction = "receive"
    TRANSITIONS = EXPORT_RECEIVE

    def __init__(self, host: Host, export: Export, peer: Peer, peer_link: int, credit: int):
        super().__init__(host, export.name)
        self.export = export
        self._init_sending(clamp_credit(credit))
        self.forwards = 0
        #: Values the importer confirmed it took (the credit it gave back).
        self.confirmed = 0
        self._in_doubt = 0  # counted as values_in_doubt when the importer failed
        self.attach(peer, peer_link)

    def ready(self) -> bool:
        """Whether the work queue may hand this link a value now."""
        return self.state is S.OPEN and self.credit > 0

    def on_credit(self, msg: P.Credit) -> None:
        self.credit = clamp_credit(self.credit + msg.n)
        self.confirmed += msg.n
        self.export.signal.fire()

    def on_close(self, payload: memoryview) -> None:
        """The importer closed: stop, hand unsent values back to the queue, then END."""
        self._return_unsent(keep_first=True)
        self.finish()

    def on_return(self, payload: memoryview) -> None:
        self.export.held.append(bytes(payload))
        self.values_sent -= 1
        self.export.signal.fire()

    def _return_unsent(self, *, keep_first: bool) -> None:
        keep = self.in_flight if keep_first else 0
        payloads = list(self.outbox)
        for payload in payloads[keep:]:
            self.export.held.append(payload)
            self.values_sent -= 1
        self.outbox = deque(payloads[:keep])
        self.outbox_bytes = sum(len(p) for p in self.outbox)
        self.export.signal.fire()

    def finish(self) -> None:
        """No more values for this importer: END after what is queued."""
        if self.life.can(T.FINISH):
            self.life.fire(T.FINISH)
        self.sender_signal.fire()
        self.export.signal.fire()

    def final_frame(self) -> bytes:
        return P.frame_end(self.peer_link, 0)

    def after_final(self) -> None:
        # The link stays until the importer's own END (its RETURNs may still come).
        if self.life.can(T.FINAL_SENT):  # not if the link failed while END was going out
            self.life.fire(T.FINAL_SENT)

    def sent_one(self) -> None:
        if not self.outbox:
            self.export.signal.fire()

    def on_end(self, payload: memoryview) -> None:
        self.forwards = P.end_forwards(payload)
        self.life.fire(T.REMOTE_END)
        self.remove()

    def send_failed(self) -> None:
        # Not handed to SCTP: another importer may have it (docs/protocol.md, work queue).
        if self._in_doubt and self.in_flight:
            self.host.counters.count("values_in_doubt", -min(self.in_flight, self._in_doubt))
            self._in_doubt -= min(self.in_flight, self._in_doubt)
        self._return_unsent(keep_first=False)

    def peer_failed(self, cause: BaseException) -> None:
        # A frame whose send is under way stays: if that send returns, the frame was handed
        # to SCTP and is lost with this importer (it may have been delivered; giving it to
        # another importer too could duplicate it); if it raises, send_failed returns it.
        self._return_unsent(keep_first=True)
        # Values this importer got (or may have got) and never confirmed taking: their fate
        # is unknown, and it is counted, never silent (credit comes back in batches, so some
        # may have been read). A send still under way counts; send_failed takes it back.
        in_doubt = self.values_sent - (len(self.outbox) - self.in_flight) - self.confirmed
        self._in_doubt = in_doubt
        if in_doubt > 0:
            self.host.counters.count("values_in_doubt", in_doubt)
            log.warning(
                "%d value(s) of work queue %r went to an importer that failed before "
                "confirming it took them (%s)",
                in_doubt,
                self.name,
                cause,
            )
        self.fail(cause)

    def fail(self, cause: BaseException) -> None:
        self.sender_signal.fire()
        super().fail(cause)

    def remove(self) -> None:
        super().remove()
        self.export.link_gone(self, self.forwards)

    def on_node_closing(self) -> None:
        self.finish()

    def flushing(self) -> bool:
        return bool(self.outbox) or self.state in (S.OPEN, S.FINISHING)
