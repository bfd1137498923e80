"""DataTracker: cumulative TSN, gap blocks, duplicates and the delayed-SACK rules (§6.2, §6.7)."""

from __future__ import annotations

import random

import pytest

from netchan.transport.sctp.rx.data_tracker import DataTracker
from netchan.transport.sctp.tsn import TSN_MASK


def make(initial: int = 100, **kw: object) -> DataTracker:
    return DataTracker(initial, delayed_ack_packets=2, delayed_ack_timeout=0.2, **kw)  # type: ignore[arg-type]


def test_in_order_advances_cumulative() -> None:
    t = make(100)
    assert t.cumulative_tsn == 99
    assert t.observe(100)
    assert t.observe(101)
    assert t.cumulative_tsn == 101
    assert not t.has_gaps
    sack = t.make_sack()
    assert sack.cumulative_tsn_ack == 101
    assert sack.gap_blocks == ()
    assert sack.duplicate_tsns == ()


def sack_due(t: DataTracker) -> bool:
    """The flag read through a call: mypy keeps a narrowed property across method calls."""
    return t.should_send_sack_now


def test_delayed_ack_every_second_packet() -> None:
    t = make(100)
    t.observe(100)
    t.end_of_packet(1.0)
    assert not t.should_send_sack_now
    assert t.delayed_ack_deadline == pytest.approx(1.2)
    assert t.has_unacked
    t.observe(101)
    t.end_of_packet(1.05)
    assert sack_due(t)
    t.make_sack()
    assert not sack_due(t)
    assert t.delayed_ack_deadline is None
    assert not t.has_unacked


def test_delayed_ack_timer() -> None:
    t = make(100)
    t.observe(100)
    t.end_of_packet(1.0)
    t.handle_timeout(1.1)
    assert not sack_due(t)
    t.handle_timeout(1.2)
    assert sack_due(t)
    assert t.make_sack().cumulative_tsn_ack == 100


def test_packet_without_new_data_does_not_count() -> None:
    t = make(100)
    t.end_of_packet(1.0)
    assert t.delayed_ack_deadline is None
    assert not t.has_unacked


def test_gap_blocks_and_immediate_sack() -> None:
    t = make(1)
    for tsn in (1, 2, 4, 5, 8):
        assert t.observe(tsn)
    t.end_of_packet(0.0)
    assert t.should_send_sack_now  # §7.2.4: a hole gets a SACK per packet
    sack = t.make_sack()
    assert sack.cumulative_tsn_ack == 2
    assert sack.gap_blocks == ((2, 3), (6, 6))
    # Filling the first hole: cum jumps over the first block; SACK due at once.
    assert t.observe(3)
    t.end_of_packet(0.1)
    assert t.should_send_sack_now
    sack = t.make_sack()
    assert sack.cumulative_tsn_ack == 5
    assert sack.gap_blocks == ((3, 3),)
    # Filling the middle of a hole merges nothing yet.
    assert t.observe(7)
    sack = t.make_sack()
    assert sack.cumulative_tsn_ack == 5
    assert sack.gap_blocks == ((2, 3),)
    assert t.observe(6)
    sack = t.make_sack()
    assert sack.cumulative_tsn_ack == 8
    assert sack.gap_blocks == ()
    assert not t.has_gaps


def test_block_merging_both_sides() -> None:
    t = make(0)
    for tsn in (2, 4, 6):
        t.observe(tsn)
    assert t.make_sack().gap_blocks == ((3, 3), (5, 5), (7, 7))
    t.observe(5)  # joins (4) and (6)
    assert t.make_sack().gap_blocks == ((3, 3), (5, 7))
    t.observe(3)  # joins (2) and (4..6)
    assert t.make_sack().gap_blocks == ((3, 7),)
    t.observe(1)
    assert t.observe(0)
    assert t.make_sack().cumulative_tsn_ack == 6


def test_duplicates_reported_once() -> None:
    t = make(10)
    t.observe(10)
    t.observe(11)
    t.make_sack()
    assert not t.observe(10)
    assert not t.observe(11)
    t.end_of_packet(0.0)
    assert t.should_send_sack_now  # §6.2: duplicates are acked at once
    sack = t.make_sack()
    assert sack.duplicate_tsns == (10, 11)
    assert t.make_sack().duplicate_tsns == ()
    assert t.duplicates_received == 2


def test_duplicate_inside_gap_block() -> None:
    t = make(10)
    t.observe(12)
    assert t.is_duplicate(12)
    assert not t.is_duplicate(11)
    assert not t.observe(12)
    sack = t.make_sack()
    assert sack.duplicate_tsns == (12,)
    assert sack.gap_blocks == ((3, 3),)


def test_immediate_bit() -> None:
    t = make(10)
    t.observe(10, immediate=True)
    assert t.should_send_sack_now


