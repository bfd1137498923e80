"""One busy channel never holds up another (issue 9, head-of-line row), over udp:// loopback.

A 24 MiB value travels on one channel while small request/reply round trips run on another
channel of the same association: the small ones are delivered while the big one is in
flight, and the big value arrives intact both ways (exporter side: decoded by the pump after
a worker thread cut its big field out; importer side: by ``receive`` after the same).
"""

from __future__ import annotations

from typing import Any

import trio

import netchan

MiB = 1 << 20
BIG = 24 * MiB


def _blob(n: int) -> bytes:
    return bytes(range(251)) * (n // 251) + b"!" * (n % 251)


async def _answer(requests: trio.MemoryReceiveChannel[Any], log: list[str]) -> None:
    async for request in requests:
        log.append("small")
        async with request["reply"] as reply:
            await reply.send(request["value"])


async def _take_big(big: trio.MemoryReceiveChannel[Any], log: list[str], data: bytes) -> None:
    async for value in big:
        assert value["data"] == data
        log.append("big")
        async with value["reply"] as reply:
            await reply.send(len(value["data"]))


async def test_small_values_pass_a_big_one_in_flight() -> None:
    data = _blob(BIG)
    log: list[str] = []
    async with (
        netchan.open_node("udp://127.0.0.1:0", max_value_size=64 * MiB) as server,
        netchan.open_node(client_address="udp://127.0.0.1:0", max_value_size=64 * MiB) as client,
        trio.open_nursery() as nursery,
    ):
        req_send, req_recv = trio.open_memory_channel[Any](16)
        big_send, big_recv = trio.open_memory_channel[Any](1)
        out_send, out_recv = trio.open_memory_channel[Any](1)
        server.export("requests", req_send)
        server.export("big", big_send)
        server.export("out", out_recv)
        nursery.start_soon(_answer, req_recv, log)
        nursery.start_soon(_take_big, big_recv, log, data)
        assert server.address is not None
        with trio.fail_after(60):
            requests = await client.import_send(server.address, "requests")
            big = await client.import_send(server.address, "big")
            small_during = 0

            async def round_trip(i: int) -> None:
                reply_send, reply_recv = trio.open_memory_channel[Any](1)
                async with reply_recv:
                    await requests.send({"value": i, "reply": reply_send})
                    assert await reply_recv.receive() == i

            await round_trip(-1)  # the association and both links are up
            done_send, done_recv = trio.open_memory_channel[int](1)
            await big.send({"data": data, "reply": done_send})
            # The big value is on its way (its pieces queued): round trips go meanwhile.
            for i in range(1000):
                await round_trip(i)
                if "big" in log:
                    break
                small_during += 1
            assert await done_recv.receive() == BIG
            # Several small values were answered before the big one was even delivered.
            assert small_during >= 3, log[:10]
            assert log.index("big") >= 4

            # The other direction: a big value received by an importer (``receive``).
            incoming = await client.import_receive(server.address, "out", max_buffer=1)
            await out_send.send({"data": data, "n": 1})
            got = await incoming.receive()
            assert got == {"data": data, "n": 1}
            await incoming.aclose()
            await requests.aclose()
            await big.aclose()
        nursery.cancel_scope.cancel()
