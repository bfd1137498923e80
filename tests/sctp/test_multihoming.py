"""Multihoming of the sans-io stack on the in-memory network (RFC 9260 §5.1.2, §5.4, §6.4,
§8.2, §8.3; RFC 7829): two hosts joined by two paths, one path cut and restored."""

from __future__ import annotations

import itertools
import random

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.association import Association
from netchan.transport.sctp.cookie import CookieContents, CookieFactory
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import (
    DataChunk,
    IDataChunk,
    InitAckChunk,
    InitChunk,
    IPv4AddressParameter,
    parse_packet,
)
from netchan.transport.sctp.state import State
from tests.sctp.netsim import Link, NetSim

A1 = ("10.0.0.1", 5000)
A2 = ("10.1.0.1", 5000)
B1 = ("10.0.0.2", 6000)
B2 = ("10.1.0.2", 6000)


class Hosts:
    """Two multihomed endpoints: path 1 joins 10.0.0.x, path 2 joins 10.1.0.x."""

    def __init__(self, seed: int = 1, options: Options | None = None) -> None:
        self.options = options or Options()
        self.net = NetSim(random.Random(seed), Link(delay=0.005))
        self.a = SctpEndpoint(self.options, local_port=5000, rng=random.Random(seed), now=0.0)
        self.b = SctpEndpoint(self.options, local_port=6000, rng=random.Random(seed + 7), now=0.0)
        self.a.local_addresses = [A1[0], A2[0]]
        self.b.local_addresses = [B1[0], B2[0]]
        self.net.add_multihomed([A1, A2], self.a)
        self.net.add_multihomed([B1, B2], self.b)

    def connect(self, timeout: float = 10.0) -> tuple[Association, Association]:
        assoc = self.a.connect(B1, 6000, self.net.now, alternates=[B2])
        self.net.run_until(
            lambda: (
                bool(self.net.events_of(A1, ev.AssociationEstablished))
                and bool(self.net.events_of(B1, ev.AssociationEstablished))
            ),
            timeout,
        )
        (peer,) = self.b.associations.values()
        return assoc, peer

    def received(self) -> list[ev.MessageReceived]:
        return self.net.events_of(B1, ev.MessageReceived)

    def address_events(self, at: tuple[str, int]) -> list[tuple[tuple[str, int], str]]:
        return [(e.address, e.state) for e in self.net.events_of(at, ev.PeerAddressChanged)]

    def stream(self, assoc: Association, count: int, every: float, size: int = 200) -> list[float]:
        """Send ``count`` numbered messages, one every ``every`` s; return arrival times at
        B of each delivered message (in delivery order)."""
        arrivals: list[float] = []
        start = seen = len(self.received())
        sent = 0
        net = self.net
        for _ in range(count * 50):
            if sent < count:
                try:
                    assoc.send(sent.to_bytes(4, "big") * (size // 4), stream=0, now=net.now)
                    sent += 1
                except BufferError:
                    pass
            net.run(every)
            got = self.received()
            for _ in got[seen:]:
                arrivals.append(net.now)
            seen = len(got)
            if seen - start >= count:
                break
        return arrivals

    def icmp_unreachable_at_a(self, assoc: Association, dest: tuple[str, int]) -> None:
        """A's host reports ICMP unreachable for ``dest``, quoting the last packet A1 sent
        there on ``assoc`` (its verification tag: a report the stack accepts)."""
        quoted = next(
            data
            for _t, src, dst, data in reversed(self.net.sent)
            if src == A1 and dst == dest and parse_packet(data).verification_tag == assoc.peer_tag
        )
        self.a.icmp_unreachable(dest, quoted[:64], self.net.now)
        self.net.flush()

    def check_in_order(self, count: int) -> None:
        values = [int.from_bytes(m.data[:4], "big") for m in self.received()]
        assert values == list(range(count)), "each message exactly once, in order"


def test_addresses_listed_learned_and_confirmed() -> None:
    hosts = Hosts()
    a_assoc, b_assoc = hosts.connect()
    init = next(
        c
        for _t, src, _d, data in hosts.net.sent
        if src == A1
        for c in parse_packet(data).chunks
        if isinstance(c, InitChunk)
    )
    listed = {str(p.address) for p in init.parameters if isinstance(p, IPv4AddressParameter)}
    assert listed == {A1[0], A2[0]}  # §5.1.2
    ack = next(
        c
        for _t, _s, _d, data in hosts.net.sent
        for c in parse_packet(data).chunks
        if isinstance(c, InitAckChunk)
    )
    assert {str(p.address) for p in ack.parameters if isinstance(p, IPv4AddressParameter)} == {
        B1[0],
        B2[0],
    }
    assert a_assoc.peer_addresses == (B1, B2)
    assert b_assoc.peer_addresses == (A1, A2)
    assert a_assoc.primary_path == B1 and b_assoc.primary_path == A1
    # §5.4: B confirms A's second address with a heartbeat before using it.
    assert b_assoc.path_states()[A2] == ("active", False)
    hosts.net.run(1.0)
    assert b_assoc.path_states() == {A1: ("active", True), A2: ("active", True)}
    assert (A2, "confirmed") in hosts.address_events(B1)


def test_single_homed_lists_no_addresses() -> None:
    net = NetSim(random.Random(3))
    a = SctpEndpoint(local_port=5000, rng=random.Random(1), now=0.0)
    b = SctpEndpoint(local_port=6000, rng=random.Random(2), now=0.0)
    a.local_addresses = [A1[0]]
    net.add(A1, a)
    net.add(B1, b)
    assoc = a.connect(B1, 6000, 0.0)
    net.run_until(lambda: bool(net.events_of(A1, ev.AssociationEstablished)), 5.0)
    inits = [c for _t, _s, _d, data in net.sent for c in parse_packet(data).chunks if c.TYPE == 1]
    assert inits and all(not isinstance(p, IPv4AddressParameter) for p in inits[0].parameters)
    assert assoc.peer_addresses == (B1,)


def test_cut_primary_during_transfer_fails_over_quickly() -> None:
    hosts = Hosts(seed=2)
    a_assoc, b_assoc = hosts.connect()
    hosts.net.run(1.0)  # paths confirmed, RTTs measured
    count = 400
    net = hosts.net
    cut_at: list[float] = []

    arrivals: list[float] = []
    seen = 0
    sent = 0
    for _ in range(20_000):
        if sent < count:
            try:
                a_assoc.send(sent.to_bytes(4, "big") * 50, stream=0, now=net.now)
                sent += 1
            except BufferError:
                pass
        if sent == 100 and not cut_at:
            net.cut(A1[0], B1[0])
            cut_at.append(net.now)
        net.run(0.005)
        got = hosts.received()
        arrivals.extend(net.now for _ in got[seen:])
        seen = len(got)
        if seen >= count:
            break
    hosts.check_in_order(count)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # One T3-rtx timeout on the primary (RTO from a 10 ms RTT: rto_min 0.1 s) moves the
    # data (RFC 7829, PFMR 0): no delivery gap near Path.Max.Retrans timeouts.
    assert max(gaps) < 0.3, max(gaps)
    assert a_assoc.address == B2
    assert (B1, "potentially_failed") in hosts.address_events(A1)
    # B's SACKs and data follow: its path to A1 fails too.
    net.run(5.0)
    assert (A1, "unreachable") in hosts.address_events(B1)
    assert (B1, "unreachable") in hosts.address_events(A1)
    assert not a_assoc.closed and not b_assoc.closed


def test_restored_path_becomes_active_and_primary_carries_data_again() -> None:
    hosts = Hosts(seed=4)
    a_assoc, _ = hosts.connect()
    net = hosts.net
    net.run(1.0)
    net.cut(A1[0], B1[0])
    hosts.stream(a_assoc, 50, 0.01)
    net.run(5.0)
    assert a_assoc.path_states()[B1][0] == "inactive"
    assert a_assoc.address == B2
    net.cut(A1[0], B1[0], cut=False)
    # Heartbeats continue on the inactive path (§8.3): the first answer makes it active.
    net.run(2.0)
    assert a_assoc.path_states()[B1] == ("active", True)
    assert hosts.address_events(A1)[-1] == (B1, "available")
    assert a_assoc.address == B1  # back to the primary
    before = len(net.sent)
    hosts.stream(a_assoc, 20, 0.01)
    data_dsts = {
        dst
        for _t, src, dst, data in net.sent[before:]
        if src[0].startswith("10.") and src[1] == 5000
        for c in parse_packet(data).chunks
        if isinstance(c, (DataChunk, IDataChunk))
    }
    assert data_dsts == {B1}
    assert len(hosts.received()) == 70


def test_primary_cut_before_handshake_init_goes_to_other_address() -> None:
    hosts = Hosts(seed=5)
    hosts.net.cut(A1[0], B1[0])
    a_assoc, b_assoc = hosts.connect(timeout=5.0)
    init_dsts = [
        dst
        for _t, _s, dst, data in hosts.net.sent
        if any(isinstance(c, InitChunk) for c in parse_packet(data).chunks)
    ]
    assert init_dsts[:2] == [B1, B2]  # §5.1: the retransmitted INIT tries the next address
    assert a_assoc.address == B2
    hosts.stream(a_assoc, 30, 0.01)
    hosts.check_in_order(30)
    assert not b_assoc.closed


def test_set_primary_moves_data_and_reports_it() -> None:
    hosts = Hosts(seed=6)
    a_assoc, _ = hosts.connect()
    hosts.net.run(1.0)
    a_assoc.set_primary(B2, hosts.net.now)
    hosts.net.flush()
    assert a_assoc.primary_path == B2 and a_assoc.address == B2
    assert a_assoc.peer_addresses[0] == B2
    assert (B2, "primary") in hosts.address_events(A1)
    before = len(hosts.net.sent)
    hosts.stream(a_assoc, 10, 0.01)
    dsts = {
        dst
        for _t, src, dst, data in hosts.net.sent[before:]
        if src in (A1, A2)
        for c in parse_packet(data).chunks
        if isinstance(c, (DataChunk, IDataChunk))
    }
    assert dsts == {B2}
    try:
        a_assoc.set_primary(("10.9.9.9", 6000), hosts.net.now)
    except ValueError:
        pass
    else:
        raise AssertionError("an address the peer does not own is refused")


def test_unconfirmed_address_never_gets_data() -> None:
    """§5.4: a listed address that never answers a HEARTBEAT gets only HEARTBEATs."""
    hosts = Hosts(seed=7)
    bogus = "10.1.0.99"
    hosts.a.local_addresses = [A1[0], A2[0], bogus]  # nothing listens there
    a_assoc, b_assoc = hosts.connect()
    hosts.net.run(1.0)
    hosts.stream(a_assoc, 20, 0.01)
    # B answers a stream of data; it sends nothing but HEARTBEATs to the bogus address.
    to_bogus = [
        c.TYPE
        for _t, _s, dst, data in hosts.net.sent
        if dst[0] == bogus
        for c in parse_packet(data).chunks
    ]
    assert to_bogus and set(to_bogus) == {4}  # HEARTBEAT only
    _state, confirmed = b_assoc.path_states()[(bogus, 5000)]
    assert not confirmed
    hosts.net.run(10.0)
    assert b_assoc.path_states()[(bogus, 5000)][0] == "inactive"
    assert not b_assoc.closed  # §5.4: unconfirmed probes do not count for the association


def test_cookie_carries_the_init_addresses() -> None:
    factory = CookieFactory(random.Random(1), 60.0, 0.0)
    contents = CookieContents(
        local_tag=1,
        peer_tag=2,
        local_initial_tsn=3,
        peer_initial_tsn=4,
        outbound_streams=5,
        inbound_streams=6,
        peer_a_rwnd=70000,
        local_port=7,
        peer_port=8,
        peer_addresses=(bytes([10, 0, 0, 1]), bytes(15) + b"\x01"),
    )
    cookie = factory.make(contents, 0.0)
    assert factory.open(cookie, 1.0) == contents


def test_cut_path_and_loss_on_the_other_delivers_everything_once_in_order() -> None:
    hosts = Hosts(seed=8)
    a_assoc, b_assoc = hosts.connect()
    hosts.net.run(1.0)
    hosts.stream(a_assoc, 50, 0.005)
    hosts.net.cut(A1[0], B1[0])
    hosts.net.paths[frozenset((A2[0], B2[0]))] = Link(loss=0.05, delay=0.005)
    hosts.stream(a_assoc, 300, 0.005)
    values = [int.from_bytes(m.data[:4], "big") for m in hosts.received()]
    assert values == list(range(50)) + list(range(300))
    assert not a_assoc.closed and not b_assoc.closed
    assert a_assoc.address == B2


def test_restart_keeps_probing_every_path() -> None:
    """§5.2.4 A: the peer restarts; heartbeats go on to every destination afterwards."""
    hosts = Hosts(seed=9)
    a_assoc, _ = hosts.connect()
    hosts.net.run(1.0)
    net = hosts.net
    new_b = SctpEndpoint(hosts.options, local_port=6000, rng=random.Random(99), now=net.now)
    new_b.local_addresses = [B1[0], B2[0]]
    net.add_multihomed([B1, B2], new_b)
    restarted = new_b.connect(A1, 5000, net.now, alternates=[A2])
    net.run_until(lambda: bool(net.events_of(A1, ev.AssociationRestarted)), 5.0)
    assert not restarted.closed
    mark = len(net.sent)
    net.run(3.0)
    heartbeat_dsts = {
        dst
        for _t, src, dst, data in net.sent[mark:]
        if src in (A1, A2)
        for c in parse_packet(data).chunks
        if c.TYPE == 4
    }
    assert heartbeat_dsts == {B1, B2}
    assert a_assoc.peer_addresses == (B1, B2)


def test_idle_association_moves_off_a_dead_primary_by_heartbeat() -> None:
    hosts = Hosts(seed=10)
    a_assoc, _ = hosts.connect()
    net = hosts.net
    net.run(1.0)
    net.cut(A1[0], B1[0])
    # No data: the primary's heartbeat goes unanswered, it is potentially failed (RFC 7829)
    # within HB.interval + 2 RTO (LAN defaults: 0.5 s + jitter + 0.1 s ...).
    net.run(1.5)
    assert a_assoc.address == B2
    assert (B1, "potentially_failed") in hosts.address_events(A1)
    start = net.now
    arrivals = hosts.stream(a_assoc, 1, 0.001)
    assert arrivals and arrivals[0] - start < 0.05  # no timeout: sent on path 2 at once


def test_icmp_unreachable_for_one_address_fails_that_path_only() -> None:
    hosts = Hosts(seed=11)
    a_assoc, _ = hosts.connect()
    net = hosts.net
    net.run(1.0)
    hosts.icmp_unreachable_at_a(a_assoc, B1)
    assert a_assoc.path_states()[B1][0] == "inactive"
    assert (B1, "unreachable") in hosts.address_events(A1)
    assert a_assoc.address == B2 and not a_assoc.closed
    hosts.stream(a_assoc, 10, 0.01)
    assert len(hosts.received()) == 10


def test_icmp_unreachable_with_only_unconfirmed_other_addresses_aborts() -> None:
    """The peer's second address never answered a HEARTBEAT (path 2 cut from the start):
    DATA may not go there (§5.4), so an unreachable primary leaves no path to fail over to
    and the association ends at once instead of waiting for the retransmission timeouts.
    (A dead usrsctp peer that listed a second address did the latter.)"""
    hosts = Hosts(seed=13)
    net = hosts.net
    net.cut(A2[0], B2[0])
    net.cut(A1[0], B2[0])
    # B2 learned from the INIT ACK only (an address the user names counts as confirmed).
    a_assoc = hosts.a.connect(B1, 6000, net.now)
    net.run(1.0)
    assert a_assoc.state is State.ESTABLISHED
    assert a_assoc.path_states()[B2][1] is False
    hosts.icmp_unreachable_at_a(a_assoc, B1)
    assert a_assoc.closed
    aborted = net.events_of(A1, ev.AssociationAborted)
    assert aborted and "ICMP" in aborted[-1].reason


def test_listed_addresses_no_host_owns_are_ignored_and_the_count_is_bounded() -> None:
    """A peer's INIT lists multicast, broadcast, unspecified and loopback addresses and far
    too many others: none of the first kind becomes a path, and at most MAX_PATHS do."""
    import ipaddress

    from netchan.transport.sctp.paths import MAX_PATHS, addresses_from_parameters

    junk = [
        IPv4AddressParameter(ipaddress.IPv4Address(text))
        for text in ("0.0.0.0", "224.0.0.1", "255.255.255.255", "127.0.0.1")
    ]
    many = [
        IPv4AddressParameter(ipaddress.IPv4Address(f"10.2.{i // 250}.{i % 250 + 1}"))
        for i in range(100)
    ]
    addrs = addresses_from_parameters(junk + many, ("10.0.0.2", 6000))
    assert len(addrs) == MAX_PATHS
    assert all(a[0].startswith("10.2.") for a in addrs)
    # On loopback, loopback addresses are the peer's own.
    assert addresses_from_parameters(junk, ("127.0.0.2", 6000)) == [("127.0.0.1", 6000)]
    # Through the handshake: B's endpoint lists them all; A keeps at most MAX_PATHS paths.
    hosts = Hosts(seed=12)
    hosts.b.local_addresses = [B1[0], B2[0], "224.0.0.1", *(f"10.3.0.{i}" for i in range(1, 60))]
    a_assoc, _ = hosts.connect()
    assert len(a_assoc.peer_addresses) == MAX_PATHS
    assert ("224.0.0.1", 6000) not in a_assoc.peer_addresses
    hosts.stream(a_assoc, 5, 0.01)
    assert len(hosts.received()) == 5


def test_cookie_echo_lost_on_a_cut_path_is_retransmitted_to_the_other_address() -> None:
    """Path 1 fails between INIT ACK and COOKIE ECHO: T1-cookie sends it to B2 (§6.4)."""
    hosts = Hosts(seed=13)
    hosts.net.drop_filter = lambda src, dst, data: (
        dst == B1 and any(c.TYPE == 10 for c in parse_packet(data).chunks)
    )
    a_assoc, _ = hosts.connect(timeout=5.0)
    echo_dsts = [
        dst
        for _t, _s, dst, data in hosts.net.sent
        if any(c.TYPE == 10 for c in parse_packet(data).chunks)
    ]
    assert echo_dsts[:2] == [B1, B2]
    hosts.stream(a_assoc, 5, 0.01)
    assert len(hosts.received()) == 5


def test_timed_out_chunks_are_retransmitted_to_another_path_before_pf() -> None:
    """§6.4 with PFMR 2 (RFC 7829): the primary is not yet potentially failed after its
    first T3-rtx timeout, but the chunks that timed out go to the other path at once."""
    hosts = Hosts(seed=14, options=Options(pf_max_retransmissions=2))
    a_assoc, _ = hosts.connect()
    net = hosts.net
    net.run(1.0)
    hosts.stream(a_assoc, 20, 0.005)
    net.cut(A1[0], B1[0])
    cut_at = net.now
    expiries = a_assoc.statistics().t3_expiries
    hosts.stream(a_assoc, 200, 0.005)
    values = [int.from_bytes(m.data[:4], "big") for m in hosts.received()]
    assert values == list(range(20)) + list(range(200))
    first_t3 = a_assoc.statistics().t3_expiries > expiries
    assert first_t3
    # The first DATA after the cut that went to B2 left one RTO after the cut, before
    # B1 was potentially failed (that takes three timeouts).
    to_b2 = [
        t
        for t, src, dst, data in net.sent
        if t >= cut_at
        and dst == B2
        and any(isinstance(c, (DataChunk, IDataChunk)) for c in parse_packet(data).chunks)
    ]
    pf_events = [e for e in hosts.address_events(A1) if e == (B1, "potentially_failed")]
    assert to_b2 and to_b2[0] - cut_at < 0.3
    assert pf_events  # after PFMR + 1 timeouts, B1 is left for good


def test_rtt_and_rto_are_kept_per_destination() -> None:
    """§6.3.1 per destination: a slow second path's RTT does not leak into the first's."""
    hosts = Hosts(seed=15)
    hosts.net.paths[frozenset((A2[0], B2[0]))] = Link(delay=0.05)
    a_assoc, _ = hosts.connect()
    hosts.net.run(3.0)  # heartbeats measure both paths
    hosts.stream(a_assoc, 20, 0.01)
    fast = a_assoc.statistics().srtt
    assert fast is not None and fast < 0.02
    a_assoc.set_primary(B2, hosts.net.now)
    hosts.stream(a_assoc, 20, 0.01)
    slow = a_assoc.statistics().srtt
    assert slow is not None and 0.09 < slow < 0.12
    a_assoc.set_primary(B1, hosts.net.now)
    again = a_assoc.statistics().srtt
    assert again is not None and again < 0.02  # path 1's estimate, untouched


def test_random_cuts_and_loss_never_lose_or_reorder() -> None:
    """Seeded schedules: one path at a time goes down for 0.2-3 s, then both are up for
    1.5-3 s (time for a heartbeat to find the repaired one, §8.3), with loss, duplication
    and reordering on both: each message arrives once, in order, and the association
    survives. (Both paths failing within one heartbeat interval can end it: §8.1.)"""
    for seed in range(20):
        _flapping_run(seed)


def _flapping_run(seed: int) -> None:
    pairs = ((A1[0], B1[0]), (A2[0], B2[0]))
    rng = random.Random(seed)
    hosts = Hosts(seed=100 + seed)
    a_assoc, b_assoc = hosts.connect()
    net = hosts.net
    noisy = Link(loss=0.03, duplicate=0.02, reorder=0.05, delay=0.005)
    sent = 0
    count = 300

    def run_sending(duration: float) -> None:
        nonlocal sent
        end = net.now + duration
        while net.now < end:
            if sent < count:
                try:
                    a_assoc.send(sent.to_bytes(4, "big") * 40, stream=0, now=net.now)
                    sent += 1
                except BufferError:
                    pass
            net.run(0.01)

    for _phase in range(6):
        for pair in pairs:
            net.paths[frozenset(pair)] = noisy
        net.cut(*rng.choice(pairs))
        run_sending(rng.uniform(0.2, 3.0))
        for pair in pairs:
            net.paths[frozenset(pair)] = noisy
        run_sending(rng.uniform(1.5, 3.0))
    net.run_until(lambda: len(hosts.received()) >= sent, 30.0)
    values = [int.from_bytes(m.data[:4], "big") for m in hosts.received()]
    assert values == list(range(sent)), f"seed {seed}"
    assert not a_assoc.closed and not b_assoc.closed, f"seed {seed}"


def test_dead_alternate_path_does_not_end_an_idle_association() -> None:
    """§8.1: unanswered heartbeats on a path other than the one data uses do not count for
    the association (an idle association with a healthy primary must not die of them)."""
    options = Options(heartbeat_interval=30.0, path_max_retransmissions=20)
    hosts = Hosts(seed=16, options=options)
    a_assoc, b_assoc = hosts.connect()
    hosts.net.run(1.0)  # both paths confirmed
    hosts.net.cut(A2[0], B2[0])
    # Path 2's first heartbeat after about 30 s fails, then it is probed every RTO
    # (potentially failed): 20 failures in a few seconds, while path 1, idle, answers its
    # heartbeat every 30 s.
    hosts.net.run(45.0)
    assert not a_assoc.closed and not b_assoc.closed
    assert a_assoc.path_states()[B2][0] != "active"
    hosts.stream(a_assoc, 5, 0.01)
    assert len(hosts.received()) == 5


def test_a_destination_whose_init_went_unanswered_gets_no_data_until_it_answers() -> None:
    # Path 1 is cut before the handshake, path 2 loses 5 %. The INIT to B1 timed out, but
    # B1 (given to connect, so confirmed, §5.4) looked active: the first timeout on path 2
    # sent data into the cut path, the primary B1 took the data back whenever path 2
    # recovered, and with both paths failed the tie went to B1. Seed 15 showed a 2.14 s
    # gap between deliveries (tests/netns saw 2.15 s); the T1 timeout now counts against
    # B1 (Potentially Failed from the start), and among failed paths the one that answered
    # last is chosen.
    hosts = Hosts(seed=15)
    hosts.net.cut(A1[0], B1[0])
    hosts.net.paths[frozenset((A2[0], B2[0]))] = Link(loss=0.05, delay=0.0003)
    a_assoc, _ = hosts.connect(timeout=20)
    arrivals = hosts.stream(a_assoc, 900, 0.01)
    hosts.check_in_order(900)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert max(gaps) < 1.0, f"largest gap between deliveries {max(gaps):.2f} s"
    assert a_assoc.address == B2
