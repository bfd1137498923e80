"""An SCTP endpoint client: sends one message per second to a server on a chosen stream.

    python examples/endpoint_client.py udp://127.0.0.1:9000 --name alice --stream 1

Each client process is one association on the server's endpoint. ``--count`` stops after that
many messages and closes the association gracefully (SHUTDOWN), which the server reports.
"""

from __future__ import annotations

import argparse
import contextlib

import trio

from netchan.transport import open_endpoint


async def main(server: str, name: str, stream: int, count: int, interval: float) -> None:
    # A client binds an ephemeral port of the same kind as the server's address.
    local = "udp://127.0.0.1:0" if server.startswith("udp://") else "sctp://127.0.0.1:0"
    async with open_endpoint(local) as ep:
        assoc = await ep.connect(server)
        print(f"{name}: association {assoc.id} from {ep.address} to {server}", flush=True)
        sent = 0
        while count == 0 or sent < count:
            sent += 1
            await assoc.send(f"{name} says hello #{sent}".encode(), stream=stream)
            print(f"{name}: sent #{sent} on stream {stream}", flush=True)
            await trio.sleep(interval)
        await assoc.aclose()
        print(f"{name}: closed", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", nargs="?", default="udp://127.0.0.1:9000")
    parser.add_argument("--name", default="client")
    parser.add_argument("--stream", type=int, default=1)
    parser.add_argument("--count", type=int, default=0, help="0: until interrupted")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, args.server, args.name, args.stream, args.count, args.interval)
