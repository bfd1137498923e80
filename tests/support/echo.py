"""Two nodes on loopback over udp:// with an echo and a request/reply service (udp tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

import netchan


async def _echo(recv: trio.MemoryReceiveChannel[Any], send: trio.MemorySendChannel[Any]) -> None:
    async for value in recv:
        await send.send(value)


async def _answer(requests: trio.MemoryReceiveChannel[Any]) -> None:
    async for request in requests:
        async with request["reply"] as reply:
            await reply.send(request["value"])


@asynccontextmanager
async def echo_nodes() -> AsyncIterator[tuple[netchan.Node, Any, Any, Any]]:
    """Two nodes on loopback; the server echoes ``echo_in`` to ``echo_out`` and answers
    ``requests`` on each request's reply channel. Yields the client, the imported
    ``echo_in``, ``echo_out`` and ``requests``, after five warm-up round trips (congestion
    window, streams)."""
    async with (
        netchan.open_node("udp://127.0.0.1:0") as server,
        netchan.open_node(client_address="udp://127.0.0.1:0") as client,
        trio.open_nursery() as nursery,
    ):
        echo_in, echo_recv = trio.open_memory_channel[Any](1)
        out_send, echo_out = trio.open_memory_channel[Any](0)
        req_send, req_recv = trio.open_memory_channel[Any](16)
        server.export("echo_in", echo_in)
        server.export("echo_out", echo_out)
        server.export("requests", req_send)
        nursery.start_soon(_echo, echo_recv, out_send)
        nursery.start_soon(_answer, req_recv)
        assert server.address is not None
        with trio.fail_after(20):
            send = await client.import_send(server.address, "echo_in")
            recv = await client.import_receive(server.address, "echo_out", max_buffer=1)
            requests = await client.import_send(server.address, "requests")
            for _ in range(5):
                await send.send(b"p")
                await recv.receive()
        yield client, send, recv, requests
        nursery.cancel_scope.cancel()
