"""Multihomed ``udp://`` endpoints on real loopback sockets (RFC 9260 §5.1.2, §6.4, §8.2).

127.0.0.0/8 is all loopback on Linux: each endpoint binds 127.0.0.1 and 127.0.0.2 on one
port. Path 1 joins the two .1 addresses, path 2 the two .2 addresses (the driver sends from
the local address nearest the destination). A path is black-holed with the driver's test
hook, which silently drops what one endpoint sends or receives on it, both directions: the
stack sees what it would see if a link went down.
"""

from __future__ import annotations

import itertools
import sys

import pytest
import trio

from netchan.transport import PeerAddressChanged, open_endpoint
from netchan.transport.errors import InvalidAddressError
from netchan.transport.udp import UdpEndpoint

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="127.0.0.2 is a loopback address on Linux"
)

#: Wall-clock bounds (a shared machine may be slow; failover itself takes about one RTO).
SETUP_BOUND = 10.0
#: Longest silence between two deliveries while the primary path is cut: one T3-rtx timeout
#: on the primary (RTO.Min 0.1 s on loopback, RFC 7829 PFMR 0) and the retransmission.
GAP_BOUND = 1.0


def _cut(ep: UdpEndpoint, local: str, peer_host: str) -> None:
    """Drop every datagram between our ``local`` address and ``peer_host`` (both ways)."""

    def path_filter(local_host: str, peer: tuple[str, int]) -> bool:
        return local_host == local and peer[0] == peer_host

    ep._path_filter = path_filter


async def _events(ep: UdpEndpoint, out: list[tuple[str, str]]) -> None:
    while True:
        event = await ep.next_event()
        if isinstance(event, PeerAddressChanged):
            out.append((event.address, event.state))


async def test_bind_two_addresses_and_learn_the_peer_s() -> None:
    async with (
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as server,
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as client,
    ):
        assert isinstance(server, UdpEndpoint)
        port = server.address.rsplit(":", 1)[1]
        assert server.address == f"udp://127.0.0.1,127.0.0.2:{port}"
        with trio.fail_after(SETUP_BOUND):
            assoc = await client.connect(server.address)
            await assoc.send(b"hello", stream=0)
            msg = await server.receive()
        assert msg.data == b"hello"
        assert assoc.peer_addresses == (f"udp://127.0.0.1:{port}", f"udp://127.0.0.2:{port}")
        assert assoc.primary_path == f"udp://127.0.0.1:{port}"
        cport = client.address.rsplit(":", 1)[1]
        assert set(msg.association.peer_addresses) == {
            f"udp://127.0.0.1:{cport}",
            f"udp://127.0.0.2:{cport}",
        }


async def test_cut_primary_path_fails_over_and_restored_path_returns() -> None:
    async with (
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as server,
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as client,
        trio.open_nursery() as nursery,
    ):
        assert isinstance(client, UdpEndpoint) and isinstance(server, UdpEndpoint)
        port = server.address.rsplit(":", 1)[1]
        seen: list[tuple[str, str]] = []
        nursery.start_soon(_events, client, seen)
        with trio.fail_after(SETUP_BOUND):
            assoc = await client.connect(server.address)
            await trio.sleep(0.3)  # heartbeats confirm both paths (§5.4)

        count = 300
        arrivals: list[float] = []
        values: list[int] = []

        async def receiver() -> None:
            while len(values) < count:
                msg = await server.receive()
                values.append(int.from_bytes(msg.data[:4], "big"))
                arrivals.append(trio.current_time())

        with trio.fail_after(30):
            async with trio.open_nursery() as inner:
                inner.start_soon(receiver)
                for i in range(count):
                    if i == 100:
                        # Link 1 becomes a black hole, both directions, at both ends.
                        _cut(client, "127.0.0.1", "127.0.0.1")
                        _cut(server, "127.0.0.1", "127.0.0.1")
                    await assoc.send(i.to_bytes(4, "big") * 64, stream=0)
                    await trio.sleep(0.005)
        assert values == list(range(count)), "every message once and in order"
        gap = max(b - a for a, b in itertools.pairwise(arrivals))
        assert gap < GAP_BOUND, gap
        primary = f"udp://127.0.0.1:{port}"
        assert (primary, "potentially_failed") in seen
        assert assoc.primary_path == primary  # still the primary, not in use

        # Restored: the heartbeat on the failed path is answered, it is active again.
        client._path_filter = None
        server._path_filter = None
        with trio.fail_after(10):
            while (primary, "available") not in seen:
                await trio.sleep(0.05)
        await assoc.send(b"after", stream=0)
        with trio.fail_after(5):
            assert (await server.receive()).data == b"after"
        nursery.cancel_scope.cancel()


