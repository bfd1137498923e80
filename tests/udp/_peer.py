"""A peer process for tests that need a peer to die: ``python _peer.py {fake|sctp}``.

Opens ``udp://127.0.0.1:0``, prints its address on one line, then echoes every message on
its stream until killed (a killed process sends no ABORT: only ICMP tells the others).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import trio

from netchan.transport.udp import open_udp_endpoint


async def main(stack: str) -> None:
    options: dict[str, object] = {}
    if stack == "fake":
        from tests.udp.fakestack import FakeEndpoint

        options["stack_factory"] = FakeEndpoint
    async with open_udp_endpoint("udp://127.0.0.1:0", **options) as ep:
        print(ep.address, flush=True)
        while True:
            msg = await ep.receive()
            await msg.association.send(msg.data, stream=msg.stream, ppid=msg.ppid)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
