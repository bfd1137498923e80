"""Packets per channel round trip over udp:// (issue 9): a regression guard on the wire cost.

Two nodes on loopback; the association's own counters say how many SCTP packets each
round trip took. Today a ping-pong over two fixed channels costs 2 packets from the client
(the CREDIT for echo_out with the SACK, the value) and 2 back (SACK with CREDIT, the value), and
a request/reply with a reply channel in each request about 2 each way between processes
(docs/benchmarks.md, "Round trips"); the bounds leave room for a delayed SACK or a
retransmission on a loaded machine, not for a new message per round trip.
"""

from __future__ import annotations

from typing import Any

import trio

import netchan
from tests.support.echo import echo_nodes
from tests.support.procs import node_process

ROUND_TRIPS = 40


def _packets(node: netchan.Node) -> tuple[int, int]:
    out = into = 0
    for peer in node.statistics().peers:
        if peer.association is not None:
            out += peer.association.packets_sent
            into += peer.association.packets_received
    return out, into


async def test_packets_per_round_trip() -> None:
    async with echo_nodes() as (client, send, recv, requests):
        with trio.fail_after(20):
            before = _packets(client)
            for i in range(ROUND_TRIPS):
                await send.send(i)
                assert await recv.receive() == i
            after = _packets(client)
            out, into = ((a - b) / ROUND_TRIPS for a, b in zip(after, before, strict=True))
            assert out <= 3.5 and into <= 3.5, (out, into)
            # The server's CREDIT for echo_in leaves with the SACK its VALUE made due, in
            # one packet (the message is handled before the flush builds packets): two
            # packets to the client per round trip (were three: a SACK alone first).
            assert into <= 2.5, (out, into)
            # The client's CREDIT for echo_out: the value reaches a receiver already waiting,
            # so its credit is granted on arrival and leaves with the SACK of the value's
            # packet (were two packets: the SACK alone, then the CREDIT from the receiving
            # task before it got the value).
            assert out <= 2.5, (out, into)
            before = _packets(client)
            for i in range(ROUND_TRIPS):
                reply_send, reply_recv = trio.open_memory_channel[int](1)
                async with reply_recv:
                    await requests.send({"value": i, "reply": reply_send})
                    assert await reply_recv.receive() == i
            await trio.sleep(0.05)  # the last reply link's END and its answers
            after = _packets(client)
            out, into = ((a - b) / ROUND_TRIPS for a, b in zip(after, before, strict=True))
            assert out <= 4.5 and into <= 4.5, (out, into)
            print(f"packets per request/reply round trip: {out:.2f} out, {into:.2f} in")


def _messages_sent(node: netchan.Node) -> int:
    return sum(
        peer.association.messages_sent
        for peer in node.statistics().peers
        if peer.association is not None
    )


async def test_a_reply_channel_costs_two_messages_from_the_client() -> None:
    """Per request/reply the client sends the request and the OPEN_OK of the reply link,
    nothing more: the reply's value and its END arrive in one packet, and the credit the
    value's delivery grants is dropped because the END came in the same batch (the router
    sends CREDIT at the end of a batch, ``Core.send_credits``). Before, every round trip
    also sent a CREDIT (three messages), which cost the server a SACK packet back.

    The worker runs in its own process, as a server would: within one process both nodes
    share the scheduler, and the value and the END often leave in separate flushes."""
    with node_process("worker", "udp://127.0.0.1:0") as (_proc, address):
        async with netchan.open_node(client_address="udp://127.0.0.1:0") as client:
            with trio.fail_after(30):
                work = await client.import_send(address, "work")
                for n in range(ROUND_TRIPS + 5):
                    if n == 5:  # after the warm-up
                        before = _messages_sent(client)
                    reply_send, reply_recv = trio.open_memory_channel[Any](1)
                    async with reply_recv:
                        await work.send({"n": n, "reply": reply_send})
                        assert (await reply_recv.receive())[:2] == ("done", n)
                await trio.sleep(0.05)  # the last reply link's END and its answers
                per_round_trip = (_messages_sent(client) - before) / ROUND_TRIPS
    # 2.0 when every reply's value and END share a packet (3.0 before); a pair split
    # across two packets costs a CREDIT.
    assert 2.0 <= per_round_trip <= 2.3, per_round_trip


class _TaskSteps(trio.abc.Instrument):
    """Counts trio task steps by task name while ``counting``."""

    def __init__(self) -> None:
        self.steps: dict[str, int] = {}
        self.counting = False

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if self.counting:
            name = task.name.rsplit(".", 1)[-1]
            self.steps[name] = self.steps.get(name, 0) + 1


async def test_messages_are_routed_in_the_reader_task() -> None:
    """On udp:// the node's router takes each message in the endpoint's reader task
    (``Endpoint.set_message_handler``): no receive loop task wakes per message. A
    ping-pong round trip over two fixed channels costs at most 12 task steps for both
    nodes (20 with a receive loop: two more per side; 13.5 when the timer task waited a
    scheduler round after a flush request that found nothing left to flush)."""
    steps = _TaskSteps()
    trio.lowlevel.add_instrument(steps)
    try:
        async with echo_nodes() as (_client, send, recv, _requests):
            with trio.fail_after(20):
                steps.counting = True
                for i in range(ROUND_TRIPS):
                    await send.send(i)
                    assert await recv.receive() == i
                steps.counting = False
    finally:
        trio.lowlevel.remove_instrument(steps)
    assert "run_receive" not in steps.steps, steps.steps
    per_round_trip = sum(steps.steps.values()) / ROUND_TRIPS
    assert per_round_trip <= 12, (per_round_trip, steps.steps)
    # One timer step per node and round trip: the flush request of a lone value's immediate
    # flush is served without waiting a round (there were two steps per node).
    assert steps.steps.get("_timer", 0) / ROUND_TRIPS <= 2.5, steps.steps


async def test_big_messages_are_routed_by_the_receive_loop() -> None:
    """Messages above ``INLINE_LIMIT`` (pieces of big values, full BATCH frames) go to the
    router's receive loop, at its pace: what it has not read yet counts against the receive
    window, so a big value cannot fill the path ahead of a small channel's next message
    (the head-of-line row of docs/benchmarks.md got 3x worse when the reader took them)."""
    from netchan.node._routing import INLINE_LIMIT

    steps = _TaskSteps()
    trio.lowlevel.add_instrument(steps)
    try:
        async with (
            netchan.open_node("udp://127.0.0.1:0") as server,
            netchan.open_node(client_address="udp://127.0.0.1:0") as client,
        ):
            sink, values = trio.open_memory_channel[Any](4)
            server.export("sink", sink)
            assert server.address is not None
            with trio.fail_after(20):
                send = await client.import_send(server.address, "sink")
                await send.send(b"small")
                assert await values.receive() == b"small"
                steps.counting = True
                await send.send(b"p")
                assert await values.receive() == b"p"
                assert "run_receive" not in steps.steps, steps.steps
                big = b"B" * (2 * INLINE_LIMIT)
                await send.send(big)
                assert await values.receive() == big
                steps.counting = False
    finally:
        trio.lowlevel.remove_instrument(steps)
    assert steps.steps.get("run_receive", 0) >= 1, steps.steps
