"""Asking a node what it exports: LIST / EXPORTS on the control stream (docs/protocol.md).

Both sides of the exchange live here, apart from the node's links: the node answers a LIST
with :func:`answer` and hands EXPORTS answers to its :class:`ExportQueries`, which also sends
the questions (``Node.list_exports``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import trio

from . import _protocol as P


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportInfo:
    """A channel a node exports by name, as ``Node.list_exports`` reports it.

    Attributes:
        name: the export's name (what ``import_send`` / ``import_receive`` take).
        direction: ``"send"`` for an exported SendChannel (import it with ``import_send``),
            ``"receive"`` for an exported ReceiveChannel, a work queue (``import_receive``).
        type_name: the name of the type given to ``export(..., type=)``, or ``None``.
    """

    name: str
    direction: Literal["send", "receive"]
    type_name: str | None


def answer(request: P.ListExports, exports: Iterable[tuple[str, bool, str | None]]) -> P.Exports:
    """The EXPORTS answer to ``request``, from (name, is_send, type name) of open exports."""
    entries = [
        P.ExportEntry(name, P.Dir.SEND if is_send else P.Dir.RECEIVE, type_name)
        for name, is_send, type_name in exports
    ]
    return P.exports_answer(request.request, entries)


class ExportQueries:
    """The LIST questions a node has sent and is waiting on, by request number."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._waiting: dict[tuple[object, int], tuple[trio.Event, list[P.Exports]]] = {}

    async def ask(
        self, peer: object, send_control: Callable[[P.Control], None]
    ) -> list[ExportInfo]:
        """Send a LIST to ``peer`` with ``send_control``; wait for its answer (caller bounds it).

        A list longer than one control message holds (64 KiB of names) comes back cut.
        """
        key = (peer, next(self._numbers) & 0xFFFFFFFF)
        done, box = trio.Event(), list[P.Exports]()
        self._waiting[key] = (done, box)
        try:
            send_control(P.ListExports(key[1]))
            await done.wait()
        finally:
            del self._waiting[key]
        return [
            ExportInfo(
                name=e.name,
                direction="send" if e.direction is P.Dir.SEND else "receive",
                type_name=e.type_name,
            )
            for e in box[0].entries
        ]

    def on_answer(self, peer: object, msg: P.Exports) -> bool:
        """Deliver ``peer``'s EXPORTS answer; ``False`` if it was not asked (caller counts it)."""
        waiting = self._waiting.get((peer, msg.request))
        if waiting is None or waiting[0].is_set():
            return False
        waiting[1].append(msg)
        waiting[0].set()
        return True
