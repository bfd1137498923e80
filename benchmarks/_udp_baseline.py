"""The latency floor: a ping-pong over bare trio UDP sockets, msgpack values, no protocol.

Any transport driven by trio in Python pays at least this per round trip (two trio
wake-ups and two system calls each way); netchan's channel round trip is measured against it.
One datagram per value, no reliability: the floor, not an alternative.
"""

from __future__ import annotations

import time

import msgpack
import trio

from benchmarks._chan_common import HOST, payload_value

MAX_DATAGRAM = 65535


async def _echo(sock: trio.socket.SocketType) -> None:
    """Unpack each datagram, pack it again and send it back to where it came from."""
    while True:
        data, peer = await sock.recvfrom(MAX_DATAGRAM)
        await sock.sendto(msgpack.packb(msgpack.unpackb(data)), peer)


async def start_server(nursery: trio.Nursery) -> int:
    """Serve the echo on an ephemeral loopback UDP port in ``nursery``; the port."""
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind((HOST, 0))
    nursery.start_soon(_echo, sock)
    port: int = sock.getsockname()[1]
    return port


async def pingpong(port: int, count: int, seconds: float, size: int = 64) -> list[float]:
    """Round-trip times of ``size``-byte values, one at a time (at most count / seconds)."""
    value = payload_value(size, "bytes", b"p")
    times: list[float] = []
    with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as sock:
        await sock.connect((HOST, port))
        deadline = time.perf_counter() + seconds
        while len(times) < count and time.perf_counter() < deadline:
            t = time.perf_counter()
            await sock.send(msgpack.packb(value))
            back = msgpack.unpackb(await sock.recv(MAX_DATAGRAM))
            times.append(time.perf_counter() - t)
            if back != value:
                raise RuntimeError("the UDP echo did not return the value")
    return times
