"""Big values with channel ends inside: their big binary fields travel by reference from the
value to the frames (``Codec.encode_gathered``), on the sender task's path and on the early
path of a reference (values sent with the OPEN of a reply channel)."""

from __future__ import annotations

from typing import Any

import trio

from tests.channels.conftest import Env

MiB = 1 << 20


def blob(n: int, seed: int) -> bytes:
    return bytes((i * seed + seed) & 0xFF for i in range(251)) * (n // 251) + b"!" * (n % 251)


async def test_big_values_with_reply_channels_travel_both_ways(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        jobs_send, jobs_recv = trio.open_memory_channel[Any](1)
        server.export("jobs", jobs_send)
        assert server.address is not None

        async def serve() -> None:
            async for job in jobs_recv:
                async with job["reply"] as reply:
                    # The answer goes on the reply channel's early path (with its OPEN).
                    await reply.send({"echo": job["data"][::-1], "n": job["n"]})

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            jobs = await client.import_send(server.address, "jobs")
            with trio.fail_after(60):
                for n, size in enumerate([MiB, 3 * MiB + 17, 2 * MiB]):
                    data = blob(size, n + 1)
                    reply_send, reply_recv = trio.open_memory_channel[Any](1)
                    await jobs.send({"n": n, "data": data, "reply": reply_send})
                    answer = await reply_recv.receive()
                    assert answer["n"] == n
                    assert answer["echo"] == data[::-1]
            await jobs.aclose()
            nursery.cancel_scope.cancel()
