"""Cross-stack: netchan's userspace SCTP (``udp://``) against the Linux kernel's SCTP.

The kernel speaks SCTP over UDP (RFC 6951) when ``net.sctp.udp_port`` is set: it then
listens on, and sends from, that UDP port. Towards a peer it encapsulates when the socket's
SCTP_REMOTE_UDP_ENCAPS_PORT (our ``udp_encapsulation_port`` option) names the peer's UDP port;
answers to encapsulated packets go back encapsulated to the port they came from. Our userspace
stack only speaks UDP, so any working association here is SCTP-in-UDP end to end.

Runs inside the SCTP VM only (root, to set the sysctl); both directions, several streams,
ordered and unordered, fragmented messages, graceful shutdown and abort from either side.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from netchan.transport import (
    Association,
    AssociationAborted,
    AssociationAbortedError,
    AssociationClosed,
    AssociationEstablished,
    AssociationRestarted,
    Endpoint,
    open_endpoint,
)
from tests.endpoint_suite import payload, wait_event

KERNEL_UDP_PORT = 9899  # IANA sctp-tunneling; what the kernel listens on inside the VM
TIMEOUT = 60.0
SYSCTL = Path("/proc/sys/net/sctp")


@pytest.fixture
def kernel_udp_encapsulation() -> Iterator[int]:
    """Switch the VM kernel's SCTP-over-UDP on for the test, off afterwards."""
    old_port = (SYSCTL / "udp_port").read_text().strip()
    old_encap = (SYSCTL / "encap_port").read_text().strip()
    (SYSCTL / "udp_port").write_text(str(KERNEL_UDP_PORT))
    (SYSCTL / "encap_port").write_text("0")  # per socket instead (udp_encapsulation_port)
    try:
        yield KERNEL_UDP_PORT
    finally:
        (SYSCTL / "udp_port").write_text(old_port)
        (SYSCTL / "encap_port").write_text(old_encap)


def _port(ep: Endpoint) -> int:
    return int(ep.address.rsplit(":", 1)[1].split("?")[0])


SIZES = [1, 100, 1200, 5000, 70_000, 300_000]


async def _exchange(sender_assoc: Association, receiver: Endpoint) -> None:
    """Messages on several streams, ordered and unordered, checked on arrival."""
    sent = [
        (payload(i, n), i % 4, 1000 + i, i % 3 == 2) for i, n in enumerate(SIZES)
    ]  # data, stream, ppid, unordered

    async def send_all() -> None:
        for data, stream, ppid, unordered in sent:
            await sender_assoc.send(data, stream=stream, ppid=ppid, unordered=unordered)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_all)
        got = [await receiver.receive() for _ in sent]
    assert sorted((m.data, m.stream, m.ppid, m.unordered) for m in got) == sorted(sent)
    for s in range(4):
        ordered = [m.data for m in got if m.stream == s and not m.unordered]
        assert ordered == [d for d, st, _, u in sent if st == s and not u]


async def test_userspace_client_to_kernel_server(kernel_udp_encapsulation: int) -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0") as kern,
            open_endpoint("udp://127.0.0.1:0") as user,
        ):
            target = f"udp://127.0.0.1:{kernel_udp_encapsulation}?sctp_port={_port(kern)}"
            assoc = await user.connect(target)
            kside = (await wait_event(kern, AssociationEstablished)).association
            assert min(assoc.outbound_streams, kside.inbound_streams) >= 4
            await _exchange(assoc, kern)
            await _exchange(kside, user)
            # graceful shutdown started by the userspace side
            await assoc.aclose()
            assert (await wait_event(kern, AssociationClosed)).association is kside


async def test_kernel_client_to_userspace_server(kernel_udp_encapsulation: int) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_endpoint("udp://127.0.0.1:0") as user:
            uport = _port(user)
            async with open_endpoint("sctp://127.0.0.1:0", udp_encapsulation_port=uport) as kern:
                assoc = await kern.send(b"hello", to=f"sctp://127.0.0.1:{uport}", stream=1)
                first = await user.receive()
                assert (first.data, first.stream) == (b"hello", 1)
                uside = first.association
                await _exchange(assoc, user)
                await _exchange(uside, kern)
                # graceful shutdown started by the kernel side
                await assoc.aclose()
                assert (await wait_event(user, AssociationClosed)).association is uside


async def test_abort_across_stacks(kernel_udp_encapsulation: int) -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("udp://127.0.0.1:0") as user,
            open_endpoint("sctp://127.0.0.1:0") as kern,
        ):
            uport = _port(user)
            target = f"udp://127.0.0.1:{kernel_udp_encapsulation}?sctp_port={_port(kern)}"
            # userspace aborts; the kernel side reports the peer's ABORT with its reason
            a1 = await user.connect(target)
            k1 = (await wait_event(kern, AssociationEstablished)).association
            a1.abort("userspace says stop")
            ev = await wait_event(kern, AssociationAborted, k1)
            assert ev.error.by_peer
            assert "userspace says stop" in ev.error.reason
            # the kernel aborts; the userspace side sees it as a peer abort
            a2 = await user.connect(target)
            k2 = (await wait_event(kern, AssociationEstablished)).association
            assert k2 is not k1
            k2.abort("kernel says stop")
            ev2 = await wait_event(user, AssociationAborted, a2)
            assert ev2.error.by_peer
            with pytest.raises(trio.BrokenResourceError):
                await a2.send(b"after abort")
            assert uport > 0


