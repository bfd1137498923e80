"""The mechanics both endpoint backends share (netchan/transport/_common.py), on their own.

The conformance suite (tests/endpoint_suite.py) checks them through each backend; these tests
pin the rules themselves: how an ended association shows, the bounded event queue, the
round-robin of inboxes, option names and name resolution (an empty answer included).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from netchan.transport import AssociationAbortedError, InvalidAddressError, Message
from netchan.transport._api import AssociationEvent
from netchan.transport._common import (
    EventQueue,
    Inbox,
    ReadyRing,
    check_option_names,
    raise_if_ended,
    resolve_host,
)


def test_raise_if_ended_is_the_one_rule_of_the_api() -> None:
    error = AssociationAbortedError("peer sent ABORT", by_peer=True)
    raise_if_ended(closed_by_us=False, ended=False, error=None, receiving=True)  # still open
    for receiving in (False, True):
        with pytest.raises(trio.ClosedResourceError):
            raise_if_ended(closed_by_us=True, ended=True, error=error, receiving=receiving)
        with pytest.raises(trio.BrokenResourceError) as info:
            raise_if_ended(closed_by_us=False, ended=True, error=error, receiving=receiving)
        assert info.value.__cause__ is error
    # A graceful SHUTDOWN by the peer: a clean end to a reader, broken to a sender.
    with pytest.raises(trio.EndOfChannel):
        raise_if_ended(closed_by_us=False, ended=True, error=None, receiving=True)
    with pytest.raises(trio.BrokenResourceError) as info:
        raise_if_ended(closed_by_us=False, ended=True, error=None, receiving=False)
    assert isinstance(info.value.__cause__, AssociationAbortedError)


class _Assoc:
    def __init__(self) -> None:
        self.inbox = Inbox()


def _message(data: bytes) -> Message:
    return Message(data, 0, 0, False, None)  # type: ignore[arg-type]


def test_ready_ring_takes_one_message_per_association_in_turn() -> None:
    ring: ReadyRing[_Assoc] = ReadyRing()
    a, b = _Assoc(), _Assoc()
    for i in range(3):
        ring.deliver(a, _message(b"a%d" % i))
    ring.deliver(b, _message(b"b0"))
    assert a.inbox.bytes == 6 and len(a.inbox) == 3
    taken = [ring.take() for _ in range(5)]
    assert [(t[0], t[1].data) if t else None for t in taken] == [
        (a, b"a0"),
        (b, b"b0"),
        (a, b"a1"),
        (a, b"a2"),
        None,
    ]
    assert a.inbox.bytes == 0 and not ring


async def test_every_delivery_wakes_an_endpoint_reader() -> None:
    ring: ReadyRing[_Assoc] = ReadyRing()
    a = _Assoc()
    got: list[bytes] = []

    async def reader() -> None:
        while (taken := ring.take()) is None:
            await ring.waiters.park()
        got.append(taken[1].data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        ring.deliver(a, _message(b"1"))
        ring.deliver(a, _message(b"2"))  # same association, inbox not empty: still a wake-up
    assert sorted(got) == [b"1", b"2"]


async def test_event_queue_is_bounded_counts_what_it_drops_and_closes() -> None:
    queue = EventQueue(limit=2)
    events = [AssociationEvent(None) for _ in range(5)]  # type: ignore[arg-type]
    for event in events:
        queue.publish(event)
    assert queue.discarded == 3
    assert queue.pending == tuple(events[3:])
    assert await queue.get() is events[3]
    queue.close()
    with pytest.raises(trio.ClosedResourceError):
        await queue.get()


async def test_event_queue_wait_is_cancel_safe() -> None:
    queue = EventQueue()
    with trio.move_on_after(0.01) as scope:
        await queue.get()
    assert scope.cancelled_caught
    event = AssociationEvent(None)  # type: ignore[arg-type]
    queue.publish(event)
    assert await queue.get() is event


def test_unknown_option_names_are_refused_by_name() -> None:
    check_option_names("udp", ["rto_min"], ["rto_min", "rto_max"])
    with pytest.raises(TypeError, match=r"unknown udp:// endpoint option\(s\): rto_mni; known"):
        check_option_names("udp", ["rto_mni"], ["rto_min", "rto_max"])


async def test_resolve_host_literals_names_and_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await resolve_host("127.0.0.1", 1) == "127.0.0.1"
    assert await resolve_host("::0001", 1) == "::1"  # literals come back normalised

    answers: dict[str, Any] = {
        "empty.test": [],  # a resolver may answer with no address at all
        "one.test": [(2, 1, 6, "", ("192.0.2.7", 1))],
    }

    async def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            raise OSError(f"no such name {host}")
        return answers[host]

    monkeypatch.setattr(trio.socket, "getaddrinfo", getaddrinfo)
    assert await resolve_host("one.test", 1) == "192.0.2.7"
    with pytest.raises(InvalidAddressError, match=r"empty\.test"):
        await resolve_host("empty.test", 1)
    with pytest.raises(InvalidAddressError, match=r"other\.test"):
        await resolve_host("other.test", 1)


def test_a_message_kept_in_fragments_joins_them_only_when_data_is_read() -> None:
    """``Message.fragments``: the chunks' payloads as they came; ``size`` without a join;
    ``data`` is their join, made once, on first use. A message of one chunk has no
    fragments."""
    parts = [b"abc", b"defg", b"h"]
    message = Message(parts, 3, 7, False, None)  # type: ignore[arg-type]
    assert message.fragments is parts
    assert message.size == 8
    data = message.data
    assert data == b"abcdefgh"
    assert message.data is data
    whole = Message(b"abcdefgh", 3, 7, False, None)  # type: ignore[arg-type]
    assert whole.fragments is None and whole.size == 8
    assert whole == message and hash(whole) == hash(message)
    assert "size=8" in repr(message)
