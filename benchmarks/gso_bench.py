"""What UDP GSO/GRO could save the udp:// endpoint: system-call CPU per datagram on loopback.

Usage::

    .venv/bin/python benchmarks/gso_bench.py [--size 1200] [--count 40000] [--burst 40]

Sends ``--count`` datagrams of ``--size`` bytes to a socket of the same process and reads them
back, in bursts of ``--burst``, two ways, alternating, best of three rounds each:

* plain: one ``sendto`` and one ``recvfrom`` per datagram (what a burst costs the driver where
  ``sendmmsg`` is not used; ``sendmmsg`` only shares the send side's call);
* GSO/GRO (Linux, UDP_SEGMENT / UDP_GRO): the burst leaves in one ``sendmsg`` with a segment
  size, and arrives in one ``recvmsg`` that the receiver splits at the segment size.

It prints the process CPU time per datagram (send and receive together) and the ratio. That
is the ceiling of what the lever can gain: the SCTP stack's own cost per packet (chunks, TSNs,
SACKs) stays. Compare with ``benchmarks/endpoint_bench.py --sizes 16384 --skip-tsctp --option
plpmtud=False`` (1200-byte packets), which prints the endpoint's CPU per message on each side.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import time

SOL_UDP = 17
UDP_SEGMENT = 103
UDP_GRO = 104


def _drain(sock: socket.socket, gro: bool, size: int) -> int:
    """Read everything queued; the number of datagrams (segments) it held."""
    n = 0
    while True:
        try:
            if not gro:
                sock.recvfrom(65535)
                n += 1
                continue
            data, ancdata, _flags, _addr = sock.recvmsg(65535, 64)
        except BlockingIOError:
            return n
        segment = size
        for level, kind, value in ancdata:
            if level == SOL_UDP and kind == UDP_GRO:
                segment = struct.unpack("=i", value[:4])[0] if len(value) >= 4 else segment
        n += -(-len(data) // segment)


def measure(gso: bool, size: int, count: int, burst: int) -> float:
    """CPU seconds per datagram, send and receive together."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        receiver.setsockopt(SOL_UDP, UDP_GRO, 1 if gso else 0)
        addr = receiver.getsockname()
        payload = b"x" * size
        segment = [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", size))]
        got = 0
        start = time.process_time()
        for _ in range(count // burst):
            if gso:
                sender.sendmsg([payload * burst], segment, 0, addr)
            else:
                for _ in range(burst):
                    sender.sendto(payload, addr)
            got += _drain(receiver, gso, size)
        spent = time.process_time() - start
    finally:
        receiver.close()
        sender.close()
    if got != count // burst * burst:
        raise SystemExit(f"{got} datagrams read of {count // burst * burst}: loss on loopback?")
    return spent / got


def main() -> None:
    """Run both ways, alternating, and print the best of each and their ratio."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=1200, help="datagram payload bytes")
    parser.add_argument("--count", type=int, default=40000)
    parser.add_argument("--burst", type=int, default=40, help="datagrams per send (<= 64)")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("UDP_SEGMENT / UDP_GRO are Linux socket options")
    if args.burst * args.size > 65507 or not 1 <= args.burst <= 64:
        raise SystemExit("need 1 <= burst <= 64 and burst x size <= 65507")
    best = {False: float("inf"), True: float("inf")}
    for _round in range(3):
        for gso in (False, True):
            best[gso] = min(best[gso], measure(gso, args.size, args.count, args.burst))
    plain, gso = best[False] * 1e6, best[True] * 1e6
    print(f"{args.count} datagrams of {args.size} B in bursts of {args.burst}, loopback")
    print(f"  sendto + recvfrom : {plain:6.2f} us CPU per datagram")
    print(f"  GSO + GRO         : {gso:6.2f} us CPU per datagram")
    print(f"  saved             : {plain - gso:6.2f} us per datagram ({plain / gso:.1f}x)")


if __name__ == "__main__":
    main()
