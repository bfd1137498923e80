"""Decoding big values without copying their big binary fields on the caller's thread.

The receiving side of :mod:`._gather`: a big value arrives in pieces (the node's MORE frames),
and decoding ``{"data": <32 MiB of bytes>, "reply": ch}`` from one joined buffer costs a copy
of the 32 MiB into a fresh ``bytes`` object (13-14 ms here, page faults included), during
which the receiving node's trio loop runs nothing else (docs/benchmarks.md, "Head-of-line
across channels").

A :class:`Scattered` value keeps the pieces as ``bytes`` objects. :meth:`Scattered.prepare`
walks the msgpack headers across the pieces (a few steps, whatever the sizes), cuts each big
``bin 32`` field of the value's plain structure (``dict`` values and ``list`` items, a few
levels down, as :func:`._gather.substitute`) out into its own ``bytes`` object, and leaves a
small skeleton with a random 16-byte token in its place. Each field is made by
``b"".join`` of exact ``bytes`` objects, which CPython runs without the GIL from 1 MiB on:
``prepare`` is meant for a worker thread (``trio.to_thread.run_sync``), where the copy no
longer holds the loop. The codec then decodes the skeleton and puts the fields back in place
of their tokens (:func:`put_back`).

Only plain paths are cut out: an array whose first item is one of the codec's markers (a
tuple, a set, a dataclass, a channel reference...) decodes into something else than a list,
and a map key must stay hashable, so big fields there stay in the skeleton (decoded as before).
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_right

from ._gather import GATHER_MIN, WALK_DEPTH, WALK_ITEMS
from ._shape import _FIXED as _shape_FIXED
from ._shape import _SIZED as _shape_SIZED

_TOKEN_SIZE = 16
_TOKEN_HEADER = bytes((0xC4, _TOKEN_SIZE))  # msgpack bin 8 of 16 bytes
#: Headers walked before giving up (a value of many small items is not made of blobs).
WALK_BUDGET = 4096

# msgpack's header tables (_shape.py): fixed-size scalars by first byte; for str, bin and
# ext the length field's size and the bytes before the payload.
_FIXED = _shape_FIXED
_SIZED: dict[int, tuple[int, int]] = {b: (f.size, head) for b, (f, head) in _shape_SIZED.items()}


class _Malformed(Exception):
    """The headers do not parse: the codec's full decode reports it."""


class _Open:
    """A container being walked: elements left, whether a map, whether blobs in it may be
    cut out (a plain path), the index of the next element."""

    __slots__ = ("index", "is_map", "left", "plain")

    def __init__(self, left: int, is_map: bool, plain: bool) -> None:
        self.left = left
        self.is_map = is_map
        self.plain = plain
        self.index = 0


