"""SCTP-AUTH (RFC 4895) in the sans-io stack: unit tests per section, then end to end over
the in-memory network (setup refusals, tampering, loss, key rotation)."""

from __future__ import annotations

import hashlib
import hmac
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.association import Association
from netchan.transport.sctp.auth import (
    REQUIRED_CHUNKS,
    AssociationAuth,
    AuthKeys,
    AuthParams,
    association_key,
)
from netchan.transport.sctp.counters import DropCounter
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import (
    HMAC_SHA1,
    HMAC_SHA256,
    AbortChunk,
    AuthChunk,
    ChunkListParameter,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HmacAlgorithmParameter,
    IDataChunk,
    InitAckChunk,
    InitChunk,
    RandomParameter,
    SackChunk,
    SupportedExtensionsParameter,
    UnsupportedHmacIdentifierCause,
    compute_checksum,
    parse_packet,
    serialize_packet,
)
from netchan.transport.sctp.state import State
from tests.sctp.netsim import Link, NetSim

A_ADDR = ("10.0.0.1", 5000)
B_ADDR = ("10.0.0.2", 6000)
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def _pair(
    keys_a: dict[int, bytes] | None,
    keys_b: dict[int, bytes] | None,
    *,
    seed: int = 1,
    link: Link | None = None,
    **options: object,
) -> tuple[NetSim, SctpEndpoint, SctpEndpoint]:
    net = NetSim(random.Random(seed), link)
    a = SctpEndpoint(
        Options(auth_keys=keys_a, **options),  # type: ignore[arg-type]
        local_port=5000,
        rng=random.Random(seed * 1000 + 1),
        now=0.0,
    )
    b = SctpEndpoint(
        Options(auth_keys=keys_b, **options),  # type: ignore[arg-type]
        local_port=6000,
        rng=random.Random(seed * 1000 + 2),
        now=0.0,
    )
    net.add(A_ADDR, a)
    net.add(B_ADDR, b)
    return net, a, b


def _established(net: NetSim, a: SctpEndpoint, b: SctpEndpoint) -> tuple[Association, Association]:
    assoc = a.connect(B_ADDR, 6000, net.now)
    net.run_until(
        lambda: bool(
            net.events_of(A_ADDR, ev.AssociationEstablished)
            and net.events_of(B_ADDR, ev.AssociationEstablished)
        ),
        10.0,
    )
    (peer,) = b.associations.values()
    return assoc, peer


def _fix_crc(data: bytes) -> bytes:
    return data[:8] + compute_checksum(data).to_bytes(4, "little") + data[12:]


# --- §3 parameters and §6.1 negotiation -------------------------------------------------------


def test_init_and_init_ack_carry_random_chunks_hmac_algo_and_list_auth() -> None:
    net, a, b = _pair({1: KEY}, {1: KEY})
    net.record = True
    _established(net, a, b)
    init = parse_packet(net.sent[0][3]).chunks[0]
    ack = parse_packet(net.sent[1][3]).chunks[0]
    assert isinstance(init, InitChunk) and isinstance(ack, InitAckChunk)
    for chunk in (init, ack):
        kinds = {type(p): p for p in chunk.parameters}
        random_param = kinds[RandomParameter]
        assert isinstance(random_param, RandomParameter) and len(random_param.random) == 32
        hmacs = kinds[HmacAlgorithmParameter]
        assert isinstance(hmacs, HmacAlgorithmParameter)
        assert hmacs.hmac_ids == (HMAC_SHA256, HMAC_SHA1)  # §3.3: SHA-1 listed
        chunk_list = kinds[ChunkListParameter]
        assert isinstance(chunk_list, ChunkListParameter)
        assert set(chunk_list.chunk_types) == set(REQUIRED_CHUNKS)
        assert not {1, 2, 14, 15} & set(chunk_list.chunk_types)  # §3.2: never listed
        ext = kinds[SupportedExtensionsParameter]
        assert isinstance(ext, SupportedExtensionsParameter) and 0x0F in ext.chunk_types


def test_unkeyed_endpoint_offers_no_auth() -> None:
    net, a, b = _pair(None, None)
    net.record = True
    _established(net, a, b)
    init = parse_packet(net.sent[0][3]).chunks[0]
    assert isinstance(init, InitChunk)
    assert not any(
        isinstance(p, (RandomParameter, ChunkListParameter, HmacAlgorithmParameter))
        for p in init.parameters
    )
    assert all(15 not in [c.chunk_type for c in parse_packet(d).chunks] for *_, d in net.sent)


