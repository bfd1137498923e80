"""The per-value hot path costs no task it does not need (issue 9, "fewer task hops").

A reply channel that travels inside each request is the idiom the README teaches: opening it
on the server, and delivering its value on the client, must not start a task per request
when nothing has to wait. Counted by wrapping the task bodies, so the tests are exact.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from netchan.node._export_links import ExportSendLink
from netchan.node._links import ImportLink
from tests.channels.conftest import Env


def _count_calls(monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> list[int]:
    """Count calls of the async method ``cls.name`` (the count is ``calls[0]``)."""
    calls = [0]
    original = getattr(cls, name)

    async def counted(self: Any) -> None:
        calls[0] += 1
        await original(self)

    monkeypatch.setattr(cls, name, counted)
    return calls


async def _serve(requests: trio.MemoryReceiveChannel[Any]) -> None:
    async for request in requests:
        async with request["reply"] as reply:
            await reply.send(request["n"] * 2)


async def test_reply_channels_start_no_task_per_request(
    env: Env, clock: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    opens = _count_calls(monkeypatch, ImportLink, "open_in_background")
    pumps = _count_calls(monkeypatch, ExportSendLink, "run_pump")
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[Any](4)
        server.export("requests", send)
        assert server.address is not None
        requests = await client.import_send(server.address, "requests")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_serve, recv)
            for n in range(10):
                reply_send, reply_recv = trio.open_memory_channel[int](1)
                await requests.send({"n": n, "reply": reply_send})
                with trio.fail_after(5):
                    assert await reply_recv.receive() == 2 * n
                reply_recv.close()
            # Every reply link is gone on both sides (END arrived, the token released).
            with trio.fail_after(5):
                while server.statistics().imports or client.statistics().references:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    # The server's association to the client was up: every reference opened at once.
    assert opens[0] == 0
    # Every reply went straight into its channel, which had room.
    assert pumps[0] == 0


async def test_pump_runs_only_while_values_wait_for_room(
    env: Env, clock: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    pumps = _count_calls(monkeypatch, ExportSendLink, "run_pump")
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[int](1)
        server.export("jobs", send)
        assert server.address is not None
        async with await client.import_send(server.address, "jobs") as jobs:
            await jobs.send(0)  # room in the channel: in at once
            with trio.fail_after(5):
                assert await recv.receive() == 0
            assert pumps[0] == 0
            with trio.fail_after(5):
                # The channel holds one value, the link's window one more: the second
                # waits in the link for room, and only then does a pump run.
                await jobs.send(1)
                await jobs.send(2)
                while pumps[0] == 0:
                    await trio.sleep(0.01)
                got = [await recv.receive() for _ in range(2)]
                await jobs.send(3)
                got.append(await recv.receive())
        assert got == [1, 2, 3]
        assert pumps[0] == 1


def test_announced_addresses_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reply channel names its owner's address: ``resolve_address`` parses each
    address once (a cache), and still fills in the host of an unspecified one from the
    peer it came from, every time."""
    from netchan.node import _peers

    parsed: list[str] = []
    real_parse = _peers.parse_address

    def counting_parse(url: str) -> Any:
        parsed.append(url)
        return real_parse(url)

    monkeypatch.setattr(_peers, "parse_address", counting_parse)
    monkeypatch.setattr(_peers, "_unspecified_host", {})
    owner = b"o" * 16
    for _ in range(3):
        assert _peers.resolve_address("udp://127.0.0.1:4000", owner, None) == (
            "udp://127.0.0.1:4000"
        )
    assert parsed == ["udp://127.0.0.1:4000"]

    class _Peer:
        node_id = owner
        remote_host = "192.0.2.7"

    peer: Any = _Peer()
    for _ in range(2):
        assert _peers.resolve_address("udp://0.0.0.0:5000", owner, peer) == ("udp://192.0.2.7:5000")
    # Not from the owner itself: nothing to fill in.
    assert _peers.resolve_address("udp://0.0.0.0:5000", b"x" * 16, peer) == "udp://0.0.0.0:5000"
    assert _peers.resolve_address("not an address", owner, None) == "not an address"


class _StepsOf(trio.abc.Instrument):
    """Counts the task steps of the tasks named ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith(self.name):
            self.steps += 1


async def test_a_receive_that_waited_returns_without_another_scheduler_trip(
    env: Env, clock: object
) -> None:
    """``RemoteReceiveChannel.receive``: after waiting for a value, the wait was the
    checkpoint (as in trio's own channels): the task runs on from its wake-up, two steps
    in all for a task that waits once and ends (three with a checkpoint after the wait)."""
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[int](0)
        server.export("queue", recv)
        assert server.address is not None
        queue = await client.import_receive(server.address, "queue", max_buffer=1)
        got: list[int] = []

        async def waiting_receiver() -> None:
            got.append(await queue.receive())

        steps = _StepsOf("waiting_receiver")
        trio.lowlevel.add_instrument(steps)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiting_receiver)
                await trio.testing.wait_all_tasks_blocked()
                with trio.fail_after(5):
                    await send.send(7)
        finally:
            trio.lowlevel.remove_instrument(steps)
        assert got == [7]
        assert steps.steps == 2
