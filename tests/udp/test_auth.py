"""SCTP-AUTH (RFC 4895) on ``udp://`` endpoints, real UDP sockets on loopback: keys go in as
``open_endpoint`` options, a keyless or wrong-key peer is refused at once, rotation works."""

from __future__ import annotations

import random

import pytest
import trio

from netchan.transport import TransportError, open_endpoint

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"
TIMEOUT = 10.0


async def test_keyed_endpoints_exchange_messages_and_know_the_peer_key() -> None:
    async with (
        open_endpoint("udp://127.0.0.1:0", auth_keys={7: KEY}, rng=random.Random(1)) as server,
        open_endpoint("udp://127.0.0.1:0", auth_keys={7: KEY}, rng=random.Random(2)) as client,
    ):
        with trio.fail_after(TIMEOUT):
            assoc = await client.send(b"hello", to=server.address, stream=1)
            msg = await server.receive()
            assert msg.data == b"hello"
            await msg.association.send(b"back", stream=2)
            assert (await assoc.receive()).data == b"back"
            assert msg.association.peer_key_id == 7 and assoc.peer_key_id == 7
            assert not {k for k in server.statistics().drops if k.startswith("auth")}


@pytest.mark.parametrize(
    ("client_keys", "message"),
    [
        (None, "no SCTP-AUTH"),
        ({7: OTHER}, "SCTP-AUTH failed"),
        ({8: KEY}, "SCTP-AUTH failed"),
    ],
    ids=["keyless", "wrong-key", "wrong-key-id"],
)
async def test_peer_without_the_key_is_refused_promptly(
    client_keys: dict[int, bytes] | None, message: str
) -> None:
    async with (
        open_endpoint("udp://127.0.0.1:0", auth_keys={7: KEY}) as server,
        open_endpoint("udp://127.0.0.1:0", auth_keys=client_keys) as client,
    ):
        start = trio.current_time()
        with trio.fail_after(2.0), pytest.raises(trio.BrokenResourceError, match=message):
            await client.send(b"secret", to=server.address)
        assert trio.current_time() - start < 1.0
        assert server.associations == ()
        with trio.move_on_after(0.3):
            await server.receive()
            pytest.fail("a message from a peer without the key was delivered")


async def test_keyed_client_refuses_a_keyless_server() -> None:
    async with (
        open_endpoint("udp://127.0.0.1:0") as server,
        open_endpoint("udp://127.0.0.1:0", auth_keys={1: KEY}) as client,
    ):
        with trio.fail_after(2.0), pytest.raises(trio.BrokenResourceError, match="SCTP-AUTH"):
            await client.connect(server.address)


async def test_key_rotation_on_running_endpoints_loses_nothing() -> None:
    async with (
        open_endpoint("udp://127.0.0.1:0", auth_keys={1: KEY}) as server,
        open_endpoint("udp://127.0.0.1:0", auth_keys={1: KEY}) as client,
    ):
        received: list[bytes] = []

        async def reader() -> None:
            while len(received) < 300:
                received.append((await server.receive()).data)

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                assoc = await client.connect(server.address)
                for i in range(300):
                    await assoc.send(i.to_bytes(4, "big") * 100, stream=i % 4)
                    if i == 60:
                        server.add_auth_key(2, OTHER)
                        client.add_auth_key(2, OTHER)
                    elif i == 120:
                        client.set_active_auth_key(2)
                    elif i == 180:
                        server.set_active_auth_key(2)
                    elif i == 240:
                        await trio.sleep(0.05)  # what was signed with key 1 has arrived
                        client.remove_auth_key(1)
                        server.remove_auth_key(1)
                    if i % 20 == 0:
                        await trio.sleep(0)
        assert sorted(received) == sorted(i.to_bytes(4, "big") * 100 for i in range(300))
        (peer,) = server.associations
        assert peer.peer_key_id == 2
        assert not {k for k in server.statistics().drops if k.startswith("auth")}
        assert not {k for k in client.statistics().drops if k.startswith("auth")}


async def test_rotation_on_a_keyless_endpoint_is_a_clear_error() -> None:
    async with open_endpoint("udp://127.0.0.1:0") as ep:
        with pytest.raises(TransportError, match="auth_keys"):
            ep.add_auth_key(1, KEY)