def test_association_key_orders_vectors_numerically_section_6_1() -> None:
    small, large = b"\x00\x01\xff", b"\x00\x02\x00"
    assert association_key(b"K", large, small) == b"K" + small + large
    assert association_key(b"K", small, large) == b"K" + small + large
    # Equal as numbers, different lengths: the shorter first.
    assert association_key(b"K", b"\x00\x00\x05", b"\x05") == b"K\x05\x00\x00\x05"
    assert association_key(b"K", b"\x05", b"\x00\x00\x05") == b"K\x05\x00\x00\x05"
    # Identical vectors: either order gives the same bytes.
    assert association_key(b"", b"ab", b"ab") == b"abab"


def test_both_sides_derive_the_same_association_key() -> None:
    keys = AuthKeys({1: KEY})
    rng = random.Random(5)
    mine = AuthParams.local(lambda n: rng.randbytes(n))
    theirs = AuthParams.local(lambda n: rng.randbytes(n))
    ours = AssociationAuth(keys, mine, theirs)
    peer = AssociationAuth(keys, theirs, mine)
    packet = ours.serialize(1, 2, 3, [DataChunk(1, 0, 0, 0, b"x")])
    auth = parse_packet(packet).chunks[0]
    assert isinstance(auth, AuthChunk)
    assert peer.verify(auth) is None
    # The key vector is RANDOM, CHUNKS, HMAC-ALGO as sent, without padding (§6.1).
    assert mine.vector == b"".join(p.serialize() for p in mine.parameters())
    assert mine.vector.startswith(struct.pack("!HH", 0x8002, 36))


def test_peer_without_sha1_or_with_a_short_random_is_refused() -> None:
    no_sha1 = [RandomParameter(bytes(32)), HmacAlgorithmParameter((HMAC_SHA256,))]
    assert "SHA1" in str(AuthParams.find(no_sha1))
    short = [RandomParameter(bytes(16)), HmacAlgorithmParameter((HMAC_SHA1,))]
    assert "16 bytes" in str(AuthParams.find(short))
    assert "no SCTP-AUTH" in str(AuthParams.find([]))


def test_sha1_is_used_when_the_peer_only_lists_sha1() -> None:
    keys = AuthKeys({1: KEY})
    rng = random.Random(6)
    mine = AuthParams.local(lambda n: rng.randbytes(n))
    theirs = AuthParams(rng.randbytes(32), REQUIRED_CHUNKS, (HMAC_SHA1,))
    ours = AssociationAuth(keys, mine, theirs)
    assert ours.send_hmac_id == HMAC_SHA1 and ours.overhead == 28
    auth = parse_packet(ours.serialize(1, 2, 3, [SackChunk(1, 1500, (), ())])).chunks[0]
    assert isinstance(auth, AuthChunk) and auth.hmac_id == HMAC_SHA1 and len(auth.hmac) == 20
    # §6.2: the HMAC over the AUTH chunk with a zeroed HMAC field and what follows it.
    key = association_key(KEY, theirs.vector, mine.vector)
    assert auth.hmac == hmac.new(key, auth.covered, hashlib.sha1).digest()
    assert AssociationAuth(keys, theirs, mine).verify(auth) is None


# --- §6.2 sending ---------------------------------------------------------------------------


def test_auth_goes_before_the_chunks_it_covers_and_only_when_needed() -> None:
    keys = AuthKeys({1: KEY})
    rng = random.Random(7)
    mine = AuthParams.local(lambda n: rng.randbytes(n))
    theirs = AuthParams(rng.randbytes(32), (0, 3), (HMAC_SHA256, HMAC_SHA1))
    ours = AssociationAuth(keys, mine, theirs)
    heartbeat_only = parse_packet(ours.serialize(1, 2, 3, [AbortChunk()]))
    assert [c.chunk_type for c in heartbeat_only.chunks] == [6]  # peer did not ask for ABORT
    cookie_first = parse_packet(
        ours.serialize(1, 2, 3, [CookieEchoChunk(b"c" * 8), DataChunk(1, 0, 0, 0, b"x")])
    )
    # COOKIE ECHO not on the peer's list: it stays first, AUTH follows it.
    assert [c.chunk_type for c in cookie_first.chunks] == [10, 15, 0]


# --- §6.3 receiving -------------------------------------------------------------------------


