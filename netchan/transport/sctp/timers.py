"""One-shot protocol timers driven by the caller's clock (sans-io).

A timer is only a deadline and a count of consecutive expirations; the association asks each
of its timers for its deadline and reports the earliest one through ``next_deadline()``.
Nothing here sleeps: the driver calls ``handle_timeout(now)`` at or after the deadline and the
association checks ``expired(now)`` on each timer.
"""

from __future__ import annotations


class Timer:
    """A named one-shot timer (T1-init, T1-cookie, T2-shutdown, T3-rtx, T5, heartbeat...).

    Attributes:
        name: for statistics and debugging.
        deadline: when it fires, or None when stopped.
        expirations: consecutive expirations since the last restart with ``reset_count``
            (RFC 9260 error/retransmission counters live with the owner; this counts
            backoffs, e.g. for INIT retransmission).
    """

    __slots__ = ("deadline", "expirations", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.deadline: float | None = None
        self.expirations = 0

    @property
    def running(self) -> bool:
        """True while a deadline is set."""
        return self.deadline is not None

    def start(self, now: float, duration: float) -> None:
        """(Re)start so that it fires ``duration`` seconds after ``now``."""
        if duration < 0:
            raise ValueError(f"negative timer duration for {self.name}")
        self.deadline = now + duration

    def start_if_stopped(self, now: float, duration: float) -> None:
        """Start unless already running (e.g. T3-rtx when new data goes out, §6.3.2 R1)."""
        if self.deadline is None:
            self.deadline = now + duration

    def stop(self) -> None:
        """Stop; the expiration count is kept until :meth:`reset`."""
        self.deadline = None

    def reset(self) -> None:
        """Stop and forget expirations."""
        self.deadline = None
        self.expirations = 0

    def expired(self, now: float) -> bool:
        """True (and stopped, with ``expirations`` incremented) if the deadline has passed."""
        if self.deadline is None or now < self.deadline:
            return False
        self.deadline = None
        self.expirations += 1
        return True

    def __repr__(self) -> str:
        return f"Timer({self.name!r}, deadline={self.deadline}, expirations={self.expirations})"
