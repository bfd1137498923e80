"""The command line: ``netchan demo | serve | send | recv | bench``.

Enough to poke at running nodes from a shell: ``serve`` exports channels that print or echo
what they get, ``send`` and ``recv`` talk to any node's named channels with JSON values,
``demo`` runs the worker fan-out across processes, ``bench`` a quick throughput measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import trio

from ._node import open_node

DEMO_TIMEOUT = 60.0


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare word is sent as a string


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _client_address(address: str) -> str:
    """A client-only node's bind address: same scheme, loopback peers stay on loopback."""
    scheme = address.split("://", 1)[0]
    host = "127.0.0.1" if "://127." in address else "0.0.0.0"
    return f"{scheme}://{host}:0"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m netchan``."""
    parser = argparse.ArgumentParser(prog="netchan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run a node exporting channels that print or echo")
    p.add_argument("address", help="e.g. udp://127.0.0.1:9000")
    p.add_argument(
        "--print",
        dest="prints",
        action="append",
        default=[],
        metavar="NAME",
        help="export NAME (send into it); every value is printed",
    )
    p.add_argument(
        "--echo",
        dest="echoes",
        action="append",
        default=[],
        metavar="NAME",
        help="export NAME (send into it) and NAME.out (receive from it): values come back; "
        "a dict value with a 'reply' channel end also gets the value sent there",
    )
    p.add_argument("--count", type=int, default=None, help="exit after this many values")

    p = sub.add_parser("send", help="send JSON values to a node's exported channel")
    p.add_argument("address")
    p.add_argument("name")
    p.add_argument("values", nargs="+", metavar="VALUE", help="JSON (bare words are strings)")

    p = sub.add_parser("recv", help="receive values from a node's exported work queue")
    p.add_argument("address")
    p.add_argument("name")
    p.add_argument("--count", type=int, default=None, help="stop after N values")

    p = sub.add_parser("demo", help="worker fan-out across processes on loopback")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--jobs", type=int, default=12)
    p.add_argument("--scheme", default="udp", choices=["udp", "sctp"])

    p = sub.add_parser("bench", help="a quick channel throughput measurement (one process)")
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--scheme", default="udp", choices=["udp", "sctp"])

    p = sub.add_parser("_worker", help=argparse.SUPPRESS)
    p.add_argument("address")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    async with open_node(args.address) as node:
        seen = 0
        done = trio.Event()
        async with trio.open_nursery() as nursery:

            def count() -> None:
                nonlocal seen
                seen += 1
                if args.count is not None and seen >= args.count:
                    done.set()

            for name in args.prints:
                send, recv = trio.open_memory_channel[Any](16)
                node.export(name, send)

                async def printer(name: str, recv: trio.MemoryReceiveChannel[Any]) -> None:
                    async for value in recv:
                        print(f"{name}: {_show(value)}", flush=True)
                        count()

                nursery.start_soon(printer, name, recv)
            for name in args.echoes:
                send, recv = trio.open_memory_channel[Any](16)
                out_send, out_recv = trio.open_memory_channel[Any](16)
                node.export(name, send)
                node.export(name + ".out", out_recv)

                async def echo(
                    recv: trio.MemoryReceiveChannel[Any], out: trio.MemorySendChannel[Any]
                ) -> None:
                    async for value in recv:
                        reply = value.get("reply") if isinstance(value, dict) else None
                        if isinstance(reply, trio.abc.SendChannel):
                            async with reply:
                                await reply.send({k: v for k, v in value.items() if k != "reply"})
                        else:
                            await out.send(value)
                        count()

                nursery.start_soon(echo, recv, out_send)
            print(f"serving on {node.address}", flush=True)
            await done.wait()
            nursery.cancel_scope.cancel()


async def _send(args: argparse.Namespace) -> None:
    async with open_node(client_address=_client_address(args.address)) as node:
        channel = await node.import_send(args.address, args.name)
        async with channel:
            for text in args.values:
                await channel.send(_json_arg(text))


async def _recv(args: argparse.Namespace) -> None:
    async with open_node(client_address=_client_address(args.address)) as node:
        channel = await node.import_receive(args.address, args.name, max_buffer=1)
        async with channel:
            n = 0
            async for value in channel:
                print(_show(value), flush=True)
                n += 1
                if args.count is not None and n >= args.count:
                    break


def _work(n: int) -> int:
    """The demo's job: the number of primes below n (a little CPU, deterministic)."""
    sieve = bytearray([1]) * max(n, 2)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, n, i)))
    return sum(sieve[:n])


async def _worker(args: argparse.Namespace) -> None:
    """A demo worker process: takes jobs from the coordinator, replies on each job's channel."""
    async with open_node(client_address=_client_address(args.address)) as node:
        jobs = await node.import_receive(args.address, "jobs", max_buffer=2)
        async with jobs:
            async for job in jobs:
                async with job["reply"] as reply:
                    await reply.send(
                        {"job": job["id"], "primes": _work(job["n"]), "pid": os.getpid()}
                    )


