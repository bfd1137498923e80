"""The channel layer (``netchan.open_node``) over the kernel's SCTP: SPEC's example, sctp://."""

from __future__ import annotations

from typing import Any

import trio

import netchan


async def test_spec_example_over_kernel_sctp() -> None:
    with trio.fail_after(60):
        async with netchan.open_node("sctp://127.0.0.1:0") as server:
            send, recv = trio.open_memory_channel[dict[str, Any]](10)
            server.export("jobs", send)
            out_send, out_recv = trio.open_memory_channel[int](0)
            server.export("results", out_recv)
            assert server.address is not None
            async with netchan.open_node("sctp://127.0.0.1:0") as client:
                jobs = await client.import_send(server.address, "jobs")
                results = await client.import_receive(server.address, "results", max_buffer=4)
                reply_send, reply_recv = trio.open_memory_channel[int](1)
                await jobs.send({"n": 4, "reply": reply_send})
                job = await recv.receive()
                assert job["n"] == 4
                await job["reply"].send(job["n"] * 2)  # back over a channel end sent in a value
                assert await reply_recv.receive() == 8

                async def produce() -> None:
                    for i in range(5):
                        await out_send.send(i)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(produce)
                    assert [await results.receive() for _ in range(5)] == list(range(5))
                stats = client.statistics()
                assert stats.address is not None
                assert stats.address.startswith("sctp://127.0.0.1:")
                assoc = stats.peers[0].association
                assert assoc is not None and assoc.state == "ESTABLISHED"
