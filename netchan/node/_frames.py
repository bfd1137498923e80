"""Value splitting and reassembly: big values travel as MORE pieces and a last VALUE frame.

SCTP queues whole messages: one 100 MiB message would sit in front of every small message of
every other channel of the association. In pieces, the other channels' messages get in
between, so a big value delays them by one piece, not the whole value.
"""

from __future__ import annotations

from .. import _protocol as P
from ..transport import Association


async def send_value(assoc: Association, stream: int, peer_link: int, frame: bytes) -> None:
    """Send one VALUE frame on ``stream``, in pieces when it is bigger than a fragment."""
    if len(frame) <= P.FRAGMENT_SIZE + P.FRAME_HEADER_SIZE:
        await assoc.send(frame, stream=stream, ppid=P.PPID_VALUE)
        return
    payload = memoryview(frame)[P.FRAME_HEADER_SIZE :]
    last = len(payload) - P.FRAGMENT_SIZE
    for offset in range(0, last, P.FRAGMENT_SIZE):
        piece = payload[offset : offset + P.FRAGMENT_SIZE]
        more = P.encode_frame(P.Frame.MORE, peer_link, bytes(piece))
        await assoc.send(more, stream=stream, ppid=P.PPID_VALUE)
    start = ((last + P.FRAGMENT_SIZE - 1) // P.FRAGMENT_SIZE) * P.FRAGMENT_SIZE
    tail = P.encode_frame(P.Frame.VALUE, peer_link, bytes(payload[start:]))
    await assoc.send(tail, stream=stream, ppid=P.PPID_VALUE)


class Oversize(Exception):
    """The pieces of a value add up to more than the largest value accepted."""


class Reassembly:
    """Collects the MORE pieces of one link's value until its VALUE frame."""

    __slots__ = ("_limit", "_partial")

    def __init__(self, limit: int) -> None:
        self._partial: bytearray | None = None
        self._limit = limit

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
            whole = memoryview(bytes(self._partial))
            self._partial = None
            return whole
        return payload
