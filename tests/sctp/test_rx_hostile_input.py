"""Hostile or arbitrary peer input never raises out of the data path and keeps its invariants.

Hypothesis runs derandomized (fixed examples, reproducible) with bounded example counts.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netchan.transport.sctp.congestion import RenoCongestionControl
from netchan.transport.sctp.rx.data_tracker import DataTracker
from netchan.transport.sctp.rx.reassembly import ReassemblyQueue
from netchan.transport.sctp.tsn import TSN_MASK
from netchan.transport.sctp.tx.retransmission_queue import RetransmissionQueue
from netchan.transport.sctp.tx.send_queue import SendQueue

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True)

chunk_fields = st.tuples(
    st.integers(0, 40),  # tsn offset
    st.integers(0, 3),  # stream
    st.integers(0, 5),  # ssn / mid
    st.integers(0, 3),  # fsn
    st.binary(min_size=1, max_size=8),
    st.booleans(),  # unordered
    st.booleans(),  # B
    st.booleans(),  # E
)


@SETTINGS
@given(chunks=st.lists(chunk_fields, max_size=60), interleaved=st.booleans())
def test_reassembly_never_raises_and_accounts_bytes(
    chunks: list[tuple[int, int, int, int, bytes, bool, bool, bool]], interleaved: bool
) -> None:
    q = ReassemblyQueue(max_message_size=20, interleaved=interleaved)
    seen: set[int] = set()
    stored = 0
    for tsn, stream, ssn, fsn, data, unordered, b, e in chunks:
        if tsn in seen:
            continue  # the data tracker filters duplicate TSNs before reassembly
        seen.add(tsn)
        q.add(tsn, stream, ssn, 0, data, unordered=unordered, beginning=b, end=e, fsn=fsn)
        stored += len(data)
        assert 0 <= q.held_bytes <= stored
    delivered = sum(len(m[2]) for m in q.delivered)
    assert q.held_bytes + delivered <= stored
    assert all(len(m[2]) <= 20 for m in q.delivered)
    q.reset()
    assert q.held_bytes == 0


@SETTINGS
@given(
    initial=st.sampled_from([0, 1000, TSN_MASK - 20, TSN_MASK]),
    offsets=st.lists(st.integers(-100, 70_000), max_size=80),
)
def test_data_tracker_matches_model(initial: int, offsets: list[int]) -> None:
    t = DataTracker(initial, pmtu=1200)
    received: set[int] = set()
    cum = 0  # model: offsets 0..cum-1 received
    for off in offsets:
        tsn = (initial + off) & TSN_MASK
        expected_new = off >= cum and off not in received and off - (cum - 1) <= 0xFFFF
        assert t.observe(tsn) == expected_new
        if expected_new:
            received.add(off)
            while cum in received:
                cum += 1
        t.end_of_packet(0.0)
    sack = t.make_sack()
    assert sack.cumulative_tsn_ack == (initial + cum - 1) & TSN_MASK
    covered: set[int] = set()
    prev_end = 0
    for start, end in sack.gap_blocks:
        assert prev_end + 1 < start <= end  # ascending, disjoint, not adjacent
        prev_end = end
        covered.update(range(cum - 1 + start, cum - 1 + end + 1))
    assert covered == {r for r in received if r >= cum}


@SETTINGS
@given(
    sacks=st.lists(
        st.tuples(
            st.integers(-5, 25),  # cum ack offset from the initial TSN
            st.integers(0, 1 << 17),  # a_rwnd
            st.lists(st.tuples(st.integers(-2, 30), st.integers(-2, 30)), max_size=6),
        ),
        max_size=30,
    ),
    t3_at=st.sets(st.integers(0, 29), max_size=3),
)
def test_retransmission_queue_invariants_under_arbitrary_sacks(
    sacks: list[tuple[int, int, list[tuple[int, int]]]], t3_at: set[int]
) -> None:
    initial = TSN_MASK - 10
    sq = SendQueue(send_buffer=1 << 20)
    cc = RenoCongestionControl(mtu=1200, initial_cwnd=20 * 1200)
    rq = RetransmissionQueue(initial_tsn=initial, peer_rwnd=1 << 16, send_queue=sq, congestion=cc)
    for i in range(20):
        sq.add(i % 3, 0, b"x" * 500)
    now = 0.0
    for k, (cum_off, a_rwnd, gaps) in enumerate(sacks):
        now += 0.01
        for _ in range(50):
            if not rq.get_chunks_to_send(now, 1188, rto=1.0):
                break
        res = rq.handle_sack((initial + cum_off) & TSN_MASK, a_rwnd, gaps, now)
        if k in t3_at:
            rq.handle_t3_expiry(now)
        chunks = list(rq._outstanding.values())
        assert rq.bytes_in_flight == sum(c.size for c in chunks if c.in_flight)
        assert rq.outstanding_bytes == sum(len(c.data) for c in chunks)
        assert rq.peer_rwnd >= 0
        assert cc.cwnd >= 1200
        if res.accepted:
            assert res.acked_bytes >= 0
    assert rq.outstanding_bytes + sq.queued_bytes <= 20 * 500