class Scattered:
    """An encoded value as the consecutive ``bytes`` pieces it arrived in.

    ``b"".join(pieces)`` is the value's encoding. :meth:`prepare` (thread-safe, meant for a
    worker thread) makes the skeleton and the big fields; :meth:`parts` gives them.
    """

    __slots__ = ("_lock", "_prepared", "_starts", "pieces", "size")

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self._starts: list[int] = []
        size = 0
        for piece in pieces:
            self._starts.append(size)
            size += len(piece)
        self.size = size
        self._prepared: tuple[bytes, dict[bytes, bytes]] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces)

    @property
    def prepared(self) -> bool:
        """Whether :meth:`prepare` ran (decoding no longer copies big fields)."""
        return self._prepared is not None

    def prepare(self) -> None:
        """Cut the big fields out (idempotent). Copies them once, without the GIL."""
        with self._lock:
            if self._prepared is None:
                self._prepared = self._cut()

    def parts(self) -> tuple[bytes, dict[bytes, bytes]]:
        """The skeleton to decode and ``{token: field}`` to put back (prepares first)."""
        self.prepare()
        assert self._prepared is not None
        return self._prepared

    def _read(self, pos: int, n: int) -> bytes:
        """``n`` bytes from offset ``pos`` (a header: small)."""
        if pos + n > self.size:
            raise _Malformed
        i = bisect_right(self._starts, pos) - 1
        at = pos - self._starts[i]
        out = self.pieces[i][at : at + n]
        while len(out) < n:
            i += 1
            out += self.pieces[i][: n - len(out)]
        return out

    def _slice(self, start: int, end: int) -> bytes:
        """Bytes ``start:end`` as one new object; exact ``bytes`` joined: no GIL held for
        the copy from 1 MiB on (a piece fully inside is joined by reference)."""
        parts: list[bytes] = []
        i = bisect_right(self._starts, start) - 1
        while start < end:
            piece, base = self.pieces[i], self._starts[i]
            a, b = start - base, min(end - base, len(piece))
            parts.append(piece if a == 0 and b == len(piece) else piece[a:b])
            start = base + b
            i += 1
        return b"".join(parts)

    def _cut(self) -> tuple[bytes, dict[bytes, bytes]]:
        try:
            spans = self._blobs()
        except _Malformed:
            spans = []
        if not spans:
            return self._slice(0, self.size), {}
        skeleton: list[bytes] = []
        fields: dict[bytes, bytes] = {}
        done = 0
        for head, start, end in spans:
            skeleton.append(self._slice(done, head))
            token = os.urandom(_TOKEN_SIZE)
            skeleton.append(_TOKEN_HEADER + token)
            fields[token] = self._slice(start, end)
            done = end
        skeleton.append(self._slice(done, self.size))
        return b"".join(skeleton), fields

    def _blobs(self) -> list[tuple[int, int, int]]:
        """``(header, start, end)`` of each big ``bin 32`` on a plain path, in order."""
        found: list[tuple[int, int, int]] = []
        stack: list[_Open] = []
        pos = 0
        for _ in range(WALK_BUDGET):
            b = self._read(pos, 1)[0]
            top = stack[-1] if stack else None
            if top is not None and top.index == 0 and not top.is_map and 0xC7 <= b <= 0xC9:
                top.plain = False  # an ext first: maybe a marker (tuple, reference...)
            if top is not None and top.index == 0 and not top.is_map and 0xD4 <= b <= 0xD8:
                top.plain = False
            count = -1
            if b <= 0x7F or b >= 0xE0:
                pos += 1
            elif b <= 0x9F:
                count, is_map, pos = b & 0x0F, b <= 0x8F, pos + 1
            elif b <= 0xBF:
                pos += 1 + (b & 0x1F)
            elif b in _FIXED:
                pos += _FIXED[b]
            elif b in _SIZED:
                field, head = _SIZED[b]
                n = int.from_bytes(self._read(pos + 1, field), "big")
                if (
                    b == 0xC6
                    and n >= GATHER_MIN
                    and len(stack) <= WALK_DEPTH
                    and all(c.plain for c in stack)
                    and (top is None or not top.is_map or top.index % 2 == 1)
                ):
                    found.append((pos, pos + head, pos + head + n))
                pos += head + n
            elif b in (0xDC, 0xDE):
                count = int.from_bytes(self._read(pos + 1, 2), "big")
                is_map, pos = b == 0xDE, pos + 3
            elif b in (0xDD, 0xDF):
                count = int.from_bytes(self._read(pos + 1, 4), "big")
                is_map, pos = b == 0xDF, pos + 5
            else:
                raise _Malformed
            if pos > self.size:
                raise _Malformed
            if count > 0:
                plain = top is None or top.plain
                stack.append(_Open(count * 2 if is_map else count, is_map, plain))
                if count > WALK_ITEMS:
                    stack[-1].plain = False
                continue
            while stack:  # one element done
                stack[-1].left -= 1
                stack[-1].index += 1
                if stack[-1].left:
                    break
                stack.pop()
            if not stack:
                return found if pos == self.size else []
        return []


def put_back(value: object, fields: dict[bytes, bytes], depth: int = WALK_DEPTH) -> object:
    """``value`` with each token of ``fields`` (a 16-byte ``bytes``) replaced by its field,
    in place in ``dict`` values and ``list`` items (fresh objects of the decoder's)."""
    kind = type(value)
    if kind is bytes:
        data: bytes = value  # type: ignore[assignment]
        return fields.get(data, data) if len(data) == _TOKEN_SIZE else data
    if depth < 0:
        return value
    if kind is dict:
        mapping: dict[object, object] = value  # type: ignore[assignment]
        if len(mapping) > WALK_ITEMS:
            return value
        for key, item in mapping.items():
            new = put_back(item, fields, depth - 1)
            if new is not item:
                mapping[key] = new
    elif kind is list:
        items: list[object] = value  # type: ignore[assignment]
        if len(items) > WALK_ITEMS:
            return value
        for index, item in enumerate(items):
            new = put_back(item, fields, depth - 1)
            if new is not item:
                items[index] = new
    return value
