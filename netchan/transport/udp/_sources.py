"""The local sockets of a multihomed ``udp://`` endpoint and which one sends to a peer.

A multihomed endpoint (``udp://A,B:PORT``) binds one UDP socket per local address, all on the
same port: RFC 6951 §5.1 gives each peer one UDP port, and the peer learns ours from the
packets' source. Binding each address separately makes the kernel put that address in the
packets' source field, and the destination's route still decides the interface.

Which socket sends to a peer address (the source address of the path, RFC 9260 §6.4): the one
whose address shares the longest prefix with it (the address on the peer's network, as a
route's preferred source would be), the first one on a tie. With
links on separate subnets, each path then runs between the two addresses of one subnet in
both directions, so a link failure takes out one path, not half of every path.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["LocalSockets"]

#: Peer hosts remembered (bounded: a peer's addresses come and go with its associations).
_MAX_REMEMBERED = 4096


class LocalSockets:
    """The sockets of a multihomed endpoint, by local address, and the source choice.

    Args:
        sockets: one bound UDP socket per local address, the first being the primary.
    """

    __slots__ = ("_choice", "_hosts", "sockets")

    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self._hosts = [_packed(sock.getsockname()[0]) for sock in sockets]
        self._choice: dict[str, socket.socket] = {}

    def for_peer(self, host: str) -> socket.socket:
        """The socket that sends to ``host``."""
        sock = self._choice.get(host)
        if sock is None:
            if len(self._choice) >= _MAX_REMEMBERED:
                self._choice.clear()
            sock = self._choice[host] = self._longest_prefix(host)
        return sock

    def _longest_prefix(self, host: str) -> socket.socket:
        target = _packed(host)
        best = self.sockets[0]
        best_bits = -1
        for sock, local in zip(self.sockets, self._hosts, strict=True):
            if len(local) != len(target):
                continue
            bits = _common_bits(local, target)
            if bits > best_bits:
                best, best_bits = sock, bits
        return best


def _packed(host: str) -> bytes:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return b""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.packed
    return ip.packed


def _common_bits(a: bytes, b: bytes) -> int:
    bits = 0
    for x, y in zip(a, b, strict=True):
        diff = x ^ y
        if diff:
            return bits + 8 - diff.bit_length()
        bits += 8
    return bits
