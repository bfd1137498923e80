"""Path MTU discovery (RFC 8899 Datagram PLPMTUD, §6.2 for SCTP): the state machine alone,
then two associations on the in-memory network with a per-link MTU (datagrams above it are
dropped unless marked Fragmentable) and optional ICMP Packet Too Big hints."""

from __future__ import annotations

import random
import struct

import pytest

from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import HeartbeatAckChunk, HeartbeatChunk, PadChunk
from netchan.transport.sctp.packet import parse_packet as parse
from netchan.transport.sctp.plpmtud import (
    MAX_PROBES,
    PROBE_INFO,
    SEARCH_STEP,
    Fragmentable,
    PathMtuDiscovery,
    PlpmtudState,
)
from tests.sctp.conftest import A_ADDR, B_ADDR, Pair, make_pair
from tests.sctp.netsim import Link

HEARTBEAT_ACK = 5
PROBE_TIMEOUT = 1.0


def _machine(max_plpmtu: int = 9000, raise_interval: float = 600.0) -> PathMtuDiscovery:
    return PathMtuDiscovery(
        base=1200,
        max_plpmtu=max_plpmtu,
        probe_timeout=PROBE_TIMEOUT,
        raise_interval=raise_interval,
        rng=random.Random(7),
    )


def _ack(m: PathMtuDiscovery, info: bytes, now: float) -> bool:
    return m.handle_ack(info, now)


def _probe(m: PathMtuDiscovery, now: float) -> tuple[int, bytes]:
    probe = m.take_probe(now)
    assert probe is not None
    return probe


def _fail(m: PathMtuDiscovery, now: float) -> float:
    """Let the outstanding probe's PROBE_TIMER expire; returns the new time."""
    deadline = m.timer.deadline
    assert deadline is not None
    assert m.timer.expired(deadline)
    m.handle_timeout(deadline)
    return deadline


# --- the state machine alone (RFC 8899 §5.2) -------------------------------------------------


def test_base_then_max_first_completes_in_two_probes() -> None:
    m = _machine()
    assert m.state is PlpmtudState.DISABLED and m.plpmtu == 1200
    m.start(0.0)
    assert m.state is PlpmtudState.BASE and m.probe_due
    size, info = _probe(m, 0.0)
    assert size == 1200 and m.timer.deadline == PROBE_TIMEOUT
    assert m.take_probe(0.0) is None  # one probe outstanding at a time (§3 item 7)
    assert _ack(m, info, 0.01)
    assert m.state is PlpmtudState.SEARCHING and m.plpmtu == 1200
    size, info = _probe(m, 0.01)
    assert size == 9000  # MAX_PLPMTU is tried first
    assert _ack(m, info, 0.02)
    assert m.state is PlpmtudState.SEARCH_COMPLETE and m.plpmtu == 9000
    assert not m.probe_due and m.timer.deadline == pytest.approx(600.02)


def test_stale_forged_or_duplicate_acks_are_ignored() -> None:
    m = _machine()
    m.start(0.0)
    size, info = _probe(m, 0.0)
    nonce, _ = PROBE_INFO.unpack(info)
    assert not _ack(m, PROBE_INFO.pack(nonce ^ 1, size), 0.01)  # wrong nonce
    assert not _ack(m, PROBE_INFO.pack(nonce, size + 4), 0.01)  # wrong size
    assert not _ack(m, info + b"x", 0.01)  # not the probe layout
    assert m.state is PlpmtudState.BASE
    assert _ack(m, info, 0.01)
    assert not _ack(m, info, 0.02)  # a duplicate confirms nothing more
    assert m.probed_size == 9000


