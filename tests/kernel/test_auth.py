"""SCTP-AUTH (RFC 4895) on ``sctp://`` (the Linux kernel's) and across stacks: our ``udp://``
userspace stack keyed against the kernel's SCTP-AUTH over UDP encapsulation, both directions.

Runs inside the SCTP VM only (see conftest.py).
"""

from __future__ import annotations

import pytest
import trio

from netchan.transport import AssociationEstablished, open_endpoint
from tests.endpoint_suite import wait_event
from tests.kernel.test_cross_stack import _port, kernel_udp_encapsulation  # noqa: F401

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"
TIMEOUT = 60.0


async def _round_trip(client_assoc, server) -> None:  # type: ignore[no-untyped-def]
    await client_assoc.send(b"ping", stream=1)
    msg = await server.receive()
    assert msg.data == b"ping"
    await msg.association.send(b"pong", stream=2)
    assert (await client_assoc.receive()).data == b"pong"
    return msg.association


async def test_keyed_kernel_endpoints_exchange_and_report_the_key() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", auth_keys={5: KEY}) as server,
            open_endpoint("sctp://127.0.0.1:0", auth_keys={5: KEY}) as client,
        ):
            assoc = await client.connect(server.address)
            peer = await _round_trip(assoc, server)
            assert assoc.peer_key_id == 5 and peer.peer_key_id == 5


async def test_keyless_kernel_peer_is_refused() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", auth_keys={5: KEY}) as server,
            open_endpoint("sctp://127.0.0.1:0") as client,
        ):
            with pytest.raises(trio.BrokenResourceError) as caught:
                assoc = await client.connect(server.address)
                await assoc.send(b"secret")
                await assoc.receive()
            # The refusal's reason reaches the keyless side as the ABORT's cause, unless its
            # kernel reports a failed send first ("Broken pipe"): both happen.
            text = f"{caught.value} {caught.value.__cause__}"
            assert "SCTP-AUTH" in text or "Broken pipe" in text, text
            assert server.statistics().drops.get("auth_refused") == 1
            assert server.associations == ()
            with trio.move_on_after(0.5):
                await server.receive()
                pytest.fail("a message from a keyless peer was delivered")


async def test_wrong_key_kernel_peer_never_associates() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", auth_keys={5: KEY}) as server,
            open_endpoint(
                "sctp://127.0.0.1:0", auth_keys={5: OTHER}, max_init_retransmits=2
            ) as client,
        ):
            with pytest.raises(trio.BrokenResourceError):
                await client.connect(server.address)
            # The kernel server does not require COOKIE ECHO to be authenticated (kernel/
            # _auth.py): it may hold a dead association for a while, but delivers nothing.
            with trio.move_on_after(0.5):
                await server.receive()
                pytest.fail("a message from a peer with another key was delivered")


async def test_rotation_on_kernel_endpoints() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", auth_keys={1: KEY}) as server,
            open_endpoint("sctp://127.0.0.1:0", auth_keys={1: KEY}) as client,
        ):
            assoc = await client.connect(server.address)
            await _round_trip(assoc, server)
            server.add_auth_key(2, OTHER)
            client.add_auth_key(2, OTHER)
            client.set_active_auth_key(2)
            server.set_active_auth_key(2)
            peer = await _round_trip(assoc, server)
            client.remove_auth_key(1)
            server.remove_auth_key(1)
            await _round_trip(assoc, server)
            assert peer.peer_key_id == 2


async def test_userspace_keyed_client_to_kernel_keyed_server(
    kernel_udp_encapsulation: int,  # noqa: F811
) -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", auth_keys={7: KEY}) as kern,
            open_endpoint("udp://127.0.0.1:0", auth_keys={7: KEY}) as user,
        ):
            target = f"udp://127.0.0.1:{kernel_udp_encapsulation}?sctp_port={_port(kern)}"
            assoc = await user.connect(target)
            kside = (await wait_event(kern, AssociationEstablished)).association
            peer = await _round_trip(assoc, kern)
            assert peer is kside
            assert assoc.peer_key_id == 7 and kside.peer_key_id == 7
            # the userspace side saw authenticated chunks only
            assert not {k for k in user.statistics().drops if k.startswith("auth")}


async def test_kernel_keyed_client_to_userspace_keyed_server(
    kernel_udp_encapsulation: int,  # noqa: F811
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_endpoint("udp://127.0.0.1:0", auth_keys={7: KEY}) as user:
            uport = _port(user)
            async with open_endpoint(
                "sctp://127.0.0.1:0", udp_encapsulation_port=uport, auth_keys={7: KEY}
            ) as kern:
                assoc = await kern.connect(f"sctp://127.0.0.1:{uport}")
                await _round_trip(assoc, user)
                (uside,) = user.associations
                assert uside.peer_key_id == 7


@pytest.mark.parametrize("direction", ["user-to-kernel", "kernel-to-user"])
async def test_wrong_key_is_refused_across_stacks(
    kernel_udp_encapsulation: int,  # noqa: F811
    direction: str,
) -> None:
    with trio.fail_after(TIMEOUT):
        if direction == "user-to-kernel":
            async with (
                open_endpoint("sctp://127.0.0.1:0", auth_keys={7: KEY}) as kern,
                open_endpoint("udp://127.0.0.1:0", auth_keys={7: OTHER}) as user,
            ):
                target = f"udp://127.0.0.1:{kernel_udp_encapsulation}?sctp_port={_port(kern)}"
                with pytest.raises(trio.BrokenResourceError):
                    assoc = await user.connect(target)
                    await assoc.send(b"secret")
                    await assoc.receive()
                with trio.move_on_after(0.5):
                    await kern.receive()
                    pytest.fail("a message from a peer with another key was delivered")
        else:
            async with open_endpoint("udp://127.0.0.1:0", auth_keys={7: KEY}) as user:
                uport = _port(user)
                async with open_endpoint(
                    "sctp://127.0.0.1:0",
                    udp_encapsulation_port=uport,
                    auth_keys={7: OTHER},
                    max_init_retransmits=2,
                ) as kern:
                    with pytest.raises(trio.BrokenResourceError):
                        await kern.connect(f"sctp://127.0.0.1:{uport}")
                    assert user.associations == ()
                    assert user.statistics().drops.get("auth_bad_hmac", 0) >= 1
