"""trio channel semantics across nodes: backpressure, close, clone, nowait, cancellation,
work-queue exactly-once, reply channels, failures. Deterministic on the memory transport."""

from __future__ import annotations

import enum
import functools
import random
from dataclasses import dataclass
from typing import Any

import pytest
import trio

import netchan
from netchan.codec import register
from netchan.transport import open_endpoint
from tests.channels.conftest import Env, eventually, memory_only


@register
@dataclass(frozen=True)
class Job:
    n: int
    label: str


async def send_when_credit(channel: netchan.RemoteSendChannel[int], value: int) -> bool:
    """``send_nowait`` as soon as credit comes back; False if none came within 2 s.

    Polls, so it works with the real clock too (where CREDIT takes a real round trip).
    """
    with trio.move_on_after(2):
        while True:
            try:
                channel.send_nowait(value)
            except trio.WouldBlock:
                await trio.sleep(0.01)
            else:
                return True
    return False


async def test_send_blocks_without_credit_and_resumes(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[int](2)
        server.export("jobs", send)
        assert server.address is not None
        jobs = await client.import_send(server.address, "jobs")
        accepted = 0
        for i in range(50):
            if not await send_when_credit(jobs, i):
                break
            accepted += 1
        # Bounded: the exported channel's buffer (2) plus one credit window in flight (2).
        assert accepted == 4
        assert jobs.statistics().credit == 0
        with pytest.raises(trio.WouldBlock):
            jobs.send_nowait(99)
        assert await recv.receive() == 0
        assert await send_when_credit(jobs, 4)
        with trio.fail_after(5):
            assert [await recv.receive() for _ in range(4)] == [1, 2, 3, 4]


async def test_a_work_queue_importer_grants_each_value_once_waiting_or_not(
    env: Env, clock: object
) -> None:
    # A value that reaches a receiver already waiting in receive() is counted as consumed on
    # arrival (its CREDIT leaves with the SACK of its packet); one that waits in the buffer
    # is counted when taken. Either way one credit per value: the sender never has more room
    # than the buffer (a second grant would show as credit above max_buffer, or as the
    # exporter sending past the window: credit_exceeded breaks the link).
    async with env.node() as server, env.node(listen=False) as client:
        out_send, out_recv = trio.open_memory_channel[int](0)
        server.export("work", out_recv)
        assert server.address is not None
        work = await client.import_receive(server.address, "work", max_buffer=1)
        link = work._link  # the importer's link: where the credit is counted

        async def produce() -> None:
            async with out_send:
                for i in range(40):
                    if i % 2 == 0:
                        await trio.sleep(0.05)  # the receiver is waiting when it arrives
                    await out_send.send(i)

        got: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce)
            with trio.fail_after(60):
                for i in range(40):
                    if i % 2 == 1:
                        await trio.sleep(0.02)  # it arrives first and waits in the buffer
                    got.append(await work.receive())
                    stats = work.statistics()
                    assert stats.credit <= 1, stats
                    assert stats.current_buffer_used <= 1, stats
                with pytest.raises(trio.EndOfChannel):
                    await work.receive()
        assert got == list(range(40))
        assert link.window.granted <= 1 + 40
        assert client.statistics().errors.get("credit_exceeded", 0) == 0


