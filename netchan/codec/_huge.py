"""Big fields on transparent huge pages (Linux).

A big field that :meth:`Scattered.prepare <netchan.codec.Scattered.prepare>` cuts out of a
value (32 MiB, say) is a fresh allocation: glibc maps it from the kernel, and filling it costs
a page fault per 4 KiB page (8 192 of them, about 17 ms here, in the worker thread). Worse,
the receiving application's task that drops the value later unmaps those 8 192 pages, 2-3 ms
with the GIL held, during which no channel of the node moves: that was most of the p99 of a
small channel's round trip beside a channel carrying 32 MiB values (docs/benchmarks.md,
"Head-of-line across channels").

Asked for transparent huge pages (``madvise(MADV_HUGEPAGE)``, before the first byte is
written) the same field costs 16 faults of 2 MiB: it fills in about a fifth of the time and is
freed in a tenth. The kernel's default THP mode (``madvise``) honours the request; ``never``
ignores it, and a kernel without THP refuses it: either way the field is made as before.

:func:`join_huge` makes the ``bytes`` object the documented CPython way for a buffer filled
after creation (``PyBytes_FromStringAndSize(NULL, n)``, written before anything else sees
it), advises its pages, and copies the parts in with libc's ``memcpy`` through ctypes, which
releases the GIL for the call as ``b"".join`` does for a big join. Where any of that is
missing (not Linux, not CPython) it is ``b"".join``.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from collections.abc import Callable, Sequence
from typing import Any

#: Fields at least this long are asked onto huge pages: two huge pages' worth, so at least
#: one 2 MiB-aligned huge page lies inside whatever address the allocation gets.
HUGE_MIN = 4 << 20

_PAGE = mmap.PAGESIZE


class _Libc:
    """The three C functions :func:`join_huge` needs, bound once."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.madvise: Callable[..., int] = libc.madvise
        self.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self.madvise.restype = ctypes.c_int
        self.memcpy: Callable[..., Any] = libc.memcpy
        self.memcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        self.memcpy.restype = ctypes.c_void_p
        # A PyDLL function: called with the GIL held, as the C API requires.
        self.new_bytes: Callable[..., bytes] = ctypes.pythonapi.PyBytes_FromStringAndSize
        self.new_bytes.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
        self.new_bytes.restype = ctypes.py_object
        self.advice: int = mmap.MADV_HUGEPAGE


def _load() -> _Libc | None:
    if not sys.platform.startswith("linux") or sys.implementation.name != "cpython":
        return None
    try:
        return _Libc()
    except (AttributeError, OSError):
        return None


_libc = _load()


def address(data: bytes) -> int:
    """Where ``data``'s bytes are in memory (CPython: the object's own buffer)."""
    pointer = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    assert pointer is not None
    return pointer


def join_huge(parts: Sequence[bytes]) -> bytes:
    """``b"".join(parts)`` (exact ``bytes`` parts), on huge pages when long enough.

    Meant for a worker thread: the copy runs without the GIL either way.
    """
    libc = _libc
    size = sum(len(part) for part in parts)
    if libc is None or size < HUGE_MIN:
        return b"".join(parts)
    out = libc.new_bytes(None, size)
    start = address(out)
    # madvise wants page-aligned bounds: advise the whole pages inside the buffer (the
    # allocator's header shares the first page; huge pages come only 2 MiB-aligned anyway).
    first = -(-start // _PAGE) * _PAGE
    last = (start + size) // _PAGE * _PAGE
    if last > first:
        libc.madvise(first, last - first, libc.advice)  # refused: normal pages, same bytes
    at = start
    for part in parts:
        if part:
            libc.memcpy(at, address(part), len(part))
            at += len(part)
    return out