async def _demo(args: argparse.Namespace) -> int:
    """Coordinator: exports a job queue, starts worker processes, gathers replies."""
    if args.workers < 1 or args.jobs < 1:
        raise SystemExit("--workers and --jobs must be at least 1")
    async with open_node(f"{args.scheme}://127.0.0.1:0") as node:
        assert node.address is not None
        jobs_send, jobs_recv = trio.open_memory_channel[Any](0)
        node.export("jobs", jobs_recv)
        results_send, results_recv = trio.open_memory_channel[Any](args.jobs)
        print(f"coordinator on {node.address}; starting {args.workers} workers", flush=True)
        procs = [
            await trio.lowlevel.open_process(
                [sys.executable, "-m", "netchan", "_worker", node.address]
            )
            for _ in range(args.workers)
        ]
        started = time.monotonic()
        try:
            with trio.move_on_after(DEMO_TIMEOUT) as scope:
                # Jobs are short: submitted before every worker has imported the queue, they
                # would all go to the first one up. Wait (bounded by the timeout) until each
                # worker's link on "jobs" is open, so the fan-out is shown.
                while sum(p.links > 0 for p in node.statistics().peers) < args.workers:
                    await trio.sleep(0.02)
                async with trio.open_nursery() as nursery:

                    async def submit() -> None:
                        async with jobs_send, results_send:
                            for i in range(args.jobs):
                                # Each job carries a reply channel (a clone, handed over to
                                # the node with the job): a channel end inside a value.
                                job = {"id": i, "n": 20_000 + 5_000 * i}
                                await jobs_send.send(job | {"reply": results_send.clone()})

                    nursery.start_soon(submit)
                    results = []
                    async for result in results_recv:
                        results.append(result)
                        print(
                            f"job {result['job']:>3}: {result['primes']:>6} primes "
                            f"(worker pid {result['pid']})",
                            flush=True,
                        )
                    # The loop ends with EndOfChannel: the coordinator closed its own end and
                    # every worker closed the reply channel it was given.
            if scope.cancelled_caught:
                print("demo timed out", file=sys.stderr)
                return 1
        finally:
            # Workers leave once the job queue ends (EndOfChannel); bounded, then killed.
            with trio.move_on_after(10), trio.CancelScope(shield=True):
                for proc in procs:
                    await proc.wait()
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    with trio.CancelScope(shield=True):
                        await proc.wait()
        pids = {r["pid"] for r in results}
        stats = node.statistics()
        print(
            f"{len(results)} jobs done by {len(pids)} worker processes in "
            f"{time.monotonic() - started:.2f}s; values in/out "
            f"{stats.values_in}/{stats.values_out}, errors {dict(stats.errors) or 'none'}",
            flush=True,
        )
        ok = sorted(r["job"] for r in results) == list(range(args.jobs))
        return 0 if ok else 1


async def _bench(args: argparse.Namespace) -> None:
    """Two nodes in one process over loopback: values/s and MB/s at a few sizes."""
    if args.scheme == "udp":
        from .transport.sctp import COMPILED

        core = "compiled with mypyc" if COMPILED else "pure Python"
        print(f"udp:// (userspace SCTP, sans-io core {core})", flush=True)
    async with (
        open_node(f"{args.scheme}://127.0.0.1:0") as server,
        open_node(client_address=f"{args.scheme}://127.0.0.1:0") as client,
    ):
        assert server.address is not None
        send, recv = trio.open_memory_channel[Any](64)
        server.export("bench", send)
        channel = await client.import_send(server.address, "bench")
        for size in (64, 1024, 16384):
            payload = b"x" * size
            count = max(100, args.count * 64 // max(size, 64)) if size > 1024 else args.count
            start = time.perf_counter()
            async with trio.open_nursery() as nursery:

                async def drain(n: int = count) -> None:
                    for _ in range(n):
                        await recv.receive()

                nursery.start_soon(drain)
                for _ in range(count):
                    await channel.send(payload)
            elapsed = time.perf_counter() - start
            print(
                f"{size:>6} B: {count / elapsed:>10.0f} values/s  "
                f"{count * size / elapsed / 1e6:>8.1f} MB/s",
                flush=True,
            )
        print("full benchmark (vs trio TCP, two processes): python benchmarks/channel_bench.py")


def run(argv: list[str]) -> int:
    """Run the command line with ``argv``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            trio.run(_serve, args)
        elif args.command == "send":
            trio.run(_send, args)
        elif args.command == "recv":
            trio.run(_recv, args)
        elif args.command == "demo":
            return trio.run(_demo, args)
        elif args.command == "bench":
            trio.run(_bench, args)
        elif args.command == "_worker":
            trio.run(_worker, args)
    except KeyboardInterrupt:
        return 130
    return 0