def _filter_fixture() -> tuple[AssociationAuth, AssociationAuth]:
    keys = AuthKeys({1: KEY, 2: OTHER_KEY})
    rng = random.Random(8)
    mine = AuthParams.local(lambda n: rng.randbytes(n))
    theirs = AuthParams.local(lambda n: rng.randbytes(n))
    return AssociationAuth(keys, mine, theirs), AssociationAuth(keys, theirs, mine)


def test_required_chunks_without_auth_are_dropped_and_counted() -> None:
    _, receiver = _filter_fixture()
    drops = DropCounter()
    data = DataChunk(1, 0, 0, 0, b"x")
    kept, error = receiver.filter([data, SackChunk(1, 1500, (), ())], 0, drops)
    assert kept == [] and error is None and drops["auth_missing"] == 2
    # A chunk type we do not require (PAD, 0x84) passes unauthenticated.
    from netchan.transport.sctp.packet import PadChunk

    kept, _ = receiver.filter([PadChunk(4)], 0, drops)
    assert kept == [PadChunk(4)]


def test_unknown_key_and_unsupported_hmac() -> None:
    sender, receiver = _filter_fixture()
    sender.keys.set_active_key(2)
    packet = parse_packet(sender.serialize(1, 2, 3, [DataChunk(1, 0, 0, 0, b"x")]))
    drops = DropCounter()
    kept, _ = receiver.filter(packet.chunks, 0, drops)
    assert len(kept) == 1 and receiver.peer_key_id == 2  # both keys held: accepted
    receiver.keys.set_active_key(1)
    receiver.keys.remove_key(2)  # shared store: gone for the sender too
    kept, _ = receiver.filter(packet.chunks, 0, drops)
    assert kept == [] and drops["auth_unknown_key"] == 1
    # §4.1/§6.3: an HMAC identifier we did not list: dropped, answered with an ERROR.
    auth = packet.chunks[0]
    assert isinstance(auth, AuthChunk)
    bogus = AuthChunk(1, 2, auth.hmac, auth.packet, auth.offset)
    kept, error = receiver.filter([bogus, *packet.chunks[1:]], 0, drops)
    assert kept == [] and drops["auth_unsupported_hmac"] == 1
    assert isinstance(error, ErrorChunk)
    assert error.causes == (UnsupportedHmacIdentifierCause(2),)


def test_key_store_rules() -> None:
    keys = AuthKeys({3: KEY, 1: OTHER_KEY})
    assert keys.active_key_id == 1 and keys.key_ids == (1, 3)
    with pytest.raises(ValueError, match="active"):
        keys.remove_key(1)
    with pytest.raises(KeyError):
        keys.set_active_key(9)
    with pytest.raises(ValueError):
        keys.add_key(70000, KEY)
    with pytest.raises(ValueError):
        AuthKeys({1: KEY}, active=2)
    with pytest.raises(ValueError):
        Options(auth_keys={})
    with pytest.raises(ValueError):
        Options(auth_keys={1: b""})
    with pytest.raises(ValueError):
        Options(auth_keys={1: KEY}, auth_active_key=2)


# --- end to end -----------------------------------------------------------------------------


def test_keyed_pair_transfers_and_every_data_and_sack_is_authenticated() -> None:
    net, a, b = _pair({1: KEY}, {1: KEY})
    net.record = True
    assoc, peer = _established(net, a, b)
    assert assoc.authenticated and peer.authenticated
    for i in range(20):
        assoc.send(bytes([i]) * (100 + 300 * i), stream=i % 3, now=net.now)
    net.run_until(lambda: len(net.events_of(B_ADDR, ev.MessageReceived)) == 20, 30.0)
    got = sorted(m.data for m in net.events_of(B_ADDR, ev.MessageReceived))
    assert got == sorted(bytes([i]) * (100 + 300 * i) for i in range(20))
    assert assoc.peer_key_id == 1 and peer.peer_key_id == 1
    covered = {0, 3, 64}
    for *_, data in net.sent:
        types = [c.chunk_type for c in parse_packet(data).chunks]
        if covered & set(types):
            assert 15 in types and types.index(15) < min(
                types.index(t) for t in covered & set(types)
            )
        assert len(data) <= 1200  # the AUTH chunk fits the PMTU
    assert not a.statistics()["drops"] and not b.statistics()["drops"]


