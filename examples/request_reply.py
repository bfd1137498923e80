"""Request/reply: a server process answers requests, each carrying its own reply channel.

    python examples/request_reply.py

The server exports ``requests`` (a SendChannel: any number of clients send into it). A
request is ``{"op": ..., "args": ..., "reply": <SendChannel>}``; the server answers on the
reply channel, which goes straight back to the client that created it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import trio

import netchan


async def server() -> None:
    async with netchan.open_node("udp://127.0.0.1:0") as node:
        send, recv = trio.open_memory_channel[dict[str, Any]](16)
        node.export("requests", send)
        print(node.address, flush=True)
        ops = {"add": lambda a, b: a + b, "upper": str.upper, "reverse": lambda s: s[::-1]}
        async for request in recv:
            async with request["reply"] as reply:
                try:
                    await reply.send(("ok", ops[request["op"]](*request["args"])))
                except Exception as exc:
                    await reply.send(("error", f"{type(exc).__name__}: {exc}"))


async def call(node: netchan.Node, requests: trio.abc.SendChannel[Any], op: str, *args: Any) -> Any:
    reply_send, reply_recv = trio.open_memory_channel[Any](1)
    await requests.send({"op": op, "args": args, "reply": reply_send})
    async with reply_recv:
        return await reply_recv.receive()


async def client() -> None:
    proc = await trio.lowlevel.open_process(
        [sys.executable, __file__, "--server"], stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        address = (await proc.stdout.receive_some(200)).decode().strip()
        async with netchan.open_node(client_address="udp://127.0.0.1:0") as node:
            requests = await node.import_send(address, "requests")
            with trio.fail_after(30):
                print("add(2, 3)        ->", await call(node, requests, "add", 2, 3))
                print("upper('netchan') ->", await call(node, requests, "upper", "netchan"))
                print("reverse((1,2,3)) ->", await call(node, requests, "reverse", (1, 2, 3)))
                print("nope()           ->", await call(node, requests, "nope"))
    finally:
        proc.kill()
        await proc.wait()


if __name__ == "__main__":
    trio.run(server if "--server" in sys.argv else client)
