"""The channel ends a node hands out: they ARE trio's ``SendChannel`` / ``ReceiveChannel``.

Each end is a thin handle on a *link* (``netchan.node._links``): the per-channel state shared
by all clones of the end, holding the credit, the buffers and the error. Handles add trio's
semantics: checkpoints, cancellation safety, ``clone`` / ``aclose`` and ``ClosedResourceError``
when the handle itself was closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import trio

from ._stats import ChannelStatistics

if TYPE_CHECKING:
    from .node._links import ImportLink, ImportReceiveLink, ImportSendLink  # noqa: F401

T = TypeVar("T")
L = TypeVar("L", bound="ImportLink")


class _RemoteEnd(Generic[L]):
    """What both remote channel ends share: the handle on a link, clones, closing."""

    _what = "channel"

    def __init__(self, link: L) -> None:
        self._link = link
        self._closed = False
        link.clones += 1

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError(f"this {self._what} was closed")

    def __del__(self) -> None:
        # Dropped without close (like a file): close it so the owner is not kept open.
        if not getattr(self, "_closed", True):
            self._link.dropped()

    def close(self) -> None:
        """Close this handle synchronously; the last clone closing ends the channel."""
        if self._closed:
            return
        self._closed = True
        self._link.release_handle()

    async def aclose(self) -> None:
        """Close this handle (see :meth:`close`)."""
        self.close()
        await trio.lowlevel.checkpoint()

    def statistics(self) -> ChannelStatistics:
        """A snapshot of the channel (shared by all clones)."""
        return self._link.statistics()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._link.describe()}>"

    # Used by the codec hooks: the node turns this end into a reference.
    @property
    def _netchan_link(self) -> Any:
        return self._link


class RemoteSendChannel(_RemoteEnd["ImportSendLink"], trio.abc.SendChannel[T], Generic[T]):
    """The sending end of a channel whose receiver lives on another node.

    ``send`` blocks until the remote receiver has room (credit), like a memory channel with the
    receiver's buffer size. Once ``send`` returns, the value is committed: it is queued toward
    the network and will be delivered unless the association dies. Cancelling a blocked
    ``send`` commits nothing.

    ``send`` returning does not mean the receiver accepted the value: the exporter checks
    its own ``type=`` (and decodes classes only it may not have registered) when the value
    arrives. A value it refuses is dropped there and surfaces here later, asynchronously:
    ``statistics().rejected`` counts it (as does the node's ``errors["rejected_by_peer"]``,
    with a log line), and the channel stays open.
    """

    _what = "send channel"

    async def send(self, value: T) -> None:
        """Send one value, waiting for credit.

        Raises:
            TypeError: the value does not match the channel's ``type=`` or cannot be encoded.
            trio.ClosedResourceError: this end was closed.
            trio.BrokenResourceError: the receiver went away (cause attached).
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self._check()
        self._link.check_type(value)
        while not self._link.can_send():
            self._link.waiting += 1
            try:
                await self._link.changed.wait()
            finally:
                self._link.waiting -= 1
            self._check()
        self._link.commit(value)
        await trio.lowlevel.cancel_shielded_checkpoint()

    def send_nowait(self, value: T) -> None:
        """Send without blocking; ``trio.WouldBlock`` when the receiver has no room."""
        self._check()
        self._link.check_type(value)
        if not self._link.can_send():
            raise trio.WouldBlock
        self._link.commit(value)

    def _check(self) -> None:
        self._check_open()
        self._link.raise_if_failed()

    def clone(self) -> RemoteSendChannel[T]:
        """Another handle on the same channel; the channel ends when every clone is closed."""
        self._check_open()
        return RemoteSendChannel(self._link)


class RemoteReceiveChannel(_RemoteEnd["ImportReceiveLink"], trio.abc.ReceiveChannel[T], Generic[T]):
    """The receiving end of a channel whose sender lives on another node.

    Values arrive into a buffer of ``max_buffer`` values; the remote sender may only send what
    the buffer has room for (credit). Values are decoded when taken, so a value refused by
    ``type=`` is skipped (counted and reported to the sender) and never delivered.
    """

    _what = "receive channel"

    async def receive(self) -> T:
        """The next value.

        Raises:
            trio.EndOfChannel: the sender closed and everything it sent was received.
            trio.ClosedResourceError: this end was closed.
            trio.BrokenResourceError: the sender's node or association failed (cause attached).
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        waited = False
        while True:
            self._check()
            if await self._link.prepare_next():
                # A big value's fields were copied out in a thread (no GIL held for the
                # copy): the node's loop kept serving the other channels meanwhile.
                waited = True
                continue
            found, value = self._link.take()
            if found:
                if not waited:
                    await trio.lowlevel.cancel_shielded_checkpoint()
                # After a wait, the wait was the checkpoint (as in trio's own channels):
                # no second trip through the scheduler before the caller goes on.
                return value  # type: ignore[no-any-return]
            self._link.waiting += 1
            try:
                await self._link.changed.wait()
            finally:
                self._link.waiting -= 1
            waited = True

    def receive_nowait(self) -> T:
        """The next value if one is there; ``trio.WouldBlock`` otherwise."""
        self._check()
        found, value = self._link.take()
        if not found:
            raise trio.WouldBlock
        return value  # type: ignore[no-any-return]

    def _check(self) -> None:
        # A broken link still delivers what arrived: ``take`` raises once it is empty.
        self._check_open()
        if self._link.host.closed:
            raise trio.ClosedResourceError("the node of this channel end is closed")

    def clone(self) -> RemoteReceiveChannel[T]:
        """Another handle on the same channel (values go to whichever clone asks first)."""
        self._check_open()
        return RemoteReceiveChannel(self._link)
