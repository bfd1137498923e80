"""The data path end to end without an association: send side -> lossy link -> receive side.

Sender: SendQueue + RetransmissionQueue + Reno + RtoEstimator with a T3-rtx timer.
Receiver: DataTracker + ReassemblyQueue with delayed SACKs and its receive window.
A seeded in-memory link drops, duplicates and reorders packets; time is explicit. The
result must be exactly-once delivery, in order per stream, for every loss rate.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from netchan.transport.sctp.congestion import create_congestion_control
from netchan.transport.sctp.rx.data_tracker import DataTracker, SackInfo
from netchan.transport.sctp.rx.reassembly import ReassemblyQueue
from netchan.transport.sctp.tsn import TSN_MASK
from netchan.transport.sctp.tx.retransmission_queue import RetransmissionQueue
from netchan.transport.sctp.tx.rto import RtoEstimator
from netchan.transport.sctp.tx.send_queue import SendQueue

PMTU = 1200
ROOM = PMTU - 12
RECEIVE_WINDOW = 64 * 1024

# A DATA / I-DATA chunk as it travels: tsn, stream, ssn or MID, ppid, data, U, B, E, FSN.
Wire = tuple[int, int, int, int, bytes, bool, bool, bool, int]


@dataclass(order=True)
class Arrival:
    time: float
    seq: int
    to_receiver: bool = field(compare=False)
    chunks: list[Wire] | None = field(compare=False, default=None)
    sack: tuple[SackInfo, int] | None = field(compare=False, default=None)


class Link:
    """Seeded lossy, duplicating, reordering link in both directions."""

    def __init__(self, rng: random.Random, loss: float, jitter: float, delay: float = 0.01) -> None:
        self.rng = rng
        self.loss = loss
        self.jitter = jitter
        self.delay = delay
        self.queue: list[Arrival] = []
        self.seq = 0

    def send(self, now: float, to_receiver: bool, **payload: object) -> None:
        if self.rng.random() < self.loss:
            return
        copies = 2 if self.rng.random() < 0.02 else 1
        for _ in range(copies):
            self.seq += 1
            jitter = self.rng.random() * self.jitter  # reordering
            heapq.heappush(
                self.queue,
                Arrival(now + self.delay + jitter, self.seq, to_receiver, **payload),  # type: ignore[arg-type]
            )


def run_transfer(
    seed: int,
    loss: float,
    messages: list[tuple[int, bytes, bool]],
    initial_tsn: int,
    jitter: float = 0.01,
    interleaved: bool = False,
    receive_window: int = RECEIVE_WINDOW,
    on_delivery: Callable[[float, tuple[int, int, bytes, bool]], None] | None = None,
) -> tuple[list[tuple[int, int, bytes, bool]], RetransmissionQueue]:
    rng = random.Random(seed)
    link = Link(rng, loss, jitter)
    sq = SendQueue(send_buffer=1 << 30, pmtu=PMTU, interleaving=interleaved)
    cc = create_congestion_control("reno", mtu=PMTU)
    rto = RtoEstimator(rto_initial=0.5, rto_min=0.1, rto_max=2.0)
    rq = RetransmissionQueue(
        initial_tsn=initial_tsn, peer_rwnd=receive_window, send_queue=sq, congestion=cc
    )
    tracker = DataTracker(initial_tsn, delayed_ack_packets=2, delayed_ack_timeout=0.02)
    reasm = ReassemblyQueue(max_message_size=1 << 20, interleaved=interleaved)
    for stream, data, unordered in messages:
        sq.add(stream, stream + 100, data, unordered=unordered)
    delivered: list[tuple[int, int, bytes, bool]] = []
    t3: float | None = None
    now = 0.0

    def sender_transmit() -> None:
        nonlocal t3
        for _ in range(1000):
            chunks = rq.get_chunks_to_send(now, ROOM, rto=rto.rto)
            if not chunks:
                break
            wire = [
                (
                    c.tsn,
                    c.stream,
                    c.ssn,
                    c.ppid,
                    bytes(c.data),
                    c.unordered,
                    c.beginning,
                    c.end,
                    c.fsn,
                )
                for c in chunks
            ]
            link.send(now, True, chunks=wire)
            if t3 is None:
                t3 = now + rto.rto  # §6.3.2 R1

    def receiver_sack() -> None:
        a_rwnd = max(0, receive_window - reasm.held_bytes)
        link.send(now, False, sack=(tracker.make_sack(), a_rwnd))

    sender_transmit()
    for _ in range(200_000):
        if rq.is_idle and not link.queue:
            break
        deadlines = [a for a in (t3, tracker.delayed_ack_deadline) if a is not None]
        if link.queue:
            deadlines.append(link.queue[0].time)
        assert deadlines, "stalled: nothing in flight, nothing scheduled"
        now = max(now, min(deadlines))
        if t3 is not None and now >= t3:
            rq.handle_t3_expiry(now)  # §6.3.3 E1, E3
            rto.backoff()  # E2
            t3 = None
            sender_transmit()
            if t3 is None and rq.has_outstanding:
                t3 = now + rto.rto
        dl = tracker.delayed_ack_deadline
        if dl is not None and now >= dl:
            tracker.handle_timeout(now)
            receiver_sack()
        while link.queue and link.queue[0].time <= now:
            arrival = heapq.heappop(link.queue)
            if arrival.to_receiver:
                assert arrival.chunks is not None
                for tsn, stream, ssn, ppid, data, unordered, b, e, fsn in arrival.chunks:
                    unwrapped = tracker.unwrap(tsn)
                    if tracker.observe(tsn):
                        assert reasm.add(
                            unwrapped, stream, ssn, ppid, data,
                            unordered=unordered, beginning=b, end=e, fsn=fsn,
                        )  # fmt: skip
                tracker.end_of_packet(now)
                if on_delivery is not None:
                    for message in reasm.delivered:
                        on_delivery(now, message)
                delivered.extend(reasm.delivered)
                reasm.delivered.clear()
                if tracker.should_send_sack_now:
                    receiver_sack()
            else:
                assert arrival.sack is not None
                info, a_rwnd = arrival.sack
                res = rq.handle_sack(info.cumulative_tsn_ack, a_rwnd, info.gap_blocks, now)
                assert not res.invalid
                if res.rtt is not None:
                    rto.observe(res.rtt)
                if not rq.has_outstanding:
                    t3 = None  # R2
                elif res.cum_advanced:
                    t3 = now + rto.rto  # R3
                sender_transmit()
    else:
        pytest.fail("transfer did not finish within the iteration bound")
    return delivered, rq


def make_messages(seed: int, n: int) -> list[tuple[int, bytes, bool]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        size = rng.choice((10, 100, 1000, 3000, 20_000)) if rng.random() < 0.3 else 40
        body = (b"%06d|" % i) + rng.randbytes(size)
        out.append((rng.randrange(5), body, rng.random() < 0.15))
    return out


@pytest.mark.parametrize("interleaved", [False, True], ids=["DATA", "I-DATA"])
@pytest.mark.parametrize("loss", [0.0, 0.05, 0.2, 0.3])
def test_exactly_once_in_order_under_loss_and_reordering(loss: float, interleaved: bool) -> None:
    messages = make_messages(11, 300)
    delivered, rq = run_transfer(
        seed=5,
        loss=loss,
        messages=messages,
        initial_tsn=TSN_MASK - 50,
        interleaved=interleaved,
    )
    # Exactly once: every message delivered, none twice.
    assert sorted(d[2] for d in delivered) == sorted(m[1] for m in messages)
    # In order per stream for ordered messages; PPID and flags preserved.
    for stream in range(5):
        sent = [m[1] for m in messages if m[0] == stream and not m[2]]
        got = [d[2] for d in delivered if d[0] == stream and not d[3]]
        assert got == sent
    assert all(d[1] == d[0] + 100 for d in delivered)
    if loss > 0:
        assert rq.retransmissions > 0
    assert rq.bytes_in_flight == 0 and rq.outstanding_bytes == 0


def test_clean_link_needs_no_retransmission() -> None:
    messages = make_messages(12, 300)
    delivered, rq = run_transfer(
        seed=6, loss=0.0, messages=messages, initial_tsn=TSN_MASK - 50, jitter=0.0
    )
    assert sorted(d[2] for d in delivered) == sorted(m[1] for m in messages)
    assert rq.retransmissions == 0
    assert rq.fast_retransmits == 0
    assert rq.t3_expiries == 0


def test_fast_retransmit_happens_under_moderate_loss() -> None:
    messages = [(1, b"%05d" % i + b"x" * 900, False) for i in range(400)]
    delivered, rq = run_transfer(seed=3, loss=0.03, messages=messages, initial_tsn=7, jitter=0.0)
    assert [d[2] for d in delivered] == [m[1] for m in messages]
    assert rq.fast_retransmits > 0


@pytest.mark.parametrize("interleaved", [False, True], ids=["DATA", "I-DATA"])
def test_small_messages_on_other_stream_not_stuck_behind_big_one(interleaved: bool) -> None:
    big = b"B" * (1 << 20)
    messages = [(1, big, False)] + [(2, b"small-%d" % i, False) for i in range(5)]
    times: dict[bytes, float] = {}

    def record(now: float, message: tuple[int, int, bytes, bool]) -> None:
        times[message[2]] = now

    delivered, _ = run_transfer(
        seed=9,
        loss=0.0,
        messages=messages,
        initial_tsn=1,
        jitter=0.0,
        interleaved=interleaved,
        receive_window=4 << 20,
        on_delivery=record,
    )
    assert len(delivered) == 6
    last_small = max(times[m[1]] for m in messages[1:])
    if interleaved:
        # I-DATA: the small messages arrive within the first round trips, long before
        # the 1 MB message completes.
        assert last_small < times[big] / 4
    else:
        # DATA (§6.9): fragments of a message take consecutive TSNs, so the small
        # messages queued behind the big one's first fragment wait for all of it.
        assert last_small >= times[big]
