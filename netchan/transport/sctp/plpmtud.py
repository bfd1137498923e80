"""Datagram Packetization Layer Path MTU Discovery for one destination (RFC 8899).

SCTP discovers how large a packet a path carries by probing (RFC 8899 §6.2, RFC 9260 §7.3):
a probe is an SCTP packet of exactly the size under test, a minimum-length HEARTBEAT followed
by a PAD chunk (RFC 4820) that fills it, sent with the IP Don't Fragment bit. The HEARTBEAT
ACK confirms that the size crossed the path. Probes carry no user data, so a lost probe costs
nothing to repair, and they are neither congestion- nor flow-controlled (RFC 8899 §3 items 4,
7 and 8); one probe is outstanding at a time, so probes are at least one RTT apart (item 7).

:class:`PathMtuDiscovery` is the state machine of RFC 8899 §5.2 (DISABLED, BASE, SEARCHING,
SEARCH_COMPLETE, ERROR) in SCTP packet bytes, the sizes the association hands to the layer
below (RFC 6951: the UDP payload; the driver subtracts the UDP and IP headers from an IP
MTU). It is sans-io and knows nothing of chunks: the association asks :meth:`take_probe`
for the next probe to send, routes the matching HEARTBEAT ACKs, T3-rtx expiries and validated
ICMP Packet Too Big reports here, and fills its packets up to :attr:`plpmtu`. One object per
destination address (RFC 9260 §7.3 point 1: a PMTU estimate per destination).

Search (RFC 8899 §5.3): the first probe after BASE is MAX_PLPMTU itself, so a path that
carries the local interface's MTU (loopback, a LAN with jumbo frames) is done in one round
trip. A size is given up after ``MAX_PROBES`` unanswered probes (robust to an isolated loss,
§5.1.2); the search then bisects between the confirmed PLPMTU and the smallest size that
failed, and completes once the remaining gap is below ``SEARCH_STEP`` (§5.3.2: every step
must be worth its probes). ``PMTU_RAISE_TIMER`` later reopens the search (§5.1.1).

Black holes (§4.3): SCTP is an acknowledged PL, so no CONFIRMATION_TIMER runs in
SEARCH_COMPLETE (§6.2.1.3, a MUST NOT). The association reports repeated loss of full-size
packets instead (consecutive T3-rtx expiries with no new data acknowledged while the PLPMTU
is above BASE_PLPMTU), and a validated PTB below the PLPMTU means the same (§4.6.2): the
PLPMTU drops to BASE_PLPMTU, BASE is confirmed by a probe, and the search restarts below the
size that failed. Chunks already cut for the larger size are retransmitted as they are, with
IP fragmentation allowed (RFC 9260 §6.9, RFC 8899 §6.2: once fragmented, a user message is
never re-fragmented); :attr:`fragmentation_needed` also says so in ERROR, where not even
BASE_PLPMTU is confirmed (§5.2).
"""

from __future__ import annotations

import enum
import random
import struct

from .timers import Timer

__all__ = [
    "MAX_PROBES",
    "MIN_PLPMTU",
    "PROBE_INFO",
    "SEARCH_STEP",
    "Fragmentable",
    "PathMtuDiscovery",
    "PlpmtudState",
]

#: RFC 8899 §5.1.2 MAX_PROBES: unanswered probes of one size before it is given up.
MAX_PROBES = 3
#: Smallest SCTP packet an association can work with (an INIT with its parameters, and the
#: floor of ``Options.pmtu``); PTB reports below it are invalid (RFC 8899 §4.6.2).
MIN_PLPMTU = 508
#: The search stops when a probe could gain fewer bytes than this (RFC 8899 §5.3.2).
SEARCH_STEP = 32
#: Heartbeat Info of a probe (opaque to the peer, echoed in the HEARTBEAT ACK): a 64-bit
#: nonce and the probed size (RFC 8899 §6.2.1.2 suggests carrying the size, and a nonce).
#: 12 bytes, so it never has the 16-byte layout of ordinary heartbeats (``heartbeat.py``).
PROBE_INFO = struct.Struct("!QI")


