"""Association setup (RFC 9260 §5.1, §5.2): timers, collisions, restart, cookies."""

from __future__ import annotations

import random

import pytest

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.association import Association
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import (
    AbortChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitAckChunk,
    InitChunk,
    StaleCookieErrorCause,
    StateCookieParameter,
    UnknownParameter,
    UnrecognizedParameter,
    parse_packet,
    serialize_packet,
)
from netchan.transport.sctp.state import State
from tests.sctp.conftest import A_ADDR, B_ADDR, chunk_types, make_pair, sent_chunks

INIT, INIT_ACK, COOKIE_ECHO, COOKIE_ACK, ABORT, ERROR = 1, 2, 10, 11, 6, 9


def _state(assoc: Association) -> State:
    """Read through a call: the state changes under method calls mypy cannot see into."""
    return assoc.state


def test_four_way_handshake_negotiates_streams() -> None:
    p = make_pair(options=Options(outbound_streams=10, inbound_streams=20))
    p.b.options = Options(outbound_streams=5, inbound_streams=7)  # b offers fewer
    assoc, peer = p.connect()
    assert (assoc.outbound_streams, assoc.inbound_streams) == (7, 5)
    assert (peer.outbound_streams, peer.inbound_streams) == (5, 7)
    (established,) = p.net.events_of(A_ADDR, ev.AssociationEstablished)
    assert (established.outbound_streams, established.inbound_streams) == (7, 5)
    # INIT, INIT ACK, COOKIE ECHO, COOKIE ACK: one datagram each.
    kinds = [chunk_types(data)[0] for _, _, _, data in p.net.sent]
    assert kinds == [INIT, INIT_ACK, COOKIE_ECHO, COOKIE_ACK]
    with pytest.raises(ValueError):
        assoc.send(b"x", stream=7, ppid=0, unordered=False, now=p.net.now)


