"""``sendmmsg(2)`` through cffi (ABI mode): many datagrams in one system call (Linux).

A flush of the SCTP stack often yields a burst of packets (a window's worth of DATA, or
SACKs for several associations). Sending them with one ``sendmmsg`` instead of one ``sendto``
each saves the per-call cost and, on loopback, most of the wake-ups of the receiving process.
Where cffi or ``sendmmsg`` is missing, :data:`available` is False and the driver uses
``sendto``.
"""

from __future__ import annotations

import errno as errno_module
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any

_CDEF = """
struct iovec { void *iov_base; size_t iov_len; };
struct msghdr {
    void *msg_name; unsigned int msg_namelen;
    struct iovec *msg_iov; size_t msg_iovlen;
    void *msg_control; size_t msg_controllen;
    int msg_flags;
};
struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };
int sendmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags);
"""

#: Datagrams per system call (Linux caps vlen at UIO_MAXIOV = 1024).
MAX_BATCH = 64
_MSG_DONTWAIT = 0x40

_ffi: Any = None
_lib: Any = None
available = False
if sys.platform.startswith("linux"):
    try:
        import cffi

        _ffi = cffi.FFI()
        _ffi.cdef(_CDEF)
        _lib = _ffi.dlopen(None)
        _lib.sendmmsg  # noqa: B018 - resolve the symbol now, fail here if it is missing
        available = True
    except Exception:  # no cffi, no libc symbol: fall back to sendto
        available = False


def _sockaddr(family: int, addr: tuple[str, int]) -> bytes:
    """struct sockaddr_in / sockaddr_in6 for ``addr`` (family in host order, port in network)."""
    host, port = addr[0], addr[1]
    if family == socket.AF_INET6:
        packed = socket.inet_pton(socket.AF_INET6, host)
        return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + packed + bytes(4)
    packed = socket.inet_pton(socket.AF_INET, host)
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + packed + bytes(8)


class BatchSender:
    """Sends lists of ``(payload, (host, port))`` with ``sendmmsg`` on one socket."""

    def __init__(self, sock: socket.socket) -> None:
        if not available:
            raise RuntimeError("sendmmsg is not available here")
        self._sock = sock
        self._family = sock.family
        self._names: dict[tuple[str, int], tuple[Any, int]] = {}
        self._msgs = _ffi.new("struct mmsghdr[]", MAX_BATCH)
        self._iovs = _ffi.new("struct iovec[]", MAX_BATCH)
        for i in range(MAX_BATCH):
            self._msgs[i].msg_hdr.msg_iov = self._iovs + i
            self._msgs[i].msg_hdr.msg_iovlen = 1

    def _name(self, addr: tuple[str, int]) -> tuple[Any, int]:
        name = self._names.get(addr)
        if name is None:
            if len(self._names) > 4096:
                self._names.clear()
            raw = _sockaddr(self._family, addr)
            name = (_ffi.new("char[]", raw), len(raw))
            self._names[addr] = name
        return name

    def send(self, batch: Sequence[tuple[bytes, tuple[str, int]]]) -> tuple[int, int]:
        """Send up to :data:`MAX_BATCH` datagrams from the start of ``batch``.

        Returns ``(sent, error)``: how many went out, and the errno that stopped the call
        (0 if none). ``sent`` is 0 with an error when the first datagram failed.
        """
        count = min(len(batch), MAX_BATCH)
        msgs = self._msgs
        iovs = self._iovs
        keep = []
        for i in range(count):
            data, addr = batch[i]
            buf = _ffi.from_buffer(data)
            keep.append(buf)
            iovs[i].iov_base = buf
            iovs[i].iov_len = len(data)
            name, namelen = self._name(addr)
            hdr = msgs[i].msg_hdr
            hdr.msg_name = name
            hdr.msg_namelen = namelen
        fd = self._sock.fileno()
        if fd < 0:
            return 0, errno_module.EBADF
        sent = _lib.sendmmsg(fd, msgs, count, _MSG_DONTWAIT)
        if sent < 0:
            return 0, _ffi.errno
        return sent, 0
