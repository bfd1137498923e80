"""The floor of netchan's ping-pong shape: its tasks and packets over bare trio UDP.

netchan's ping-pong over two fixed channels (``channel_bench.py --parts latency``) takes,
per round trip, two datagrams each way and these task steps:

* client: the calling task sends the value (``send_nowait``: no task switch); the node's
  reader task takes the reply, hands it to the waiting ``receive()`` through a trio memory
  channel and answers at once with a small datagram (the SACK and the CREDIT);
* server: the reader task takes the value, hands it to the exported channel (a trio memory
  channel) and answers at once with a small datagram; the application's echo task moves the
  value into the exported work queue (a trio memory channel of size 0); the node's work-queue
  task takes it and sends the reply.

This script runs exactly that shape with no SCTP, no codec beyond msgpack, no channel
layer: the same tasks, memory channels, wake-ups and datagrams, against the bare trio UDP
ping-pong (one task each side, one datagram each way; ``channel_bench.py``'s floor), in
two processes on loopback, alternating. What netchan's ping-pong costs beyond the shaped
floor is the Python work per packet and per value (the stack, the driver, the channel
layer), not the shape::

    .venv/bin/python benchmarks/hop_floor.py [--count 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _udp_baseline as udp
from benchmarks._chan_common import HOST, payload_value

RECV_SIZE = 65535
#: The acknowledgment datagram's size: a SACK chunk and a CREDIT message in a packet.
ACK = b"A" * 64
SIZE = 64
WARMUP = 500


def _recv_all(sock: socket.socket) -> list[tuple[bytes, object]]:
    """Every datagram waiting on the non-blocking ``sock`` (the driver reads in batches)."""
    got: list[tuple[bytes, object]] = []
    while True:
        try:
            got.append(sock.recvfrom(RECV_SIZE))
        except BlockingIOError:
            return got


async def serve_shaped(sock: socket.socket) -> None:
    """netchan's server shape: reader -> exported channel -> echo task -> work queue task."""
    exported_send, exported_recv = trio.open_memory_channel[object](1)
    queue_send, queue_recv = trio.open_memory_channel[object](0)
    peer: list[object] = [None]

    async def echo() -> None:
        """The application's task: every value back out through the work queue."""
        async for value in exported_recv:
            await queue_send.send(value)

    async def work_queue() -> None:
        """The node's task for the exported work queue: encode, send."""
        async for value in queue_recv:
            sock.sendto(msgpack.packb(value), peer[0])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        nursery.start_soon(work_queue)
        while True:
            await trio.lowlevel.wait_readable(sock)
            for data, addr in _recv_all(sock):
                if data == ACK:
                    continue
                peer[0] = addr
                exported_send.send_nowait(msgpack.unpackb(data))
                sock.sendto(ACK, addr)


async def serve(shape: str) -> None:
    """Serve ``shape`` on an ephemeral port, print the port, stop when stdin closes."""
    async with trio.open_nursery() as nursery:
        if shape == "bare":
            port = await udp.start_server(nursery)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
            sock.setblocking(False)
            port = sock.getsockname()[1]
            nursery.start_soon(serve_shaped, sock)
        print(port, flush=True)
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
        nursery.cancel_scope.cancel()


async def ping_shaped(port: int, count: int) -> list[float]:
    """netchan's client shape: the caller sends; a reader task hands the reply over."""
    value = payload_value(SIZE, "bytes", b"p")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((HOST, port))
    sock.setblocking(False)
    replies_send, replies_recv = trio.open_memory_channel[object](1)
    times = []

    async def reader() -> None:
        """The node's reader: the reply to the waiting receive(), an acknowledgment back."""
        while True:
            await trio.lowlevel.wait_readable(sock)
            for data, _ in _recv_all(sock):
                if data != ACK:
                    replies_send.send_nowait(msgpack.unpackb(data))
                    sock.send(ACK)

    with sock:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.lowlevel.checkpoint()
            for _ in range(count):
                t = time.perf_counter()
                sock.send(msgpack.packb(value))
                if await replies_recv.receive() != value:
                    raise RuntimeError("the echo did not return the value")
                times.append(time.perf_counter() - t)
            nursery.cancel_scope.cancel()
    return times


def run_shape(shape: str, count: int) -> float:
    """The p50 round trip (seconds) of ``count`` round trips of ``shape`` in two processes."""
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve", shape],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdin is not None and server.stdout is not None
        port = int(server.stdout.readline())
        if shape == "bare":
            # The floor exactly as channel_bench.py measures it (no time bound here).
            times = trio.run(udp.pingpong, port, WARMUP + count, float("inf"), SIZE)
        else:
            times = trio.run(ping_shaped, port, WARMUP + count)
        server.stdin.close()
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return statistics.median(times[WARMUP:])


def main() -> None:
    """Alternate the bare floor and netchan's shape; print each p50 and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="round trips per run")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--serve", choices=("bare", "shaped"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        trio.run(serve, args.serve)
        return
    bare, shaped = [], []
    for _ in range(args.repeat):
        bare.append(run_shape("bare", args.count))
        shaped.append(run_shape("shaped", args.count))
    print(f"bare trio UDP ping-pong p50:   {' / '.join(f'{t * 1e6:.0f}' for t in bare)} us")
    print(f"netchan's shape, no protocol:  {' / '.join(f'{t * 1e6:.0f}' for t in shaped)} us")
    ratio = statistics.median(shaped) / statistics.median(bare)
    print(f"ratio of the medians (shape / bare): {ratio:.2f}x")


if __name__ == "__main__":
    main()
