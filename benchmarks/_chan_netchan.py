"""The netchan side of the channel benchmark: what the receiving node exports, and the senders.

The receiving node exports:

* ``control`` (SendChannel): orders ``{"mode": "count" | "slow", "reply": channel, ...}``;
  for each order the node counts values on ``data`` (or ``slow``, sleeping per value) until a
  ``None`` value, then sends ``{"n", "bytes", ...}`` on the reply channel that came inside the
  order;
* ``data-SIZE`` for each value size measured (SendChannel whose buffer, the importer's
  credit, is ``windows[SIZE]`` values; see :func:`window_for`) and ``slow`` (SendChannel,
  4 values of buffer);
* ``echo_in`` (SendChannel) and ``echo_out`` (ReceiveChannel, a work queue): every value put
  into ``echo_in`` comes back out of ``echo_out``;
* ``big`` (SendChannel): ``{"data": bytes, "reply": channel}``; the length goes back on
  ``reply``;
* ``request`` (SendChannel): ``{"value": v, "reply": channel}``; ``v`` goes back on ``reply``,
  which is then closed: request/reply with a fresh reply channel per request, the idiom of
  examples/request_reply.py.
"""

from __future__ import annotations

import time
from typing import Any

import trio

import netchan
from benchmarks._chan_common import payload_value, peak_rss_mb, rss_mb, value_size
from netchan.transport import Endpoint

SLOW_BUFFER = 4
#: Association counters reported as differences over a measurement (the rest: last value).
COUNTERS = (
    "packets_sent",
    "packets_received",
    "messages_sent",
    "messages_received",
    "retransmissions",
    "fast_retransmits",
)
WINDOW_BYTES = 4 * 1024 * 1024


