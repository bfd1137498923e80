"""Encoding big values without copying their big binary fields.

A value such as ``{"data": <32 MiB of bytes>, "reply": ch}`` costs msgpack a copy of the 32 MiB
into its buffer and another into the resulting bytes object, on fresh memory whose page faults
cost more than the copies: about 20-30 ms here, during which the sending node's trio loop
runs nothing else, so every other channel of the node stalls (docs/benchmarks.md,
"Head-of-line across channels").

:func:`substitute` replaces each big ``bytes`` field of the value's plain structure (``dict``
values and ``list`` items, a few levels down) with a random 16-byte token; the codec encodes
that small skeleton, and :class:`Gathered` splices the original bytes objects back in place
of the tokens' encodings, by reference. The result is byte for byte what the codec would have
produced (msgpack's bin 32 header, then the bytes), so receivers see no difference; the
sender copies the data only piece by piece as the pieces are framed.

Only exact ``bytes`` travel by reference (immutable; a ``bytearray`` or ``memoryview`` could
change before it is sent, and bytearrays are an ext type anyway), and only inside ``dict`` and
``list``: the codec encodes tuples, sets and registered classes as ext types whose header holds
the length of their encoding, which the splice would invalidate.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

#: ``bytes`` objects at least this long travel by reference.
GATHER_MIN = 1 << 20
#: How far :func:`substitute` looks: container levels, and items per container (a big
#: container is made of many small items, which this does not help).
WALK_DEPTH = 4
WALK_ITEMS = 64

_TOKEN_SIZE = 16
# msgpack bin 8 with a 16-byte payload: how a token appears in the skeleton.
_TOKEN_HEADER = bytes((0xC4, _TOKEN_SIZE))
# msgpack bin 32: how msgpack encodes any bytes object of 64 KiB or more.
_BIN32 = struct.Struct(">BI")


class Gathered:
    """An encoded value as consecutive buffers, big binary fields by reference.

    ``b"".join(parts)`` is the value's encoding; :meth:`pieces` cuts it into frames' payloads
    without joining it as a whole.
    """

    __slots__ = ("parts", "size")

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.size = sum(len(p) for p in parts)

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return b"".join(self.parts)

    def pieces(self, size: int) -> Iterator[list[memoryview]]:
        """Consecutive pieces of at most ``size`` bytes, each as the views that make it up."""
        piece: list[memoryview] = []
        room = size
        for part in self.parts:
            view = memoryview(part)
            while view:
                take = view[:room]
                piece.append(take)
                room -= len(take)
                view = view[len(take) :]
                if room == 0:
                    yield piece
                    piece, room = [], size
        if piece:
            yield piece


def substitute(value: object, found: list[tuple[bytes, bytes]], depth: int = WALK_DEPTH) -> object:
    """``value`` with each big ``bytes`` field replaced by a fresh token (appended to
    ``found`` with the bytes it stands for, in encoding order); ``value`` itself when it has
    none. Containers on the way are copied, shallowly; ``value`` is not changed."""
    kind = type(value)
    if kind is bytes:
        if len(value) >= GATHER_MIN:  # type: ignore[arg-type]
            token = os.urandom(_TOKEN_SIZE)
            found.append((token, value))  # type: ignore[arg-type]
            return token
        return value
    if depth == 0:
        return value
    if kind is dict:
        mapping: dict[object, object] = value  # type: ignore[assignment]
        if len(mapping) > WALK_ITEMS:
            return value
        copy: dict[object, object] | None = None
        for key, item in mapping.items():
            new = substitute(item, found, depth - 1)
            if new is not item:
                if copy is None:
                    copy = dict(mapping)
                copy[key] = new
        return value if copy is None else copy
    if kind is list:
        items: list[object] = value  # type: ignore[assignment]
        if len(items) > WALK_ITEMS:
            return value
        out: list[object] | None = None
        for index, item in enumerate(items):
            new = substitute(item, found, depth - 1)
            if new is not item:
                if out is None:
                    out = list(items)
                out[index] = new
        return value if out is None else out
    return value


def splice(skeleton: bytes, found: list[tuple[bytes, bytes]]) -> Gathered | None:
    """Put the bytes back in place of their tokens' encodings; None if a token's encoding is
    not in ``skeleton`` exactly once (random 16-byte tokens: only if the value's own bytes
    happen to contain one, a chance of 2**-128 per token)."""
    places: list[tuple[int, bytes]] = []
    for token, data in found:
        marker = _TOKEN_HEADER + token
        at = skeleton.find(marker)
        if at < 0 or skeleton.find(marker, at + 1) >= 0:
            return None
        places.append((at, data))
    places.sort(key=lambda place: place[0])
    parts: list[bytes] = []
    start = 0
    for at, data in places:
        parts.append(skeleton[start:at] + _BIN32.pack(0xC6, len(data)))
        parts.append(data)
        start = at + len(_TOKEN_HEADER) + _TOKEN_SIZE
    parts.append(skeleton[start:])
    return Gathered(parts)
