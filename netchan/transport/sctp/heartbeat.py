"""Path heartbeat (RFC 9260 §8.3): probing an idle destination and measuring its RTT.

The association owns one :class:`HeartbeatHandler` per destination (:mod:`.paths`). The
handler keeps the heartbeat timer, the outstanding HEARTBEAT's nonce and send time; the
association decides what an unanswered heartbeat means (error counters, §8.1/§8.2) and feeds
RTT samples to its RTO estimator.
"""

from __future__ import annotations

import random
import struct

from .counters import DropCounter
from .packet import HeartbeatAckChunk, HeartbeatChunk
from .timers import Timer

__all__ = ["HeartbeatHandler"]

# HEARTBEAT Info we send (§8.3): a 64-bit random nonce and the send time; opaque to the peer.
_INFO = struct.Struct("!Qd")


class HeartbeatHandler:
    """Heartbeat timer and bookkeeping for one destination.

    Args:
        interval: HB.interval in seconds; 0 disables heartbeats.
        rng: jitter and nonces.
        drops: where invalid or stale HEARTBEAT ACKs are counted.

    Attributes:
        timer: the heartbeat timer (the association reports its deadline).
        sent: HEARTBEATs sent.
        acks_received: matching HEARTBEAT ACKs received.
    """

    __slots__ = (
        "_drops",
        "_interval",
        "_nonce",
        "_rng",
        "_sent_at",
        "acks_received",
        "sent",
        "timer",
    )

    def __init__(self, interval: float, rng: random.Random, drops: DropCounter) -> None:
        self._interval = interval
        self._rng = rng
        self._drops = drops
        self._nonce: int | None = None
        self._sent_at = 0.0
        self.timer = Timer("heartbeat")
        self.sent = 0
        self.acks_received = 0

    @property
    def awaiting_ack(self) -> bool:
        """A HEARTBEAT was sent and not answered yet."""
        return self._nonce is not None

    def restart(self, now: float, rto: float) -> None:
        """Schedule the next HEARTBEAT: HB.interval + RTO, jittered by +-50% of the RTO."""
        self._nonce = None
        if self._interval <= 0:
            self.timer.stop()
            return
        self.timer.start(now, self._interval + rto * (0.5 + self._rng.random()))

    def send(self, now: float, rto: float) -> HeartbeatChunk:
        """A HEARTBEAT to send now; the answer is expected within one RTO (§8.3)."""
        nonce = self._rng.getrandbits(64)
        self._nonce = nonce
        self._sent_at = now
        self.sent += 1
        self.timer.start(now, rto)
        return HeartbeatChunk(_INFO.pack(nonce, now))

    def matches(self, info: bytes) -> bool:
        """``info`` answers this handler's outstanding HEARTBEAT: its nonce is the one sent
        to this destination (§5.4 path verification)."""
        nonce = self._nonce
        return nonce is not None and len(info) == _INFO.size and _INFO.unpack(info)[0] == nonce

    def handle_ack(self, chunk: HeartbeatAckChunk, now: float) -> float | None:
        """A HEARTBEAT ACK: the RTT sample if it answers our outstanding HEARTBEAT.

        Anything else (wrong size, old or forged nonce) is counted and ignored.
        """
        if len(chunk.info) != _INFO.size:
            self._drops.add("bad_heartbeat_ack")
            return None
        nonce, _ = _INFO.unpack(chunk.info)
        if self._nonce is None or nonce != self._nonce:
            self._drops.add("stale_heartbeat_ack")
            return None
        self.acks_received += 1
        self._nonce = None
        # The send time is taken from our own record, not from the (peer-echoed) info.
        return now - self._sent_at
