"""User message interleaving (I-DATA, RFC 8260) in the association.

Negotiation (§2.2.1: both sides list I-DATA in Supported Extensions, RFC 5061 §4.2.7), the
chunk kind used in each case, the protocol violations of §2.2.3, and what interleaving is
for: a multi-megabyte message on one stream does not hold up small messages on another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.association import Association
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.handshake import check_init
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import (
    AbortChunk,
    DataChunk,
    IDataChunk,
    InitAckChunk,
    InitChunk,
    Packet,
    ProtocolViolationCause,
    SupportedExtensionsParameter,
    parse_packet,
    serialize_packet,
)
from netchan.transport.sctp.state import State
from tests.sctp.conftest import A_ADDR, B_ADDR, Pair, chunk_types, make_pair
from tests.sctp.netsim import Link

DATA, IDATA = 0, 64


def _setup_chunk(p: Pair, kind: type[InitChunk] | type[InitAckChunk]) -> InitChunk | InitAckChunk:
    for _, _, _, data in p.net.sent:
        for chunk in parse_packet(data).chunks:
            if isinstance(chunk, kind):
                return chunk
    raise AssertionError(f"no {kind.__name__} was sent")


def _lists_idata(chunk: InitChunk | InitAckChunk) -> bool:
    return any(
        isinstance(param, SupportedExtensionsParameter) and IDATA in param.chunk_types
        for param in chunk.parameters
    )


def _user_chunk_types(p: Pair, src: tuple[str, int]) -> set[int]:
    return {
        t for _, s, _, data in p.net.sent if s == src for t in chunk_types(data) if t in (0, 64)
    }


@pytest.mark.parametrize(
    ("a_offers", "b_offers"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_negotiation_matrix(a_offers: bool, b_offers: bool) -> None:
    p = make_pair(seed=80, options=Options(heartbeat_interval=0, interleaving=a_offers))
    p.b.options = Options(heartbeat_interval=0, interleaving=b_offers)
    assoc, peer = p.connect()
    # §2.2.1: each side lists I-DATA in its INIT / INIT ACK when it offers it.
    assert _lists_idata(_setup_chunk(p, InitChunk)) is a_offers
    assert _lists_idata(_setup_chunk(p, InitAckChunk)) is b_offers
    # Negotiated only when both list it; both sides agree.
    both = a_offers and b_offers
    assert assoc.statistics().interleaving is both
    assert peer.statistics().interleaving is both
    # Messages in both directions, fragmented and not, use the negotiated chunk kind only.
    big = bytes(range(256)) * 20
    for i in range(3):
        assoc.send(b"a%d" % i, stream=1, ppid=7, unordered=False, now=p.net.now)
        peer.send(b"b%d" % i, stream=2, ppid=8, unordered=i == 1, now=p.net.now)
    assoc.send(big, stream=3, ppid=9, unordered=False, now=p.net.now)
    peer.send(big, stream=3, ppid=9, unordered=True, now=p.net.now)
    p.net.run_until(lambda: len(p.received(B_ADDR)) == 4 and len(p.received(A_ADDR)) == 4, 5.0)
    expected = {IDATA} if both else {DATA}
    assert _user_chunk_types(p, A_ADDR) == expected
    assert _user_chunk_types(p, B_ADDR) == expected
    # Per stream in order (no order is defined across streams).
    at_b = [(m.stream, m.ppid, m.data) for m in p.received(B_ADDR)]
    assert [m for m in at_b if m[0] == 1] == [(1, 7, b"a0"), (1, 7, b"a1"), (1, 7, b"a2")]
    assert [m for m in at_b if m[0] == 3] == [(3, 9, big)]
    at_a = sorted((m.stream, m.ppid, m.data, m.unordered) for m in p.received(A_ADDR))
    assert at_a == [
        (2, 8, b"b0", False),
        (2, 8, b"b1", True),
        (2, 8, b"b2", False),
        (3, 9, big, True),
    ]
    assert p.net.events_of(A_ADDR, ev.AssociationAborted) == []
    assert p.net.events_of(B_ADDR, ev.AssociationAborted) == []


def test_supported_extensions_among_other_types() -> None:
    # A peer (usrsctp, Linux) lists more extensions than I-DATA, or several parameters.
    def init(*params: SupportedExtensionsParameter) -> InitChunk:
        return InitChunk(
            initiate_tag=1,
            a_rwnd=65536,
            outbound_streams=10,
            inbound_streams=10,
            initial_tsn=5,
            parameters=params,
        )

    assert check_init(
        init(SupportedExtensionsParameter((0xC0, 0x82, 0x40, 0x0F)))
    ).peer_interleaving
    assert not check_init(init(SupportedExtensionsParameter((0xC0, 0x82, 0xC2)))).peer_interleaving
    assert check_init(
        init(SupportedExtensionsParameter((0x82,)), SupportedExtensionsParameter((0x40,)))
    ).peer_interleaving
    assert not check_init(init()).peer_interleaving


def test_restart_renegotiates_interleaving() -> None:
    # A peer that restarts (§5.2.4 A) without I-DATA gets DATA on the restarted association.
    p = make_pair(seed=81, options=Options(heartbeat_interval=0))
    assoc, peer = p.connect()
    assert assoc.statistics().interleaving
    fresh = SctpEndpoint(
        Options(heartbeat_interval=0, interleaving=False),
        local_port=5000,
        rng=random.Random(99),
        now=p.net.now,
    )
    p.net.add(A_ADDR, fresh)
    restarted = fresh.connect(B_ADDR, 6000, p.net.now)
    p.net.run_until(lambda: bool(p.net.events_of(B_ADDR, ev.AssociationRestarted)), 5.0)
    p.net.run_until(lambda: restarted.state is State.ESTABLISHED, 5.0)
    assert not peer.statistics().interleaving and not restarted.statistics().interleaving
    restarted.send(b"after restart", stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: bool(p.received(B_ADDR)), 5.0)
    assert p.received(B_ADDR)[-1].data == b"after restart"


def _inject(p: Pair, peer: Association, chunk: DataChunk | IDataChunk) -> None:
    p.b.receive_datagram(serialize_packet(5000, 6000, peer.local_tag, [chunk]), A_ADDR, p.net.now)


def _abort_cause(datagrams: list[tuple[bytes, object]]) -> ProtocolViolationCause:
    for data, _ in datagrams:
        packet: Packet = parse_packet(data)
        for chunk in packet.chunks:
            if isinstance(chunk, AbortChunk):
                (cause,) = chunk.causes
                assert isinstance(cause, ProtocolViolationCause)
                return cause
    raise AssertionError("no ABORT sent")


def test_data_after_negotiating_idata_aborts_with_protocol_violation() -> None:
    # RFC 8260 §2.2.3: DATA on an association that negotiated I-DATA.
    p = make_pair(seed=82, options=Options(heartbeat_interval=0))
    _assoc, peer = p.connect()
    chunk = DataChunk(tsn=peer.peer_initial_tsn, stream_id=0, ssn=0, ppid=0, user_data=b"x")
    _inject(p, peer, chunk)
    cause = _abort_cause(p.b.datagrams_to_send(p.net.now))
    assert b"DATA" in cause.information
    assert peer.state is State.CLOSED
    p.net.flush()
    (mine,) = p.net.events_of(B_ADDR, ev.AssociationAborted)
    assert not mine.by_peer and "DATA" in mine.reason
    assert p.received(B_ADDR) == []


def test_idata_without_negotiation_aborts_with_protocol_violation() -> None:
    p = make_pair(seed=83, options=Options(heartbeat_interval=0, interleaving=False))
    _assoc, peer = p.connect()
    chunk = IDataChunk(tsn=peer.peer_initial_tsn, stream_id=0, mid=0, fsn=0, ppid=0, user_data=b"x")
    _inject(p, peer, chunk)
    cause = _abort_cause(p.b.datagrams_to_send(p.net.now))
    assert b"64" in cause.information
    assert peer.state is State.CLOSED


# ---------------------------------------------------------------- head-of-line blocking


@dataclass
class _Transfer:
    big_sent: float
    big_done: float
    # (send time, arrival time) of each small message, in sending order.
    small: list[tuple[float, float]]


def _big_and_small(interleaving: bool, loss: float, seed: int, every: int = 5) -> _Transfer:
    """A 2 MiB message on stream 1, then one small message on stream 2 every ``every``
    steps of 10 ms until the big message has arrived.

    Arrival times are sampled every 10 ms of virtual time (the step of the loop), so they
    are upper bounds within 10 ms. Checks exactly-once, in-order delivery per stream. The
    give-up limit is raised: at 20% loss several T3-rtx expiries in a row are common, and
    this test is about delivery order, not about when to give up.
    """
    options = Options(
        interleaving=interleaving, heartbeat_interval=0, association_max_retransmissions=20
    )
    p = make_pair(seed=seed, options=options, link=Link(loss=loss, delay=0.005))
    # Setup without loss; loss applies to the transfer.
    p.net.link = Link(delay=0.005)
    assoc, _peer = p.connect()
    p.net.link = Link(loss=loss, delay=0.005)
    rng = random.Random(seed)
    big = rng.randbytes(2 * 1024 * 1024)
    start = p.net.now
    assoc.send(big, stream=1, ppid=1, unordered=False, now=start)
    sent_small: list[tuple[bytes, float]] = []
    arrived: dict[bytes, float] = {}
    big_done: float | None = None
    seen = 0
    # Bounded: at most 120 s of virtual time in 10 ms steps.
    for step in range(12_000):
        if step % every == 0 and big_done is None:
            payload = b"small-%04d" % len(sent_small)
            assoc.send(payload, stream=2, ppid=2, unordered=False, now=p.net.now)
            sent_small.append((payload, p.net.now))
        p.net.run(0.01)
        received = p.received(B_ADDR)
        for m in received[seen:]:
            if m.stream == 1:
                assert big_done is None, "big message delivered twice"
                assert m.data == big
                big_done = p.net.now
            else:
                assert m.data not in arrived, "small message delivered twice"
                arrived[m.data] = p.net.now
        seen = len(received)
        if big_done is not None and len(arrived) == len(sent_small):
            break
    else:
        raise AssertionError("transfer did not complete within 120 s of virtual time")
    # Exactly once (checked above) and in order per stream.
    small_order = [m.data for m in p.received(B_ADDR) if m.stream == 2]
    assert small_order == [payload for payload, _ in sent_small]
    assert big_done is not None
    return _Transfer(
        big_sent=start,
        big_done=big_done,
        small=[(t, arrived[payload]) for payload, t in sent_small],
    )


@pytest.mark.parametrize("loss", [0.0, 0.05, 0.2])
def test_interleaving_small_messages_overtake_a_big_one(loss: float) -> None:
    # Measured (seed 84): the 2 MiB message takes 0.56 s / 6.8 s / 57 s at 0 / 5 / 20% loss;
    # the small messages' median latency is 10 ms / 50 ms / 0.7 s (at 20% loss a lost small
    # message also holds the later ones of its own stream until it is retransmitted).
    result = _big_and_small(True, loss, seed=84)
    transfer = result.big_done - result.big_sent
    latencies = [arrival - sent for sent, arrival in result.small]
    # The big message takes many round trips (2 MiB at 10 ms RTT)...
    assert transfer > 0.3
    # ...while small messages sent meanwhile arrive within a few round trips (or a
    # retransmission when one is lost): none waits for the big message.
    before_big = [
        lat
        for (sent, _), lat in zip(result.small, latencies, strict=True)
        if sent < result.big_done
    ]
    assert len(before_big) >= 10
    assert max(before_big) < transfer / 3
    median = sorted(before_big)[len(before_big) // 2]
    assert median < transfer / 20 and median < 1.0
    # Most small messages sent during the transfer were delivered before it completed.
    early = [arrival for sent, arrival in result.small if arrival < result.big_done]
    assert len(early) >= len(result.small) * 3 // 4


@pytest.mark.parametrize("loss", [0.0, 0.2])
def test_without_interleaving_small_messages_wait_for_the_big_one(loss: float) -> None:
    # The old behaviour, with DATA chunks (RFC 9260 §6.9): a message's fragments take
    # consecutive TSNs, so the scheduler stays on stream 1 until the big message has been
    # handed out entirely; small messages on stream 2 wait behind it. Measured (seed 84):
    # the first small message arrives after 0.56 s / 51 s of a 0.56 s / 54 s transfer.
    result = _big_and_small(False, loss, seed=84)
    transfer = result.big_done - result.big_sent
    first_sent, first_arrival = result.small[0]
    assert first_arrival - first_sent > transfer / 2
    latencies = sorted(arrival - sent for sent, arrival in result.small)
    assert latencies[len(latencies) // 2] > transfer / 4
    for _sent, arrival in result.small:
        assert arrival >= result.big_done - transfer / 2


def test_fragment_contradicting_earlier_ones_aborts_instead_of_corrupt_delivery() -> None:
    # What Linux 6.1 sends (seen from the SCTP VM): the fragment after the first carries
    # FSN 0, the next 1, where RFC 8260 §2.1 numbers them 1, 2 (the first is implicitly 0).
    # The second chunk takes a position already taken; it is acknowledged, so the message
    # cannot be completed correctly: abort, and deliver nothing wrong.
    p = make_pair(seed=85, options=Options(heartbeat_interval=0))
    _assoc, peer = p.connect()
    tsn = peer.peer_initial_tsn

    def frag(i: int, fsn: int, data: bytes, b: bool, e: bool) -> IDataChunk:
        return IDataChunk(
            tsn=(tsn + i) & 0xFFFFFFFF,
            stream_id=0,
            mid=0,
            fsn=fsn,
            ppid=7,
            user_data=data,
            beginning=b,
            ending=e,
        )

    _inject(p, peer, frag(0, 0, b"a" * 1000, True, False))
    assert not peer.closed
    _inject(p, peer, frag(1, 0, b"b" * 1000, False, False))
    cause = _abort_cause(p.b.datagrams_to_send(p.net.now))
    assert b"contradicts" in cause.information and b"MID 0" in cause.information
    assert peer.state is State.CLOSED
    _inject(p, peer, frag(2, 1, b"c" * 500, False, True))  # the association is gone
    p.net.flush()
    assert p.received(B_ADDR) == []


def test_rfc_numbered_fragments_in_any_order_are_delivered() -> None:
    # The same message numbered as RFC 8260 §2.1 says, arriving out of order.
    p = make_pair(seed=86, options=Options(heartbeat_interval=0))
    _assoc, peer = p.connect()
    tsn = peer.peer_initial_tsn
    parts = [(0, 0, b"a" * 1000, True, False), (1, 1, b"b" * 1000, False, False)]
    parts.append((2, 2, b"c" * 500, False, True))
    for i, fsn, data, b, e in (parts[2], parts[0], parts[1]):
        chunk = IDataChunk(
            tsn=(tsn + i) & 0xFFFFFFFF,
            stream_id=0,
            mid=0,
            fsn=fsn,
            ppid=7,
            user_data=data,
            beginning=b,
            ending=e,
        )
        _inject(p, peer, chunk)
    p.net.flush()
    (msg,) = p.received(B_ADDR)
    assert (msg.data, msg.ppid) == (b"a" * 1000 + b"b" * 1000 + b"c" * 500, 7)
    assert peer.state is State.ESTABLISHED
