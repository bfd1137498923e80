"""``sendmmsg`` batching: every datagram of a burst arrives, to each of its destinations."""

from __future__ import annotations

import errno
import select
import socket

import pytest

from netchan.transport.udp import _mmsg

pytestmark = pytest.mark.skipif(not _mmsg.available, reason="sendmmsg needs Linux and cffi")


def _drain(sock: socket.socket, expected: int) -> list[bytes]:
    got: list[bytes] = []
    for _ in range(expected * 2):
        if len(got) == expected:
            break
        if not select.select([sock], [], [], 1.0)[0]:
            break
        got.append(sock.recv(65535))
    return got


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_burst_reaches_every_destination(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        receivers = [socket.socket(family, socket.SOCK_DGRAM) for _ in range(2)]
        for r in receivers:
            r.bind((host, 0))
    except OSError:
        pytest.skip(f"no {host} here")
    sender = socket.socket(family, socket.SOCK_DGRAM)
    sender.bind((host, 0))
    try:
        addrs = [r.getsockname()[:2] for r in receivers]
        batch = [(b"%d" % i * (i + 1), addrs[i % 2]) for i in range(_mmsg.MAX_BATCH + 6)]
        batcher = _mmsg.BatchSender(sender)
        sent = 0
        for _ in range(10):
            if sent == len(batch):
                break
            count, error = batcher.send(batch[sent:])
            assert error == 0
            sent += count
        assert sent == len(batch)
        for index, r in enumerate(receivers):
            expected = [data for i, (data, _) in enumerate(batch) if i % 2 == index]
            assert _drain(r, len(expected)) == expected
    finally:
        sender.close()
        for r in receivers:
            r.close()


def test_closed_socket_reports_an_error() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    batcher = _mmsg.BatchSender(sock)
    sock.close()
    assert batcher.send([(b"x", ("127.0.0.1", 9)), (b"y", ("127.0.0.1", 9))]) == (0, errno.EBADF)
