"""netchan channels between two processes vs trio TCP + msgpack, in the same run.

    python benchmarks/channel_bench.py             # full run (1 GiB through the RSS test)
    python benchmarks/channel_bench.py --quick     # a short run
    python benchmarks/channel_bench.py --scheme sctp --rss-bytes 268435456

Measures, on loopback:

1. throughput: values of 64 B, 1 KiB, 64 KiB and 1 MiB through a netchan channel into another
   process, and the same values msgpack-framed over trio TCP (a 4-byte length prefix and one
   ``send_all`` per value): values/s, MB/s, and the ratio netchan / TCP;
2. ping-pong latency of a 64 B value (p50, p99), netchan and TCP;
3. peak RSS of a fast sender and a slow receiver while ``--rss-bytes`` go through (memory
   stays bounded by credit, whatever the sender does);
4. head-of-line blocking across channels: round-trip latency of small values on one channel
   while a 100 MiB value is in flight on another.
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import netchan

MAX_VALUE = 128 * 1024 * 1024
SIZES = [64, 1024, 64 * 1024, 1024 * 1024]
LEN = struct.Struct(">I")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ the receiving process


async def sink(scheme: str) -> None:
    """Serves netchan channels and a TCP port; prints both addresses, runs until killed."""
    async with (
        netchan.open_node(f"{scheme}://127.0.0.1:0", max_value_size=MAX_VALUE) as node,
        trio.open_nursery() as nursery,
    ):
        # Throughput: "control" receives {"n": count, "reply": channel}; "data" counts.
        ctl_send, ctl_recv = trio.open_memory_channel[Any](1)
        data_send, data_recv = trio.open_memory_channel[Any](64)
        node.export("control", ctl_send)
        node.export("data", data_send)

        async def count() -> None:
            async for order in ctl_recv:
                for _ in range(order["n"]):
                    await data_recv.receive()
                async with order["reply"] as reply:
                    await reply.send("done")

        nursery.start_soon(count)
        # Ping-pong: echo_in -> echo_out (a work queue for the one importer).
        echo_send, echo_recv = trio.open_memory_channel[Any](1)
        out_send, out_recv = trio.open_memory_channel[Any](0)
        node.export("echo_in", echo_send)
        node.export("echo_out", out_recv)

        async def echo() -> None:
            async for value in echo_recv:
                await out_send.send(value)

        nursery.start_soon(echo)
        # Head-of-line: "big" takes 100 MiB values and answers on their reply channel.
        big_send, big_recv = trio.open_memory_channel[Any](1)
        node.export("big", big_send)

        async def big() -> None:
            async for value in big_recv:
                async with value["reply"] as reply:
                    await reply.send(len(value["data"]))

        nursery.start_soon(big)
        # Slow receiver for the RSS test.
        slow_send, slow_recv = trio.open_memory_channel[Any](4)
        node.export("slow", slow_send)

        async def slow() -> None:
            async for order in ctl_slow_recv:
                for _ in range(order["n"]):
                    await slow_recv.receive()
                    await trio.sleep(0.0005)
                async with order["reply"] as reply:
                    await reply.send(peak_rss_mib())

        ctl_slow_send, ctl_slow_recv = trio.open_memory_channel[Any](1)
        node.export("slow_control", ctl_slow_send)
        nursery.start_soon(slow)

        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        nursery.start_soon(trio.serve_listeners, tcp_handler, listeners)
        print(json.dumps({"node": node.address, "tcp": port}), flush=True)
        await trio.sleep_forever()


async def read_frame(stream: trio.SocketStream, buf: bytearray) -> bytes | None:
    while len(buf) < 4 or len(buf) < 4 + LEN.unpack_from(buf)[0]:
        chunk = await stream.receive_some(1 << 20)
        if not chunk:
            return None
        buf += chunk
    n = LEN.unpack_from(buf)[0]
    frame = bytes(buf[4 : 4 + n])
    del buf[: 4 + n]
    return frame


async def tcp_handler(stream: trio.SocketStream) -> None:
    """TCP baseline: first frame {"mode": "count", "n": N} or {"mode": "echo"}."""
    buf = bytearray()
    first = await read_frame(stream, buf)
    if first is None:
        return
    order = msgpack.unpackb(first)
    if order["mode"] == "count":
        for _ in range(order["n"]):
            frame = await read_frame(stream, buf)
            msgpack.unpackb(frame)
        await stream.send_all(b"ok")
    else:
        while (frame := await read_frame(stream, buf)) is not None:
            msgpack.unpackb(frame)
            await stream.send_all(LEN.pack(len(frame)) + frame)


# ------------------------------------------------------------------ measurements


def count_for(size: int, quick: bool) -> int:
    budget = (32 if quick else 256) * 1024 * 1024
    return max(20, min(20000 if not quick else 3000, budget // size))


async def netchan_throughput(node: netchan.Node, addr: str, size: int, n: int) -> float:
    control = await node.import_send(addr, "control")
    data = await node.import_send(addr, "data")
    reply_send, reply_recv = trio.open_memory_channel[Any](1)
    await control.send({"n": n, "reply": reply_send})
    payload = b"x" * size
    start = time.perf_counter()
    for _ in range(n):
        await data.send(payload)
    await reply_recv.receive()
    elapsed = time.perf_counter() - start
    await control.aclose()
    await data.aclose()
    return elapsed


async def tcp_throughput(port: int, size: int, n: int) -> float:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        order = msgpack.packb({"mode": "count", "n": n})
        await stream.send_all(LEN.pack(len(order)) + order)
        payload = b"x" * size
        start = time.perf_counter()
        for _ in range(n):
            frame = msgpack.packb(payload)
            await stream.send_all(LEN.pack(len(frame)) + frame)
        await stream.receive_some(2)
        return time.perf_counter() - start


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


async def netchan_pingpong(node: netchan.Node, addr: str, n: int) -> list[float]:
    send = await node.import_send(addr, "echo_in")
    recv = await node.import_receive(addr, "echo_out", max_buffer=1)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await send.send(b"p" * 64)
        await recv.receive()
        times.append(time.perf_counter() - t)
    await send.aclose()
    await recv.aclose()
    return times


async def tcp_pingpong(port: int, n: int) -> list[float]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        order = msgpack.packb({"mode": "echo"})
        await stream.send_all(LEN.pack(len(order)) + order)
        buf = bytearray()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            frame = msgpack.packb(b"p" * 64)
            await stream.send_all(LEN.pack(len(frame)) + frame)
            await read_frame(stream, buf)
            times.append(time.perf_counter() - t)
        return times


async def head_of_line(node: netchan.Node, addr: str, big_size: int) -> dict[str, Any]:
    send = await node.import_send(addr, "echo_in")
    recv = await node.import_receive(addr, "echo_out", max_buffer=1)
    big = await node.import_send(addr, "big")
    reply_send, reply_recv = trio.open_memory_channel[int](1)
    during: list[float] = []
    big_done = trio.Event()
    big_time = 0.0

    async def push_big() -> None:
        nonlocal big_time
        start = time.perf_counter()
        await big.send({"data": b"B" * big_size, "reply": reply_send})
        assert await reply_recv.receive() == big_size
        big_time = time.perf_counter() - start
        big_done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(push_big)
        await trio.sleep(0.01)
        while not big_done.is_set() and len(during) < 100_000:
            t = time.perf_counter()
            await send.send(b"s" * 64)
            await recv.receive()
            during.append(time.perf_counter() - t)
    await send.aclose()
    await recv.aclose()
    return {"big_seconds": big_time, "small_round_trips": len(during), "small": during}


async def rss_run(scheme: str, total: int, size: int) -> dict[str, float]:
    """Fresh processes: this one sends ``total`` bytes as fast as it can into a slow sink."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--role", "sink", "--scheme", scheme],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        sender = subprocess.run(
            [
                sys.executable,
                __file__,
                "--role",
                "rss-sender",
                "--scheme",
                scheme,
                "--address",
                info["node"],
                "--rss-bytes",
                str(total),
                "--rss-value",
                str(size),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        result: dict[str, float] = json.loads(sender.stdout.strip().splitlines()[-1])
        return result
    finally:
        proc.kill()
        proc.wait()


async def rss_sender(scheme: str, address: str, total: int, size: int) -> None:
    base = peak_rss_mib()
    async with netchan.open_node(
        client_address=f"{scheme}://127.0.0.1:0", max_value_size=MAX_VALUE
    ) as node:
        control = await node.import_send(address, "slow_control")
        data = await node.import_send(address, "slow")
        n = total // size
        reply_send, reply_recv = trio.open_memory_channel[float](1)
        await control.send({"n": n, "reply": reply_send})
        payload = b"r" * size
        start = time.perf_counter()
        for _ in range(n):
            await data.send(payload)
        receiver_peak = await reply_recv.receive()
        elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "bytes": n * size,
                "seconds": elapsed,
                "sender_peak_rss_mib": peak_rss_mib(),
                "sender_rss_before_mib": base,
                "receiver_peak_rss_mib": receiver_peak,
            }
        ),
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--role", "sink", "--scheme", args.scheme],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        addr, port = info["node"], info["tcp"]
        async with netchan.open_node(
            client_address=f"{args.scheme}://127.0.0.1:0", max_value_size=MAX_VALUE
        ) as node:
            print(f"netchan {args.scheme}:// vs trio TCP + msgpack, two processes on loopback\n")
            print(
                f"{'size':>8} {'count':>6} | {'netchan v/s':>11} {'MB/s':>7} | "
                f"{'tcp v/s':>9} {'MB/s':>7} | ratio"
            )
            for size in SIZES:
                n = count_for(size, args.quick)
                t_nc = await netchan_throughput(node, addr, size, n)
                t_tcp = await tcp_throughput(port, size, n)
                print(
                    f"{size:>8} {n:>6} | {n / t_nc:>11.0f} {n * size / t_nc / 1e6:>7.1f} | "
                    f"{n / t_tcp:>9.0f} {n * size / t_tcp / 1e6:>7.1f} | {t_tcp / t_nc:5.2f}",
                    flush=True,
                )
            pings = 200 if args.quick else 2000
            nc = await netchan_pingpong(node, addr, pings)
            tcp = await tcp_pingpong(port, pings)
            print(
                f"\nping-pong 64 B x{pings}: netchan p50 {pct(nc, 0.5) * 1e6:.0f} us, "
                f"p99 {pct(nc, 0.99) * 1e6:.0f} us | tcp p50 {pct(tcp, 0.5) * 1e6:.0f} us, "
                f"p99 {pct(tcp, 0.99) * 1e6:.0f} us",
                flush=True,
            )
            hol = await head_of_line(node, addr, args.big)
            small = hol["small"]
            if small:
                print(
                    f"\nhead-of-line: a {args.big >> 20} MiB value on one channel took "
                    f"{hol['big_seconds']:.2f}s; meanwhile {len(small)} small round trips on "
                    f"another: p50 {pct(small, 0.5) * 1e3:.2f} ms, p99 "
                    f"{pct(small, 0.99) * 1e3:.2f} ms, max {max(small) * 1e3:.2f} ms "
                    f"(idle p50 {pct(nc, 0.5) * 1e3:.2f} ms)",
                    flush=True,
                )
            else:
                print(
                    f"\nhead-of-line: no small round trip completed during the big value "
                    f"({hol['big_seconds']:.2f}s)",
                    flush=True,
                )
    finally:
        proc.kill()
        proc.wait()
    total = args.rss_bytes if not args.quick else min(args.rss_bytes, 128 * 1024 * 1024)
    r = await rss_run(args.scheme, total, args.rss_value)
    print(
        f"\nRSS: {r['bytes'] / 2**20:.0f} MiB in {args.rss_value >> 10} KiB values from a fast "
        f"sender to a slow receiver in {r['seconds']:.1f}s: sender peak "
        f"{r['sender_peak_rss_mib']:.0f} MiB (before {r['sender_rss_before_mib']:.0f}), "
        f"receiver peak {r['receiver_peak_rss_mib']:.0f} MiB",
        flush=True,
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheme", default="udp", choices=["udp", "sctp"])
    parser.add_argument("--quick", action="store_true", help="fewer values, 128 MiB RSS run")
    parser.add_argument("--rss-bytes", type=int, default=1 << 30)
    parser.add_argument("--rss-value", type=int, default=64 * 1024)
    parser.add_argument("--big", type=int, default=100 * 1024 * 1024)
    parser.add_argument("--role", default="main", choices=["main", "sink", "rss-sender"])
    parser.add_argument("--address")
    args = parser.parse_args()
    if args.role == "sink":
        trio.run(sink, args.scheme)
    elif args.role == "rss-sender":
        trio.run(rss_sender, args.scheme, args.address, args.rss_bytes, args.rss_value)
    else:
        trio.run(main, args)


if __name__ == "__main__":
    cli()
