"""Exceptions leave ``open_node`` as themselves (SPEC "Channel layer"), not in groups."""

from __future__ import annotations

import pytest
import trio

import netchan
from tests.channels.conftest import Env


async def test_the_body_exception_comes_out_as_itself(env: Env, clock: object) -> None:
    raised = ValueError("from the body")
    with trio.fail_after(30), pytest.raises(ValueError) as info:
        async with env.node() as server, env.node(listen=False) as client:
            send, _recv = trio.open_memory_channel[int](1)
            server.export("in", send)
            assert server.address is not None
            channel = await client.import_send(server.address, "in")
            await channel.send(1)
            raise raised
    assert info.value is raised


async def test_peer_unreachable_from_an_import_comes_out_as_itself(env: Env, clock: object) -> None:
    wire = "udp" if env.memory else env.scheme
    with trio.fail_after(30), pytest.raises(netchan.PeerUnreachableError):
        async with env.node(listen=False, connect_timeout=2) as client:
            await client.import_send(f"{wire}://127.0.0.1:1", "jobs")


async def test_unknown_channel_comes_out_as_itself(env: Env, clock: object) -> None:
    with trio.fail_after(30), pytest.raises(netchan.ChannelNotFoundError):
        async with env.node() as server, env.node(listen=False) as client:
            assert server.address is not None
            await client.import_receive(server.address, "nothing here")


async def test_a_cancelled_scope_around_open_node_cancels_cleanly(env: Env, clock: object) -> None:
    with trio.fail_after(30):
        with trio.move_on_after(0.5) as scope:
            async with env.node() as server, env.node(listen=False) as client:
                send, recv = trio.open_memory_channel[int](0)
                server.export("in", send)
                assert server.address is not None
                channel = await client.import_send(server.address, "in")
                await channel.send(1)  # a rendezvous: blocks until the deadline cancels it
                await channel.send(2)
        assert scope.cancelled_caught
        del recv
