"""Teardown (RFC 9260 §9): ABORT, graceful shutdown, T2-shutdown, T5, collisions."""

from __future__ import annotations

import pytest

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.state import State, StateError
from tests.sctp.conftest import A_ADDR, B_ADDR, Pair, chunk_types, make_pair, sent_chunks
from tests.sctp.netsim import Link

SHUTDOWN, SHUTDOWN_ACK, SHUTDOWN_COMPLETE, ABORT, IDATA = 7, 8, 14, 6, 64


def _closed(p: Pair, addr: tuple[str, int]) -> bool:
    return bool(p.net.events_of(addr, ev.AssociationClosed))


def test_user_abort_reaches_peer_with_reason() -> None:
    p = make_pair(seed=31)
    assoc, peer = p.connect()
    assoc.abort("going away", p.net.now)
    assert assoc.state is State.CLOSED
    p.net.run(1.0)
    (mine,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert not mine.by_peer and "going away" in mine.reason
    (theirs,) = p.net.events_of(B_ADDR, ev.AssociationAborted)
    assert theirs.by_peer and "going away" in theirs.reason
    assert peer.state is State.CLOSED
    assert p.a.associations == {} and p.b.associations == {}
    assoc.abort("again", p.net.now)  # idempotent
    with pytest.raises(StateError):
        assoc.send(b"x", stream=0, ppid=0, unordered=False, now=p.net.now)


def test_graceful_shutdown_waits_for_outstanding_data() -> None:
    p = make_pair(seed=32, link=Link(loss=0.2, delay=0.01))
    assoc, _peer = p.connect(timeout=60.0)
    payload = [bytes([i % 251]) * (100 + 37 * i) for i in range(60)]
    for i, data in enumerate(payload):
        assoc.send(data, stream=i % 4, ppid=9, unordered=False, now=p.net.now)
    assoc.shutdown(p.net.now)
    assert assoc.state is State.SHUTDOWN_PENDING
    with pytest.raises(StateError):
        assoc.send(b"late", stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: _closed(p, A_ADDR) and _closed(p, B_ADDR), timeout=300.0)
    got = p.received(B_ADDR)
    assert sorted(m.data for m in got) == sorted(payload)
    # SHUTDOWN went out only after the last DATA was acknowledged.
    first_shutdown = min(sent_chunks(p, A_ADDR, SHUTDOWN))
    # (Default options negotiate I-DATA, RFC 8260; the user data travels in I-DATA.)
    last_data = max(sent_chunks(p, A_ADDR, IDATA))
    assert first_shutdown >= last_data
    assert p.a.associations == {} and p.b.associations == {}


def test_shutdown_received_side_drains_its_own_data_first() -> None:
    p = make_pair(seed=33, link=Link(loss=0.1, delay=0.01))
    assoc, peer = p.connect(timeout=60.0)
    for i in range(30):
        peer.send(b"reply %d" % i * 40, stream=2, ppid=0, unordered=False, now=p.net.now)
    assoc.shutdown(p.net.now)
    p.net.run_until(lambda: _closed(p, A_ADDR) and _closed(p, B_ADDR), timeout=300.0)
    assert [m.data for m in p.received(A_ADDR)] == [b"reply %d" % i * 40 for i in range(30)]


def test_t2_shutdown_retransmits_with_backoff() -> None:
    options = Options(rto_initial=0.2, rto_min=0.2, rto_max=2.0, association_max_retransmissions=10)
    p = make_pair(seed=34, options=options)
    assoc, _ = p.connect()
    drops: list[bytes] = []

    def drop_two_shutdown_acks(src: object, dst: object, data: bytes) -> bool:
        if src == B_ADDR and SHUTDOWN_ACK in chunk_types(data) and len(drops) < 2:
            drops.append(data)
            return True
        return False

    p.net.drop_filter = drop_two_shutdown_acks
    start = p.net.now
    assoc.shutdown(start)
    p.net.run_until(lambda: _closed(p, A_ADDR) and _closed(p, B_ADDR), timeout=30.0)
    times = [t - start for t in sent_chunks(p, A_ADDR, SHUTDOWN)]
    assert len(times) == 3
    rto = times[1] - times[0]
    assert rto >= 0.2
    assert times[2] - times[1] == pytest.approx(2 * rto)
    # b retransmitted nothing (its SHUTDOWN ACKs answered each SHUTDOWN).
    assert len(sent_chunks(p, B_ADDR, SHUTDOWN_ACK)) == 3


def test_t5_shutdown_guard_aborts() -> None:
    options = Options(shutdown_guard=1.5, association_max_retransmissions=100, heartbeat_interval=0)
    p = make_pair(seed=35, options=options)
    assoc, _ = p.connect()
    p.net.drop_filter = lambda src, dst, data: src == B_ADDR
    start = p.net.now
    assoc.shutdown(start)
    p.net.run(10.0)
    (aborted,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert "T5" in aborted.reason
    abort_times = sent_chunks(p, A_ADDR, ABORT)
    assert abort_times == [pytest.approx(start + 1.5)]


def test_shutdown_collision() -> None:
    p = make_pair(seed=36)
    assoc, peer = p.connect()
    assoc.shutdown(p.net.now)
    peer.shutdown(p.net.now)
    p.net.run_until(lambda: _closed(p, A_ADDR) and _closed(p, B_ADDR), timeout=10.0)
    assert assoc.state is State.CLOSED and peer.state is State.CLOSED


def test_lost_shutdown_complete_is_recovered_out_of_the_blue() -> None:
    # a closes after sending SHUTDOWN COMPLETE; it is lost; b's retransmitted SHUTDOWN ACK
    # is out of the blue for a, which answers SHUTDOWN COMPLETE with the T bit (§8.4 5).
    p = make_pair(seed=37)
    assoc, _peer = p.connect()
    dropped: list[bytes] = []

    def drop_first_complete(src: object, dst: object, data: bytes) -> bool:
        if src == A_ADDR and SHUTDOWN_COMPLETE in chunk_types(data) and not dropped:
            dropped.append(data)
            return True
        return False

    p.net.drop_filter = drop_first_complete
    assoc.shutdown(p.net.now)
    p.net.run_until(lambda: _closed(p, A_ADDR) and _closed(p, B_ADDR), timeout=30.0)
    assert len(sent_chunks(p, B_ADDR, SHUTDOWN_ACK)) == 2
    assert p.a.statistics()["drops"]["out_of_the_blue_shutdown_ack"] == 1


def test_shutdown_before_established_waits_for_setup() -> None:
    p = make_pair(seed=38)
    assoc = p.a.connect(B_ADDR, 6000, 0.0)
    assoc.send(b"queued early", stream=0, ppid=0, unordered=False, now=0.0)
    assoc.shutdown(0.0)
    p.net.run_until(lambda: _closed(p, A_ADDR) and _closed(p, B_ADDR), timeout=10.0)
    assert [m.data for m in p.received(B_ADDR)] == [b"queued early"]


def test_lost_shutdown_ack_is_answered_again() -> None:
    p = make_pair(seed=39, options=Options(heartbeat_interval=0))
    assoc, peer = p.connect()
    dropped: list[bytes] = []

    def drop_first_shutdown_ack(src: object, dst: object, data: bytes) -> bool:
        if src == B_ADDR and SHUTDOWN_ACK in chunk_types(data) and not dropped:
            dropped.append(data)
            return True
        return False

    p.net.drop_filter = drop_first_shutdown_ack
    start = p.net.now
    assoc.shutdown(start)
    p.net.run_until(lambda: _closed(p, A_ADDR) and _closed(p, B_ADDR), timeout=10.0)
    # The retransmitted SHUTDOWN was answered the moment it arrived (not at b's own T2).
    (_, second_ack) = sent_chunks(p, B_ADDR, SHUTDOWN_ACK)
    (_, second_shutdown) = sent_chunks(p, A_ADDR, SHUTDOWN)
    assert second_ack == pytest.approx(second_shutdown + p.net.link.delay)
    assert peer.state is State.CLOSED


def test_abort_before_anything_was_sent_sends_nothing() -> None:
    p = make_pair(seed=40)
    assoc = p.a.connect(B_ADDR, 6000, 0.0)
    assoc.abort("changed my mind", 0.0)
    assert p.a.datagrams_to_send(0.0) == []
    (aborted,) = [e for e in iter(p.a.next_event, None) if isinstance(e, ev.AssociationAborted)]
    assert "changed my mind" in aborted.reason
    assert p.a.associations == {} and p.a.next_deadline() is None
