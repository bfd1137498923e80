"""Hostile or broken peers: every bad message is counted, answered where the protocol says,
and the node keeps serving everyone else. A raw endpoint plays the bad peer."""

from __future__ import annotations

import contextlib
import logging
import random

import pytest
import trio

from netchan import _protocol as P
from netchan.transport import Association, Message
from tests.channels.conftest import Env, eventually


async def next_control(assoc: Association) -> P.Control:
    while True:
        with trio.fail_after(5):  # a missing answer fails the test instead of hanging it
            msg: Message = await assoc.receive()
        if msg.stream == P.CONTROL_STREAM and msg.data[:1] not in P.FRAME_FIRST_BYTES:
            return P.decode_control(msg.data)


async def test_bad_messages_are_counted_and_refused(
    env: Env, clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="netchan")
    async with env.node() as server, env.raw_endpoint() as raw:
        send, recv = trio.open_memory_channel[object](2)
        server.export("jobs", send)
        assert server.address is not None
        assoc = await raw.connect(server.address)
        hello = await next_control(assoc)
        assert isinstance(hello, P.Hello) and hello.version == P.PROTOCOL_VERSION

        # Before HELLO, an OPEN is a protocol violation.
        open_msg = P.Open(1, P.TargetKind.NAME, "jobs", P.Dir.SEND, 0, None)
        await assoc.send(P.encode_control(open_msg), stream=0)
        await assoc.send(P.encode_control(P.Hello(P.PROTOCOL_VERSION, b"x" * 16, None)))
        # Garbage on the control stream, an unknown control type, a short frame.
        await assoc.send(b"\xc1\xff\x00", stream=0)
        await assoc.send(b"\x93\x63\x01\x02", stream=0)
        await assoc.send(b"\x01\x00", stream=1)
        # Unknown channel name.
        await assoc.send(
            P.encode_control(P.Open(2, P.TargetKind.NAME, "nope", P.Dir.SEND, 0, None))
        )
        err = await next_control(assoc)
        assert isinstance(err, P.OpenErr) and err.code is P.ErrorCode.UNKNOWN_CHANNEL
        # A proper OPEN now.
        await assoc.send(P.encode_control(open_msg))
        ok = await next_control(assoc)
        assert isinstance(ok, P.OpenOk) and ok.credit == 2
        # An undecodable value: refused with REJECT, never delivered.
        await assoc.send(P.encode_frame(P.Frame.VALUE, ok.peer_link, b"\xc1"), stream=1)
        rej = await next_control(assoc)
        assert isinstance(rej, P.Reject) and rej.code is P.ErrorCode.DECODE
        # More values than credit: 2 initial + 1 returned by the REJECT + at most 2 more
        # returned as values move into the exported channel (buffer 2) = 5; 8 are sent.
        for _ in range(8):
            await assoc.send(P.encode_frame(P.Frame.VALUE, ok.peer_link, b"\x01"), stream=1)
        msg = await next_control(assoc)
        while isinstance(msg, P.Credit):
            msg = await next_control(assoc)
        assert isinstance(msg, P.Error) and msg.code is P.ErrorCode.CREDIT_EXCEEDED
        await eventually(lambda: server.statistics().errors.get("credit_exceeded", 0) == 1)
        errors = server.statistics().errors
        assert errors["no_hello"] == 1
        assert errors["malformed_control"] == 1
        assert errors["unknown_control"] == 1
        assert errors["malformed_frame"] == 1
        assert errors["unknown_channel"] == 1
        assert errors["undecodable"] == 1
        assert errors["credit_exceeded"] == 1
        # The node still serves a well-behaved client; of the bad peer's values only those
        # within credit were delivered.
        async with env.node(listen=False) as client:
            jobs = await client.import_send(server.address, "jobs")
            await jobs.send("still serving")
            delivered = []
            with trio.fail_after(5):
                while (value := await recv.receive()) != "still serving":
                    delivered.append(value)
            assert delivered == [1] * len(delivered) and 2 <= len(delivered) <= 5
        # Each refusal was also logged, saying what and from whom.
        logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "netchan")
        assert "before HELLO" in logged
        assert "asked for unknown channel 'nope'" in logged
        assert "value refused on send 'jobs'" in logged
        assert "more values than credit" in logged


async def test_wrong_protocol_version_is_refused(env: Env, clock: object) -> None:
    async with env.node() as server, env.raw_endpoint() as raw:
        assert server.address is not None
        assoc = await raw.connect(server.address)
        await assoc.send(P.encode_control(P.Hello(99, b"y" * 16, None)))
        with trio.fail_after(5):
            event = await raw.next_event()  # established
            event = await raw.next_event()
        assert type(event).__name__ == "AssociationAborted"
        await eventually(lambda: server.statistics().errors.get("version_mismatch", 0) == 1)


def test_control_codec_round_trip_and_garbage() -> None:
    msgs: list[P.Control] = [
        P.Hello(1, b"n" * 16, "udp://127.0.0.1:1"),
        P.Open(5, P.TargetKind.TOKEN, "t" * 32, P.Dir.RECEIVE, 16, "Job"),
        P.OpenOk(5, 9, 3),
        P.OpenErr(5, P.ErrorCode.UNKNOWN_CHANNEL, "x"),
        P.Credit(9, 4),
        P.Close(9, 2),
        P.Error(9, P.ErrorCode.BROKEN, "gone"),
        P.Reject(9, P.ErrorCode.TYPE_MISMATCH, "bad"),
    ]
    for m in msgs:
        assert P.decode_control(P.encode_control(m)) == m
    rng = random.Random(1)
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(12)))
        # Only ProtocolError may come out of the parsers, whatever the bytes.
        with contextlib.suppress(P.ProtocolError):
            P.decode_control(data)
        with contextlib.suppress(P.ProtocolError):
            P.decode_frame(data)


