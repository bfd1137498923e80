"""The UDP socket layer of ``udp://``: binding and ICMP reports from the error queue."""

from __future__ import annotations

import select
import socket
import struct
import sys

import pytest

from netchan.transport.udp._socket import (
    IP_RECVERR,
    IPV6_RECVERR,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    SOL_IP,
    SOL_IPV6,
    open_udp_socket,
    parse_error_queue_entry,
    read_error_queue,
)

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="IP_RECVERR is Linux's interface"
)


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def _ee(origin: int, icmp_type: int, code: int, err: int = 111) -> bytes:
    return struct.pack("=IBBBBII", err, origin, icmp_type, code, 0, 0, 0) + bytes(16)


def _closed_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


def test_ephemeral_port_is_bound() -> None:
    sock = open_udp_socket("127.0.0.1", 0)
    try:
        host, port = sock.getsockname()
        assert host == "127.0.0.1"
        assert port > 0
        assert sock.getblocking() is False
    finally:
        sock.close()


@linux_only
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_port_unreachable_is_read_from_the_error_queue(host: str) -> None:
    if ":" in host and not _has_ipv6():
        pytest.skip("no IPv6 loopback on this host")
    sock = open_udp_socket(host, 0)
    try:
        dead = _closed_port(host)
        packet = struct.pack("!HHI", 5000, 5000, 0xDEADBEEF) + b"\x00" * 4 + b"payload"
        sock.sendto(packet, (host, dead))
        readable, _, _ = select.select([sock], [], [], 2.0)
        assert readable, "no ICMP report within 2 s on loopback"
        reports = read_error_queue(sock)
        assert len(reports) == 1
        report = reports[0]
        assert report.unreachable
        assert report.destination == (host, dead)
        # The kernel hands back the datagram we sent: our SCTP common header with its tag.
        assert report.quoted.startswith(packet[:8])
        assert read_error_queue(sock) == []
    finally:
        sock.close()


def test_icmp_port_unreachable_entries_are_recognised() -> None:
    v4 = parse_error_queue_entry(
        b"quoted", [(SOL_IP, IP_RECVERR, _ee(SO_EE_ORIGIN_ICMP, 3, 3))], ("10.0.0.1", 9)
    )
    assert v4 is not None and v4.unreachable and v4.destination == ("10.0.0.1", 9)
    assert v4.quoted == b"quoted"
    proto = parse_error_queue_entry(
        b"q", [(SOL_IP, IP_RECVERR, _ee(SO_EE_ORIGIN_ICMP, 3, 2))], ("10.0.0.1", 9)
    )
    assert proto is not None and proto.unreachable
    v6 = parse_error_queue_entry(
        b"q", [(SOL_IPV6, IPV6_RECVERR, _ee(SO_EE_ORIGIN_ICMP6, 1, 4))], ("::1", 9, 0, 0)
    )
    assert v6 is not None and v6.unreachable and v6.destination == ("::1", 9)


def test_other_icmp_reports_do_not_count_as_unreachable() -> None:
    # Fragmentation needed (type 3 code 4) and host unreachable (code 1) are no proof that
    # the peer's SCTP is gone.
    for code in (1, 4):
        report = parse_error_queue_entry(
            b"q", [(SOL_IP, IP_RECVERR, _ee(SO_EE_ORIGIN_ICMP, 3, code))], ("10.0.0.1", 9)
        )
        assert report is not None and not report.unreachable
    local = parse_error_queue_entry(
        b"q", [(SOL_IP, IP_RECVERR, _ee(1, 0, 0, err=90))], ("10.0.0.1", 9)
    )
    assert local is not None and not local.unreachable


def test_odd_error_queue_entries_are_ignored() -> None:
    assert parse_error_queue_entry(b"q", [], ("10.0.0.1", 9)) is None
    assert parse_error_queue_entry(b"q", [(SOL_IP, IP_RECVERR, b"\x00" * 3)], ("h", 1)) is None
    assert parse_error_queue_entry(b"q", [(SOL_IP, 99, _ee(2, 3, 3))], ("10.0.0.1", 9)) is None
    assert parse_error_queue_entry(b"q", [(SOL_IP, IP_RECVERR, _ee(2, 3, 3))], None) is None
    assert parse_error_queue_entry(b"q", [(SOL_IP, IP_RECVERR, _ee(2, 3, 3))], ("x",)) is None