async def test_blocked_send_cancelled_loses_and_duplicates_nothing(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[int](1)
        server.export("jobs", send)
        assert server.address is not None
        jobs = await client.import_send(server.address, "jobs")
        sent = []
        for i in range(10):
            with trio.move_on_after(1.0) as scope:
                await jobs.send(i)
            if scope.cancelled_caught:
                break
            sent.append(i)
        assert 0 < len(sent) < 10
        got = []
        while len(got) < len(sent):
            with trio.fail_after(5):
                got.append(await recv.receive())
        assert got == sent
        await jobs.send(100)
        assert await recv.receive() == 100
        # Everything the client queued has reached the server (no fixed wait): the cancelled
        # send queued nothing, and nothing more is on its way.
        await eventually(lambda: server.statistics().values_in >= client.statistics().values_out)
        assert client.statistics().values_out == len(sent) + 1
        assert server.statistics().values_in == len(sent) + 1
        with pytest.raises(trio.WouldBlock):
            recv.receive_nowait()


async def test_blocked_receive_cancelled_then_next_receive_gets_value(
    env: Env, clock: object
) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        out_send, out_recv = trio.open_memory_channel[int](0)
        server.export("q", out_recv)
        assert server.address is not None
        q = await client.import_receive(server.address, "q", max_buffer=1)
        with trio.move_on_after(1.0):
            await q.receive()
        with pytest.raises(trio.WouldBlock):
            q.receive_nowait()
        await out_send.send(7)
        with trio.fail_after(5):
            assert await q.receive() == 7


async def test_close_gives_end_of_channel_after_values(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        out_send, out_recv = trio.open_memory_channel[int](100)
        server.export("q", out_recv)
        for i in range(30):
            out_send.send_nowait(i)
        out_send.close()
        assert server.address is not None
        q = await client.import_receive(server.address, "q", max_buffer=5)
        with trio.fail_after(10):
            assert [v async for v in q] == list(range(30))
        with pytest.raises(trio.EndOfChannel):
            await q.receive()
        await q.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await q.receive()
        await q.aclose()  # idempotent


async def test_clone_and_close_semantics(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[int](10)
        server.export("s", send)
        assert server.address is not None
        a = await client.import_send(server.address, "s")
        b = a.clone()
        await a.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await a.send(1)
        with pytest.raises(trio.ClosedResourceError):
            a.clone()
        await b.send(2)
        assert b.statistics().open_clones == 1
        with trio.fail_after(5):
            assert await recv.receive() == 2


async def test_work_queue_each_value_to_exactly_one_importer(env: Env, clock: object) -> None:
    rng = random.Random(7)
    async with env.node() as server:
        out_send, out_recv = trio.open_memory_channel[int](0)
        server.export("work", out_recv)
        assert server.address is not None
        results: dict[int, list[int]] = {}
        async with trio.open_nursery() as nursery:

            async def worker(k: int, buffer: int, quit_after: int | None) -> None:
                async with env.node(listen=False) as node:
                    assert server.address is not None
                    work = await node.import_receive(server.address, "work", max_buffer=buffer)
                    mine = results.setdefault(k, [])
                    async with work:
                        async for v in work:
                            mine.append(v)
                            await trio.sleep(rng.random() * 0.01)
                            if quit_after is not None and len(mine) >= quit_after:
                                break  # closes with values still buffered: they go back

            nursery.start_soon(worker, 0, 1, None)
            nursery.start_soon(worker, 1, 4, None)
            nursery.start_soon(worker, 2, 8, 5)

            async def produce() -> None:
                async with out_send:
                    for i in range(200):
                        await out_send.send(i)

            with trio.fail_after(60):
                await produce()
        everything = sorted(v for vs in results.values() for v in vs)
        assert everything == list(range(200))
        assert len(results[2]) == 5


async def test_importer_leaving_with_values_in_flight_hands_them_back(
    env: Env, clock: object
) -> None:
    # Each importer takes a few values and leaves (its node closes) while the exporter is still
    # sending within its credit: what was on the way goes back to the queue, none is lost.
    async with env.node() as server:
        out_send, out_recv = trio.open_memory_channel[int](0)
        server.export("work", out_recv)
        assert server.address is not None
        taken: list[int] = []
        async with trio.open_nursery() as nursery:

            async def produce() -> None:
                async with out_send:
                    for i in range(200):
                        await out_send.send(i)

            nursery.start_soon(produce)
            with trio.fail_after(60):
                for _ in range(6):
                    async with env.node(listen=False) as quitter:
                        # Window 2: each value taken grants a credit at once, so one more
                        # value is on its way when the node leaves.
                        work = await quitter.import_receive(server.address, "work", max_buffer=2)
                        taken.extend([await work.receive() for _ in range(3)])
                async with env.node(listen=False) as last:
                    work = await last.import_receive(server.address, "work", max_buffer=4)
                    rest = [v async for v in work]
        assert len(taken) == 18
        assert sorted(taken + rest) == list(range(200))


async def test_reply_channel_inside_value(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        jobs_send, jobs_recv = trio.open_memory_channel[dict[str, object]](4)
        server.export("jobs", jobs_send)

        async def serve() -> None:
            async for job in jobs_recv:
                reply = job["reply"]
                assert isinstance(reply, netchan.RemoteSendChannel)
                async with reply:
                    await reply.send(job["n"] * 2)  # type: ignore[operator]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            assert server.address is not None
            jobs = await client.import_send(server.address, "jobs")
            for n in range(5):
                reply_send, reply_recv = trio.open_memory_channel[int](1)
                # The end is handed over to the node, which closes it once the worker did.
                await jobs.send({"n": n, "reply": reply_send})
                with trio.fail_after(10):
                    assert await reply_recv.receive() == 2 * n
                    # Every holder closed: EndOfChannel, as trio would give.
                    with pytest.raises(trio.EndOfChannel):
                        await reply_recv.receive()
            assert client.statistics().references == 0
            nursery.cancel_scope.cancel()


async def test_reply_channel_through_a_third_node(env: Env, clock: object) -> None:
    """A -> B -> C, and C replies to A directly over an association it opens to A."""
    async with env.node() as b, env.node() as c, env.node(listen=False) as a:
        b_send, b_recv = trio.open_memory_channel[dict[str, object]](4)
        c_send, c_recv = trio.open_memory_channel[dict[str, object]](4)
        b.export("front", b_send)
        c.export("work", c_send)

        async def forwarder() -> None:
            assert c.address is not None
            to_c = await b.import_send(c.address, "work")
            async for job in b_recv:
                await to_c.send(job)  # the reply channel travels on, untouched
                # B keeps no reference: its handle on A's channel is collected and closed,
                # like a file object nobody holds any more.
                del job

        async def worker() -> None:
            async for job in c_recv:
                async with job["reply"] as reply:  # type: ignore[attr-defined]
                    await reply.send(("done", job["n"]))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(forwarder)
            nursery.start_soon(worker)
            assert b.address is not None
            front = await a.import_send(b.address, "front")
            reply_send, reply_recv = trio.open_memory_channel[tuple[str, int]](1)
            await front.send({"n": 42, "reply": reply_send})
            with trio.fail_after(10):
                assert await reply_recv.receive() == ("done", 42)
                with pytest.raises(trio.EndOfChannel):
                    await reply_recv.receive()
            # C reached A directly: it has an association with A's node id.
            assert a.statistics().node_id in {p.node_id for p in c.statistics().peers}
            nursery.cancel_scope.cancel()


async def test_receive_channel_inside_value(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        inbox_send, inbox_recv = trio.open_memory_channel[object](1)
        server.export("inbox", inbox_send)
        assert server.address is not None
        to_server = await client.import_send(server.address, "inbox")
        feed_send, feed_recv = trio.open_memory_channel[int](0)
        await to_server.send({"feed": feed_recv})
        msg = await inbox_recv.receive()
        remote_feed = msg["feed"]  # type: ignore[index]
        assert isinstance(remote_feed, netchan.RemoteReceiveChannel)

        async def produce() -> None:
            async with feed_send:
                for i in range(10):
                    await feed_send.send(i)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce)
            with trio.fail_after(10):
                assert [v async for v in remote_feed] == list(range(10))


async def test_type_checked_on_send_and_on_receive(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[Job](4)
        server.export("typed", send, type=Job)
        assert server.address is not None
        typed = await client.import_send(server.address, "typed", type=Job)
        with pytest.raises(TypeError, match="Job"):
            await typed.send({"n": 1})  # type: ignore[arg-type]
        await typed.send(Job(1, "a"))
        assert await recv.receive() == Job(1, "a")
        # An importer that does not declare the type: the exporter refuses the value.
        untyped = await client.import_send(server.address, "typed")
        await untyped.send({"n": 2})
        await untyped.send(Job(3, "c"))
        with trio.fail_after(5):
            assert await recv.receive() == Job(3, "c")
        assert server.statistics().errors["type_mismatch"] == 1
        # The refusal reaches the sender: counted on the channel end that sent the value.
        await eventually(lambda: untyped.statistics().rejected == 1)
        assert client.statistics().errors["rejected_by_peer"] == 1
        assert typed.statistics().rejected == 0


@memory_only
async def test_peer_death_breaks_dependent_channels_promptly(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        send, _recv = trio.open_memory_channel[int](1)
        _out_send, out_recv = trio.open_memory_channel[int](0)
        server.export("in", send)
        server.export("out", out_recv)
        assert server.address is not None
        to_server = await client.import_send(server.address, "in")
        from_server = await client.import_receive(server.address, "out")
        await to_server.send(1)
        await to_server.send(2)
        start = trio.current_time()
        env.crash(server)
        with pytest.raises(trio.BrokenResourceError) as info:
            await from_server.receive()
        assert trio.current_time() - start <= 4.0
        assert info.value.__cause__ is not None
        with pytest.raises(trio.BrokenResourceError):
            await to_server.send(3)


async def test_statistics(env: Env, clock: object) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[int](8)
        server.export("s", send)
        assert server.address is not None
        s = await client.import_send(server.address, "s")
        for i in range(3):
            await s.send(i)
        for _ in range(3):
            await recv.receive()
        st = s.statistics()
        assert (st.name, st.direction, st.state, st.values_sent, st.max_buffer) == (
            "s",
            "send",
            "open",
            3,
            8,
        )
        await eventually(lambda: server.statistics().values_in == 3)
        ns = client.statistics()
        assert ns.values_out == 3 and ns.imports == 1
        assert len(ns.peers) == 1 and ns.peers[0].association is not None
        assert ns.peers[0].node_id == server.statistics().node_id
        assert server.statistics().values_in == 3


async def test_big_value_is_sent_in_pieces_and_does_not_hold_up_small_ones(
    env: Env, clock: object
) -> None:
    big_value = random.Random(3).randbytes(3 * 1024 * 1024 + 17)
    async with env.node() as server, env.node(listen=False) as client:
        big_send, big_recv = trio.open_memory_channel[bytes](1)
        small_send, small_recv = trio.open_memory_channel[str](1)
        server.export("big", big_send)
        server.export("small", small_send)
        arrivals: list[str] = []
        assert server.address is not None
        big = await client.import_send(server.address, "big")
        small = await client.import_send(server.address, "small")

        async def collect_big() -> None:
            value = await big_recv.receive()
            assert value == big_value
            arrivals.append("big")

        async def collect_small() -> None:
            for _ in range(3):
                arrivals.append(await small_recv.receive())

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(collect_big)
                nursery.start_soon(collect_small)
                await big.send(big_value)
                for i in range(3):
                    await small.send(f"small {i}")
        assert sorted(arrivals) == ["big", "small 0", "small 1", "small 2"]
        # Small values sent after the big one started were not queued behind all of it.
        assert arrivals[0] == "small 0", arrivals


@memory_only
async def test_work_queue_values_not_yet_sent_to_a_dead_importer_go_to_another(
    clock: object,
) -> None:
    from tests.support.memory_transport import MemoryNetwork

    # A tiny receive window: one value message at a time is accepted by the transport.
    env = Env("memory", MemoryNetwork(receive_window=100, dead_after=3.0))
    async with env.node() as server:
        out_send, out_recv = trio.open_memory_channel[tuple[int, bytes]](0)
        server.export("work", out_recv)
        assert server.address is not None
        async with env.node(listen=False) as doomed:
            await doomed.import_receive(server.address, "work", max_buffer=10)
            env.crash(doomed)
            async with trio.open_nursery() as nursery:

                async def produce() -> None:
                    async with out_send:
                        for i in range(20):
                            await out_send.send((i, b"x" * 200))

                nursery.start_soon(produce)
                async with env.node(listen=False) as survivor:
                    work = await survivor.import_receive(server.address, "work", max_buffer=2)
                    with trio.fail_after(30):
                        got = [i async for i, _ in work]
            in_doubt = server.statistics().errors.get("values_in_doubt", 0)
        # Only the first message the dead importer's transport had accepted is lost (one
        # value, or the first few when they went together in a BATCH); every value the
        # exporter had taken but not handed to SCTP went to the surviving importer.
        assert len(got) == len(set(got))
        lost = set(range(20)) - set(got)
        assert lost == set(range(len(lost))) and 1 <= len(lost) <= 3
        # What went with the dead importer is counted, never silent.
        assert in_doubt == len(lost)


async def test_one_association_per_pair_of_nodes_in_both_directions(
    env: Env, clock: object
) -> None:
    async with env.node() as server, env.node(listen=False) as client:
        sends = []
        for name in ("a", "b", "c"):
            send, recv = trio.open_memory_channel[object](4)
            server.export(name, send)
            sends.append(recv)
        assert server.address is not None
        channels = [await client.import_send(server.address, n) for n in ("a", "b", "c")]
        # A channel end of the client travels to the server, which opens a link back to
        # the client: over the association that is already there.
        reply_send, reply_recv = trio.open_memory_channel[object](1)
        await channels[0].send({"reply": reply_send})
        msg = await sends[0].receive()
        async with msg["reply"] as reply:  # type: ignore[index]
            await reply.send("back")
        with trio.fail_after(5):
            assert await reply_recv.receive() == "back"
        assert len(client.statistics().peers) == 1
        assert len(server.statistics().peers) == 1


async def test_more_channels_than_streams_share_streams(env: Env, clock: object) -> None:
    # Three streams per direction: stream 0 for control, 2 for the 8 channels' values.
    from tests.support.memory_transport import MemoryNetwork

    kw: dict[str, Any] = {}
    if env.memory:
        env = Env("memory", MemoryNetwork(streams=3))
    else:
        kw["transport"] = functools.partial(open_endpoint, outbound_streams=3, inbound_streams=3)
    async with env.node(**kw) as server, env.node(listen=False, **kw) as client:
        receivers = []
        for i in range(8):
            send, recv = trio.open_memory_channel[int](2)
            server.export(f"c{i}", send)
            receivers.append(recv)
        assert server.address is not None
        channels = [await client.import_send(server.address, f"c{i}") for i in range(8)]
        for round_ in range(3):
            for i, ch in enumerate(channels):
                await ch.send(i * 10 + round_)
        with trio.fail_after(10):
            for i, recv in enumerate(receivers):
                assert [await recv.receive() for _ in range(3)] == [i * 10, i * 10 + 1, i * 10 + 2]
        # The association really has 3 streams each way (so channels shared them).
        assoc = client.statistics().peers[0].association
        assert assoc is not None
        assert (assoc.outbound_streams, assoc.inbound_streams) == (3, 3)


@memory_only
async def test_a_peer_restarted_on_the_same_address_is_served_at_once(
    env: Env, clock: object
) -> None:
    """B dies and comes back on its address before A noticed: its INIT restarts A's
    association (RFC 9260 §5.2.4). A fails what it had with the old B and serves the new one.
    """
    assert env.network is not None
    b_address = "udp://127.0.0.1:45123"

    def node_b() -> Any:
        assert env.network is not None
        return netchan.open_node(b_address, transport=env.network.open_endpoint)

    async with env.node() as a:
        jobs_send, jobs_recv = trio.open_memory_channel[int](8)
        a.export("jobs", jobs_send)
        assert a.address is not None
        async with node_b() as b:
            _back_send, back_recv = trio.open_memory_channel[int](0)
            b.export("back", back_recv)
            from_b = await a.import_receive(b_address, "back")
            to_a = await b.import_send(a.address, "jobs")
            await to_a.send(1)
            assert await jobs_recv.receive() == 1
            env.crash(b)
            async with node_b() as b2:
                with trio.fail_after(5):
                    to_a2 = await b2.import_send(a.address, "jobs")
                    await to_a2.send(2)
                    assert await jobs_recv.receive() == 2
                    with pytest.raises(trio.BrokenResourceError) as info:
                        await from_b.receive()
                assert info.value.__cause__ is not None
                assert "restarted" in str(info.value.__cause__)


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclass(frozen=True)
class Point:
    x: int
    color: Color


async def test_a_declared_type_is_enough_to_carry_its_classes(env: Env, clock: object) -> None:
    """``type=Point`` on both ends: Point and the Enum of its field travel unregistered."""
    async with env.node() as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[Point](4)
        server.export("points", send, type=Point)
        assert server.address is not None
        points = await client.import_send(server.address, "points", type=Point)
        await points.send(Point(1, Color.BLUE))
        with trio.fail_after(5):
            assert await recv.receive() == Point(1, Color.BLUE)


@memory_only
async def test_work_queue_value_handed_to_sctp_is_not_requeued_when_the_importer_dies(
    clock: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/protocol.md: a value handed to SCTP for an importer whose association then dies is
    # lost with that importer, never given to another one too (it may have been delivered).
    # The failure is made to come exactly while the exporter's send of the value is in its
    # last step: the message is queued toward the importer (which reads it), the send has not
    # returned yet, and the exporter learns that the importer died.
    from tests.support.memory_transport import MemoryAssociation, MemoryNetwork

    network = MemoryNetwork(dead_after=3.0)
    env = Env("memory", network)
    async with env.node() as server:
        out_send, out_recv = trio.open_memory_channel[int](0)
        server.export("work", out_recv)
        assert server.address is not None
        async with env.node(listen=False) as doomed:
            doomed_work = await doomed.import_receive(server.address, "work", max_buffer=1)
            doomed_got: list[int] = []
            real_send = MemoryAssociation.send
            armed = True
            failure_seen = trio.Event()

            async def send(self: MemoryAssociation, data: bytes, **kw: Any) -> None:
                nonlocal armed
                await real_send(self, data, **kw)
                if not (armed and self._endpoint is server._ep and kw.get("stream")):
                    return
                armed = False
                # Queued toward the importer: it reads the value ...
                doomed_got.append(await doomed_work.receive())
                # ... then dies, and the exporter notices before this send returns.
                env.crash(doomed)
                await trio.sleep(network.dead_after + 1)
                failure_seen.set()

            monkeypatch.setattr(MemoryAssociation, "send", send)
            with trio.fail_after(30):
                await out_send.send(0)
                await failure_seen.wait()
            await out_send.aclose()
        assert doomed_got == [0]
        async with env.node(listen=False) as survivor:
            work = await survivor.import_receive(server.address, "work", max_buffer=2)
            with trio.fail_after(30):
                got = [v async for v in work]
        assert got == []
