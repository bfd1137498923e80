"""Path MTU discovery of ``udp://`` on real loopback sockets (RFC 8899, Linux).

Loopback's MTU is 65536: the PLPMTU rises from BASE_PLPMTU (1200) to the interface's limit,
65504 (IPv4: 65536 - 28 bytes of IP and UDP headers, capped at the largest UDP payload and
aligned to 4) within a few round trips, and large messages then travel in packets that size.
"""

from __future__ import annotations

import socket
import struct
import sys

import pytest
import trio

from netchan.transport import Association
from netchan.transport.udp import open_udp_endpoint
from netchan.transport.udp._socket import (
    IP_MTU_DISCOVER,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_PROBE,
    IP_RECVERR,
    IPV6_RECVERR,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    SOL_IP,
    SOL_IPV6,
    local_mtu,
    open_udp_socket,
    parse_error_queue_entry,
    set_dont_fragment,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="DF control and IP_MTU are Linux's interface"
)

#: Wall-clock bound on the PLPMTU reaching loopback's limit (it takes a few milliseconds: a
#: BASE probe and a MAX_PLPMTU probe, one round trip each; a shared machine may be slow).
RISE_BOUND = 5.0


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


async def _wait_pmtu(assoc: Association, above: int) -> float:
    """Seconds until the association's PMTU exceeds ``above`` (bounded by RISE_BOUND)."""
    start = trio.current_time()
    with trio.fail_after(RISE_BOUND):
        for _ in range(10_000):
            pmtu = assoc.statistics().pmtu
            if pmtu is not None and pmtu > above:
                break
            await trio.sleep(0.002)
    return trio.current_time() - start


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_pmtu_rises_to_the_loopback_mtu_and_carries_large_messages(host: str) -> None:
    if ":" in host and not _has_ipv6():
        pytest.skip("no IPv6 loopback on this host")
    url = f"udp://[{host}]:0" if ":" in host else f"udp://{host}:0"
    async with open_udp_endpoint(url) as a, open_udp_endpoint(url) as b:
        assoc = await a.connect(b.address)
        assert (assoc.statistics().pmtu or 0) <= 1200  # BASE_PLPMTU until a probe answers
        await _wait_pmtu(assoc, 60_000)
        expected = local_mtu(socket.AF_INET6 if ":" in host else socket.AF_INET, (host, 9))
        assert expected is not None
        assert assoc.statistics().pmtu == expected & ~3
        message = bytes(range(256)) * 4096  # 1 MiB
        with trio.fail_after(10):
            await assoc.send(message, stream=2)
            received = await b.receive()
        assert received.data == message and received.stream == 2
        stats = assoc.statistics()
        # 1 MiB in about 17 packets of 64 KB instead of about 900 of 1200 bytes.
        assert stats.packets_sent < 100, stats
        assert stats.retransmissions == 0


async def test_pmtu_max_caps_and_plpmtud_off_keeps_the_base_size() -> None:
    async with (
        open_udp_endpoint("udp://127.0.0.1:0", pmtu_max=9000) as a,
        open_udp_endpoint("udp://127.0.0.1:0") as b,
    ):
        assoc = await a.connect(b.address)
        await _wait_pmtu(assoc, 8000)
        await trio.sleep(0.05)
        assert assoc.statistics().pmtu == 9000
    async with (
        open_udp_endpoint("udp://127.0.0.1:0", plpmtud=False) as a,
        open_udp_endpoint("udp://127.0.0.1:0") as b,
    ):
        assoc = await a.connect(b.address)
        await assoc.send(b"x" * 100_000, stream=0)
        with trio.fail_after(10):
            await b.receive()
        assert assoc.statistics().pmtu == 1200


def test_sockets_send_with_dont_fragment_and_can_let_ip_fragment() -> None:
    sock = open_udp_socket("127.0.0.1", 0)
    try:
        # RFC 8899 §3 item 2: DF set, the kernel's PMTU cache out of the way.
        assert sock.getsockopt(SOL_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_PROBE
        assert set_dont_fragment(sock, False)
        assert sock.getsockopt(SOL_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_DONT
        assert set_dont_fragment(sock, True)
        assert sock.getsockopt(SOL_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_PROBE
    finally:
        sock.close()
    assert local_mtu(socket.AF_INET, ("127.0.0.1", 9)) == 65507  # 65535 - 28


def _ee(origin: int, icmp_type: int, code: int, info: int) -> bytes:
    return struct.pack("=IBBBBII", 90, origin, icmp_type, code, 0, info, 0) + bytes(16)


def test_packet_too_big_reports_carry_the_mtu() -> None:
    v4 = parse_error_queue_entry(
        b"q", [(SOL_IP, IP_RECVERR, _ee(SO_EE_ORIGIN_ICMP, 3, 4, 1400))], ("10.0.0.1", 9)
    )
    assert v4 is not None and v4.too_big and v4.mtu == 1400 and not v4.unreachable
    v6 = parse_error_queue_entry(
        b"q", [(SOL_IPV6, IPV6_RECVERR, _ee(SO_EE_ORIGIN_ICMP6, 2, 0, 1280))], ("::1", 9, 0, 0)
    )
    assert v6 is not None and v6.too_big and v6.mtu == 1280
    port = parse_error_queue_entry(
        b"q", [(SOL_IP, IP_RECVERR, _ee(SO_EE_ORIGIN_ICMP, 3, 3, 0))], ("10.0.0.1", 9)
    )
    assert port is not None and not port.too_big and port.mtu == 0
