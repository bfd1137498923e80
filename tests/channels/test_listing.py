"""``Node.list_exports`` (the LIST / EXPORTS control messages, docs/protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio

import netchan
from netchan import _protocol as P
from tests.channels.conftest import Env


@dataclass
class Job:
    n: int


async def test_list_exports_names_direction_and_type(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        assert server.address is not None
        assert await client.list_exports(server.address) == []
        jobs_send, _jobs_recv = trio.open_memory_channel[Job](4)
        _out_send, out_recv = trio.open_memory_channel[int](4)
        server.export("jobs", jobs_send, type=Job)
        server.export("results", out_recv)
        with trio.fail_after(10):
            listed = await client.list_exports(server.address)
        assert listed == [
            netchan.ExportInfo(name="jobs", direction="send", type_name="Job"),
            netchan.ExportInfo(name="results", direction="receive", type_name=None),
        ]


async def test_list_exports_of_nobody_is_peer_unreachable(env: Env, clock: object) -> None:
    wire = "udp" if env.memory else env.scheme
    async with env.node(listen=False, connect_timeout=2) as client:
        with trio.fail_after(30), pytest.raises(netchan.PeerUnreachableError):
            await client.list_exports(f"{wire}://127.0.0.1:1")


def test_list_and_exports_messages_round_trip() -> None:
    entries = (P.ExportEntry("a", P.Dir.SEND, "Job"), P.ExportEntry("b", P.Dir.RECEIVE, None))
    for msg in (P.ListExports(7), P.Exports(7, entries, True), P.Exports(8, (), False)):
        assert P.decode_control(P.encode_control(msg)) == msg
    with pytest.raises(P.ProtocolError):
        P.decode_control(P.encode_control(P.ListExports(1))[:-1] + b"\xc0")  # request nil
    bad = P._pack([P.Ctl.EXPORTS, 1, [["a", 9, None]], True])
    with pytest.raises(P.ProtocolError):
        P.decode_control(bad)


def test_a_long_list_is_cut_to_one_control_message() -> None:
    many = [P.ExportEntry(f"{i:04d}" + "x" * 1000, P.Dir.SEND, None) for i in range(200)]
    msg = P.exports_answer(1, many)
    assert not msg.complete and 0 < len(msg.entries) < 200
    assert len(P.encode_control(msg)) <= P.MAX_CONTROL_SIZE
    assert [e.name for e in msg.entries] == sorted(e.name for e in msg.entries)