def test_a_size_is_given_up_after_max_probes_then_the_search_bisects() -> None:
    m = _machine(max_plpmtu=9000)
    m.start(0.0)
    _size, info = _probe(m, 0.0)
    _ack(m, info, 0.0)
    now = 0.0
    for attempt in range(MAX_PROBES):
        size, _ = _probe(m, now)
        assert size == 9000, attempt  # the same size until MAX_PROBES failed (§5.1.2)
        now = _fail(m, now)
    size, info = _probe(m, now)
    assert size == (1200 + 9000) // 2 & ~3
    assert m.plpmtu == 1200 and m.state is PlpmtudState.SEARCHING
    _ack(m, info, now)
    assert m.plpmtu == size
    # Bisection between the confirmed size and the failed one, down to SEARCH_STEP.
    for _ in range(40):
        if m.state is PlpmtudState.SEARCH_COMPLETE:
            break
        size, info = _probe(m, now)
        assert m.plpmtu < size < 9000
        _ack(m, info, now)
    assert m.state is PlpmtudState.SEARCH_COMPLETE
    assert 9000 - SEARCH_STEP <= m.plpmtu < 9000


def test_unconfirmed_base_is_error_until_a_base_probe_is_answered() -> None:
    m = _machine()
    m.start(0.0)
    now = 0.0
    for _ in range(MAX_PROBES):
        assert _probe(m, now)[0] == 1200
        now = _fail(m, now)
    # §5.2: BASE_PLPMTU unconfirmed after MAX_PROBES: ERROR, IP fragmentation allowed.
    assert m.state is PlpmtudState.ERROR and m.fragmentation_needed
    for _ in range(5):  # ERROR keeps probing BASE_PLPMTU
        assert _probe(m, now)[0] == 1200
        now = _fail(m, now)
    assert m.state is PlpmtudState.ERROR
    _size, info = _probe(m, now)
    assert _ack(m, info, now)
    assert m.state is PlpmtudState.SEARCHING and not m.fragmentation_needed


def test_raise_timer_searches_again() -> None:
    m = _machine(raise_interval=600.0)
    m.start(0.0)
    now = 0.0
    _ack(m, _probe(m, now)[1], now)
    for _ in range(MAX_PROBES):
        _probe(m, now)
        now = _fail(m, now)
    for _ in range(40):
        if m.state is PlpmtudState.SEARCH_COMPLETE:
            break
        size, info = _probe(m, now)
        if size > 5000:
            for _ in range(MAX_PROBES):
                now = _fail(m, now)
                if m.probed_size != size:
                    break
                _probe(m, now)
        else:
            _ack(m, info, now)
    assert m.state is PlpmtudState.SEARCH_COMPLETE and m.plpmtu <= 5000
    low = m.plpmtu
    # §5.1.1 PMTU_RAISE_TIMER: after 600 s the search reopens, MAX_PLPMTU first again.
    now = _fail(m, now)
    assert m.state is PlpmtudState.SEARCHING and m.plpmtu == low
    size, info = _probe(m, now)
    assert size == 9000
    _ack(m, info, now)
    assert m.plpmtu == 9000 and m.state is PlpmtudState.SEARCH_COMPLETE


def test_black_hole_falls_back_to_base_and_searches_below_the_failed_size() -> None:
    m = _machine()
    m.start(0.0)
    _ack(m, _probe(m, 0.0)[1], 0.0)
    _ack(m, _probe(m, 0.0)[1], 0.0)
    assert m.plpmtu == 9000
    assert m.black_hole(1.0)
    assert m.state is PlpmtudState.BASE and m.plpmtu == 1200 and m.black_holes == 1
    assert not m.black_hole(1.0)  # nothing above BASE_PLPMTU to blame any more
    _ack(m, _probe(m, 1.0)[1], 1.0)
    size, _ = _probe(m, 1.0)
    assert size < 9000  # the size that just failed is not probed again at once


