"""RetransmissionQueue: TSNs, SACK processing, fast retransmit/recovery, T3, windows (§6, §7.2)."""

from __future__ import annotations

import pytest

from netchan.transport.sctp.congestion import RenoCongestionControl
from netchan.transport.sctp.tsn import TSN_MASK
from netchan.transport.sctp.tx.retransmission_queue import RetransmissionQueue
from netchan.transport.sctp.tx.send_queue import OutgoingChunk, SendQueue

MTU = 1200
ROOM = MTU - 12  # DATA bytes in an empty packet
MSG = 1000  # one 1000-byte message = one 1016-byte chunk = one packet
CHUNK = 16 + MSG
RTO = 1.0


def make(
    *,
    initial_tsn: int = 1000,
    rwnd: int = 1 << 20,
    cwnd_mtus: int = 100,
    zero_window_probe: bool = True,
) -> tuple[RetransmissionQueue, SendQueue, RenoCongestionControl]:
    sq = SendQueue(send_buffer=1 << 24, pmtu=MTU)
    cc = RenoCongestionControl(mtu=MTU, initial_cwnd=cwnd_mtus * MTU)
    rq = RetransmissionQueue(
        initial_tsn=initial_tsn,
        peer_rwnd=rwnd,
        send_queue=sq,
        congestion=cc,
        zero_window_probe=zero_window_probe,
    )
    return rq, sq, cc


def queue(sq: SendQueue, n: int, size: int = MSG, stream: int = 1) -> None:
    for i in range(n):
        sq.add(stream, 0, bytes([i & 0xFF]) * size)


def in_fast_recovery(rq: RetransmissionQueue) -> bool:
    """Read through a call: the state changes under method calls mypy cannot see into."""
    return rq.fast_recovery


def retransmitted(rq: RetransmissionQueue) -> bool:
    """The last get_chunks_to_send call's flag (read through a call, as above)."""
    return rq.last_had_retransmissions


def send_packets(rq: RetransmissionQueue, now: float, limit: int = 1000) -> list[OutgoingChunk]:
    """Send packets until the queue stops (bounded), returning all chunks sent."""
    out: list[OutgoingChunk] = []
    for _ in range(limit):
        chunks = rq.get_chunks_to_send(now, ROOM, rto=RTO)
        if not chunks:
            break
        out.extend(chunks)
    return out


def test_tsn_assignment_and_wraparound() -> None:
    rq, sq, _ = make(initial_tsn=TSN_MASK - 1)
    queue(sq, 4)
    chunks = send_packets(rq, 0.0)
    assert [c.tsn for c in chunks] == [TSN_MASK - 1, TSN_MASK, 0, 1]
    assert rq.next_tsn == 2
    res = rq.handle_sack(0, 1 << 20, (), 0.1)
    assert res.accepted and res.cum_advanced
    assert rq.cumulative_tsn_ack == 0
    assert rq.outstanding_chunks == 1
    assert rq.bytes_in_flight == CHUNK
    res = rq.handle_sack(1, 1 << 20, (), 0.2)
    assert not rq.has_outstanding
    assert rq.bytes_in_flight == 0 and rq.outstanding_bytes == 0


def test_small_messages_bundled_in_one_packet() -> None:
    rq, sq, _ = make()
    for i in range(50):
        sq.add(i % 3, 0, b"m%d" % i)
    chunks = rq.get_chunks_to_send(0.0, ROOM, rto=RTO)
    assert len(chunks) == 50  # 50 * 20 bytes < 1188
    assert sum(c.size for c in chunks) <= ROOM
    assert [c.tsn for c in chunks] == list(range(1000, 1050))


def test_cwnd_limits_new_data_rule_b() -> None:
    rq, sq, cc = make(cwnd_mtus=4)
    queue(sq, 20)
    chunks = send_packets(rq, 0.0)
    # Sending continues while flightsize < cwnd (4800): 5 chunks reach 5080.
    assert len(chunks) == 5
    assert rq.bytes_in_flight == 5 * CHUNK >= cc.cwnd
    assert rq.get_chunks_to_send(0.0, ROOM, rto=RTO) == []