class Fragmentable(bytes):
    """A datagram the driver sends with IP fragmentation allowed (no Don't Fragment bit).

    Every other datagram goes out with DF set (RFC 8899 §3 item 2 for probes; for data it
    makes a router on a shrunken path answer with ICMP Packet Too Big instead of fragmenting
    silently). This one is larger than the current PLPMTU because it carries a chunk cut
    for an earlier, larger PLPMTU, which RFC 9260 §6.9 retransmits with IP fragmentation,
    or PLPMTUD is in ERROR. A bytes subclass, so a driver that cannot control DF sends it
    like any datagram.
    """

    __slots__ = ()


class PlpmtudState(enum.Enum):
    """RFC 8899 §5.2 states."""

    DISABLED = "DISABLED"
    BASE = "BASE"
    SEARCHING = "SEARCHING"
    SEARCH_COMPLETE = "SEARCH_COMPLETE"
    ERROR = "ERROR"

    def __str__(self) -> str:
        return self.value


def _align(size: int) -> int:
    """Probe sizes are multiples of 4: a HEARTBEAT plus a PAD chunk fill them exactly."""
    return size & ~3


class PathMtuDiscovery:
    """PLPMTUD state of one destination (RFC 8899 §5).

    Args:
        base: BASE_PLPMTU, the size used before anything is confirmed and fallen back to
            (``Options.pmtu``).
        max_plpmtu: MAX_PLPMTU, the largest SCTP packet the local interface toward the
            destination can send (or a configured maximum); probing is off when it is not
            above ``base``.
        probe_timeout: PROBE_TIMER, seconds to wait for a probe's HEARTBEAT ACK.
        raise_interval: PMTU_RAISE_TIMER, seconds in SEARCH_COMPLETE before searching again
            for a larger size; 0 never searches again.
        rng: probe nonces.

    Attributes:
        state: the RFC 8899 state.
        plpmtu: the largest packet the association may send (other than a probe).
        probed_size: the size of the outstanding probe (PROBED_SIZE), 0 when none.
        probe_count: unanswered probes of ``probed_size`` (PROBE_COUNT).
        timer: PROBE_TIMER and PMTU_RAISE_TIMER in one (§5.1.1 allows a single timer).
        probes_sent, probes_acked: counters for statistics.
        black_holes: times the PLPMTU fell back to BASE_PLPMTU (loss or a PTB report).
    """

    __slots__ = (
        "_base",
        "_failed",
        "_hint",
        "_max",
        "_nonce",
        "_probe_due",
        "_probe_timeout",
        "_raise_interval",
        "_rng",
        "black_holes",
        "plpmtu",
        "probe_count",
        "probed_size",
        "probes_acked",
        "probes_sent",
        "state",
        "timer",
    )

    def __init__(
        self,
        *,
        base: int,
        max_plpmtu: int,
        probe_timeout: float,
        raise_interval: float,
        rng: random.Random,
    ) -> None:
        if base < MIN_PLPMTU:
            raise ValueError(f"BASE_PLPMTU must be at least {MIN_PLPMTU}")
        if probe_timeout <= 0:
            raise ValueError("probe_timeout must be positive")
        if raise_interval < 0:
            raise ValueError("raise_interval must not be negative")
        self._base = base
        self._max = _align(max_plpmtu)
        self._probe_timeout = probe_timeout
        self._raise_interval = raise_interval
        self._rng = rng
        self._nonce = 0
        self._probe_due = False
        # Smallest size known not to cross the path (exclusive upper bound of the search);
        # above MAX_PLPMTU while nothing has failed.
        self._failed = self._max + 4
        # A size reported by a PTB, probed first when the search resumes (§4.6.2).
        self._hint = 0
        self.state = PlpmtudState.DISABLED
        self.plpmtu = base
        self.probed_size = 0
        self.probe_count = 0
        self.timer = Timer("PLPMTUD")
        self.probes_sent = 0
        self.probes_acked = 0
        self.black_holes = 0

    # ------------------------------------------------------------------ queries

    @property
    def enabled(self) -> bool:
        """Whether there is anything to search (MAX_PLPMTU above BASE_PLPMTU)."""
        return self._max > self._base

    @property
    def max_plpmtu(self) -> int:
        """MAX_PLPMTU (aligned to 4 bytes)."""
        return self._max

    @property
    def probe_due(self) -> bool:
        """A probe waits to be taken with :meth:`take_probe`."""
        return self._probe_due

    @property
    def fragmentation_needed(self) -> bool:
        """ERROR: BASE_PLPMTU is not confirmed, so every packet may need IP fragmentation
        (RFC 8899 §5.2 permits endpoint fragmentation then)."""
        return self.state is PlpmtudState.ERROR

    # ------------------------------------------------------------------ events in

    def limit_max(self, size: int) -> None:
        """Lower MAX_PLPMTU to ``size`` (not below BASE_PLPMTU): what the receiver can take
        bounds the search too (RFC 8899 §3 item 5, §5.1.2)."""
        self._max = max(self._base, min(self._max, _align(size)))
        self._failed = min(self._failed, self._max + 4)

    def start(self, now: float) -> None:
        """The association is established (§5.2: the PL indicates connectivity): leave
        DISABLED for BASE, whose probe of BASE_PLPMTU goes out at once."""
        if self.state is not PlpmtudState.DISABLED or not self.enabled:
            return
        self._enter_base(now)

    def stop(self) -> None:
        """Connectivity lost or the association is ending: back to DISABLED (§5.2)."""
        self.state = PlpmtudState.DISABLED
        self.timer.stop()
        self._probe_due = False
        self.probed_size = 0

    def take_probe(self, now: float) -> tuple[int, bytes] | None:
        """The probe to send now, as (packet size, Heartbeat Info), or None.

        Starts PROBE_TIMER: the caller sends the probe in this round of output.
        """
        if not self._probe_due:
            return None
        self._probe_due = False
        self._nonce = self._rng.getrandbits(64)
        self.probes_sent += 1
        self.timer.start(now, self._probe_timeout)
        return self.probed_size, PROBE_INFO.pack(self._nonce, self.probed_size)

    def handle_ack(self, info: bytes, now: float) -> bool:
        """A HEARTBEAT ACK whose info has the probe layout.

        Returns True when it confirms the outstanding probe. A stale, duplicated or forged
        echo (wrong nonce or size) is ignored (§3: robust to delay and duplication).
        """
        if len(info) != PROBE_INFO.size:
            return False
        nonce, size = PROBE_INFO.unpack(info)
        if self.probed_size == 0 or nonce != self._nonce or size != self.probed_size:
            return False
        self.probes_acked += 1
        self.timer.stop()
        self._nonce = 0
        self.probed_size = 0
        self.probe_count = 0
        state = self.state
        if state in (PlpmtudState.BASE, PlpmtudState.ERROR):
            # §5.2: BASE_PLPMTU confirmed: search upward.
            self.plpmtu = self._base
            self.state = PlpmtudState.SEARCHING
        elif state is PlpmtudState.SEARCHING:
            # §5.2: the PLPMTU becomes the probed size; the search goes on above it.
            self.plpmtu = max(self.plpmtu, size)
        else:
            return True
        self._next_search_probe(now)
        return True

    def handle_timeout(self, now: float) -> None:
        """PROBE_TIMER or PMTU_RAISE_TIMER expired (call when :attr:`timer` expired)."""
        state = self.state
        if state is PlpmtudState.SEARCH_COMPLETE:
            # §5.1.1: PMTU_RAISE_TIMER: search again, above what is confirmed; the path may
            # have grown since sizes failed.
            self.state = PlpmtudState.SEARCHING
            self._failed = self._max + 4
            self._next_search_probe(now)
            return
        if state is PlpmtudState.DISABLED or self.probed_size == 0:
            return
        # §5.1.3: PROBE_COUNT counts consecutive unanswered probes.
        self.probe_count += 1
        if self.probe_count < MAX_PROBES:
            self._probe_due = True  # the same size again
            return
        self.probe_count = 0
        if state is PlpmtudState.BASE:
            # §5.2: not even BASE_PLPMTU is confirmed.
            self.state = PlpmtudState.ERROR
            self._probe_due = True
        elif state is PlpmtudState.ERROR:
            self._probe_due = True  # ERROR keeps probing BASE_PLPMTU until it is answered
        else:
            self._failed = self.probed_size
            self.probed_size = 0
            self._next_search_probe(now)

    def black_hole(self, now: float) -> bool:
        """The association saw repeated loss of full-size packets (RFC 8899 §4.3).

        Returns True when the PLPMTU fell back to BASE_PLPMTU (only a PLPMTU above it can
        be the cause).
        """
        if self.plpmtu <= self._base or self.state is PlpmtudState.DISABLED:
            return False
        self._failed = self.plpmtu
        self.black_holes += 1
        self._enter_base(now)
        return True

    def packet_too_big(self, size: int, now: float) -> bool:
        """A validated ICMP Packet Too Big, ``size`` already converted to SCTP packet bytes
        (PL_PTB_SIZE, RFC 8899 §4.6.2). Returns True when it changed anything.

        A PTB never raises the PLPMTU and never sets it directly (§4.6.2 MUST NOT); it only
        triggers a fallback to BASE_PLPMTU or picks the next probe size.
        """
        state = self.state
        if state is PlpmtudState.DISABLED or size < MIN_PLPMTU:
            return False  # §4.6.2: invalid PL_PTB_SIZE
        size = _align(size)
        probed = self.probed_size
        if size < self._base:
            # §4.6.2: a robust PL MAY enter ERROR: the path is below BASE_PLPMTU.
            if state is PlpmtudState.ERROR:
                return False
            self.plpmtu = self._base
            self.state = PlpmtudState.ERROR
            self.probe_count = 0
            self.probed_size = self._base
            self._probe_due = True
            self.timer.stop()
            return True
        if size < self.plpmtu:
            # §4.6.2: BASE_PLPMTU <= PL_PTB_SIZE < PLPMTU: a black hole; the reported size
            # is where the search resumes once BASE_PLPMTU is confirmed.
            self._failed = size + 4
            self._hint = size
            self.black_holes += 1
            self._enter_base(now)
            return True
        if state is PlpmtudState.SEARCHING and probed and size < probed:
            if size == self.plpmtu:
                # §5.2: PL_PTB_SIZE = PLPMTU: nothing larger crosses the path.
                self._complete(now)
                return True
            # §4.6.2: PLPMTU < PL_PTB_SIZE < PROBED_SIZE: the probe failed; try the
            # reported size next.
            self._failed = probed
            self.probe_count = 0
            self.probed_size = size
            self._probe_due = True
            self.timer.stop()
            return True
        return False  # §4.6.2: PL_PTB_SIZE >= PROBED_SIZE: inconsistent, ignored

    # ------------------------------------------------------------------ internals

    def _enter_base(self, now: float) -> None:
        # §5.2 BASE: PROBED_SIZE = BASE_PLPMTU, PROBE_COUNT = 0, the probe goes at once.
        self.state = PlpmtudState.BASE
        self.plpmtu = self._base
        self.probed_size = self._base
        self.probe_count = 0
        self._probe_due = True
        self.timer.stop()

    def _next_search_probe(self, now: float) -> None:
        """Choose PROBED_SIZE (§5.3): MAX_PLPMTU first, then bisect below a failed size."""
        failed = self._failed
        hint = self._hint
        self._hint = 0
        if self.plpmtu < hint < failed:
            candidate = hint
        elif failed > self._max:
            candidate = self._max
        elif failed - self.plpmtu <= SEARCH_STEP:
            candidate = self.plpmtu  # close enough: less than a step left to gain
        else:
            candidate = _align((self.plpmtu + failed) // 2)
        if candidate <= self.plpmtu:
            self._complete(now)
            return
        self.probed_size = candidate
        self.probe_count = 0
        self._probe_due = True

    def _complete(self, now: float) -> None:
        # §5.2 SEARCH_COMPLETE; PMTU_RAISE_TIMER reopens the search later.
        self.state = PlpmtudState.SEARCH_COMPLETE
        self.probed_size = 0
        self.probe_count = 0
        self._probe_due = False
        if self._raise_interval > 0:
            self.timer.start(now, self._raise_interval)
        else:
            self.timer.stop()

    def __repr__(self) -> str:
        return (
            f"<PathMtuDiscovery {self.state} plpmtu={self.plpmtu} "
            f"probing={self.probed_size or None} max={self._max}>"
        )
