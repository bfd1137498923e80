"""Kernel-specific tests of ``sctp://`` (inside the SCTP VM): what the shared suite can't cover.

Multihoming with several loopback addresses, partial reads of messages larger than the
receive chunk, the PPID's byte order on the wire (seen through a raw socket), abort reasons,
connection failures, peer-address notifications.
"""

from __future__ import annotations

import socket
import struct

import pytest
import trio

from netchan.transport import (
    Association,
    AssociationAborted,
    AssociationAbortedError,
    AssociationEstablished,
    PeerAddressChanged,
    open_endpoint,
)
from tests.endpoint_suite import payload, wait_event

TIMEOUT = 60.0


async def test_multihomed_endpoints() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1,127.0.0.2:0") as srv,
            open_endpoint("sctp://127.0.0.1,127.0.0.3:0") as cli,
        ):
            port = int(srv.address.rsplit(":", 1)[1])
            assert srv.address == f"sctp://127.0.0.1,127.0.0.2:{port}"
            cport = int(cli.address.rsplit(":", 1)[1])
            assoc = await cli.connect(f"sctp://127.0.0.1,127.0.0.2:{port}")
            assert set(assoc.peer_addresses) == {
                f"sctp://127.0.0.1:{port}",
                f"sctp://127.0.0.2:{port}",
            }
            server_side = (await wait_event(srv, AssociationEstablished)).association
            assert set(server_side.peer_addresses) == {
                f"sctp://127.0.0.1:{cport}",
                f"sctp://127.0.0.3:{cport}",
            }
            # either peer address finds the same association
            assert await cli.send(b"via .2", to=f"sctp://127.0.0.2:{port}") is assoc
            msg = await srv.receive()
            assert (msg.data, msg.association) == (b"via .2", server_side)


async def test_pieces_of_large_messages_are_reassembled_per_stream() -> None:
    # recv_chunk=1024: every message above 1 KiB is read in pieces without MSG_EOR.
    sizes = [5000, 1023, 1024, 1025, 100_000, 3]
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", recv_chunk=1024) as srv,
            open_endpoint("sctp://127.0.0.1:0") as c1,
            open_endpoint("sctp://127.0.0.1:0") as c2,
        ):
            a1 = await c1.connect(srv.address)
            a2 = await c2.connect(srv.address)

            async def send_all(assoc: Association, base: int) -> None:
                for i, n in enumerate(sizes):
                    await assoc.send(payload(base + i, n), stream=i % 3)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send_all, a1, 0)
                nursery.start_soon(send_all, a2, 100)
                got = [await srv.receive() for _ in range(2 * len(sizes))]
            for base, peer in ((0, c1.address), (100, c2.address)):
                mine = [m for m in got if peer in m.association.peer_addresses]
                for s in range(3):
                    assert [m.data for m in mine if m.stream == s] == [
                        payload(base + i, n) for i, n in enumerate(sizes) if i % 3 == s
                    ]


async def test_ppid_is_in_network_byte_order_on_the_wire() -> None:
    # A raw IPPROTO_SCTP socket (we are root in the VM) sees copies of the packets on lo.
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
    raw.setblocking(False)
    try:
        with trio.fail_after(TIMEOUT):
            async with (
                open_endpoint("sctp://127.0.0.1:0") as srv,
                open_endpoint("sctp://127.0.0.1:0") as cli,
            ):
                await cli.send(b"ppid probe", to=srv.address, stream=2, ppid=0x01020304)
                assert (await srv.receive()).ppid == 0x01020304
                found = None
                for _ in range(200):
                    await trio.lowlevel.wait_readable(raw)
                    pkt = raw.recv(65536)
                    ihl = (pkt[0] & 0x0F) * 4
                    pos = ihl + 12  # IP header, SCTP common header (RFC 9260 §3.1)
                    while pos + 4 <= len(pkt):
                        ctype, _flags, clen = struct.unpack_from("!BBH", pkt, pos)
                        if clen < 4:
                            break
                        if ctype == 0 and pkt[pos + 16 : pos + clen] == b"ppid probe":
                            # DATA (RFC 9260 §3.3.1): TSN, stream id, SSN, then the PPID
                            found = struct.unpack_from("!HHI", pkt, pos + 8)
                            break
                        pos += (clen + 3) & ~3
                    if found:
                        break
                assert found is not None
                stream, _ssn, ppid = found
                assert (stream, ppid) == (2, 0x01020304)
    finally:
        raw.close()


async def test_abort_reason_reaches_the_peer() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0") as srv,
            open_endpoint("sctp://127.0.0.1:0") as cli,
        ):
            assoc = await cli.connect(srv.address)
            server_side = (await wait_event(srv, AssociationEstablished)).association
            server_side.abort("maintenance window")
            ev = await wait_event(cli, AssociationAborted, assoc)
            assert ev.error.by_peer
            assert "user-initiated abort" in ev.error.reason
            assert "maintenance window" in ev.error.reason


