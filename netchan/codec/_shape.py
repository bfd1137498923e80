"""The shape of a msgpack document (nesting depth, longest array or map), from its bytes.

The codec's limits are defined on the encoding: ``max_depth`` bounds the nesting of msgpack
arrays and maps, ``max_items`` the elements of one array or entries of one map. Checking
them needs no objects, so it can run before a hostile document is decoded.

``check_shape`` uses msgpack's C parser, whose fixed stack (1024 levels) is turned into our
limit by feeding ``1024 - max_depth`` one-element arrays in front of the document and
skipping it (``Unpacker.skip`` builds no objects). Where msgpack has no C extension,
``scan_shape`` does the same in Python, one header at a time.
"""

from __future__ import annotations

import struct

import msgpack

_U8, _U16, _U32 = struct.Struct(">B"), struct.Struct(">H"), struct.Struct(">I")

# Size in bytes of the scalars with a fixed size, by first byte.
_FIXED: dict[int, int] = {
    0xC0: 1, 0xC2: 1, 0xC3: 1,  # nil, false, true
    0xCA: 5, 0xCB: 9,  # float 32/64
    0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,  # uint 8..64
    0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9,  # int 8..64
    0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18,  # fixext 1..16
}  # fmt: skip
# First byte -> (length field, bytes before the payload) for str, bin and ext.
_SIZED: dict[int, tuple[struct.Struct, int]] = {
    0xD9: (_U8, 2), 0xDA: (_U16, 3), 0xDB: (_U32, 5),  # str 8/16/32
    0xC4: (_U8, 2), 0xC5: (_U16, 3), 0xC6: (_U32, 5),  # bin 8/16/32
    0xC7: (_U8, 3), 0xC8: (_U16, 4), 0xC9: (_U32, 6),  # ext 8/16/32 (+ type byte)
}  # fmt: skip


class ShapeError(Exception):
    """The document nests deeper or holds more items than allowed.

    Attributes:
        what: ``"depth"`` or ``"items"``.
    """

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what


def scan_shape(
    data: bytes | memoryview,
    max_depth: int,
    max_items: int | None,
    budget: int | None = None,
    markers: list[int] | None = None,
) -> bool:
    """Check the first msgpack document in ``data`` in pure Python.

    The cost is one step per msgpack header, whatever the payload sizes: a value made of a
    few large strings or blobs is checked in microseconds.

    Args:
        budget: give up after this many headers (None: never).
        markers: if given, the offset of every ext 8 header with an empty payload (the
            codec's markers, ``MARKER_PREFIX``) is appended to it.

    Returns:
        True when checked, False when the budget ran out first.

    Raises:
        ShapeError: deeper than ``max_depth`` or a container over ``max_items``.
        ValueError: malformed or truncated msgpack.
    """
    pos = 0
    end = len(data)
    remaining: list[int] = []  # per open container: elements still to read
    steps = 0
    while True:
        steps += 1
        if budget is not None and steps > budget:
            return False
        if pos >= end:
            raise ValueError("truncated msgpack")
        b = data[pos]
        count = -1  # elements of a container starting here, -1 for a scalar
        if b <= 0x7F or b >= 0xE0:
            pos += 1
        elif b <= 0x8F:
            count, is_map, pos = b & 0x0F, True, pos + 1
        elif b <= 0x9F:
            count, is_map, pos = b & 0x0F, False, pos + 1
        elif b <= 0xBF:
            pos += 1 + (b & 0x1F)
        elif b in _FIXED:
            pos += _FIXED[b]
        elif b in _SIZED:
            field, head = _SIZED[b]
            if pos + 1 + field.size > end:
                raise ValueError("truncated msgpack")
            if b == 0xC7 and markers is not None and data[pos + 1] == 0:
                markers.append(pos)
            pos += head + field.unpack_from(data, pos + 1)[0]
        elif b in (0xDC, 0xDE):
            if pos + 3 > end:
                raise ValueError("truncated msgpack")
            count, is_map, pos = _U16.unpack_from(data, pos + 1)[0], b == 0xDE, pos + 3
        elif b in (0xDD, 0xDF):
            if pos + 5 > end:
                raise ValueError("truncated msgpack")
            count, is_map, pos = _U32.unpack_from(data, pos + 1)[0], b == 0xDF, pos + 5
        else:
            raise ValueError(f"invalid msgpack byte 0x{b:02x}")
        if count >= 0:
            if max_items is not None and count > max_items:
                raise ShapeError("items", f"a container of {count} items, over max_items")
            if len(remaining) >= max_depth:
                raise ShapeError("depth", f"nested deeper than max_depth={max_depth}")
            if count:
                remaining.append(count * 2 if is_map else count)
                continue
        if pos > end:
            raise ValueError("truncated msgpack")
        # One element (scalar or empty container) done: close finished containers.
        while remaining:
            remaining[-1] -= 1
            if remaining[-1]:
                break
            remaining.pop()
        if not remaining:
            return True


def _c_stack_levels() -> int | None:
    """The nesting msgpack's C parser allows (1024 in every release so far), or None."""
    try:
        unpacker = msgpack.Unpacker(max_buffer_size=4096)
        unpacker.feed(b"\x91" * 1024 + b"\xc0")
        unpacker.skip()
        unpacker = msgpack.Unpacker(max_buffer_size=4096)
        unpacker.feed(b"\x91" * 1025 + b"\xc0")
        unpacker.skip()
    except msgpack.StackError:
        return 1024
    except Exception:
        return None
    return None


C_STACK_LEVELS = _c_stack_levels()


def check_shape(data: bytes | memoryview, max_depth: int, max_items: int | None) -> None:
    """Check the first msgpack document in ``data``, at C speed when possible.

    Depth alone is checked by skipping the document (no objects built); ``max_items`` needs
    msgpack to read it (``Unpacker.skip`` does not check lengths), into throwaway tuples.
    Malformed msgpack is not reported here (the decoder will); only limits are.

    Raises:
        ShapeError: deeper than ``max_depth`` or a container over ``max_items``.
    """
    if C_STACK_LEVELS is None:
        try:
            scan_shape(data, max_depth, max_items)
        except ValueError:
            return
        return
    prefix = b"\x91" * (C_STACK_LEVELS - max_depth)
    items = -1 if max_items is None else max_items
    unpacker = msgpack.Unpacker(
        max_buffer_size=len(prefix) + len(data),
        max_array_len=items,
        max_map_len=items,
        raw=True,
        use_list=False,  # hashable, as map keys may be arrays
        object_pairs_hook=tuple,  # and maps
        strict_map_key=False,
    )
    unpacker.feed(prefix)
    unpacker.feed(data)
    try:
        if max_items is None:
            unpacker.skip()
        else:
            unpacker.unpack()
    except msgpack.StackError:
        raise ShapeError("depth", f"nested deeper than max_depth={max_depth}") from None
    except ValueError as exc:
        if "exceeds max_" in str(exc):
            raise ShapeError("items", f"a container over max_items={max_items}") from None
    except Exception:
        return
