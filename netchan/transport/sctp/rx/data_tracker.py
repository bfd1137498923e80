"""Which TSNs we received, and when to tell the peer (RFC 9260 §6.2, §6.7, §7.2.4).

How the association uses it (no clock here: ``now`` is the caller's time):

1. For every DATA chunk of a packet, ``tracker.observe(tsn, immediate=I_bit)``. ``True``:
   the TSN is new, hand the chunk to the reassembly queue. ``False``: duplicate or outside
   the trackable window, drop the chunk (duplicates are reported in the next SACK).
   Before that, if the receive window is exhausted, the association may ask
   :meth:`DataTracker.would_advance_cumulative` to decide whether to accept the chunk
   anyway (§6.2: a full receiver drops DATA beyond its cumulative TSN).
2. After the last chunk of the packet, ``tracker.end_of_packet(now)``.
3. Then: if :attr:`should_send_sack_now` is true, send a SACK built from
   :meth:`make_sack` at once; otherwise arm the delayed-ack timer at
   :attr:`delayed_ack_deadline` (``None``: no timer). When it fires, call
   :meth:`handle_timeout`, which makes :attr:`should_send_sack_now` true.
   :attr:`has_unacked` tells whether a SACK may be bundled with outgoing DATA
   (any SACK sent, bundled or not, must come from :meth:`make_sack`, which resets the
   delayed-ack state).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from ..tsn import TSN_MASK, TSN_MODULUS

_HALF = TSN_MODULUS >> 1

__all__ = ["DataTracker", "SackInfo"]

# Gap Ack Block offsets are 16-bit (§3.3.4): TSNs further ahead than this cannot be reported,
# so they are not accepted (the peer retransmits them once the cumulative TSN catches up).
_MAX_AHEAD = 0xFFFF

# Bytes of a SACK without blocks: common header (12) + SACK chunk header and fields (16).
_SACK_FIXED = 12 + 16


@dataclass(frozen=True, slots=True)
class SackInfo:
    """What a SACK chunk carries (§3.3.4); the association adds a_rwnd and serializes.

    Attributes:
        cumulative_tsn_ack: wire value of the Cumulative TSN Ack.
        gap_blocks: (start, end) offsets from ``cumulative_tsn_ack``, ascending, inclusive.
        duplicate_tsns: wire TSNs received more than once since the previous SACK.
    """

    cumulative_tsn_ack: int
    gap_blocks: tuple[tuple[int, int], ...]
    duplicate_tsns: tuple[int, ...]


class DataTracker:
    """Received-TSN bookkeeping and the delayed-SACK policy of one association.

    Args:
        peer_initial_tsn: the Initial TSN from the peer's INIT / INIT ACK (§5.1).
        delayed_ack_packets: send a SACK at least every this many packets with new DATA
            (§6.2: "at least every second packet").
        delayed_ack_timeout: longest delay of a SACK after new DATA (§6.2: < 500 ms).
        pmtu: size limit of a packet carrying the SACK alone; gap blocks and duplicate
            reports are truncated so the SACK fits (§6.2: "the SACK chunk MUST fit").
        max_duplicate_reports: at most this many duplicate TSNs kept per SACK.

    Memory is bounded: received TSNs are stored as ranges within 65535 TSNs of the
    cumulative TSN, and duplicate reports are capped.
    """

    __slots__ = (
        "_cum",
        "_deadline",
        "_delayed_ack_packets",
        "_delayed_ack_timeout",
        "_dups",
        "_gap_ends",
        "_gap_starts",
        "_largest",
        "_max_dups",
        "_max_entries",
        "_packet_had_new",
        "_packets_unacked",
        "_sack_now",
        "duplicates_received",
        "out_of_window_dropped",
    )

    def __init__(
        self,
        peer_initial_tsn: int,
        *,
        delayed_ack_packets: int = 2,
        delayed_ack_timeout: float = 0.2,
        pmtu: int = 1200,
        max_duplicate_reports: int = 32,
    ) -> None:
        if not 0 <= peer_initial_tsn <= TSN_MASK:
            raise ValueError("peer_initial_tsn must be a 32-bit value")
        if delayed_ack_packets < 1:
            raise ValueError("delayed_ack_packets must be at least 1")
        if delayed_ack_timeout < 0:
            raise ValueError("delayed_ack_timeout must not be negative")
        if pmtu < _SACK_FIXED + 4:
            raise ValueError("pmtu too small for a SACK")
        # TSNs are unwrapped (see tsn.Unwrapper, inlined here for speed) relative to the
        # largest TSN received; the first unwrapped value is the wire value.
        self._largest = (peer_initial_tsn - 1) & TSN_MASK
        # Unwrapped cumulative TSN: everything <= _cum has been received.
        self._cum = self._largest
        # Received TSN ranges above _cum + 1, sorted, disjoint, not adjacent (inclusive).
        self._gap_starts: list[int] = []
        self._gap_ends: list[int] = []
        self._dups: list[int] = []
        self._max_entries = (pmtu - _SACK_FIXED) // 4
        self._max_dups = max(0, max_duplicate_reports)
        self._delayed_ack_packets = delayed_ack_packets
        self._delayed_ack_timeout = delayed_ack_timeout
        self._sack_now = False
        self._deadline: float | None = None
        self._packets_unacked = 0
        self._packet_had_new = False
        self.duplicates_received = 0
        self.out_of_window_dropped = 0

    # -- state -------------------------------------------------------------------------

    @property
    def cumulative_tsn(self) -> int:
        """Wire value of the cumulative TSN (for SACK and SHUTDOWN, §3.3.8)."""
        return self._cum & TSN_MASK

    @property
    def cumulative_tsn_unwrapped(self) -> int:
        """Unwrapped cumulative TSN (same scale as :meth:`observe`'s unwrapped values)."""
        return self._cum

    @property
    def has_gaps(self) -> bool:
        """Whether TSNs are missing below the highest received one."""
        return bool(self._gap_starts)

    @property
    def should_send_sack_now(self) -> bool:
        """A SACK is due immediately (gap, gap filled, duplicate, I bit, packet count, timer)."""
        return self._sack_now

    @property
    def delayed_ack_deadline(self) -> float | None:
        """When the delayed-ack timer fires; ``None`` when no SACK is pending."""
        return None if self._sack_now else self._deadline

    @property
    def has_unacked(self) -> bool:
        """Something received since the last SACK (a SACK may be bundled with DATA)."""
        return self._sack_now or self._deadline is not None or bool(self._dups)

    def unwrap(self, tsn: int) -> int:
        """Unwrapped value of wire ``tsn`` relative to what was received (no state change).

        The reassembly queue keys fragments on these values.
        """
        largest = self._largest
        d = (tsn - largest) & TSN_MASK
        return largest + d if d < _HALF else largest + d - TSN_MODULUS

    def would_advance_cumulative(self, tsn: int) -> bool:
        """Whether receiving ``tsn`` moves the cumulative TSN (it is the next one expected)."""
        return self.unwrap(tsn) == self._cum + 1

    def is_duplicate(self, tsn: int) -> bool:
        """Whether ``tsn`` was already received (at or below the cumulative TSN or in a gap)."""
        t = self.unwrap(tsn)
        if t <= self._cum:
            return True
        starts = self._gap_starts
        if not starts:
            return False
        i = bisect_right(starts, t) - 1
        return i >= 0 and t <= self._gap_ends[i]

    # -- input ---------------------------------------------------------------------------

    def observe(self, tsn: int, *, immediate: bool = False) -> bool:
        """Record one received DATA chunk's TSN (wire value).

        Args:
            tsn: the chunk's TSN.
            immediate: the chunk's I bit (RFC 9260 §3.3.1, SACK-IMMEDIATELY): the sender
                asks for a SACK without delay.

        Returns:
            True when the TSN is new (deliver the chunk), False when it is a duplicate
            (reported in the next SACK, §6.2) or too far ahead to be tracked (dropped; the
            peer will retransmit it).
        """
        cum = self._cum
        largest = self._largest
        d = (tsn - largest) & TSN_MASK
        t = largest + d if d < _HALF else largest + d - TSN_MODULUS
        if immediate:
            self._sack_now = True
        if t == cum + 1 and not self._gap_starts:
            # Fast path: in order, no holes.
            self._cum = t
            if t > largest:
                self._largest = t
            self._packet_had_new = True
            return True
        return self._observe_slow(tsn, t)

    def accept(self, tsn: int, immediate: bool = False) -> int:
        """:meth:`observe` and :meth:`unwrap` in one call: the per-chunk receive hot path.

        Returns:
            The unwrapped TSN (for :meth:`ReassemblyQueue.add`, always >= 0) when the TSN is
            new, -1 when :meth:`observe` would return False.
        """
        cum = self._cum
        largest = self._largest
        d = (tsn - largest) & TSN_MASK
        t = largest + d if d < _HALF else largest + d - TSN_MODULUS
        if immediate:
            self._sack_now = True
        if t == cum + 1 and not self._gap_starts:
            # Fast path: in order, no holes.
            self._cum = t
            if t > largest:
                self._largest = t
            self._packet_had_new = True
            return t
        return t if self._observe_slow(tsn, t) else -1

    def _observe_slow(self, tsn: int, t: int) -> bool:
        # ``t``: unwrapped ``tsn``; not the next in-order TSN of a hole-free sequence.
        cum = self._cum
        largest = self._largest
        if t <= cum:
            self._duplicate(tsn)
            return False
        if t - cum > _MAX_AHEAD:
            self.out_of_window_dropped += 1
            return False
        starts = self._gap_starts
        ends = self._gap_ends
        i = bisect_right(starts, t)  # starts[i-1] <= t < starts[i]
        if i > 0 and t <= ends[i - 1]:
            self._duplicate(tsn)
            return False
        if t > largest:
            self._largest = t
        self._packet_had_new = True
        # §6.7 / §7.2.4: while there is a hole (or when one is being filled), SACK every
        # packet so the sender gets its miss indications / recovery information promptly.
        self._sack_now = True
        if t == cum + 1:
            # Fills the hole at the front: cumulative TSN advances, maybe over a block.
            if starts and starts[0] == t + 1:
                self._cum = ends[0]
                del starts[0]
                del ends[0]
            else:
                self._cum = t
            return True
        merge_prev = i > 0 and ends[i - 1] == t - 1
        merge_next = i < len(starts) and starts[i] == t + 1
        if merge_prev and merge_next:
            ends[i - 1] = ends[i]
            del starts[i]
            del ends[i]
        elif merge_prev:
            ends[i - 1] = t
        elif merge_next:
            starts[i] = t
        else:
            starts.insert(i, t)
            ends.insert(i, t)
        return True

    def _duplicate(self, tsn: int) -> None:
        # §6.2: a packet with duplicate DATA gets a SACK immediately, duplicates reported.
        self.duplicates_received += 1
        self._sack_now = True
        if len(self._dups) < self._max_dups:
            self._dups.append(tsn)

    def end_of_packet(self, now: float) -> None:
        """Called after all DATA chunks of one received packet: applies the delayed-ack rule.

        §6.2: a SACK is sent for at least every second packet with new DATA
        (``delayed_ack_packets``) and no later than ``delayed_ack_timeout`` after the first
        unacknowledged DATA.
        """
        if not self._packet_had_new:
            return
        self._packet_had_new = False
        self._packets_unacked += 1
        if self._packets_unacked >= self._delayed_ack_packets:
            self._sack_now = True
        elif self._deadline is None:
            self._deadline = now + self._delayed_ack_timeout

    def force_immediate(self) -> None:
        """Make the next SACK due now (e.g. §9.2: in SHUTDOWN-SENT every DATA is acked)."""
        self._sack_now = True

    def handle_timeout(self, now: float) -> None:
        """The delayed-ack timer may have fired: a SACK becomes due if its deadline passed."""
        if self._deadline is not None and now >= self._deadline:
            self._sack_now = True

    # -- output --------------------------------------------------------------------------

    def make_sack(self) -> SackInfo:
        """Build the SACK contents and reset the delayed-ack state (a SACK is being sent).

        Gap blocks come first within the packet budget, then duplicate TSNs; each
        duplicate is reported once (§6.2).
        """
        cum = self._cum
        budget = self._max_entries
        starts = self._gap_starts
        ends = self._gap_ends
        n = min(len(starts), budget)
        gaps = tuple((starts[k] - cum, ends[k] - cum) for k in range(n))
        budget -= n
        dups = tuple(self._dups[:budget]) if budget > 0 else ()
        self._dups.clear()
        self._sack_now = False
        self._deadline = None
        self._packets_unacked = 0
        return SackInfo(cum & TSN_MASK, gaps, dups)
