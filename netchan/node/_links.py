"""Links: the state of one channel between two nodes, on one side.

Every link is one of four kinds, depending on which side it lives on and which way values
flow:

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

The exporter's two kinds are in ``_export_links.py``. Each kind's life is a table in
``_state.py``. The router (``_routing.py``) hands every frame
and link-addressed control message to one ``on_*`` method; the base class refuses the
messages a kind does not take, as protocol errors.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

import trio
import trio.testing

from .. import _protocol as P
from .._errors import (
    AccessDeniedError,
    ChannelNotFoundError,
    PeerUnreachableError,
    RemoteError,
)
from .._stats import ChannelStatistics
from ..codec import Scattered, check_type
from ._credit import CreditWindow, clamp_credit
from ._frames import Oversize, Payload, Reassembly, pieces, prepare, send_value
from ._host import Host, Rejected
from ._signal import Signal
from ._state import IMPORT_RECEIVE, IMPORT_SEND, Lifecycle, Transitions
from ._state import LinkState as S
from ._state import Trigger as T

if TYPE_CHECKING:
    from ._peers import Peer

log = logging.getLogger("netchan")

GATHER_TIMEOUT = 0.001
"""Longest a sender task waits for more values of a sender in a loop (see ``_gather``)."""


def type_name(tp: Any) -> str | None:
    """The declared type's name as sent in OPEN (informational)."""
    if tp is None:
        return None
    return str(getattr(tp, "__qualname__", None) or repr(tp))[:200]


