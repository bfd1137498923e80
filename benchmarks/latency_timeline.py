"""Where a round trip goes: its critical path across two processes, phase by phase.

Usage::

    .venv/bin/python benchmarks/latency_timeline.py                  # udp, pingpong, request
    .venv/bin/python benchmarks/latency_timeline.py --pin --count 3000
    .venv/bin/python benchmarks/latency_timeline.py --kinds request --json /tmp/t.json

A client process and a server process on loopback, one round trip at a time, for three
workloads measured the same way, one after the other:

* ``udp``: the bare trio UDP ping-pong of ``channel_bench.py`` (the floor of any transport
  driven by trio in Python: one datagram each way, msgpack, no protocol);
* ``pingpong``: a 64 B value on a netchan channel and back on another (two fixed channels);
* ``request``: netchan request/reply with a fresh reply channel inside each request (the
  README's idiom, ``examples/request_reply.py``).

Both processes stamp events with ``time.perf_counter()``, which is CLOCK_MONOTONIC on Linux:
one clock for every process of the machine, so the events of the two processes line up.
netchan's ``udp://`` driver is wrapped to stamp each send of datagrams (``tx``) and each
datagram it hands to the SCTP stack (``rx``); the UDP baseline stamps its own sends and
receives. Each round trip is cut into five phases:

1. ``client out``: from the call to the request's datagram leaving the client;
2. ``to server``: from there to the server reading its next datagram (the kernel's loopback,
   the wake-up and the scheduler: the same work for every workload);
3. ``server``: from there to the server's last send before the client's last read of the
   round trip (its whole turnaround, in Python);
4. ``to client``: from that send to the client's last read of the round trip;
5. ``client in``: from that read to the round trip's end.

The table gives each phase's median per workload, and the time beyond the floor: a phase
that costs more than the UDP ping-pong's is Python on the critical path. The stamps cost
about a microsecond each, in every workload alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import netchan
from benchmarks import _chan_netchan as nc
from netchan.transport.udp import _endpoint as udp_endpoint

HOST = "127.0.0.1"
KINDS = ("udp", "pingpong", "request")
PHASES = ("client out", "to server", "server", "to client", "client in")
WARMUP = 200

Event = tuple[float, str]


# Where the driver's stamps go: the list of the workload being measured.
_sink: list[list[Event]] = [[]]


class _StampedStack:
    """The sans-io stack of an endpoint, stamping each datagram fed to it (``rx``)."""

    def __init__(self, stack: Any) -> None:
        object.__setattr__(self, "_stack", stack)

    def receive_datagram(self, data: bytes, addr: Any, now: float) -> None:
        _sink[0].append((time.perf_counter(), "rx"))
        self._stack.receive_datagram(data, addr, now)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stack, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._stack, name, value)


def _stamp_driver(events: list[Event]) -> None:
    """Stamp each batch of datagrams the ``udp://`` driver hands to the kernel (``tx``) and
    each datagram it hands to the stack (``rx``)."""
    _sink[0] = events
    cls = udp_endpoint.UdpEndpoint
    if getattr(cls._transmit, "stamped", False):
        return
    transmit = cls._transmit
    init = cls.__init__

    def stamped_transmit(self: Any, batch: Any) -> None:
        _sink[0].append((time.perf_counter(), "tx"))
        transmit(self, batch)

    def stamped_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._sctp = _StampedStack(self._sctp)

    stamped_transmit.stamped = True  # type: ignore[attr-defined]
    cls._transmit = stamped_transmit  # type: ignore[method-assign]
    cls.__init__ = stamped_init  # type: ignore[method-assign]


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


# --- server -------------------------------------------------------------------------------


async def _until_stdin_closes() -> None:
    await trio.to_thread.run_sync(sys.stdin.read)


async def _udp_server(events: list[Event]) -> None:
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind((HOST, 0))
    print(f"{HOST}:{sock.getsockname()[1]}", flush=True)

    async def echo() -> None:
        while True:
            data, peer = await sock.recvfrom(65535)
            events.append((time.perf_counter(), "rx"))
            reply = msgpack.packb(msgpack.unpackb(data))
            events.append((time.perf_counter(), "tx"))
            await sock.sendto(reply, peer)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        await _until_stdin_closes()
        nursery.cancel_scope.cancel()


async def _netchan_server() -> None:
    """channel_bench.py's server node: ``echo_in`` / ``echo_out`` and ``request``."""
    async with netchan.open_node(f"udp://{HOST}:0") as node, trio.open_nursery() as nursery:
        await nc.export_all(node, nursery, {})
        print(node.address, flush=True)
        await _until_stdin_closes()
        nursery.cancel_scope.cancel()


