"""Pub/sub-style fan-in: several publisher processes send into one collector's channel.

    python examples/fan_in.py --publishers 3 --events 5

The collector exports ``events`` (a SendChannel with a small buffer: publishers are slowed
down by backpressure when the collector lags). Each publisher imports it and sends its events;
the collector prints them as they arrive, interleaved, each publisher's in order.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import trio

import netchan


async def publisher(address: str, n: int) -> None:
    async with netchan.open_node(client_address="udp://127.0.0.1:0") as node:
        events = await node.import_send(address, "events")
        async with events:
            for i in range(n):
                await events.send({"pid": os.getpid(), "seq": i, "at": trio.current_time()})
                await trio.sleep(0.05)


async def collector(n_publishers: int, n_events: int) -> None:
    async with netchan.open_node("udp://127.0.0.1:0") as node:
        assert node.address is not None
        send, recv = trio.open_memory_channel[dict[str, Any]](4)
        node.export("events", send)
        args = [sys.executable, __file__, "--publish", node.address, "--events", str(n_events)]
        procs = [await trio.lowlevel.open_process(args) for _ in range(n_publishers)]
        last: dict[int, int] = {}
        with trio.fail_after(60):
            for _ in range(n_publishers * n_events):
                event = await recv.receive()
                assert last.get(event["pid"], -1) + 1 == event["seq"], "per-sender order kept"
                last[event["pid"]] = event["seq"]
                print(f"publisher {event['pid']}: event {event['seq']}")
        for proc in procs:
            with trio.move_on_after(10):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
        print(f"{sum(v + 1 for v in last.values())} events from {len(last)} publishers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishers", type=int, default=3)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--publish", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        trio.run(publisher, args.publish, args.events)
    else:
        trio.run(collector, args.publishers, args.events)


if __name__ == "__main__":
    main()
