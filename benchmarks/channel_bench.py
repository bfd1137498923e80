"""netchan channels between two processes vs trio TCP + msgpack, in the same run.

Usage::

    .venv/bin/python benchmarks/channel_bench.py                # full run (1 GiB memory test)
    .venv/bin/python benchmarks/channel_bench.py --quick        # short run, 128 MiB memory test
    .venv/bin/python benchmarks/channel_bench.py --sizes 64,1024 --parts throughput
    .venv/bin/python benchmarks/channel_bench.py --quick --profile /tmp/prof   # cProfile both

Measures, on loopback (127.0.0.1), with a receiving process and a sending process (this
process only starts them, reads their JSON reports and prints the tables):

1. throughput: values of 64 B, 1 KiB, 64 KiB and 1 MiB (``--sizes``) through a netchan
   channel into the other process for ``--seconds`` each, and the same values msgpack-framed
   over trio TCP (4-byte length prefix, one ``send_all`` per value; the receiver reads frames
   and unpacks each): values/s, MB/s and the ratio netchan / TCP;
2. ping-pong latency of a 64 B value (p50, p99): netchan request on one channel, reply on
   another; TCP on one connection with the same framing; netchan request/reply with a fresh
   reply channel inside each request (examples/request_reply.py's idiom); and the floor of
   any trio transport, the same ping-pong over bare trio UDP sockets;
3. memory: peak RSS (VmHWM) of a fast sender and a slow receiver (it sleeps ``--slow-sleep``
   per value) while ``--rss-bytes`` go through in ``--rss-value``-byte values, for netchan and
   for TCP, each in a fresh pair of processes;
4. head-of-line blocking across channels: request/reply round trips of small values (a reply
   channel in each request) while a ``--big``-byte value travels on another channel between
   the same nodes, next to the same round trips on the idle association.

5. ``endpoint``: benchmarks/endpoint_bench.py for 1 KiB and 16 KiB messages, the ``udp://``
   endpoint against usrsctp's ``tsctp`` (the transport without the channel layer).

At the end, a table of the goals: each measured ratio next to its target (the peak RSS row:
netchan's peak over TCP's). ``--parts throughput,latency,hol,rss,endpoint`` prints every row
of the performance goals from one run.

Every child process runs under a timeout and is stopped (stdin closed, then killed) whatever
happens. ``--profile DIR`` runs both children under cProfile, writes ``DIR/*.prof`` and prints
the top functions by own time (the numbers of a profiled run are slower than normal).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pstats
import subprocess
import sys
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import netchan
from benchmarks import _chan_netchan as nc
from benchmarks import _tcp_baseline as tcp
from benchmarks import _udp_baseline as udp
from benchmarks._chan_common import (
    HOST,
    MiB,
    pct,
    peak_rss_mb,
    report,
    rss_mb,
    run_until_stdin_closes,
)
from netchan.transport import Endpoint, open_endpoint
from netchan.transport.sctp import COMPILED

SIZES = [64, 1024, 64 * MiB // 1024, MiB]
PARTS = ("throughput", "latency", "hol", "rss", "endpoint")
WARMUP_SIZE = 1024

# What netchan aims at, printed next to the results.
TARGET_RATIO = {64: 1.0, 1024: 1.0, MiB: 0.5}
TARGET_LATENCY_RATIO = 2.0  # netchan round trip p50 / bare trio UDP round trip p50
TARGET_HOL_RATIO = 3.0  # request/reply p99 during a big value / idle p99
TARGET_RSS_MB = 150.0
TARGET_ENDPOINT_RATIO = {1024: 1.0, 16 * 1024: 1.0}  # udp:// endpoint msgs/s / usrsctp tsctp


def max_value_size(big: int) -> int:
    """The nodes' codec limit: room for the head-of-line value and its envelope."""
    return max(128 * MiB, big + MiB)


def udp_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--pmtu`` and ``--udp-option NAME=VALUE`` as keyword options of ``open_endpoint``."""
    options: dict[str, Any] = {}
    if args.pmtu is not None:
        options["pmtu"] = args.pmtu
    for item in args.udp_option:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--udp-option takes NAME=VALUE, got {item!r}")
        options[name] = json.loads(value)
    return options


def open_bench_endpoint(args: argparse.Namespace) -> AbstractAsyncContextManager[Endpoint]:
    """A bare endpoint with the nodes' transport options (the transport-only ping-pong)."""
    return open_endpoint(f"{args.scheme}://{HOST}:0", **udp_options(args))


