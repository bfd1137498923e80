"""A client-only node's default endpoint is dual-stack: IPv4 and IPv6 peers alike."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import trio

import netchan
from netchan.transport._open import default_client_address
from netchan.transport.udp._socket import dual_stack_available, open_udp_socket

needs_dual_stack = pytest.mark.skipif(
    not dual_stack_available(), reason="this host cannot bind a dual-stack IPv6 socket"
)


def test_the_default_follows_the_host() -> None:
    expected = "udp://[::]:0" if dual_stack_available() else "udp://0.0.0.0:0"
    assert default_client_address() == expected


@needs_dual_stack
def test_the_ipv6_wildcard_binds_dual_stack() -> None:
    sock = open_udp_socket("::", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
    finally:
        sock.close()


@needs_dual_stack
@pytest.mark.parametrize("server_address", ["udp://127.0.0.1:0", "udp://[::1]:0"])
async def test_a_default_client_reaches_ipv4_and_ipv6_nodes(server_address: str) -> None:
    with trio.fail_after(30):
        async with netchan.open_node(server_address) as server, netchan.open_node() as client:
            send, recv = trio.open_memory_channel[Any](4)
            server.export("in", send)
            assert server.address is not None
            channel = await client.import_send(server.address, "in")
            reply_send, reply_recv = trio.open_memory_channel[Any](1)
            await channel.send({"n": 1, "reply": reply_send})
            value = await recv.receive()
            async with value["reply"] as reply:
                await reply.send("back")  # a channel end owned by the client-only node
            assert await reply_recv.receive() == "back"


@needs_dual_stack
@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
async def test_a_default_client_hears_icmp_from_both_families(host: str) -> None:
    with socket.socket(socket.AF_INET6 if "[" in host else socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host.strip("[]"), 0))
        dead = s.getsockname()[1]
    started = time.monotonic()
    with trio.fail_after(30), pytest.raises(netchan.PeerUnreachableError, match="ICMP"):
        async with netchan.open_node() as client:
            await client.import_send(f"udp://{host}:{dead}", "x")
    assert time.monotonic() - started < 10  # the ICMP report, not the connect timeout