async def test_connect_tries_the_next_address_when_the_first_is_cut() -> None:
    async with (
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as server,
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as client,
    ):
        assert isinstance(client, UdpEndpoint) and isinstance(server, UdpEndpoint)
        _cut(client, "127.0.0.1", "127.0.0.1")
        with trio.fail_after(SETUP_BOUND):
            assoc = await client.connect(server.address)
            await assoc.send(b"via path 2", stream=0)
            assert (await server.receive()).data == b"via path 2"


async def test_set_primary_by_url() -> None:
    async with (
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as server,
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as client,
    ):
        port = server.address.rsplit(":", 1)[1]
        with trio.fail_after(SETUP_BOUND):
            assoc = await client.connect(server.address)
            await trio.sleep(0.3)
        second = f"udp://127.0.0.2:{port}"
        assoc.set_primary(second)
        assert assoc.primary_path == second
        assert assoc.peer_addresses[0] == second
        with trio.fail_after(SETUP_BOUND):
            while True:
                event = await client.next_event()
                if isinstance(event, PeerAddressChanged) and event.state == "primary":
                    break
        assert event.address == second
        # Path 1 cut: data on the new primary still flows (nothing waits for a failover).
        assert isinstance(client, UdpEndpoint) and isinstance(server, UdpEndpoint)
        _cut(client, "127.0.0.1", "127.0.0.1")
        with trio.fail_after(SETUP_BOUND):
            await assoc.send(b"on path 2", stream=0)
            assert (await server.receive()).data == b"on path 2"
        with pytest.raises(InvalidAddressError):
            assoc.set_primary("udp://127.0.0.3:1")


async def test_single_address_endpoint_is_unchanged() -> None:
    async with (
        open_endpoint("udp://127.0.0.1:0") as server,
        open_endpoint("udp://127.0.0.1:0") as client,
    ):
        with trio.fail_after(SETUP_BOUND):
            assoc = await client.connect(server.address)
        assert assoc.peer_addresses == (server.address,)
        assert assoc.primary_path == server.address


async def test_mixed_families_are_refused() -> None:
    from netchan.transport.errors import TransportError

    with pytest.raises(TransportError):
        async with open_endpoint("udp://127.0.0.1,[::1]:0"):
            pass


async def test_connect_to_another_address_of_the_peer_returns_the_association() -> None:
    async with (
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as server,
        open_endpoint("udp://127.0.0.1,127.0.0.2:0") as client,
    ):
        port = server.address.rsplit(":", 1)[1]
        with trio.fail_after(SETUP_BOUND):
            assoc = await client.connect(server.address)
            again = await client.connect(f"udp://127.0.0.2:{port}")
            by_send = await client.send(b"x", to=f"udp://127.0.0.2:{port}")
        assert again is assoc and by_send is assoc
        assert client.associations == (assoc,)
        assert (await server.receive()).data == b"x"


async def test_channel_transfer_survives_a_black_holed_link() -> None:
    """The issue's scenario on loopback: a channel transfer runs while link 1 is a black hole
    (both directions) for 2 s; every value arrives once and in order, no gap between two
    arrivals reaches 2 s, and after the link is back the heartbeat marks it active again."""
    import netchan

    async with (
        netchan.open_node("udp://127.0.0.1,127.0.0.2:0") as server,
        netchan.open_node("udp://127.0.0.1,127.0.0.2:0") as client,
    ):
        values_send, values_recv = trio.open_memory_channel[int](0)
        server.export("values", values_send)
        with trio.fail_after(SETUP_BOUND):
            remote = await client.import_send(server.address, "values")
        server_ep, client_ep = server._ep, client._ep
        assert isinstance(server_ep, UdpEndpoint) and isinstance(client_ep, UdpEndpoint)
        count = 400
        got: list[int] = []
        arrivals: list[float] = []

        async def receive() -> None:
            async for value in values_recv:
                got.append(value)
                arrivals.append(trio.current_time())
                if len(got) == count:
                    return

        async def black_hole() -> None:
            _cut(client_ep, "127.0.0.1", "127.0.0.1")
            _cut(server_ep, "127.0.0.1", "127.0.0.1")
            await trio.sleep(2.0)
            client_ep._path_filter = None
            server_ep._path_filter = None

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                for i in range(count):
                    if i == 100:
                        nursery.start_soon(black_hole)
                    await remote.send(i)
                    await trio.sleep(0.005)
        assert got == list(range(count))
        gap = max(b - a for a, b in itertools.pairwise(arrivals))
        assert gap < 2.0, gap
        (assoc,) = client_ep.associations
        port = server.address.rsplit(":", 1)[1]
        with trio.fail_after(10):
            while assoc._sctp.path_states()[("127.0.0.1", int(port))] != ("active", True):
                await trio.sleep(0.05)