async def test_connect_to_nobody_fails_promptly() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_endpoint("sctp://127.0.0.1:0") as cli:
            # a port nobody listens on: the peer's kernel answers INIT with ABORT
            probe = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            with trio.fail_after(10):
                with pytest.raises(trio.BrokenResourceError) as info:
                    await cli.connect(f"sctp://127.0.0.1:{port}")
            assert isinstance(info.value.__cause__, AssociationAbortedError)
            assert cli.associations == ()


async def test_message_larger_than_max_message_size() -> None:
    from netchan.transport import MessageTooLargeError

    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0") as srv,
            open_endpoint("sctp://127.0.0.1:0", max_message_size=1000) as cli,
        ):
            with pytest.raises(MessageTooLargeError):
                await cli.send(b"x" * 1001, to=srv.address)
            assoc = await cli.connect(srv.address)
            with pytest.raises(MessageTooLargeError):
                await assoc.send(b"x" * 1001)
            await assoc.send(b"x" * 1000)
            assert len((await srv.receive()).data) == 1000


async def test_peer_address_events_on_multihomed_association() -> None:
    # The client offers a second address (127.0.0.3) in its INIT; the server must confirm it
    # with a HEARTBEAT (RFC 9260 §5.4) and reports the change as an event.
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", heartbeat_interval=0.2) as srv,
            open_endpoint("sctp://127.0.0.1,127.0.0.3:0", heartbeat_interval=0.2) as cli,
        ):
            cport = int(cli.address.rsplit(":", 1)[1])
            await cli.connect(srv.address)
            server_side = (await wait_event(srv, AssociationEstablished)).association
            ev = await wait_event(srv, PeerAddressChanged, server_side)
            assert ev.address == f"sctp://127.0.0.3:{cport}"
            assert ev.state == "confirmed"


async def test_ipv6_and_dual_stack() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://[::1]:0") as srv6,
            open_endpoint("sctp://127.0.0.1,[::1]:0") as dual,
        ):
            assert srv6.address.startswith("sctp://[::1]:")
            port = int(dual.address.rsplit(":", 1)[1])
            assert dual.address == f"sctp://127.0.0.1,[::1]:{port}"
            assoc = await dual.send(b"six", to=srv6.address, stream=1)
            msg = await srv6.receive()
            assert (msg.data, msg.stream) == (b"six", 1)
            assert f"sctp://[::1]:{port}" in msg.association.peer_addresses
            assert srv6.address in assoc.peer_addresses
            # and IPv4 into the dual-stack endpoint
            async with open_endpoint("sctp://127.0.0.1:0") as v4:
                await v4.send(b"four", to=f"sctp://127.0.0.1:{port}")
                got = await dual.receive()
                assert got.data == b"four"
                assert v4.address in got.association.peer_addresses


async def test_unread_messages_of_a_closed_association_do_not_stall_others() -> None:
    # The server reads nothing from `a` until its queue exceeds receive_window, then aborts
    # that association: its unread messages are dropped and the reader goes on for `b`.
    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint("sctp://127.0.0.1:0", receive_window=65536) as srv,
            open_endpoint("sctp://127.0.0.1:0") as ca,
            open_endpoint("sctp://127.0.0.1:0") as cb,
        ):
            a = await ca.connect(srv.address)
            server_a = (await wait_event(srv, AssociationEstablished)).association
            for i in range(8):
                await a.send(payload(i, 16384))
            while server_a.statistics().receive_buffered < 65536:
                await trio.sleep(0.05)
            server_a.abort("enough")
            await cb.send(b"from b", to=srv.address)
            msg = await srv.receive()
            assert msg.data == b"from b"


async def test_concurrent_senders_blocked_on_one_socket() -> None:
    # Several tasks wait for the same socket to become writable at once (the kernel's send
    # buffer is shared by the socket's associations); all of them must get through.
    small = {"send_buffer": 32768, "receive_window": 32768}
    peers, count, size = 3, 40, 8192
    with trio.fail_after(TIMEOUT * 2):
        async with open_endpoint("sctp://127.0.0.1:0", **small) as cli:
            servers = []
            async with trio.open_nursery() as nursery:
                for _ in range(peers):
                    servers.append(await nursery.start(_serve_slowly, count, size, small))
                assocs = [await cli.connect(addr) for addr, _ in servers]

                async def sender(n: int) -> None:
                    for i in range(count):
                        await assocs[n].send(payload(1000 * n + i, size), stream=1)

                for n in range(peers):
                    nursery.start_soon(sender, n)
            for n, (_, got) in enumerate(servers):
                assert got == [payload(1000 * n + i, size) for i in range(count)]


async def _serve_slowly(
    count: int,
    size: int,
    options: dict[str, int],
    task_status: trio.TaskStatus[tuple[str, list[bytes]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    got: list[bytes] = []
    async with open_endpoint("sctp://127.0.0.1:0", **options) as srv:
        task_status.started((srv.address, got))
        await trio.sleep(0.5)  # let the senders fill every buffer first
        for _ in range(count):
            got.append((await srv.receive()).data)
            await trio.sleep(0.001)
