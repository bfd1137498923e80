"""Mechanics both endpoint backends share, written once so the backends cannot drift apart.

``_api.py`` promises that code above the endpoint never knows which backend it runs on. What
the backends do the same way lives here: the per-association inbox of delivered, unread
messages and its byte count, the round-robin of associations with messages waiting, the
bounded queue of association events, the one rule for how an ended association shows to its
caller, option-name checking and host name resolution. What differs (how a consumed message
reopens the receive window, which socket family a name resolves in) stays with the backend,
passed in as a callback or an argument.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

import trio

from ._api import AssociationEvent, Message
from .errors import AssociationAbortedError, InvalidAddressError

EVENT_QUEUE_LIMIT = 4096
"""Association events kept for ``next_event`` when nobody reads them (oldest discarded)."""


# --- how an ended association shows --------------------------------------------------------


def raise_if_ended(
    *,
    closed_by_us: bool,
    ended: bool,
    error: AssociationAbortedError | None,
    receiving: bool,
) -> None:
    """Raise what ``send`` / ``receive`` raise on an association that ended (``_api.py``).

    Args:
        closed_by_us: we closed or aborted it, or closed its endpoint.
        ended: the association is over (gracefully when ``error`` is None). A backend also
            passes True for a ``send`` once the peer started its SHUTDOWN (RFC 9260 §9.2:
            the peer takes no new data from then on).
        error: why it ended abnormally; None for a graceful SHUTDOWN.
        receiving: the caller is ``receive`` (a graceful end is ``EndOfChannel`` there).

    Raises:
        trio.ClosedResourceError: ours.
        trio.EndOfChannel: a graceful end, to ``receive``.
        trio.BrokenResourceError: an abort or failure, or a graceful end to ``send``;
            ``__cause__`` is an :class:`AssociationAbortedError`.
    """
    if closed_by_us:
        raise trio.ClosedResourceError("association was closed")
    if not ended:
        return
    if error is None:
        if receiving:
            raise trio.EndOfChannel("the peer shut the association down")
        error = AssociationAbortedError("the peer shut the association down", by_peer=True)
    raise trio.BrokenResourceError(str(error)) from error


# --- received messages ------------------------------------------------------------------------


class Inbox:
    """The messages delivered to one association and not yet read, and their bytes.

    The bytes are what the receive window accounting needs: they count against the window
    until the application takes the message. ``waiters`` are the tasks in this association's
    ``receive``.
    """

    __slots__ = ("_per_stream", "bytes", "messages", "waiters")

    def __init__(self) -> None:
        self.messages: deque[Message] = deque()
        self.bytes = 0
        self.waiters = trio.lowlevel.ParkingLot()
        # Unread messages per stream: a message handler may take a later message of
        # another stream first (SCTP orders per stream only, RFC 9260 §6.6).
        self._per_stream: dict[int, int] = {}

    def holds(self, stream: int) -> bool:
        """Whether a message of ``stream`` waits here (a later one must queue behind it)."""
        return stream in self._per_stream

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[Message]:
        return iter(self.messages)

    def put(self, message: Message) -> bool:
        """Queue a delivered message and wake one reader; True if the inbox was empty."""
        messages = self.messages
        messages.append(message)
        self.bytes += message.size
        per_stream = self._per_stream
        per_stream[message.stream] = per_stream.get(message.stream, 0) + 1
        self.waiters.unpark()
        return len(messages) == 1

    def take(self) -> Message:
        """The oldest message (the inbox must not be empty)."""
        message = self.messages.popleft()
        self.bytes -= message.size
        per_stream = self._per_stream
        left = per_stream[message.stream] - 1
        if left:
            per_stream[message.stream] = left
        else:
            del per_stream[message.stream]
        return message

    def drop_all(self) -> int:
        """Forget every unread message (we closed the association); returns their bytes."""
        dropped = self.bytes
        self.messages.clear()
        self._per_stream.clear()
        self.bytes = 0
        return dropped


class HasInbox(Protocol):
    """An association as the ready ring sees it."""

    @property
    def inbox(self) -> Inbox: ...


A = TypeVar("A", bound=HasInbox)


class ReadyRing(Generic[A]):
    """The associations with unread messages, for ``Endpoint.receive``: one message each in turn.

    A chatty peer cannot starve the others: an association goes to the back of the ring after
    each message taken from it. ``waiters`` are the tasks in ``Endpoint.receive``.
    """

    __slots__ = ("_ring", "waiters")

    def __init__(self) -> None:
        # A dict as an ordered set: O(1) removal of an association that ended.
        self._ring: dict[A, None] = {}
        self.waiters = trio.lowlevel.ParkingLot()

    def __bool__(self) -> bool:
        return bool(self._ring)

    def deliver(self, assoc: A, message: Message) -> None:
        """A message for ``assoc`` arrived: into its inbox; wake a reader of each kind.

        Every delivery wakes one ``Endpoint.receive`` waiter (not only the first into an
        empty inbox): two messages in a row are there for two waiting readers.
        """
        if assoc.inbox.put(message):
            self._ring[assoc] = None
        self.waiters.unpark()

    def discard(self, assoc: A) -> None:
        """``assoc`` has no messages to offer any more (read through its own ``receive``)."""
        self._ring.pop(assoc, None)

    def take(self) -> tuple[A, Message] | None:
        """The next association and its oldest message, or None if no association has one."""
        ring = self._ring
        while ring:
            assoc = next(iter(ring))
            del ring[assoc]
            inbox = assoc.inbox
            if not inbox.messages:
                continue
            message = inbox.take()
            if inbox.messages:
                ring[assoc] = None  # back of the ring
            return assoc, message
        return None


# --- association events ----------------------------------------------------------------------


class EventQueue:
    """The association events ``Endpoint.next_event`` returns, bounded.

    A program that never reads events must not grow memory without bound: beyond ``limit``
    the oldest event is discarded and counted (``EndpointStatistics.events_discarded``).
    """

    __slots__ = ("_closed", "_events", "_waiters", "discarded", "limit")

    def __init__(self, limit: int = EVENT_QUEUE_LIMIT) -> None:
        self._events: deque[AssociationEvent] = deque()
        self._waiters = trio.lowlevel.ParkingLot()
        self._closed = False
        self.limit = limit
        self.discarded = 0

    @property
    def pending(self) -> tuple[AssociationEvent, ...]:
        """The events not read yet, oldest first."""
        return tuple(self._events)

    def publish(self, event: AssociationEvent) -> None:
        """Queue ``event`` (discarding the oldest beyond the limit) and wake a reader."""
        while len(self._events) >= self.limit:
            self._events.popleft()
            self.discarded += 1
        self._events.append(event)
        self._waiters.unpark()

    def close(self) -> None:
        """The endpoint closed: readers get ``ClosedResourceError``, now and later."""
        self._closed = True
        self._events.clear()
        self._waiters.unpark_all()

    async def get(self) -> AssociationEvent:
        """The oldest event, waiting for one; cancel-safe (an event is never lost)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        parked = False
        while True:
            if self._closed:
                raise trio.ClosedResourceError("endpoint was closed")
            if self._events:
                event = self._events.popleft()
                if not parked:
                    # Taken: a cancellation from here on must not lose it. (After parking,
                    # the wait already was the checkpoint, as in trio's own channels.)
                    await trio.lowlevel.cancel_shielded_checkpoint()
                return event
            parked = True
            await self._waiters.park()


