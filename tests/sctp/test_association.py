"""Association data path glue: T3-rtx, delayed SACK, bundling, unknown chunks (§3.2),
invalid streams (§6.5), oversize messages, flow control (§6.2), send buffer."""

from __future__ import annotations

import random

import pytest

from netchan.transport.errors import MessageTooLargeError
from netchan.transport.sctp import events as ev
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import (
    Chunk,
    DataChunk,
    ErrorChunk,
    IDataChunk,
    InvalidStreamIdentifierCause,
    SackChunk,
    UnknownChunk,
    UnrecognizedChunkTypeCause,
    parse_packet,
    serialize_packet,
)
from netchan.transport.sctp.state import State
from tests.sctp.conftest import A_ADDR, B_ADDR, Pair, chunk_types, make_pair, sent_chunks
from tests.sctp.netsim import Link

DATA, SACK, ERROR, ABORT, IDATA = 0, 3, 9, 6, 64
# DATA chunks (interleaving off) or I-DATA chunks (RFC 8260, negotiated by default).
KINDS = [pytest.param(False, id="DATA"), pytest.param(True, id="I-DATA")]


def _user_chunk(interleaving: bool, tsn: int, stream: int, data: bytes) -> Chunk:
    """A single-fragment message as DATA or I-DATA."""
    if interleaving:
        return IDataChunk(tsn=tsn, stream_id=stream, mid=0, fsn=0, ppid=0, user_data=data)
    return DataChunk(tsn=tsn, stream_id=stream, ssn=0, ppid=0, user_data=data)


@pytest.mark.parametrize("interleaving", KINDS)
def test_t3_rtx_retransmits_after_rto_with_backoff(interleaving: bool) -> None:
    user = IDATA if interleaving else DATA
    options = Options(
        rto_initial=0.5, rto_min=0.5, rto_max=4.0, heartbeat_interval=0, interleaving=interleaving
    )
    p = make_pair(seed=51, options=options)
    assoc, _ = p.connect()
    dropped: list[bytes] = []

    def drop_data_twice(src: object, dst: object, data: bytes) -> bool:
        if src == A_ADDR and user in chunk_types(data) and len(dropped) < 2:
            dropped.append(data)
            return True
        return False

    p.net.drop_filter = drop_data_twice
    start = p.net.now
    assoc.send(b"hello", stream=0, ppid=0, unordered=False, now=start)
    p.net.run_until(lambda: bool(p.received()), 10.0)
    times = [t - start for t in sent_chunks(p, A_ADDR, user)]
    assert times == [pytest.approx(0.0), pytest.approx(0.5), pytest.approx(1.5)]
    stats = assoc.statistics()
    assert stats.t3_expiries == 2 and stats.retransmissions == 2
    assert [m.data for m in p.received()] == [b"hello"]


def test_delayed_sack_timer_and_every_second_packet() -> None:
    # nodelay: the second packet must leave at once (Nagle's rule would hold it briefly).
    options = Options(delayed_ack_timeout=0.05, heartbeat_interval=0, nodelay=True)
    p = make_pair(seed=52, options=options, link=Link(delay=0.01))
    assoc, _ = p.connect()
    start = p.net.now
    assoc.send(b"one", stream=0, ppid=0, unordered=False, now=start)
    p.net.run(1.0)
    (sack_time,) = sent_chunks(p, B_ADDR, SACK)
    # Arrives after 10 ms, SACK delayed by 50 ms (§6.2).
    assert sack_time - start == pytest.approx(0.06)
    # Two packets of DATA: the second is acknowledged at once.
    big = b"x" * 1100
    t = p.net.now
    assoc.send(big, stream=0, ppid=0, unordered=False, now=t)
    assoc.send(big, stream=0, ppid=0, unordered=False, now=t)
    p.net.run(1.0)
    sacks = [s - t for s in sent_chunks(p, B_ADDR, SACK) if s > t]
    assert sacks[0] == pytest.approx(0.01)


