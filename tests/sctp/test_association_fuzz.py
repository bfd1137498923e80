"""Hostile but well-formed chunks with the right verification tag never break the stack.

The endpoint swallows exceptions as ``internal_error`` drops so the driver survives; this test
makes sure there are none: every chunk sequence is handled by the protocol logic itself.
"""

from __future__ import annotations

import random

import pytest

from netchan.transport.sctp.association import Association
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    IDataChunk,
    InitAckChunk,
    InitChunk,
    InvalidStreamIdentifierCause,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    StaleCookieErrorCause,
    StateCookieParameter,
    UnknownChunk,
    serialize_packet,
)
from tests.sctp.conftest import A_ADDR, B_ADDR, Pair, make_pair


def _random_chunk(
    rng: random.Random, base_tsn: int, peer_cum: int, interleaving: bool = False
) -> Chunk:
    kind = rng.randrange(14)
    tsn = (base_tsn + rng.randrange(-5, 40)) & 0xFFFFFFFF
    # User data in the negotiated kind, and now and then in the other one (RFC 8260
    # §2.2.3: a protocol violation that aborts).
    if kind <= 3 and interleaving != (rng.random() < 0.03):
        return IDataChunk(
            tsn=tsn,
            stream_id=rng.choice([0, 1, 2, 65534]),
            mid=rng.randrange(0, 6),
            fsn=rng.randrange(0, 4),
            ppid=rng.getrandbits(32),
            user_data=bytes(rng.randrange(0, 3)) * rng.randrange(0, 300),
            unordered=rng.random() < 0.3,
            beginning=rng.random() < 0.7,
            ending=rng.random() < 0.7,
            immediate=rng.random() < 0.1,
        )
    if kind <= 3:
        return DataChunk(
            tsn=tsn,
            stream_id=rng.choice([0, 1, 2, 65534]),
            ssn=rng.randrange(0, 6),
            ppid=rng.getrandbits(32),
            user_data=bytes(rng.randrange(0, 3)) * rng.randrange(0, 300),
            unordered=rng.random() < 0.3,
            beginning=rng.random() < 0.7,
            ending=rng.random() < 0.7,
            immediate=rng.random() < 0.1,
        )
    if kind <= 5:
        cum = (peer_cum + rng.randrange(-3, 30)) & 0xFFFFFFFF
        gaps = tuple(sorted({(s, s + rng.randrange(0, 3)) for s in rng.sample(range(2, 40), 3)}))
        return SackChunk(
            cumulative_tsn_ack=cum,
            a_rwnd=rng.choice([0, 1500, 1 << 20]),
            gap_ack_blocks=gaps if rng.random() < 0.5 else (),
            duplicate_tsns=(tsn,) if rng.random() < 0.2 else (),
        )
    if kind == 6:
        return HeartbeatChunk(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 20))))
    if kind == 7:
        return HeartbeatAckChunk(bytes(rng.getrandbits(8) for _ in range(16)))
    if kind == 8:
        return ShutdownChunk((peer_cum + rng.randrange(-3, 5)) & 0xFFFFFFFF)
    if kind == 9:
        return rng.choice([ShutdownAckChunk(), CookieAckChunk()])
    if kind == 10:
        return ErrorChunk(
            causes=(rng.choice([StaleCookieErrorCause(5), InvalidStreamIdentifierCause(3)]),)
        )
    if kind == 11:
        return InitAckChunk(
            initiate_tag=rng.getrandbits(32),
            a_rwnd=rng.choice([0, 4096]),
            outbound_streams=rng.randrange(0, 3),
            inbound_streams=rng.randrange(0, 3),
            initial_tsn=rng.getrandbits(32),
            parameters=(StateCookieParameter(b"junk"),) if rng.random() < 0.5 else (),
        )
    if kind == 12:
        return CookieEchoChunk(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 100))))
    return UnknownChunk(rng.choice([0x3E, 0x7E, 0xBE, 0xFE]), 0, b"??")


