"""Outstanding DATA: TSN assignment, SACK processing, retransmission (RFC 9260 §6.1-§6.3, §7.2).

How the association uses it (time is the caller's ``now``; the association owns the
T3-rtx timer and the :class:`~netchan.transport.sctp.tx.rto.RtoEstimator`):

* Building a packet: ``chunks = rtx.get_chunks_to_send(now, room, rto=rto.rto)`` where
  ``room`` is the number of bytes left in the packet for DATA chunks (header + data +
  padding, i.e. PMTU - 12 - control chunks already bundled). The returned chunks carry their
  wire ``tsn``; serialize them in order. Call again for the next packet until it returns an
  empty list (that also respects cwnd, rwnd and pending retransmissions). After sending
  DATA, start T3-rtx if it is not running (§6.3.2 R1).
* On a SACK: ``result = rtx.handle_sack(cum_tsn_ack, a_rwnd, gap_blocks, now)``
  (``gap_blocks`` as on the wire: offsets from the cumulative TSN ack). If
  ``result.accepted``: feed ``result.rtt`` to the RTO estimator when not None; if
  :attr:`RetransmissionQueue.has_outstanding` is false stop T3-rtx (§6.3.2 R2), else
  restart it when ``result.cum_advanced`` (R3); if ``result.fast_retransmit``, send a packet
  now (the next ``get_chunks_to_send`` returns the fast-retransmit packet, ignoring cwnd,
  §7.2.4 step 3); and check ``send_queue.buffer_available(rtx.outstanding_bytes)``.
  ``result.invalid`` means the peer acknowledged a TSN never sent (protocol violation:
  the association may ABORT).
* On T3-rtx expiry: ``rtx.handle_t3_expiry(now)``, back off the RTO, restart T3-rtx, send
  (§6.3.3 E1-E3).

Internally TSNs are unwrapped ints; outstanding chunks live in a dict keyed by them in TSN
order, so a SACK that advances the cumulative ack walks only the newly acknowledged range
and, during loss, the reported holes.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..congestion.base import CongestionControl
from ..tsn import TSN_MASK, Unwrapper
from .send_queue import OutgoingChunk, SendQueue

__all__ = ["RetransmissionQueue", "SackResult"]

# §7.2.4: the third miss indication triggers Fast Retransmit.
FAST_RETRANSMIT_MISSES = 3


@dataclass(frozen=True, slots=True)
class SackResult:
    """What processing one SACK did, for the association's timers and events.

    Attributes:
        accepted: False when the SACK was out of date or invalid and therefore ignored.
        invalid: the SACK acknowledged a TSN that was never sent (protocol violation).
        cum_advanced: the Cumulative TSN Ack Point moved (restart T3-rtx, §6.3.2 R3).
        acked_bytes: chunk bytes newly acknowledged (cumulative ack and gap blocks).
        acked_user_bytes: user bytes that left the send buffer (cum-acked).
        rtt: an RTT sample per Karn's rule (§6.3.1 C5), or None.
        fast_retransmit: chunks were marked for Fast Retransmit: send a packet now.
    """

    accepted: bool = True
    invalid: bool = False
    cum_advanced: bool = False
    acked_bytes: int = 0
    acked_user_bytes: int = 0
    rtt: float | None = None
    fast_retransmit: bool = False


_IGNORED = SackResult(accepted=False)
_INVALID = SackResult(accepted=False, invalid=True)


class RetransmissionQueue:
    """Send-side data path of one association (single destination).

    Args:
        initial_tsn: our Initial TSN (sent in INIT / INIT ACK, §5.1).
        peer_rwnd: the a_rwnd the peer advertised in its INIT / INIT ACK (§6.2.1 A).
        send_queue: where new DATA comes from.
        congestion: the congestion controller (its ``mtu`` is the PMTU).
        zero_window_probe: allow one chunk in flight when the peer's window is 0
            (§6.1 rule A); without it the sender waits for a window update.

    Attributes:
        bytes_in_flight: chunk bytes sent and neither acknowledged nor marked for
            retransmission (the RFC's flightsize).
        outstanding_bytes: user bytes handed out by the send queue and not cumulatively
            acknowledged (counted in the send buffer).
        retransmissions: chunks retransmitted (any reason).
        fast_retransmits: chunks marked by Fast Retransmit.
        t3_expiries: T3-rtx expiries handled.
        last_had_retransmissions: the chunks the last :meth:`get_chunks_to_send` returned
            include retransmissions (T3-rtx restarts then, §6.3.2 R1/R3), so the caller
            need not inspect every chunk.
        fast_recovery: whether Fast Recovery is active.
    """

    __slots__ = (
        "_a_rwnd",
        "_cum",
        "_cum_unwrapper",
        "_fast_rtx_pending",
        "_last_blocks",
        "_next_tsn",
        "_outstanding",
        "_recovery_point",
        "_rtt_gate",
        "_rtx_heap",
        "_t3_single_packet",
        "_zero_window_probe",
        "bytes_in_flight",
        "capped",
        "congestion",
        "fast_recovery",
        "fast_retransmits",
        "last_had_retransmissions",
        "outstanding_bytes",
        "retransmissions",
        "send_queue",
        "t3_expiries",
    )

    def __init__(
        self,
        *,
        initial_tsn: int,
        peer_rwnd: int,
        send_queue: SendQueue,
        congestion: CongestionControl,
        zero_window_probe: bool = True,
    ) -> None:
        if not 0 <= initial_tsn <= TSN_MASK:
            raise ValueError("initial_tsn must be a 32-bit value")
        if peer_rwnd < 0:
            raise ValueError("peer_rwnd must not be negative")
        self.send_queue = send_queue
        self.congestion = congestion
        self._zero_window_probe = zero_window_probe
        # Unwrapped: next TSN to assign; cumulative TSN ack point (all <= acked).
        self._cum_unwrapper = Unwrapper((initial_tsn - 1) & TSN_MASK)
        self._cum = self._cum_unwrapper.largest
        self._next_tsn = self._cum + 1
        self._outstanding: dict[int, OutgoingChunk] = {}
        self._rtx_heap: list[int] = []
        self._a_rwnd = peer_rwnd
        self._fast_rtx_pending = False
        self._recovery_point = 0
        # Only chunks with TSN >= this give RTT samples (one per round trip, §6.3.1 C4).
        self._rtt_gate = self._next_tsn
        self._t3_single_packet = False
        # Gap blocks of the previous SACK (absolute start -> end) to skip re-walking them.
        self._last_blocks: dict[int, int] = {}
        self.fast_recovery = False
        self.bytes_in_flight = 0
        self.outstanding_bytes = 0
        self.retransmissions = 0
        self.fast_retransmits = 0
        self.t3_expiries = 0
        #: Times new DATA waited for the flight cap (``flight_limit``).
        self.capped = 0
        self.last_had_retransmissions = False

    # -- state ---------------------------------------------------------------------------

    @property
    def peer_rwnd(self) -> int:
        """The peer's receive window as we see it: a_rwnd minus bytes in flight (§6.2.1)."""
        rwnd = self._a_rwnd - self.bytes_in_flight
        return rwnd if rwnd > 0 else 0

    @property
    def advertised_rwnd(self) -> int:
        """The a_rwnd of the last accepted SACK (or of INIT / INIT ACK before any SACK)."""
        return self._a_rwnd

    @property
    def next_tsn(self) -> int:
        """Wire TSN the next new chunk will get."""
        return self._next_tsn & TSN_MASK

    @property
    def cumulative_tsn_ack(self) -> int:
        """Wire value of the Cumulative TSN Ack Point."""
        return self._cum & TSN_MASK

    @property
    def has_outstanding(self) -> bool:
        """DATA sent and not cumulatively acknowledged exists (T3-rtx must run)."""
        return bool(self._outstanding)

    @property
    def outstanding_chunks(self) -> int:
        """Number of chunks sent and not cumulatively acknowledged."""
        return len(self._outstanding)

    @property
    def is_idle(self) -> bool:
        """Nothing outstanding and nothing queued (graceful shutdown may proceed, §9.2)."""
        return not self._outstanding and not self.send_queue

    # -- sending -------------------------------------------------------------------------

    def get_chunks_to_send(
        self,
        now: float,
        room: int,
        *,
        rto: float,
        oversize_ok: bool = False,
        flight_limit: float = math.inf,
    ) -> list[OutgoingChunk]:
        """Choose the DATA chunks of the next packet (§6.1 rules A-D, §7.2.4 step 3).

        Args:
            now: the caller's time (stamped on the chunks for RTT measurement).
            room: bytes available in this packet for DATA chunks, padding included.
            rto: the current RTO (for the idle cwnd decay of §7.2.1).
            oversize_ok: the packet is otherwise empty: a retransmission larger than
                ``room`` (cut before the path MTU shrank) may go alone in it. RFC 9260 §6.9:
                a chunk is never re-fragmented; the packet is IP-fragmented instead.
                Without it such a chunk would wait forever.
            flight_limit: no new DATA once this many bytes are in flight (the sender's
                cap while streams share the association, tx/flight_cap.py); below cwnd.

        Returns:
            Chunks in TSN order of transmission (retransmissions first), possibly empty.
        """
        chunks: list[OutgoingChunk] = []
        self.last_had_retransmissions = False
        cc = self.congestion
        room &= ~3  # chunks are padded to 4 bytes (§3.2)
        if self._fast_rtx_pending:
            # §7.2.4 step 3: one packet of the lowest marked TSNs, regardless of cwnd.
            self._fast_rtx_pending = False
            self._take_retransmissions(now, room, chunks, oversize_ok)
            if chunks:
                cc.on_packet_sent(sum(c.size for c in chunks), now)
                return chunks
        in_flight = self.bytes_in_flight
        # §6.1 rule B: new packet only while flightsize < cwnd (overbooking up to PMTU-1).
        if in_flight >= cc.cwnd:
            return chunks
        # §7.2.3: after T3-rtx only one packet in flight until an acknowledgement.
        if self._t3_single_packet and in_flight > 0:
            return chunks
        if in_flight == 0:
            cc.on_idle(now, rto)
        # §6.1 rule C: retransmissions before new data.
        if self._rtx_heap:
            room = self._take_retransmissions(now, room, chunks, oversize_ok)
            if self._rtx_heap:
                if chunks:
                    cc.on_packet_sent(sum(c.size for c in chunks), now)
                return chunks
        sq = self.send_queue
        if sq.queued_messages:
            outstanding = self._outstanding
            in_flight = self.bytes_in_flight
            next_tsn = self._next_tsn
            user_bytes = 0
            # §6.1 rule A: no new DATA larger than the peer's window, except that one
            # chunk may always be in flight (which is also the zero window probe).
            window = self._a_rwnd - in_flight
            unlimited = (
                in_flight == 0
                and not chunks
                and (self._zero_window_probe or window > sq.chunk_header)
            )
            if in_flight < flight_limit:
                new = sq.produce_batch(room, window, unlimited_first=unlimited)
            else:
                # The cap (tx/flight_cap.py) holds the bulk; small messages still go.
                self.capped += 1
                new = sq.produce_small(room, window)
            if not new:
                if chunks:
                    cc.on_packet_sent(sum(c.size for c in chunks), now)
                return chunks
            new_bytes = 0
            for chunk in new:
                chunk.key = next_tsn
                chunk.tsn = next_tsn & TSN_MASK
                outstanding[next_tsn] = chunk
                next_tsn += 1
                chunk.sent_at = now
                chunk.nsent = 1
                chunk.in_flight = True
                new_bytes += chunk.size
                user_bytes += len(chunk.data)
            self.bytes_in_flight = in_flight + new_bytes
            self._next_tsn = next_tsn
            self.outstanding_bytes += user_bytes
            if chunks:  # retransmissions first in the packet (§6.1 rule C)
                new_bytes += sum(c.size for c in chunks)
                chunks += new
            else:
                chunks = new
            cc.on_packet_sent(new_bytes, now)
            return chunks
        if chunks:
            cc.on_packet_sent(sum(c.size for c in chunks), now)
        return chunks

    def _take_retransmissions(
        self, now: float, room: int, chunks: list[OutgoingChunk], oversize_ok: bool
    ) -> int:
        heap = self._rtx_heap
        outstanding = self._outstanding
        while heap:
            chunk = outstanding.get(heap[0])
            if chunk is None or not chunk.marked or chunk.acked:
                heapq.heappop(heap)
                if chunk is not None:
                    chunk.marked = False
                continue
            if chunk.size > room and (chunks or not oversize_ok):
                break
            heapq.heappop(heap)
            chunk.marked = False
            chunk.in_flight = True
            chunk.misses = 0
            chunk.nsent += 1
            chunk.sent_at = now
            self.bytes_in_flight += chunk.size
            self.retransmissions += 1
            room -= chunk.size
            chunks.append(chunk)
            if room < 0:
                return 0  # an oversize chunk travels alone
            self.last_had_retransmissions = True
            # §6.3.1 C5: no RTT sample from a chunk sent before this retransmission: it may
            # be acknowledged only once the retransmission fills the hole below it. Every
            # chunk already sent is disqualified (a superset of C5 that needs no per-chunk
            # bookkeeping); chunks sent from now on measure again.
            self._rtt_gate = self._next_tsn
        return room

    def _mark(self, chunk: OutgoingChunk) -> None:
        # §6.2.1 C: marking for retransmission takes the chunk out of flight.
        chunk.marked = True
        if chunk.in_flight:
            chunk.in_flight = False
            self.bytes_in_flight -= chunk.size
        heapq.heappush(self._rtx_heap, chunk.key)

    # -- acknowledgements ------------------------------------------------------------------

    def handle_sack(
        self,
        cum_tsn_ack: int,
        a_rwnd: int,
        gap_blocks: Sequence[tuple[int, int]],
        now: float,
    ) -> SackResult:
        """Process a received SACK (§6.2.1, §7.2.1-§7.2.4).

        Args:
            cum_tsn_ack: the SACK's Cumulative TSN Ack (wire value).
            a_rwnd: the SACK's Advertised Receiver Window Credit.
            gap_blocks: (start, end) offsets relative to ``cum_tsn_ack``, as on the wire.
            now: the caller's time (for RTT samples).
        """
        cum = self._cum_unwrapper.peek(cum_tsn_ack)
        old_cum = self._cum
        # §6.2.1 D i: an older cumulative ack means a reordered SACK: drop it.
        if cum < old_cum:
            return _IGNORED
        highest_sent = self._next_tsn - 1
        if cum > highest_sent:
            return _INVALID
        self._cum_unwrapper.unwrap(cum_tsn_ack)
        outstanding = self._outstanding
        flight_before = self.bytes_in_flight
        acked_bytes = 0
        user_bytes = 0
        rtt: float | None = None
        rtt_chunk: OutgoingChunk | None = None
        cum_advanced = cum > old_cum
        if cum_advanced:
            in_flight_dec = 0
            pop = outstanding.pop
            for t in range(old_cum + 1, cum + 1):
                chunk = pop(t)
                user_bytes += len(chunk.data)
                if chunk.in_flight:
                    in_flight_dec += chunk.size
                if not chunk.acked:
                    acked_bytes += chunk.size
                    if chunk.nsent == 1 and t >= self._rtt_gate:
                        rtt_chunk = chunk
                chunk.acked = True
            self._cum = cum
            self.bytes_in_flight -= in_flight_dec
            self.outstanding_bytes -= user_bytes
            heap = self._rtx_heap
            while heap and heap[0] <= cum:
                heapq.heappop(heap)  # acknowledged while marked for retransmission
            if rtt_chunk is not None:
                # §6.3.1 C5 (Karn): only chunks transmitted once give samples. C4: at most
                # one sample per round trip: the next one comes from data sent after now.
                rtt = now - rtt_chunk.sent_at
                self._rtt_gate = self._next_tsn
        # Gap Ack Blocks (§3.3.4): ack the TSNs they cover; remember the highest newly acked.
        htna = cum
        highest_reported = cum
        blocks: dict[int, int] = {}
        last_blocks = self._last_blocks
        if gap_blocks:
            prev_off = 0
            for start_off, end_off in gap_blocks:
                # §3.3.4: blocks are ascending and disjoint; a malformed or overlapping
                # block is ignored (it would also make a hostile SACK cost more than
                # one walk over what is outstanding).
                if start_off <= prev_off or end_off < start_off:
                    continue
                prev_off = end_off
                start = cum + start_off
                end = cum + end_off
                if end > highest_sent:
                    if start > highest_sent:
                        continue
                    end = highest_sent
                blocks[start] = end
                if end > highest_reported:
                    highest_reported = end
                walk_from = start
                prev_end = last_blocks.get(start)
                if prev_end is not None:
                    walk_from = prev_end + 1  # the rest was acked by the previous SACK
                for t in range(walk_from, end + 1):
                    gchunk = outstanding.get(t)
                    if gchunk is None or gchunk.acked:
                        continue
                    gchunk.acked = True
                    acked_bytes += gchunk.size
                    if gchunk.in_flight:
                        gchunk.in_flight = False
                        self.bytes_in_flight -= gchunk.size
                    if t > htna:
                        htna = t
        self._last_blocks = blocks
        # §6.2.1 D iv: Fast Recovery ends when the cumulative ack reaches the exit point.
        if self.fast_recovery and cum >= self._recovery_point:
            self.fast_recovery = False
        if acked_bytes:
            self._t3_single_packet = False
        # §7.2.4 note: the cwnd rules of §7.2.1 / §7.2.2 apply before fast retransmit.
        cc = self.congestion
        if acked_bytes:
            cc.on_acked(
                acked_bytes,
                cum_advanced=cum_advanced,
                # "Fully utilized": less than one MTU of the window was left unused.
                fully_utilized=flight_before + cc.mtu >= cc.cwnd,
                in_fast_recovery=self.fast_recovery,
                flight_size=self.bytes_in_flight,
                now=now,
            )
        # §6.2.1 D ii: rwnd = a_rwnd - bytes outstanding (computed in peer_rwnd).
        self._a_rwnd = a_rwnd if a_rwnd > 0 else 0
        fast_retransmit = False
        if blocks:
            fast_retransmit = self._miss_indications(
                cum, blocks, htna, highest_reported, cum_advanced, now
            )
        return SackResult(
            accepted=True,
            invalid=False,
            cum_advanced=cum_advanced,
            acked_bytes=acked_bytes,
            acked_user_bytes=user_bytes,
            rtt=rtt,
            fast_retransmit=fast_retransmit,
        )

    def _miss_indications(
        self,
        cum: int,
        blocks: dict[int, int],
        htna: int,
        highest_reported: int,
        cum_advanced: bool,
        now: float,
    ) -> bool:
        # §7.2.4 HTNA: count a miss for each missing TSN below the highest TSN newly
        # acknowledged; in Fast Recovery with the cumulative ack advancing, for every TSN
        # reported missing. Only the holes between blocks are walked.
        limit = highest_reported if self.fast_recovery and cum_advanced else htna
        if limit <= cum + 1:
            return False
        outstanding = self._outstanding
        newly_marked = False
        hole_start = cum + 1
        for start in sorted(blocks):
            hole_end = min(start - 1, limit - 1)
            for t in range(hole_start, hole_end + 1):
                chunk = outstanding.get(t)
                if chunk is None or chunk.marked:
                    continue
                if chunk.acked:
                    # §6.2.1 D iii: reneged; count a miss, it needs retransmission again.
                    chunk.acked = False
                chunk.misses += 1
                if chunk.misses >= FAST_RETRANSMIT_MISSES and not chunk.fast_retransmitted:
                    chunk.fast_retransmitted = True
                    self._mark(chunk)
                    self.fast_retransmits += 1
                    newly_marked = True
            hole_start = blocks[start] + 1
            if hole_start >= limit:
                break
        if not newly_marked:
            return False
        if not self.fast_recovery:
            # §7.2.4 steps 2, 3 and 6: reduce cwnd once, send one packet at once regardless
            # of cwnd, remember the exit point. In Fast Recovery the marked chunks wait for
            # cwnd like other retransmissions.
            self.congestion.on_fast_retransmit(now)
            self.fast_recovery = True
            self._recovery_point = self._next_tsn - 1
            self._fast_rtx_pending = True
        return True

    # -- timer -------------------------------------------------------------------------------

    def resend_window_probe(self) -> int:
        """Mark the outstanding DATA for retransmission because the peer's window reopened
        while it was closed (§6.1 A: what is outstanding then is the zero window probe, which
        the peer dropped). Not a loss: no congestion response, unlike a T3-rtx expiry.

        Returns:
            How many chunks were marked.
        """
        marked = 0
        for chunk in self._outstanding.values():
            if not chunk.acked and not chunk.marked:
                self._mark(chunk)
                marked += 1
        return marked

    def handle_t3_expiry(self, now: float) -> None:
        """T3-rtx expired: collapse cwnd, mark all outstanding DATA for retransmission.

        §6.3.3 E1 (cwnd/ssthresh via the congestion controller) and E3. The RTO backoff
        (E2) and restarting the timer belong to the association.
        """
        self.t3_expiries += 1
        self.congestion.on_t3_expiry(now)
        self.fast_recovery = False
        self._fast_rtx_pending = False
        self._t3_single_packet = True
        marked = 0
        for chunk in self._outstanding.values():
            if not chunk.acked and not chunk.marked:
                self._mark(chunk)
                marked += 1
        if marked == 0:
            # Everything above the cumulative ack was gap-acked but never cum-acked: the
            # peer may have reneged (§6.2); send it again.
            for chunk in self._outstanding.values():
                if not chunk.marked:
                    chunk.acked = False
                    self._mark(chunk)
        self._last_blocks = {}
