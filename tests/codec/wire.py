"""Hand-built msgpack for the codec tests, written from docs/codec.md (not from the codec)."""

from __future__ import annotations

import struct


def ext(code: int, payload: bytes) -> bytes:
    """msgpack ext: fixext for 1/2/4/8/16 bytes, else ext 8/16/32."""
    n = len(payload)
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if n in fixed:
        return bytes([fixed[n], code & 0xFF]) + payload
    if n < 256:
        return bytes([0xC7, n, code & 0xFF]) + payload
    if n < 65536:
        return b"\xc8" + struct.pack(">HB", n, code & 0xFF) + payload
    return b"\xc9" + struct.pack(">IB", n, code & 0xFF) + payload


def marker(code: int) -> bytes:
    """An empty-payload marker ext (always ext 8 with length 0)."""
    return bytes([0xC7, 0x00, code])


def array(*items: bytes) -> bytes:
    """msgpack array of already-encoded items."""
    n = len(items)
    head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
    return head + b"".join(items)


def fixmap(*pairs: tuple[bytes, bytes]) -> bytes:
    """msgpack fixmap of already-encoded key/value pairs."""
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


def s(text: str) -> bytes:
    """msgpack str (fixstr or str 8)."""
    raw = text.encode()
    if len(raw) < 32:
        return bytes([0xA0 | len(raw)]) + raw
    return bytes([0xD9, len(raw)]) + raw


def i(n: int) -> bytes:
    """msgpack small int (positive fixint or int 64)."""
    if 0 <= n < 128:
        return bytes([n])
    return b"\xd3" + struct.pack(">q", n)
