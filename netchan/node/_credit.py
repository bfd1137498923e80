"""Credit: a receiver grants its sender room for values, and grants it back as they are read."""

from __future__ import annotations

import math
from typing import Any

DEFAULT_BUFFER = 16
"""Credit window used when the receiver's buffer is unbounded or unknown."""
MAX_CREDIT = 1 << 20
"""Largest credit window a link accepts from a peer (more is clamped)."""


def clamp_credit(n: int) -> int:
    """A credit figure from a peer, bounded so a hostile one cannot grow our counters."""
    return min(n, MAX_CREDIT)


def window_of(end: Any) -> int:
    """Credit window for an exported SendChannel: its buffer size (a rendezvous counts as 1)."""
    try:
        size = end.statistics().max_buffer_size
    except AttributeError:
        return DEFAULT_BUFFER
    if not isinstance(size, (int, float)) or math.isinf(size):
        return DEFAULT_BUFFER
    return max(1, min(int(size), MAX_CREDIT))


class CreditWindow:
    """The receiving side of a link's credit (docs/protocol.md "Credit").

    The sender may have ``granted - received`` values under way. Consumed values are granted
    back in batches of half the window (every value for a window of 1), so a steady stream
    costs one CREDIT message per half window, not one per value.
    """

    __slots__ = ("consumed", "granted", "received", "window")

    def __init__(self, window: int) -> None:
        self.window = max(1, min(window, MAX_CREDIT))
        self.granted = self.window
        self.received = 0
        self.consumed = 0

    @property
    def exhausted(self) -> bool:
        """No value may arrive now: one more would exceed what was granted."""
        return self.received >= self.granted

    @property
    def outstanding(self) -> int:
        """Values the sender may still send."""
        return self.granted - self.received

    def consume(self, *, may_grant: bool) -> int:
        """One value was consumed; returns the credit to grant now (0: keep batching).

        ``may_grant`` is false once nothing more should come (the link ended or failed): the
        count still grows, and nothing is granted.
        """
        self.consumed += 1
        if not may_grant or self.consumed < max(1, self.window // 2):
            return 0
        n = self.consumed
        self.granted += n
        self.consumed = 0
        return n