def test_keyless_peer_is_refused_with_abort_at_once() -> None:
    net, a, b = _pair(None, {1: KEY})
    assoc = a.connect(B_ADDR, 6000, 0.0)
    net.run_until(lambda: bool(net.events_of(A_ADDR, ev.AssociationAborted)), 1.0)
    (aborted,) = net.events_of(A_ADDR, ev.AssociationAborted)
    assert "SCTP-AUTH" in aborted.reason and aborted.by_peer
    assert net.now < 0.1 and assoc.state is State.CLOSED
    assert b.statistics()["drops"] == {"auth_refused": 1}
    assert b.associations_created == 0


def test_keyed_endpoint_refuses_an_init_ack_without_auth() -> None:
    net, a, _b = _pair({1: KEY}, None)
    a.connect(B_ADDR, 6000, 0.0)
    net.run_until(lambda: bool(net.events_of(A_ADDR, ev.AssociationAborted)), 1.0)
    (aborted,) = net.events_of(A_ADDR, ev.AssociationAborted)
    assert "no SCTP-AUTH" in aborted.reason and not aborted.by_peer
    net.run(1.0)
    assert not net.events_of(B_ADDR, ev.AssociationEstablished)


@pytest.mark.parametrize(
    ("keys_a", "reason"),
    [({1: OTHER_KEY}, "auth_bad_hmac"), ({2: KEY}, "auth_unknown_key")],
    ids=["wrong-key", "wrong-key-id"],
)
def test_peer_with_another_key_never_associates_and_nothing_is_delivered(
    keys_a: dict[int, bytes], reason: str
) -> None:
    net, a, b = _pair(keys_a, {1: KEY})
    assoc = a.connect(B_ADDR, 6000, 0.0)
    assoc.send(b"must not arrive", stream=0, now=0.0)
    net.run_until(lambda: bool(net.events_of(A_ADDR, ev.AssociationAborted)), 1.0)
    (aborted,) = net.events_of(A_ADDR, ev.AssociationAborted)
    assert "SCTP-AUTH failed" in aborted.reason
    net.run(2.0)
    assert not net.events_of(B_ADDR, ev.AssociationEstablished)
    assert not net.events_of(B_ADDR, ev.MessageReceived)
    assert b.statistics()["drops"] == {reason: 1} and b.associations_created == 0


def test_cookie_echo_without_auth_is_not_accepted() -> None:
    net, a, b = _pair({1: KEY}, {1: KEY})
    net.record = True

    def strip_auth(src: object, dst: object, data: bytes) -> bool:
        chunks = parse_packet(data).chunks
        if isinstance(chunks[0], AuthChunk) and isinstance(chunks[1], CookieEchoChunk):
            stripped = serialize_packet(*struct.unpack("!HHI", data[:8]), chunks[1:])
            b.receive_datagram(stripped, A_ADDR, net.now)
            return True
        return False

    net.drop_filter = strip_auth
    a.connect(B_ADDR, 6000, 0.0)
    net.run(0.3)
    assert b.associations_created == 0
    assert b.statistics()["drops"]["auth_missing"] >= 1


def test_data_chunk_with_one_bit_flipped_is_dropped_and_counted() -> None:
    net, a, b = _pair({1: KEY}, {1: KEY})
    assoc, _peer = _established(net, a, b)
    assoc.send(b"pay 100 to alice", stream=0, now=net.now)
    out = a.datagrams_to_send(net.now)
    (captured,) = [d for d, _ in out if 64 in [c.chunk_type for c in parse_packet(d).chunks]]
    chunks = parse_packet(captured).chunks
    assert isinstance(chunks[0], AuthChunk) and isinstance(chunks[1], IDataChunk)
    at = captured.index(b"alice")
    tampered = _fix_crc(captured[:at] + bytes([captured[at] ^ 0x01]) + captured[at + 1 :])
    b.receive_datagram(tampered, A_ADDR, net.now)
    assert b.statistics()["drops"] == {"auth_bad_hmac": 1}
    assert b.next_event() is None  # nothing delivered
    b.receive_datagram(captured, A_ADDR, net.now)  # the original still verifies
    event = b.next_event()
    assert isinstance(event, ev.MessageReceived) and event.data == b"pay 100 to alice"


def test_forged_abort_without_auth_is_ignored_once_established() -> None:
    net, a, b = _pair({1: KEY}, {1: KEY})
    assoc, _peer = _established(net, a, b)
    forged = serialize_packet(6000, 5000, assoc.local_tag, [AbortChunk()])
    a.receive_datagram(forged, B_ADDR, net.now)
    assert assoc.state is State.ESTABLISHED
    assert a.statistics()["drops"] == {"auth_missing": 1}