class Link:
    """State of one channel between two nodes, on one side (see the module docstring)."""

    direction: ClassVar[str] = "?"
    TRANSITIONS: ClassVar[Transitions]
    INITIAL: ClassVar[S] = S.OPEN

    def __init__(self, host: Host, name: str) -> None:
        self.host = host
        self.name = name
        self.life = Lifecycle(self.TRANSITIONS, self.INITIAL)
        self.peer: Peer | None = None
        self.peer_link = 0
        self.stream = 0
        self.error: BaseException | None = None
        self.changed = Signal()
        self.values_sent = 0
        self.values_received = 0
        self.rejected = 0
        self.waiting = 0
        self.clones = 0
        self.id = host.add_link(self)

    @property
    def state(self) -> S:
        """Where the link is in its life (``_state.py``)."""
        return self.life.state

    def attach(self, peer: Peer, peer_link: int, *, control_stream: bool = False) -> None:
        """Bind the link to its peer and take an outgoing stream there (or stream 0)."""
        self.peer = peer
        self.peer_link = peer_link
        self.stream = P.CONTROL_STREAM if control_stream else peer.take_stream()
        peer.links.add(self)

    def remove(self) -> None:
        """Forget this link (its id may still arrive in late frames: they are dropped)."""
        self.host.forget_link(self)
        if self.peer is not None and self in self.peer.links:
            self.peer.links.discard(self)
            self.peer.release_stream(self.stream)
        self.changed.fire()

    def peer_failed(self, cause: BaseException) -> None:
        """The association died: fail or wind down."""
        self.fail(cause)

    def fail(self, cause: BaseException) -> None:
        """The link failed (``cause`` surfaces as the ``__cause__`` of BrokenResourceError)."""
        if self.error is None:
            self.error = cause
        if self.life.can(T.FAIL):
            self.life.fire(T.FAIL)
        self.remove()

    def raise_if_failed(self) -> None:
        """Raise what a channel end raises on a closed node or a broken channel."""
        if self.host.closed:
            raise trio.ClosedResourceError("the node of this channel end is closed")
        if self.error is not None:
            raise trio.BrokenResourceError(f"channel {self.name!r} is broken") from self.error

    def describe(self) -> str:
        """``direction 'name' link N with peer`` for log lines and reprs."""
        remote = self.peer.describe() if self.peer else "?"
        return f"{self.direction} {self.name!r} link {self.id} with {remote}"

    def protocol_error(self, code: P.ErrorCode, kind: str, msg: str) -> None:
        """The peer broke the protocol on this link: count, log, tell it, refuse the link."""
        self.host.counters.count(kind)
        log.warning("protocol error on %s: %s", self.describe(), msg)
        if self.peer is not None:
            self.peer.send_control(P.Error(self.peer_link, code, msg))
        self.fail(RemoteError(code.name, f"peer broke the protocol: {msg}"))

    def refuse(self, exc: Rejected) -> None:
        """A received value is refused: count it here and at the node, tell the sender."""
        self.rejected += 1
        self.host.counters.count(exc.kind)
        log.warning("value refused on %s: %s", self.describe(), exc)
        if self.peer is not None and self.peer.error is None:
            self.peer.send_control(P.Reject(self.peer_link, exc.code, str(exc)[:1000]))

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

    # ------------------------------------------------ the node's lifecycle

    def on_node_closing(self) -> None:
        """The node is closing: end the link the way this kind ends."""

    def flushing(self) -> bool:
        """Whether this link still has something to send before the node may close."""
        return False

    # ------------------------------------------------ messages (routed by ``_routing.py``)

    def on_open_ok(self, msg: P.OpenOk) -> None:
        """OPEN_OK: the owner accepted the link."""
        raise P.ProtocolError("unexpected_control", "OPEN_OK for a link not opening")

    def on_open_err(self, msg: P.OpenErr) -> None:
        """OPEN_ERR: the owner refused the link."""
        raise P.ProtocolError("unexpected_control", "OPEN_ERR for a link not opening")

    def on_credit(self, msg: P.Credit) -> None:
        """CREDIT: the receiver has room for ``msg.n`` more values."""
        raise P.ProtocolError("unexpected_control", "CREDIT for a receiving link")

    def on_error(self, msg: P.Error) -> None:
        """ERROR: the link failed on the other side."""
        log.info("peer reported an error on %s: %s", self.describe(), msg.message)
        self.fail(RemoteError(msg.code.name, msg.message))

    def on_reject(self, msg: P.Reject) -> None:
        """REJECT: the receiver refused one value this side sent (counted on this end)."""
        self.rejected += 1
        self.host.counters.count("rejected_by_peer")
        log.warning("peer refused a value on %s: %s", self.describe(), msg.message)

    def on_data(self, kind: P.Frame, payload: memoryview | list[bytes]) -> None:
        """A VALUE or MORE frame (its payload, or the payloads of the chunks it came in)."""
        raise P.ProtocolError("unexpected_frame", "VALUE toward a sending link")

    def on_batch(self, payload: memoryview) -> None:
        """A BATCH frame (several values)."""
        raise P.ProtocolError("unexpected_frame", "BATCH toward a sending link")

    def on_end(self, payload: memoryview) -> None:
        """END: the other side ended the link."""
        raise P.ProtocolError("unexpected_frame", "END toward a sending link")

    def on_return(self, payload: memoryview) -> None:
        """RETURN: an importer gives back a value it will not read."""
        raise P.ProtocolError("unexpected_frame", "RETURN toward a non-queue link")

    def on_close(self, payload: memoryview) -> None:
        """CLOSE: the importer of a work queue wants no more values."""
        raise P.ProtocolError("unexpected_frame", "CLOSE toward a non-queue link")