def test_small_messages_are_bundled() -> None:
    p = make_pair(seed=53, options=Options(heartbeat_interval=0))
    assoc, _ = p.connect()
    before = len(sent_chunks(p, A_ADDR, DATA))
    for i in range(100):
        assoc.send(b"m%03d" % i, stream=i % 7, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: len(p.received()) == 100, 5.0)
    packets = len(sent_chunks(p, A_ADDR, DATA)) - before
    # 100 chunks of 20 bytes: about 58 per 1200-byte packet.
    assert packets <= 3
    for _, _src, _, data in p.net.sent:
        assert len(data) <= p.options.pmtu


@pytest.mark.parametrize("interleaving", KINDS)
def test_sack_is_bundled_with_reverse_data(interleaving: bool) -> None:
    options = Options(heartbeat_interval=0, delayed_ack_timeout=0.2, interleaving=interleaving)
    p = make_pair(seed=54, options=options)
    assoc, peer = p.connect()
    assoc.send(b"ping", stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: bool(p.received()), 1.0)
    peer.send(b"pong", stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.flush()
    (_, _, _, reply) = p.net.sent[-1]
    assert chunk_types(reply) == [SACK, IDATA if interleaving else DATA]


def _inject(p: Pair, chunks: list[object]) -> None:
    (peer,) = p.b.associations.values()
    p.b.receive_datagram(
        serialize_packet(5000, 6000, peer.local_tag, chunks),  # type: ignore[arg-type]
        A_ADDR,
        p.net.now,
    )


def _errors_from_b(p: Pair) -> list[ErrorChunk]:
    out: list[ErrorChunk] = []
    for data, _ in p.b.datagrams_to_send(p.net.now):
        out.extend(c for c in parse_packet(data).chunks if isinstance(c, ErrorChunk))
    return out


@pytest.mark.parametrize(
    ("chunk_type", "processed", "reported"),
    [(0x3F, False, False), (0x7F, False, True), (0xBF, True, False), (0xFF, True, True)],
)
def test_unknown_chunk_upper_two_bits(chunk_type: int, processed: bool, reported: bool) -> None:
    p = make_pair(seed=55, options=Options(heartbeat_interval=0))
    _assoc, peer = p.connect()
    unknown = UnknownChunk(chunk_type, 0, b"abc")
    data = _user_chunk(True, peer.peer_initial_tsn, 0, b"after")
    _inject(p, [unknown, data])
    errors = _errors_from_b(p)
    p.net.flush()
    assert bool(p.received()) is processed
    if reported:
        (error,) = errors
        (cause,) = error.causes
        assert isinstance(cause, UnrecognizedChunkTypeCause)
        assert cause.chunk == unknown.serialize()[: len(cause.chunk)]
    else:
        assert errors == []


@pytest.mark.parametrize("interleaving", KINDS)
def test_data_on_invalid_stream_reports_and_acknowledges(interleaving: bool) -> None:
    options = Options(
        inbound_streams=4, outbound_streams=4, heartbeat_interval=0, interleaving=interleaving
    )
    p = make_pair(seed=56, options=options)
    _assoc, peer = p.connect()
    tsn = peer.peer_initial_tsn
    _inject(p, [_user_chunk(interleaving, tsn, 9, b"x")])
    out = [parse_packet(d) for d, _ in p.b.datagrams_to_send(p.net.now)]
    later = p.net.now + options.delayed_ack_timeout
    p.b.handle_timeout(later)  # the delayed SACK
    out += [parse_packet(d) for d, _ in p.b.datagrams_to_send(later)]
    chunks = [c for packet in out for c in packet.chunks]
    errors = [c for c in chunks if isinstance(c, ErrorChunk)]
    assert isinstance(errors[0].causes[0], InvalidStreamIdentifierCause)
    assert errors[0].causes[0].stream_id == 9
    sacks = [c for c in chunks if isinstance(c, SackChunk)]
    assert sacks and sacks[0].cumulative_tsn_ack == tsn  # §6.5: the TSN is acknowledged
    assert p.received() == []


def test_oversize_message_aborts_with_a_cause() -> None:
    p = make_pair(seed=57, options=Options(heartbeat_interval=0))
    # b accepts smaller messages than a sends.
    small = Options(heartbeat_interval=0, max_message_size=3000)
    p.net.add(B_ADDR, SctpEndpoint(small, local_port=6000, rng=random.Random(5), now=0.0))
    p.b = p.net.endpoints[B_ADDR]  # type: ignore[assignment]
    assoc, _ = p.connect()
    assoc.send(b"z" * 5000, stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run(2.0)
    (mine,) = p.net.events_of(B_ADDR, ev.AssociationAborted)
    assert "larger than 3000" in mine.reason and not mine.by_peer
    (theirs,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert theirs.by_peer and "3000" in theirs.reason


@pytest.mark.parametrize("interleaving", KINDS)
def test_empty_data_chunk_aborts_with_no_user_data(interleaving: bool) -> None:
    p = make_pair(seed=58, options=Options(heartbeat_interval=0, interleaving=interleaving))
    _assoc, peer = p.connect()
    _inject(p, [_user_chunk(interleaving, peer.peer_initial_tsn, 0, b"")])
    p.net.run(1.0)
    (aborted,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert aborted.by_peer and "user data" in aborted.reason.lower()


def test_receive_window_bounds_memory_and_reopens_on_consumption() -> None:
    options = Options(receive_window=20_000, heartbeat_interval=0)
    p = make_pair(seed=59, options=options)
    assoc, peer = p.connect()
    for i in range(60):
        assoc.send(bytes([i]) * 1000, stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run(5.0)
    got = p.received()
    assert 15 <= len(got) <= 21
    stats = peer.statistics()
    assert stats.receive_buffered <= 20_000 + 1000 and stats.local_rwnd <= 1000
    # The application reads: window updates let the rest through.
    consumed = 0
    for _ in range(100):
        got = p.received()
        for message in got[consumed:]:
            peer.message_consumed(len(message.data), p.net.now)
        consumed = len(got)
        if consumed == 60:
            break
        p.net.run(0.5)
    assert [m.data[0] for m in p.received()] == list(range(60))


def test_message_consumed_says_when_a_window_update_is_due() -> None:
    # §6.2 (silly window syndrome avoidance): reading one small message from a full
    # receive buffer does not make a SACK due; a driver woke its sender for every read
    # message when it decided by the unread backlog itself (a flush per 1 KiB message).
    options = Options(receive_window=64_000, pmtu=9000, plpmtud=False, heartbeat_interval=0)
    p = make_pair(seed=63, options=options)
    assoc, peer = p.connect()
    for i in range(64):
        assoc.send(bytes([i]) * 1000, stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run(1.0)
    got = p.received()
    assert len(got) >= 60
    due = []
    for message in got:
        due.append(peer.message_consumed(len(message.data), p.net.now))
        if due[-1]:
            p.net.run(0.001)  # what a driver does when told: flush (the SACK goes out)
    # One update per good fraction of the window, never one per message.
    assert 1 <= sum(due) <= 8, due
    assert not due[0]


def test_one_chunk_over_a_small_window_is_taken_not_left_to_a_timeout() -> None:
    # A sender with nothing in flight may send one chunk whatever is left of the peer's
    # window (§6.1 A). The receiver took it only when the application had read everything,
    # so with an unread message the chunk was dropped and waited for a T3-rtx timeout
    # (found at 64 KiB packets: a 1 MiB receive window cut channel throughput by 6x).
    options = Options(
        receive_window=10_000,
        pmtu=9000,
        plpmtud=False,
        heartbeat_interval=0,
        rto_min=0.5,
        rto_initial=0.5,
    )
    p = make_pair(seed=62, options=options)
    assoc, peer = p.connect()
    for i in range(3):
        assoc.send(bytes([i]) * 8000, stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run(0.1)  # the first message is delivered and unread; the second fits no window
    assert len(p.received()) == 2
    stats = peer.statistics()
    assert stats.receive_buffered <= 10_000 + 8000  # the window plus one chunk
    for message in p.received():
        peer.message_consumed(len(message.data), p.net.now)
    # The window reopens: the third goes (the zero window probe that carried it, dropped
    # while the window was closed, is sent again at once), well before the 0.5 s RTO.
    p.net.run(0.1)
    assert [m.data[0] for m in p.received()] == [0, 1, 2]
    stats = assoc.statistics()
    assert stats.retransmissions == 1  # that probe, nothing else
    # The probe was dropped for want of room, not lost: no timeout, no congestion response.
    assert stats.t3_expiries == 0


def test_send_buffer_full_then_available() -> None:
    options = Options(send_buffer=10_000, heartbeat_interval=0)
    p = make_pair(seed=60, options=options)
    assoc, _ = p.connect()
    sent = 0
    with pytest.raises(BufferError):
        for _ in range(100):
            assoc.send(b"q" * 1000, stream=0, ppid=0, unordered=False, now=p.net.now)
            sent += 1
    assert sent == 10 and assoc.send_buffer_free == 0
    p.net.run_until(lambda: bool(p.net.events_of(A_ADDR, ev.SendBufferAvailable)), 5.0)
    assoc.send(b"q" * 1000, stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: len(p.received()) == 11 and assoc.buffered_amount == 0, 5.0)


def test_send_argument_checks() -> None:
    p = make_pair(seed=61, options=Options(max_message_size=100, heartbeat_interval=0))
    assoc, _ = p.connect()
    with pytest.raises(MessageTooLargeError):
        assoc.send(b"x" * 101, stream=0, ppid=0, unordered=False, now=p.net.now)
    with pytest.raises(ValueError):
        assoc.send(b"", stream=0, ppid=0, unordered=False, now=p.net.now)
    with pytest.raises(ValueError):
        assoc.send(b"x", stream=-1, ppid=0, unordered=False, now=p.net.now)
    with pytest.raises(ValueError):
        assoc.send(b"x", stream=0, ppid=1 << 32, unordered=False, now=p.net.now)
    with pytest.raises(ValueError):
        assoc.message_consumed(-1, p.net.now)


def test_statistics_snapshot() -> None:
    p = make_pair(seed=62, options=Options(heartbeat_interval=0))
    assoc, peer = p.connect()
    assoc.send(b"abc", stream=3, ppid=7, unordered=True, now=p.net.now)
    p.net.run(1.0)
    stats = assoc.statistics()
    assert stats.state == "ESTABLISHED"
    assert stats.messages_sent == 1 and stats.packets_sent >= 2 and stats.bytes_sent > 0
    assert stats.bytes_in_flight == 0 and stats.send_buffered == 0
    assert stats.cwnd and stats.cwnd >= 1200 and stats.rto is not None
    assert stats.srtt is not None
    peer_stats = peer.statistics()
    assert peer_stats.messages_received == 1
    assert peer_stats.receive_buffered == 3  # delivered, not yet consumed
    peer.message_consumed(3, p.net.now)
    assert peer.statistics().receive_buffered == 0
    (message,) = p.received()
    assert (message.stream, message.ppid, message.unordered) == (3, 7, True)
    assert assoc.state is State.ESTABLISHED


def test_closed_window_for_long_does_not_kill_the_association() -> None:
    # §6.1 A: while the peer keeps answering zero window probes with SACKs, the probes
    # do not count as errors, however long the receiver keeps its window closed.
    options = Options(receive_window=8_000, heartbeat_interval=1.0)
    p = make_pair(seed=63, options=options)
    assoc, peer = p.connect()
    for i in range(30):
        assoc.send(bytes([i]) * 1000, stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run(120.0)
    assert assoc.state is State.ESTABLISHED and peer.state is State.ESTABLISHED
    assert p.net.events_of(A_ADDR, ev.AssociationAborted) == []
    received = len(p.received())
    assert received <= 9
    for message in p.received():
        peer.message_consumed(len(message.data), p.net.now)
    p.net.run_until(lambda: len(p.received()) > received, 30.0)


def test_message_larger_than_the_receive_window_completes() -> None:
    # In-order chunks are taken beyond the window once everything delivered was read, and
    # each is acknowledged at once, so the sender's one-chunk probes move every RTT.
    options = Options(receive_window=20_000, heartbeat_interval=0)
    p = make_pair(seed=64, options=options)
    assoc, _ = p.connect()
    start = p.net.now
    assoc.send(b"L" * 100_000, stream=0, ppid=0, unordered=False, now=start)
    p.net.run_until(lambda: bool(p.received()), 10.0)
    (message,) = p.received()
    assert message.data == b"L" * 100_000
    chunks = 100_000 // 1100
    rtt = 2 * p.net.link.delay
    assert p.net.now - start <= chunks * rtt * 1.2


def test_i_data_without_negotiation_aborts() -> None:
    # RFC 8260 §2.2.3: I-DATA on an association that did not negotiate it is a protocol
    # violation (the reverse case is in test_idata.py).
    p = make_pair(seed=65, options=Options(heartbeat_interval=0, interleaving=False))
    _assoc, peer = p.connect()
    _inject(
        p,
        [IDataChunk(tsn=peer.peer_initial_tsn, stream_id=0, mid=0, fsn=0, ppid=0, user_data=b"x")],
    )
    p.net.run(1.0)
    (mine,) = p.net.events_of(B_ADDR, ev.AssociationAborted)
    assert "64" in mine.reason
    (theirs,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert theirs.by_peer and "protocol violation" in theirs.reason.lower()


def test_window_update_as_soon_as_a_stopped_sender_can_send_again() -> None:
    options = Options(receive_window=10_000, heartbeat_interval=0, rto_max=2.0)
    p = make_pair(seed=66, options=options)
    assoc, peer = p.connect()
    for i in range(40):
        assoc.send(bytes([i]) * 1000, stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run(10.0)  # window closed, the sender probes with growing intervals
    stuck = len(p.received())
    assert stuck < 40
    sacks_before = len(sent_chunks(p, B_ADDR, SACK))
    for message in p.received()[:2]:  # two packets' worth of window
        peer.message_consumed(len(message.data), p.net.now)
    t = p.net.now
    p.net.run_until(lambda: len(p.received()) > stuck, 1.0)
    # The update went out at once and the sender resumed within one round trip.
    assert len(sent_chunks(p, B_ADDR, SACK)) > sacks_before
    assert p.net.now - t <= 2 * p.net.link.delay + 0.001


def test_sack_for_a_tsn_never_sent_aborts() -> None:
    p = make_pair(seed=67, options=Options(heartbeat_interval=0))
    assoc, _peer = p.connect()
    # b acknowledges far beyond anything a sent.
    sack = SackChunk(cumulative_tsn_ack=(assoc.local_initial_tsn + 1000) & 0xFFFFFFFF, a_rwnd=65536)
    p.a.receive_datagram(serialize_packet(6000, 5000, assoc.local_tag, [sack]), B_ADDR, p.net.now)
    p.net.run(1.0)
    (mine,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert "never sent" in mine.reason
    (theirs,) = p.net.events_of(B_ADDR, ev.AssociationAborted)
    assert theirs.by_peer


@pytest.mark.parametrize("interleaving", [False, True])
def test_delivered_fragments_count_against_the_window_until_consumed(interleaving: bool) -> None:
    """``Options.deliver_fragments``: a message of several packets arrives as its chunks'
    payloads (the join is the message), one of one chunk as bytes; the receive window counts
    the fragments' bytes until ``message_consumed`` with their size, as for a joined one."""
    options = Options(
        receive_window=64_000,
        heartbeat_interval=0,
        interleaving=interleaving,
        deliver_fragments=True,
    )
    p = make_pair(seed=61, options=options, link=Link(loss=0.1, reorder=0.2))
    assoc, peer = p.connect()
    big = bytes(range(256)) * 100  # 25.6 kB: about 22 packets of the 1200-byte PMTU
    assoc.send(big, stream=1, ppid=5, unordered=False, now=p.net.now)
    assoc.send(b"small", stream=1, ppid=5, unordered=False, now=p.net.now)
    p.net.run(10.0)
    first, second = p.received()
    assert isinstance(first.data, list) and len(first.data) > 1
    assert b"".join(first.data) == big
    assert second.data == b"small"
    size = sum(len(f) for f in first.data)
    assert peer.statistics().receive_buffered == size + len(b"small")
    peer.message_consumed(size, p.net.now)
    peer.message_consumed(len(b"small"), p.net.now)
    assert peer.statistics().receive_buffered == 0
