"""Keyed nodes (``open_node(key=...)`` / ``keys={...}``) and per-export access (``allow=``).

Over ``udp://`` the keys are SCTP-AUTH keys of the userspace stack; the in-memory transport
emulates the same refusals (tests/support/memory_transport.py), so these tests run on every
scheme the channel suite runs on.
"""

from __future__ import annotations

import pytest
import trio

import netchan
from netchan import AccessDeniedError, PeerUnreachableError
from netchan.node._keys import key_id
from tests.channels.conftest import SCHEME, Env

ADMIN = b"admin-key-0123456789abcdef012345"
WORKERS = b"workers-key-0123456789abcdef0123"
STRANGER = b"stranger-key-0123456789abcdef012"

#: On sctp:// the kernel signs every association with the node's active (first) key, so a
#: peer holding only another of the node's keys cannot associate (docs/security.md).
single_key_kernel = pytest.mark.skipif(
    SCHEME == "sctp",
    reason=(
        "the kernel signs every association with the endpoint's active key from its COOKIE "
        "ACK on, before the peer's first AUTH chunk could tell which key the peer holds "
        "(docs/security.md)"
    ),
)


async def test_keyed_nodes_exchange_values(env: Env) -> None:
    async with env.node(key=ADMIN) as server, env.node(listen=False, key=ADMIN) as client:
        inbox_send, inbox_recv = trio.open_memory_channel[object](10)
        out_send, out_recv = trio.open_memory_channel[object](10)
        server.export("inbox", inbox_send)
        server.export("outbox", out_recv)
        assert server.address is not None
        with trio.fail_after(10):
            to_server = await client.import_send(server.address, "inbox")
            from_server = await client.import_receive(server.address, "outbox")
            await to_server.send({"n": 1})
            assert await inbox_recv.receive() == {"n": 1}
            await out_send.send("result")
            assert await from_server.receive() == "result"


@pytest.mark.parametrize(
    ("client_key", "message"),
    [
        (None, "no SCTP-AUTH"),
        pytest.param(
            STRANGER,
            "SCTP-AUTH failed",
            marks=pytest.mark.skipif(
                SCHEME == "sctp",
                reason="a kernel endpoint does not require COOKIE ECHO to be authenticated "
                "(Linux 6.1 then drops every one): a peer with another key fails after its "
                "COOKIE ECHO retransmissions, not at once (tests/kernel/test_auth.py checks "
                "that nothing it sends is delivered)",
            ),
        ),
    ],
    ids=["keyless", "wrong-key"],
)
async def test_a_node_without_the_key_is_refused_promptly_and_delivers_nothing(
    env: Env, client_key: bytes | None, message: str
) -> None:
    async with env.node(key=ADMIN) as server, env.node(listen=False, key=client_key) as client:
        inbox_send, inbox_recv = trio.open_memory_channel[object](10)
        server.export("inbox", inbox_send)
        assert server.address is not None
        start = trio.current_time()
        with pytest.raises(PeerUnreachableError) as caught:
            await client.import_send(server.address, "inbox")
        if SCHEME != "sctp":
            # On sctp:// the keyless side is a kernel that may report its send failing
            # before the kernel reports the refusing ABORT (and its reason).
            assert message in str(caught.value)
        assert trio.current_time() - start < 2.0  # not the 20 s connect timeout
        with trio.move_on_after(0.5):
            await inbox_recv.receive()
            pytest.fail("a value from a node without the key was delivered")
        assert server.statistics().peers == ()


async def test_a_keyed_node_does_not_associate_with_a_keyless_one(env: Env) -> None:
    async with env.node() as server, env.node(listen=False, key=ADMIN) as client:
        server.export("inbox", trio.open_memory_channel[object](1)[0])
        assert server.address is not None
        with trio.fail_after(5), pytest.raises(PeerUnreachableError, match="SCTP-AUTH"):
            await client.import_send(server.address, "inbox")


