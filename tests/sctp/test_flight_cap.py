"""The flight cap while streams share an association (tx/flight_cap.py).

A bulk transfer on one stream keeps cwnd in flight; behind a bottleneck that flight waits in
a queue, and a small message of another stream waits behind it. While more than one stream
is in use, the sender keeps the flight near twice the bandwidth-delay product instead, and
small messages of other streams still leave when the bulk is held.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from netchan.transport.sctp.options import Options
from netchan.transport.sctp.tx.flight_cap import GAIN, MIN_PACKETS, MIX_HOLD, FlightCap
from netchan.transport.sctp.tx.send_queue import SendQueue
from tests.sctp.conftest import B_ADDR, make_pair
from tests.sctp.netsim import Link

INF = float("inf")
MTU = 1200


def _fed(cap: FlightCap, *, rtt: float, rate: float, start: float = 0.0) -> float:
    """Feed ``cap`` one second of acknowledgements at ``rate`` bytes/s with ``rtt``; the end."""
    now = start
    step = 0.002
    for _ in range(500):
        now += step
        cap.on_ack(int(rate * step), rtt, now)
    return now


def test_one_stream_is_never_capped() -> None:
    cap = FlightCap()
    for i in range(10):
        cap.on_enqueue(3, float(i), small=True)
    now = _fed(cap, rtt=0.01, rate=1e6, start=10.0)
    assert cap.limit(now, MTU, [3]) == INF


def test_two_streams_cap_the_flight_at_twice_the_bandwidth_delay_product() -> None:
    cap = FlightCap()
    cap.on_enqueue(1, 0.0, small=False)
    cap.on_enqueue(2, 0.0, small=True)
    # No estimate yet: no cap (nothing to base it on).
    assert cap.limit(0.0, MTU, ()) == INF
    now = _fed(cap, rtt=0.02, rate=5e6, start=0.0)
    # Stream 1's message still waits, stream 2 sent a small one just now.
    cap.on_enqueue(2, now, small=True)
    limit = cap.limit(now, MTU, [1])
    assert limit == pytest.approx(GAIN * 5e6 * 0.02, rel=0.05)
    # Both sent within MIX_HOLD, nothing waiting: still two streams in use.
    cap.on_enqueue(1, now, small=False)
    assert cap.limit(now + MIX_HOLD - 0.001, MTU, ()) == pytest.approx(limit)
    # Then nothing for MIX_HOLD: no cap.
    assert cap.limit(now + MIX_HOLD + 0.001, MTU, ()) == INF
    # One stream alone, however long its message waits, is not capped either.
    assert cap.limit(now + MIX_HOLD + 0.001, MTU, [1]) == INF
    # Two streams waiting at once are not, unless one of them is a stream of small messages.
    assert cap.limit(now + 5.0, MTU, [1, 2]) == INF
    cap.on_enqueue(2, now + 5.0, small=True)
    assert cap.limit(now + 5.0, MTU, [1, 2]) == pytest.approx(limit)


def test_bulk_streams_alone_are_not_capped() -> None:
    # Two bulk transfers (a big value's short last piece aside) gain nothing from a cap:
    # no small message waits behind them.
    cap = FlightCap()
    now = _fed(cap, rtt=0.02, rate=5e6, start=0.0)
    for stream in (1, 2):
        cap.on_enqueue(stream, now, small=False)
        cap.on_enqueue(stream, now, small=True)  # the last piece
    assert cap.limit(now, MTU, [1, 2]) == INF
    cap.on_enqueue(3, now + 0.01, small=True)  # a request beside them
    assert cap.limit(now + 0.01, MTU, [1, 2]) == pytest.approx(GAIN * 5e6 * 0.02, rel=0.05)


def test_the_cap_never_goes_below_a_few_packets() -> None:
    cap = FlightCap()
    now = _fed(cap, rtt=0.0001, rate=1e5, start=0.0)
    cap.on_enqueue(2, now, small=True)
    assert cap.limit(now, MTU, [1]) == MIN_PACKETS * MTU


def test_min_rtt_is_forgotten_after_its_window_and_on_a_new_path() -> None:
    cap = FlightCap()
    now = _fed(cap, rtt=0.001, rate=1e7, start=0.0)
    cap.on_enqueue(2, now, small=True)
    low = cap.limit(now, MTU, [1])
    assert low == pytest.approx(GAIN * 1e7 * 0.001, rel=0.05)
    # Ten seconds later every sample is 10 ms: the old 1 ms minimum has expired.
    now = _fed(cap, rtt=0.01, rate=1e7, start=now + 10.0)
    cap.on_enqueue(2, now, small=True)
    assert cap.limit(now, MTU, [1]) == pytest.approx(10 * low, rel=0.05)
    cap.reset_path()
    assert cap.limit(now, MTU, [1]) == INF  # no estimate for the new destination yet


def test_produce_small_skips_the_bulk_stream() -> None:
    queue = SendQueue(send_buffer=10_000_000, pmtu=MTU, interleaving=True)
    queue.add(1, 0, b"B" * 100_000)
    queue.add(2, 0, b"small")
    queue.add(3, 0, b"S" * 5000)  # several chunks: not small
    queue.add(4, 0, b"tiny")
    first = queue.produce_batch(MTU, 1_000_000, count=1)
    assert [c.stream for c in first] == [1]  # the bulk message is partly sent
    small = queue.produce_small(MTU, 1_000_000)
    assert [(c.stream, c.data) for c in small] == [(2, b"small"), (4, b"tiny")]
    assert queue.queued_messages == 2  # the bulk and the 5000-byte message wait


def test_produce_small_waits_for_a_data_message_in_progress() -> None:
    # Without I-DATA a message's fragments take consecutive TSNs (RFC 9260 §6.9).
    queue = SendQueue(send_buffer=10_000_000, pmtu=MTU, interleaving=False)
    queue.add(1, 0, b"B" * 100_000)
    queue.add(2, 0, b"small")
    assert queue.produce_batch(MTU, 1_000_000, count=1)
    assert queue.produce_small(MTU, 1_000_000) == []


@dataclass
class _Run:
    bulk_seconds: float
    small_latencies: list[float]
    capped: int


def _bulk_beside_small(flight_cap: bool, seed: int = 7) -> _Run:
    """8 MiB on stream 1 through a 10 MB/s bottleneck (10 ms RTT), a small message on
    stream 2 every 20 ms meanwhile."""
    options = Options(
        heartbeat_interval=0,
        flight_cap=flight_cap,
        pmtu=1200,
        plpmtud=False,
        send_buffer=16 * 1024 * 1024,
        receive_window=16 * 1024 * 1024,
    )
    p = make_pair(seed=seed, options=options, link=Link(delay=0.005))
    assoc, _peer = p.connect()
    p.net.link = Link(delay=0.005, rate=10e6)
    big = random.Random(seed).randbytes(8 * 1024 * 1024)
    start = p.net.now
    assoc.send(big, stream=1, ppid=1, unordered=False, now=start)
    sent: dict[bytes, float] = {}
    arrived: dict[bytes, float] = {}
    done: float | None = None
    seen = 0
    for step in range(30_000):  # 60 s of virtual time at most, in 2 ms steps
        if done is None and step % 10 == 0:
            payload = b"small-%04d" % step
            assoc.send(payload, stream=2, ppid=2, unordered=False, now=p.net.now)
            sent[payload] = p.net.now
        p.net.run(0.002)
        received = p.received(B_ADDR)
        for message in received[seen:]:
            if message.stream == 1:
                assert message.data == big
                done = p.net.now
            else:
                arrived[message.data] = p.net.now
        seen = len(received)
        if done is not None and len(arrived) == len(sent):
            break
    else:
        raise AssertionError("the transfer did not complete")
    assert done is not None
    small_order = [m.data for m in p.received(B_ADDR) if m.stream == 2]
    assert small_order == list(sent)  # every small message once, in order
    return _Run(
        bulk_seconds=done - start,
        small_latencies=sorted(arrived[k] - sent[k] for k in sent),
        capped=assoc._tx.rtx.capped if assoc._tx is not None else 0,
    )


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def test_small_messages_do_not_queue_behind_a_bulk_transfer() -> None:
    # Measured (seed 7): with the cap every small message takes 16 ms (the 10 ms RTT, its
    # own serialization and ~5 ms of queue); without it median 124 ms, p90 256 ms, max
    # 284 ms, queued behind the bulk transfer's growing flight. The bulk takes 0.934 s
    # against 0.924 s.
    capped = _bulk_beside_small(True)
    uncapped = _bulk_beside_small(False)
    assert capped.capped > 0 and uncapped.capped == 0
    assert _percentile(capped.small_latencies, 0.5) < 0.025
    assert capped.small_latencies[-1] < 0.03
    assert _percentile(uncapped.small_latencies, 0.5) > 0.08
    assert capped.bulk_seconds < uncapped.bulk_seconds * 1.1


def test_one_stream_alone_is_not_slowed() -> None:
    # A single bulk stream (no second stream within MIX_HOLD) runs as without the cap.
    for flight_cap in (True, False):
        options = Options(heartbeat_interval=0, flight_cap=flight_cap, plpmtud=False)
        p = make_pair(seed=8, options=options, link=Link(delay=0.005))
        assoc, _peer = p.connect()
        p.net.link = Link(delay=0.005, rate=10e6)
        big = random.Random(8).randbytes(2 * 1024 * 1024)
        assoc.send(big, stream=1, ppid=1, unordered=False, now=p.net.now)
        p.net.run_until(lambda: bool(p.received(B_ADDR)), timeout=10.0)  # noqa: B023
        assert p.received(B_ADDR)[0].data == big
        assert assoc._tx is not None and assoc._tx.rtx.capped == 0


def test_two_bulk_transfers_are_not_capped() -> None:
    # Nothing small waits behind two bulk streams: they share cwnd as without the cap.
    options = Options(heartbeat_interval=0, plpmtud=False, send_buffer=8 * 1024 * 1024, pmtu=1200)
    p = make_pair(seed=9, options=options, link=Link(delay=0.005))
    assoc, _peer = p.connect()
    p.net.link = Link(delay=0.005, rate=10e6)
    rng = random.Random(9)
    bigs = {1: rng.randbytes(1024 * 1024), 2: rng.randbytes(1024 * 1024)}
    for stream, data in bigs.items():
        assoc.send(data, stream=stream, ppid=1, unordered=False, now=p.net.now)
    p.net.run_until(lambda: len(p.received(B_ADDR)) == 2, timeout=10.0)
    assert {m.stream: m.data for m in p.received(B_ADDR)} == bigs
    assert assoc._tx is not None and assoc._tx.rtx.capped == 0


@pytest.mark.parametrize("loss", [0.1, 0.3])
def test_capped_transfers_survive_loss(loss: float) -> None:
    # The cap changes only when new DATA leaves; retransmissions keep their precedence
    # (§6.1 rule C, §7.2.4). With loss, every message still arrives once and in order per
    # stream, the bulk beside a stream of small messages.
    options = Options(
        heartbeat_interval=0,
        plpmtud=False,
        pmtu=1200,
        send_buffer=4 * 1024 * 1024,
        association_max_retransmissions=30,
    )
    p = make_pair(seed=11, options=options, link=Link(delay=0.005))
    assoc, _peer = p.connect()
    p.net.link = Link(delay=0.005, rate=10e6, loss=loss, duplicate=0.02, reorder=0.05)
    rng = random.Random(11)
    big = rng.randbytes(512 * 1024)
    assoc.send(big, stream=1, ppid=1, unordered=False, now=p.net.now)
    small = [b"small-%03d" % i for i in range(100)]
    for payload in small:
        assoc.send(payload, stream=2, ppid=2, unordered=False, now=p.net.now)
        p.net.run(0.01)
    p.net.run_until(lambda: len(p.received(B_ADDR)) == 101, timeout=120.0)
    got = p.received(B_ADDR)
    assert [m.data for m in got if m.stream == 2] == small
    assert [m.data for m in got if m.stream == 1] == [big]
    assert assoc._tx is not None and assoc._tx.rtx.capped > 0
    assert assoc.statistics().retransmissions > 0
