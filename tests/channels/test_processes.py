"""Integration over a real backend (``udp://`` by default, ``sctp://`` with
NETCHAN_TEST_SCHEME=sctp): nodes in separate processes on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import AbstractAsyncContextManager

import pytest
import trio

import netchan
from tests.support.procs import ENV, ROOT, node_process

pytestmark = pytest.mark.slow

SCHEME = os.environ.get("NETCHAN_TEST_SCHEME", "memory")
WIRE = "udp" if SCHEME == "memory" else SCHEME


def local(port: int = 0) -> str:
    return f"{WIRE}://127.0.0.1:{port}"


def client_node() -> AbstractAsyncContextManager[netchan.Node]:
    return netchan.open_node(client_address=local())


def test_demo_fan_out_across_processes() -> None:
    # Inside the SCTP VM (emulated CPU, one core, Python starts take seconds) a smaller run
    # still covers fan-out to several processes within the demo's own time limit.
    workers, jobs = (2, 4) if os.environ.get("SCTP_VM") == "1" else (3, 12)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "netchan",
            "demo",
            "--workers",
            str(workers),
            "--jobs",
            str(jobs),
            "--scheme",
            WIRE,
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    # Workers leave quietly too (their stderr is the demo's): no traceback on the way out.
    assert "Traceback" not in result.stderr, result.stderr
    # The coordinator waits for every worker before submitting: each one gets jobs.
    assert f"{jobs} jobs done by {workers} worker processes" in result.stdout, result.stdout
    assert sorted(
        int(line.split()[1][:-1]) for line in result.stdout.splitlines() if line.startswith("job ")
    ) == list(range(jobs))


async def test_reply_channel_through_third_node_processes() -> None:
    with (
        node_process("worker", local()) as (_, c_addr),
        node_process("forward", local(), c_addr) as (_, b_addr),
    ):
        async with client_node() as a:
            front = await a.import_send(b_addr, "front")
            replies = []
            for n in range(3):
                reply_send, reply_recv = trio.open_memory_channel[object](1)
                await front.send({"n": n, "reply": reply_send})
                with trio.fail_after(20):
                    replies.append(await reply_recv.receive())
                    # The worker closed it, the forwarder dropped it: EndOfChannel.
                    with pytest.raises(trio.EndOfChannel):
                        await reply_recv.receive()
            assert [r[:2] for r in replies] == [("done", n) for n in range(3)]  # type: ignore[index]
            # The worker (third node) reached us directly: we have two peers.
            assert len(a.statistics().peers) == 2


async def test_work_queue_close_gives_end_of_channel() -> None:
    with node_process("producer", local(), "50") as (_, addr):
        async with client_node() as node:
            numbers = await node.import_receive(addr, "numbers", max_buffer=8)
            with trio.fail_after(30):
                assert [v async for v in numbers] == list(range(50))


async def test_killed_peer_breaks_channels_promptly() -> None:
    with node_process("worker", local()) as (proc, addr):
        async with client_node() as node:
            work = await node.import_send(addr, "work")
            events = await node.import_receive(addr, "events")
            reply_send, reply_recv = trio.open_memory_channel[object](1)
            await work.send({"n": 1, "reply": reply_send})
            with trio.fail_after(20):
                assert (await reply_recv.receive())[:2] == ("done", 1)  # type: ignore[index]
            os.kill(proc.pid, signal.SIGKILL)
            start = trio.current_time()
            broken: dict[str, float] = {}

            async def wait_receive() -> None:
                # A task blocked in receive() on the dead peer's channel is woken with the cause.
                with pytest.raises(trio.BrokenResourceError) as info:
                    await events.receive()
                assert info.value.__cause__ is not None
                broken["events"] = trio.current_time() - start

            async def keep_sending() -> None:
                with pytest.raises(trio.BrokenResourceError) as info:
                    for i in range(10_000):
                        await work.send({"n": i, "reply": None})
                        await trio.sleep(0.05)
                assert info.value.__cause__ is not None
                broken["work"] = trio.current_time() - start

            with trio.fail_after(30):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait_receive)
                    nursery.start_soon(keep_sending)
            # Heartbeat-bounded (ICMP port unreachable on loopback makes it faster still).
            assert broken.keys() == {"events", "work"}
            assert max(broken.values()) < 20, broken
            # Both ends stay broken afterwards.
            with pytest.raises(trio.BrokenResourceError):
                await events.receive()
            with pytest.raises(trio.BrokenResourceError):
                work.send_nowait({"n": 0, "reply": None})
