"""Liveness (RFC 9260 §8.1-§8.3): heartbeats, error counters, dead-peer detection."""

from __future__ import annotations

import itertools

import pytest

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.state import State
from tests.sctp.conftest import A_ADDR, B_ADDR, make_pair, sent_chunks
from tests.sctp.netsim import Link

HEARTBEAT, HEARTBEAT_ACK = 4, 5


def test_heartbeat_on_idle_path_measures_rtt() -> None:
    options = Options(heartbeat_interval=1.0, rto_min=0.1, rto_initial=0.5, rto_max=2.0)
    p = make_pair(seed=41, options=options, link=Link(delay=0.02))
    assoc, _ = p.connect()
    start = p.net.now
    p.net.run(20.0)
    times = [t - start for t in sent_chunks(p, A_ADDR, HEARTBEAT)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    rto = assoc.statistics().rto
    assert rto is not None
    # §8.3: one HEARTBEAT per HB.interval + RTO, jittered by +-50% of the RTO.
    assert len(times) >= 10
    for gap in gaps:
        assert 1.0 + 0.5 * 0.1 - 1e-9 <= gap <= 1.0 + 1.5 * 0.5 + 0.05
    stats = assoc.statistics()
    assert stats.heartbeat_acks_received >= stats.heartbeats_sent - 1
    assert stats.srtt == pytest.approx(0.04, abs=0.005)
    assert len(sent_chunks(p, B_ADDR, HEARTBEAT_ACK)) >= len(times) - 1
    assert assoc.state is State.ESTABLISHED


def test_heartbeats_can_be_disabled() -> None:
    p = make_pair(seed=42, options=Options(heartbeat_interval=0))
    p.connect()
    p.net.run(30.0)
    assert sent_chunks(p, A_ADDR, HEARTBEAT) == []
    assert p.net.next_time() is None  # nothing left to do at all


@pytest.mark.parametrize(
    "options",
    [
        Options(),
        Options(
            heartbeat_interval=0.5,
            rto_max=0.5,
            association_max_retransmissions=3,
            path_max_retransmissions=2,
        ),
    ],
    ids=["lan-defaults", "fast"],
)
def test_silent_peer_is_declared_dead_within_the_bound(options: Options) -> None:
    p = make_pair(seed=43, options=options)
    _assoc, _ = p.connect()
    p.net.drop_filter = lambda src, dst, data: src == B_ADDR
    start = p.net.now
    # Each unanswered HEARTBEAT costs at most HB.interval + 1.5 RTO (jitter) + RTO
    # (the answer timeout), the RTO bounded by rto_max; the peer is dead after
    # association_max_retransmissions + 1 of them.
    bound = (options.association_max_retransmissions + 1) * (
        options.heartbeat_interval + 2.5 * options.rto_max
    )
    p.net.run_until(lambda: bool(p.net.events_of(A_ADDR, ev.AssociationAborted)), bound)
    (aborted,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert aborted.reason.startswith("peer unreachable") and not aborted.by_peer
    elapsed = p.net.now - start
    assert elapsed <= bound
    unreachable = [
        e for e in p.net.events_of(A_ADDR, ev.PeerAddressChanged) if e.state == "unreachable"
    ]
    assert len(unreachable) == 1
    assert len(sent_chunks(p, A_ADDR, HEARTBEAT)) == options.association_max_retransmissions + 1
    assert p.a.associations == {}


def test_dead_peer_with_data_in_flight_is_detected_by_t3() -> None:
    options = Options(heartbeat_interval=0, association_max_retransmissions=4)
    p = make_pair(seed=44, options=options)
    assoc, _ = p.connect()
    p.net.drop_filter = lambda src, dst, data: src == B_ADDR
    assoc.send(b"into the void", stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: bool(p.net.events_of(A_ADDR, ev.AssociationAborted)), 30.0)
    stats = assoc.statistics()
    assert stats.t3_expiries == 5
    assert stats.retransmissions == 4


def _path_states(p) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.state for e in p.net.events_of(A_ADDR, ev.PeerAddressChanged)]


def test_answered_heartbeat_clears_errors_and_path_becomes_available() -> None:
    options = Options(path_max_retransmissions=1, association_max_retransmissions=8)
    p = make_pair(seed=45, options=options)
    assoc, _ = p.connect()
    p.net.drop_filter = lambda src, dst, data: src == B_ADDR
    p.net.run_until(
        lambda: any(
            e.state == "unreachable" for e in p.net.events_of(A_ADDR, ev.PeerAddressChanged)
        ),
        30.0,
    )
    p.net.drop_filter = None
    p.net.run_until(
        lambda: "available" in _path_states(p),
        30.0,
    )
    p.net.run(30.0)
    assert assoc.state is State.ESTABLISHED
    assert _path_states(p) == ["unreachable", "available"]
    assert p.net.events_of(A_ADDR, ev.AssociationAborted) == []