# Short timers so a silent peer is noticed in about two seconds (names shared by both backends).
FAST = {
    "heartbeat_interval": 0.2,
    "rto_initial": 0.2,
    "rto_min": 0.1,
    "rto_max": 0.4,
    "association_max_retransmissions": 3,
}


async def test_kernel_gives_up_on_a_silent_peer_during_setup(
    kernel_udp_encapsulation: int,
) -> None:
    # A UDP socket that swallows the kernel's encapsulated INITs (RFC 9260 §5.1, T1-init).
    sink = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await sink.bind(("127.0.0.1", 0))
    sink_port = sink.getsockname()[1]
    with sink, trio.fail_after(TIMEOUT):
        async with open_endpoint(
            "sctp://127.0.0.1:0",
            udp_encapsulation_port=sink_port,
            max_init_retransmits=2,
            **FAST,
        ) as kern:
            with trio.fail_after(10), pytest.raises(trio.BrokenResourceError) as info:
                await kern.connect(f"sctp://127.0.0.1:{sink_port}")
            cause = info.value.__cause__
            assert isinstance(cause, AssociationAbortedError) and cause.by_peer is False
            assert kern.associations == ()
            assert len(await sink.recv(65536)) > 12  # it did try: an encapsulated INIT arrived


async def test_peer_going_silent_is_detected_on_both_stacks(
    kernel_udp_encapsulation: int,
) -> None:
    # The kernel and the userspace stack talk through a UDP relay that we then cut: both
    # sides must declare the association dead (heartbeats unanswered, RFC 9260 §8.1, §8.3).
    relay = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await relay.bind(("127.0.0.1", 0))
    relay_port = relay.getsockname()[1]
    forwarding = True
    with relay, trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("udp://127.0.0.1:0", **FAST) as user,
            open_endpoint("sctp://127.0.0.1:0", udp_encapsulation_port=relay_port, **FAST) as kern,
            trio.open_nursery() as nursery,
        ):
            uport = _port(user)

            async def pump() -> None:
                while True:
                    data, src = await relay.recvfrom(65536)
                    if not forwarding:
                        continue
                    dest = kernel_udp_encapsulation if src[1] == uport else uport
                    await relay.sendto(data, ("127.0.0.1", dest))

            nursery.start_soon(pump)
            assoc = await kern.connect(f"sctp://127.0.0.1:{uport}")
            await assoc.send(b"before the cut")
            msg = await user.receive()
            assert msg.data == b"before the cut"
            forwarding = False
            with trio.fail_after(15):
                kev = await wait_event(kern, AssociationAborted, assoc)
                uev = await wait_event(user, AssociationAborted, msg.association)
            assert kev.error.by_peer is False
            assert uev.error.by_peer is False
            with pytest.raises(trio.BrokenResourceError):
                await assoc.send(b"after the cut")
            nursery.cancel_scope.cancel()


async def test_peer_restart_is_reported(kernel_udp_encapsulation: int) -> None:
    # The userspace peer loses its state without telling the kernel (its ABORT is swallowed
    # by the relay), then comes back on the same address and port and connects again: the
    # kernel sees a restart of the existing association (RFC 9260 §5.2.4).
    relay = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await relay.bind(("127.0.0.1", 0))
    relay_port = relay.getsockname()[1]
    forwarding = True
    with relay, trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", udp_encapsulation_port=relay_port) as kern,
            trio.open_nursery() as nursery,
        ):
            target = f"udp://127.0.0.1:{relay_port}?sctp_port={_port(kern)}"
            async with open_endpoint("udp://127.0.0.1:0") as first:
                uport = _port(first)

                async def pump() -> None:
                    while True:
                        data, src = await relay.recvfrom(65536)
                        if not forwarding:
                            continue
                        dest = kernel_udp_encapsulation if src[1] == uport else uport
                        await relay.sendto(data, ("127.0.0.1", dest))

                nursery.start_soon(pump)
                await first.connect(target)
                kside = (await wait_event(kern, AssociationEstablished)).association
                forwarding = False  # the ABORT of the closing endpoint gets lost
            forwarding = True
            async with open_endpoint(f"udp://127.0.0.1:{uport}") as second:
                again = await second.connect(target)
                ev = await wait_event(kern, AssociationRestarted, kside)
                assert ev.association in kern.associations
                await again.send(b"after restart", stream=1)
                msg = await kern.receive()
                assert (msg.data, msg.association) == (b"after restart", kside)
            nursery.cancel_scope.cancel()