class _Sending(Link):
    """A link that sends values: an outbox drained in order by its sender task.

    The outbox holds the codec bytes of the values committed and not yet handed to the
    association. The sender task takes what is there: one value alone goes at once in its
    own VALUE frame; several small ones (a sender in a loop, a work queue with credit) go
    together in one BATCH frame of up to ``P.BATCH_LIMIT`` bytes, one SCTP message instead
    of one per value. Nothing waits for more values to come.
    """

    credit: int
    outbox: deque[Payload]
    outbox_bytes: int
    in_flight: int
    sender_signal: Signal

    def _init_sending(self, credit: int) -> None:
        self.credit = credit
        self.outbox = deque()
        self.outbox_bytes = 0
        self.in_flight = 0  # values of the outbox's front being handed to the association
        self.sender_signal = Signal()
        self._gather_scope: trio.CancelScope | None = None

    def queue_value(self, payload: Payload) -> None:
        """Queue one encoded value (the caller checked the credit).

        With nothing queued or being handed over before it, a small value goes straight
        to the association from the caller's task when it can leave at once (no hop through
        the sender task); otherwise the sender task sends it, coalesced with what follows.
        """
        self.credit -= 1
        self.values_sent += 1
        self.host.counters.values_out += 1
        peer = self.peer
        if (
            not self.outbox
            and not self.in_flight
            and type(payload) is bytes
            and len(payload) <= P.FRAGMENT_SIZE
            and peer is not None
            and self.state is S.OPEN
        ):
            frame = P.encode_frame(P.Frame.VALUE, self.peer_link, payload)
            try:
                peer.assoc.send_nowait(frame, stream=self.stream, ppid=P.PPID_VALUE)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # queued: the sender task sends it (and reports a broken association)
            else:
                self.sent_one()
                self.changed.fire()
                return
        self.outbox.append(payload)
        self.outbox_bytes += len(payload)
        self.sender_signal.fire()
        if self._gather_scope is not None and self.outbox_bytes >= P.BATCH_LIMIT:
            self._gather_scope.cancel()

    def final_frame(self) -> bytes:
        """The END this side sends when finishing."""
        raise NotImplementedError

    def after_final(self) -> None:
        """The final frame was handed to the association."""
        raise NotImplementedError

    def sent_one(self) -> None:
        """Frames of the outbox were handed to the association."""

    def _next_frame(self, batching: bool) -> tuple[int, bytes | None]:
        """How many values of the outbox's front go next, and their BATCH frame (or None:
        the first value goes alone, through :func:`send_value`)."""
        outbox = self.outbox
        first = outbox[0]
        if (
            not batching
            or len(outbox) == 1
            or len(first) > P.BATCH_ITEM_LIMIT
            or type(first) is not bytes
        ):
            return 1, None
        items = [first]
        total = len(first)
        for payload in itertools.islice(outbox, 1, None):
            size = len(payload)
            if (
                size > P.BATCH_ITEM_LIMIT
                or total + size > P.BATCH_LIMIT
                or type(payload) is not bytes
            ):
                break
            items.append(payload)
            total += size
        if len(items) == 1:
            return 1, None
        return len(items), P.encode_batch(self.peer_link, items)

    async def _gather(self) -> None:
        """Wait while a sender in a loop fills a BATCH: until it holds ``P.BATCH_LIMIT``
        bytes, every task of the program is blocked (the sender stopped), or
        ``GATHER_TIMEOUT`` passed, whichever comes first.

        Only called when values arrived while the previous frame was being handed over (a
        sender that keeps going); a value committed to an idle link goes at once.
        """
        with trio.move_on_after(GATHER_TIMEOUT) as scope:
            self._gather_scope = scope
            await trio.testing.wait_all_tasks_blocked()
        self._gather_scope = None

    def send_failed(self) -> None:
        """The send of the outbox's front (``in_flight`` values) raised: they never reached
        the association."""

    async def run_sender(self) -> None:
        """Hand the queued values to the association in order, then the END."""
        peer = self.peer
        assert peer is not None
        batching = peer.version >= P.BATCH_VERSION
        streaming = False  # values arrived while the previous frame was handed over
        try:
            while True:
                if self.outbox:
                    if streaming and self.outbox_bytes < P.BATCH_LIMIT:
                        await self._gather()
                        streaming = False
                        continue  # the outbox may have changed meanwhile (values returned)
                    first = self.outbox[0]
                    count, batch = self._next_frame(batching)
                    self.in_flight = count
                    if batch is None:
                        await send_value(peer.assoc, self.stream, self.peer_link, first)
                    else:
                        await peer.assoc.send(batch, stream=self.stream, ppid=P.PPID_VALUE)
                    self.in_flight = 0
                    if self.outbox and self.outbox[0] is first:
                        for _ in range(min(count, len(self.outbox))):
                            self.outbox_bytes -= len(self.outbox.popleft())
                    streaming = batching and bool(self.outbox)
                    self.sent_one()
                    self.changed.fire()
                    continue
                if self.error is not None:
                    return
                if self.state is S.FINISHING:
                    await peer.assoc.send(self.final_frame(), stream=self.stream, ppid=P.PPID_VALUE)
                    self.after_final()
                    return
                await self.sender_signal.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            if self.in_flight:
                self.send_failed()  # sees how many values were in flight
                self.in_flight = 0
            self.host.peer_failed(peer, exc.__cause__ or exc)


