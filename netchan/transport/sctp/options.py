"""Every knob of the userspace SCTP stack, in one documented, frozen options object.

Defaults suit LAN and datacenter use: a single path survives a 5 s black hole (up to about
6.7 s) with nothing lost, and a silent peer is declared dead in about 8 s (at most 9.25 s),
not minutes (RFC 9260's Internet defaults take about 5 minutes with a 30 s
heartbeat and 60 s RTO.Max). ``Options.internet()`` gives the RFC 9260 §16 values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Options:
    """Configuration of an SCTP endpoint and its associations.

    Times are seconds, sizes bytes.

    Outage tolerance and dead-peer bound (the promise of the channel layer: a network blip
    of 5 s costs nothing, a peer that stops answering gives ``BrokenResourceError``
    promptly). Silence is counted in RTO timeouts: with DATA in flight each T3-rtx expiry
    (§6.3.3) is one error; on an idle path the first HEARTBEAT goes ``heartbeat_interval +
    RTO * (0.5 .. 1.5)`` (§8.3 jitter) after the last answer and, once one goes unanswered
    within its RTO, the next goes at once with the backed-off RTO (``liveness.py``). Every
    timeout doubles the RTO, up to ``rto_max``; the peer is declared dead at the
    ``association_max_retransmissions + 1``-th (§8.1). With the defaults (a LAN RTO of
    0.1 s, then 0.2, 0.4, 0.5, 0.5...; 16 timeouts) that is 7.2 s of timeouts: a silent
    peer is dead after at most 0.5 + 0.15 + 7.2 = 7.85 s idle and 7.2 s with data in
    flight, and after at most ``heartbeat_interval + 1.5 rto_max +
    (association_max_retransmissions + 1) rto_max`` = 9.25 s whatever the RTO was. The last
    probe (retransmission or HEARTBEAT) leaves 6.7 s into the silence, so an outage of up
    to about 6.7 s ends with an answer and the association carries on, nothing lost. Many
    short timeouts rather than few long ones: ``rto_max`` also bounds the pause after a
    loss (a 1 s cap gave gaps over 2 s at 5% loss in tests/netns), so it stays at 0.5 s.
    To tune: the tolerated outage is about the sum of the first
    ``association_max_retransmissions`` backed-off RTOs; the dead-peer bound is the formula
    above; a killed process is found through ICMP in well under 1 s
    whatever these are (docs/userspace.md). RFC 9260's Internet values take minutes; they
    suit paths whose RTT may reach seconds. Here an RTT close to ``rto_max`` would be taken
    for losses (heartbeats answered after the RTO do not count): such paths are not LAN
    paths, use ``Options.internet()`` for them.

    Attributes:
        rto_initial: RTO before any RTT measurement (RFC 9260 RTO.Initial, 1 s). LAN: 0.5 s.
        rto_min: lower bound of the RTO (RFC RTO.Min, 1 s). LAN: 0.1 s; must stay above
            ``delayed_ack_timeout`` plus the RTT, or delayed SACKs cause spurious timeouts.
        rto_max: upper bound of the RTO and of its backoff (RFC RTO.Max, 60 s). LAN: 0.5 s,
            which with ``association_max_retransmissions`` sets the outage tolerance and the
            dead-peer time above; it also bounds the idle time after a retransmission
            timeout during heavy loss, and INIT retries (setup gives up after about
            rto_initial + max_init_retransmits x rto_max = 4.5 s).
        rto_alpha, rto_beta: SRTT / RTTVAR gains (RFC 9260 §6.3.1: 1/8 and 1/4).
        max_init_retransmits: INIT / COOKIE ECHO retransmissions before giving up
            (RFC Max.Init.Retransmits, 8).
        association_max_retransmissions: consecutive unanswered retransmissions/heartbeats
            after which the peer is declared dead (RFC Association.Max.Retrans, 10). LAN: 15,
            with the 0.5 s ``rto_max``: see the outage tolerance above.
        path_max_retransmissions: the same per destination address (RFC Path.Max.Retrans, 5).
            At most ``association_max_retransmissions`` (§8.2's note would have the
            association's limit at most the sum over the peer's addresses: not kept for a
            single path, as by RFC 9260's own defaults). A path marked inactive after 6
            errors is still used when no other is, until the association's limit (§8.2
            leaves that case to the implementation).
        pf_max_retransmissions: PFMR (RFC 7829 §5): after this many consecutive unanswered
            retransmissions or heartbeats a destination of a multihomed peer is Potentially
            Failed: new data and retransmissions move to another active destination at
            once, heartbeats probe it every RTO, and its first answer makes it active again.
            0 (RFC 7829's recommendation): the first T3-rtx timeout moves the data.
        heartbeat_interval: HB.interval on an idle path (RFC 30 s). LAN: 0.5 s (one small
            HEARTBEAT and its ACK about every 0.6 s per idle association). See the dead-peer
            bound above. 0 disables heartbeats.
        delayed_ack_timeout: longest a SACK is delayed (RFC 9260 §6.2: at most 500 ms,
            200 ms recommended). LAN: 0.02 s.
        delayed_ack_packets: a SACK goes out at least every this many DATA packets (RFC: 2).
        valid_cookie_life: how long a State Cookie stays valid (RFC Valid.Cookie.Life, 60 s).
        cookie_secret_rotation: how often the cookie HMAC secret rotates; a cookie is accepted
            if signed with the current or the previous secret.
        pmtu: size of the *SCTP packet* (without the UDP/IP headers of RFC 6951
            encapsulation) an association starts with: RFC 8899's BASE_PLPMTU, 1200, which
            any Internet path carries with encapsulation (§5.1.2). Path MTU discovery
            raises the packet size above it and falls back to it when a black hole is
            detected. With ``plpmtud`` off (or ``pmtu_max`` not above it) it is the fixed
            size of every packet, as an MTU both sides know (set it on both ends).
        plpmtud: Datagram Packetization Layer Path MTU Discovery (RFC 8899 §6.2 for SCTP,
            RFC 9260 §7.3), per destination: HEARTBEAT+PAD probes (RFC 4820) sent with the
            Don't Fragment bit search from ``pmtu`` up to ``pmtu_max``; HEARTBEAT ACKs
            confirm sizes; repeated T3-rtx loss at a size above ``pmtu``, or a verified ICMP
            Packet Too Big, falls back to ``pmtu``. Probes carry no user data and are
            neither congestion- nor flow-controlled. On by default.
        pmtu_max: MAX_PLPMTU, the largest SCTP packet to probe for. 0: the local
            interface's limit as the driver reports it (``udp://`` on Linux: ``IP_MTU`` of
            the route to the peer minus the IP and UDP headers, e.g. 65504 on loopback);
            when nothing is reported, no probing. A nonzero value caps the search (both
            limits apply) and is the limit where the driver reports none.
        pmtu_probe_timeout: PROBE_TIMER, how long a probe's HEARTBEAT ACK is awaited
            (RFC 8899 §5.1.1: at least 1 s, 15 s or more recommended on the Internet). A
            size is given up after 3 unanswered probes (MAX_PROBES).
        pmtu_raise_interval: PMTU_RAISE_TIMER, how long a completed search stands before
            probing again for a larger size (RFC 8899 §5.1.1: 600 s). 0: never again.
        max_message_size: the largest user message accepted for sending and for reassembly.
        receive_window: our advertised receive window (a_rwnd): the bound on data the peer may
            have outstanding toward us, including delivered messages the application has not
            read yet. Memory per association is bounded by it.
        send_buffer: bytes queued and unacknowledged per association before ``send`` blocks.
        max_burst: packets sent at once in response to one event (RFC Max.Burst, 4);
            0 disables the limit.
        initial_cwnd_mtus: initial congestion window in MTUs (RFC 9260 §7.2.1: min(4*MTU,
            max(2*MTU, 4380))).
        congestion_control: the congestion control algorithm, by the name it was registered
            under (``congestion.register_congestion_control``); ``"reno"`` is RFC 9260 §7.2.
        outbound_streams, inbound_streams: streams offered in INIT / INIT ACK (at most 65535).
            There is no per-stream fixed cost, so the default is the maximum.
        max_associations: associations an endpoint accepts (further INITs get ABORT).
        shutdown_guard: T5-shutdown-guard (RFC: 5 x RTO.Max), bounded here by this value.
        zero_window_probe: send one packet when the peer's window is zero (RFC 9260 §6.1 A).
        interleaving: offer user message interleaving (I-DATA, RFC 8260 §2.2.1) by listing
            the I-DATA chunk type in the Supported Extensions parameter (RFC 5061 §4.2.7) of
            our INIT and INIT ACK. When both sides list it, every message travels in I-DATA
            chunks and the sender switches streams after each fragment, so a large message
            on one stream does not hold up small ones on other streams (with DATA chunks,
            RFC 9260 §6.9 keeps a message's fragments on consecutive TSNs). A peer that does
            not list it gets DATA chunks. On by default: netchan's channels promise
            independence across streams. PR-SCTP (and so I-FORWARD-TSN) is not offered.
        deliver_fragments: deliver a message that arrived in several chunks as the list of
            their payloads (``MessageReceived.data`` is then a ``list[bytes]``; a message of
            one chunk is ``bytes`` as always) instead of joining them into one new object.
            For a driver whose consumer keeps big messages in pieces anyway: the ``udp://``
            endpoint turns it on, and netchan's channel layer keeps a big value's fragments
            as they came, where a join costs a copy and fresh pages of the message's size
            (docs/benchmarks.md, "Big values: fragments kept as they came").
        nodelay: send every message at once (the kernel's SCTP_NODELAY). Off by default: once
            two DATA packets await their SACK (or the last one left more data queued, a sender
            outpacing its packets), new DATA that does not fill a packet waits until
            a packet's worth is queued, everything in flight is acknowledged, or ``NAGLE_HOLD``
            (1 ms) passed (Nagle's rule, RFC 896, as RFC 9260 §6.1 allows and Linux and usrsctp
            do). Small messages sent in a loop then share packets instead of riding one SACK
            each. With a single packet in flight nothing waits (the peer delays the SACK of a
            lone packet, §6.2), so a request, or a request and one more small message, leaves
            at once; turn this on when every message must leave without the short wait.
        flight_cap: while a stream of small messages (each fits one packet) is used beside
            another stream (messages waiting, or queued within the last 0.2 s), hold new DATA
            once the flight reaches twice the path's estimated bandwidth-delay product (at
            least 2 packets), so that a bulk transfer does not fill the receiver's queue
            ahead of the small messages (which still leave while the bulk waits). A single
            stream, or bulk streams alone, are never capped. See
            ``netchan.transport.sctp.tx.flight_cap``. Off: cwnd and the peer's window alone.
        auth_keys: SCTP-AUTH (RFC 4895) endpoint pair shared keys by Shared Key Identifier
            (0..65535). None (the default): no authentication. With keys the endpoint
            *requires* AUTH: a peer without SCTP-AUTH support or without one of these keys
            cannot set up an association, and every DATA, I-DATA, SACK, HEARTBEAT, ABORT,
            SHUTDOWN, ERROR, COOKIE ECHO and COOKIE ACK from the peer must be authenticated
            (see ``netchan.transport.sctp.auth``; docs/security.md). Keys are rotated at run
            time through ``SctpEndpoint.auth_keys``.
        auth_active_key: the identifier of the key our AUTH chunks use (the smallest
            identifier when None).
    """

    rto_initial: float = 0.5
    rto_min: float = 0.1
    rto_max: float = 0.5
    rto_alpha: float = 0.125
    rto_beta: float = 0.25
    max_init_retransmits: int = 8
    association_max_retransmissions: int = 15
    path_max_retransmissions: int = 5
    pf_max_retransmissions: int = 0
    heartbeat_interval: float = 0.5
    delayed_ack_timeout: float = 0.02
    delayed_ack_packets: int = 2
    valid_cookie_life: float = 60.0
    cookie_secret_rotation: float = 60.0
    pmtu: int = 1200
    plpmtud: bool = True
    pmtu_max: int = 0
    pmtu_probe_timeout: float = 1.0
    pmtu_raise_interval: float = 600.0
    max_message_size: int = 256 * 1024 * 1024
    receive_window: int = 4 * 1024 * 1024
    send_buffer: int = 4 * 1024 * 1024
    max_burst: int = 0
    initial_cwnd_mtus: int = 4
    congestion_control: str = "reno"
    outbound_streams: int = 65535
    inbound_streams: int = 65535
    max_associations: int = 4096
    shutdown_guard: float = 10.0
    zero_window_probe: bool = True
    interleaving: bool = True
    deliver_fragments: bool = False
    nodelay: bool = False
    flight_cap: bool = True
    auth_keys: Mapping[int, bytes] | None = None
    auth_active_key: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.rto_min <= self.rto_initial <= self.rto_max:
            raise ValueError("need 0 < rto_min <= rto_initial <= rto_max")
        if not 1 <= self.outbound_streams <= 65535 or not 1 <= self.inbound_streams <= 65535:
            raise ValueError("stream counts must be in 1..65535")
        if self.pmtu < 508:
            raise ValueError("pmtu below 508 cannot carry an INIT with its parameters")
        if self.pmtu > 65535 or not (self.pmtu_max == 0 or self.pmtu <= self.pmtu_max <= 65535):
            raise ValueError("need pmtu <= 65535, and pmtu_max 0 or in pmtu..65535")
        if self.pmtu_probe_timeout <= 0 or self.pmtu_raise_interval < 0:
            raise ValueError("pmtu_probe_timeout must be positive, pmtu_raise_interval >= 0")
        if self.receive_window < 1500:
            raise ValueError("receive_window must be at least 1500 (RFC 9260 §3.3.2)")
        if self.pf_max_retransmissions < 0:
            raise ValueError("pf_max_retransmissions must not be negative")
        if self.max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        if self.auth_keys is not None:
            if not self.auth_keys:
                raise ValueError("auth_keys must hold at least one key (or be None)")
            for key_id, key in self.auth_keys.items():
                if not isinstance(key_id, int) or not 0 <= key_id <= 0xFFFF:
                    raise ValueError(f"shared key identifier {key_id!r} is not in 0..65535")
                if not isinstance(key, (bytes, bytearray)) or not key:
                    raise ValueError(f"shared key {key_id} must be non-empty bytes")
            if self.auth_active_key is not None and self.auth_active_key not in self.auth_keys:
                raise ValueError(f"auth_active_key {self.auth_active_key} is not in auth_keys")
        elif self.auth_active_key is not None:
            raise ValueError("auth_active_key needs auth_keys")

    @classmethod
    def internet(cls, **overrides: object) -> Options:
        """RFC 9260 §16's protocol parameters, for paths across the Internet."""
        base = cls(
            rto_initial=1.0,
            rto_min=1.0,
            rto_max=60.0,
            association_max_retransmissions=10,
            path_max_retransmissions=5,
            heartbeat_interval=30.0,
            delayed_ack_timeout=0.2,
            max_burst=4,
            shutdown_guard=300.0,
            pmtu_probe_timeout=15.0,
        )
        return replace(base, **overrides)  # type: ignore[arg-type]