def open_bench_node(
    args: argparse.Namespace, max_size: int, *, listen: bool = False
) -> AbstractAsyncContextManager[netchan.Node]:
    """A node on loopback; ``--pmtu``/``--udp-option`` go to the endpoint via ``transport=``."""
    address = f"{args.scheme}://{HOST}:0"
    transport = None
    options = udp_options(args)
    if options:
        transport = functools.partial(open_endpoint, **options)
    return netchan.open_node(
        address if listen else None,
        client_address=address,
        max_value_size=max_size,
        transport=transport,
    )


# ------------------------------------------------------------------ child: the receiver


async def role_sink(args: argparse.Namespace) -> None:
    """Serve netchan channels and the TCP baseline; print both addresses; run until stdin EOF."""
    async with trio.open_nursery() as outer:
        outer.start_soon(run_until_stdin_closes, outer.cancel_scope)
        async with (
            open_bench_node(args, max_value_size(args.big), listen=True) as node,
            open_bench_endpoint(args) as endpoint,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(nc.endpoint_echo, endpoint)
            sizes = {WARMUP_SIZE, *parse_sizes(args.sizes)}
            await nc.export_all(
                node, nursery, {size: nc.window_for(size, args.window) for size in sizes}
            )
            port = await tcp.start_server(nursery)
            udp_port = await udp.start_server(nursery)
            report(
                {
                    "node": node.address,
                    "tcp": port,
                    "udp": udp_port,
                    "endpoint": endpoint.address,
                    "rss_mb": rss_mb(),
                }
            )
            await trio.sleep_forever()


# ------------------------------------------------------------------ child: the sender


async def role_client(args: argparse.Namespace) -> None:
    """Run the throughput, latency and head-of-line parts against a sink; report each result."""
    sizes = parse_sizes(args.sizes)
    parts = args.parts.split(",")
    kinds = args.kinds.split(",")
    limit = 60 + 20 * args.seconds
    async with open_bench_node(args, max_value_size(args.big)) as node:
        addr, port = args.address, args.tcp_port
        if "throughput" in parts:
            with trio.fail_after(limit):
                # Warm-up (not reported): associations, connections, congestion windows.
                warm = min(0.3, args.seconds)
                if "netchan" in kinds:
                    await nc.throughput(node, addr, WARMUP_SIZE, args.shape, warm)
                if "tcp" in kinds:
                    await tcp.throughput(port, WARMUP_SIZE, args.shape, warm)
            for size in sizes:
                best: dict[str, dict[str, Any]] = {}
                rates: dict[str, list[float]] = {kind: [] for kind in kinds}
                for _ in range(args.repeat):
                    for kind in kinds:
                        with trio.fail_after(limit):
                            if kind == "netchan":
                                r = await nc.throughput(node, addr, size, args.shape, args.seconds)
                            else:
                                r = await tcp.throughput(port, size, args.shape, args.seconds)
                        rate = r["n"] / r["seconds"]
                        rates[kind].append(rate)
                        if kind not in best or rate > best[kind]["n"] / best[kind]["seconds"]:
                            best[kind] = r
                for kind in kinds:
                    report(
                        {"part": "throughput", "kind": kind, "size": size, "rates": rates[kind]}
                        | best[kind]
                    )
        if "latency" in parts:
            chosen: dict[str, dict[str, Any]] = {}
            for _ in range(args.repeat):
                for kind in kinds:
                    with trio.fail_after(limit):
                        record: dict[str, Any] = {"part": "latency", "kind": kind}
                        if kind == "netchan":
                            times, assoc = await nc.pingpong(node, addr, args.pings, args.seconds)
                            record |= {"times": times, "association": assoc}
                        else:
                            record["times"] = await tcp.pingpong(port, args.pings, args.seconds)
                    # The round with the lowest median is kept (least disturbed by other load).
                    if kind not in chosen or pct(record["times"], 0.5) < pct(
                        chosen[kind]["times"], 0.5
                    ):
                        chosen[kind] = record
            for kind in kinds:
                report(chosen[kind])
            if "netchan" in kinds:
                # Request/reply with a reply channel per request, and the bare-UDP floor.
                floor: dict[str, dict[str, Any]] = {}
                for _ in range(args.repeat):
                    for part in ("latency-reqrep", "latency-udp"):
                        with trio.fail_after(limit):
                            record = {"part": part, "kind": part.removeprefix("latency-")}
                            if part == "latency-reqrep":
                                times, assoc = await nc.request_reply(
                                    node, addr, args.pings, args.seconds
                                )
                                record |= {"times": times, "association": assoc}
                            else:
                                record["times"] = await udp.pingpong(
                                    args.udp_port, args.pings, args.seconds
                                )
                        if part not in floor or pct(record["times"], 0.5) < pct(
                            floor[part]["times"], 0.5
                        ):
                            floor[part] = record
                for record in floor.values():
                    report(record)
                # The transport alone, for what the channel layer adds to a round trip.
                best_ep: dict[str, Any] | None = None
                async with open_bench_endpoint(args) as endpoint:
                    for _ in range(args.repeat):
                        with trio.fail_after(limit):
                            times, assoc = await nc.endpoint_pingpong(
                                endpoint, args.endpoint, args.pings, args.seconds
                            )
                        if best_ep is None or pct(times, 0.5) < pct(best_ep["times"], 0.5):
                            best_ep = {"times": times, "association": assoc}
                report({"part": "latency-endpoint", "kind": "endpoint"} | (best_ep or {}))
        if "hol" in parts:
            with trio.fail_after(limit + args.seconds + args.big / 1e6):
                r = await nc.head_of_line(
                    node, addr, args.big, min(args.pings, 500), seconds=args.seconds
                )
            report({"part": "hol", "kind": "netchan", "big": args.big} | r)


async def role_rss_client(args: argparse.Namespace) -> None:
    """Push ``--rss-bytes`` into a slow receiver over netchan or TCP; report both peaks."""
    before = rss_mb()
    with trio.fail_after(args.rss_timeout):
        if args.kind == "tcp":
            r = await tcp.slow_receiver_run(
                args.tcp_port, args.rss_bytes, args.rss_value, args.slow_sleep, args.shape
            )
        else:
            async with open_bench_node(args, max_value_size(args.rss_value)) as node:
                r = await nc.slow_receiver_run(
                    node,
                    args.address,
                    args.rss_bytes,
                    args.rss_value,
                    args.slow_sleep,
                    args.shape,
                )
    report(
        {"part": "rss", "kind": args.kind, "value": args.rss_value}
        | {"sender_peak_rss_mb": peak_rss_mb()}
        | {"sender_rss_before_mb": before}
        | r
    )


# ------------------------------------------------------------------ the orchestrator


class Child:
    """A child process of this benchmark: JSON lines out, stopped by closing its stdin."""

    def __init__(self, name: str, argv: list[str], profile_dir: Path | None) -> None:
        self.name = name
        prefix = [sys.executable]
        if profile_dir is not None:
            prefix += ["-m", "cProfile", "-o", str(profile_dir / f"{name}.prof")]
        self.argv = [*prefix, str(Path(__file__).resolve()), *argv]
        self.proc: trio.Process | None = None
        self._buf = b""

    async def start(self) -> None:
        """Start the process (stdin and stdout are pipes; stderr is shared)."""
        self.proc = await trio.lowlevel.open_process(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    async def line(self, timeout: float) -> dict[str, Any]:
        """The next JSON report; RuntimeError if the child exits first or takes too long."""
        if self.proc is None or self.proc.stdout is None:
            raise RuntimeError(f"{self.name} is not running")
        with trio.move_on_after(timeout) as scope:
            while b"\n" not in self._buf:
                chunk = await self.proc.stdout.receive_some(65536)
                if not chunk:
                    code = await self.proc.wait()
                    raise RuntimeError(f"{self.name} exited with status {code} (see stderr)")
                self._buf += chunk
        if scope.cancelled_caught:
            raise RuntimeError(f"{self.name} reported nothing within {timeout:.0f}s")
        line, self._buf = self._buf.split(b"\n", 1)
        record: dict[str, Any] = json.loads(line)
        return record

    async def stop(self, grace: float = 20.0) -> None:
        """Close stdin and wait ``grace`` seconds for a clean exit, then kill."""
        proc = self.proc
        if proc is None:
            return
        with trio.CancelScope(shield=True):
            if proc.stdin is not None:
                await proc.stdin.aclose()
            with trio.move_on_after(grace):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def parse_sizes(text: str) -> list[int]:
    """``64,1K,64K,1M`` -> byte counts."""
    units = {"K": 1024, "M": MiB, "G": 1024 * MiB}
    sizes = []
    for item in text.split(","):
        item = item.strip().upper().removesuffix("B").removesuffix("I")
        scale = units.get(item[-1:], 1)
        sizes.append(int(item.rstrip("KMG")) * scale)
    return sizes


def human(size: float) -> str:
    """``65536`` -> ``64 KiB``: sizes as the tables show them."""
    for unit, scale in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{int(size // scale)} {unit}"
    return f"{int(size)} B"


def mark(ok: bool) -> str:
    """How a target is shown: met or missed."""
    return "ok" if ok else "MISSED"


def child_argv(args: argparse.Namespace, role: str, **extra: Any) -> list[str]:
    """Command line of a child process: the options every role needs, then ``extra``."""
    argv = [
        "--role",
        role,
        "--scheme",
        args.scheme,
        "--big",
        str(args.big),
        "--window",
        str(args.window),
        *(["--pmtu", str(args.pmtu)] if args.pmtu is not None else []),
        *(f"--udp-option={item}" for item in args.udp_option),
        "--shape",
        args.shape,
        "--kinds",
        args.kinds,
        "--repeat",
        str(args.repeat),
        # The receiver exports one data channel per size measured.
        "--sizes",
        args.sizes,
    ]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


async def run_pair(
    args: argparse.Namespace, name: str, client_role: str, timeout: float, **extra: Any
) -> list[dict[str, Any]]:
    """A fresh sink and a client; the client's reports, printed as they arrive."""
    expected: int = extra.pop("expected")
    sink = Child(f"{name}-receiver", child_argv(args, "sink"), args.profile)
    client: Child | None = None
    records: list[dict[str, Any]] = []
    try:
        await sink.start()
        info = await sink.line(60)
        client = Child(
            f"{name}-sender",
            child_argv(
                args,
                client_role,
                address=info["node"],
                tcp_port=info["tcp"],
                udp_port=info["udp"],
                endpoint=info["endpoint"],
                **extra,
            ),
            args.profile,
        )
        await client.start()
        for _ in range(expected):
            record = await client.line(timeout)
            records.append(record)
            show(args, record, records)
    finally:
        if client is not None:
            await client.stop()
        await sink.stop()
    return records


def show(args: argparse.Namespace, record: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Print what a new report completes (a throughput row, a latency line...)."""
    part = record["part"]
    kinds = args.kinds.split(",")
    if part in ("throughput", "latency"):
        same = {
            r["kind"]: r
            for r in records
            if r["part"] == part and r.get("size") == record.get("size") and r["kind"] in kinds
        }
        if len(same) < len(kinds):
            return
        nc_r, tcp_r = same.get("netchan"), same.get("tcp")
    if part == "throughput":
        size = record["size"]
        cells = []
        for r in (nc_r, tcp_r):
            if r is None:
                cells.append(f"{'-':>10} {'-':>8}")
            else:
                cells.append(
                    f"{r['n'] / r['seconds']:>10.0f} {r['bytes'] / r['seconds'] / 1e6:>8.1f}"
                )
        goal = ratio_text = "-"
        if nc_r is not None and tcp_r is not None:
            ratio = (nc_r["n"] / nc_r["seconds"]) / (tcp_r["n"] / tcp_r["seconds"])
            ratio_text = f"{ratio:.2f}x"
            target = TARGET_RATIO.get(size)
            if target is not None:
                goal = f">= {target:.1f}x {mark(ratio >= target)}"
        print(f"{human(size):>8} | {cells[0]} | {cells[1]} | {ratio_text:>6} | {goal}", flush=True)
    elif part == "latency":
        line = "\nping-pong 64 B:"
        for name, r in (("netchan", nc_r), ("TCP", tcp_r)):
            if r is not None:
                t = r["times"]
                line += (
                    f" {name} p50 {pct(t, 0.5) * 1e6:.0f} us, p99 {pct(t, 0.99) * 1e6:.0f} us "
                    f"({len(t)} round trips) |"
                )
        if nc_r is not None and tcp_r is not None:
            ratio = pct(nc_r["times"], 0.5) / pct(tcp_r["times"], 0.5)
            line += (
                f" p50 ratio netchan/TCP {ratio:.2f}x (target <= {TARGET_LATENCY_RATIO}x: "
                f"{mark(ratio <= TARGET_LATENCY_RATIO)})"
            )
        print(line.rstrip(" |"), flush=True)
        if nc_r is not None:
            a, n = nc_r["association"], len(nc_r["times"])
            print(
                f"  netchan packets per round trip: {a['packets_sent'] / n:.1f} out, "
                f"{a['packets_received'] / n:.1f} in; SCTP messages "
                f"{a['messages_sent'] / n:.1f} out, "
                f"{a['messages_received'] / n:.1f} in (srtt {(a.get('srtt') or 0) * 1e3:.1f} ms)",
                flush=True,
            )
    elif part in ("latency-reqrep", "latency-udp"):
        t = record["times"]
        what = (
            "netchan request/reply, a reply channel in each request"
            if part == "latency-reqrep"
            else "bare trio UDP ping-pong (the floor)"
        )
        print(
            f"  {what}: p50 {pct(t, 0.5) * 1e6:.0f} us, p99 {pct(t, 0.99) * 1e6:.0f} us "
            f"({len(t)} round trips)",
            flush=True,
        )
    elif part == "latency-endpoint":
        t, a = record["times"], record["association"]
        n = max(1, len(t))
        print(
            f"  the transport alone (one SCTP message each way, no channel layer): p50 "
            f"{pct(t, 0.5) * 1e6:.0f} us, p99 {pct(t, 0.99) * 1e6:.0f} us ({len(t)} round "
            f"trips, {a['packets_sent'] / n:.1f} packets out, {a['packets_received'] / n:.1f} in)",
            flush=True,
        )
    elif part == "hol":
        idle, during = record["idle"], record["during"]
        line = (
            f"\nhead-of-line: {record['big_values']} values of {human(record['big'])} one after "
            f"the other on channel 'big' in {record['big_seconds']:.2f}s "
            f"({record['big_values'] * record['big'] / record['big_seconds'] / 1e6:.0f} MB/s; "
            f"the first send() returned after {record['big_send_returned']:.2f}s); "
            f"request/reply round trips on another channel: "
            f"idle p50 {pct(idle, 0.5) * 1e3:.2f} ms, max {max(idle) * 1e3:.2f} ms "
            f"({len(idle)}); "
        )
        if during:
            line += (
                f"during p50 {pct(during, 0.5) * 1e3:.2f} ms, p99 "
                f"{pct(during, 0.99) * 1e3:.2f} ms, max {max(during) * 1e3:.2f} ms "
                f"({len(during)}; p50 {pct(during, 0.5) / pct(idle, 0.5):.1f}x idle, p99 "
                f"{pct(during, 0.99) / pct(idle, 0.99):.1f}x idle)"
            )
            slowest = sorted(zip(during, record["during_started"], strict=True), reverse=True)[:3]
            line += "; slowest started at " + ", ".join(
                f"{at:.2f}s ({rtt * 1e3:.0f} ms)" for rtt, at in slowest
            )
        else:
            line += "during: none completed"
        print(line, flush=True)
    elif part == "rss":
        total = record["bytes"]
        s, r = record["sender_peak_rss_mb"], record["receiver_peak_rss_mb"]
        worst = max(s, r)
        goal = f"< {TARGET_RSS_MB:.0f} MB {mark(worst < TARGET_RSS_MB)}"
        if record["kind"] == "tcp":
            goal = "(baseline)"
        print(
            f"{record['kind']:>8} | {human(total):>8} in {record['seconds']:6.1f}s "
            f"({total / record['seconds'] / 1e6:6.1f} MB/s) | sender {s:6.1f} MB "
            f"(before {record['sender_rss_before_mb']:5.1f}) | receiver {r:6.1f} MB "
            f"(before {record['receiver_rss_before_mb']:5.1f}) | {goal}",
            flush=True,
        )


def goals_table(records: list[dict[str, Any]]) -> None:
    """Each goal of the run: what was measured, the baseline, the ratio and the target."""
    by_part: dict[tuple[str, str, Any], dict[str, Any]] = {
        (r["part"], r["kind"], r.get("size")): r for r in records
    }
    rows: list[tuple[str, str, str, float, str, bool]] = []

    def rate(r: dict[str, Any]) -> float:
        return float(r["n"] / r["seconds"])

    for size, target in TARGET_RATIO.items():
        n, t = (
            by_part.get(("throughput", "netchan", size)),
            by_part.get(("throughput", "tcp", size)),
        )
        if n is None or t is None:
            continue
        if size >= MiB:
            cells = (f"{rate(n) * size / 1e6:.0f} MB/s", f"{rate(t) * size / 1e6:.0f} MB/s")
        else:
            cells = (f"{rate(n):.0f} values/s", f"{rate(t):.0f} values/s")
        ratio = rate(n) / rate(t)
        rows.append(
            (f"channel, {human(size)} values", *cells, ratio, f">= {target}", ratio >= target)
        )
    floor = by_part.get(("latency-udp", "udp", None))
    for part, kind, what in (
        ("latency-reqrep", "reqrep", "request/reply p50 (reply channel in each request)"),
        ("latency", "netchan", "ping-pong p50 over two fixed channels"),
    ):
        r = by_part.get((part, kind, None))
        if r is None or floor is None:
            continue
        a, b = pct(r["times"], 0.5), pct(floor["times"], 0.5)
        rows.append(
            (
                what,
                f"{a * 1e6:.0f} us",
                f"{b * 1e6:.0f} us (UDP)",
                a / b,
                f"<= {TARGET_LATENCY_RATIO}",
                a / b <= TARGET_LATENCY_RATIO,
            )
        )
    hol = by_part.get(("hol", "netchan", None))
    if hol is not None and hol["during"]:
        a, b = pct(hol["during"], 0.99), pct(hol["idle"], 0.99)
        rows.append(
            (
                f"request/reply p99 beside {human(hol['big'])} values",
                f"{a * 1e3:.1f} ms",
                f"{b * 1e3:.1f} ms (idle)",
                a / b,
                f"<= {TARGET_HOL_RATIO}",
                a / b <= TARGET_HOL_RATIO,
            )
        )
    rss = {r["kind"]: r for r in records if r["part"] == "rss"}
    if "netchan" in rss:
        r = rss["netchan"]
        worst = max(r["sender_peak_rss_mb"], r["receiver_peak_rss_mb"])
        base = rss.get("tcp")
        rows.append(
            (
                f"peak RSS, {human(r['bytes'])} in {human(r['value'])} values, slow reader",
                f"{worst:.0f} MB",
                f"{max(base['sender_peak_rss_mb'], base['receiver_peak_rss_mb']):.0f} MB (TCP)"
                if base
                else "-",
                worst / max(base["sender_peak_rss_mb"], base["receiver_peak_rss_mb"])
                if base
                else float("nan"),
                f"< {TARGET_RSS_MB:.0f} MB",
                worst < TARGET_RSS_MB,
            )
        )
    for r in records:
        if r["part"] != "endpoint" or not r.get("tsctp") or r["size"] not in TARGET_ENDPOINT_RATIO:
            continue
        ours, theirs = r["ours"], r["tsctp"]
        mine = ours["messages"] / ours["seconds"]
        base_rate = theirs["messages"] / theirs["seconds"]
        target = TARGET_ENDPOINT_RATIO[r["size"]]
        rows.append(
            (
                f"endpoint, {human(r['size'])} messages",
                f"{mine:.0f} msgs/s",
                f"{base_rate:.0f} (tsctp)",
                mine / base_rate,
                f">= {target}",
                mine / base_rate >= target,
            )
        )
    if not rows:
        return
    print(f"\n{'goal':<52} | {'netchan':>14} | {'baseline':>18} | ratio  | target", flush=True)
    for what, mine, base, ratio, target, ok in rows:
        print(
            f"{what:<52} | {mine:>14} | {base:>18} | {ratio:5.2f}x | {target} {mark(ok)}",
            flush=True,
        )


def transport_table(records: list[dict[str, Any]]) -> None:
    """CPU per value on each side, and what netchan's association did, per size."""
    rows = [r for r in records if r["part"] == "throughput"]
    if not rows:
        return
    print(
        "\nCPU time per value (sender / receiver, us) and the netchan sender's association: "
        "packets out / in, payload bytes per packet out, retransmissions (fast), srtt, cwnd",
        flush=True,
    )
    for r in rows:
        if r["kind"] != "netchan":
            continue
        size = r["size"]
        line = f"{human(size):>8} | netchan {cpu_per_value(r)}"
        t = next((x for x in rows if x["kind"] == "tcp" and x["size"] == size), None)
        if t is not None:
            line += f" | TCP {cpu_per_value(t)}"
        a = r["association"]
        srtt = f"{a['srtt'] * 1e3:.1f} ms" if a.get("srtt") is not None else "-"
        per_packet = r["bytes"] / a["packets_sent"] if a["packets_sent"] else float("nan")
        line += (
            f" | {a['packets_sent']} / {a['packets_received']} packets, {per_packet:.0f} B/packet, "
            f"{a['retransmissions']} ({a['fast_retransmits']}) rtx, srtt {srtt}, "
            f"cwnd {a.get('cwnd')}"
        )
        print(line, flush=True)


def cpu_per_value(r: dict[str, Any]) -> str:
    """CPU microseconds per value, sender / receiver, of one throughput result."""
    n = max(1, r["n"])
    return f"{r['sender_cpu'] / n * 1e6:6.0f} / {r['receiver_cpu'] / n * 1e6:6.0f}"


AREAS = (
    ("idle (epoll wait)", ("method 'poll' of 'select.epoll'",)),
    ("socket system calls", ("of '_socket.socket' objects", "_mmsg.py")),
    ("channel layer (netchan/_*.py)", ("/netchan/_",)),
    ("codec", ("/netchan/codec/", "msgpack")),
    ("udp driver", ("/netchan/transport/udp/",)),
    ("SCTP stack", ("/netchan/transport/sctp/",)),
    ("TCP baseline", ("_tcp_baseline.py",)),
    ("trio", ("/trio/", "outcome", "contextlib.py")),
)


def profile_areas(path: Path) -> dict[str, float]:
    """Own time of a cProfile dump summed by area of the code (the first pattern that matches)."""
    stats: Any = pstats.Stats(str(path))
    areas: dict[str, float] = {}
    for (filename, _line, name), row in stats.stats.items():
        where = f"{filename}:{name}"
        area = next((label for label, keys in AREAS if any(key in where for key in keys)), "other")
        areas[area] = areas.get(area, 0.0) + row[2]
    if "other" in areas:
        areas["other (start-up imports, builtins)"] = areas.pop("other")
    return areas


def print_profiles(directory: Path, top: int = 20) -> None:
    """Each dump: own time by area, then the top functions by own time."""
    for path in sorted(directory.glob("*.prof")):
        areas = profile_areas(path)
        total = sum(areas.values()) or 1.0
        busy = total - areas.get("idle (epoll wait)", 0.0)
        print(f"\n--- {path.name}: {total:.2f}s profiled, {busy:.2f}s not idle", flush=True)
        for label, seconds in sorted(areas.items(), key=lambda kv: -kv[1]):
            share = f"{seconds / busy * 100:5.1f}% of busy" if label != "idle (epoll wait)" else ""
            print(f"  {label:<36} {seconds:7.2f}s {share}")
        stats = pstats.Stats(str(path))
        stats.sort_stats("tottime").print_stats(top)
        sys.stdout.flush()


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected parts in child processes and print their tables; all results."""
    parts = args.parts.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown --parts {sorted(unknown)}; choose from {PARTS}")
    kinds = args.kinds.split(",")
    if not kinds or set(kinds) - {"netchan", "tcp"}:
        raise SystemExit("--kinds is netchan, tcp or netchan,tcp")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    sizes = parse_sizes(args.sizes)
    extra = "".join(", " + item for item in args.udp_option)
    # glibc's malloc tunables, inherited by every process of the run (netchan's and the
    # baselines' alike): they change what big values cost (docs/benchmarks.md, "Big values
    # and the allocator").
    extra += "".join(
        f", {name}={value}"
        for name, value in sorted(os.environ.items())
        if name.startswith("MALLOC_")
    )
    print(
        f"netchan {args.scheme}:// vs trio TCP + msgpack, two processes on loopback "
        f"({args.shape} values, {args.seconds:g}s per measurement, best of {args.repeat}, "
        f"receiver buffer "
        f"{args.window or 'about 4 MiB of'} values, PMTU {args.pmtu or 'default'}{extra}, "
        f"sans-io core {'compiled (mypyc)' if COMPILED else 'pure Python'}, "
        f"load average "
        f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)",
        flush=True,
    )
    main_parts = [p for p in parts if p != "rss"]
    if main_parts:
        if "throughput" in parts:
            print(
                f"\n{'size':>8} | {'netchan v/s':>10} {'MB/s':>8} | {'TCP v/s':>10} "
                f"{'MB/s':>8} | ratio  | target",
                flush=True,
            )
        expected = (
            (len(kinds) * len(sizes) if "throughput" in parts else 0)
            + (len(kinds) + 3 * ("netchan" in kinds) if "latency" in parts else 0)
            + (1 if "hol" in parts else 0)
        )
        results["main"] = await run_pair(
            args,
            "main",
            "client",
            timeout=120 + 20 * args.seconds * args.repeat + args.big / 1e6,
            sizes=args.sizes,
            seconds=args.seconds,
            pings=args.pings,
            parts=",".join(main_parts),
            expected=expected,
        )
        transport_table(results["main"])
    if "rss" in parts:
        print(
            f"\nmemory: {human(args.rss_bytes)} in {human(args.rss_value)} values, fast sender, "
            f"receiver sleeping {args.slow_sleep * 1e3:g} ms per value (peak RSS, VmHWM)",
            flush=True,
        )
        results["rss"] = []
        for kind in kinds:
            timeout = 120 + args.rss_bytes / MiB * (args.slow_sleep * MiB / args.rss_value + 0.2)
            results["rss"] += await run_pair(
                args,
                f"rss-{kind}",
                "rss-client",
                timeout=timeout,
                kind=kind,
                rss_bytes=args.rss_bytes,
                rss_value=args.rss_value,
                slow_sleep=args.slow_sleep,
                rss_timeout=timeout,
                expected=1,
            )
    if "endpoint" in parts:
        results["endpoint"] = run_endpoint_bench(args)
    goals_table(results.get("main", []) + results.get("rss", []) + results.get("endpoint", []))
    if args.profile is not None:
        print_profiles(args.profile)
    return results


def run_endpoint_bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The endpoint rows: benchmarks/endpoint_bench.py (udp:// against usrsctp's tsctp)."""
    sizes = [s for s in TARGET_ENDPOINT_RATIO]
    print(
        f"\nendpoint: udp:// endpoint against usrsctp's tsctp, {args.seconds:g}s per size",
        flush=True,
    )
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"netchan-endpoint-bench-{os.getpid()}.json"
    argv = [
        sys.executable,
        str(Path(__file__).with_name("endpoint_bench.py")),
        "--sizes",
        ",".join(map(str, sizes)),
        "--seconds",
        str(args.seconds),
        "--repeat",
        str(args.repeat),
        "--json",
        str(out),
    ]
    try:
        subprocess.run(argv, check=True, timeout=120 + 4 * args.seconds * args.repeat * len(sizes))
        data = json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
    return [{"part": "endpoint", "kind": "netchan"} | r for r in data["results"]]


def cli() -> None:
    """Parse the command line; run the orchestrator or, in a child, its role."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scheme", default="udp", choices=["udp", "sctp"])
    parser.add_argument("--quick", action="store_true", help="0.5 s per measurement, 128 MiB")
    parser.add_argument("--sizes", default="64,1K,64K,1M", help="value sizes (default %(default)s)")
    parser.add_argument("--parts", default=",".join(PARTS), help="subset of %(default)s")
    parser.add_argument("--seconds", type=float, help="per throughput measurement (default 3)")
    parser.add_argument("--pings", type=int, help="ping-pong round trips (default 5000)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of throughput and ping-pong, alternating netchan and TCP; the best "
        "round of each is shown (on a shared machine, the least disturbed one)",
    )
    parser.add_argument(
        "--kinds", default="netchan,tcp", help="netchan, tcp or both (for profiling one)"
    )
    parser.add_argument("--shape", default="bytes", choices=["bytes", "dict"])
    parser.add_argument(
        "--window", type=int, default=0, help="receiver buffer in values (default: ~4 MiB worth)"
    )
    parser.add_argument("--pmtu", type=int, help="SCTP packet size of udp:// (default: stack's)")
    parser.add_argument(
        "--udp-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an Options field of the udp:// stack for both nodes (JSON value), repeatable",
    )
    parser.add_argument("--rss-bytes", type=int, help="memory test volume (default 1 GiB)")
    parser.add_argument("--rss-value", type=int, default=MiB)
    parser.add_argument("--slow-sleep", type=float, default=0.005, help="seconds per value")
    parser.add_argument("--big", type=int, default=32 * MiB, help="head-of-line value size")
    parser.add_argument("--profile", type=Path, help="cProfile both processes into this dir")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    # Children only.
    parser.add_argument("--role", default="main", choices=["main", "sink", "client", "rss-client"])
    parser.add_argument("--address")
    parser.add_argument("--tcp-port", type=int)
    parser.add_argument("--udp-port", type=int)
    parser.add_argument("--endpoint")
    parser.add_argument("--kind", choices=["netchan", "tcp"])
    parser.add_argument("--rss-timeout", type=float, default=3600.0)
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 0.5 if args.quick else 3.0
    if args.pings is None:
        args.pings = 500 if args.quick else 5000
    if args.rss_bytes is None:
        args.rss_bytes = 128 * MiB if args.quick else 1024 * MiB
    if args.role == "sink":
        trio.run(role_sink, args)
    elif args.role == "client":
        trio.run(role_client, args)
    elif args.role == "rss-client":
        trio.run(role_rss_client, args)
    else:
        start = time.perf_counter()
        try:
            results = trio.run(orchestrate, args)
        except RuntimeError as exc:
            # A child failed (its own traceback is above, on the shared stderr) or timed out.
            raise SystemExit(f"channel_bench: {exc}") from None
        print(f"\ntotal {time.perf_counter() - start:.0f}s", flush=True)
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    cli()
