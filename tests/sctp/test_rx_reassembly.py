"""ReassemblyQueue: per-stream order, unordered delivery, fragments, limits (§6.5-§6.9)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from netchan.transport.sctp.rx.reassembly import ReassemblyQueue, _InStream
from netchan.transport.sctp.tsn import SSN_MASK


@dataclass
class Frag:
    tsn: int
    stream: int
    ssn: int
    ppid: int
    data: bytes
    unordered: bool
    beginning: bool
    end: bool


def add(q: ReassemblyQueue, f: Frag) -> bool:
    return q.add(
        f.tsn,
        f.stream,
        f.ssn,
        f.ppid,
        f.data,
        unordered=f.unordered,
        beginning=f.beginning,
        end=f.end,
    )


def fragment(
    tsn: int,
    stream: int,
    ssn: int,
    data: bytes,
    size: int,
    *,
    unordered: bool = False,
    ppid: int = 7,
) -> list[Frag]:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return [
        Frag(tsn + k, stream, ssn, ppid, p, unordered, k == 0, k == len(pieces) - 1)
        for k, p in enumerate(pieces)
    ]


def drain(q: ReassemblyQueue) -> list[tuple[int, int, bytes, bool]]:
    out = list(q.delivered)
    q.delivered.clear()
    return out


def test_single_chunk_in_order_fast_path() -> None:
    q = ReassemblyQueue(max_message_size=100)
    assert q.add(1, 3, 0, 9, b"a", unordered=False, beginning=True, end=True)
    assert q.add(2, 3, 1, 9, b"b", unordered=False, beginning=True, end=True)
    assert drain(q) == [(3, 9, b"a", False), (3, 9, b"b", False)]
    assert q.held_bytes == 0


def test_ordered_waits_for_earlier_ssn() -> None:
    q = ReassemblyQueue(max_message_size=100)
    q.add(2, 1, 1, 0, b"second", unordered=False, beginning=True, end=True)
    q.add(3, 1, 2, 0, b"third", unordered=False, beginning=True, end=True)
    assert drain(q) == []
    assert q.held_bytes == len(b"second") + len(b"third")
    q.add(1, 1, 0, 0, b"first", unordered=False, beginning=True, end=True)
    assert [m[2] for m in drain(q)] == [b"first", b"second", b"third"]
    assert q.held_bytes == 0


def test_streams_are_independent() -> None:
    q = ReassemblyQueue(max_message_size=100)
    q.add(2, 1, 1, 0, b"s1-1", unordered=False, beginning=True, end=True)  # waits for ssn 0
    q.add(3, 2, 0, 0, b"s2-0", unordered=False, beginning=True, end=True)
    assert drain(q) == [(2, 0, b"s2-0", False)]


def test_unordered_bypasses_order() -> None:
    q = ReassemblyQueue(max_message_size=100)
    q.add(2, 1, 1, 0, b"ordered", unordered=False, beginning=True, end=True)
    q.add(3, 1, 0, 0, b"u", unordered=True, beginning=True, end=True)
    assert drain(q) == [(1, 0, b"u", True)]


def test_fragments_reordered_and_interleaved_streams() -> None:
    q = ReassemblyQueue(max_message_size=10_000)
    big1 = bytes(range(256)) * 10
    big2 = b"xyz" * 500
    f1 = fragment(100, 1, 0, big1, 300)
    f2 = fragment(100 + len(f1), 2, 0, big2, 200)
    rng = random.Random(3)
    frags = f1 + f2
    rng.shuffle(frags)
    for f in frags[:-1]:
        assert add(q, f)
    early = list(q.delivered)  # a message may complete before the last arrival
    assert len(early) <= 1
    assert q.held_bytes == len(big1) + len(big2) - len(frags[-1].data) - sum(
        len(m[2]) for m in early
    )
    assert add(q, frags[-1])
    got = {m[0]: m for m in drain(q)}
    assert got[1] == (1, 7, big1, False)
    assert got[2] == (2, 7, big2, False)
    assert q.held_bytes == 0


def test_fragmented_ordered_message_waits_for_previous_ssn() -> None:
    q = ReassemblyQueue(max_message_size=10_000)
    msg1 = b"A" * 1000
    frags1 = fragment(10, 5, 1, msg1, 400)
    for f in frags1:
        add(q, f)
    assert drain(q) == []
    q.add(9, 5, 0, 7, b"zero", unordered=False, beginning=True, end=True)
    assert [m[2] for m in drain(q)] == [b"zero", msg1]


def test_unordered_fragments_any_order() -> None:
    q = ReassemblyQueue(max_message_size=10_000)
    m1 = b"1" * 900
    m2 = b"2" * 700
    f = fragment(50, 4, 0, m1, 256, unordered=True) + fragment(54, 4, 0, m2, 256, unordered=True)
    order = [5, 0, 6, 3, 2, 1, 4]
    for i in order:
        add(q, f[i])
    out = drain(q)
    assert sorted(m[2] for m in out) == sorted([m1, m2])
    assert all(m[3] for m in out)
    assert q.held_bytes == 0


def test_unordered_adjacent_messages_do_not_merge() -> None:
    q = ReassemblyQueue(max_message_size=10_000)
    # Message A = TSN 1..2 (B, E), message B = TSN 3..4 (B, E); A's E arrives last.
    q.add(3, 1, 0, 0, b"c", unordered=True, beginning=True, end=False)
    q.add(4, 1, 0, 0, b"d", unordered=True, beginning=False, end=True)
    q.add(1, 1, 0, 0, b"a", unordered=True, beginning=True, end=False)
    q.add(2, 1, 0, 0, b"b", unordered=True, beginning=False, end=True)
    assert sorted(m[2] for m in drain(q)) == [b"ab", b"cd"]


def test_oversize_single_and_fragmented() -> None:
    q = ReassemblyQueue(max_message_size=1000)
    assert not q.add(1, 0, 0, 0, b"x" * 1001, unordered=False, beginning=True, end=True)
    assert q.oversize_messages == 1
    frags = fragment(2, 0, 0, b"y" * 1500, 600)
    assert add(q, frags[0])
    assert not add(q, frags[1])  # 1200 > 1000: rejected as soon as it is known
    assert q.oversize_messages == 2
    assert q.held_bytes == 0
    uf = fragment(10, 0, 0, b"z" * 1500, 600, unordered=True)
    assert add(q, uf[0]) and add(q, uf[1])
    assert not add(q, uf[2])
    assert q.held_bytes == 0
    assert drain(q) == []


def test_ssn_wraparound() -> None:
    q = ReassemblyQueue(max_message_size=100)
    for ssn in range(SSN_MASK + 3):
        s = ssn & SSN_MASK
        q.add(ssn + 1, 0, s, 0, b"%d" % ssn, unordered=False, beginning=True, end=True)
    out = drain(q)
    assert len(out) == SSN_MASK + 3
    assert out[-1][2] == b"%d" % (SSN_MASK + 2)


def test_ssn_wraparound_out_of_order() -> None:
    q = ReassemblyQueue(max_message_size=100)
    # Deliver 0..65533 in order, then 65535, 0 (wrapped), then 65534.
    for ssn in range(SSN_MASK - 1):
        q.add(ssn + 1, 0, ssn, 0, b".", unordered=False, beginning=True, end=True)
    drain(q)
    q.add(70000, 0, SSN_MASK, 0, b"last", unordered=False, beginning=True, end=True)
    q.add(70001, 0, 0, 0, b"wrapped", unordered=False, beginning=True, end=True)
    assert drain(q) == []
    q.add(69999, 0, SSN_MASK - 1, 0, b"before", unordered=False, beginning=True, end=True)
    assert [m[2] for m in drain(q)] == [b"before", b"last", b"wrapped"]


def test_inconsistent_fragments_do_not_raise() -> None:
    q = ReassemblyQueue(max_message_size=10_000)
    # Two B fragments for the same (stream, ssn), an E before the B, a stale SSN.
    q.add(5, 1, 0, 0, b"a", unordered=False, beginning=True, end=False)
    q.add(6, 1, 0, 0, b"b", unordered=False, beginning=True, end=False)
    q.add(3, 1, 0, 0, b"c", unordered=False, beginning=False, end=True)
    assert q.protocol_errors == 2
    q.add(7, 1, 0, 0, b"d", unordered=False, beginning=False, end=True)
    assert drain(q) == []  # TSN 6 is still missing
    q.add(6, 1, 0, 0, b"-", unordered=False, beginning=False, end=False)
    assert drain(q) == [(1, 0, b"a-d", False)]
    q.add(8, 1, 0, 0, b"stale", unordered=False, beginning=True, end=True)
    assert q.protocol_errors == 3
    # Unordered run whose fragments name different streams is dropped.
    q.add(20, 1, 0, 0, b"x", unordered=True, beginning=True, end=False)
    q.add(21, 2, 0, 0, b"y", unordered=True, beginning=False, end=True)
    assert drain(q) == []
    assert q.protocol_errors == 4
    assert q.held_bytes == 0


def test_reset() -> None:
    q = ReassemblyQueue(max_message_size=100)
    q.add(2, 1, 1, 0, b"x", unordered=False, beginning=True, end=True)
    q.reset()
    assert q.held_bytes == 0
    q.add(3, 1, 0, 0, b"y", unordered=False, beginning=True, end=True)
    assert drain(q) == [(1, 0, b"y", False)]


def test_random_mix_exactly_once_in_order() -> None:
    rng = random.Random(99)
    q = ReassemblyQueue(max_message_size=1 << 20)
    frags: list[Frag] = []
    expected: dict[int, list[bytes]] = {s: [] for s in range(4)}
    unordered_expected: list[bytes] = []
    next_ssn = dict.fromkeys(range(4), 0)
    tsn = 1000
    for n in range(300):
        s = rng.randrange(4)
        data = (b"%d:" % n) + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 900)))
        unordered = rng.random() < 0.2
        ssn = 0 if unordered else next_ssn[s]
        if not unordered:
            next_ssn[s] = (next_ssn[s] + 1) & SSN_MASK
            expected[s].append(data)
        else:
            unordered_expected.append(data)
        fs = fragment(tsn, s, ssn, data, 128, unordered=unordered)
        tsn += len(fs)
        frags.extend(fs)
    # Reorder within a sliding window, as a lossy network with retransmissions would.
    window = 50
    arrival: list[Frag] = []
    pending = frags[:]
    while pending:
        k = rng.randrange(min(window, len(pending)))
        arrival.append(pending.pop(k))
    for f in arrival:
        assert add(q, f)
    out = drain(q)
    got: dict[int, list[bytes]] = {s: [] for s in range(4)}
    got_unordered: list[bytes] = []
    for stream, _ppid, data, unordered in out:
        (got_unordered if unordered else got[stream]).append(data)
    assert got == expected
    assert sorted(got_unordered) == sorted(unordered_expected)
    assert q.held_bytes == 0
    assert q.protocol_errors == 0


def test_bad_argument() -> None:
    with pytest.raises(ValueError):
        ReassemblyQueue(max_message_size=0)


def test_unordered_worst_case_arrival_order_is_linear() -> None:
    # Every other fragment first, then the rest: each late fragment joins two runs. A naive
    # backward search would make this quadratic (~10**8 steps here); it stays linear.
    q = ReassemblyQueue(max_message_size=1 << 20)
    n = 20_001
    base = 1_000
    order = list(range(1, n - 1, 2)) + list(range(2, n - 1, 2)) + [0, n - 1]
    for k in order:
        q.add(
            base + k, 3, 0, 5, bytes([k & 0xFF]),
            unordered=True, beginning=k == 0, end=k == n - 1,
        )  # fmt: skip
    out = drain(q)
    assert out == [(3, 5, bytes(k & 0xFF for k in range(n)), True)]
    assert q.held_bytes == 0


# -- I-DATA (RFC 8260): fragments grouped by MID and ordered by FSN, TSNs irrelevant ------


def idata(
    q: ReassemblyQueue,
    stream: int,
    mid: int,
    fsn: int,
    data: bytes,
    *,
    b: bool,
    e: bool,
    unordered: bool = False,
    ppid: int = 0,
    tsn: int = 0,
) -> bool:
    return q.add(tsn, stream, mid, ppid, data, unordered=unordered, beginning=b, end=e, fsn=fsn)


def test_idata_interleaved_fragments_of_two_streams() -> None:
    q = ReassemblyQueue(max_message_size=10_000, interleaved=True)
    # Stream 1 message MID 0 in 3 fragments, stream 2 message MID 0 in 2 fragments,
    # interleaved on the wire (TSNs alternate between them).
    idata(q, 1, 0, 0, b"a1", b=True, e=False, ppid=11, tsn=1)
    idata(q, 2, 0, 0, b"b1", b=True, e=False, ppid=22, tsn=2)
    idata(q, 1, 0, 1, b"a2", b=False, e=False, tsn=3)
    idata(q, 2, 0, 1, b"b2", b=False, e=True, tsn=4)
    assert drain(q) == [(2, 22, b"b1b2", False)]
    idata(q, 1, 0, 2, b"a3", b=False, e=True, tsn=5)
    assert drain(q) == [(1, 11, b"a1a2a3", False)]
    assert q.held_bytes == 0


def test_idata_ordered_by_mid_and_fsn_any_arrival() -> None:
    q = ReassemblyQueue(max_message_size=10_000, interleaved=True)
    idata(q, 0, 1, 0, b"second", b=True, e=True)
    idata(q, 0, 0, 2, b"-c", b=False, e=True)
    idata(q, 0, 0, 1, b"-b", b=False, e=False)
    assert drain(q) == []
    idata(q, 0, 0, 99, b"a", b=True, e=False)  # a B fragment's FSN field is its PPID
    assert [m[2] for m in drain(q)] == [b"a-b-c", b"second"]


def test_idata_unordered_grouped_by_stream_and_mid() -> None:
    q = ReassemblyQueue(max_message_size=10_000, interleaved=True)
    idata(q, 3, 7, 1, b"y", b=False, e=True, unordered=True)
    idata(q, 4, 7, 0, b"other", b=True, e=False, unordered=True)
    idata(q, 3, 7, 0, b"x", b=True, e=False, unordered=True, ppid=5)
    assert drain(q) == [(3, 5, b"xy", True)]
    assert q.held_bytes == len(b"other")


def test_idata_mid_wraps_at_32_bits() -> None:
    q = ReassemblyQueue(max_message_size=100, interleaved=True)
    st = _InStream()
    st.next_ssn = 0xFFFF_FFFE  # white box: a stream that delivered 2**32 - 2 messages
    q._streams[0] = st
    idata(q, 0, 0, 0, b"c", b=True, e=True)  # MID 0 comes after the wrap: waits
    idata(q, 0, 0xFFFF_FFFF, 0, b"b", b=True, e=True)
    assert drain(q) == []
    idata(q, 0, 0xFFFF_FFFE, 0, b"a", b=True, e=True)
    assert [m[2] for m in drain(q)] == [b"a", b"b", b"c"]
    idata(q, 0, 0xFFFF_FFFF, 0, b"old", b=True, e=True)  # already delivered
    assert q.protocol_errors == 1
    # MIDs are 32-bit: 65536 is a future message, not 0 again as a 16-bit SSN would be.
    idata(q, 0, 65_536, 0, b"far", b=True, e=True)
    assert q.protocol_errors == 1 and drain(q) == []


def test_idata_oversize() -> None:
    q = ReassemblyQueue(max_message_size=100, interleaved=True)
    assert idata(q, 0, 0, 0, b"x" * 60, b=True, e=False)
    assert not idata(q, 0, 0, 1, b"x" * 60, b=False, e=False)
    assert q.held_bytes == 0 and q.oversize_messages == 1
    assert idata(q, 0, 5, 0, b"u" * 60, b=True, e=False, unordered=True)
    assert not idata(q, 0, 5, 1, b"u" * 60, b=False, e=True, unordered=True)
    assert q.held_bytes == 0


def test_flags_may_be_passed_by_position() -> None:
    q = ReassemblyQueue(max_message_size=1000)
    assert q.add(1, 2, 0, 9, b"ab", False, True, False)
    assert q.add(2, 2, 0, 9, b"cd", False, False, True)
    assert list(q.delivered) == [(2, 9, b"abcd", False)]


# --- keep_fragments (Options.deliver_fragments) ----------------------------------------------


@pytest.mark.parametrize("unordered", [False, True])
def test_kept_fragments_are_the_chunks_payloads_in_order(unordered: bool) -> None:
    """With ``keep_fragments`` a message of several chunks is the list of their payloads (the
    same objects, not copies), in order whatever the arrival order; the window accounting
    counts its bytes as for a joined message."""
    q = ReassemblyQueue(max_message_size=10_000, keep_fragments=True)
    message = bytes(range(256)) * 9
    frags = fragment(50, 4, 0, message, 700, unordered=unordered)
    rng = random.Random(7)
    order = frags[:]
    rng.shuffle(order)
    for f in order[:-1]:
        add(q, f)
    assert q.held_bytes == sum(len(f.data) for f in order[:-1])
    add(q, order[-1])
    [(stream, ppid, data, got_unordered)] = drain(q)
    assert (stream, ppid, got_unordered) == (4, 7, unordered)
    assert isinstance(data, list)
    assert all(d is f.data for d, f in zip(data, frags, strict=True))
    assert b"".join(data) == message
    assert q.held_bytes == 0


def test_kept_fragments_of_interleaved_messages_and_waiting_for_order() -> None:
    """I-DATA (grouped by MID, ordered by FSN): a complete message waiting for an earlier
    MID is held as its fragments, counted in ``held_bytes`` by their size, and delivered in
    order; a single-chunk message stays ``bytes``."""
    q = ReassemblyQueue(max_message_size=10_000, interleaved=True, keep_fragments=True)
    # MID 1 in three fragments (FSN 0, 1, 2) arrives before MID 0 (one chunk).
    parts = [b"a" * 100, b"b" * 100, b"c" * 50]
    for fsn, data in enumerate(parts):
        q.add(0, 2, 1, 9, data, False, fsn == 0, fsn == 2, fsn)
    assert drain(q) == []
    assert q.held_bytes == 250
    q.add(0, 2, 0, 9, b"first", False, True, True)
    delivered = drain(q)
    assert [d[2] for d in delivered] == [b"first", parts]
    assert q.held_bytes == 0


def test_without_keep_fragments_a_message_is_joined() -> None:
    q = ReassemblyQueue(max_message_size=10_000)
    message = b"0123456789" * 50
    for f in fragment(1, 1, 0, message, 128):
        add(q, f)
    assert drain(q) == [(1, 7, message, False)]
