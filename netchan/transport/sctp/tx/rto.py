"""Retransmission timeout estimator (RFC 9260 §6.3.1, §6.3.3 rule E2).

The association owns one per destination address (one today: single-homed data path). It
feeds RTT samples (from :class:`~netchan.transport.sctp.tx.retransmission_queue.SackResult`
``rtt`` and from HEARTBEAT ACKs) with :meth:`RtoEstimator.observe`, reads :attr:`rto` when
it arms T3-rtx / T1 / T2 timers, and calls :meth:`backoff` when such a timer expires.
No clock here: samples are plain float seconds measured by the caller.
"""

from __future__ import annotations

__all__ = ["RtoEstimator"]


class RtoEstimator:
    """SRTT / RTTVAR / RTO per RFC 9260 §6.3.1, with backoff per §6.3.3 E2.

    Args:
        rto_initial: RTO until the first measurement (rule C1).
        rto_min, rto_max: bounds applied after every computation (rules C6, C7).
        alpha, beta: SRTT and RTTVAR gains (RFC values 1/8 and 1/4).
        granularity: the clock granularity G of rule C3 (seconds). ``now`` values are floats
            from a monotonic clock with far better resolution, so the default is 1 ms; it
            keeps RTO above SRTT on a perfectly steady link where RTTVAR decays to zero.
    """

    __slots__ = (
        "_alpha",
        "_beta",
        "_granularity",
        "_rto",
        "_rto_max",
        "_rto_min",
        "_rttvar",
        "_srtt",
    )

    def __init__(
        self,
        *,
        rto_initial: float,
        rto_min: float,
        rto_max: float,
        alpha: float = 0.125,
        beta: float = 0.25,
        granularity: float = 0.001,
    ) -> None:
        if not 0 < rto_min <= rto_initial <= rto_max:
            raise ValueError("need 0 < rto_min <= rto_initial <= rto_max")
        if not 0 < alpha < 1 or not 0 < beta < 1:
            raise ValueError("alpha and beta must be in (0, 1)")
        if granularity < 0:
            raise ValueError("granularity must not be negative")
        self._rto_min = rto_min
        self._rto_max = rto_max
        self._alpha = alpha
        self._beta = beta
        self._granularity = granularity
        self._rto = rto_initial
        self._srtt: float | None = None
        self._rttvar = 0.0

    @property
    def rto(self) -> float:
        """The current RTO in seconds (including any backoff since the last sample)."""
        return self._rto

    @property
    def srtt(self) -> float | None:
        """Smoothed RTT, ``None`` before the first measurement."""
        return self._srtt

    @property
    def rttvar(self) -> float:
        """RTT variation (0 before the first measurement)."""
        return self._rttvar

    def observe(self, rtt: float) -> None:
        """Feed one RTT measurement R (seconds); recomputes RTO (rules C2-C7).

        Negative samples (a caller's clock went backwards) are ignored rather than allowed
        to corrupt SRTT.
        """
        if rtt < 0:
            return
        srtt = self._srtt
        if srtt is None:
            # C2: first measurement.
            srtt = rtt
            rttvar = rtt / 2
        else:
            # C3: RTTVAR first (using the old SRTT), then SRTT.
            beta = self._beta
            alpha = self._alpha
            rttvar = (1 - beta) * self._rttvar + beta * abs(srtt - rtt)
            srtt = (1 - alpha) * srtt + alpha * rtt
        self._srtt = srtt
        self._rttvar = rttvar
        # C3 / C4: RTO = SRTT + max(G, 4 * RTTVAR); C6 / C7: clamp.
        rto = srtt + max(self._granularity, 4 * rttvar)
        self._rto = min(max(rto, self._rto_min), self._rto_max)

    def backoff(self) -> None:
        """Double the RTO after a timer expiry, at most ``rto_max`` (§6.3.3 E2, C7)."""
        self._rto = min(self._rto * 2, self._rto_max)
