"""The association's view of the send side: send queue + retransmission queue + congestion.

A thin adapter over ``tx/`` and ``congestion/`` so :mod:`.association` speaks in DATA (or
I-DATA, RFC 8260) and SACK chunks (RFC 9260 §6.1-§6.3, §7.2) while the data-path modules
keep their own records.
"""

from __future__ import annotations

import math

from .congestion import CongestionControl, create_congestion_control
from .options import Options
from .packet import SackChunk
from .tx.flight_cap import FlightCap
from .tx.retransmission_queue import RetransmissionQueue, SackResult
from .tx.rto import RtoEstimator
from .tx.send_queue import OutgoingChunk, SendQueue

__all__ = ["TxPath"]


class TxPath:
    """Send side of one association.

    Args:
        options: the endpoint's options (send buffer, PMTU, congestion start).
        initial_tsn: our Initial TSN.
        peer_a_rwnd: the peer's a_rwnd from its INIT / INIT ACK.
        rto: the association's RTO estimator (RTT samples of SACKs feed it).
        interleaving: I-DATA was negotiated (RFC 8260 §2.2.1): the send queue switches
            streams after every fragment and :meth:`next_chunks` returns I-DATA chunks.

    Attributes:
        interleaving: whether I-DATA chunks are produced.
        t3_restart: the last acknowledgement moved the cumulative TSN ack point while data
            is still outstanding (§6.3.2 R3: restart T3-rtx).
        retransmitted_now: the last :meth:`next_chunks` call included retransmissions.
        protocol_violations: SACKs acknowledging TSNs never sent.
    """

    __slots__ = (
        "_cap_on",
        "_rto",
        "cap",
        "interleaving",
        "protocol_violations",
        "retransmitted_now",
        "rtx",
        "send_queue",
        "t3_restart",
    )

    def __init__(
        self,
        options: Options,
        initial_tsn: int,
        peer_a_rwnd: int,
        rto: RtoEstimator,
        *,
        interleaving: bool = False,
    ) -> None:
        self.interleaving = interleaving
        self.send_queue = SendQueue(
            send_buffer=options.send_buffer, pmtu=options.pmtu, interleaving=interleaving
        )
        congestion = create_congestion_control(
            options.congestion_control,
            mtu=options.pmtu,
            initial_cwnd_mtus=options.initial_cwnd_mtus,
        )
        self.rtx = RetransmissionQueue(
            initial_tsn=initial_tsn,
            peer_rwnd=peer_a_rwnd,
            send_queue=self.send_queue,
            congestion=congestion,
            zero_window_probe=options.zero_window_probe,
        )
        self._rto = rto
        self.cap = FlightCap()
        self._cap_on = options.flight_cap
        self.t3_restart = False
        self.retransmitted_now = False
        self.protocol_violations = 0

    # -- user side -------------------------------------------------------------------

    def enqueue(self, data: bytes, stream: int, ppid: int, unordered: bool, now: float) -> None:
        """Queue a message; raises BufferError when the send buffer is full."""
        self.send_queue.add(
            stream, ppid, data, unordered=unordered, outstanding_bytes=self.rtx.outstanding_bytes
        )
        self.cap.on_enqueue(stream, now, len(data) <= self.send_queue.max_fragment)

    @property
    def buffered_amount(self) -> int:
        """Queued plus outstanding user bytes."""
        return self.send_queue.queued_bytes + self.rtx.outstanding_bytes

    def buffer_available(self) -> bool:
        """True once when the buffer drained below the limit after a BufferError."""
        return self.send_queue.buffer_available(self.rtx.outstanding_bytes)

    # -- state -------------------------------------------------------------------------

    @property
    def bytes_in_flight(self) -> int:
        """Chunk bytes sent and not yet acknowledged (flightsize)."""
        return self.rtx.bytes_in_flight

    @property
    def has_outstanding(self) -> bool:
        """DATA sent and not cumulatively acknowledged exists."""
        return self.rtx.has_outstanding

    @property
    def is_idle(self) -> bool:
        """Nothing queued, nothing outstanding (§9.2 shutdown may proceed)."""
        return self.rtx.is_idle

    @property
    def has_data_ready(self) -> bool:
        """Retransmissions pending or new data queued (asked several times per packet)."""
        return bool(self.rtx._rtx_heap) or self.send_queue.queued_messages > 0

    def holds_tail(self, room: int) -> bool:
        """Nagle's rule (RFC 896; RFC 9260 §6.1 leaves bundling policy to the sender).

        True when DATA is in flight, no retransmission is pending, and the queued new data
        would not fill a packet with ``room`` bytes for chunks: the caller may then wait for
        more data or for the acknowledgement instead of sending a small packet.
        """
        rtx = self.rtx
        if rtx.bytes_in_flight == 0 or rtx._rtx_heap:
            return False
        sq = self.send_queue
        queued = sq.queued_messages
        return queued > 0 and sq.queued_bytes + queued * sq.chunk_header < room

    @property
    def cwnd(self) -> int:
        """Congestion window (bytes)."""
        return self.rtx.congestion.cwnd

    @property
    def ssthresh(self) -> int:
        """Slow-start threshold (bytes)."""
        return self.rtx.congestion.ssthresh

    @property
    def peer_rwnd(self) -> int:
        """The peer's window as we see it (a_rwnd minus flightsize)."""
        return self.rtx.peer_rwnd

    @property
    def retransmissions(self) -> int:
        """DATA chunks retransmitted."""
        return self.rtx.retransmissions

    @property
    def fast_retransmits(self) -> int:
        """Chunks fast-retransmitted."""
        return self.rtx.fast_retransmits

    @property
    def t3_expiries(self) -> int:
        """T3-rtx expiries."""
        return self.rtx.t3_expiries

    # -- protocol ----------------------------------------------------------------------

    def next_chunks(
        self, room: int, now: float, *, oversize_ok: bool = False
    ) -> list[OutgoingChunk]:
        """DATA (or I-DATA) chunks for one packet with ``room`` bytes for them (§6.1 A-D).

        ``oversize_ok``: the packet carries nothing else yet, so a retransmission cut for a
        larger PMTU than today's may go alone in it, to be IP-fragmented (RFC 9260 §6.9).

        The send side's own records go into the packet: an :class:`OutgoingChunk` writes
        the same bytes as the equivalent ``DataChunk`` / ``IDataChunk`` (RFC 9260 §3.3.1,
        RFC 8260 §2.1: the send queue keeps the MID in ``ssn`` and the FSN in ``fsn``), so
        no second object is built per chunk.
        """
        rtx = self.rtx
        out = rtx.get_chunks_to_send(
            now,
            room,
            rto=self._rto.rto,
            oversize_ok=oversize_ok,
            # The cap concerns new DATA only: not worked out when none waits (most
            # flushes of a round trip carry a SACK or control only).
            flight_limit=(
                self.cap.limit(now, rtx.congestion.mtu, self.send_queue.queued_streams)
                if self._cap_on and self.send_queue.queued_messages
                else math.inf
            ),
        )
        self.retransmitted_now = rtx.last_had_retransmissions
        return out

    def handle_sack(self, sack: SackChunk, now: float) -> SackResult:
        """Process a SACK (§6.2.1); feeds RTT samples to the RTO estimator (§6.3.1)."""
        result = self.rtx.handle_sack(
            sack.cumulative_tsn_ack, sack.a_rwnd, sack.gap_ack_blocks, now
        )
        self._after(result, now)
        return result

    def handle_cumulative_ack(self, cum_tsn_ack: int, now: float) -> bool:
        """A SHUTDOWN's Cumulative TSN Ack (§9.2): acknowledges like a SACK without gaps.

        The peer's window is kept as last advertised. Returns True if new data was acked.
        """
        a_rwnd = self.rtx.peer_rwnd + self.rtx.bytes_in_flight
        result = self.rtx.handle_sack(cum_tsn_ack, a_rwnd, (), now)
        self._after(result, now)
        return result.acked_bytes > 0

    def _after(self, result: SackResult, now: float) -> None:
        if result.invalid:
            self.protocol_violations += 1
        if result.rtt is not None:
            self._rto.observe(result.rtt)
        if result.acked_bytes > 0 or result.rtt is not None:
            self.cap.on_ack(result.acked_bytes, result.rtt, now)
            if self.rtx.bytes_in_flight == 0:
                self.cap.on_idle()
        self.t3_restart = result.cum_advanced and self.rtx.has_outstanding

    def set_pmtu(self, pmtu: int) -> None:
        """The path's PLPMTU changed (RFC 8899): new DATA is cut for it, and the congestion
        controller counts in it. cwnd keeps its size in bytes (RFC 8899 §3 item 7: an update
        of the PLPMTU MUST NOT increase the congestion window measured in bytes)."""
        self.send_queue.set_pmtu(pmtu)
        self.rtx.congestion.mtu = pmtu

    def switch_path(self, rto: RtoEstimator, congestion: CongestionControl) -> CongestionControl:
        """DATA goes to another destination (RFC 9260 §6.4): its RTO estimator takes the RTT
        samples and its congestion controller the window (§7.2, per destination). Returns
        the previous destination's controller, to keep for its return."""
        old = self.rtx.congestion
        self._rto = rto
        self.rtx.congestion = congestion
        self.cap.reset_path()
        return old

    def handle_t3_expiry(self, now: float) -> None:
        """§6.3.3 E1/E3: collapse cwnd, mark outstanding DATA for retransmission."""
        self.rtx.handle_t3_expiry(now)