@pytest.mark.parametrize(
    ("ptb", "state", "plpmtu", "next_probe"),
    [
        (400, PlpmtudState.SEARCHING, 5000, 6000),  # below MIN_PLPMTU: invalid, ignored
        (1000, PlpmtudState.ERROR, 1200, 1200),  # below BASE_PLPMTU: ERROR (§4.6.2 MAY)
        (3000, PlpmtudState.BASE, 1200, 1200),  # below the PLPMTU: black hole, BASE
        (5000, PlpmtudState.SEARCH_COMPLETE, 5000, 0),  # = PLPMTU: nothing larger passes
        (5500, PlpmtudState.SEARCHING, 5000, 5500),  # between: probe the reported size
        (6000, PlpmtudState.SEARCHING, 5000, 6000),  # >= PROBED_SIZE: inconsistent, ignored
        (20000, PlpmtudState.SEARCHING, 5000, 6000),
    ],
)
def test_packet_too_big_cases_of_rfc8899_4_6_2(
    ptb: int, state: PlpmtudState, plpmtu: int, next_probe: int
) -> None:
    m = _machine(max_plpmtu=5000 * 2)
    m.start(0.0)
    _ack(m, _probe(m, 0.0)[1], 0.0)  # BASE confirmed
    m.plpmtu = 5000  # as if 5000 had been confirmed and 6000 is being probed
    m.probed_size = 6000
    m.take_probe(0.0)
    m.packet_too_big(ptb, 0.5)
    assert m.state is state
    assert m.plpmtu == plpmtu  # a PTB never raises the PLPMTU (§4.6.2)
    assert m.probed_size == next_probe
    if ptb == 3000:
        _ack(m, _probe(m, 1.0)[1], 1.0)
        assert _probe(m, 1.0)[0] == 3000  # the search resumes at the reported size


def test_disabled_without_a_maximum() -> None:
    m = PathMtuDiscovery(
        base=1200, max_plpmtu=0, probe_timeout=1, raise_interval=600, rng=random.Random(1)
    )
    m.start(0.0)
    assert m.state is PlpmtudState.DISABLED and not m.probe_due and m.timer.deadline is None
    assert not m.packet_too_big(600, 0.0) and not m.black_hole(0.0)


# --- two associations on the in-memory network ----------------------------------------------


def _pair(link_mtu: int, *, seed: int = 5, ptb: bool = False, **options: object) -> Pair:
    opts = Options(**{"pmtu_max": 65000, **options})  # type: ignore[arg-type]
    return make_pair(seed=seed, options=opts, link=Link(delay=0.001, mtu=link_mtu, ptb=ptb))


def _complete(p: Pair, timeout: float) -> None:
    a = p.a.associations
    p.net.run_until(
        lambda: (
            all(x.statistics().pmtu_state == "SEARCH_COMPLETE" for x in a.values())
            and all(
                x.statistics().pmtu_state == "SEARCH_COMPLETE" for x in p.b.associations.values()
            )
        ),
        timeout,
    )


def _transfer(p: Pair, messages: list[bytes], timeout: float = 60.0) -> None:
    """Send ``messages`` from a to b on three streams (as the send buffer allows) and check
    that each arrives exactly once, in order per stream."""
    (assoc,) = p.a.associations.values()
    start = len(p.received())
    sent = 0
    until = p.net.now + timeout
    while len(p.received()) - start < len(messages):
        assert p.net.now < until, f"{len(p.received()) - start} of {len(messages)} delivered"
        while sent < len(messages) and assoc.send_buffer_free >= len(messages[sent]):
            assoc.send(messages[sent], stream=sent % 3, now=p.net.now)
            sent += 1
        p.net.run(0.05)
    got: dict[int, list[bytes]] = {}
    for event in p.received()[start:]:
        got.setdefault(event.stream, []).append(event.data)
    expected: dict[int, list[bytes]] = {}
    for i, message in enumerate(messages):
        expected.setdefault(i % 3, []).append(message)
    assert got == expected