# --- options and names -------------------------------------------------------------------------


def check_option_names(scheme: str, given: Iterable[str], known: Collection[str]) -> None:
    """Refuse options a backend does not know: a misspelt option must not pass silently.

    Raises:
        TypeError: naming the unknown options and the known ones.
    """
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(
            f"unknown {scheme}:// endpoint option(s): {', '.join(unknown)};"
            f" known: {', '.join(sorted(known))}"
        )


async def resolve_host(host: str, port: int, *, family: int = 0, socktype: int = 0) -> str:
    """``host`` as an IP address string: a literal normalised, a name looked up.

    Args:
        family: ``socket.AF_INET`` / ``AF_INET6`` to ask for one family only; 0 for any.
        socktype: passed to ``getaddrinfo`` (0: any).

    Raises:
        InvalidAddressError: the name does not resolve, or resolves to no address (a resolver
            may answer with an empty list).
    """
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = await trio.socket.getaddrinfo(host, port, family, socktype)
    except (OSError, UnicodeError) as exc:
        raise InvalidAddressError(f"cannot resolve {host!r}: {exc}") from exc
    for *_rest, sockaddr in infos:
        if sockaddr and isinstance(sockaddr[0], str):
            return sockaddr[0]
    raise InvalidAddressError(f"cannot resolve {host!r}: no address")