def test_rwnd_limits_new_data_rule_a() -> None:
    rq, sq, _ = make(rwnd=3 * CHUNK)
    queue(sq, 10)
    chunks = send_packets(rq, 0.0)
    assert len(chunks) == 3
    assert rq.peer_rwnd == 0
    # The peer frees its buffer: a_rwnd back to 3 chunks, two acked.
    rq.handle_sack(chunks[1].tsn, 3 * CHUNK, (), 0.1)
    assert rq.peer_rwnd == 2 * CHUNK
    more = send_packets(rq, 0.1)
    assert len(more) == 2
    # Messages are not cut into smaller fragments to squeeze into the window.
    assert all(len(c.data) == MSG for c in chunks + more)


def test_zero_window_probe() -> None:
    rq, sq, _ = make(rwnd=0)
    queue(sq, 3)
    chunks = send_packets(rq, 0.0)
    assert len(chunks) == 1  # §6.1 A: one chunk while nothing is in flight
    assert rq.get_chunks_to_send(0.0, ROOM, rto=RTO) == []
    rq.handle_sack(chunks[0].tsn, 0, (), 0.5)  # acked, window still closed
    assert len(send_packets(rq, 0.5)) == 1  # next probe
    rq2, sq2, _ = make(rwnd=0, zero_window_probe=False)
    queue(sq2, 1)
    assert send_packets(rq2, 0.0) == []


def test_rtt_sample_and_karn() -> None:
    rq, sq, _ = make()
    queue(sq, 1)
    (c1,) = send_packets(rq, 10.0)
    # T3 expiry retransmits c1; its ack gives no sample (Karn, §6.3.1 C5): it could be
    # the ack of either transmission.
    rq.handle_t3_expiry(11.0)
    assert [c.tsn for c in send_packets(rq, 11.0)] == [c1.tsn]
    assert c1.nsent == 2
    res = rq.handle_sack(c1.tsn, 1 << 20, (), 11.1)
    assert res.accepted and res.cum_advanced
    assert res.rtt is None
    assert rq.retransmissions == 1
    # A chunk sent once gives a sample.
    queue(sq, 1)
    (c2,) = send_packets(rq, 12.0)
    res = rq.handle_sack(c2.tsn, 1 << 20, (), 12.25)
    assert res.rtt == pytest.approx(0.25)


def lossy_setup(
    n: int = 10, cwnd_mtus: int = 100
) -> tuple[RetransmissionQueue, RenoCongestionControl, list[OutgoingChunk]]:
    rq, sq, cc = make(cwnd_mtus=cwnd_mtus)
    queue(sq, n)
    chunks = send_packets(rq, 0.0)
    assert len(chunks) == n
    return rq, cc, chunks


