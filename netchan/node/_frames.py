"""Value splitting and reassembly: big values travel as MORE pieces and a last VALUE frame.

SCTP queues whole messages: one 100 MiB message would sit in front of every small message of
every other channel of the association. In pieces, the other channels' messages get in
between, so a big value delays them by one piece, not the whole value.
"""

from __future__ import annotations

from collections.abc import Iterator

import trio
import trio.testing

from .. import _protocol as P
from ..codec import Gathered, Scattered
from ..transport import Association

#: An encoded value: bytes, or a big one whose big binary fields are held by reference
#: (``Codec.encode_gathered``).
Payload = bytes | Gathered
#: A received value: one frame's payload, or the pieces of a big one.
Received = bytes | memoryview | Scattered


def pieces(payload: Payload) -> Iterator[tuple[bool, list[bytes | memoryview]]]:
    """The payloads of a value's frames: ``(last, buffers)``, at most ``P.FRAGMENT_SIZE``
    bytes each; the buffers are views of ``payload``, nothing is copied."""
    if isinstance(payload, Gathered):
        chunks: Iterator[list[memoryview]] = payload.pieces(P.FRAGMENT_SIZE)
        previous = next(chunks, [])
        for chunk in chunks:
            yield False, list(previous)
            previous = chunk
        yield True, list(previous)
        return
    view = memoryview(payload)
    while len(view) > P.FRAGMENT_SIZE:
        yield False, [view[: P.FRAGMENT_SIZE]]
        view = view[P.FRAGMENT_SIZE :]
    yield True, [view]


async def send_value(assoc: Association, stream: int, peer_link: int, payload: Payload) -> None:
    """Send one value (its codec bytes) on ``stream``: a VALUE frame, or MORE pieces first.

    Each frame is built from views of ``payload``: the value is copied once, piece by piece,
    never as a whole (a 32 MiB value would otherwise hold the node for a few copies of it).
    """
    if isinstance(payload, bytes) and len(payload) <= P.FRAGMENT_SIZE:
        await assoc.send(
            P.encode_frame(P.Frame.VALUE, peer_link, payload), stream=stream, ppid=P.PPID_VALUE
        )
        return
    more = P.frame_header(P.Frame.MORE, peer_link)
    for last, buffers in pieces(payload):
        header = P.frame_header(P.Frame.VALUE, peer_link) if last else more
        await assoc.send(b"".join((header, *buffers)), stream=stream, ppid=P.PPID_VALUE)


#: Frames whose payload is a piece of a value (:func:`piece_fragments`).
_PIECE_KINDS = frozenset({int(P.Frame.VALUE), int(P.Frame.MORE)})

#: Fragments are kept as a value's pieces only when they average at least this many bytes:
#: a peer cutting its messages into tiny chunks must not make the node hold a value as
#: millions of small objects (about 40 bytes of overhead each). Real senders cut at the
#: path MTU (at least about 1 100 bytes of payload per chunk).
KEEP_FRAGMENT_MIN = 512


def piece_fragments(fragments: list[bytes], size: int) -> tuple[P.Frame, int, list[bytes]] | None:
    """``(kind, link id, pieces)`` of a VALUE or MORE frame that came as ``fragments``
    (``Message.fragments``, ``size`` bytes in all): the pieces are the fragments themselves,
    the first without the frame header. None for anything else (another frame or a control
    message, a first fragment shorter than a frame header, fragments too small to keep):
    the caller routes the joined message instead."""
    first = fragments[0]
    if (
        len(first) < P.FRAME_HEADER_SIZE
        or first[0] not in _PIECE_KINDS
        or size < KEEP_FRAGMENT_MIN * len(fragments)
    ):
        return None
    kind, link_id, _ = P.decode_frame(first)
    pieces = fragments.copy()
    if len(first) > P.FRAME_HEADER_SIZE:
        pieces[0] = first[P.FRAME_HEADER_SIZE :]
    else:
        del pieces[0]
    return kind, link_id, pieces


#: Values from this size on are prepared in a worker thread.
OFFLOAD_MIN = 4 * 1024 * 1024


async def prepare(value: Scattered) -> None:
    """Cut a big value's big fields out (``Scattered.prepare``) in a worker thread: the copy
    runs without the GIL, and the node's loop keeps serving the other channels meanwhile.

    Below ``OFFLOAD_MIN`` bytes it runs inline (the copy costs less than the thread's
    hand-over). So it does under a ``MockClock`` (virtual time, the deterministic tests): a
    thread's real time would look like an idle loop, and the clock would jump past every
    deadline.
    """
    if len(value) < OFFLOAD_MIN or isinstance(
        trio.lowlevel.current_clock(), trio.testing.MockClock
    ):
        value.prepare()
    else:
        await trio.to_thread.run_sync(value.prepare)


class Oversize(Exception):
    """The pieces of a value add up to more than the largest value accepted."""


class Reassembly:
    """Collects the MORE pieces of one link's value until its VALUE frame.

    The pieces are kept as they came (each copied out of its message once): a value of
    several pieces is delivered as a :class:`~netchan.codec.Scattered`, whose big fields a
    worker thread cuts out before it is decoded, so the node's loop never copies megabytes
    at once (docs/benchmarks.md, "Head-of-line across channels").
    """

    __slots__ = ("_limit", "_partial", "_size")

    def __init__(self, limit: int) -> None:
        self._partial: list[bytes] | None = None
        self._size = 0
        self._limit = limit

    @property
    def partial(self) -> bool:
        """Whether a value's pieces are being collected."""
        return self._partial is not None

    def reset(self) -> None:
        """Drop a partly received value."""
        self._partial = None
        self._size = 0

    def add(
        self, kind: P.Frame, payload: memoryview | list[bytes]
    ) -> memoryview | bytes | Scattered | None:
        """Take one piece; returns the whole value on its VALUE frame, else ``None``.

        ``payload`` is a view of the frame's payload, or the payloads of the chunks its
        message came in (the frame header already cut off the first: see
        ``Router._on_fragments``), which are kept as they are: no copy.

        Raises:
            Oversize: the pieces exceed the limit (the partial value is dropped).
        """
        if isinstance(payload, list):
            pieces = payload
        elif kind is P.Frame.MORE or self._partial is not None:
            # A piece of a value, copied out of its message once.
            pieces = [bytes(payload)]
        else:
            # A whole value in one frame: decoded from its view.
            return payload
        if kind is P.Frame.MORE:
            if self._partial is None:
                self._partial = []
            size = sum(map(len, pieces))
            if self._size + size > self._limit:
                self.reset()
                raise Oversize("value over max_value_size")
            self._partial.extend(pieces)
            self._size += size
            return None
        if self._partial is not None:
            self._partial.extend(pieces)
            whole = Scattered(self._partial)
            self.reset()
            return whole
        # A value in one frame that SCTP fragmented (above one packet, up to a piece): one
        # join, where the SCTP layer would have made it (the value is decoded at once).
        return b"".join(pieces)
