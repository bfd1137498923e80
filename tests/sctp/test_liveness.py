"""Liveness (RFC 9260 §8.1-§8.3): heartbeats, error counters, dead-peer detection."""

from __future__ import annotations

import itertools

import pytest

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.congestion import RenoCongestionControl
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.state import State
from netchan.transport.sctp.tx.retransmission_queue import RetransmissionQueue
from netchan.transport.sctp.tx.send_queue import OutgoingChunk, SendQueue
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


def _worst_dead_peer_time(options: Options) -> float:
    """The documented bound (Options): the wait before the first HEARTBEAT, at most
    HB.interval + 1.5 RTO, then association_max_retransmissions + 1 answer timeouts (or
    T3-rtx timeouts), each at most rto_max, whatever the RTO was."""
    amr = options.association_max_retransmissions
    return options.heartbeat_interval + 1.5 * options.rto_max + (amr + 1) * options.rto_max


def test_default_dead_peer_bound_is_within_15_s() -> None:
    assert _worst_dead_peer_time(Options()) == pytest.approx(9.25)


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
    bound = _worst_dead_peer_time(options)
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


def _lan_rtos(options: Options) -> list[float]:
    # The RTO from the LAN value rto_min, doubled per timeout up to rto_max.
    return [
        min(options.rto_max, options.rto_min * 2**k)
        for k in range(options.association_max_retransmissions + 1)
    ]


