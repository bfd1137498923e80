"""Cross-stack multihoming: netchan's ``udp://`` and the Linux kernel's SCTP over UDP, both
bound to 127.0.0.1 and 127.0.0.2 (inside the SCTP VM).

Each side must learn the other's two addresses from the INIT / INIT ACK Address parameters
(RFC 9260 §5.1.2), confirm them with heartbeats (§5.4) and carry data on either path.
Failover across stacks needs links that fail as links do (one subnet per link, as the
namespace tests build): on loopback both kernel addresses share one route, so the kernel
sends every packet from 127.0.0.1 and a black hole between two addresses is not a link.
"""

from __future__ import annotations

import trio

from netchan.transport import AssociationEstablished, PeerAddressChanged, open_endpoint
from tests.endpoint_suite import wait_event
from tests.kernel.test_cross_stack import (  # noqa: F401  (the fixture)
    TIMEOUT,
    _port,
    kernel_udp_encapsulation,
)


async def test_userspace_multihomed_client_to_kernel_multihomed_server(
    kernel_udp_encapsulation: int,  # noqa: F811
) -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1,127.0.0.2:0", heartbeat_interval=0.2) as kern,
            open_endpoint("udp://127.0.0.1,127.0.0.2:0") as user,
        ):
            kport, uport = _port(kern), _port(user)
            udp = kernel_udp_encapsulation
            target = f"udp://127.0.0.1,127.0.0.2:{udp}?sctp_port={kport}"
            assoc = await user.connect(target)
            kside = (await wait_event(kern, AssociationEstablished)).association
            assert set(assoc.peer_addresses) == {
                f"udp://127.0.0.1:{udp}?sctp_port={kport}",
                f"udp://127.0.0.2:{udp}?sctp_port={kport}",
            }
            # The kernel learned both of our addresses from our INIT.
            assert set(kside.peer_addresses) == {
                f"sctp://127.0.0.1:{uport}",
                f"sctp://127.0.0.2:{uport}",
            }
            # ... and confirms the one the handshake did not use with a HEARTBEAT (§5.4).
            while True:
                ev = await wait_event(kern, PeerAddressChanged, kside)
                if ev.state == "confirmed":
                    break
            assert ev.address == f"sctp://127.0.0.2:{uport}"
            await assoc.send(b"path 1", stream=1)
            assert (await kern.receive()).data == b"path 1"
            second = f"udp://127.0.0.2:{udp}?sctp_port={kport}"
            assoc.set_primary(second)
            assert assoc.primary_path == second
            await assoc.send(b"path 2", stream=1)
            assert (await kern.receive()).data == b"path 2"
            await kside.send(b"back", stream=2)
            assert (await user.receive()).data == b"back"


async def test_kernel_multihomed_client_to_userspace_multihomed_server(
    kernel_udp_encapsulation: int,  # noqa: F811
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_endpoint("udp://127.0.0.1,127.0.0.2:0") as user:
            uport = _port(user)
            async with open_endpoint(
                "sctp://127.0.0.1,127.0.0.2:0", udp_encapsulation_port=uport
            ) as kern:
                kport = _port(kern)
                assoc = await kern.connect(f"sctp://127.0.0.1,127.0.0.2:{uport}")
                uside = (await wait_event(user, AssociationEstablished)).association
                # Our stack learned the kernel's addresses from its INIT (via the cookie).
                hosts = {url.split("//")[1].rsplit(":", 1)[0] for url in uside.peer_addresses}
                assert hosts == {"127.0.0.1", "127.0.0.2"}, uside.peer_addresses
                assert all(url.endswith(f"?sctp_port={kport}") for url in uside.peer_addresses)
                assert set(assoc.peer_addresses) == {
                    f"sctp://127.0.0.1:{uport}",
                    f"sctp://127.0.0.2:{uport}",
                }
                await assoc.send(b"hello", stream=1)
                assert (await user.receive()).data == b"hello"
                await uside.send(b"answer", stream=1)
                assert (await kern.receive()).data == b"answer"
