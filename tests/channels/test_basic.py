"""Named channels between two nodes: send/receive, backpressure, close, work queue."""

from __future__ import annotations

import pytest
import trio

import netchan
from tests.channels.conftest import Env


async def test_import_send_pushes_into_exported_channel(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[object](10)
        server.export("jobs", send)
        assert server.address is not None
        jobs = await client.import_send(server.address, "jobs")
        assert isinstance(jobs, trio.abc.SendChannel)
        for i in range(5):
            await jobs.send({"n": i, "t": (i, "x")})
        got = [await recv.receive() for _ in range(5)]
        assert got == [{"n": i, "t": (i, "x")} for i in range(5)]


async def test_import_receive_from_work_queue(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        out_send, out_recv = trio.open_memory_channel[object](0)
        server.export("results", out_recv)
        assert server.address is not None
        results = await client.import_receive(server.address, "results", max_buffer=4)
        assert isinstance(results, trio.abc.ReceiveChannel)
        async with trio.open_nursery() as nursery:

            async def produce() -> None:
                async with out_send:
                    for i in range(20):
                        await out_send.send(i)

            nursery.start_soon(produce)
            got = [v async for v in results]
        assert got == list(range(20))


async def test_unknown_name_raises_at_import(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        assert server.address is not None
        with pytest.raises(netchan.ChannelNotFoundError):
            await client.import_send(server.address, "nope")
        send, _recv = trio.open_memory_channel[object](1)
        server.export("s", send)
        with pytest.raises(netchan.ChannelNotFoundError):
            await client.import_receive(server.address, "s")
        assert server.statistics().errors["unknown_channel"] == 1
