"""The baseline netchan is compared with: trio TCP + msgpack, framed by a 4-byte length.

What a user would write without netchan: the sender packs each value with msgpack and makes
one ``send_all`` of length prefix + body per value; the receiver reads frames and unpacks each
one. One TCP connection per measurement; the first frame says what the connection is for:

* ``{"mode": "count"}``: values until a ``None`` value, then a reply ``{"n", "bytes"}``;
* ``{"mode": "echo"}``: every value is unpacked, packed again and sent back (ping-pong);
* ``{"mode": "slow", "sleep": s}``: like count, but the receiver sleeps ``s`` seconds per
  value (the memory test) and replies with its peak RSS.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import msgpack
import trio

from benchmarks._chan_common import HOST, payload_value, peak_rss_mb, rss_mb, value_size

LEN = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
READ_SIZE = 1 << 20


class FrameReader:
    """Length-prefixed frames out of a byte stream (buffer with a read offset)."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buf = bytearray()
        self._pos = 0

    async def read(self) -> bytearray | None:
        """The next frame's body, or None at EOF."""
        while True:
            buf, pos = self._buf, self._pos
            avail = len(buf) - pos
            if avail >= 4:
                n = LEN.unpack_from(buf, pos)[0]
                if n > MAX_FRAME:
                    raise ValueError(f"frame of {n} bytes is over the limit")
                if avail >= 4 + n:
                    self._pos = pos + 4 + n
                    return buf[pos + 4 : pos + 4 + n]
            if pos:
                del buf[:pos]
                self._pos = 0
            chunk = await self._stream.receive_some(READ_SIZE)
            if not chunk:
                return None
            buf += chunk


def frame(value: Any) -> bytes:
    """Length prefix + msgpack body of ``value``."""
    body = msgpack.packb(value)
    return LEN.pack(len(body)) + body


# ------------------------------------------------------------------ the receiving side


async def handle_connection(stream: trio.SocketStream) -> None:
    """Serve one baseline connection (see the module docstring for the modes)."""
    async with stream:
        reader = FrameReader(stream)
        first = await reader.read()
        if first is None:
            return
        order = msgpack.unpackb(first)
        mode = order["mode"]
        if mode == "echo":
            while (body := await reader.read()) is not None:
                await stream.send_all(frame(msgpack.unpackb(body)))
            return
        sleep = float(order.get("sleep", 0.0))
        before = rss_mb()
        cpu = time.process_time()
        n = nbytes = 0
        while (body := await reader.read()) is not None:
            value = msgpack.unpackb(body)
            if value is None:
                break
            n += 1
            nbytes += value_size(value)
            if sleep:
                await trio.sleep(sleep)
        reply: dict[str, Any] = {
            "n": n,
            "bytes": nbytes,
            "receiver_cpu": time.process_time() - cpu,
        }
        if mode == "slow":
            reply |= {"receiver_peak_rss_mb": peak_rss_mb(), "receiver_rss_before_mb": before}
        await stream.send_all(frame(reply))


async def start_server(nursery: trio.Nursery) -> int:
    """Serve baseline connections on an ephemeral loopback port in ``nursery``; the port."""
    listeners = await trio.open_tcp_listeners(0, host=HOST)
    nursery.start_soon(trio.serve_listeners, handle_connection, listeners)
    port: int = listeners[0].socket.getsockname()[1]
    return port


# ------------------------------------------------------------------ the sending side


async def _connect(port: int, order: dict[str, Any]) -> tuple[trio.SocketStream, FrameReader]:
    """A connection to the baseline server whose first frame says what it is for."""
    stream = await trio.open_tcp_stream(HOST, port)
    await stream.send_all(frame(order))
    return stream, FrameReader(stream)


async def throughput(port: int, size: int, shape: str, seconds: float) -> dict[str, float]:
    """Values of ``size`` bytes for ``seconds``; timed until the receiver has unpacked all."""
    stream, reader = await _connect(port, {"mode": "count"})
    async with stream:
        value = payload_value(size, shape)
        n = 0
        cpu = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            await stream.send_all(frame(value))
            n += 1
            if time.perf_counter() >= deadline:
                break
        await stream.send_all(frame(None))
        body = await reader.read()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    if body is None:
        raise RuntimeError("the TCP receiver closed without a reply")
    reply = msgpack.unpackb(body)
    if reply["n"] != n or reply["bytes"] != n * size:
        raise RuntimeError(f"TCP receiver counted {reply}, sent {n} values of {size} B")
    return {
        "n": n,
        "bytes": n * size,
        "seconds": elapsed,
        "sender_cpu": cpu,
        "receiver_cpu": reply["receiver_cpu"],
    }


async def pingpong(port: int, count: int, seconds: float, size: int = 64) -> list[float]:
    """Round-trip times of ``size``-byte values, one at a time (at most count / seconds)."""
    stream, reader = await _connect(port, {"mode": "echo"})
    times: list[float] = []
    async with stream:
        deadline = time.perf_counter() + seconds
        value = payload_value(size, "bytes", b"p")
        while len(times) < count and time.perf_counter() < deadline:
            t = time.perf_counter()
            await stream.send_all(frame(value))
            body = await reader.read()
            times.append(time.perf_counter() - t)
            if body is None or msgpack.unpackb(body) != value:
                raise RuntimeError("the TCP echo did not return the value")
    return times


async def slow_receiver_run(
    port: int, total: int, size: int, sleep: float, shape: str
) -> dict[str, float]:
    """Push ``total`` bytes in ``size``-byte values as fast as TCP takes them."""
    stream, reader = await _connect(port, {"mode": "slow", "sleep": sleep})
    async with stream:
        n = total // size
        value = payload_value(size, shape, b"r")
        start = time.perf_counter()
        for _ in range(n):
            await stream.send_all(frame(value))
        await stream.send_all(frame(None))
        body = await reader.read()
        elapsed = time.perf_counter() - start
    if body is None:
        raise RuntimeError("the TCP receiver closed without a reply")
    reply: dict[str, float] = msgpack.unpackb(body)
    if reply["n"] != n:
        raise RuntimeError(f"TCP receiver counted {reply['n']} values, sent {n}")
    return reply | {"bytes": n * size, "seconds": elapsed}