class _Receiving(Link):
    """A link that receives values within the credit it granted."""

    window: CreditWindow
    reassembly: Reassembly

    def _init_receiving(self, window: int) -> None:
        self.window = CreditWindow(window)
        self.reassembly = Reassembly(self.host.max_value_size)

    def on_data(self, kind: P.Frame, payload: memoryview | list[bytes]) -> None:
        if self.window.exhausted:
            # Checked on the first piece too: no credit, no buffering.
            self.reassembly.reset()
            self.protocol_error(
                P.ErrorCode.CREDIT_EXCEEDED, "credit_exceeded", "more values than credit"
            )
            return
        try:
            whole = self.reassembly.add(kind, payload)
        except Oversize as exc:
            self.protocol_error(P.ErrorCode.PROTOCOL, "oversize_value", str(exc))
            return
        if whole is not None:
            self.window.received += 1
            self.on_value(whole)

    def on_batch(self, payload: memoryview) -> None:
        """A BATCH frame: its values, in order, each as a VALUE frame (each within credit).

        A malformed batch, or one in the middle of a value's MORE pieces, breaks the
        protocol: the link fails and the sender is told (ERROR), so no value it counted as
        sent is lost in silence.
        """
        try:
            if self.reassembly.partial:
                raise P.ProtocolError("malformed_frame", "BATCH inside a value's pieces")
            items = P.decode_batch(payload)
        except P.ProtocolError as exc:
            self.reassembly.reset()
            self.protocol_error(P.ErrorCode.PROTOCOL, exc.kind, str(exc))
            return
        for item in items:
            self.on_data(P.Frame.VALUE, item)
            if self.error is not None:
                return  # credit exceeded: the link failed, the rest is refused with it

    def on_value(self, payload: memoryview | bytes | Scattered) -> None:
        """One whole value arrived within credit (in pieces: a ``Scattered``)."""
        raise NotImplementedError

    def consumed_one(self) -> None:
        """A value was consumed (delivered, refused or returned): grant credit back."""
        n = self.window.consume(may_grant=self.peer is not None and self.state is S.OPEN)
        if n:
            self.host.grant_credit(self, n)


# ---------------------------------------------------------------------------- importer


