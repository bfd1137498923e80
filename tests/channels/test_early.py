"""A channel end that travelled in a value sends its first values with its OPEN (EARLY
frames, docs/protocol.md "References"): a reply channel costs no extra round trip.

A raw endpoint plays the owner of the reference, so what the holder sends before any
OPEN_OK is seen exactly.
"""

from __future__ import annotations

from typing import Any

import trio

from netchan import _protocol as P
from netchan.codec import Codec
from netchan.transport import Association
from tests.channels.conftest import Env
from tests.channels.test_bad_input import next_control

OWNER = b"o" * 16


class _End:
    """Stands for the owner's channel end: the codec turns it into a reference."""


async def _next_frame(assoc: Association) -> tuple[P.Frame, int, bytes, int]:
    while True:
        with trio.fail_after(5):
            msg = await assoc.receive()
        if msg.data[:1] in P.FRAME_FIRST_BYTES:
            kind, link, payload = P.decode_frame(msg.data)
            return kind, link, bytes(payload), msg.stream


async def _hand_reference(env: Env, server: Any, raw: Any, version: int, window: int) -> Any:
    """Connect as the owner, send a value holding a SendChannel reference into 'jobs'."""
    assoc = await raw.connect(server.address)
    await next_control(assoc)  # HELLO
    await assoc.send(P.encode_control(P.Hello(version, OWNER, raw.address)))
    await assoc.send(P.encode_control(P.Open(1, P.TargetKind.NAME, "jobs", P.Dir.SEND, 0, None)))
    ok = await next_control(assoc)
    assert isinstance(ok, P.OpenOk)
    codec = Codec(
        ref_types=(_End,),
        encode_ref=lambda end: [0, OWNER, raw.address, 1, "tok", window],
    )
    value = codec.encode({"reply": _End()})
    await assoc.send(P.encode_frame(P.Frame.VALUE, ok.peer_link, value), stream=1)
    return assoc


async def test_first_values_travel_with_the_open(env: Env, clock: object) -> None:
    async with env.node() as server, env.raw_endpoint() as raw:
        send, recv = trio.open_memory_channel[Any](4)
        server.export("jobs", send)
        assoc = await _hand_reference(env, server, raw, P.PROTOCOL_VERSION, 2)
        with trio.fail_after(5):
            job = await recv.receive()
            async with job["reply"] as reply:
                await reply.send(42)  # returns before the owner answered the OPEN
        opened = await next_control(assoc)
        assert isinstance(opened, P.Open) and opened.target == "tok"
        frames = [await _next_frame(assoc) for _ in range(2)]
        # EARLY frames on stream 0, named by the holder's link id: the value, then END.
        assert [(f[0], f[1], f[3]) for f in frames] == [(P.Frame.EARLY, opened.link, 0)] * 2
        inner = [P.decode_early(memoryview(f[2])) for f in frames]
        assert [k for k, _ in inner] == [P.Frame.VALUE, P.Frame.END]
        assert Codec().decode(bytes(inner[0][1])) == 42
        # OPEN_OK now: the holder's link, already ended, is forgotten without complaint.
        await assoc.send(P.encode_control(P.OpenOk(opened.link, 7, 2)))
        with trio.fail_after(5):
            while server.statistics().imports:
                await trio.sleep(0.01)
        assert not server.statistics().errors


async def test_values_refused_with_the_open_are_counted(env: Env, clock: object) -> None:
    async with env.node() as server, env.raw_endpoint() as raw:
        send, recv = trio.open_memory_channel[Any](4)
        server.export("jobs", send)
        assoc = await _hand_reference(env, server, raw, P.PROTOCOL_VERSION, 2)
        with trio.fail_after(5):
            job = await recv.receive()
            reply = job["reply"]
            await reply.send(1)
        opened = await next_control(assoc)
        assert isinstance(opened, P.Open)
        await assoc.send(
            P.encode_control(P.OpenErr(opened.link, P.ErrorCode.UNKNOWN_CHANNEL, "gone"))
        )
        with trio.fail_after(5):
            while reply.statistics().state != "broken":
                await trio.sleep(0.01)
        assert reply.statistics().rejected == 1
        assert server.statistics().errors["rejected_by_peer"] == 1
        # Opened from the decoding task (no task waits for the answer): the refusal is
        # still counted and logged, as a background open's is.
        assert server.statistics().errors["reference_unreachable"] == 1
        reply.close()


async def test_no_early_frames_to_a_version_1_owner(env: Env, clock: object) -> None:
    async with env.node() as server, env.raw_endpoint() as raw:
        send, recv = trio.open_memory_channel[Any](4)
        server.export("jobs", send)
        assoc = await _hand_reference(env, server, raw, 1, 2)
        sent = trio.Event()

        async def answer() -> None:
            job = await recv.receive()
            async with job["reply"] as reply:
                await reply.send(42)  # waits for OPEN_OK
            sent.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer)
            opened = await next_control(assoc)
            assert isinstance(opened, P.Open)
            await trio.sleep(0.1)
            assert not sent.is_set()
            await assoc.send(P.encode_control(P.OpenOk(opened.link, 7, 2)))
            kind, link, payload, stream = await _next_frame(assoc)
            assert (kind, link) == (P.Frame.VALUE, 7) and stream != 0
            assert Codec().decode(payload) == 42


async def test_node_closing_while_a_reference_opens_leaves_quietly(env: Env, clock: object) -> None:
    """A node that closes while a channel end it received is still opening closes cleanly:
    the owner's OPEN_OK, arriving while the node lingers on its way out, ends the background
    opening instead of raising ClosedResourceError out of ``open_node`` (the demo's workers
    did, on exit)."""

    async def owner(assoc: Association) -> None:
        while not isinstance(msg := await next_control(assoc), P.Open):
            pass
        # Answer only once the holder's node is on its way out.
        await closing.wait()
        await assoc.send(P.encode_control(P.OpenOk(msg.link, 7, 4)))

    closing = trio.Event()
    async with env.raw_endpoint() as raw, trio.open_nursery() as nursery:
        async with env.node() as server:
            send, recv = trio.open_memory_channel[Any](4)
            server.export("jobs", send)
            assoc = await _hand_reference(env, server, raw, P.PROTOCOL_VERSION, 2)
            nursery.start_soon(owner, assoc)
            with trio.fail_after(5):
                job = await recv.receive()
            async with job["reply"] as reply:
                await reply.send("early")  # travels with the OPEN, in the pre-granted window
            closing.set()
        nursery.cancel_scope.cancel()