@pytest.mark.parametrize("loss", [0.1, 0.25])
def test_transfer_under_loss_with_key_rotation_mid_transfer_loses_nothing(loss: float) -> None:
    link = Link(loss=loss, duplicate=0.05, reorder=0.1, delay=0.005, jitter=0.002)
    net, a, b = _pair(
        {1: KEY},
        {1: KEY},
        seed=int(loss * 100),
        link=link,
        heartbeat_interval=5.0,
        max_init_retransmits=30,
        association_max_retransmissions=30,
        path_max_retransmissions=30,
    )
    assoc, peer = _established(net, a, b)
    rng = random.Random(11)
    work = [bytes([i % 251]) * rng.randrange(1, 5000) for i in range(300)]
    sent = 0
    new_key = hashlib.sha256(b"next").digest()
    phase = 0
    used_new_key = False

    def pump() -> bool:
        nonlocal sent, phase, used_new_key
        while sent < len(work):
            try:
                assoc.send(work[sent], stream=sent % 7, now=net.now)
            except BufferError:
                break
            sent += 1
        done = len(net.events_of(B_ADDR, ev.MessageReceived))
        # Rotation in steps while data flows: add the new key on both, switch a, switch b,
        # then remove the old key from both.
        if phase == 0 and done >= 50:
            a.auth_keys.add_key(2, new_key)  # type: ignore[union-attr]
            b.auth_keys.add_key(2, new_key)  # type: ignore[union-attr]
            phase = 1
        elif phase == 1 and done >= 100:
            a.auth_keys.set_active_key(2)  # type: ignore[union-attr]
            phase = 2
        elif phase == 2 and done >= 150:
            b.auth_keys.set_active_key(2)  # type: ignore[union-attr]
            used_new_key = peer.peer_key_id == 2
            phase = 3
        elif phase == 3 and done >= 200:
            a.auth_keys.remove_key(1)  # type: ignore[union-attr]
            b.auth_keys.remove_key(1)  # type: ignore[union-attr]
            phase = 4
        return done == len(work)

    net.run_until(pump, timeout=600.0)
    got = [m.data for m in net.events_of(B_ADDR, ev.MessageReceived)]
    assert sorted(got) == sorted(work)
    for stream in range(7):
        expected = [w for i, w in enumerate(work) if i % 7 == stream]
        assert [
            m.data for m in net.events_of(B_ADDR, ev.MessageReceived) if m.stream == stream
        ] == (expected)
    assert phase == 4 and used_new_key
    assert assoc.peer_key_id == 2 and peer.peer_key_id == 2
    assert assoc.state is State.ESTABLISHED and peer.state is State.ESTABLISHED
    for ep in (a, b):
        drops = ep.statistics()["drops"]
        assert not {k for k in drops if k.startswith("auth")}, drops


def test_an_endpoint_with_several_keys_answers_each_peer_with_its_key() -> None:
    # b holds two keys (say "admin" 1 and "workers" 2), active 1; a only holds key 2.
    net, a, b = _pair({2: OTHER_KEY}, {1: KEY, 2: OTHER_KEY})
    assoc, peer = _established(net, a, b)
    assoc.send(b"job", stream=0, now=net.now)
    net.run_until(lambda: bool(net.events_of(B_ADDR, ev.MessageReceived)), 5.0)
    peer.send(b"result", stream=0, now=net.now)
    net.run_until(lambda: bool(net.events_of(A_ADDR, ev.MessageReceived)), 5.0)
    assert peer.peer_key_id == 2 and assoc.peer_key_id == 2
    assert not a.statistics()["drops"] and not b.statistics()["drops"]


def test_init_collision_with_auth_sets_up_one_authenticated_association() -> None:
    # §5.2.1 / §5.2.4: both sides send INIT at once; the cookies carry the key vectors.
    net, a, b = _pair({1: KEY}, {1: KEY}, seed=4)
    a_assoc = a.connect(B_ADDR, 6000, 0.0)
    b_assoc = b.connect(A_ADDR, 5000, 0.0)
    net.run_until(
        lambda: a_assoc.state is State.ESTABLISHED and b_assoc.state is State.ESTABLISHED, 10.0
    )
    a_assoc.send(b"from a", stream=0, now=net.now)
    b_assoc.send(b"from b", stream=0, now=net.now)
    net.run_until(
        lambda: bool(
            net.events_of(A_ADDR, ev.MessageReceived) and net.events_of(B_ADDR, ev.MessageReceived)
        ),
        10.0,
    )
    assert a_assoc.authenticated and b_assoc.authenticated
    assert not {k for ep in (a, b) for k in ep.statistics()["drops"] if k.startswith("auth")}