class ImportLink(Link):
    """Common part of the importer's links: how to find the owner and open the link."""

    INITIAL = S.OPENING
    DIR: ClassVar[P.Dir]

    def __init__(
        self,
        host: Host,
        name: str,
        address: str | None,
        owner_id: bytes | None,
        target_kind: P.TargetKind,
        target: str,
        tp: Any,
    ) -> None:
        super().__init__(host, name)
        self.address = address
        self.owner_id = owner_id
        self.target_kind = target_kind
        self.target = target
        self.type = tp
        self.opened = trio.Event()
        self.forwards = 0
        # Opened by open_reference without a task waiting for the answer.
        self.unattended = False

    def fail(self, cause: BaseException) -> None:
        if self.unattended and not self.opened.is_set() and self.error is None:
            self._unattended_failure(cause)
        super().fail(cause)
        self.opened.set()

    def release_handle(self) -> None:
        """A channel end (one clone) was closed; the last one to close finishes the link."""
        self.clones -= 1
        if self.clones == 0:
            self.finish()
        self.changed.fire()

    def dropped(self) -> None:
        """A channel end was garbage-collected unclosed: close it soon, from the trio loop.

        Called from ``__del__``, which may run anywhere (even inside trio's own code), so the
        work is handed to the loop instead of being done here.
        """

        def close() -> None:
            self.clones -= 1
            if self.clones == 0 and not self.host.closed:
                self.finish()
            self.changed.fire()

        self.host.call_soon(close)

    def finish(self) -> None:
        """The last handle closed: end the channel toward the owner (per direction)."""
        raise NotImplementedError

    def open_credit(self) -> int:
        """The credit granted in OPEN."""
        return 0

    def early_open(self, peer: Peer) -> bool:
        """Whether this link sends values before OPEN_OK (then all its frames go on stream
        0 behind the OPEN, in order)."""
        return False

    def open_sent(self) -> None:
        """OPEN was queued to the peer."""

    def opened_ok(self, msg: P.OpenOk) -> None:
        """OPEN_OK arrived (``peer_link`` is set)."""
        raise NotImplementedError

    def on_open_ok(self, msg: P.OpenOk) -> None:
        if self.opened.is_set():
            raise P.ProtocolError("unexpected_control", "OPEN_OK for a link not opening")
        self.peer_link = msg.peer_link
        self.opened_ok(msg)

    def on_open_err(self, msg: P.OpenErr) -> None:
        self.fail(RemoteError(msg.code.name, msg.message))

    def on_node_closing(self) -> None:
        if self.error is None and self.opened.is_set():
            self.finish()

    async def open(self) -> None:
        """Connect (or reuse the association), send OPEN, wait for OPEN_OK / OPEN_ERR.

        Raises:
            ChannelNotFoundError: the owner has no such channel in this direction.
            PeerUnreachableError: no association could be set up.
        """
        try:
            peer = await self.host.peer_to(self.address, self.owner_id)
        except PeerUnreachableError as exc:
            self.fail(exc)
            raise
        if self.error is not None:
            self.raise_if_failed()
        if peer.node_id == self.host.node_id:
            self.fail(ValueError("connected to itself"))
            raise ValueError("a node cannot import its own channels; use them directly")
        self._send_open(peer)
        await self.opened.wait()
        if isinstance(self.error, RemoteError) and self.error.code == "FORBIDDEN":
            raise AccessDeniedError(
                f"{peer.address or self.address} refused channel {self.target!r}: {self.error}"
            ) from self.error
        if isinstance(self.error, RemoteError) and self.error.code in (
            "UNKNOWN_CHANNEL",
            "WRONG_DIRECTION",
        ):
            raise ChannelNotFoundError(
                f"{peer.address or self.address} has no {self.direction}able channel "
                f"{self.target!r} ({self.error})"
            ) from self.error
        self.raise_if_failed()

    def _send_open(self, peer: Peer) -> None:
        """Attach to ``peer`` and queue the OPEN."""
        self.owner_id = peer.node_id
        if self.address is None:
            self.address = peer.address
        self.attach(peer, 0, control_stream=self.early_open(peer))
        peer.send_control(
            P.Open(
                self.id,
                self.target_kind,
                self.target,
                self.DIR,
                self.open_credit(),
                type_name(self.type),
            )
        )
        self.open_sent()

    def open_reference(self) -> None:
        """Open a link that arrived as a reference inside a value, without waiting.

        When the owner's association is up (a reply channel that comes back over the
        association its request came on: the common case), the OPEN is queued from the
        decoding task at once and nothing waits for the answer: OPEN_OK and OPEN_ERR reach
        the link through the router (a failure is counted and logged as a background open's
        is). Otherwise a task sets up the association first (:meth:`open_in_background`).
        """
        peer = None if self.owner_id is None else self.host.ready_peer(self.owner_id)
        if peer is None or peer.node_id == self.host.node_id:
            self.host.spawn(self.open_in_background)
            return
        self.unattended = True
        self._send_open(peer)

    def _unattended_failure(self, cause: BaseException) -> None:
        """A reference opened by :meth:`open_reference` failed before OPEN_OK."""
        if self.host.closed:
            return  # the node's shutdown ends the link; no one is left to tell
        self.host.counters.count("reference_unreachable")
        log.warning("channel reference %s could not be opened: %s", self.target[:12], cause)

    async def open_in_background(self) -> None:
        """Open a link that arrived as a reference inside a value (failures are logged)."""
        try:
            await self.open()
        except (PeerUnreachableError, ChannelNotFoundError, trio.BrokenResourceError) as exc:
            self.host.counters.count("reference_unreachable")
            log.warning("channel reference %s could not be opened: %s", self.target[:12], exc)
        except ValueError as exc:
            log.warning("channel reference %s refused: %s", self.target[:12], exc)
        except trio.ClosedResourceError:
            # Our node closed while the reference was opening: its shutdown already ends the
            # link; there is no one left to tell.
            pass

    def _state_name(self) -> str:
        if self.state in (S.FINISHING, S.CLOSED):
            return "closed"
        return str(self.state.value)

    def statistics(self) -> ChannelStatistics:
        """The snapshot the channel end's ``statistics()`` returns."""
        raise NotImplementedError