def test_wraparound() -> None:
    t = make(TSN_MASK - 1)
    assert t.observe(TSN_MASK - 1)
    assert t.observe(TSN_MASK)
    assert t.observe(1)  # 0 missing
    sack = t.make_sack()
    assert sack.cumulative_tsn_ack == TSN_MASK
    assert sack.gap_blocks == ((2, 2),)
    assert t.would_advance_cumulative(0)
    assert t.observe(0)
    assert t.make_sack().cumulative_tsn_ack == 1
    # An old TSN from before the wrap is a duplicate.
    assert not t.observe(TSN_MASK - 1)


def test_far_ahead_tsn_dropped() -> None:
    t = make(0)
    assert not t.observe(0x10000 + 1)
    assert t.out_of_window_dropped == 1
    assert t.make_sack().gap_blocks == ()


def test_sack_fits_pmtu() -> None:
    t = DataTracker(0, pmtu=508, max_duplicate_reports=1000)
    for tsn in range(1, 1000, 2):  # 500 gaps
        t.observe(tsn)
    for tsn in range(1, 100, 2):
        t.observe(tsn)  # duplicates
    sack = t.make_sack()
    entries = len(sack.gap_blocks) + len(sack.duplicate_tsns)
    assert 12 + 16 + 4 * entries <= 508
    assert len(sack.gap_blocks) == (508 - 28) // 4
    assert sack.gap_blocks[0] == (2, 2)  # cum is TSN 0 - 1, TSN 0 missing


def test_duplicate_report_cap() -> None:
    t = DataTracker(0, max_duplicate_reports=3)
    t.observe(0)
    for _ in range(10):
        t.observe(0)
    assert t.make_sack().duplicate_tsns == (0, 0, 0)


def test_random_arrival_matches_model() -> None:
    rng = random.Random(7)
    start = TSN_MASK - 500  # cross the wrap
    t = DataTracker(start)
    tsns = [(start + i) & TSN_MASK for i in range(1500)]
    arrivals = tsns + rng.sample(tsns, 300)
    rng.shuffle(arrivals)
    seen: set[int] = set()
    for k, tsn in enumerate(arrivals):
        new = t.observe(tsn)
        assert new == (tsn not in seen)
        seen.add(tsn)
        if k % 37 == 0:
            sack = t.make_sack()
            # Model: cumulative = last of the longest received prefix.
            prefix = 0
            while prefix < len(tsns) and tsns[prefix] in seen:
                prefix += 1
            assert sack.cumulative_tsn_ack == (start + prefix - 1) & TSN_MASK
            for a, b in sack.gap_blocks:
                for off in range(a, b + 1):
                    assert (sack.cumulative_tsn_ack + off) & TSN_MASK in seen
    assert t.make_sack().cumulative_tsn_ack == tsns[-1]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        DataTracker(-1)
    with pytest.raises(ValueError):
        DataTracker(0, delayed_ack_packets=0)
    with pytest.raises(ValueError):
        DataTracker(0, pmtu=20)


@pytest.mark.parametrize("seed", range(6))
def test_accept_is_unwrap_then_observe(seed: int) -> None:
    """accept() (the association's hot path) == unwrap() before observe(), state included."""
    rng = random.Random(seed)
    initial = rng.choice([0, 1, 1000, TSN_MASK - 20, TSN_MASK])
    ref = make(initial)
    fast = make(initial)
    nxt = initial
    accepted = 0
    for step in range(3000):
        # Mostly in order; sometimes holes, duplicates, old and far-ahead TSNs.
        r = rng.random()
        if r < 0.7:
            tsn = nxt
            nxt = (nxt + 1) & TSN_MASK
        elif r < 0.8:
            tsn = (nxt + rng.randrange(1, 40)) & TSN_MASK
        elif r < 0.9:
            tsn = (nxt - rng.randrange(1, 40)) & TSN_MASK
        elif r < 0.95:
            tsn = (nxt + 70_000) & TSN_MASK
        else:
            tsn = (nxt + rng.randrange(40)) & TSN_MASK
            nxt = (tsn + 1) & TSN_MASK
        immediate = rng.random() < 0.05
        unwrapped = ref.unwrap(tsn)
        new = ref.observe(tsn, immediate=immediate)
        got = fast.accept(tsn, immediate)
        assert got == (unwrapped if new else -1)
        assert got == -1 or got >= 0
        accepted += new
        if step % 7 == 0:
            ref.end_of_packet(step * 0.001)
            fast.end_of_packet(step * 0.001)
            assert ref.should_send_sack_now == fast.should_send_sack_now
            assert ref.make_sack() == fast.make_sack()
    assert ref.duplicates_received == fast.duplicates_received > 0
    assert ref.out_of_window_dropped == fast.out_of_window_dropped > 0
    assert accepted > 1000
