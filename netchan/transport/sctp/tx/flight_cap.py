"""A cap on the data in flight while several streams share the association.

Why: SCTP's streams share one congestion window and one path (RFC 9260 §6.1, §7). A bulk
transfer on one stream keeps up to cwnd (or the peer's window) in flight; on a path whose
bottleneck is the receiver itself (loopback, a fast LAN into a busy host) that data waits in
the receiver's socket buffer, and a small message of another stream queues behind it there,
whatever the sender's stream scheduler does (I-DATA, RFC 8260, interleaves only what is not
yet sent). Loss-based congestion control (§7.2) keeps that queue full: it backs off only
when the buffer overflows.

What: while a stream of small messages (each fits one packet) shares the association with
another stream (messages queued now, or within the last ``MIX_HOLD`` seconds), new DATA is
held once the flight reaches ``GAIN`` times the path's bandwidth-delay product,
estimated as in BBR (the largest recent delivery rate times the smallest recent RTT). That
keeps the pipe full (the receiver is never starved: ``GAIN`` is 2) and the queue ahead of a
small message at about one minimum RTT's worth. A single stream (one bulk transfer, or a
ping-pong) is never capped, nor bulk streams without small messages beside them (nobody
waits behind them who would gain), nor a flight of ``MIN_PACKETS`` packets or less, nor
retransmissions (§6.1 rule C and §7.2.4 keep their precedence).

The cap only ever lowers what cwnd and the peer's window allow (§6.1 rules A and B still
apply); it is a sender's policy that RFC 9260 leaves open, like Nagle's rule (§6.1).
"""

from __future__ import annotations

from collections.abc import Iterable

#: A stream counts as in use for this many seconds after its last message was queued (and
#: as a stream of small messages after its last small one).
MIX_HOLD = 0.2
#: The cap in bandwidth-delay products (BBR's cwnd gain).
GAIN = 2.0
#: Never below this many packets in flight: the receiver acknowledges every second packet
#: at once (RFC 9260 §6.2) but may delay the SACK of a lone one. On loopback, where the
#: estimated product is tiny, this floor decides: beside 32 MiB values, round trips' p99
#: 4.1-4.3 ms with 4 packets (big values 370-440 MB/s), 3.3-3.7 ms with 2 (320-340 MB/s).
MIN_PACKETS = 2
#: The minimum RTT and the maximum delivery rate are taken over this many seconds (a path
#: whose RTT grew for good, or whose rate fell, is seen again after it).
FILTER_WINDOW = 10.0
#: A delivery-rate sample spans at least this long (and at least one minimum RTT).
RATE_INTERVAL = 0.001


class FlightCap:
    """The cap's state for one association's current destination (see the module)."""

    __slots__ = (
        "_acked",
        "_interval_start",
        "_max_rate",
        "_max_rate_at",
        "_min_rtt",
        "_min_rtt_at",
        "_recent",
        "_recent_big",
        "_recent_small",
    )

    def __init__(self) -> None:
        # The last time a message was queued, by stream (pruned of old entries).
        self._recent: dict[int, float] = {}
        # The last time a message that fits one packet, or one that does not, was queued.
        self._recent_small: dict[int, float] = {}
        self._recent_big: dict[int, float] = {}
        self._min_rtt = 0.0
        self._min_rtt_at = 0.0
        self._max_rate = 0.0
        self._max_rate_at = 0.0
        self._acked = 0
        self._interval_start = -1.0

    def reset_path(self) -> None:
        """DATA goes to another destination (RFC 9260 §6.4): its RTT and rate are unknown."""
        self._min_rtt = 0.0
        self._max_rate = 0.0
        self._acked = 0
        self._interval_start = -1.0

    def on_enqueue(self, stream: int, now: float, small: bool) -> None:
        """A message was queued on ``stream``; ``small``: it fits one packet."""
        recent = self._recent
        recent[stream] = now
        if small:
            self._recent_small[stream] = now
        else:
            self._recent_big[stream] = now
        if len(recent) > 32:
            for table in (recent, self._recent_small, self._recent_big):
                for old in [s for s, t in table.items() if now - t >= MIX_HOLD]:
                    del table[old]

    def mixed(self, now: float, queued: Iterable[int]) -> bool:
        """Whether a stream of small messages (a small one queued within ``MIX_HOLD`` and no
        big one: a bulk stream's short last piece does not count) shares the association
        with another stream: one of ``queued`` (the streams with messages waiting) or one
        with a message queued within ``MIX_HOLD``."""
        small = -1
        big = self._recent_big
        for stream, at in self._recent_small.items():
            if now - at < MIX_HOLD and now - big.get(stream, -MIX_HOLD) >= MIX_HOLD:
                small = stream
                break
        if small < 0:
            return False
        for stream in queued:
            if stream != small:
                return True
        recent = self._recent.items()
        return any(stream != small and now - at < MIX_HOLD for stream, at in recent)

    def on_ack(self, acked_bytes: int, rtt: float | None, now: float) -> None:
        """A SACK acknowledged ``acked_bytes`` of new data; ``rtt`` is its sample, if any."""
        if rtt is not None and rtt > 0:
            stale = now - self._min_rtt_at > FILTER_WINDOW
            if self._min_rtt == 0.0 or rtt <= self._min_rtt or stale:
                self._min_rtt = rtt
                self._min_rtt_at = now
        if acked_bytes <= 0:
            return
        start = self._interval_start
        if start < 0:
            self._interval_start = now
            self._acked = 0
            return
        self._acked += acked_bytes
        elapsed = now - start
        if elapsed >= RATE_INTERVAL and elapsed >= self._min_rtt:
            rate = self._acked / elapsed
            if rate >= self._max_rate or now - self._max_rate_at > FILTER_WINDOW:
                self._max_rate = rate
                self._max_rate_at = now
            self._interval_start = now
            self._acked = 0

    def on_idle(self) -> None:
        """Nothing is in flight: the next delivery-rate interval starts with the next data
        (an idle gap is not a slow path)."""
        self._interval_start = -1.0
        self._acked = 0

    def limit(self, now: float, mtu: int, queued: Iterable[int]) -> float:
        """The most bytes that may be in flight for new data now (``inf``: no cap);
        ``queued``: the streams with messages waiting."""
        if self._min_rtt == 0.0 or self._max_rate == 0.0 or not self.mixed(now, queued):
            return float("inf")
        return max(GAIN * self._max_rate * self._min_rtt, MIN_PACKETS * mtu)