def test_restart_of_a_keyed_peer_is_authenticated_with_the_new_key_vectors() -> None:
    # §5.2.4 A: the peer's process restarts (new endpoint, same address) and associates again;
    # its AUTH before the COOKIE ECHO is checked with the vectors the new cookie carries.
    net, a, b = _pair({1: KEY}, {1: KEY}, seed=5)
    _assoc, peer = _established(net, a, b)
    reborn = SctpEndpoint(
        Options(auth_keys={1: KEY}), local_port=5000, rng=random.Random(99), now=net.now
    )
    net.add(A_ADDR, reborn)
    again = reborn.connect(B_ADDR, 6000, net.now)
    net.run_until(lambda: bool(net.events_of(B_ADDR, ev.AssociationRestarted)), 10.0)
    again.send(b"after restart", stream=0, now=net.now)
    net.run_until(
        lambda: any(m.data == b"after restart" for m in net.events_of(B_ADDR, ev.MessageReceived)),
        10.0,
    )
    assert peer.authenticated and peer.peer_key_id == 1


def test_restart_by_a_peer_without_the_key_is_refused() -> None:
    net, a, b = _pair({1: KEY}, {1: KEY}, seed=6)
    _assoc, peer = _established(net, a, b)
    impostor = SctpEndpoint(
        Options(auth_keys={1: OTHER_KEY}), local_port=5000, rng=random.Random(98), now=net.now
    )
    net.add(A_ADDR, impostor)
    impostor.connect(B_ADDR, 6000, net.now)
    net.run(3.0)
    assert not net.events_of(B_ADDR, ev.AssociationRestarted)
    assert peer.state is State.ESTABLISHED  # the impostor's cookie did not replace it
    assert b.statistics()["drops"].get("auth_bad_hmac", 0) >= 1


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=4))
def test_mutated_authenticated_packets_never_deliver_altered_data(
    flips: list[tuple[int, int]],
) -> None:
    # Any change to a captured authenticated packet (CRC fixed up, so only AUTH can catch it)
    # is dropped and counted, never delivered altered, never an internal error.
    net, a, b = _pair({1: KEY}, {1: KEY}, seed=12)
    assoc, _peer = _established(net, a, b)
    assoc.send(b"the original payload", stream=0, now=net.now)
    (captured,) = [
        d
        for d, _ in a.datagrams_to_send(net.now)
        if 64 in [c.chunk_type for c in parse_packet(d).chunks]
    ]
    data = bytearray(captured)
    for offset, xor in flips:
        data[12 + offset % (len(data) - 12)] ^= xor  # anything after the common header
    b.receive_datagram(_fix_crc(bytes(data)), A_ADDR, net.now)
    b.receive_datagram(captured, A_ADDR, net.now)
    delivered = []
    while (event := b.next_event()) is not None:
        if isinstance(event, ev.MessageReceived):
            delivered.append(event.data)
    assert delivered == [b"the original payload"]
    drops = b.statistics()["drops"]
    assert "internal_error" not in drops
    if bytes(data) != captured:
        assert sum(drops.values()) >= 1


def test_the_largest_peer_parameters_still_fit_our_cookie() -> None:
    # A peer listing every chunk type and 16 HMAC identifiers: both vectors in the cookie.
    keys = AuthKeys({1: KEY})
    rng = random.Random(3)
    peer = AuthParams.find(
        [
            RandomParameter(rng.randbytes(32)),
            ChunkListParameter(tuple(range(256))),
            HmacAlgorithmParameter((HMAC_SHA1, *range(100, 115))),
        ]
    )
    assert isinstance(peer, AuthParams)
    auth = AssociationAuth(keys, AuthParams.local(rng.randbytes), peer)
    from netchan.transport.sctp.cookie import CookieContents, CookieFactory

    factory = CookieFactory(rng, 60.0, 0.0)
    cookie = factory.make(CookieContents(1, 2, 3, 4, 5, 6, 7, 8, 9, auth=auth.cookie_bytes()), 0.0)
    restored = AssociationAuth.from_cookie(keys, factory.open(cookie, 0.0).auth)
    assert restored is not None and restored.peer == peer and restored.local == auth.local
    too_many = HmacAlgorithmParameter((HMAC_SHA1, *range(100, 116)))
    assert "> 16" in str(AuthParams.find([RandomParameter(bytes(32)), too_many]))