@pytest.mark.parametrize("seed", [47, 48, 49])
def test_lan_defaults_declare_a_silent_idle_peer_dead_within_about_8_s(seed: int) -> None:
    # The bound documented on Options: the first HEARTBEAT at most HB.interval + 1.5 RTO
    # after the last answer, then 16 answer timeouts, the RTO doubling from the LAN value
    # 0.1 s up to rto_max 0.5 s, each further HEARTBEAT sent when the previous one timed out.
    options = Options()
    assert (options.heartbeat_interval, options.rto_max) == (0.5, 0.5)
    assert options.association_max_retransmissions == 15
    p = make_pair(seed=seed, options=options, link=Link(delay=0.0005))
    assoc, _ = p.connect()
    p.net.run(5.0)  # idle, heartbeats answered: the RTO settles at rto_min
    assert assoc.statistics().rto == pytest.approx(0.1)
    p.net.drop_filter = lambda src, dst, data: src == B_ADDR
    start = p.net.now
    p.net.run_until(lambda: bool(p.net.events_of(A_ADDR, ev.AssociationAborted)), 30.0)
    elapsed = p.net.now - start
    rtos = _lan_rtos(options)
    assert sum(rtos) == pytest.approx(7.2)
    assert elapsed <= 0.5 + 1.5 * 0.1 + sum(rtos)  # 7.85 s
    # At least the answer timeouts but the first (whose HEARTBEAT may have been sent just
    # before the peer fell silent) and more than a 5 s outage (see the next test).
    assert elapsed >= sum(rtos[1:]) > 5.0
    (aborted,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert aborted.reason.startswith("peer unreachable")


def test_lan_defaults_declare_a_silent_peer_with_data_in_flight_dead_within_15_s() -> None:
    options = Options()
    p = make_pair(seed=50, options=options, link=Link(delay=0.0005))
    assoc, _ = p.connect()
    p.net.run(5.0)
    p.net.drop_filter = lambda src, dst, data: src == B_ADDR
    start = p.net.now
    assoc.send(b"into the void", stream=0, ppid=0, unordered=False, now=start)
    p.net.run_until(lambda: bool(p.net.events_of(A_ADDR, ev.AssociationAborted)), 30.0)
    elapsed = p.net.now - start
    # T3-rtx: 16 expiries from the LAN RTO (a heartbeat outstanding when the data left
    # may count one error of them earlier).
    assert sum(_lan_rtos(options)[:-1]) - 0.1 <= elapsed <= sum(_lan_rtos(options)) + 1e-9
    assert elapsed <= _worst_dead_peer_time(options) <= 15.0
    assert assoc.statistics().t3_expiries >= 15


@pytest.mark.parametrize("seed", [51, 52, 53, 54])
@pytest.mark.parametrize("idle", [False, True], ids=["data-in-flight", "idle"])
def test_lan_defaults_survive_a_5_s_black_hole(seed: int, idle: bool) -> None:
    # Issue 10: a switch reconverging or a Wi-Fi roam silences the single path for 5 s
    # (both directions): the association survives, every message arrives once, in order.
    options = Options()
    p = make_pair(seed=seed, options=options, link=Link(delay=0.0005))
    assoc, _ = p.connect()
    p.net.run(5.0)  # the RTO settles at rto_min: the shortest backoff, the worst case
    assert assoc.statistics().rto == pytest.approx(0.1)
    sent: list[bytes] = []

    def send_some(n: int) -> None:
        for _ in range(n):
            payload = b"m-%05d" % len(sent)
            assoc.send(payload, stream=0, ppid=0, unordered=False, now=p.net.now)
            sent.append(payload)

    if not idle:
        send_some(20)
    p.net.drop_filter = lambda src, dst, data: True
    outage_start = p.net.now
    for _ in range(20):  # 20 x 0.25 s
        if not idle:
            send_some(5)  # the application keeps sending into the black hole
        p.net.run(0.25)
    assert p.net.now - outage_start == pytest.approx(5.0)
    p.net.drop_filter = None
    send_some(10)
    p.net.run_until(lambda: len(p.received(B_ADDR)) == len(sent), 5.0)
    assert [m.data for m in p.received(B_ADDR)] == sent
    assert p.net.events_of(A_ADDR, ev.AssociationAborted) == []
    assert p.net.events_of(B_ADDR, ev.AssociationAborted) == []
    assert assoc.state is State.ESTABLISHED
    if not idle:
        assert assoc.statistics().t3_expiries >= 6


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


# ---------------------------------------------------------------- RTT samples (§6.3.1)


def _rtx_queue() -> tuple[RetransmissionQueue, SendQueue]:
    sq = SendQueue(send_buffer=1 << 24, pmtu=1200)
    cc = RenoCongestionControl(mtu=1200, initial_cwnd=100 * 1200)
    return RetransmissionQueue(
        initial_tsn=1000, peer_rwnd=1 << 20, send_queue=sq, congestion=cc
    ), sq


def _send_all(rq: RetransmissionQueue, now: float) -> list[OutgoingChunk]:
    out: list[OutgoingChunk] = []
    for _ in range(100):
        chunks = rq.get_chunks_to_send(now, 1188, rto=1.0)
        if not chunks:
            break
        out.extend(chunks)
    return out


def test_no_rtt_sample_from_a_chunk_acknowledged_behind_a_retransmission() -> None:
    # §6.3.1 C5: TSN r gives a sample only if no chunk with TSN <= r was retransmitted
    # since r was first sent. TSNs 1000..1009 leave at 0.0 (true RTT 10 ms); 1000 is lost;
    # three SACKs gap-ack 1001..1003 (fast retransmit of 1000 at 0.013); the SACKs that
    # would gap-ack 1004..1009 are lost, so those are acknowledged only by the cumulative
    # ack that the retransmission makes possible, at 0.025: 25 ms is not their RTT.
    rq, sq = _rtx_queue()
    for i in range(10):
        sq.add(1, 0, bytes([i]) * 1000)
    first = _send_all(rq, 0.0)
    assert [c.tsn for c in first] == list(range(1000, 1010))
    for end in (1, 2, 3):
        result = rq.handle_sack(999, 1 << 20, ((2, 1 + end),), 0.011 + 0.001 * end)
        assert result.rtt is None  # gap-acked chunks never give samples
    assert result.fast_retransmit
    (again,) = rq.get_chunks_to_send(0.013, 1188, rto=1.0)
    assert again.tsn == 1000 and again.nsent == 2
    result = rq.handle_sack(1009, 1 << 20, (), 0.025)
    assert result.cum_advanced and result.rtt is None
    # Data sent after the retransmission measures again.
    sq.add(1, 0, b"later")
    (later,) = _send_all(rq, 0.030)
    result = rq.handle_sack(later.tsn, 1 << 20, (), 0.041)
    assert result.rtt == pytest.approx(0.011)


def test_rtt_sample_from_new_data_sent_with_a_retransmission() -> None:
    # New data bundled after a retransmission was first sent after it: C5 allows a sample.
    rq, sq = _rtx_queue()
    for i in range(4):
        sq.add(1, 0, bytes([i]) * 1000)
    _send_all(rq, 0.0)
    rq.handle_t3_expiry(1.0)
    sq.add(1, 0, b"new")
    sent = []
    now = 1.0
    for _ in range(10):  # after T3 one packet at a time (§7.2.3) until acked
        sent.extend(rq.get_chunks_to_send(now, 1188 * 5, rto=1.0))
        if any(c.data == b"new" for c in sent):
            break
        result = rq.handle_sack(sent[-1].tsn, 1 << 20, (), now + 0.01)
        assert result.rtt is None  # retransmitted chunks never give samples (Karn)
        now += 0.01
    new = next(c for c in sent if c.data == b"new")
    assert new.nsent == 1
    result = rq.handle_sack(new.tsn, 1 << 20, (), now + 0.012)
    assert result.rtt == pytest.approx(0.012)


@pytest.mark.parametrize("loss", [0.1, 0.3])
def test_srtt_stays_near_the_path_rtt_under_loss(loss: float) -> None:
    # Before C5 was applied, samples from chunks acknowledged behind a loss pushed SRTT to
    # about 1 s at 30% loss on a 10 ms path, and the RTO to rto_max. (The give-up limit is
    # raised: at 30% loss several T3-rtx expiries in a row are common.)
    options = Options(heartbeat_interval=0, association_max_retransmissions=30)
    p = make_pair(seed=46, options=options, link=Link(delay=0.005))
    assoc, _ = p.connect()
    p.net.link = Link(loss=loss, delay=0.005)
    assoc.send(bytes(100_000), stream=1, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: bool(p.received()), 120.0)
    stats = assoc.statistics()
    assert stats.srtt is not None
    # The path RTT is 10 ms; a delayed SACK adds up to 20 ms.
    assert stats.srtt < 0.06
