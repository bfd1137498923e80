"""Path MTU discovery against usrsctp (RFC 8899 §6.2 probes to a peer we did not write).

usrsctp answers a HEARTBEAT bundled with a PAD chunk (RFC 4820) like any HEARTBEAT, so our
probes confirm sizes with it too. MAX_PLPMTU is bounded by an eighth of the peer's initial
receive window (``association.PEER_WINDOW_PACKETS``): usrsctp's example programs advertise
128 KiB, so the PMTU rises from 1200 to 16384 bytes, and large messages cross in packets of
that size.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from benchmarks._tsctp import available, free_udp_port, program, running, udp_port_taken
from netchan.transport import open_endpoint
from netchan.transport.sctp.association import PEER_WINDOW_PACKETS

pytestmark = [
    pytest.mark.usrsctp,
    pytest.mark.skipif(
        not available("discard_server"),
        reason="usrsctp example programs not installed (scripts/setup.sh installs them)",
    ),
]

HOST = "127.0.0.1"
USRSCTP_WINDOW = 131072  # a_rwnd of usrsctp's INIT ACK (its default receive buffer)


async def test_pmtu_rises_with_usrsctp_and_large_messages_cross(tmp_path: Path) -> None:
    ours, theirs = free_udp_port(), free_udp_port()
    sizes = [200_000, 65_537, 1_000_000, 3]
    with running(
        [str(program("discard_server")), str(theirs), str(ours)],
        workdir=tmp_path,
        name="discard",
    ) as prog:
        deadline = time.monotonic() + 5.0
        while not udp_port_taken(theirs):
            assert time.monotonic() < deadline, "discard_server did not bind its port"
            await trio.sleep(0.02)
        async with open_endpoint(f"udp://{HOST}:{ours}") as ep:
            with trio.fail_after(30):
                for _attempt in range(20):  # usrsctp binds UDP before it listens
                    try:
                        assoc = await ep.connect(f"udp://{HOST}:{theirs}?sctp_port=9")
                        break
                    except trio.BrokenResourceError:
                        await trio.sleep(0.05)
                for _ in range(500):
                    if (assoc.statistics().pmtu or 0) > 1200:
                        break
                    await trio.sleep(0.01)
                assert assoc.statistics().pmtu == USRSCTP_WINDOW // PEER_WINDOW_PACKETS
                for index, size in enumerate(sizes):
                    await assoc.send(bytes([index]) * size, stream=index % 2)
                await assoc.aclose()  # returns once everything was acknowledged
                stats = assoc.statistics()
                for _ in range(200):
                    if prog.output().count("complete 1") >= len(sizes):
                        break
                    await trio.sleep(0.025)
        assert prog.output().count("complete 1") == len(sizes)
        # About 1.27 MB in packets of 16 KiB: some 80 DATA packets, not the 1060 that 1200
        # bytes would take (usrsctp drops a packet now and then at any size: retransmissions
        # are not asserted away).
        assert stats.packets_sent < 200, stats