def _messages(count: int, base: int = 5000) -> list[bytes]:
    return [struct.pack("!I", i) * ((base + 37 * i) // 4) for i in range(count)]


@pytest.mark.parametrize(
    ("link_mtu", "bound"),
    [
        # MAX_PLPMTU crosses the path: BASE and MAX confirmed in two round trips.
        (65000, 0.1),
        # Below MAX_PLPMTU: each failed size costs MAX_PROBES x PROBE_TIMER; bisection
        # from 65000 to 1500 fails at most about log2(64000 / 32) sizes.
        (9000, 11 * MAX_PROBES * PROBE_TIMEOUT),
        (1500, 11 * MAX_PROBES * PROBE_TIMEOUT),
    ],
)
def test_search_converges_to_the_link_mtu(link_mtu: int, bound: float) -> None:
    p = _pair(link_mtu)
    a, b = p.connect()
    start = p.net.now
    _complete(p, bound)
    assert p.net.now - start <= bound
    for assoc in (a, b):
        stats = assoc.statistics()
        assert link_mtu - SEARCH_STEP <= stats.pmtu <= link_mtu, stats
    # Data now travels in packets of the discovered size, none dropped for its size.
    too_big = p.net.too_big
    sent_before = len(p.net.sent)
    _transfer(p, _messages(30, base=20_000))
    sizes = [len(d) for _t, src, _dst, d in p.net.sent[sent_before:] if src == A_ADDR]
    assert max(sizes) == a.pmtu > 1200
    assert p.net.too_big == too_big
    assert a.statistics().retransmissions == 0


def test_peer_answers_a_padded_heartbeat_with_a_small_ack() -> None:
    p = _pair(65000)
    p.connect()
    _complete(p, 1.0)
    probes = [
        d for _t, src, _dst, d in p.net.sent if src == A_ADDR and len(d) > 1200 and b"\x84" in d
    ]
    assert probes and len(probes[-1]) == 65000
    chunks = parse(probes[-1]).chunks
    assert isinstance(chunks[0], HeartbeatChunk) and isinstance(chunks[1], PadChunk)
    acks = [
        d
        for _t, src, _dst, d in p.net.sent
        if src == B_ADDR and any(isinstance(c, HeartbeatAckChunk) for c in parse(d).chunks)
    ]
    # RFC 9260 §8.3: the ACK echoes the Heartbeat Info only; the padding stays behind.
    assert acks and max(len(d) for d in acks) < 100
    # The receiver skips PAD silently (RFC 4820 §3): no drop counted for it.
    assert "unrecognized_chunk" not in p.b.statistics()["drops"]


def test_black_hole_mid_transfer_falls_back_without_losing_a_message() -> None:
    p = _pair(9000, pmtu_max=9000)
    a, _b = p.connect()
    _complete(p, 1.0)
    assert a.pmtu == 9000
    messages = _messages(200)
    for i, message in enumerate(messages[:40]):
        a.send(message, stream=i % 3, now=p.net.now)
    p.net.run(0.003)
    # The path's MTU drops to 1500 with DATA in flight; no router reports it (black hole).
    p.net.link.mtu = 1500
    start = p.net.now
    for i, message in enumerate(messages[40:], start=40):
        while a.send_buffer_free < len(message):
            p.net.run(0.01)
        a.send(message, stream=i % 3, now=p.net.now)
    p.net.run_until(lambda: len(p.received()) == len(messages), 30.0)
    stats = a.statistics()
    # RFC 8899 §4.3: repeated T3-rtx loss at a size above BASE_PLPMTU is a black hole.
    assert stats.pmtu_black_holes == 1 and stats.t3_expiries >= 2
    # Chunks cut for 9000 went again IP-fragmented (RFC 9260 §6.9), never re-cut.
    assert p.net.fragmented >= 1
    assert p.net.now - start < 2.0  # the transfer stalled only for the two timeouts
    got: dict[int, list[bytes]] = {}
    for event in p.received():
        got.setdefault(event.stream, []).append(event.data)
    assert got == {s: messages[s::3] for s in range(3)}
    # Then the search finds the new MTU.
    _complete(p, 11 * MAX_PROBES * PROBE_TIMEOUT)
    assert 1500 - SEARCH_STEP <= a.pmtu <= 1500


def test_icmp_packet_too_big_is_used_only_with_the_right_verification_tag() -> None:
    p = _pair(9000, pmtu_max=9000)
    a, b = p.connect()
    _complete(p, 1.0)
    assert a.pmtu == 9000
    _transfer(p, _messages(3))
    sent = next(d for _t, src, _dst, d in reversed(p.net.sent) if src == A_ADDR)
    quoted = bytearray(sent[:64])
    assert int.from_bytes(quoted[4:8], "big") == b.local_tag == a.peer_tag
    # An off-path attacker guessing the tag wrong changes nothing (RFC 8899 §4.6.1).
    forged = bytes(quoted[:4]) + (a.peer_tag ^ 0x5A5A).to_bytes(4, "big") + bytes(quoted[8:])
    p.a.icmp_packet_too_big(B_ADDR, forged, 1400, p.net.now)
    p.a.icmp_packet_too_big(("10.9.9.9", 6000), bytes(quoted), 1400, p.net.now)  # wrong host
    assert a.pmtu == 9000 and a.statistics().pmtu_state == "SEARCH_COMPLETE"
    assert p.a.statistics()["drops"]["icmp_unverified"] == 2
    # The genuine report: BASE at once (§4.6.2), then the search resumes at 1400.
    p.a.icmp_packet_too_big(B_ADDR, bytes(quoted), 1400, p.net.now)
    assert a.pmtu == 1200 and a.statistics().pmtu_state == "BASE"
    p.net.link.mtu = 1400
    _complete(p, 1.0)
    assert a.pmtu == 1400


def test_ptb_from_the_path_makes_the_search_fast() -> None:
    p = _pair(9000, ptb=True)  # MAX_PLPMTU 65000, a router reports 9000
    a, b = p.connect()
    _complete(p, 0.1)
    assert a.pmtu == b.pmtu == 9000
    assert a.statistics().pmtu_probes_sent <= 4


def test_raise_timer_finds_a_larger_mtu_later() -> None:
    p = _pair(1500, pmtu_raise_interval=60.0, heartbeat_interval=0)
    a, _b = p.connect()
    _complete(p, 40.0)
    assert 1500 - SEARCH_STEP <= a.pmtu <= 1500
    p.net.link.mtu = 9000
    p.net.run(30.0)
    assert a.pmtu <= 1500  # nothing probes in SEARCH_COMPLETE (§6.2.1.3)
    # §5.1.1 PMTU_RAISE_TIMER: searching again from 60 s after completion.
    p.net.run_until(lambda: a.pmtu > 1500, 60.0)
    _complete(p, 40.0)
    assert 9000 - SEARCH_STEP <= a.pmtu <= 9000


def test_error_state_lets_ip_fragment_every_packet() -> None:
    p = _pair(9000, pmtu_max=9000)
    a, _b = p.connect()
    _complete(p, 1.0)
    # A verified PTB below BASE_PLPMTU (a tunnel, say): ERROR, every packet Fragmentable.
    sent = next(d for _t, src, _dst, d in reversed(p.net.sent) if src == A_ADDR)
    p.net.link.mtu = 1000
    p.a.icmp_packet_too_big(B_ADDR, sent[:64], 1000, p.net.now)
    assert a.statistics().pmtu_state == "ERROR"
    before = len(p.net.sent)
    _transfer(p, _messages(20))
    data = [d for _t, src, _dst, d in p.net.sent[before:] if src == A_ADDR and len(d) > 1000]
    # Everything but the BASE_PLPMTU probes (first chunk HEARTBEAT) may be IP-fragmented.
    assert data and all(isinstance(d, Fragmentable) for d in data if d[12] != 4)


def test_probing_can_be_switched_off() -> None:
    for options in (Options(plpmtud=False, pmtu_max=65000), Options()):
        p = make_pair(seed=9, options=options, link=Link(mtu=65000))
        a, _b = p.connect()
        p.net.run(5.0)
        _transfer(p, _messages(10, base=20_000))
        assert a.statistics().pmtu_state == "DISABLED" and a.statistics().pmtu_probes_sent == 0
        assert max(len(d) for _t, _s, _d, d in p.net.sent) <= 1200


@pytest.mark.parametrize("seed", range(3))
def test_lossy_path_with_pmtu_discovery_delivers_everything(seed: int) -> None:
    p = _pair(9000, seed=seed, pmtu_max=9000)
    p.net.link.loss = 0.1
    p.net.link.reorder = 0.05
    p.connect(timeout=30.0)
    _transfer(p, _messages(150), timeout=300.0)
