"""Worker fan-out across processes: a coordinator, N worker processes, jobs carry reply channels.

    python examples/worker_fanout.py            # coordinator + 3 workers on loopback
    python examples/worker_fanout.py --workers 5 --jobs 40

The coordinator exports a work queue ``jobs`` (a ReceiveChannel: each job goes to exactly one
worker that has room). Each job carries a reply channel (a clone of ``results_send``); the
workers answer on it directly. When every job is answered and every clone closed,
``results_recv`` ends with EndOfChannel, just as it would between trio tasks.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import trio

import netchan


async def worker(address: str) -> None:
    async with netchan.open_node(client_address="udp://127.0.0.1:0") as node:
        jobs = await node.import_receive(address, "jobs", max_buffer=2)
        async for job in jobs:
            async with job["reply"] as reply:
                await reply.send({"job": job["id"], "square": job["x"] ** 2, "pid": os.getpid()})


async def coordinator(n_workers: int, n_jobs: int) -> None:
    async with netchan.open_node("udp://127.0.0.1:0") as node:
        assert node.address is not None
        jobs_send, jobs_recv = trio.open_memory_channel[dict[str, Any]](0)
        node.export("jobs", jobs_recv)
        results_send, results_recv = trio.open_memory_channel[dict[str, Any]](n_jobs)
        procs = [
            await trio.lowlevel.open_process([sys.executable, __file__, "--worker", node.address])
            for _ in range(n_workers)
        ]
        async with trio.open_nursery() as nursery:

            async def submit() -> None:
                async with jobs_send, results_send:
                    for i in range(n_jobs):
                        await jobs_send.send({"id": i, "x": i, "reply": results_send.clone()})

            nursery.start_soon(submit)
            with trio.fail_after(60):
                async for result in results_recv:
                    print(f"job {result['job']:>3} -> {result['square']:>5}  (pid {result['pid']})")
        with trio.move_on_after(10):
            for proc in procs:
                await proc.wait()
        for proc in procs:
            if proc.returncode is None:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--worker", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        trio.run(worker, args.worker)
    else:
        trio.run(coordinator, args.workers, args.jobs)


if __name__ == "__main__":
    main()
