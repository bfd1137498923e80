"""An SCTP endpoint server: prints every message with its stream and association.

One endpoint (one UDP socket for ``udp://``) serves any number of clients at once; run two
``endpoint_client.py`` processes against it to see two associations side by side::

    python examples/endpoint_server.py udp://127.0.0.1:9000
    python examples/endpoint_client.py udp://127.0.0.1:9000 --name alice --stream 1
    python examples/endpoint_client.py udp://127.0.0.1:9000 --name bob --stream 2

Association events (established, closed, aborted) are printed as they happen. Works the same
with ``sctp://`` where the operating system has SCTP.
"""

from __future__ import annotations

import argparse
import contextlib

import trio

from netchan.transport import AssociationEvent, open_endpoint


def _describe(event: AssociationEvent) -> str:
    peers = ", ".join(event.association.peer_addresses) or "?"
    return f"association {event.association.id} ({peers}): {type(event).__name__}"


async def main(address: str) -> None:
    async with open_endpoint(address) as ep:
        print(f"listening on {ep.address}", flush=True)

        async def print_events() -> None:
            while True:
                print(_describe(await ep.next_event()), flush=True)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(print_events)
            while True:
                msg = await ep.receive()
                text = msg.data.decode("utf-8", errors="replace")
                print(
                    f"association {msg.association.id} stream {msg.stream} ppid {msg.ppid}: {text}",
                    flush=True,
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", nargs="?", default="udp://127.0.0.1:9000")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, args.address)
