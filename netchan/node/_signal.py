"""A re-armable broadcast the channel layer uses to wake waiting tasks."""

from __future__ import annotations

import trio


class Signal:
    """A re-armable broadcast: ``wait`` until the next ``fire``.

    The event is created by the first waiter, so ``fire`` with nobody waiting (most of them:
    several per value on the hot path) allocates nothing and costs ~0.1 us instead of ~1 us.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: trio.Event | None = None

    async def wait(self) -> None:
        """Block until the next :meth:`fire` (not one that happened before)."""
        event = self._event
        if event is None:
            event = self._event = trio.Event()
        await event.wait()

    def fire(self) -> None:
        """Wake every task waiting now."""
        event = self._event
        if event is not None:
            self._event = None
            event.set()
