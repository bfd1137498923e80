"""Value splitting and reassembly: big values travel as MORE pieces and a last VALUE frame.

SCTP queues whole messages: one 100 MiB message would sit in front of every small message of
every other channel of the association. In pieces, the other channels' messages get in
between, so a big value delays them by one piece, not the whole value.
"""

from __future__ import annotations

from .. import _protocol as P
from ..transport import Association


async def send_value(assoc: Association, stream: int, peer_link: int, payload: bytes) -> None:
    """Send one value (its codec bytes) on ``stream``: a VALUE frame, or MORE pieces first.

    Each frame is built from a view of ``payload``: the value is copied once, piece by piece,
    never as a whole (a 32 MiB value would otherwise hold the node for a few copies of it).
    """
    if len(payload) <= P.FRAGMENT_SIZE:
        await assoc.send(
            P.encode_frame(P.Frame.VALUE, peer_link, payload), stream=stream, ppid=P.PPID_VALUE
        )
        return
    view = memoryview(payload)
    more = P.frame_header(P.Frame.MORE, peer_link)
    start = 0
    while len(view) - start > P.FRAGMENT_SIZE:
        piece = b"".join((more, view[start : start + P.FRAGMENT_SIZE]))
        start += P.FRAGMENT_SIZE
        await assoc.send(piece, stream=stream, ppid=P.PPID_VALUE)
    tail = b"".join((P.frame_header(P.Frame.VALUE, peer_link), view[start:]))
    await assoc.send(tail, stream=stream, ppid=P.PPID_VALUE)


class Oversize(Exception):
    """The pieces of a value add up to more than the largest value accepted."""


class Reassembly:
    """Collects the MORE pieces of one link's value until its VALUE frame."""

    __slots__ = ("_limit", "_partial")

    def __init__(self, limit: int) -> None:
        self._partial: bytearray | None = None
        self._limit = limit

    @property
    def partial(self) -> bool:
        """Whether a value's pieces are being collected."""
        return self._partial is not None

    def reset(self) -> None:
        """Drop a partly received value."""
        self._partial = None

    def add(self, kind: P.Frame, payload: memoryview) -> memoryview | None:
        """Take one piece; returns the whole value on its VALUE frame, else ``None``.

        Raises:
            Oversize: the pieces exceed the limit (the partial value is dropped).
        """
        if kind is P.Frame.MORE:
            if self._partial is None:
                self._partial = bytearray()
            if len(self._partial) + len(payload) > self._limit:
                self._partial = None
                raise Oversize("value over max_value_size")
            self._partial += payload
            return None
        if self._partial is not None:
            self._partial += payload
            whole = memoryview(self._partial)  # no copy: the bytearray is not touched again
            self._partial = None
            return whole
        return payload
