"""The UDP socket under ``udp://``: opening it, batched I/O and ICMP reports.

RFC 6951 carries each SCTP packet as the payload of one UDP datagram. Everything here is about
the socket, never about SCTP: the driver (``_endpoint.py``) hands the payloads to the sans-io
stack.

ICMP: a peer process that died on a live host answers our datagrams with ICMP port
unreachable. With ``IP_RECVERR`` / ``IPV6_RECVERR`` set, Linux queues such reports on the
socket's error queue (``MSG_ERRQUEUE``) together with the start of the datagram we sent, which
begins with our SCTP common header and its verification tag. RFC 6951 §5 and RFC 9260
§10 require that tag to be checked before the report may end an association; the
sans-io endpoint does that check (``SctpEndpoint.icmp_unreachable``), this module only
extracts the report. The same holds for Packet Too Big / Fragmentation Needed reports, hints
to path MTU discovery (RFC 8899 §4.6, ``SctpEndpoint.icmp_packet_too_big``).

Path MTU discovery (RFC 8899 §3 item 2) needs datagrams sent with the Don't Fragment bit and
without the kernel's own PMTU cache in the way: ``IP_PMTUDISC_PROBE`` (and its IPv6 twin)
sets DF and lets a probe larger than the cached path MTU leave; only the interface MTU bounds
it (``EMSGSIZE``). The largest SCTP packet the interface toward a peer carries is its MTU
(``IP_MTU`` of a connected socket) minus the IP and UDP headers (:func:`local_mtu`).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import sys
from dataclasses import dataclass

# Linux values (<linux/in.h>, <linux/in6.h>, <linux/errqueue.h>); Python's socket module does
# not export all of them on every version.
IP_RECVERR = 11
IPV6_RECVERR = 25
IP_MTU_DISCOVER = 10
IP_MTU = 14
IPV6_MTU_DISCOVER = 23
IPV6_MTU = 24
IPV6_DONTFRAG = 62
#: DF set, the kernel's path MTU cache ignored (probes may exceed it; Linux >= 2.6.22).
IP_PMTUDISC_PROBE = 3
#: DF clear: the kernel fragments (RFC 9260 §6.9 retransmissions after the PMTU shrank).
IP_PMTUDISC_DONT = 0
SOL_IP = 0
SOL_IPV6 = 41
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3

# struct sock_extended_err { u32 ee_errno; u8 ee_origin, ee_type, ee_code, ee_pad;
#                            u32 ee_info; u32 ee_data; }  (followed by the offender's address)
_EXTENDED_ERR = struct.Struct("=IBBBBII")

# ICMP destination unreachable: type 3, codes 2 (protocol) and 3 (port) (RFC 792).
# ICMPv6 destination unreachable: type 1, code 4 (port) (RFC 4443). RFC 6951 §5: a port
# unreachable for the encapsulating UDP is treated like a protocol unreachable for SCTP.
_ICMP_UNREACHABLE = {(SO_EE_ORIGIN_ICMP, 3, 2), (SO_EE_ORIGIN_ICMP, 3, 3)}
_ICMP6_UNREACHABLE = {(SO_EE_ORIGIN_ICMP6, 1, 4)}
# Packet too big: ICMP destination unreachable, fragmentation needed and DF set (type 3
# code 4, RFC 1191) and ICMPv6 Packet Too Big (type 2, RFC 8201); the MTU is in ee_info.
_ICMP_TOO_BIG = {(SO_EE_ORIGIN_ICMP, 3, 4), (SO_EE_ORIGIN_ICMP6, 2, 0)}

#: IP + UDP header bytes under an SCTP packet (RFC 6951: they come out of the path MTU).
IPV4_OVERHEAD = 20 + 8
IPV6_OVERHEAD = 40 + 8
#: Largest UDP payload (an IPv4 datagram is at most 65535 bytes, headers included; IPv6
#: without jumbograms the same for the payload after the IPv6 header).
_MAX_PAYLOAD: dict[int, int] = {socket.AF_INET: 65535 - IPV4_OVERHEAD, socket.AF_INET6: 65535 - 8}

#: Errors ``sendto``/``recvfrom`` return when an ICMP report is pending on the socket (Linux
#: reports the last one once as the socket error); the details are on the error queue.
PENDING_ICMP_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPROTO}
)

#: Socket buffer size asked for; the kernel caps it at net.core.[rw]mem_max.
SOCKET_BUFFER = 4 * 1024 * 1024

PeerAddr = tuple[str, int]


@dataclass(frozen=True, slots=True)
class IcmpReport:
    """One error-queue entry, decoded.

    Attributes:
        destination: where the datagram that caused it was going (the peer), as ``(host, port)``.
        quoted: the start of that datagram's payload (our SCTP packet) as the kernel kept it.
        unreachable: True for a destination/port unreachable report (the only kind that may
            end an association); False for anything else (fragmentation needed, local errors).
        errno: the error the kernel associated with the report.
        too_big: a Packet Too Big / Fragmentation Needed report from the path.
        mtu: the next-hop MTU it reports (an IP MTU, headers included); 0 otherwise.
    """

    destination: PeerAddr
    quoted: bytes
    unreachable: bool
    errno: int
    too_big: bool = False
    mtu: int = 0


def parse_error_queue_entry(
    data: bytes, ancdata: list[tuple[int, int, bytes]], address: object
) -> IcmpReport | None:
    """Decode what ``recvmsg(..., MSG_ERRQUEUE)`` returned, or None if it is not a report.

    Never raises on odd input: the kernel wrote it, but the code stays defensive because a
    driver crash would take every association of the socket down with it.
    """
    if not isinstance(address, tuple) or len(address) < 2:
        return None
    host, port = address[0], address[1]
    if not isinstance(host, str) or not isinstance(port, int):
        return None
    for level, kind, payload in ancdata:
        if (level, kind) not in ((SOL_IP, IP_RECVERR), (SOL_IPV6, IPV6_RECVERR)):
            continue
        if len(payload) < _EXTENDED_ERR.size:
            continue
        ee_errno, origin, icmp_type, icmp_code, _pad, info, _data = _EXTENDED_ERR.unpack_from(
            payload
        )
        key = (origin, icmp_type, icmp_code)
        unreachable = key in _ICMP_UNREACHABLE or key in _ICMP6_UNREACHABLE
        too_big = key in _ICMP_TOO_BIG
        return IcmpReport(
            (host, port), bytes(data), unreachable, ee_errno, too_big, info if too_big else 0
        )
    return None


def open_udp_socket(host: str, port: int) -> socket.socket:
    """Bind a non-blocking UDP socket with ICMP error reporting and large buffers.

    The family follows the host literal (IPv6 when it contains a colon). Resolution of names
    is the caller's job (bind needs an address; ``localhost`` is accepted and means IPv4).
    The IPv6 wildcard ``::`` binds dual-stack (``IPV6_V6ONLY`` off, whatever the system's
    default): IPv4 peers are reached as IPv4-mapped addresses, their ICMP reported too.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bind_host = "127.0.0.1" if host == "localhost" else host
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            # Some systems refuse large buffers; the default then has to do.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
        dual = family == socket.AF_INET6 and bind_host == "::"
        if dual:
            with contextlib.suppress(OSError):  # systems that refuse keep their default
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        if sys.platform.startswith("linux"):
            if family == socket.AF_INET6:
                sock.setsockopt(SOL_IPV6, IPV6_RECVERR, 1)
            if family == socket.AF_INET or dual:
                sock.setsockopt(SOL_IP, IP_RECVERR, 1)
            set_dont_fragment(sock, True)
        sock.bind((bind_host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def set_dont_fragment(sock: socket.socket, on: bool) -> bool:
    """Send with DF and without the kernel's PMTU cache (``on``), or let IP fragment (Linux).

    Returns False where the socket does not take the options (then path MTU probes would
    be fragmented and prove nothing: the caller switches path MTU discovery off).
    """
    if not sys.platform.startswith("linux"):
        return False
    mode = IP_PMTUDISC_PROBE if on else IP_PMTUDISC_DONT
    try:
        if sock.family == socket.AF_INET6:
            sock.setsockopt(SOL_IPV6, IPV6_MTU_DISCOVER, mode)
            sock.setsockopt(SOL_IPV6, IPV6_DONTFRAG, 1 if on else 0)
            # IPv4-mapped destinations of a dual-stack socket follow the IPv4 option.
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_IP, IP_MTU_DISCOVER, mode)
        else:
            sock.setsockopt(SOL_IP, IP_MTU_DISCOVER, mode)
    except OSError:
        return False
    return True


def header_overhead(host: str) -> int:
    """IP and UDP header bytes under our SCTP packets to ``host`` (an address literal)."""
    if ":" in host and not (host.startswith("::ffff:") and "." in host):
        return IPV6_OVERHEAD
    return IPV4_OVERHEAD


def local_mtu(family: int, destination: PeerAddr) -> int | None:
    """The largest SCTP packet the local interface toward ``destination`` sends unfragmented.

    The interface MTU of the route (``IP_MTU`` / ``IPV6_MTU`` of a UDP socket connected to the
    destination; connecting a UDP socket sends nothing) minus the IP and UDP headers, at most
    the largest UDP payload. None where the kernel does not tell (not Linux, no route).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(destination)
            if family == socket.AF_INET6:
                mtu = probe.getsockopt(SOL_IPV6, IPV6_MTU)
            else:
                mtu = probe.getsockopt(SOL_IP, IP_MTU)
    except OSError:
        return None
    size = mtu - header_overhead(destination[0])
    return min(size, _MAX_PAYLOAD.get(family, 65535 - IPV4_OVERHEAD)) if size > 0 else None


def dual_stack_available() -> bool:
    """Whether this host can bind a dual-stack UDP socket (IPv6 wildcard, IPv4-mapped too)."""
    global _dual_stack
    if _dual_stack is None:
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                probe.bind(("::", 0))
            _dual_stack = True
        except (OSError, AttributeError):
            _dual_stack = False
    return _dual_stack


_dual_stack: bool | None = None


def read_error_queue(sock: socket.socket, limit: int = 64) -> list[IcmpReport]:
    """Drain up to ``limit`` entries of the socket's error queue (Linux); [] elsewhere."""
    reports: list[IcmpReport] = []
    if not sys.platform.startswith("linux"):
        return reports
    for _ in range(limit):
        try:
            data, ancdata, _flags, address = sock.recvmsg(2048, 1024, MSG_ERRQUEUE)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            break
        report = parse_error_queue_entry(data, ancdata, address)
        if report is not None:
            reports.append(report)
    return reports
