"""SendQueue: fragmentation, SSNs, round robin, send-buffer accounting (§6.1, §6.6, §6.9)."""

from __future__ import annotations

import pytest

from netchan.transport.sctp.tsn import SSN_MASK
from netchan.transport.sctp.tx.send_queue import OutgoingChunk, SendQueue

PMTU = 1200
FULL = PMTU - 12 - 16  # user bytes of a full DATA chunk in an otherwise empty packet


def pull_all(q: SendQueue, room: int = FULL) -> list[OutgoingChunk]:
    out = []
    for _ in range(100_000):
        c = q.produce(room)
        if c is None:
            break
        out.append(c)
    return out


def test_small_message_single_chunk_no_copy() -> None:
    q = SendQueue(send_buffer=10_000)
    data = b"hello"
    q.add(3, 42, data)
    assert q.queued_bytes == 5
    c = q.produce(FULL)
    assert c is not None
    assert c.data is data  # no copy for single-chunk messages
    assert (c.stream, c.ssn, c.ppid) == (3, 0, 42)
    assert (c.beginning, c.end, c.unordered) == (True, True, False)
    assert c.size == 16 + 8  # header + data + padding
    assert q.queued_bytes == 0
    assert q.produce(FULL) is None
    assert not q


def test_fragments_are_views_of_the_message_and_serialize_exactly() -> None:
    """A fragment's data is a view of the message, not a copy: the message's bytes are
    copied once, into the packet (issue 9: 64 KiB packets of a big message, 22 -> 14 us of
    the sans-io sender per packet). The packets carry exactly the message's bytes, with a
    valid checksum."""
    from netchan.transport.sctp.packet import parse_packet, serialize_packet

    q = SendQueue(send_buffer=100_000)
    data = bytes(range(256)) * 20  # 5120 bytes: five fragments
    q.add(1, 7, data)
    chunks = pull_all(q)
    assert len(chunks) == 5
    for c in chunks:
        assert isinstance(c.data, memoryview) and c.data.obj is data
    received = b""
    for tsn, c in enumerate(chunks):
        c.tsn = tsn
        packet = parse_packet(serialize_packet(5000, 5001, 99, [c]))  # checks the CRC
        received += packet.chunks[0].user_data  # type: ignore[attr-defined]
    assert received == data