def _server_main(kind: str, out: str, cpu: int | None) -> None:
    _pin(cpu)
    events: list[Event] = []
    if kind == "udp":
        trio.run(_udp_server, events)
    else:
        _stamp_driver(events)
        trio.run(_netchan_server)
    Path(out).write_text(json.dumps(events))


# --- client -------------------------------------------------------------------------------


async def _udp_client(address: str, count: int, events: list[Event]) -> None:
    host, port = address.rsplit(":", 1)
    value = b"p" * 64
    with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as sock:
        await sock.connect((host, int(port)))
        for i in range(WARMUP + count):
            record = i >= WARMUP
            if record:
                events.append((time.perf_counter(), "start"))
            data = msgpack.packb(value)
            if record:
                events.append((time.perf_counter(), "tx"))
            await sock.send(data)
            back = await sock.recv(65535)
            if record:
                events.append((time.perf_counter(), "rx"))
            if msgpack.unpackb(back) != value:
                raise RuntimeError("the UDP echo did not return the value")
            if record:
                events.append((time.perf_counter(), "end"))


async def _netchan_client(kind: str, address: str, count: int, events: list[Event]) -> None:
    value = b"p" * 64
    async with netchan.open_node(client_address=f"udp://{HOST}:0") as node:
        if kind == "pingpong":
            send = await node.import_send(address, "echo_in")
            recv = await node.import_receive(address, "echo_out", max_buffer=1)

            async def round_trip() -> None:
                await send.send(value)
                if await recv.receive() != value:
                    raise RuntimeError("the echo did not return the value")

        else:
            requester = nc.Requester(await node.import_send(address, "request"))

            async def round_trip() -> None:
                await requester.round_trip()

        for i in range(WARMUP + count):
            record = i >= WARMUP
            if record:
                events.append((time.perf_counter(), "start"))
            await round_trip()
            if record:
                events.append((time.perf_counter(), "end"))