class ImportSendLink(ImportLink, _Sending):
    """Importer side of a channel we send into (``import_send``, or a SendChannel reference)."""

    direction = "send"
    TRANSITIONS = IMPORT_SEND
    DIR = P.Dir.SEND

    def __init__(self, *args: Any, early_credit: int = 0) -> None:
        super().__init__(*args)
        self._init_sending(0)
        self.window = 0
        # A reference may pre-grant credit (docs/protocol.md "References"): values then go
        # with the OPEN (EARLY frames) instead of one round trip later.
        self.pregranted = clamp_credit(max(0, early_credit))
        self.early = False
        self.final_sent = False

    def early_open(self, peer: Peer) -> bool:
        self.early = self.pregranted > 0 and peer.version >= P.EARLY_VERSION
        if self.early:
            self.credit = self.window = self.pregranted
        else:
            self.pregranted = 0
        return self.early

    def open_sent(self) -> None:
        if not self.early:
            return
        if self.state is S.FINISHING:
            self._send_final_via_control()  # every clone closed before the OPEN went out
        self.changed.fire()  # senders waiting for the link may commit now

    def check_type(self, value: Any) -> None:
        """Refuse a value that does not match the declared ``type=`` (TypeError)."""
        if self.type is not None:
            check_type(value, self.type)

    def can_send(self) -> bool:
        """Whether a value may be committed now (open, or opening early; with credit)."""
        if self.state is S.OPEN:
            return self.credit > 0
        return self.early and self.state is S.OPENING and self.credit > 0

    def commit(self, value: Any) -> None:
        """Encode and queue one value; the caller checked :meth:`can_send`."""
        self.queue_value(self.host.encode(value))

    def queue_value(self, payload: Payload) -> None:
        if not self.early:
            super().queue_value(payload)
            return
        # An early link sends everything behind its OPEN on stream 0, through the peer's
        # control queue: in order with the OPEN, and with its own frames after OPEN_OK.
        self.credit -= 1
        self.values_sent += 1
        self.host.counters.values_out += 1
        peer = self.peer
        assert peer is not None
        for last, buffers in pieces(payload):
            piece = buffers[0] if len(buffers) == 1 else b"".join(buffers)
            self._send_via_control(P.Frame.VALUE if last else P.Frame.MORE, piece)
        self.changed.fire()

    def _send_via_control(
        self, kind: P.Frame, payload: bytes | memoryview, *, push: bool = False
    ) -> None:
        assert self.peer is not None
        if self.opened.is_set():
            frame = b"".join((P.frame_header(kind, self.peer_link), payload))
        else:
            frame = P.encode_early(self.id, kind, payload)
        self.peer.send_raw(frame, push=push)

    def _send_final_via_control(self) -> None:
        # The link's last frame: its value(s) and this END leave now, in one packet, instead
        # of after the rounds the endpoint waits for more (a reply's END follows its value).
        end = P.frame_end(0, self.forwards)[P.FRAME_HEADER_SIZE :]
        self._send_via_control(P.Frame.END, end, push=True)
        self.final_sent = True
        if self.opened.is_set():
            self.after_final()

    def opened_ok(self, msg: P.OpenOk) -> None:
        # What OPEN_OK grants beyond what the reference pre-granted (nothing, normally).
        self.credit = clamp_credit(self.credit + msg.credit - self.pregranted)
        self.window = clamp_credit(msg.credit)
        self.life.fire(T.OPEN_OK)
        self.opened.set()
        if not self.early:
            self.host.spawn(self.run_sender)
        elif self.final_sent:
            self.after_final()
        self.changed.fire()

    def on_open_err(self, msg: P.OpenErr) -> None:
        if self.early and self.values_sent:
            # Values sent with the OPEN are lost with it: counted where refusals are.
            self.rejected += self.values_sent
            self.host.counters.count("rejected_by_peer")
            log.warning("%d value(s) sent early on %s refused", self.values_sent, self.describe())
        super().on_open_err(msg)

    def on_credit(self, msg: P.Credit) -> None:
        self.credit = clamp_credit(self.credit + msg.n)
        self.changed.fire()

    def finish(self) -> None:
        """Every clone closed: send END after what is queued."""
        if self.life.can(T.FINISH):
            self.life.fire(T.FINISH)
            if self.early and self.peer is not None and self.state is S.FINISHING:
                self._send_final_via_control()
        self.sender_signal.fire()

    def final_frame(self) -> bytes:
        return P.frame_end(self.peer_link, self.forwards)

    def fail(self, cause: BaseException) -> None:
        super().fail(cause)
        self.sender_signal.fire()

    def after_final(self) -> None:
        if self.life.can(T.FINAL_SENT):  # not if the link failed while END was going out
            self.life.fire(T.FINAL_SENT)
        self.remove()

    def flushing(self) -> bool:
        return bool(self.outbox) or self.state is not S.CLOSED

    def statistics(self) -> ChannelStatistics:
        """The snapshot ``RemoteSendChannel.statistics()`` returns."""
        return self._stats(
            state=self._state_name(),
            credit=self.credit,
            max_buffer=self.window,
            current_buffer_used=len(self.outbox),
            queued_bytes=self.outbox_bytes,
        )


