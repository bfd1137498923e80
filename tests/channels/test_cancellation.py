"""Cancellation safety under random timing: what send() reports as sent arrives exactly once,
in order; what a cancelled send() did not commit never arrives; a cancelled receive() loses
nothing. Seeded; on the memory transport with MockClock, over udp:// and sctp:// with the
real clock (the timing then varies from run to run, the properties must hold anyway)."""

from __future__ import annotations

import random

import pytest
import trio

from tests.channels.conftest import Env, eventually


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_random_cancellations_lose_and_duplicate_nothing(
    env: Env, clock: object, seed: int
) -> None:
    rng = random.Random(seed)
    async with env.node() as server, env.node(listen=False) as client:
        in_send, in_recv = trio.open_memory_channel[int](rng.choice([0, 1, 3]))
        out_send, out_recv = trio.open_memory_channel[int](0)
        server.export("in", in_send)
        server.export("out", out_recv)
        assert server.address is not None
        to_server = await client.import_send(server.address, "in")
        from_server = await client.import_receive(
            server.address, "out", max_buffer=rng.choice([1, 2, 5])
        )
        committed: list[int] = []
        relayed: list[int] = []
        received: list[int] = []
        relay_scope = trio.CancelScope()

        async def sender() -> None:
            for i in range(300):
                with trio.move_on_after(rng.random() * 0.02):
                    await to_server.send(i)
                    committed.append(i)
            await to_server.aclose()
            # The relay's work is done once as many values came through as were committed
            # (more or other ones fail the final check): stop it then, not after idling.
            await eventually(lambda: len(relayed) >= len(committed), timeout=60)
            relay_scope.cancel()

        async def relay() -> None:
            # Server side: slow, bursty consumer that feeds the work queue back; closing
            # out_send when it stops ends the receiver's loop.
            async with out_send:
                with relay_scope:
                    while True:
                        value = await in_recv.receive()
                        await trio.sleep(rng.random() * 0.01)
                        await out_send.send(value)
                        relayed.append(value)

        async def receiver() -> None:
            while True:
                with trio.move_on_after(rng.random() * 0.02):
                    try:
                        received.append(await from_server.receive())
                    except trio.EndOfChannel:
                        return

        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                nursery.start_soon(relay)
                nursery.start_soon(receiver)
        assert 0 < len(committed) < 300  # some sends were cancelled, some went through
        assert received == committed
        # A cancelled send committed nothing: nothing else was queued for the server.
        assert client.statistics().values_out == len(committed)
