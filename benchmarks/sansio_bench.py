"""Cost of the sans-io SCTP stack alone: two ``SctpEndpoint`` objects joined in memory.

No sockets, no trio, no loss: datagrams one endpoint emits are handed to the other at once,
in the same process. Both sides run here, so the rate printed is what one core spends on the
sender *and* the receiver of every message: the ceiling the stack puts on a real transfer,
before any socket or event-loop cost.

The sender behaves like an application that keeps the send buffer full: it queues messages
until ``send`` raises ``BufferError`` and resumes on ``SendBufferAvailable``. The receiver
consumes each message as it is delivered (``message_consumed``), as the UDP driver does when
the application reads. Time is virtual: it advances by ``--rtt`` per exchange round and jumps
to the next endpoint deadline when nothing is in transit (a delayed SACK), so no timer ever
adds wall-clock time.

Rates are computed from the CPU time of this process (``time.process_time``), which is less
disturbed than wall-clock time when other programs share the machine.

Usage::

    .venv/bin/python benchmarks/sansio_bench.py [--sizes 64,1024,16384] [--messages N]
        [--repeat 3] [--profile] [--top 25] [--stages] [--json] [--option NAME=VALUE]

``--messages`` is per size (default: about 16 MiB or 100 000 messages, whichever is fewer).
Each size runs ``--repeat`` times and the best run is reported (the machine is shared).
``--profile`` runs each size once more under cProfile and prints the top functions by
tottime, then the share of time per source file with calls per message. ``--stages`` runs
it once more and splits the time between the sender's and the receiver's driver calls.
``--option NAME=VALUE`` sets an ``Options`` field on both endpoints (for instance
``interleaving=False`` to measure DATA instead of I-DATA chunks).

``--round-trips N`` measures a ping-pong instead: one 64 B message from A to B and back, N
times, with the calls the ``udp://`` driver makes for it (after reading a packet the reader
builds what is due, usually nothing, then the answer is queued and its packet built): the
stack's share of a channel round trip, both sides, in µs, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import ast
import collections
import cProfile
import dataclasses
import io
import json
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netchan.transport.sctp import COMPILED
from netchan.transport.sctp.association import Association
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.events import (
    AssociationEstablished,
    MessageReceived,
    SendBufferAvailable,
)
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.state import State

A_ADDR = ("10.0.0.1", 5000)
B_ADDR = ("10.0.0.2", 5000)
PORT = 5000


class Transfer:
    """One in-memory transfer of ``count`` messages of ``size`` bytes from A to B.

    Raises:
        RuntimeError: the transfer did not complete within its bound on rounds (a stuck
            stack must fail the benchmark, not hang it).
    """

    def __init__(self, size: int, count: int, options: Options, seed: int = 1) -> None:
        self.size = size
        self.count = count
        self.now = 0.0
        self.rtt = 0.0002
        self.a = SctpEndpoint(options, local_port=PORT, rng=random.Random(seed), now=0.0)
        self.b = SctpEndpoint(options, local_port=PORT, rng=random.Random(seed + 1), now=0.0)
        self.payload = bytes(random.Random(seed).getrandbits(8) for _ in range(size))
        self.sent = 0
        self.received = 0
        self.received_bytes = 0
        self.datagrams = 0
        self.wire_bytes = 0
        self._writable = True
        #: Wall-clock nanoseconds spent per stage (``--stages``).
        self.stages: dict[str, int] = collections.defaultdict(int)
        self._assoc_b: Association | None = None
        self.assoc = self.a.connect(B_ADDR, PORT, self.now)
        self._establish()
        self.stages.clear()

    def _exchange(self) -> bool:
        """Move every pending datagram one hop in both directions; True if any moved."""
        now = self.now
        a, b = self.a, self.b
        stages = self.stages
        clock = time.perf_counter_ns
        t0 = clock()
        out_a = a.datagrams_to_send(now)
        t1 = clock()
        for data, _addr in out_a:
            b.receive_datagram(data, A_ADDR, now)
        t2 = clock()
        out_b = b.datagrams_to_send(now)
        t3 = clock()
        for data, _addr in out_b:
            a.receive_datagram(data, B_ADDR, now)
        t4 = clock()
        stages["sender: datagrams_to_send (DATA packets)"] += t1 - t0
        stages["receiver: receive_datagram (DATA packets)"] += t2 - t1
        stages["receiver: datagrams_to_send (SACK packets)"] += t3 - t2
        stages["sender: receive_datagram (SACK packets)"] += t4 - t3
        for data, _addr in out_a:
            self.wire_bytes += len(data)
        for data, _addr in out_b:
            self.wire_bytes += len(data)
        n = len(out_a) + len(out_b)
        self.datagrams += n
        return n > 0

    def _drain_events(self) -> None:
        t0 = time.perf_counter_ns()
        while (event := self.a.next_event()) is not None:
            if isinstance(event, SendBufferAvailable):
                self._writable = True
        b = self.b
        while (event := b.next_event()) is not None:
            if isinstance(event, MessageReceived):
                n = len(event.data)
                self.received += 1
                self.received_bytes += n
                assoc = self._assoc_b
                if assoc is None:
                    assoc = self._assoc_b = b.associations[event.association_id]
                assoc.message_consumed(n, self.now)
        self.stages["receiver: next_event + message_consumed"] += time.perf_counter_ns() - t0

    def _establish(self) -> None:
        for _ in range(100):
            self._exchange()
            while (event := self.a.next_event()) is not None:
                if isinstance(event, AssociationEstablished):
                    return
            self._advance_timers()
        raise RuntimeError("association not established")

    def _advance_timers(self) -> None:
        deadlines = [d for d in (self.a.next_deadline(), self.b.next_deadline()) if d is not None]
        if deadlines:
            self.now = max(self.now, min(deadlines))
        for ep in (self.a, self.b):
            deadline = ep.next_deadline()
            if deadline is not None and deadline <= self.now:
                ep.handle_timeout(self.now)

    def _fill(self) -> None:
        assoc = self.assoc
        payload = self.payload
        count = self.count
        now = self.now
        t0 = time.perf_counter_ns()
        try:
            while self.sent < count and self._writable:
                try:
                    assoc.send(payload, stream=0, ppid=0, now=now)
                except BufferError:
                    self._writable = False
                    return
                self.sent += 1
        finally:
            self.stages["sender: send (queue a message)"] += time.perf_counter_ns() - t0

    def run(self) -> float:
        """Run the transfer; returns the CPU seconds it took."""
        max_rounds = 20 * self.count + 10_000
        start = time.process_time()
        for _ in range(max_rounds):
            self._fill()
            moved = self._exchange()
            self._drain_events()
            if self.received >= self.count:
                break
            self.now += self.rtt
            if not moved:
                self._advance_timers()
        else:
            raise RuntimeError(f"transfer stuck: {self.received} of {self.count} received")
        elapsed = time.process_time() - start
        if self.received_bytes != self.count * self.size:
            raise RuntimeError("received bytes do not match what was sent")
        if self.assoc.state is not State.ESTABLISHED:
            raise RuntimeError(f"association left ESTABLISHED: {self.assoc.state}")
        return elapsed


_OVERRIDES: dict[str, object] = {}


def round_trips(count: int, options: Options, seed: int = 1) -> dict[str, float]:
    """``count`` ping-pongs of one 64 B message; CPU µs per round trip (both sides)."""
    setup = Transfer(64, 1, options, seed=seed)
    a, b, assoc = setup.a, setup.b, setup.assoc
    for ep in (a, b):
        while ep.next_event() is not None:
            pass
    now = setup.now
    message = b"p" * 64
    datagrams = 0

    def answer(ep: SctpEndpoint) -> tuple[Association, bytes]:
        while (event := ep.next_event()) is not None:
            if isinstance(event, MessageReceived):
                peer_assoc = ep.associations[event.association_id]
                data = event.data if isinstance(event.data, bytes) else b"".join(event.data)
                peer_assoc.message_consumed(len(data), now)
                return peer_assoc, data
        raise RuntimeError("the message did not arrive")

    start = time.process_time()
    for _ in range(count):
        now += 0.0002
        assoc.send(message, stream=0, ppid=0, now=now)
        for data, _addr in a.datagrams_to_send(now):
            b.receive_datagram(data, A_ADDR, now)
            datagrams += 1
        datagrams += len(b.datagrams_to_send(now))  # the reader's flush
        b_assoc, data = answer(b)
        b_assoc.send(data, stream=0, ppid=0, now=now)
        for data, _addr in b.datagrams_to_send(now):
            a.receive_datagram(data, B_ADDR, now)
            datagrams += 1
        datagrams += len(a.datagrams_to_send(now))
        answer(a)
        for ep in (a, b):
            deadline = ep.next_deadline()
            if deadline is not None and deadline <= now:
                ep.handle_timeout(now)
    elapsed = time.process_time() - start
    return {
        "round_trips": count,
        "us_per_round_trip": round(elapsed / count * 1e6, 2),
        "datagrams_per_round_trip": round(datagrams / count, 3),
    }


def bench_options() -> Options:
    """The options both endpoints use: defaults, no heartbeats, plus ``--option`` values."""
    return dataclasses.replace(Options(heartbeat_interval=0), **_OVERRIDES)  # type: ignore[arg-type]


def default_count(size: int) -> int:
    """About 16 MiB or 100 000 messages, whichever is fewer (at least 1000)."""
    return max(1000, min(100_000, (16 << 20) // size))


def measure(size: int, count: int, repeat: int) -> dict[str, float]:
    """Best of ``repeat`` runs: msgs/s, MB/s (payload, 10^6 bytes), datagrams per message."""
    best = float("inf")
    datagrams = 0
    options = bench_options()
    for seed in range(1, repeat + 1):
        transfer = Transfer(size, count, options, seed=seed)
        elapsed = transfer.run()
        if elapsed < best:
            best = elapsed
            datagrams = transfer.datagrams
    return {
        "size": size,
        "messages": count,
        "seconds": round(best, 4),
        "msgs_per_s": round(count / best),
        "mb_per_s": round(count * size / best / 1e6, 2),
        "us_per_msg": round(best / count * 1e6, 2),
        "datagrams_per_msg": round(datagrams / count, 3),
    }


def profile(size: int, count: int, top: int) -> str:
    """cProfile of one run: the top ``top`` functions by tottime."""
    transfer = Transfer(size, count, bench_options(), seed=1)
    profiler = cProfile.Profile()
    profiler.enable()
    transfer.run()
    profiler.disable()
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    buf.write(by_module(stats, count))
    return buf.getvalue()


def by_module(stats: pstats.Stats, count: int) -> str:
    """Share of tottime per source file (builtins counted apart), with calls per message.

    This is the number that says whose code the time is in: the data-path modules
    (``packet/``, ``rx/``, ``tx/``, ``congestion/``) or the association and endpoint.
    """
    root = str(Path(__file__).resolve().parents[1]) + "/"
    totals: dict[str, list[float]] = {}
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, ncalls, tottime, _cum, _callers) in raw.items():
        if filename.startswith(root):
            key = filename[len(root) :]
        elif filename == "~":
            key = "(builtins)"
        else:
            key = "(other Python)"
        entry = totals.setdefault(key, [0.0, 0.0])
        entry[0] += tottime
        entry[1] += ncalls
    grand = sum(t for t, _ in totals.values()) or 1.0
    lines = ["share of tottime by file (calls per message):"]
    for key, (share, calls) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"  {100 * share / grand:5.1f}%  {calls / count:7.2f}  {key}")
    return "\n".join(lines) + "\n"


def stages(size: int, count: int) -> str:
    """Share of the transfer's time per side and driver call (one run, wall clock)."""
    transfer = Transfer(size, count, bench_options(), seed=1)
    transfer.run()
    total = sum(transfer.stages.values()) or 1
    lines = [f"--- stages, {size} B x {count} (us per message, share) ---"]
    for name, ns in sorted(transfer.stages.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {ns / count / 1000:8.2f} us  {100 * ns / total:5.1f}%  {name}")
    return "\n".join(lines)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,1024,16384")
    parser.add_argument("--messages", type=int, default=0, help="per size (0: default)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an Options field for both endpoints, e.g. interleaving=False (repeatable)",
    )
    parser.add_argument(
        "--stages", action="store_true", help="share of time per side and driver call"
    )
    parser.add_argument(
        "--round-trips", type=int, default=0, metavar="N", help="a 64 B ping-pong instead"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    for item in args.option:
        name, _, value = item.partition("=")
        _OVERRIDES[name] = ast.literal_eval(value)
    results = []
    if not args.json:
        print(f"sans-io core: {'compiled (mypyc)' if COMPILED else 'pure Python'}", flush=True)
    if args.round_trips:
        runs = [
            round_trips(args.round_trips, bench_options(), seed)
            for seed in range(1, 1 + max(1, args.repeat))
        ]
        best = min(runs, key=lambda r: r["us_per_round_trip"])
        if args.json:
            print(json.dumps(best | {"compiled": COMPILED}))
        else:
            print(
                f"64 B ping-pong x {args.round_trips}: {best['us_per_round_trip']:.2f} us per "
                f"round trip (both sides), {best['datagrams_per_round_trip']:.2f} datagrams"
            )
        return
    for size in sizes:
        count = args.messages or default_count(size)
        result = measure(size, count, max(1, args.repeat))
        result["compiled"] = COMPILED
        results.append(result)
        if not args.json:
            print(
                f"{size:>6} B x {count:>6}: {result['msgs_per_s']:>8} msgs/s "
                f"{result['mb_per_s']:>8.2f} MB/s {result['us_per_msg']:>8.2f} us/msg "
                f"{result['datagrams_per_msg']:.3f} datagrams/msg",
                flush=True,
            )
        if args.stages:
            print(stages(size, count), flush=True)
        if args.profile:
            print(f"--- profile, {size} B x {count} ---")
            print(profile(size, count, args.top), flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