def window_for(size: int, fixed: int = 0) -> int:
    """The receiving buffer (credit window) for values of ``size`` bytes.

    ``fixed`` > 0 is used as is. Otherwise about 4 MiB of values (between 4 and 1024 values):
    what a TCP connection buffers in its socket buffers on Linux, so neither side of the
    comparison gets more data in flight than the other, and a time-bounded run does not leave
    a long tail of queued big values behind its deadline.
    """
    if fixed > 0:
        return fixed
    return max(4, min(1024, WINDOW_BYTES // max(1, size)))


async def export_all(node: netchan.Node, nursery: trio.Nursery, windows: dict[int, int]) -> None:
    """Export the benchmark's channels on ``node``; their tasks run in ``nursery``.

    ``windows`` maps each value size to measure to its data channel's buffer size.
    """
    ctl_send, ctl_recv = trio.open_memory_channel[Any](1)
    data_recvs: dict[int, trio.MemoryReceiveChannel[Any]] = {}
    for size, window in windows.items():
        data_send, data_recvs[size] = trio.open_memory_channel[Any](window)
        node.export(f"data-{size}", data_send)
    slow_send, slow_recv = trio.open_memory_channel[Any](SLOW_BUFFER)
    node.export("control", ctl_send)
    node.export("slow", slow_send)

    async def count() -> None:
        """Serve the orders: count (or slowly take) values until None, then reply."""
        async for order in ctl_recv:
            slow = order["mode"] == "slow"
            source = slow_recv if slow else data_recvs[order["size"]]
            sleep = float(order.get("sleep", 0.0))
            before = rss_mb()
            cpu = time.process_time()
            n = nbytes = 0
            while (value := await source.receive()) is not None:
                n += 1
                nbytes += value_size(value)
                if sleep:
                    await trio.sleep(sleep)
            reply: dict[str, Any] = {
                "n": n,
                "bytes": nbytes,
                "receiver_cpu": time.process_time() - cpu,
            }
            if slow:
                reply |= {
                    "receiver_peak_rss_mb": peak_rss_mb(),
                    "receiver_rss_before_mb": before,
                }
            async with order["reply"] as reply_channel:
                await reply_channel.send(reply)

    echo_send, echo_recv = trio.open_memory_channel[Any](1)
    out_send, out_recv = trio.open_memory_channel[Any](0)
    node.export("echo_in", echo_send)
    node.export("echo_out", out_recv)

    async def echo() -> None:
        """Every value into echo_in comes back out of the echo_out work queue."""
        async for value in echo_recv:
            await out_send.send(value)

    big_send, big_recv = trio.open_memory_channel[Any](1)
    node.export("big", big_send)

    async def big() -> None:
        """Answer each big value with its length, on the reply channel inside it."""
        async for value in big_recv:
            async with value["reply"] as reply_channel:
                await reply_channel.send(len(value["data"]))

    request_send, request_recv = trio.open_memory_channel[Any](16)
    node.export("request", request_send)

    async def answer(request: dict[str, Any]) -> None:
        async with request["reply"] as reply_channel:
            await reply_channel.send(request["value"])

    async def serve_requests() -> None:
        """Answer each request on the reply channel inside it (concurrently, as a server)."""
        async with trio.open_nursery() as answers:
            async for request in request_recv:
                answers.start_soon(answer, request)

    nursery.start_soon(count)
    nursery.start_soon(echo)
    nursery.start_soon(big)
    nursery.start_soon(serve_requests)


def association_snapshot(node: netchan.Node) -> dict[str, Any]:
    """Counters of the node's association(s), summed, with the last RTT and cwnd seen."""
    total: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
    for peer in node.statistics().peers:
        a = peer.association
        if a is None:
            continue
        for key in COUNTERS:
            total[key] += getattr(a, key)
        total |= {"srtt": a.srtt, "cwnd": a.cwnd, "peer_rwnd": a.peer_rwnd}
    return total


def association_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the association did between two snapshots (counters as differences)."""
    return {
        key: value - before.get(key, 0) if key in COUNTERS else value
        for key, value in after.items()
    }


async def _order(
    node: netchan.Node, addr: str, order: dict[str, Any]
) -> trio.MemoryReceiveChannel[Any]:
    """Send an order on ``control``; the receive end of its reply channel."""
    reply_send, reply_recv = trio.open_memory_channel[Any](1)
    async with await node.import_send(addr, "control") as control:
        await control.send(order | {"reply": reply_send})
    return reply_recv


async def throughput(
    node: netchan.Node, addr: str, size: int, shape: str, seconds: float
) -> dict[str, Any]:
    """Values of ``size`` bytes on ``data-SIZE`` for ``seconds``; timed until all were counted."""
    data = await node.import_send(addr, f"data-{size}")
    reply = await _order(node, addr, {"mode": "count", "size": size})
    value = payload_value(size, shape)
    n = 0
    assoc_before = association_snapshot(node)
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    async with data:
        while True:
            await data.send(value)
            n += 1
            if time.perf_counter() >= deadline:
                break
        await data.send(None)
        counted = await reply.receive()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    if counted["n"] != n or counted["bytes"] != n * size:
        raise RuntimeError(f"netchan receiver counted {counted}, sent {n} values of {size} B")
    assoc = association_delta(assoc_before, association_snapshot(node))
    return {
        "n": n,
        "bytes": n * size,
        "seconds": elapsed,
        "sender_cpu": cpu,
        "receiver_cpu": counted["receiver_cpu"],
        "association": assoc,
    }


async def pingpong(
    node: netchan.Node, addr: str, count: int, seconds: float, size: int = 64
) -> tuple[list[float], dict[str, Any]]:
    """Round-trip times: a value into ``echo_in``, the same value back out of ``echo_out``.

    Also what the association did meanwhile (packets per round trip tell how many datagrams,
    each a wake-up of the other process, one exchange costs).
    """
    send = await node.import_send(addr, "echo_in")
    recv = await node.import_receive(addr, "echo_out", max_buffer=1)
    times: list[float] = []
    value = payload_value(size, "bytes", b"p")
    async with send, recv:
        before = association_snapshot(node)
        deadline = time.perf_counter() + seconds
        while len(times) < count and time.perf_counter() < deadline:
            t = time.perf_counter()
            await send.send(value)
            back = await recv.receive()
            times.append(time.perf_counter() - t)
            if back != value:
                raise RuntimeError("the netchan echo did not return the value")
        assoc = association_delta(before, association_snapshot(node))
    return times, assoc


class Requester:
    """Request/reply round trips on ``request``, each request carrying a fresh reply channel."""

    def __init__(self, channel: netchan.RemoteSendChannel[Any], size: int = 64) -> None:
        self.channel = channel
        self.value = payload_value(size, "bytes", b"q")

    async def round_trip(self) -> float:
        """One request and its reply; the seconds it took."""
        t = time.perf_counter()
        reply_send, reply_recv = trio.open_memory_channel[Any](1)
        async with reply_recv:
            await self.channel.send({"value": self.value, "reply": reply_send})
            back = await reply_recv.receive()
        elapsed = time.perf_counter() - t
        if back != self.value:
            raise RuntimeError("the reply did not carry the request's value")
        return elapsed


async def request_reply(
    node: netchan.Node, addr: str, count: int, seconds: float, size: int = 64
) -> tuple[list[float], dict[str, Any]]:
    """Round-trip times of request/reply with a reply channel end inside each request."""
    requests = await node.import_send(addr, "request")
    requester = Requester(requests, size)
    times: list[float] = []
    async with requests:
        before = association_snapshot(node)
        deadline = time.perf_counter() + seconds
        while len(times) < count and time.perf_counter() < deadline:
            times.append(await requester.round_trip())
        assoc = association_delta(before, association_snapshot(node))
    return times, assoc


async def head_of_line(
    node: netchan.Node, addr: str, big_size: int, idle_pings: int, seconds: float = 2.0
) -> dict[str, Any]:
    """Request/reply round trips on ``request`` while ``big_size`` values travel on ``big``.

    First ``idle_pings`` round trips on the idle association (the reference), then as many as
    fit while big values go one after the other for ``seconds`` (at least one): each is sent,
    received, decoded and acknowledged on the reply channel inside it before the next. The
    round trips record when each started, from the start of the first big value's ``send``.
    Each request carries its own reply channel, as a user's request/reply would.
    """
    requests = await node.import_send(addr, "request")
    requester = Requester(requests)
    big = await node.import_send(addr, "big")
    reply_send, reply_recv = trio.open_memory_channel[int](1)
    big_data = b"B" * big_size  # made before any timing: the benchmark's cost, not netchan's
    idle: list[float] = []
    during: list[float] = []
    big_done = trio.Event()
    result: dict[str, Any] = {}

    started: list[float] = []
    big_start = 0.0

    async def push_big() -> None:
        nonlocal big_start
        start = big_start = time.perf_counter()
        values = 0
        while values == 0 or time.perf_counter() - start < seconds:
            sent_at = time.perf_counter()
            await big.send({"data": big_data, "reply": reply_send.clone()})
            if values == 0:
                result["big_send_returned"] = time.perf_counter() - sent_at
            got = await reply_recv.receive()
            result.setdefault("big_times", []).append(
                (sent_at - start, time.perf_counter() - start)
            )
            values += 1
            if got != big_size:
                raise RuntimeError(f"a big value arrived with {got} bytes, sent {big_size}")
        result["big_seconds"] = time.perf_counter() - start
        result["big_values"] = values
        big_done.set()

    async with requests, big:
        for _ in range(idle_pings):
            idle.append(await requester.round_trip())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(push_big)
            await trio.sleep(0)
            while not big_done.is_set() and len(during) < 1_000_000:
                t = time.perf_counter()
                during.append(await requester.round_trip())
                started.append(t - big_start)
    return result | {
        "idle": idle,
        "during": during,
        "during_started": started,
        "big_start_abs": big_start,
    }


async def slow_receiver_run(
    node: netchan.Node, addr: str, total: int, size: int, sleep: float, shape: str
) -> dict[str, float]:
    """Push ``total`` bytes in ``size``-byte values to the slow ``slow`` channel."""
    data = await node.import_send(addr, "slow")
    reply = await _order(node, addr, {"mode": "slow", "sleep": sleep})
    n = total // size
    value = payload_value(size, shape, b"r")
    start = time.perf_counter()
    async with data:
        for _ in range(n):
            await data.send(value)
        await data.send(None)
        counted: dict[str, float] = await reply.receive()
        elapsed = time.perf_counter() - start
    if counted["n"] != n:
        raise RuntimeError(f"netchan receiver counted {counted['n']} values, sent {n}")
    return counted | {"bytes": n * size, "seconds": elapsed}


# ------------------------------------------------------------------ the transport alone


async def endpoint_echo(endpoint: Endpoint) -> None:
    """Send every message back on its association and stream (the endpoint ping-pong's peer)."""
    while True:
        msg = await endpoint.receive()
        await msg.association.send(msg.data, stream=msg.stream, ppid=msg.ppid)


async def endpoint_pingpong(
    endpoint: Endpoint, addr: str, count: int, seconds: float, size: int = 64
) -> tuple[list[float], dict[str, Any]]:
    """Round trips of one SCTP message each way, without the channel layer.

    The same transport and options as the nodes use: the difference to :func:`pingpong` is
    what the channel layer adds (credit, its tasks, the codec).
    """
    assoc = await endpoint.connect(addr)
    data = b"p" * size
    times: list[float] = []
    before = assoc.statistics()
    deadline = time.perf_counter() + seconds
    while len(times) < count and time.perf_counter() < deadline:
        t = time.perf_counter()
        await assoc.send(data, stream=1, ppid=0)
        back = await endpoint.receive()
        times.append(time.perf_counter() - t)
        if back.data != data:
            raise RuntimeError("the endpoint echo did not return the message")
    after = assoc.statistics()
    await assoc.aclose()
    return times, {
        "packets_sent": after.packets_sent - before.packets_sent,
        "packets_received": after.packets_received - before.packets_received,
        "srtt": after.srtt,
    }
