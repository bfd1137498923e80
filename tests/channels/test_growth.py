"""State follows the channels open now, not every channel ever opened.

Each reply channel is a new link; its stream used to be the next one (link ids are never
reused), so the association kept per-stream state for every stream ever used (up to 65535):
memory grew with every request. Streams now come from a free list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import trio

from netchan.transport import Endpoint, Message, open_endpoint
from tests.channels.conftest import Env

Factory = Callable[[str], AbstractAsyncContextManager[Endpoint]]


class _Recording:
    """An endpoint that notes the stream of every message it receives."""

    def __init__(self, ep: Endpoint, streams: set[int]) -> None:
        self._ep = ep
        self._streams = streams

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ep, name)

    async def receive(self) -> Message:
        msg = await self._ep.receive()
        self._streams.add(msg.stream)
        return msg

    def set_message_handler(
        self,
        handler: Callable[[Message], None] | None,
        *,
        max_size: int | None = None,
        done: Callable[[], None] | None = None,
    ) -> bool:
        # udp:// hands small messages to the node's router without receive(): note them.
        if handler is None:
            return self._ep.set_message_handler(None)

        def recorded(msg: Message) -> None:
            self._streams.add(msg.stream)
            handler(msg)

        return self._ep.set_message_handler(recorded, max_size=max_size, done=done)


def recording(env: Env, streams: set[int]) -> Factory:
    inner: Factory = env.network.open_endpoint if env.network is not None else open_endpoint

    @asynccontextmanager
    async def open_recording(address: str) -> AsyncIterator[Endpoint]:
        async with inner(address) as ep:
            yield _Recording(ep, streams)  # type: ignore[misc]

    return open_recording


async def test_reply_channels_reuse_streams(env: Env, clock: object) -> None:
    server_streams: set[int] = set()
    client_streams: set[int] = set()
    async with (
        env.node(transport=recording(env, server_streams)) as server,
        env.node(listen=False, transport=recording(env, client_streams)) as client,
    ):
        jobs_send, jobs_recv = trio.open_memory_channel[dict[str, Any]](4)
        server.export("jobs", jobs_send)

        async def serve() -> None:
            async for job in jobs_recv:
                async with job["reply"] as reply:
                    await reply.send(job["n"] + 1)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            assert server.address is not None
            jobs = await client.import_send(server.address, "jobs")
            for n in range(300):
                reply_send, reply_recv = trio.open_memory_channel[int](1)
                await jobs.send({"n": n, "reply": reply_send})
                with trio.fail_after(10):
                    assert await reply_recv.receive() == n + 1
            nursery.cancel_scope.cancel()
        # 300 reply channels, each a link of its own: a handful of streams in all.
        assert max(server_streams) <= 4, sorted(server_streams)
        assert max(client_streams) <= 4, sorted(client_streams)
        assert len(server._core.links()) <= 4
        assert len(client._core.links()) <= 4