def test_fast_retransmit_on_third_miss_exactly() -> None:
    rq, cc, chunks = lossy_setup()
    base = chunks[0].tsn  # chunks[1] (base + 1) is lost
    cwnd = cc.cwnd
    r1 = rq.handle_sack(base, 1 << 20, ((2, 2),), 0.1)
    assert r1.accepted and not r1.fast_retransmit
    r2 = rq.handle_sack(base, 1 << 20, ((2, 3),), 0.1)
    assert not r2.fast_retransmit
    assert chunks[1].misses == 2
    # Same blocks again: nothing newly acked (HTNA), so no miss counted.
    r_dup = rq.handle_sack(base, 1 << 20, ((2, 3),), 0.1)
    assert not r_dup.fast_retransmit
    assert chunks[1].misses == 2
    r3 = rq.handle_sack(base, 1 << 20, ((2, 4),), 0.1)
    assert r3.fast_retransmit
    assert rq.fast_retransmits == 1
    assert rq.fast_recovery
    # §7.2.3: ssthresh = max(cwnd/2, 4 MTU), cwnd = ssthresh.
    assert cc.ssthresh == max(cwnd // 2, 4 * MTU)
    assert cc.cwnd == cc.ssthresh
    # The lost chunk is out of flight (§6.2.1 C) and goes first, regardless of cwnd.
    in_flight = rq.bytes_in_flight
    cc.cwnd = 1  # even a closed window does not delay the fast retransmit packet
    out = rq.get_chunks_to_send(0.2, ROOM, rto=RTO)
    assert [c.tsn for c in out] == [base + 1]
    assert rq.bytes_in_flight == in_flight + CHUNK
    assert rq.retransmissions == 1


def test_gap_acked_chunks_not_retransmitted_and_only_missing_counted() -> None:
    rq, _, chunks = lossy_setup()
    base = chunks[0].tsn
    # Lost: base+1 and base+3; base+2 and base+4.. received.
    for end in (4, 5, 6):
        rq.handle_sack(base, 1 << 20, ((2, 2), (4, end)), 0.1)
    assert chunks[1].misses == 3 and chunks[3].misses == 3
    assert chunks[2].misses == 0 and chunks[2].acked
    out = rq.get_chunks_to_send(0.2, ROOM, rto=RTO)
    assert [c.tsn for c in out] == [base + 1]  # one packet: the lowest marked TSN
    out2 = send_packets(rq, 0.2)
    assert [c.tsn for c in out2][:1] == [base + 3]
    assert base + 2 not in [c.tsn for c in out + out2]


def test_fast_recovery_reduces_cwnd_once_and_exits_at_recovery_point() -> None:
    rq, cc, chunks = lossy_setup(n=20)
    base = chunks[0].tsn
    for end in (2, 3, 4):
        rq.handle_sack(base, 1 << 20, ((2, end),), 0.1)
    assert rq.fast_recovery
    cwnd_after_first = cc.cwnd
    send_packets(rq, 0.2)
    # Another loss (base+6) during recovery: fast retransmitted, cwnd not cut again.
    for end in (8, 9, 10):
        rq.handle_sack(base, 1 << 20, ((2, 5), (7, end)), 0.3)
    assert chunks[6].fast_retransmitted
    assert rq.fast_retransmits == 2
    assert cc.cwnd == cwnd_after_first
    assert rq.fast_recovery
    # Cum ack below the recovery point (highest TSN sent at entry): still in recovery.
    rq.handle_sack(base + 10, 1 << 20, (), 0.4)
    assert rq.fast_recovery
    rq.handle_sack(chunks[-1].tsn, 1 << 20, (), 0.5)
    assert not in_fast_recovery(rq)
    assert not rq.has_outstanding


def test_chunk_fast_retransmitted_only_once() -> None:
    rq, _, chunks = lossy_setup(n=20)
    base = chunks[0].tsn
    for end in (2, 3, 4):
        rq.handle_sack(base, 1 << 20, ((2, end),), 0.1)
    send_packets(rq, 0.2)
    assert chunks[1].nsent == 2
    for end in (5, 6, 7, 8):
        rq.handle_sack(base, 1 << 20, ((2, end),), 0.3)
    assert chunks[1].misses >= 3
    assert not chunks[1].marked  # §7.2.4 step 5: only T3 retransmits it again
    assert rq.fast_retransmits == 1


def test_t3_marks_everything_and_sends_one_packet() -> None:
    rq, cc, chunks = lossy_setup(n=6)
    rq.handle_sack(chunks[0].tsn, 1 << 20, ((2, 2),), 0.1)  # chunks[2] gap-acked
    rq.handle_t3_expiry(1.0)
    assert rq.t3_expiries == 1
    assert cc.cwnd == MTU
    assert rq.bytes_in_flight == 0
    out = rq.get_chunks_to_send(1.0, ROOM, rto=RTO)
    assert [c.tsn for c in out] == [chunks[1].tsn]  # lowest first, one packet
    assert rq.get_chunks_to_send(1.0, ROOM, rto=RTO) == []  # one packet in flight
    res = rq.handle_sack(chunks[2].tsn, 1 << 20, (), 1.2)
    assert res.cum_advanced
    out = send_packets(rq, 1.2)
    # The gap-acked chunk was never retransmitted.
    assert out[0].tsn == chunks[3].tsn
    assert chunks[2].nsent == 1


def test_retransmissions_before_new_data_rule_c() -> None:
    rq, sq, cc = make(cwnd_mtus=100)
    queue(sq, 3)
    first = send_packets(rq, 0.0)
    queue(sq, 3)
    rq.handle_t3_expiry(1.0)
    assert [c.tsn for c in send_packets(rq, 1.0)] == [first[0].tsn]  # one packet after T3
    rq.handle_sack(first[0].tsn, 1 << 20, (), 1.1)
    assert cc.cwnd == MTU + CHUNK  # slow start again from one MTU
    cc.cwnd = 100 * MTU  # let the window open for the rest of the test
    out = send_packets(rq, 1.1)
    tsns = [c.tsn for c in out]
    assert tsns[:2] == [first[1].tsn, first[2].tsn]
    assert tsns[2:] == [first[-1].tsn + 1, first[-1].tsn + 2, first[-1].tsn + 3]


def test_out_of_date_and_invalid_sacks() -> None:
    rq, _, chunks = lossy_setup(n=4)
    rq.handle_sack(chunks[1].tsn, 50_000, (), 0.1)
    rwnd = rq.peer_rwnd
    old = rq.handle_sack(chunks[0].tsn, 1 << 20, (), 0.2)
    assert not old.accepted and not old.invalid
    assert rq.peer_rwnd == rwnd  # §6.2.1 D i: dropped, a_rwnd not applied
    bad = rq.handle_sack(chunks[-1].tsn + 5, 1 << 20, (), 0.2)
    assert bad.invalid and not bad.accepted
    assert rq.cumulative_tsn_ack == chunks[1].tsn
    # Malformed gap blocks (start 0, end < start, beyond what was sent) are ignored.
    res = rq.handle_sack(chunks[1].tsn, 1 << 20, ((0, 1), (3, 2), (50, 60)), 0.3)
    assert res.accepted and res.acked_bytes == 0


def test_peer_rwnd_is_a_rwnd_minus_in_flight() -> None:
    rq, _, chunks = lossy_setup(n=5)
    rq.handle_sack(chunks[0].tsn, 100_000, ((2, 2),), 0.1)
    # chunks[0] cum-acked, chunks[2] gap-acked: chunks[1], [3], [4] still in flight.
    assert rq.bytes_in_flight == 3 * CHUNK
    assert rq.peer_rwnd == 100_000 - 3 * CHUNK
    assert rq.advertised_rwnd == 100_000
    rq.handle_sack(chunks[0].tsn, 1000, (), 0.2)  # window smaller than what is in flight
    assert rq.peer_rwnd == 0
    assert rq.advertised_rwnd == 1000


def test_outstanding_bytes_for_send_buffer() -> None:
    rq, sq, _ = make()
    queue(sq, 3)
    assert sq.queued_bytes == 3 * MSG
    chunks = send_packets(rq, 0.0)
    assert sq.queued_bytes == 0
    assert rq.outstanding_bytes == 3 * MSG
    rq.handle_sack(chunks[0].tsn, 1 << 20, ((2, 2),), 0.1)
    # Gap-acked data still counts (the peer may renege); cum-acked does not.
    assert rq.outstanding_bytes == 2 * MSG
    res = rq.handle_sack(chunks[2].tsn, 1 << 20, (), 0.2)
    assert res.acked_user_bytes == 2 * MSG
    assert rq.outstanding_bytes == 0
    assert rq.is_idle


def test_slow_start_through_sacks() -> None:
    rq, sq, cc = make(cwnd_mtus=4)
    queue(sq, 200)
    now = 0.0
    sent = send_packets(rq, now)
    acked = 0
    for k in range(30):
        now += 0.01
        rq.handle_sack(sent[acked].tsn, 1 << 20, (), now)  # one SACK per chunk
        acked += 1
        # §7.2.1: each SACK grows cwnd by min(acked bytes, MTU) while the window is full.
        assert cc.cwnd == 4 * MTU + (k + 1) * CHUNK
        sent.extend(send_packets(rq, now))
        assert rq.bytes_in_flight >= cc.cwnd
    cc.ssthresh = cc.cwnd  # switch to congestion avoidance: growth slows to ~1 MTU/RTT
    before = cc.cwnd
    for _ in range(before // CHUNK):
        now += 0.01
        rq.handle_sack(sent[acked].tsn, 1 << 20, (), now)
        acked += 1
        sent.extend(send_packets(rq, now))
    assert before < cc.cwnd <= before + MTU


def test_reneged_chunk_retransmitted_after_t3() -> None:
    rq, _, chunks = lossy_setup(n=3)
    rq.handle_sack(chunks[0].tsn - 1, 1 << 20, ((1, 3),), 0.1)  # all gap-acked
    assert rq.bytes_in_flight == 0 and rq.has_outstanding
    rq.handle_t3_expiry(1.0)  # nothing un-acked to mark: treat as reneged
    out = rq.get_chunks_to_send(1.0, ROOM, rto=RTO)
    assert [c.tsn for c in out] == [chunks[0].tsn]


def test_bad_arguments() -> None:
    sq = SendQueue(send_buffer=100)
    cc = RenoCongestionControl(mtu=MTU)
    with pytest.raises(ValueError):
        RetransmissionQueue(initial_tsn=-1, peer_rwnd=0, send_queue=sq, congestion=cc)
    with pytest.raises(ValueError):
        RetransmissionQueue(initial_tsn=0, peer_rwnd=-5, send_queue=sq, congestion=cc)


def test_overlapping_gap_blocks_ignored() -> None:
    rq, _, chunks = lossy_setup(n=6)
    base = chunks[0].tsn - 1
    res = rq.handle_sack(base, 1 << 20, ((2, 3), (1, 5), (3, 4), (5, 5)), 0.1)
    # Only (2, 3) and (5, 5) are valid ascending, disjoint blocks.
    assert res.acked_bytes == 3 * CHUNK
    assert [c.acked for c in chunks] == [False, True, True, False, True, False]


def test_room_not_multiple_of_four() -> None:
    rq, sq, _ = make()
    sq.add(1, 0, b"x" * 85)  # padded chunk: 16 + 85 + 3 = 104 bytes
    assert rq.get_chunks_to_send(0.0, 103, rto=RTO) == []
    out = rq.get_chunks_to_send(0.0, 104, rto=RTO)
    assert len(out) == 1 and out[0].size == 104


def test_one_rtt_sample_per_round_trip() -> None:
    rq, sq, _ = make()
    queue(sq, 4)
    c = send_packets(rq, 0.0)
    assert rq.handle_sack(c[0].tsn, 1 << 20, (), 0.1).rtt == pytest.approx(0.1)
    # Same round trip: data sent before the sample does not give another (§6.3.1 C4).
    assert rq.handle_sack(c[1].tsn, 1 << 20, (), 0.12).rtt is None
    queue(sq, 1)
    later = send_packets(rq, 0.2)
    res = rq.handle_sack(later[0].tsn, 1 << 20, (), 0.35)
    assert res.rtt == pytest.approx(0.15)


def test_idle_period_decays_cwnd_before_next_send() -> None:
    rq, sq, cc = make(cwnd_mtus=32)
    queue(sq, 1)
    (c,) = send_packets(rq, 0.0)
    rq.handle_sack(c.tsn, 1 << 20, (), 0.05)
    assert cc.cwnd == 32 * MTU  # not fully utilized: no growth
    queue(sq, 1)
    send_packets(rq, 0.05 + 2.5 * RTO)  # idle for two full RTOs: halved twice (§7.2.1)
    assert cc.cwnd == 8 * MTU


def test_send_buffer_space_returns_with_acks() -> None:
    sq = SendQueue(send_buffer=3 * MSG, pmtu=MTU)
    cc = RenoCongestionControl(mtu=MTU)
    rq = RetransmissionQueue(initial_tsn=0, peer_rwnd=1 << 20, send_queue=sq, congestion=cc)
    for _ in range(3):
        sq.add(1, 0, b"m" * MSG, outstanding_bytes=rq.outstanding_bytes)
    chunks = send_packets(rq, 0.0)
    with pytest.raises(BufferError):
        sq.add(1, 0, b"n" * MSG, outstanding_bytes=rq.outstanding_bytes)
    assert not sq.buffer_available(rq.outstanding_bytes)  # sent but unacknowledged
    rq.handle_sack(chunks[0].tsn, 1 << 20, (), 0.1)
    assert sq.buffer_available(rq.outstanding_bytes)
    sq.add(1, 0, b"n" * MSG, outstanding_bytes=rq.outstanding_bytes)


def test_last_had_retransmissions_flag() -> None:
    rq, sq, _ = make()
    queue(sq, 3)
    first = rq.get_chunks_to_send(0.0, ROOM, rto=RTO)
    assert first and not retransmitted(rq)
    send_packets(rq, 0.0)
    rq.handle_t3_expiry(1.0)
    again = rq.get_chunks_to_send(1.0, ROOM, rto=RTO)
    assert again and all(c.nsent == 2 for c in again)
    assert retransmitted(rq)
    # Nothing to send: the flag describes this (empty) call, not the previous one.
    assert rq.get_chunks_to_send(1.0, ROOM, rto=RTO) == []
    assert not retransmitted(rq)
