"""Counters of an association and of an endpoint, and their frozen snapshots.

The association updates plain integer attributes on its hot path (cheap); ``statistics()``
copies them into a frozen :class:`AssociationCounters`, the record a user debugs with.
Dropped packets and chunks are counted by reason, so "why is my peer ignored?" has an answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationCounters:
    """A snapshot of one association's counters and congestion/flow-control state.

    Attributes:
        state: the RFC 9260 state name.
        packets_sent, packets_received, bytes_sent, bytes_received: SCTP packets and their
            sizes (whole packets, headers included).
        messages_sent, messages_received: user messages queued by ``send`` / delivered.
        retransmissions: DATA chunks sent again (T3 and fast retransmit).
        fast_retransmits: fast-retransmit events (§7.2.4).
        t3_expiries: T3-rtx timer expirations (§6.3.3).
        heartbeats_sent, heartbeat_acks_received: §8.3 traffic.
        drops: packets or chunks dropped by reason.
        srtt, rto: smoothed RTT and current RTO in seconds (srtt None before a measurement).
        cwnd, ssthresh: congestion window and slow-start threshold (bytes).
        peer_rwnd: the peer's receiver window as we last computed it.
        bytes_in_flight: DATA bytes sent and not yet acknowledged.
        local_rwnd: the window we advertise (a_rwnd).
        send_buffered: bytes queued or outstanding (what counts against ``send_buffer``).
        receive_buffered: bytes held for reassembly or delivered but not yet consumed.
        outbound_streams, inbound_streams: negotiated stream counts.
        interleaving: messages travel in I-DATA chunks (RFC 8260 negotiated).
        pmtu: the current PLPMTU (RFC 8899): the largest SCTP packet sent, probes aside.
        pmtu_state: the path MTU discovery state (RFC 8899 §5.2: DISABLED, BASE,
            SEARCHING, SEARCH_COMPLETE, ERROR).
        pmtu_probes_sent: path MTU probes (HEARTBEAT + PAD) sent.
        pmtu_black_holes: falls back to the base PLPMTU (repeated loss or ICMP).
    """

    state: str
    outbound_streams: int
    inbound_streams: int
    packets_sent: int = 0
    packets_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    retransmissions: int = 0
    fast_retransmits: int = 0
    t3_expiries: int = 0
    heartbeats_sent: int = 0
    heartbeat_acks_received: int = 0
    drops: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    srtt: float | None = None
    rto: float | None = None
    cwnd: int | None = None
    ssthresh: int | None = None
    peer_rwnd: int | None = None
    bytes_in_flight: int = 0
    local_rwnd: int = 0
    send_buffered: int = 0
    receive_buffered: int = 0
    interleaving: bool = False
    pmtu: int = 0
    pmtu_state: str = "DISABLED"
    pmtu_probes_sent: int = 0
    pmtu_black_holes: int = 0


class DropCounter:
    """Counts drops by reason; a tiny wrapper so the reasons stay greppable strings."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, reason: str, count: int = 1) -> None:
        """Count ``count`` drops for ``reason``."""
        self._counts[reason] += count

    def __getitem__(self, reason: str) -> int:
        return self._counts[reason]

    def snapshot(self) -> Mapping[str, int]:
        """A read-only copy."""
        return MappingProxyType(dict(self._counts)) if self._counts else _EMPTY