def test_decoded_kinds_are_enum_members_and_unknown_ones_are_refused() -> None:
    """The decoders look members up by value (no enum call per message): what comes out
    is still the member, and a value no member has is refused as before."""
    opened = P.decode_control(
        P.encode_control(P.Open(5, P.TargetKind.TOKEN, "t", P.Dir.SEND, 1, None))
    )
    assert isinstance(opened, P.Open)
    assert type(opened.target_kind) is P.TargetKind and type(opened.direction) is P.Dir
    err = P.decode_control(P._pack([P.Ctl.ERROR, 3, 999, "m"]))
    assert isinstance(err, P.Error) and err.code is P.ErrorCode.PROTOCOL  # unknown code
    kind, link, _payload = P.decode_frame(P.encode_frame(P.Frame.END, 7, b"\0\0\0\0"))
    assert kind is P.Frame.END and link == 7
    inner, _rest = P.decode_early(memoryview(bytes((P.Frame.VALUE,)) + b"v"))
    assert inner is P.Frame.VALUE
    refused = [
        (P._pack([42, 1]), "unknown_control"),
        (P._pack([P.Ctl.OPEN, 5, 7, "t", 0, 1, None]), "malformed_control"),  # target kind 7
        (P._pack([P.Ctl.OPEN, 5, 0, "t", 2, 1, None]), "malformed_control"),  # direction 2
        (P._pack([P.Ctl.CREDIT, 5]), "malformed_control"),  # too short
    ]
    for data, reason in refused:
        with pytest.raises(P.ProtocolError) as info:
            P.decode_control(data)
        assert info.value.kind == reason
    with pytest.raises(P.ProtocolError) as info:
        P.decode_frame(bytes((99, 0, 0, 0, 1)))
    assert info.value.kind == "malformed_frame"


async def test_random_garbage_from_a_peer_never_stops_the_node(env: Env, clock: object) -> None:
    rng = random.Random(5)
    async with env.node() as server, env.raw_endpoint() as raw:
        send, recv = trio.open_memory_channel[object](4)
        server.export("jobs", send)
        assert server.address is not None
        assoc = await raw.connect(server.address)
        await assoc.send(P.encode_control(P.Hello(P.PROTOCOL_VERSION, b"z" * 16, None)))
        await assoc.send(
            P.encode_control(P.Open(1, P.TargetKind.NAME, "jobs", P.Dir.SEND, 0, None))
        )
        templates = [
            lambda: P.encode_frame(
                P.Frame(rng.randrange(1, 6)), rng.randrange(4), rng.randbytes(8)
            ),
            lambda: P.encode_control(P.Credit(rng.randrange(4), rng.randrange(1 << 32))),
            lambda: P.encode_control(P.Error(rng.randrange(4), P.ErrorCode.PROTOCOL, "x")),
            lambda: bytes([0x90 + rng.randrange(16)]) + rng.randbytes(rng.randrange(20)),
            lambda: rng.randbytes(rng.randrange(1, 40)),
        ]
        for _ in range(500):
            data = rng.choice(templates)()
            with trio.fail_after(5):
                await assoc.send(data, stream=rng.randrange(3))
        async with env.node(listen=False) as client:
            jobs = await client.import_send(server.address, "jobs")
            await jobs.send("still serving")
            with trio.fail_after(5):
                while await recv.receive() != "still serving":
                    pass
        assert sum(server.statistics().errors.values()) > 0  # the garbage was seen...
        assert server.statistics().errors.get("internal_error", 0) == 0  # ...and handled


async def test_unknown_ext_type_and_unregistered_name_are_refused(env: Env, clock: object) -> None:
    import msgpack

    async with env.node() as server, env.raw_endpoint() as raw:
        send, recv = trio.open_memory_channel[object](4)
        server.export("jobs", send)
        assert server.address is not None
        assoc = await raw.connect(server.address)
        await next_control(assoc)  # HELLO
        await assoc.send(P.encode_control(P.Hello(P.PROTOCOL_VERSION, b"w" * 16, None)))
        await assoc.send(
            P.encode_control(P.Open(1, P.TargetKind.NAME, "jobs", P.Dir.SEND, 0, None))
        )
        ok = await next_control(assoc)
        assert isinstance(ok, P.OpenOk)
        unknown_ext = msgpack.packb(msgpack.ExtType(99, b"x"))
        await assoc.send(P.encode_frame(P.Frame.VALUE, ok.peer_link, unknown_ext), stream=1)
        rej = await next_control(assoc)
        assert isinstance(rej, P.Reject) and rej.code is P.ErrorCode.DECODE
        assert "99" in rej.message
        await assoc.send(P.encode_frame(P.Frame.VALUE, ok.peer_link, b"\xa2ok"), stream=1)
        with trio.fail_after(5):
            assert await recv.receive() == "ok"
        assert server.statistics().errors["undecodable"] == 1