def test_t1_init_retransmits_with_backoff_then_gives_up() -> None:
    options = Options(rto_initial=0.5, rto_min=0.1, rto_max=2.0, max_init_retransmits=3)
    p = make_pair(options=options)
    p.net.drop_filter = lambda src, dst, data: src == A_ADDR
    assoc = p.a.connect(B_ADDR, 6000, 0.0)
    assert _state(assoc) is State.COOKIE_WAIT
    p.net.run(20.0)
    assert sent_chunks(p, A_ADDR, INIT) == [0.0, 0.5, 1.5, 3.5]
    (aborted,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert "INIT unanswered" in aborted.reason and not aborted.by_peer
    assert _state(assoc) is State.CLOSED
    assert p.a.associations == {}
    assert p.b.associations == {}


def test_t1_cookie_retransmits_cookie_echo() -> None:
    options = Options(rto_initial=0.5, rto_min=0.1, rto_max=2.0)
    p = make_pair(options=options)
    dropped: list[bytes] = []

    def drop_two_cookie_echoes(src: object, dst: object, data: bytes) -> bool:
        if src == A_ADDR and COOKIE_ECHO in chunk_types(data) and len(dropped) < 2:
            dropped.append(data)
            return True
        return False

    p.net.drop_filter = drop_two_cookie_echoes
    assoc, _ = p.connect(timeout=10.0)
    times = sent_chunks(p, A_ADDR, COOKIE_ECHO)
    assert len(times) == 3
    # 0.5 s then 1 s (backoff), measured from the first COOKIE ECHO.
    assert times[1] - times[0] == pytest.approx(0.5)
    assert times[2] - times[1] == pytest.approx(1.0)
    assert assoc.state is State.ESTABLISHED


def test_t1_cookie_gives_up() -> None:
    options = Options(max_init_retransmits=2)
    p = make_pair(options=options)
    p.net.drop_filter = lambda src, dst, data: src == A_ADDR and COOKIE_ECHO in chunk_types(data)
    p.a.connect(B_ADDR, 6000, 0.0)
    p.net.run(30.0)
    (aborted,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert "COOKIE ECHO unanswered" in aborted.reason
    assert len(sent_chunks(p, A_ADDR, COOKIE_ECHO)) == 3
    assert p.b.associations == {}  # b never kept state for the INIT


@pytest.mark.parametrize("delay_b", [0.0, 0.002, 0.004, 0.006, 0.008])
def test_init_collision_gives_one_association_each(delay_b: float) -> None:
    # §5.2.1 / §5.2.4: both sides connect at about the same time.
    p = make_pair(seed=11)
    a_assoc = p.a.connect(B_ADDR, 6000, 0.0)
    a_assoc.send(b"early a", stream=1, ppid=0, unordered=False, now=0.0)
    p.net.run(delay_b)
    b_assoc = p.b.connect(A_ADDR, 5000, p.net.now)
    b_assoc.send(b"early b", stream=1, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(
        lambda: a_assoc.state is State.ESTABLISHED and b_assoc.state is State.ESTABLISHED, 10.0
    )
    assert len(p.a.associations) == 1 and len(p.b.associations) == 1
    assert a_assoc.peer_tag == b_assoc.local_tag and b_assoc.peer_tag == a_assoc.local_tag
    a_assoc.send(b"from a", stream=0, ppid=0, unordered=False, now=p.net.now)
    b_assoc.send(b"from b", stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: len(p.received(B_ADDR)) == 2 and len(p.received(A_ADDR)) == 2, 5.0)
    # Messages queued before the collision resolved are not lost.
    assert [m.data for m in p.received(B_ADDR)] == [b"early a", b"from a"]
    assert [m.data for m in p.received(A_ADDR)] == [b"early b", b"from b"]
    assert len(p.net.events_of(A_ADDR, ev.AssociationEstablished)) == 1
    assert len(p.net.events_of(B_ADDR, ev.AssociationEstablished)) == 1


def test_peer_restart_is_detected_with_tie_tags() -> None:
    # §5.2.2 + §5.2.4 action A: b loses its state and associates again.
    p = make_pair(seed=12)
    assoc, _ = p.connect()
    old_local_tag = assoc.local_tag
    new_b = SctpEndpoint(p.options, local_port=6000, rng=random.Random(999), now=p.net.now)
    p.net.add(B_ADDR, new_b)
    p.net.events[B_ADDR].clear()
    new_assoc = new_b.connect(A_ADDR, 5000, p.net.now)
    p.net.run_until(lambda: new_assoc.state is State.ESTABLISHED, 5.0)
    assert p.net.events_of(A_ADDR, ev.AssociationRestarted)
    assert assoc.state is State.ESTABLISHED
    assert assoc.local_tag != old_local_tag and assoc.peer_tag == new_assoc.local_tag
    assert len(p.a.associations) == 1
    assoc.send(b"after restart", stream=1, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: bool(p.received(B_ADDR)), 5.0)
    assert p.received(B_ADDR)[0].data == b"after restart"


def test_unexpected_init_answered_without_changing_the_association() -> None:
    # §5.2.2: an INIT for an established association (e.g. an old duplicate) gets an
    # INIT ACK with a new tag; our association stays as it was.
    p = make_pair(seed=13)
    assoc, peer = p.connect()
    tags = (assoc.local_tag, assoc.peer_tag)
    init = InitChunk(
        initiate_tag=0x1234, a_rwnd=65536, outbound_streams=5, inbound_streams=5, initial_tsn=7
    )
    p.b.receive_datagram(serialize_packet(5000, 6000, 0, [init]), A_ADDR, p.net.now)
    ((data, addr),) = p.b.datagrams_to_send(p.net.now)
    reply = parse_packet(data)
    assert reply.verification_tag == 0x1234 and addr == A_ADDR
    (ack,) = reply.chunks
    assert isinstance(ack, InitAckChunk) and ack.initiate_tag not in (0, peer.local_tag)
    assert (peer.local_tag, peer.peer_tag) == (tags[1], tags[0])
    assert peer.state is State.ESTABLISHED


def _capture_cookie(p_seed: int = 14) -> tuple[SctpEndpoint, bytes, InitAckChunk]:
    options = Options(valid_cookie_life=5.0, cookie_secret_rotation=100.0)
    b = SctpEndpoint(options, local_port=6000, rng=random.Random(p_seed), now=0.0)
    init = InitChunk(
        initiate_tag=0xABCD, a_rwnd=65536, outbound_streams=3, inbound_streams=3, initial_tsn=1
    )
    b.receive_datagram(serialize_packet(5000, 6000, 0, [init]), A_ADDR, 0.0)
    ((data, _),) = b.datagrams_to_send(0.0)
    (ack,) = parse_packet(data).chunks
    assert isinstance(ack, InitAckChunk) and ack.state_cookie is not None
    return b, ack.state_cookie, ack


def test_forged_cookie_is_dropped_and_counted() -> None:
    b, cookie, ack = _capture_cookie()
    forged = bytearray(cookie)
    forged[3] ^= 0xFF
    echo = serialize_packet(5000, 6000, ack.initiate_tag, [CookieEchoChunk(bytes(forged))])
    b.receive_datagram(echo, A_ADDR, 1.0)
    assert b.datagrams_to_send(1.0) == []
    assert b.associations == {}
    assert b.statistics()["drops"]["bad_cookie"] == 1
    # The genuine cookie works.
    b.receive_datagram(
        serialize_packet(5000, 6000, ack.initiate_tag, [CookieEchoChunk(cookie)]), A_ADDR, 1.0
    )
    assert len(b.associations) == 1
    assert isinstance(b.next_event(), ev.AssociationEstablished)


def test_expired_cookie_gets_stale_cookie_error() -> None:
    b, cookie, ack = _capture_cookie()
    echo = serialize_packet(5000, 6000, ack.initiate_tag, [CookieEchoChunk(cookie)])
    b.receive_datagram(echo, A_ADDR, 5.25)
    ((data, addr),) = b.datagrams_to_send(5.25)
    reply = parse_packet(data)
    assert reply.verification_tag == 0xABCD and addr == A_ADDR
    (error,) = reply.chunks
    assert isinstance(error, ErrorChunk)
    (cause,) = error.causes
    assert isinstance(cause, StaleCookieErrorCause) and cause.staleness == 250_000
    assert b.associations == {}
    assert b.statistics()["drops"]["stale_cookie"] == 1


def test_cookie_echo_with_wrong_tag_is_dropped() -> None:
    b, cookie, ack = _capture_cookie()
    echo = serialize_packet(5000, 6000, ack.initiate_tag ^ 1, [CookieEchoChunk(cookie)])
    b.receive_datagram(echo, A_ADDR, 1.0)
    assert b.associations == {} and b.datagrams_to_send(1.0) == []
    assert b.statistics()["drops"]["wrong_vtag"] == 1


def test_stale_cookie_error_leads_to_init_with_preservative() -> None:
    # §5.2.6: a cookie life shorter than the round trip; the retry asks for more time.
    options = Options(valid_cookie_life=0.001)
    p = make_pair(seed=15, options=options)
    assoc, _ = p.connect(timeout=10.0)
    assert assoc.state is State.ESTABLISHED
    inits = [parse_packet(d) for _, s, _, d in p.net.sent if s == A_ADDR and INIT in chunk_types(d)]
    assert len(inits) == 2
    retry = inits[1].chunks[0]
    assert isinstance(retry, InitChunk)
    assert any(type(param).__name__ == "CookiePreservativeParameter" for param in retry.parameters)
    assert p.b.statistics()["drops"]["stale_cookie"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("outbound_streams", 0), ("inbound_streams", 0)],
)
def test_init_with_zero_streams_is_aborted(field: str, value: int) -> None:
    b = SctpEndpoint(Options(), local_port=6000, rng=random.Random(1), now=0.0)
    counts = {"outbound_streams": 2, "inbound_streams": 2}
    counts[field] = value
    init = InitChunk(
        initiate_tag=77,
        a_rwnd=65536,
        outbound_streams=counts["outbound_streams"],
        inbound_streams=counts["inbound_streams"],
        initial_tsn=1,
    )
    b.receive_datagram(serialize_packet(5000, 6000, 0, [init]), A_ADDR, 0.0)
    ((data, _),) = b.datagrams_to_send(0.0)
    reply = parse_packet(data)
    assert reply.verification_tag == 77 and isinstance(reply.chunks[0], AbortChunk)
    assert b.associations == {}


def test_init_with_zero_tag_is_silently_discarded() -> None:
    # RFC 9260 §3.3.2: "MUST silently discard" (RFC 4960 used to answer with ABORT).
    b = SctpEndpoint(Options(), local_port=6000, rng=random.Random(1), now=0.0)
    init = InitChunk(
        initiate_tag=0, a_rwnd=65536, outbound_streams=2, inbound_streams=2, initial_tsn=1
    )
    b.receive_datagram(serialize_packet(5000, 6000, 0, [init]), A_ADDR, 0.0)
    assert b.datagrams_to_send(0.0) == []
    assert b.statistics()["drops"]["invalid_init"] == 1


def test_unknown_init_parameters_follow_upper_two_bits() -> None:
    # §3.2.1: 0x8xxx skip + no report... 0xCxxx skip + report; 0x4xxx stop + report.
    b = SctpEndpoint(Options(), local_port=6000, rng=random.Random(1), now=0.0)
    params = (
        UnknownParameter(0x8111, b"skip"),
        UnknownParameter(0xC222, b"report"),
        UnknownParameter(0x4333, b"stop"),
        UnknownParameter(0xC444, b"never seen"),
    )
    init = InitChunk(
        initiate_tag=9,
        a_rwnd=65536,
        outbound_streams=2,
        inbound_streams=2,
        initial_tsn=1,
        parameters=params,
    )
    b.receive_datagram(serialize_packet(5000, 6000, 0, [init]), A_ADDR, 0.0)
    ((data, _),) = b.datagrams_to_send(0.0)
    (ack,) = parse_packet(data).chunks
    assert isinstance(ack, InitAckChunk)
    reported = [p.parameter for p in ack.parameters if isinstance(p, UnrecognizedParameter)]
    assert reported == [params[1].serialize(), params[2].serialize()]


def test_connect_to_a_port_nobody_listens_on_is_aborted() -> None:
    # The peer endpoint exists on a different SCTP port: its answer is an OOTB ABORT?
    # No: INIT for an unknown port is dropped (wrong_port), so T1 gives up.
    options = Options(max_init_retransmits=1, rto_initial=0.1, rto_min=0.1, rto_max=0.2)
    p = make_pair(options=options)
    p.a.connect(B_ADDR, 7777, 0.0)
    p.net.run(5.0)
    assert p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert p.b.statistics()["drops"]["wrong_port"] == 2


def _established_pair(seed: int):  # type: ignore[no-untyped-def]
    p = make_pair(seed=seed, options=Options(heartbeat_interval=0))
    assoc, peer = p.connect()
    return p, assoc, peer


def test_late_own_cookie_is_discarded_case_c() -> None:
    # §5.2.4 action C: a COOKIE ECHO carrying the peer's current tag but an old local tag
    # and no Tie-Tags (an old cookie of ours) is silently discarded.
    p, _assoc, peer = _established_pair(71)
    from netchan.transport.sctp.cookie import CookieContents

    old = CookieContents(
        local_tag=peer.local_tag ^ 0xFFFF,
        peer_tag=peer.peer_tag,
        local_initial_tsn=1,
        peer_initial_tsn=2,
        outbound_streams=5,
        inbound_streams=5,
        peer_a_rwnd=65536,
        local_port=6000,
        peer_port=5000,
        created=p.net.now,
    )
    cookie = p.b.cookies.make(old, p.net.now)
    echo = serialize_packet(5000, 6000, old.local_tag, [CookieEchoChunk(cookie)])
    p.b.receive_datagram(echo, A_ADDR, p.net.now)
    assert p.b.datagrams_to_send(p.net.now) == []
    assert peer.state is State.ESTABLISHED
    assert p.b.statistics()["drops"]["late_cookie"] == 1


def test_duplicate_cookie_echo_is_answered_case_d() -> None:
    # §5.2.4 action D: the COOKIE ACK was lost; the retransmitted COOKIE ECHO gets another.
    p = make_pair(seed=72, options=Options(heartbeat_interval=0))
    dropped: list[bytes] = []

    def drop_first_cookie_ack(src: object, dst: object, data: bytes) -> bool:
        if src == B_ADDR and COOKIE_ACK in chunk_types(data) and not dropped:
            dropped.append(data)
            return True
        return False

    p.net.drop_filter = drop_first_cookie_ack
    _assoc, _peer = p.connect(timeout=10.0)
    assert len(sent_chunks(p, B_ADDR, COOKIE_ACK)) == 2
    assert len(p.b.associations) == 1
    assert len(p.net.events_of(B_ADDR, ev.AssociationEstablished)) == 1


def test_shutdown_ack_during_setup_is_answered_like_ootb() -> None:
    # §8.5.1 E: SHUTDOWN ACK in COOKIE-WAIT: SHUTDOWN COMPLETE with the T bit.
    from netchan.transport.sctp.packet import ShutdownAckChunk, ShutdownCompleteChunk

    p = make_pair(seed=73)
    p.net.drop_filter = lambda s, d, data: True
    assoc = p.a.connect(B_ADDR, 6000, 0.0)
    p.a.datagrams_to_send(0.0)
    p.a.receive_datagram(serialize_packet(6000, 5000, 0x4242, [ShutdownAckChunk()]), B_ADDR, 0.0)
    ((data, _),) = p.a.datagrams_to_send(0.0)
    reply = parse_packet(data)
    assert reply.verification_tag == 0x4242
    (complete,) = reply.chunks
    assert isinstance(complete, ShutdownCompleteChunk) and complete.tag_reflected
    assert assoc.state is State.COOKIE_WAIT


def test_invalid_init_ack_aborts_setup() -> None:
    # §3.3.3: an INIT ACK with zero outbound streams in COOKIE-WAIT destroys the TCB.
    p = make_pair(seed=74)
    assoc = p.a.connect(B_ADDR, 6000, 0.0)
    p.a.datagrams_to_send(0.0)
    bad = InitAckChunk(
        initiate_tag=99, a_rwnd=65536, outbound_streams=0, inbound_streams=3, initial_tsn=5
    )
    p.a.receive_datagram(serialize_packet(6000, 5000, assoc.local_tag, [bad]), B_ADDR, 0.0)
    ((data, _),) = p.a.datagrams_to_send(0.0)
    reply = parse_packet(data)
    assert reply.verification_tag == 99 and isinstance(reply.chunks[0], AbortChunk)
    assert assoc.state is State.CLOSED
    (aborted,) = [e for e in iter(p.a.next_event, None) if isinstance(e, ev.AssociationAborted)]
    assert "zero stream count" in aborted.reason


def test_unknown_init_ack_parameters_reported_with_cookie_echo() -> None:
    # §3.2.1: unknown parameters of an INIT ACK marked "report" go back in an ERROR chunk
    # bundled after the COOKIE ECHO.
    p = make_pair(seed=75)
    assoc = p.a.connect(B_ADDR, 6000, 0.0)
    p.a.datagrams_to_send(0.0)
    _b_side, cookie, ack = _capture_cookie(76)
    extended = InitAckChunk(
        initiate_tag=ack.initiate_tag,
        a_rwnd=ack.a_rwnd,
        outbound_streams=3,
        inbound_streams=3,
        initial_tsn=ack.initial_tsn,
        parameters=(*ack.parameters, UnknownParameter(0xC123, b"hello")),
    )
    p.a.receive_datagram(serialize_packet(6000, 5000, assoc.local_tag, [extended]), B_ADDR, 0.0)
    ((data, _),) = p.a.datagrams_to_send(0.0)
    echo, error = parse_packet(data).chunks
    assert isinstance(echo, CookieEchoChunk) and echo.cookie == cookie
    assert isinstance(error, ErrorChunk)
    assert UnknownParameter(0xC123, b"hello").serialize() in error.causes[0].value_bytes()
    assert assoc.state is State.COOKIE_ECHOED


def test_init_in_shutdown_ack_sent_retransmits_shutdown_ack() -> None:
    # §9.2: an INIT in SHUTDOWN-ACK-SENT is discarded and the SHUTDOWN ACK is sent again.
    p, assoc, peer = _established_pair(77)
    p.net.drop_filter = lambda s, d, data: s == B_ADDR  # keep b in SHUTDOWN-ACK-SENT
    assoc.shutdown(p.net.now)
    p.net.run_until(lambda: peer.state is State.SHUTDOWN_ACK_SENT, 5.0)
    before = len(sent_chunks(p, B_ADDR, 8))
    init_acks = len(sent_chunks(p, B_ADDR, INIT_ACK))
    init = InitChunk(
        initiate_tag=0x5151, a_rwnd=65536, outbound_streams=5, inbound_streams=5, initial_tsn=7
    )
    p.b.receive_datagram(serialize_packet(5000, 6000, 0, [init]), A_ADDR, p.net.now)
    p.net.flush()
    assert len(sent_chunks(p, B_ADDR, 8)) == before + 1
    assert len(sent_chunks(p, B_ADDR, INIT_ACK)) == init_acks


def test_restart_during_shutdown_ack_sent_is_refused() -> None:
    # §5.2.4 A: in SHUTDOWN-ACK-SENT a restarting peer gets the SHUTDOWN ACK again and an
    # ERROR "Cookie Received While Shutting Down"; no new association is set up.
    from netchan.transport.sctp.packet import CookieReceivedWhileShuttingDownCause

    p, assoc, peer = _established_pair(78)
    p.net.drop_filter = lambda s, d, data: s == B_ADDR  # b stays in SHUTDOWN-ACK-SENT
    assoc.shutdown(p.net.now)
    p.net.run_until(lambda: peer.state is State.SHUTDOWN_ACK_SENT, 5.0)
    # a "restarts": INIT to b (answered with Tie-Tags), then the COOKIE ECHO.
    init = InitChunk(
        initiate_tag=0x7777, a_rwnd=65536, outbound_streams=5, inbound_streams=5, initial_tsn=1
    )
    p.b.receive_datagram(serialize_packet(5000, 6000, 0, [init]), A_ADDR, p.net.now)
    out = p.b.datagrams_to_send(p.net.now)
    assert all(INIT_ACK not in chunk_types(d) for d, _ in out)  # §9.2: INIT discarded here
    # Even with a cookie carrying our Tie-Tags (made as for an INIT in ESTABLISHED):
    from netchan.transport.sctp.cookie import CookieContents

    contents = CookieContents(
        local_tag=0x1111,
        peer_tag=0x7777,
        local_initial_tsn=1,
        peer_initial_tsn=1,
        outbound_streams=5,
        inbound_streams=5,
        peer_a_rwnd=65536,
        local_port=6000,
        peer_port=5000,
        local_tie_tag=peer._local_tie_tag,
        peer_tie_tag=peer._peer_tie_tag,
        created=p.net.now,
    )
    echo = CookieEchoChunk(p.b.cookies.make(contents, p.net.now))
    p.b.receive_datagram(serialize_packet(5000, 6000, 0x1111, [echo]), A_ADDR, p.net.now)
    chunks = [c for d, _ in p.b.datagrams_to_send(p.net.now) for c in parse_packet(d).chunks]
    kinds = [type(c).__name__ for c in chunks]
    assert kinds == ["ShutdownAckChunk", "ErrorChunk"]
    assert isinstance(chunks[1].causes[0], CookieReceivedWhileShuttingDownCause)  # type: ignore[attr-defined]
    assert peer.state is State.SHUTDOWN_ACK_SENT
    assert p.net.events_of(B_ADDR, ev.AssociationRestarted) == []


def test_stale_cookie_for_an_existing_association_gets_an_error() -> None:
    from netchan.transport.sctp.cookie import CookieContents

    p, _assoc, peer = _established_pair(79)
    contents = CookieContents(
        local_tag=0x2222,
        peer_tag=0x3333,
        local_initial_tsn=1,
        peer_initial_tsn=1,
        outbound_streams=5,
        inbound_streams=5,
        peer_a_rwnd=65536,
        local_port=6000,
        peer_port=5000,
        created=p.net.now - 100.0,
        lifetime=10.0,
    )
    echo = CookieEchoChunk(p.b.cookies.make(contents, p.net.now))
    p.b.receive_datagram(serialize_packet(5000, 6000, 0x2222, [echo]), A_ADDR, p.net.now)
    ((data, _),) = p.b.datagrams_to_send(p.net.now)
    reply = parse_packet(data)
    assert reply.verification_tag == 0x3333
    assert isinstance(reply.chunks[0], ErrorChunk)
    assert isinstance(reply.chunks[0].causes[0], StaleCookieErrorCause)
    assert peer.state is State.ESTABLISHED


@pytest.mark.parametrize(
    ("ack_kwargs", "reason"),
    [
        ({"a_rwnd": 1000}, "a_rwnd"),
        ({"parameters": ()}, "without a State Cookie"),
        ({"initiate_tag": 0}, "Initiate Tag 0"),
    ],
)
def test_invalid_init_ack_variants_abort(ack_kwargs: dict[str, object], reason: str) -> None:
    p = make_pair(seed=80)
    assoc = p.a.connect(B_ADDR, 6000, 0.0)
    p.a.datagrams_to_send(0.0)
    fields: dict[str, object] = {
        "initiate_tag": 99,
        "a_rwnd": 65536,
        "outbound_streams": 3,
        "inbound_streams": 3,
        "initial_tsn": 5,
        "parameters": (StateCookieParameter(b"c" * 20),),
    }
    fields.update(ack_kwargs)
    ack = InitAckChunk(**fields)  # type: ignore[arg-type]
    p.a.receive_datagram(serialize_packet(6000, 5000, assoc.local_tag, [ack]), B_ADDR, 0.0)
    assert assoc.state is State.CLOSED
    (aborted,) = [e for e in iter(p.a.next_event, None) if isinstance(e, ev.AssociationAborted)]
    assert reason in aborted.reason


def test_init_with_host_name_address_is_aborted() -> None:
    from netchan.transport.sctp.packet import HostNameAddressParameter, UnresolvableAddressCause

    b = SctpEndpoint(Options(), local_port=6000, rng=random.Random(1), now=0.0)
    init = InitChunk(
        initiate_tag=5,
        a_rwnd=65536,
        outbound_streams=2,
        inbound_streams=2,
        initial_tsn=1,
        parameters=(HostNameAddressParameter("example.org"),),
    )
    b.receive_datagram(serialize_packet(5000, 6000, 0, [init]), A_ADDR, 0.0)
    ((data, _),) = b.datagrams_to_send(0.0)
    (abort,) = parse_packet(data).chunks
    assert isinstance(abort, AbortChunk)
    assert isinstance(abort.causes[0], UnresolvableAddressCause)
