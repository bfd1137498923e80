"""Interoperability of ``udp://`` with usrsctp's example programs (libusrsctp-examples).

Everything runs on loopback with free UDP ports; each program is killed in teardown and its
stdout (Debian's build logs a lot) goes to a file under the test's tmp_path. Arguments, as the
programs define them (see also benchmarks/_tsctp.py):

* ``echo_server LOCAL_UDP REMOTE_UDP``: listens on SCTP port 7 behind UDP port LOCAL_UDP and
  sends to UDP port REMOTE_UDP; echoes each complete message on its stream with its PPID and
  unordered flag. It reads 10240 bytes at a time and only echoes the read that completes a
  message, so echo tests stay at or below 10240 bytes (still 9 fragments at our PMTU).
* ``discard_server LOCAL_UDP REMOTE_UDP``: SCTP port 9; prints "... complete 1" per message.
* ``client ADDR SCTP_PORT LOCAL_SCTP_PORT LOCAL_UDP REMOTE_UDP``: sends its stdin line by line
  on stream 0, prints what comes back, shuts down at end of input.
* ``tsctp``: receiver ``-E LOCAL_UDP -p SCTP_PORT``; sender ``-E LOCAL_UDP -U REMOTE_UDP
  -p SCTP_PORT -l LENGTH -n COUNT [-u] ADDR`` (last message with SCTP_EOF: SHUTDOWN).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import trio

from benchmarks._tsctp import (
    available,
    free_udp_port,
    parse_receiver_reports,
    program,
    running,
    udp_port_taken,
)
from netchan.transport import (
    Association,
    AssociationAborted,
    AssociationAbortedError,
    AssociationClosed,
    Endpoint,
    Message,
    open_endpoint,
)

pytestmark = [
    pytest.mark.usrsctp,
    pytest.mark.skipif(
        not available("echo_server", "discard_server", "client", "tsctp"),
        reason="usrsctp example programs not installed (scripts/setup.sh installs them)",
    ),
]

HOST = "127.0.0.1"
TIMEOUT = 30.0


def _payload(index: int, size: int) -> bytes:
    """Distinct, checkable bytes for message ``index``."""
    unit = f"<{index}:".encode()
    return (unit * (size // len(unit) + 1))[:size]


async def wait_bound(port: int, timeout: float = 5.0) -> None:
    """Wait (bounded) until a freshly started program listens on its UDP port."""
    deadline = time.monotonic() + timeout
    while not udp_port_taken(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing bound UDP port {port} within {timeout} s")
        await trio.sleep(0.02)


async def connect_when_listening(ep: Endpoint, url: str) -> Association:
    """Connect to a program that just started (bounded retries).

    usrsctp binds its UDP port in ``usrsctp_init`` before the SCTP socket listens; an INIT
    arriving in between is answered with ABORT. Retrying a few times covers that start-up
    window; any other failure still fails the test.
    """
    for _attempt in range(20):
        try:
            return await ep.connect(url)
        except trio.BrokenResourceError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, AssociationAbortedError) and cause.by_peer):
                raise
            await trio.sleep(0.05)
    return await ep.connect(url)


async def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{proc.args!r} did not exit within {timeout} s")
        await trio.sleep(0.05)
    return proc.returncode


async def _wait_output(prog_output: object, predicate: object, timeout: float) -> str:
    assert callable(prog_output) and callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        text = prog_output()
        assert isinstance(text, str)
        if predicate(text):
            return text
        if time.monotonic() > deadline:
            raise TimeoutError("expected output did not appear")
        await trio.sleep(0.05)


def _url(host: str, port: int, sctp_port: int | None = None) -> str:
    text = f"udp://[{host}]:{port}" if ":" in host else f"udp://{host}:{port}"
    return text if sctp_port is None else f"{text}?sctp_port={sctp_port}"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_echo_server_echoes_every_stream_ordered_and_unordered(
    tmp_path: Path, host: str
) -> None:
    if ":" in host and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    ours, theirs = free_udp_port(host), free_udp_port()
    cases = [
        (stream, size, unordered)
        for stream in (0, 1, 5, 9)
        for size in (1, 100, 1188, 1200, 4000, 10240)
        for unordered in (False, True)
    ]
    with running(
        [str(program("echo_server")), str(theirs), str(ours)], workdir=tmp_path, name="echo"
    ):
        await wait_bound(theirs)
        async with open_endpoint(_url(host, ours)) as ep:
            with trio.fail_after(TIMEOUT):
                assoc = await connect_when_listening(ep, _url(host, theirs, 7))
                assert assoc.outbound_streams >= 10
                # The PPID names each message: echo_server sends it back unchanged.
                sent = {}
                for index, (stream, size, unordered) in enumerate(cases):
                    data = _payload(index, size)
                    sent[1000 + index] = (data, stream, unordered)
                    await assoc.send(data, stream=stream, ppid=1000 + index, unordered=unordered)
                echoed: list[Message] = [await assoc.receive() for _ in cases]
                for msg in echoed:
                    assert msg.ppid in sent, f"unexpected echo with PPID {msg.ppid}"
                    assert (msg.data, msg.stream, msg.unordered) == sent[msg.ppid]
                    assert msg.association is assoc
                assert sorted(m.ppid for m in echoed) == sorted(sent)
                # Ordered messages come back in order within each stream.
                for stream in (0, 1, 5, 9):
                    order = [m.ppid for m in echoed if m.stream == stream and not m.unordered]
                    assert order == sorted(order)
                await assoc.aclose()
                assert assoc.statistics().state == "CLOSED"


async def test_discard_server_takes_large_fragmented_messages(tmp_path: Path) -> None:
    ours, theirs = free_udp_port(), free_udp_port()
    sizes = [1, 65536, 65537, 200_000, 1500, 70_000]
    with running(
        [str(program("discard_server")), str(theirs), str(ours)],
        workdir=tmp_path,
        name="discard",
    ) as prog:
        await wait_bound(theirs)
        async with open_endpoint(f"udp://{HOST}:{ours}") as ep:
            with trio.fail_after(TIMEOUT):
                assoc = await connect_when_listening(ep, f"udp://{HOST}:{theirs}?sctp_port=9")
                for index, size in enumerate(sizes):
                    await assoc.send(_payload(index, size), stream=index % 3)
                # Graceful close returns once every message was acknowledged.
                await assoc.aclose()
                text = await _wait_output(
                    prog.output, lambda t: t.count("complete 1") >= len(sizes), 5.0
                )
        assert text.count("complete 1") == len(sizes)


async def test_usrsctp_client_to_our_server(tmp_path: Path) -> None:
    ours, theirs = free_udp_port(), free_udp_port()
    lines = [f"line {i} from usrsctp\n" for i in range(20)]
    async with open_endpoint(f"udp://{HOST}:{ours}") as ep:
        with running(
            [str(program("client")), HOST, str(ours), "0", str(theirs), str(ours)],
            workdir=tmp_path,
            stdin=subprocess.PIPE,
            name="client",
        ) as prog:
            assert prog.process.stdin is not None
            prog.process.stdin.write("".join(lines).encode())
            prog.process.stdin.flush()
            got: list[Message] = []
            with trio.fail_after(TIMEOUT):
                while len(got) < len(lines):
                    msg = await ep.receive()
                    got.append(msg)
                    await msg.association.send(msg.data, stream=msg.stream, ppid=msg.ppid)
                assert [m.data.decode() for m in got] == lines
                assert {m.stream for m in got} == {0}
                # The client prints what we echoed.
                await _wait_output(prog.output, lambda t: all(x in t for x in lines), 10.0)
                # End of input: the client shuts down; we see a graceful close.
                prog.process.stdin.close()
                while True:
                    event = await ep.next_event()
                    if isinstance(event, AssociationClosed | AssociationAborted):
                        break
                assert isinstance(event, AssociationClosed)
                assert await _wait_exit(prog.process, 10.0) == 0
            out = prog.output()
            for line in lines:
                assert line in out


@pytest.mark.parametrize(("length", "count", "unordered"), [(1024, 2000, False), (200, 500, True)])
async def test_tsctp_sends_to_us(
    tmp_path: Path, tsctp_quiet: Path | None, length: int, count: int, unordered: bool
) -> None:
    ours, theirs = free_udp_port(), free_udp_port()
    async with open_endpoint(f"udp://{HOST}:{ours}") as ep:
        args = [str(program("tsctp")), "-E", str(theirs), "-U", str(ours), "-p", str(ours)]
        args += ["-l", str(length), "-n", str(count)]
        args += ["-u"] if unordered else []
        with running([*args, HOST], workdir=tmp_path, quiet=tsctp_quiet, name="tsctp") as prog:
            received = 0
            total = 0
            with trio.fail_after(TIMEOUT):
                while received < count:
                    msg = await ep.receive()
                    assert (msg.stream, msg.unordered) == (0, unordered)
                    assert msg.data == b"b" * length
                    received += 1
                    total += len(msg.data)
                event = await ep.next_event()
                while not isinstance(event, AssociationClosed | AssociationAborted):
                    event = await ep.next_event()
                assert isinstance(event, AssociationClosed)
                assert await _wait_exit(prog.process, 10.0) == 0
        assert (received, total) == (count, count * length)
        assert f"Sending of {count} messages of length {length}" in prog.output()


@pytest.mark.parametrize(("length", "count"), [(1024, 2000), (65536, 40)])
async def test_we_send_to_tsctp(
    tmp_path: Path, tsctp_quiet: Path | None, length: int, count: int
) -> None:
    ours, theirs = free_udp_port(), free_udp_port()
    with running(
        [str(program("tsctp")), "-E", str(theirs), "-p", "5001"],
        workdir=tmp_path,
        quiet=tsctp_quiet,
        name="tsctp-recv",
    ) as prog:
        await wait_bound(theirs)
        async with open_endpoint(f"udp://{HOST}:{ours}") as ep:
            with trio.fail_after(TIMEOUT):
                assoc = await connect_when_listening(ep, f"udp://{HOST}:{theirs}?sctp_port=5001")
                for _ in range(count):
                    await assoc.send(b"b" * length)
                await assoc.aclose()
                text = await _wait_output(
                    prog.output, lambda t: bool(parse_receiver_reports(t)), 10.0
                )
        report = parse_receiver_reports(text)[0]
        assert (report.length, report.messages, report.bytes) == (length, count, length * count)
        stats = assoc.statistics()
        assert stats.messages_sent == count


async def test_our_abort_then_a_new_association_works(tmp_path: Path) -> None:
    ours, theirs = free_udp_port(), free_udp_port()
    with running(
        [str(program("echo_server")), str(theirs), str(ours)], workdir=tmp_path, name="echo"
    ):
        await wait_bound(theirs)
        async with open_endpoint(f"udp://{HOST}:{ours}") as ep:
            with trio.fail_after(TIMEOUT):
                url = f"udp://{HOST}:{theirs}?sctp_port=7"
                first = await connect_when_listening(ep, url)
                await first.send(b"ping")
                assert (await first.receive()).data == b"ping"
                first.abort("test abort")
                with pytest.raises(trio.ClosedResourceError):
                    await first.send(b"after abort")
                # usrsctp processed the ABORT: a new association to it works.
                second = await ep.connect(url)
                assert second is not first
                await second.send(b"again", stream=2)
                echo = await second.receive()
                assert (echo.data, echo.stream) == (b"again", 2)
                await second.aclose()


async def test_killed_peer_is_detected_through_icmp(tmp_path: Path) -> None:
    """A usrsctp process that dies sends no ABORT; ICMP port unreachable ends it at once.

    The host rate-limits ICMP errors (``net.ipv4.icmp_msgs_per_sec``, shared with every
    other test's dead ports), so one datagram may go unanswered: a message every 0.2 s
    (``nodelay``: each leaves at once) until the abort. The abort must say ICMP and come
    before the first retransmission timeout (3 s), which is the only other way this
    association could end; the endpoint's counters are in the failure message.

    usrsctp lists every address of its host in the INIT ACK, so on a host with an interface
    besides loopback the association is multihomed: while that second address has not yet
    answered a HEARTBEAT (a loaded machine, a peer killed right after the handshake), it is
    no path to fail over to, and the ICMP must end the association all the same (once in a
    few loaded runs it waited for the T3 timeout instead; the sans-io case is
    ``tests/sctp/test_multihoming.py::
    test_icmp_unreachable_with_only_unconfirmed_other_addresses_aborts``)."""
    ours, theirs = free_udp_port(), free_udp_port()
    # Long heartbeats and RTOs: only ICMP can explain an abort within 3 s.
    options = {
        "heartbeat_interval": 30.0,
        "rto_initial": 3.0,
        "rto_min": 3.0,
        "rto_max": 10.0,
        "nodelay": True,
    }
    async with open_endpoint(f"udp://{HOST}:{ours}", **options) as ep:
        with running(
            [str(program("echo_server")), str(theirs), str(ours)], workdir=tmp_path, name="echo"
        ) as prog:
            await wait_bound(theirs)
            with trio.fail_after(TIMEOUT):
                assoc = await connect_when_listening(ep, f"udp://{HOST}:{theirs}?sctp_port=7")
                await assoc.send(b"ping")
                assert (await assoc.receive()).data == b"ping"
            prog.stop()
        start = trio.current_time()
        with trio.fail_after(5), pytest.raises(trio.BrokenResourceError) as info:
            for n in range(12):
                await assoc.send(b"anyone there? %d" % n)
                with trio.move_on_after(0.2):
                    await assoc.receive()
            await assoc.receive()
        elapsed = trio.current_time() - start
        assert elapsed < 2.9, (elapsed, ep.statistics())
        cause = info.value.__cause__
        assert isinstance(cause, AssociationAbortedError)
        assert "ICMP" in str(cause), (str(cause), ep.statistics())
        assert ep.associations == ()