def test_fragmentation_fills_pmtu() -> None:
    q = SendQueue(send_buffer=100_000, pmtu=PMTU)
    data = bytes(range(256)) * 20  # 5120 bytes
    q.add(1, 0, data)
    chunks = pull_all(q, 10_000)
    assert b"".join(c.data for c in chunks) == data
    assert [c.beginning for c in chunks] == [True] + [False] * (len(chunks) - 1)
    assert [c.end for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert all(len(c.data) <= q.max_fragment for c in chunks)
    assert all(12 + c.size <= PMTU for c in chunks)
    assert {c.ssn for c in chunks} == {0}
    assert [c.fsn for c in chunks] == list(range(len(chunks)))


def test_fragment_to_room_but_not_tiny() -> None:
    q = SendQueue(send_buffer=100_000)
    q.add(1, 0, b"x" * 3000)
    assert q.produce(100) is None  # would be a uselessly small fragment
    c = q.produce(500)
    assert c is not None and len(c.data) == 500 and not c.end
    q2 = SendQueue(send_buffer=100)
    q2.add(1, 0, b"y" * 50)
    c2 = q2.produce(60)  # whole message fits: not a fragment
    assert c2 is not None and c2.end and c2.beginning


def test_ssn_per_stream_and_unordered() -> None:
    q = SendQueue(send_buffer=100_000)
    q.add(1, 0, b"a")
    q.add(1, 0, b"u", unordered=True)
    q.add(2, 0, b"b")
    q.add(1, 0, b"c")
    got = [(c.stream, c.ssn, c.unordered, c.data) for c in pull_all(q)]
    assert sorted(got) == sorted(
        [(1, 0, False, b"a"), (1, 0, True, b"u"), (2, 0, False, b"b"), (1, 1, False, b"c")]
    )
    assert q.next_ssn(1) == 2
    assert q.next_ssn(2) == 1
    assert q.next_ssn(9) == 0


def test_ssn_wraps() -> None:
    q = SendQueue(send_buffer=1 << 20)
    ssns = []
    for _ in range(SSN_MASK + 3):
        q.add(0, 0, b".")
        c = q.produce(FULL)
        assert c is not None
        ssns.append(c.ssn)
    assert ssns[-3:] == [SSN_MASK, 0, 1]


def test_round_robin_between_streams_per_message() -> None:
    q = SendQueue(send_buffer=1 << 20)
    for i in range(3):
        q.add(1, 0, b"one-%d" % i)
        q.add(2, 0, b"two-%d" % i)
        q.add(3, 0, b"three-%d" % i)
    order = [c.stream for c in pull_all(q)]
    assert order == [1, 2, 3] * 3


def test_big_message_does_not_hold_back_other_streams_interleaved() -> None:
    # With interleaving (I-DATA), fragments of a 1 MB message alternate with other streams.
    q = SendQueue(send_buffer=4 << 20, interleaving=True)
    q.add(1, 0, b"B" * (1 << 20))
    for i in range(10):
        q.add(2, 0, b"small-%d" % i)
    chunks = pull_all(q)
    small_positions = [k for k, c in enumerate(chunks) if c.stream == 2]
    assert len(small_positions) == 10
    # Every small message goes out within the first 20 chunks, not after ~900 fragments.
    assert small_positions[-1] < 20
    assert b"".join(c.data for c in chunks if c.stream == 1) == b"B" * (1 << 20)


def test_big_message_non_interleaved_delays_small_by_one_message_only() -> None:
    # DATA chunks need consecutive TSNs per message (§6.9): the scheduler finishes the
    # message in progress, then serves the other stream before the busy stream's backlog.
    q = SendQueue(send_buffer=8 << 20)
    q.add(1, 0, b"B" * (1 << 20))
    q.add(1, 0, b"C" * (1 << 20))
    q.add(2, 0, b"small-0")
    q.add(2, 0, b"small-1")
    chunks = pull_all(q)
    first_b = [k for k, c in enumerate(chunks) if c.data[:1] == b"B"]
    assert first_b == list(range(len(first_b)))  # consecutive: one TSN run
    n_b = len(first_b)
    assert chunks[n_b].stream == 2 and chunks[n_b].data == b"small-0"
    # Then stream 1's next message, then stream 2's next: round robin per message.
    assert chunks[n_b + 1].data[:1] == b"C"
    assert chunks[-1].data == b"small-1"


def test_small_message_on_other_stream_between_fragments_is_not_stuck_in_backlog() -> None:
    q = SendQueue(send_buffer=16 << 20)
    for _ in range(8):
        q.add(1, 0, b"B" * (1 << 20))  # 8 MB backlog on stream 1
    q.add(2, 0, b"small")
    chunks = pull_all(q)
    pos = next(k for k, c in enumerate(chunks) if c.stream == 2)
    per_message = -(-(1 << 20) // q.max_fragment)
    assert pos == per_message  # right after the one message in progress


def test_send_buffer_limit() -> None:
    q = SendQueue(send_buffer=1000)
    q.add(1, 0, b"x" * 600)
    with pytest.raises(BufferError):
        q.add(1, 0, b"y" * 500)
    assert q.free(0) == 400
    assert not q.buffer_available(outstanding_bytes=0)  # 600 used: 500 still does not fit
    q.produce(FULL)
    # Bytes moved to "outstanding" still count.
    assert not q.buffer_available(outstanding_bytes=600)
    assert q.buffer_available(outstanding_bytes=500)  # the refused 500 bytes fit now
    assert not q.buffer_available(outstanding_bytes=0)  # only once per refusal
    with pytest.raises(BufferError):
        q.add(1, 0, b"z" * 500, outstanding_bytes=600)


def test_oversize_message_accepted_when_buffer_empty() -> None:
    q = SendQueue(send_buffer=1000)
    q.add(1, 0, b"x" * 5000)
    assert q.queued_bytes == 5000
    with pytest.raises(BufferError):
        q.add(1, 0, b"y")


def test_empty_message_rejected() -> None:
    q = SendQueue(send_buffer=1000)
    with pytest.raises(ValueError):
        q.add(1, 0, b"")


def test_clear() -> None:
    q = SendQueue(send_buffer=10_000)
    q.add(1, 0, b"x" * 3000)
    q.produce(FULL)
    q.clear()
    assert q.queued_bytes == 0 and not q
    assert q.produce(FULL) is None
    q.add(1, 0, b"y")
    c = q.produce(FULL)
    assert c is not None and c.ssn == 0 and c.beginning


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SendQueue(send_buffer=0)
    with pytest.raises(ValueError):
        SendQueue(send_buffer=10, pmtu=100)


def test_interleaving_produces_idata_numbering() -> None:
    # RFC 8260 §2.1: 20-byte header, 32-bit MIDs counted separately for ordered and
    # unordered messages of each stream, FSN per fragment.
    q = SendQueue(send_buffer=1 << 20, pmtu=PMTU, interleaving=True)
    assert q.chunk_header == 20
    assert q.max_fragment == (PMTU - 12 - 20) & ~3
    q.add(1, 0, b"o" * 10)
    q.add(1, 0, b"u" * 10, unordered=True)
    q.add(1, 0, b"p" * 10)
    q.add(1, 0, b"v" * 3000, unordered=True)
    chunks = pull_all(q)
    assert [(c.ssn, c.unordered) for c in chunks[:3]] == [(0, False), (0, True), (1, False)]
    frags = chunks[3:]
    assert {c.ssn for c in frags} == {1} and all(c.unordered for c in frags)
    assert [c.fsn for c in frags] == list(range(len(frags)))
    assert chunks[0].size == 20 + 12  # 10 bytes padded to 12


def test_interleaving_mid_is_32_bit() -> None:
    q = SendQueue(send_buffer=1 << 30, interleaving=True)
    mids = []
    for _ in range(SSN_MASK + 3):
        q.add(0, 0, b".")
        c = q.produce(FULL)
        assert c is not None
        mids.append(c.ssn)
    assert mids[-3:] == [SSN_MASK, SSN_MASK + 1, SSN_MASK + 2]


def _fields(c: OutgoingChunk) -> tuple[object, ...]:
    return (c.stream, c.ssn, c.ppid, c.data, c.unordered, c.beginning, c.end, c.fsn, c.size)


@pytest.mark.parametrize("interleaving", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_produce_batch_equals_produce_one_by_one(seed: int, interleaving: bool) -> None:
    """A packet's chunks cut in one call are the chunks successive produce() calls cut."""
    import random

    rng = random.Random(seed)
    queues = [
        SendQueue(send_buffer=1 << 22, pmtu=PMTU, interleaving=interleaving) for _ in range(2)
    ]
    header = queues[0].chunk_header
    total = 0
    for rounds in range(200):
        for _ in range(rng.randrange(0, 6)):
            size = rng.choice([1, 3, 64, 200, 1000, 1171, 1172, 3000, 20000])
            stream = rng.randrange(4)
            unordered = rng.random() < 0.3
            data = rng.randbytes(size)
            for q in queues:
                q.add(stream, 7, data, unordered=unordered)
        room = rng.choice([PMTU - 12, PMTU - 12 - 28, 300, 100]) & ~3
        window = rng.choice([1 << 20, 5000, 600, 40, 0])
        unlimited = rng.random() < 0.3
        batch = queues[0].produce_batch(room, window, unlimited_first=unlimited)
        single: list[OutgoingChunk] = []
        limit: int | None = None if unlimited else window - header
        one = queues[1]
        while room > header:
            c = one.produce(room - header, limit)
            if c is None:
                break
            single.append(c)
            room -= c.size
            window -= c.size
            limit = window - header
        assert [_fields(c) for c in batch] == [_fields(c) for c in single]
        assert queues[0].queued_bytes == one.queued_bytes
        assert queues[0].queued_messages == one.queued_messages
        total += len(batch)
        if rounds > 150 and not one:
            break
    assert total > 100  # the random schedule really exercised the batch path


def test_produce_batch_respects_count_and_window() -> None:
    q = SendQueue(send_buffer=100_000)
    for _ in range(20):
        q.add(0, 0, b"x" * 64)
    assert len(q.produce_batch(PMTU - 12, 1 << 20, count=3)) == 3
    # 80 bytes per chunk: a window of 200 bytes takes two (the third's data exceeds 200-160-16).
    assert len(q.produce_batch(PMTU - 12, 200)) == 2
    # Zero window: nothing, unless the first chunk is allowed regardless (§6.1 A).
    assert q.produce_batch(PMTU - 12, 0) == []
    assert len(q.produce_batch(PMTU - 12, 0, unlimited_first=True)) == 1
    assert q.queued_messages == 20 - 3 - 2 - 1


@pytest.mark.parametrize("interleaving", [False, True])
def test_outgoing_chunk_writes_the_same_bytes_as_data_chunks(interleaving: bool) -> None:
    """OutgoingChunk goes into packets directly: its bytes are DataChunk's / IDataChunk's."""
    import random

    from netchan.transport.sctp.packet import DataChunk, IDataChunk, parse_chunk

    rng = random.Random(11 + interleaving)
    q = SendQueue(send_buffer=1 << 22, pmtu=PMTU, interleaving=interleaving)
    for _ in range(60):
        size = rng.choice([1, 2, 3, 4, 5, 64, 1000, 2500])
        q.add(
            rng.randrange(3), rng.getrandbits(32), rng.randbytes(size), unordered=rng.random() < 0.3
        )
    chunks = q.produce_batch(1 << 20, 1 << 30)
    assert len(chunks) > 60  # fragments included
    for c in chunks:
        c.tsn = rng.getrandbits(32)
        expected: DataChunk | IDataChunk
        if interleaving:
            expected = IDataChunk(
                c.tsn, c.stream, c.ssn, c.fsn, c.ppid, c.data, c.unordered, c.beginning, c.end
            )
        else:
            expected = DataChunk(
                c.tsn, c.stream, c.ssn, c.ppid, c.data, c.unordered, c.beginning, c.end
            )
        assert c.serialize() == expected.serialize()
        assert c.serialized_size() == expected.serialized_size() == len(c.serialize())
        assert c.chunk_type == expected.chunk_type
        parsed = parse_chunk(c.serialize())
        assert isinstance(parsed, IDataChunk if interleaving else DataChunk)
        assert parsed.user_data == c.data and parsed.tsn == c.tsn