def measure(kind: str, count: int, pin: bool) -> dict[str, Any]:
    """Run one workload in a fresh server process; the phases of every round trip."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"netchan-timeline-{os.getpid()}-{kind}.json"
    cmd = [sys.executable, __file__, "--role", "server", "--kind", kind, "--out", str(out)]
    if pin:
        cmd += ["--cpu", "1"]
        _pin(0)
    server = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdin is not None
        address = server.stdout.readline().strip()
        if not address:
            raise RuntimeError(f"{kind}: the server did not start")
        events: list[Event] = []
        if kind == "udp":
            trio.run(_udp_client, address, count, events)
        else:
            _stamp_driver(events)
            trio.run(_netchan_client, kind, address, count, events)
        server.stdin.close()
        server.wait(timeout=60)
        server_events = [tuple(e) for e in json.loads(out.read_text())]
    finally:
        if server.poll() is None:
            server.kill()
        out.unlink(missing_ok=True)
    return phases(events, server_events)


def phases(client: list[Event], server: list[Event]) -> dict[str, Any]:
    """Cut each round trip of ``client`` (start .. end) into the five phases."""
    merged = sorted([(t, "C " + e) for t, e in client] + [(t, "S " + e) for t, e in server])
    rows: dict[str, list[float]] = {name: [] for name in PHASES}
    totals: list[float] = []
    skipped = 0
    trip: list[tuple[float, str]] | None = None
    for t, e in merged:
        if e == "C start":
            trip = [(t, e)]
        elif trip is not None:
            trip.append((t, e))
            if e == "C end":
                cut = _cut(trip)
                if cut is None:
                    skipped += 1
                else:
                    for name, value in zip(PHASES, cut, strict=True):
                        rows[name].append(value)
                    totals.append(sum(cut))
                trip = None
    return {"phases": rows, "totals": totals, "skipped": skipped}


def _cut(trip: list[tuple[float, str]]) -> tuple[float, ...] | None:
    start, end = trip[0][0], trip[-1][0]
    c_tx = next((t for t, e in trip if e == "C tx"), None)
    if c_tx is None:
        return None
    s_rx = next((t for t, e in trip if e == "S rx" and t > c_tx), None)
    c_rx = next((t for t, e in reversed(trip) if e == "C rx"), None)
    if s_rx is None or c_rx is None or c_rx < s_rx:
        return None
    s_tx = next((t for t, e in reversed(trip) if e == "S tx" and s_rx < t < c_rx), None)
    if s_tx is None:
        return None
    return (c_tx - start, s_rx - c_tx, s_tx - s_rx, c_rx - s_tx, end - c_rx)


def _median(values: list[float]) -> float:
    return statistics.median(values) * 1e6 if values else float("nan")


def report(results: dict[str, dict[str, Any]]) -> None:
    """Print each phase's median per workload, and what it costs beyond the floor."""
    kinds = list(results)
    print("median per phase, us (round trips used / skipped)")
    header = f"{'phase':12s}" + "".join(f"{kind:>14s}" for kind in kinds)
    if "udp" in results:
        header += "".join(f"{kind + ' - udp':>18s}" for kind in kinds if kind != "udp")
    print(header)
    for name in (*PHASES, "total"):
        cells = []
        meds = {}
        for kind in kinds:
            values = results[kind]["totals"] if name == "total" else results[kind]["phases"][name]
            meds[kind] = _median(values)
            cells.append(f"{meds[kind]:14.1f}")
        line = f"{name:12s}" + "".join(cells)
        if "udp" in results:
            line += "".join(f"{meds[k] - meds['udp']:18.1f}" for k in kinds if k != "udp")
        print(line)
    print(
        "round trips".ljust(12)
        + "".join(f"{len(results[k]['totals']):>9d} / {results[k]['skipped']:<3d}" for k in kinds)
    )
    if "udp" in results:
        floor = _median(results["udp"]["totals"])
        for kind in kinds:
            if kind != "udp":
                ratio = _median(results[kind]["totals"]) / floor
                print(f"{kind}: {ratio:.2f}x the bare UDP round trip (median round trips)")


def main() -> None:
    """Parse the command line; run the server role or every workload and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS), help="udp,pingpong,request")
    parser.add_argument("--count", type=int, default=2000, help="round trips per workload")
    parser.add_argument("--pin", action="store_true", help="client on CPU 0, server on CPU 1")
    parser.add_argument("--json", help="also write every phase of every round trip here")
    parser.add_argument("--role", choices=("main", "server"), default="main")
    parser.add_argument("--kind", choices=KINDS)
    parser.add_argument("--out")
    parser.add_argument("--cpu", type=int)
    args = parser.parse_args()
    if args.role == "server":
        _server_main(args.kind, args.out, args.cpu)
        return
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for kind in kinds:
        if kind not in KINDS:
            parser.error(f"unknown kind {kind!r}")
    print(
        f"netchan {netchan.__version__}, {args.count} round trips per workload, "
        f"{'pinned (client CPU 0, server CPU 1)' if args.pin else 'not pinned'}, "
        f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs"
    )
    results = {kind: measure(kind, args.count, args.pin) for kind in kinds}
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