@single_key_kernel
async def test_export_allow_list_refuses_other_keys_with_a_clear_error(env: Env) -> None:
    keys = {"admin": ADMIN, "workers": WORKERS}
    async with (
        env.node(keys=keys) as server,
        env.node(listen=False, key=WORKERS) as worker,
        env.node(listen=False, key=ADMIN) as admin,
    ):
        control_send, control_recv = trio.open_memory_channel[object](10)
        jobs_send, jobs_recv = trio.open_memory_channel[object](10)
        server.export("control", control_send, allow={"admin"})
        server.export("jobs", jobs_recv)
        address = server.address
        assert address is not None
        with trio.fail_after(10):
            with pytest.raises(AccessDeniedError, match="not open to the key 'workers'"):
                await worker.import_send(address, "control")
            # The same worker may use what is open to it (the association stays up).
            jobs = await worker.import_receive(address, "jobs")
            await jobs_send.send("job 1")
            assert await jobs.receive() == "job 1"
            listed = [e.name for e in await worker.list_exports(address)]
            assert listed == ["jobs"]
            control = await admin.import_send(address, "control")
            await control.send("stop")
            assert await control_recv.receive() == "stop"
            assert sorted(e.name for e in await admin.list_exports(address)) == ["control", "jobs"]
        # Nothing from the refused worker reached the channel.
        with pytest.raises(trio.WouldBlock):
            control_recv.receive_nowait()
        assert server.statistics().errors["access_denied"] == 1


async def test_key_arguments_are_checked(env: Env) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        async with env.node(key=b"short"):
            pass
    with pytest.raises(TypeError, match="bytes"):
        async with env.node(key="a string key of some length"):  # type: ignore[arg-type]
            pass
    with pytest.raises(ValueError, match="not both"):
        async with env.node(key=ADMIN, keys={"a": WORKERS}):
            pass
    with pytest.raises(ValueError, match="same key"):
        async with env.node(keys={"a": ADMIN, "b": ADMIN}):
            pass
    async with env.node(keys={"admin": ADMIN}) as node:
        end = trio.open_memory_channel[object](1)[0]
        with pytest.raises(ValueError, match="does not hold"):
            node.export("x", end, allow={"root"})
        with pytest.raises(TypeError):
            node.export("x", end, allow="admin")
    async with env.node() as node:
        with pytest.raises(ValueError, match="keys="):
            node.export("x", trio.open_memory_channel[object](1)[0], allow={"admin"})


def test_key_identifiers_are_derived_from_the_key() -> None:
    assert key_id(ADMIN) == key_id(bytes(ADMIN))
    assert key_id(ADMIN) != key_id(WORKERS)
    assert 0 <= key_id(ADMIN) <= 0xFFFF


def test_open_node_names_are_public() -> None:
    assert netchan.AccessDeniedError is AccessDeniedError
    assert issubclass(AccessDeniedError, PermissionError)


async def test_keys_rotate_on_running_nodes_without_losing_values(env: Env) -> None:
    new = b"the-next-key-0123456789abcdef0123"
    async with (
        env.node(keys={"old": ADMIN}) as server,
        env.node(listen=False, keys={"old": ADMIN}) as client,
    ):
        inbox_send, inbox_recv = trio.open_memory_channel[object](1000)
        server.export("inbox", inbox_send)
        assert server.address is not None
        with trio.fail_after(20):
            channel = await client.import_send(server.address, "inbox")
            for i in range(300):
                await channel.send(i)
                if i == 50:
                    server.add_key("new", new)
                    client.add_key("new", new)
                elif i == 100:
                    client.use_key("new")
                elif i == 150:
                    server.use_key("new")
                elif i == 250:
                    await trio.sleep(0.1)  # what was signed with the old key has arrived
                    client.remove_key("old")
                    server.remove_key("old")
            got = [await inbox_recv.receive() for _ in range(300)]
        assert got == list(range(300))
        # Only the new key opens the node now.
        async with env.node(listen=False, key=ADMIN) as stale:
            with pytest.raises(PeerUnreachableError):
                await stale.import_send(server.address, "inbox")
        async with env.node(listen=False, key=new) as fresh:
            with trio.fail_after(10):
                again = await fresh.import_send(server.address, "inbox")
                await again.send("fresh")
                assert await inbox_recv.receive() == "fresh"
        with pytest.raises(ValueError, match="in use"):
            server.remove_key("new")
        with pytest.raises(ValueError, match="already holds"):
            server.add_key("new", STRANGER)