class ImportReceiveLink(ImportLink, _Receiving):
    """Importer side of a channel we receive from (``import_receive`` or a reference)."""

    direction = "receive"
    TRANSITIONS = IMPORT_RECEIVE
    DIR = P.Dir.RECEIVE

    def __init__(self, *args: Any, window: int) -> None:
        super().__init__(*args)
        self._init_receiving(window)
        self.inbox: deque[bytes | memoryview | Scattered] = deque()
        self.inbox_bytes = 0
        # The inbox's first value was counted as consumed when it arrived (a receiver was
        # waiting for it): taking it grants nothing more.
        self.head_consumed = False

    def open_credit(self) -> int:
        return self.window.window

    def opened_ok(self, msg: P.OpenOk) -> None:
        self.life.fire(T.OPEN_OK)
        self.opened.set()
        if self.state is S.FINISHING:
            self._close_remote()  # every clone closed while opening
        self.changed.fire()

    def on_value(self, payload: memoryview | bytes | Scattered) -> None:
        assert self.peer is not None
        if self.state is S.FINISHING:
            # Closed here: give it back so the work queue hands it to another importer.
            self.peer.send_raw(P.encode_frame(P.Frame.RETURN, self.peer_link, bytes(payload)))
            return
        # A small value is copied out of its message; a reassembled big one is kept as the
        # view it is (its buffer is its own): no copy of megabytes in the receive loop.
        data = payload if len(payload) > P.FRAGMENT_SIZE else bytes(payload)  # (or pieces)
        if self.waiting and not self.inbox:
            # A receiver waits for exactly this value: its buffer slot is free again as it
            # is handed over (a trio channel's send to a waiting receiver uses no slot
            # either). The credit is granted now, so the CREDIT leaves with the SACK of the
            # packet that brought the value, instead of in a packet of its own from the
            # receiving task, before that task gets the value. Should the receiver be
            # cancelled before it takes it (a big value's preparation in a thread), the
            # buffer holds one value more than the window until it is read.
            self.head_consumed = True
            self.consumed_one()
        self.inbox.append(data)
        self.inbox_bytes += len(data)
        self.changed.fire()

    def on_end(self, payload: memoryview) -> None:
        if self.life.fire(T.REMOTE_END) is S.CLOSED:
            self._send_final_end()
        self.changed.fire()

    async def prepare_next(self) -> bool:
        """If the next value came in pieces whose big fields are not cut out yet, cut them
        out in a worker thread (:func:`._frames.prepare`) so that :meth:`take` decodes it
        without copying them; whether it did (something may have changed meanwhile)."""
        if self.inbox:
            head = self.inbox[0]
            if type(head) is Scattered and not head.prepared:
                await prepare(head)
                return True
        return False

    def take(self) -> tuple[bool, Any]:
        """Next value if any; raises EndOfChannel / BrokenResourceError when there are none."""
        while self.inbox:
            data = self.inbox.popleft()
            self.inbox_bytes -= len(data)
            if self.head_consumed:
                self.head_consumed = False
            else:
                self.consumed_one()
            try:
                value = self.host.decode(data, self.peer, self.type)
            except Rejected as exc:
                self.refuse(exc)
                continue
            self.values_received += 1
            self.host.counters.values_in += 1
            return True, value
        if self.error is not None:
            raise trio.BrokenResourceError(f"channel {self.name!r} is broken") from self.error
        if self.state is S.ENDED:
            raise trio.EndOfChannel
        return False, None

    def finish(self) -> None:
        """Every clone closed: return unread values and tell the exporter to stop."""
        before = self.state
        if not self.life.can(T.FINISH):
            return
        after = self.life.fire(T.FINISH)
        if before is S.BROKEN:
            self.remove()
        elif before is S.ENDED:
            self._return_inbox()
            self._send_final_end()
        elif before is S.OPEN:
            self._close_remote()
        # OPENING: CLOSE goes out with OPEN_OK (``opened_ok``).
        assert after in (S.CLOSED, S.FINISHING)

    def _return_inbox(self) -> None:
        assert self.peer is not None
        for data in self.inbox:
            self.peer.send_raw(P.encode_frame(P.Frame.RETURN, self.peer_link, bytes(data)))
        self.inbox.clear()
        self.inbox_bytes = 0
        self.head_consumed = False

    def _close_remote(self) -> None:
        assert self.peer is not None
        self._return_inbox()
        self.peer.send_raw(P.encode_frame(P.Frame.CLOSE, self.peer_link))

    def _send_final_end(self) -> None:
        if self.peer is not None:
            self.peer.send_raw(P.frame_end(self.peer_link, self.forwards))
        self.remove()

    def flushing(self) -> bool:
        # CLOSE sent, the exporter's END not seen yet: values it sent before reading CLOSE
        # are still arriving and go back (RETURN) to its work queue; leaving now would lose
        # them with the association.
        return self.state is S.FINISHING

    def statistics(self) -> ChannelStatistics:
        """The snapshot ``RemoteReceiveChannel.statistics()`` returns."""
        return self._stats(
            state=self._state_name(),
            credit=self.window.outstanding,
            max_buffer=self.window.window,
            current_buffer_used=len(self.inbox),
            queued_bytes=self.inbox_bytes,
        )


# ---------------------------------------------------------------------------- exporter
