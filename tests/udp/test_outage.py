"""A single-path ``udp://`` association survives a 5 s black hole on real loopback sockets.

Issue 10's outage tolerance with the default Options (rto_max 1 s, Association.Max.Retrans
10): the driver's test hook drops every datagram both endpoints send or receive for 5 s of
wall-clock time while messages keep being sent; the association must neither abort nor lose,
duplicate or reorder anything. The deterministic versions are in tests/sctp/test_liveness.py.
"""

from __future__ import annotations

import pytest
import trio

from netchan.transport import open_endpoint
from netchan.transport.udp import UdpEndpoint

SETUP_BOUND = 10.0
OUTAGE = 5.0


def _black_hole(_local_host: str, _peer: tuple[str, int]) -> bool:
    return True


@pytest.mark.parametrize("idle", [False, True], ids=["data-in-flight", "idle"])
async def test_single_path_survives_a_5_s_black_hole(idle: bool) -> None:
    async with (
        open_endpoint("udp://127.0.0.1:0") as server,
        open_endpoint("udp://127.0.0.1:0") as client,
    ):
        assert isinstance(client, UdpEndpoint) and isinstance(server, UdpEndpoint)
        with trio.fail_after(SETUP_BOUND):
            assoc = await client.connect(server.address)
            await trio.sleep(1.0)  # heartbeats answered: the RTO settles at rto_min
        values: list[int] = []
        sent = 0

        async def receiver(count: int) -> None:
            while len(values) < count:
                msg = await server.receive()
                values.append(int.from_bytes(msg.data[:4], "big"))

        async def send(n: int) -> None:
            nonlocal sent
            for _ in range(n):
                await assoc.send(sent.to_bytes(4, "big") * 32, stream=0)
                sent += 1

        await send(20)
        client._path_filter = _black_hole
        server._path_filter = _black_hole
        start = trio.current_time()
        with trio.fail_after(OUTAGE + 5):
            while trio.current_time() - start < OUTAGE:
                if not idle:
                    await send(5)  # into the black hole
                await trio.sleep(0.25)
        outage = trio.current_time() - start
        client._path_filter = None
        server._path_filter = None
        await send(20)
        with trio.fail_after(10):
            await receiver(sent)
        assert outage >= OUTAGE
        assert values == list(range(sent)), "every message once and in order"
        await send(1)  # still usable afterwards
        with trio.fail_after(5):
            await receiver(sent)
        assert values == list(range(sent))
        if not idle:
            assert client._drops["test_path_filter"] > 0
