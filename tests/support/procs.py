"""Node processes for the multi-process tests: ``python -m tests.support.procs ROLE ...``.

Each role prints ``ready ADDRESS`` once it serves, then runs until its work is done;
``node_process`` starts one from a test.

* ``worker ADDRESS``: exports ``work``; replies ``("done", n, pid)`` on each job's ``reply``;
  also exports ``events``, a ReceiveChannel that never yields (an importer just waits on it).
* ``forward ADDRESS WORKER_ADDRESS``: exports ``front``; forwards every job to the worker's
  ``work`` untouched (the job's reply channel goes on to a third node).
* ``producer ADDRESS N``: exports ``numbers``, a work queue of 0..N-1, then closes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trio

import netchan

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@contextmanager
def node_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start this module with ``args`` (a role and its arguments) in a new process; yields
    it and the address it serves. Killed at the end if still running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.procs", *args],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the role prints first or dies
        assert line.startswith("ready "), f"node process failed to start: {line!r}"
        yield proc, line.split()[1]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


async def worker(address: str) -> None:
    async with netchan.open_node(address) as node:
        send, recv = trio.open_memory_channel[Any](8)
        node.export("work", send)
        _events_send, events_recv = trio.open_memory_channel[Any](0)
        node.export("events", events_recv)
        print("ready", node.address, flush=True)
        async for job in recv:
            async with job["reply"] as reply:
                await reply.send(("done", job["n"], os.getpid()))
            del job


async def forward(address: str, worker_address: str) -> None:
    async with netchan.open_node(address) as node:
        send, recv = trio.open_memory_channel[Any](8)
        node.export("front", send)
        to_worker = await node.import_send(worker_address, "work")
        print("ready", node.address, flush=True)
        async for job in recv:
            await to_worker.send(job)
            del job


async def producer(address: str, n: int) -> None:
    async with netchan.open_node(address) as node:
        send, recv = trio.open_memory_channel[Any](0)
        node.export("numbers", recv)
        print("ready", node.address, flush=True)
        async with send:
            for i in range(n):
                await send.send(i)
        # Stay until the importer has everything (it closes its end after EndOfChannel).
        await trio.sleep(30)


def main(argv: list[str]) -> None:
    role, *args = argv
    if role == "worker":
        trio.run(worker, args[0])
    elif role == "forward":
        trio.run(forward, args[0], args[1])
    elif role == "producer":
        trio.run(producer, args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown role {role}")


if __name__ == "__main__":
    main(sys.argv[1:])
