"""RFC 9260 §7.2's congestion control (TCP Reno adapted to SCTP).

Slow start (§7.2.1), congestion avoidance with partial_bytes_acked (§7.2.2), halving on
loss (§7.2.3), one MTU after T3-rtx, and cwnd decay while idle.
"""

from __future__ import annotations

from .base import CongestionControl

__all__ = ["RenoCongestionControl"]


class RenoCongestionControl(CongestionControl):
    """RFC 9260's standard congestion control; see :class:`CongestionControl` for the calls.

    Attributes:
        partial_bytes_acked: §7.2.2's byte counter used in congestion avoidance.
    """

    __slots__ = ("_last_activity", "partial_bytes_acked")

    def __init__(self, *, mtu: int, initial_cwnd: int | None = None) -> None:
        super().__init__(mtu=mtu, initial_cwnd=initial_cwnd)
        self.partial_bytes_acked = 0
        self._last_activity: float | None = None

    def on_packet_sent(self, nbytes: int, now: float) -> None:
        self._last_activity = now

    def on_acked(
        self,
        acked_bytes: int,
        *,
        cum_advanced: bool,
        fully_utilized: bool,
        in_fast_recovery: bool,
        flight_size: int,
        now: float,
    ) -> None:
        self._last_activity = now
        cwnd = self.cwnd
        if cwnd <= self.ssthresh:
            # §7.2.1 slow start: grow only when cwnd is fully used and not in Fast
            # Recovery, by at most min(acked bytes, L * MTU) with L = 1. (RFC 4960 also
            # required the cumulative ack to advance; RFC 9260 dropped that condition.)
            if fully_utilized and not in_fast_recovery:
                self.cwnd = cwnd + min(acked_bytes, self.mtu)
        else:
            # §7.2.2 congestion avoidance: one MTU per cwnd of acknowledged bytes.
            pba = self.partial_bytes_acked + acked_bytes
            if pba >= cwnd:
                if fully_utilized:
                    pba -= cwnd
                    self.cwnd = cwnd + self.mtu
                else:
                    pba = cwnd
            self.partial_bytes_acked = pba
        if flight_size == 0:
            # §7.2.2: all data acknowledged.
            self.partial_bytes_acked = 0

    def on_fast_retransmit(self, now: float) -> None:
        # §7.2.3: ssthresh = max(cwnd/2, 4*MTU); cwnd = ssthresh.
        self.ssthresh = max(self.cwnd // 2, 4 * self.mtu)
        self.cwnd = self.ssthresh
        self.partial_bytes_acked = 0

    def on_t3_expiry(self, now: float) -> None:
        # §7.2.3: ssthresh = max(cwnd/2, 4*MTU); cwnd = 1 MTU.
        self.ssthresh = max(self.cwnd // 2, 4 * self.mtu)
        self.cwnd = self.mtu
        self.partial_bytes_acked = 0
        self._last_activity = now

    def on_idle(self, now: float, rto: float) -> None:
        # §7.2.1 / §7.2.2: while nothing is sent, cwnd = max(cwnd/2, 4*MTU) once per RTO,
        # ssthresh = cwnd before the first adjustment. Never grows cwnd (after a T3 expiry
        # cwnd may be below 4*MTU).
        last = self._last_activity
        if last is None or rto <= 0:
            self._last_activity = now
            return
        periods = int((now - last) / rto)
        if periods <= 0:
            return
        self.ssthresh = self.cwnd
        floor = 4 * self.mtu
        cwnd = self.cwnd
        for _ in range(min(periods, 64)):
            new = max(cwnd // 2, floor)
            if new >= cwnd:
                break
            cwnd = new
        self.cwnd = cwnd
        self._last_activity = last + periods * rto