def _connect_and_load(p: Pair, rng: random.Random) -> tuple[Association, Association]:
    assoc, peer = p.connect()
    for i in range(20):
        assoc.send(b"x" * (50 * i + 1), stream=i % 3, ppid=0, unordered=False, now=p.net.now)
        peer.send(b"y" * (70 * i + 1), stream=i % 3, ppid=0, unordered=True, now=p.net.now)
    p.net.run(rng.random() * 0.05)
    return assoc, peer


@pytest.mark.parametrize("interleaving", [False, True], ids=["DATA", "I-DATA"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_chunk_sequences_never_raise(seed: int, interleaving: bool) -> None:
    rng = random.Random(seed)
    options = Options(heartbeat_interval=0.5, interleaving=interleaving)
    p = make_pair(seed=90 + seed, options=options)
    assoc, peer = _connect_and_load(p, rng)
    hostile_packets_on_open_association = 0
    associations = 1
    for _ in range(600):
        if peer.closed or assoc.closed:
            p.net.run(1.0)
            p.net.events[A_ADDR].clear()
            p.net.events[B_ADDR].clear()
            assoc, peer = _connect_and_load(p, rng)
            associations += 1
        if rng.random() < 0.02:
            chunks: list[Chunk] = [
                InitChunk(
                    initiate_tag=rng.getrandbits(32),
                    a_rwnd=65536,
                    outbound_streams=rng.randrange(0, 4),
                    inbound_streams=3,
                    initial_tsn=rng.getrandbits(32),
                )
            ]
            vtag = 0
        else:
            chunks = [
                _random_chunk(
                    rng, peer.peer_initial_tsn + 20, peer.local_initial_tsn + 20, interleaving
                )
                for _ in range(rng.randrange(1, 4))
            ]
            vtag = peer.local_tag if rng.random() < 0.9 else rng.getrandbits(32)
        if rng.random() < 0.01:
            chunks.append(AbortChunk(tag_reflected=rng.random() < 0.5))
        if rng.random() < 0.01:
            chunks = [ShutdownCompleteChunk(tag_reflected=rng.random() < 0.5)]
        hostile_packets_on_open_association += not peer.closed
        p.b.receive_datagram(serialize_packet(5000, 6000, vtag, chunks), A_ADDR, p.net.now)
        p.net.run(rng.random() * 0.05)
    p.net.run(30.0)
    for ep in (p.a, p.b):
        assert "internal_error" not in ep.statistics()["drops"], ep.statistics()
    assert hostile_packets_on_open_association == 600
    assert associations >= 2


def test_mutated_real_packets_with_valid_checksums_never_raise() -> None:
    # Packets of the association's own traffic (right ports and tags), mutated byte-wise
    # and re-checksummed so they pass the CRC and reach the parser and the state machine.
    from netchan.transport.sctp.packet import compute_checksum

    rng = random.Random(98)
    p = make_pair(seed=97, options=Options(heartbeat_interval=0.2))
    assoc, peer = _connect_and_load(p, rng)
    reached = 0
    for _ in range(1500):
        if assoc.closed or peer.closed:
            p.net.run(1.0)
            p.net.events[A_ADDR].clear()
            p.net.events[B_ADDR].clear()
            p.net.sent.clear()
            assoc, peer = _connect_and_load(p, rng)
        if not p.net.sent:
            p.net.run(0.05)
            continue
        _, src, _, data = rng.choice(p.net.sent[-50:])
        raw = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(12, len(raw))] = rng.getrandbits(8)
        raw[8:12] = b"\x00\x00\x00\x00"
        raw[8:12] = compute_checksum(bytes(raw)).to_bytes(4, "little")
        target = p.b if src == A_ADDR else p.a
        before = target.statistics()["drops"].get("parse_error", 0)
        target.receive_datagram(bytes(raw), src, p.net.now)
        reached += target.statistics()["drops"].get("parse_error", 0) == before
        p.net.run(rng.random() * 0.01)
    p.net.run(10.0)
    for ep in (p.a, p.b):
        assert "internal_error" not in ep.statistics()["drops"], ep.statistics()
    assert reached > 500  # most mutations parsed and went past the parser
