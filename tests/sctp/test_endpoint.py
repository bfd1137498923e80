"""SctpEndpoint: demultiplexing, out-of-the-blue packets (§8.4), verification tags (§8.5),
drops by reason, stateless INIT handling, ICMP (RFC 9260 §10), association limits."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sized

import pytest

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import (
    AbortChunk,
    CookieAckChunk,
    DataChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    OutOfResourceCause,
    ShutdownAckChunk,
    ShutdownCompleteChunk,
    parse_packet,
    serialize_packet,
)
from netchan.transport.sctp.state import LocalProtocolError, State
from tests.sctp.conftest import A_ADDR, B_ADDR, make_pair


def _endpoint(**options: object) -> SctpEndpoint:
    return SctpEndpoint(Options(**options), local_port=6000, rng=random.Random(7), now=0.0)  # type: ignore[arg-type]


def _only_reply(ep: SctpEndpoint, now: float = 0.0):  # type: ignore[no-untyped-def]
    out = ep.datagrams_to_send(now)
    assert len(out) == 1, out
    return parse_packet(out[0][0]), out[0][1]


def test_ootb_data_is_answered_with_abort_t_bit() -> None:
    # §8.4 rule 8: ABORT with the T bit and the packet's own verification tag.
    ep = _endpoint()
    data = DataChunk(tsn=1, stream_id=0, ssn=0, ppid=0, user_data=b"x")
    ep.receive_datagram(serialize_packet(5000, 6000, 0xDEAD, [data]), A_ADDR, 0.0)
    reply, addr = _only_reply(ep)
    assert addr == A_ADDR and reply.verification_tag == 0xDEAD
    assert reply.src_port == 6000 and reply.dst_port == 5000
    (abort,) = reply.chunks
    assert isinstance(abort, AbortChunk) and abort.tag_reflected
    assert ep.statistics()["drops"] == {"out_of_the_blue": 1}


@pytest.mark.parametrize(
    "chunk",
    [AbortChunk(), ShutdownCompleteChunk(), CookieAckChunk()],
    ids=["abort", "shutdown-complete", "cookie-ack"],
)
def test_ootb_silently_discarded(chunk: object) -> None:
    # §8.4 rules 2, 6, 7.
    ep = _endpoint()
    ep.receive_datagram(serialize_packet(5000, 6000, 5, [chunk]), A_ADDR, 0.0)  # type: ignore[list-item]
    assert ep.datagrams_to_send(0.0) == []
    assert sum(ep.statistics()["drops"].values()) == 1


def test_ootb_shutdown_ack_gets_shutdown_complete_t_bit() -> None:
    # §8.4 rule 5.
    ep = _endpoint()
    ep.receive_datagram(serialize_packet(5000, 6000, 0x77, [ShutdownAckChunk()]), A_ADDR, 0.0)
    reply, _ = _only_reply(ep)
    (complete,) = reply.chunks
    assert isinstance(complete, ShutdownCompleteChunk) and complete.tag_reflected
    assert reply.verification_tag == 0x77


def test_bad_checksum_parse_error_wrong_port_counted() -> None:
    ep = _endpoint()
    good = serialize_packet(5000, 6000, 1, [HeartbeatChunk(b"12345678")])
    bad = bytearray(good)
    bad[-1] ^= 1
    ep.receive_datagram(bytes(bad), A_ADDR, 0.0)
    ep.receive_datagram(b"\x00" * 5, A_ADDR, 0.0)
    truncated = serialize_packet(5000, 6000, 1, [HeartbeatChunk(b"12345678")])[:-4]
    # Re-checksum the truncated packet so only the chunk length is wrong.
    from netchan.transport.sctp.packet import compute_checksum

    truncated = truncated[:8] + b"\x00" * 4 + truncated[12:]
    truncated = truncated[:8] + compute_checksum(truncated).to_bytes(4, "little") + truncated[12:]
    ep.receive_datagram(truncated, A_ADDR, 0.0)
    ep.receive_datagram(serialize_packet(5000, 6001, 1, [HeartbeatChunk(b"x")]), A_ADDR, 0.0)
    assert ep.datagrams_to_send(0.0) == []
    assert ep.statistics()["drops"] == {
        "bad_checksum": 1,
        "too_short": 1,
        "parse_error": 1,
        "wrong_port": 1,
    }


def test_wrong_verification_tag_dropped_and_counted() -> None:
    p = make_pair(seed=21)
    _assoc, peer = p.connect()
    data = DataChunk(tsn=peer.peer_initial_tsn, stream_id=0, ssn=0, ppid=0, user_data=b"forged")
    p.b.receive_datagram(
        serialize_packet(5000, 6000, peer.local_tag ^ 0x5A5A, [data]), A_ADDR, p.net.now
    )
    # ABORT without the T bit must carry our tag; with the T bit the peer's.
    p.b.receive_datagram(serialize_packet(5000, 6000, peer.peer_tag, [AbortChunk()]), A_ADDR, 0)
    p.b.receive_datagram(
        serialize_packet(5000, 6000, peer.local_tag, [AbortChunk(tag_reflected=True)]), A_ADDR, 0
    )
    p.net.run(1.0)
    assert p.received(B_ADDR) == []
    assert peer.state is State.ESTABLISHED
    assert p.b.statistics()["drops"]["wrong_vtag"] == 3


def test_abort_with_t_bit_and_peer_tag_is_accepted() -> None:
    p = make_pair(seed=22)
    _assoc, peer = p.connect()
    p.b.receive_datagram(
        serialize_packet(5000, 6000, peer.peer_tag, [AbortChunk(tag_reflected=True)]),
        A_ADDR,
        p.net.now,
    )
    p.net.flush()
    (aborted,) = p.net.events_of(B_ADDR, ev.AssociationAborted)
    assert aborted.by_peer and peer.state is State.CLOSED


def test_init_flood_leaves_no_state() -> None:
    # §5.1.3: INIT is answered from the cookie alone; nothing per peer is stored.
    ep = _endpoint()
    rng = random.Random(3)
    for i in range(3000):
        init = InitChunk(
            initiate_tag=rng.randrange(1, 1 << 32),
            a_rwnd=65536,
            outbound_streams=10,
            inbound_streams=10,
            initial_tsn=rng.getrandbits(32),
        )
        ep.receive_datagram(
            serialize_packet(1024 + i, 6000, 0, [init]), ("10.9.0.1", 1024 + i), i * 0.001
        )
        replies = ep.datagrams_to_send(i * 0.001)
        assert len(replies) == 1
        assert isinstance(parse_packet(replies[0][0]).chunks[0], InitAckChunk)
    assert ep.associations == {}
    assert ep.next_deadline() is None and ep.next_event() is None
    # Every container the endpoint holds is empty (dir(), not vars(): a compiled endpoint has
    # no instance __dict__).
    for name in dir(ep):
        if name.startswith("__"):
            continue
        value = getattr(ep, name)
        if isinstance(value, (Mapping, Sized)) and not isinstance(value, (str, bytes)):
            assert len(value) == 0, name
    assert ep.statistics()["associations_created"] == 0


def test_max_associations_answers_abort_out_of_resource() -> None:
    options = Options(max_associations=1)
    p = make_pair(seed=23, options=options)
    p.connect()
    third = SctpEndpoint(options, local_port=7000, rng=random.Random(5), now=p.net.now)
    C_ADDR = ("10.0.0.3", 7000)
    p.net.add(C_ADDR, third)
    third.connect(B_ADDR, 6000, p.net.now)
    p.net.run(1.0)
    (aborted,) = p.net.events_of(C_ADDR, ev.AssociationAborted)
    assert aborted.by_peer and "out of resource" in aborted.reason.lower()
    assert p.b.statistics()["drops"]["too_many_associations"] == 1
    with pytest.raises(LocalProtocolError):
        p.a.connect(("10.0.0.9", 1), 1, p.net.now)


def test_icmp_unreachable_checks_the_verification_tag() -> None:
    p = make_pair(seed=24)
    assoc, _peer = p.connect()
    wrong = serialize_packet(5000, 6000, assoc.peer_tag ^ 1, [HeartbeatChunk(b"x")])
    p.a.icmp_unreachable(B_ADDR, wrong, p.net.now)
    p.a.icmp_unreachable(B_ADDR, b"\x01\x02", p.net.now)
    p.a.icmp_unreachable(("10.0.0.99", 1), wrong, p.net.now)
    assert assoc.state is State.ESTABLISHED
    assert p.a.statistics()["drops"]["icmp_unverified"] == 3
    # Only the first 8 bytes are needed (a minimal ICMP quote).
    right = serialize_packet(5000, 6000, assoc.peer_tag, [HeartbeatChunk(b"x")])[:8]
    p.a.icmp_unreachable(B_ADDR, right, p.net.now)
    p.net.flush()
    (aborted,) = p.net.events_of(A_ADDR, ev.AssociationAborted)
    assert "ICMP" in aborted.reason
    assert p.a.associations == {}


def test_icmp_for_init_checks_the_initiate_tag() -> None:
    p = make_pair(seed=25)
    p.net.drop_filter = lambda s, d, data: True
    assoc = p.a.connect(B_ADDR, 6000, 0.0)
    ((init_bytes, _),) = [(d, dst) for _, s, dst, d in p.net.sent] or [
        (d, a) for d, a in p.a.datagrams_to_send(0.0)
    ]
    forged = bytearray(init_bytes)
    forged[16] ^= 0xFF  # the Initiate Tag
    p.a.icmp_unreachable(B_ADDR, bytes(forged), 0.0)
    assert assoc.state is State.COOKIE_WAIT
    p.a.icmp_unreachable(B_ADDR, init_bytes, 0.0)
    assert assoc.closed and str(assoc.statistics().state) == str(State.CLOSED)


def test_out_of_resource_cause_str() -> None:
    assert "resource" in str(OutOfResourceCause()).lower()


def test_receive_datagram_never_raises_on_random_bytes() -> None:
    p = make_pair(seed=26)
    _assoc, peer = p.connect()
    rng = random.Random(8)
    for _ in range(2000):
        size = rng.randrange(0, 64)
        junk = bytes(rng.getrandbits(8) for _ in range(size))
        p.b.receive_datagram(junk, A_ADDR, p.net.now)
    # Valid header and checksum, random chunks, correct tag: the association must survive.
    from netchan.transport.sctp.packet import compute_checksum

    for _ in range(2000):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(4, 48)))
        header = (
            (5000).to_bytes(2, "big")
            + (6000).to_bytes(2, "big")
            + peer.local_tag.to_bytes(4, "big")
        )
        raw = header + b"\x00" * 4 + body
        raw = header + compute_checksum(raw).to_bytes(4, "little") + body
        p.b.receive_datagram(raw, A_ADDR, p.net.now)
    p.net.flush()
    assert "internal_error" not in p.b.statistics()["drops"]


def test_peer_udp_port_change_is_followed() -> None:
    # RFC 6951 §5.4: after the tag check, the peer's UDP port is learned from what arrives
    # (a NAT rebinding must not kill the association).
    p = make_pair(seed=27)
    assoc, peer = p.connect()
    moved = ("10.0.0.1", 5999)
    p.net.endpoints[moved] = p.net.endpoints.pop(A_ADDR)
    p.net.events[moved] = p.net.events.pop(A_ADDR)
    a_ep = p.net.endpoints[moved]
    # a's packets now come from the new UDP port.
    assoc.send(b"from a new port", stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: bool(p.received(B_ADDR)), 5.0)
    assert peer.peer_addresses == (moved,)
    assert p.b.statistics()["peer_port_changes"] == 1
    peer.send(b"reply", stream=0, ppid=0, unordered=False, now=p.net.now)
    p.net.run_until(lambda: bool(p.net.events_of(moved, ev.MessageReceived)), 5.0)
    assert a_ep is p.a
    # A different host with the right tag is not taken for the peer.
    other = serialize_packet(5000, 6000, peer.local_tag, [HeartbeatChunk(b"x")])
    p.b.receive_datagram(other, ("10.0.0.66", 5000), p.net.now)
    assert peer.peer_addresses == (moved,)


def test_drop_counts_survive_the_association() -> None:
    p = make_pair(seed=28)
    assoc, peer = p.connect()
    p.b.receive_datagram(
        serialize_packet(5000, 6000, peer.local_tag, [HeartbeatAckChunk(b"short")]), A_ADDR, 0
    )
    assert p.b.statistics()["drops"]["bad_heartbeat_ack"] == 1
    assoc.abort("bye", p.net.now)
    p.net.run(1.0)
    assert p.b.associations == {}
    assert p.b.statistics()["drops"]["bad_heartbeat_ack"] == 1
