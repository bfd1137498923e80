"""The wire format against a real peer: usrsctp's echo_server over UDP on loopback.

Packets are built and parsed by hand with ``netchan.transport.sctp.packet`` only (no
association logic), so this checks our byte layouts and CRC32c byte order against an
independent implementation: usrsctp drops packets with a bad checksum silently, and every
packet it sends must pass ``parse_packet`` with checksum verification and re-serialize to the
same bytes.

echo_server's arguments: local UDP port, remote UDP port (its SCTP port is 7); it echoes each
message on the stream and with the PPID it arrived with.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from netchan.transport.sctp.packet import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    Packet,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    StateCookieParameter,
    SupportedAddressTypesParameter,
    UnknownChunk,
    UnrecognizedChunkTypeCause,
    UserInitiatedAbortCause,
    parse_packet,
    serialize_packet,
)

ECHO_SERVER = "/usr/lib/usrsctp/echo_server"
ECHO_PORT = 7
OUR_PORT = 5000
OUR_TAG = 0x1234ABCD
OUR_TSN = 0xFFFFFFFE  # wraps after two chunks

pytestmark = [
    pytest.mark.usrsctp,
    pytest.mark.skipif(
        not os.access(ECHO_SERVER, os.X_OK), reason="usrsctp examples are not installed"
    ),
]


class Peer:
    """A raw UDP socket speaking hand-built SCTP packets to echo_server."""

    def __init__(self, sock: socket.socket, server: tuple[str, int]) -> None:
        self.sock = sock
        self.server = server
        self.peer_tag = 0
        self.received: list[bytes] = []

    def send(self, chunks: list[Chunk], vtag: int | None = None) -> None:
        tag = self.peer_tag if vtag is None else vtag
        self.sock.sendto(serialize_packet(OUR_PORT, ECHO_PORT, tag, chunks), self.server)

    def receive(self) -> Packet:
        data, _ = self.sock.recvfrom(65536)
        self.received.append(data)
        packet = parse_packet(data)  # checksum verified
        assert (packet.src_port, packet.dst_port) == (ECHO_PORT, OUR_PORT)
        assert packet.verification_tag == OUR_TAG
        # Byte-exact round trip of what a real peer sent.
        assert packet.serialize() == data
        return packet

    def receive_until(self, wanted: Callable[[Chunk], bool], limit: int = 20) -> list[Chunk]:
        """Chunks received up to and including the first one ``wanted`` accepts."""
        seen: list[Chunk] = []
        deadline = time.monotonic() + 5.0
        for _ in range(limit):
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            for chunk in self.receive().chunks:
                seen.append(chunk)
                if wanted(chunk):
                    return seen
        raise AssertionError(f"not received within {limit} packets: {seen}")


@pytest.fixture
def peer() -> Iterator[Peer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    server_port = probe.getsockname()[1]
    probe.close()
    process = subprocess.Popen(
        [ECHO_SERVER, str(server_port), str(sock.getsockname()[1])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield Peer(sock, ("127.0.0.1", server_port))
    finally:
        process.kill()
        process.wait(timeout=5)
        sock.close()


def _handshake(peer: Peer) -> InitAckChunk:
    init = InitChunk(OUR_TAG, 65536, 16, 16, OUR_TSN, (SupportedAddressTypesParameter((5,)),))
    # echo_server binds its UDP port before its SCTP socket listens: until then an INIT is
    # out of the blue and answered with ABORT (§8.4), or lost. Retry a few times (T1-init,
    # by hand).
    for _attempt in range(20):
        peer.send([init], vtag=0)
        peer.sock.settimeout(0.25)
        try:
            packet = peer.receive()
        except TimeoutError:
            continue
        if isinstance(packet.chunks[0], AbortChunk):
            time.sleep(0.1)
            continue
        break
    else:
        raise AssertionError("echo_server did not answer our INIT")
    (ack,) = packet.chunks
    assert isinstance(ack, InitAckChunk)
    assert ack.problem() is None
    assert ack.state_cookie is not None
    assert any(isinstance(p, StateCookieParameter) for p in ack.parameters)
    peer.peer_tag = ack.initiate_tag
    peer.send([CookieEchoChunk(ack.state_cookie)])
    assert CookieAckChunk() in peer.receive_until(lambda c: isinstance(c, CookieAckChunk))
    return ack


def test_handshake_data_heartbeat_shutdown(peer: Peer) -> None:
    ack = _handshake(peer)

    # One ordered message with the I bit, then an unordered one in two fragments; our TSNs
    # wrap from 0xFFFFFFFF to 0 in between.
    peer.send([DataChunk(OUR_TSN, 3, 0, 42, b"hello usrsctp", immediate=True)])
    peer.send(
        [
            DataChunk(OUR_TSN + 1, 5, 0, 7, b"first half/", True, True, False),
            DataChunk(0, 5, 0, 7, b"second half", True, False, True),
        ]
    )
    echoed: list[DataChunk] = []
    sacks: list[SackChunk] = []

    def complete(chunk: Chunk) -> bool:
        if isinstance(chunk, DataChunk):
            if chunk not in echoed:  # retransmissions repeat
                echoed.append(chunk)
            # Acknowledge at once (loopback keeps order): usrsctp's Nagle holds the next
            # message back while data is unacknowledged.
            peer.send([SackChunk(chunk.tsn, 65536)])
        if isinstance(chunk, SackChunk):
            sacks.append(chunk)
        whole = sum(1 for d in echoed if d.ending)
        return whole == 2 and any(s.cumulative_tsn_ack == 0 for s in sacks)

    peer.receive_until(complete)
    # Our three DATA chunks (TSNs 0xFFFFFFFE, 0xFFFFFFFF, 0) are acknowledged across the wrap.
    assert sacks[-1].cumulative_tsn_ack == 0
    assert {(d.stream_id, d.ppid) for d in echoed} == {(3, 42), (5, 7)}
    by_stream = {sid: b"".join(d.user_data for d in echoed if d.stream_id == sid) for sid in (3, 5)}
    assert by_stream == {3: b"hello usrsctp", 5: b"first half/second half"}
    # The peer's TSNs start at the Initial TSN of its INIT ACK and have no holes.
    count = len({d.tsn for d in echoed})
    last_tsn = (ack.initial_tsn + count - 1) % 2**32
    assert {d.tsn for d in echoed} == {(ack.initial_tsn + i) % 2**32 for i in range(count)}

    peer.send([HeartbeatChunk(b"\x00probe\xff")])
    replies = peer.receive_until(lambda c: isinstance(c, HeartbeatAckChunk))
    assert replies[-1] == HeartbeatAckChunk(b"\x00probe\xff")

    peer.send([ShutdownChunk(last_tsn)])
    peer.receive_until(lambda c: isinstance(c, ShutdownAckChunk))
    peer.send([ShutdownCompleteChunk()])


def test_unknown_chunk_is_reported_and_abort_is_accepted(peer: Peer) -> None:
    _handshake(peer)
    # Type 0x7F: upper bits 01 = "stop processing and report" (RFC 9260 §3.2).
    unknown = UnknownChunk(0x7F, 0, b"xyz")
    peer.send([unknown])
    chunks = peer.receive_until(lambda c: isinstance(c, ErrorChunk))
    error = chunks[-1]
    assert isinstance(error, ErrorChunk)
    (cause,) = error.causes
    assert isinstance(cause, UnrecognizedChunkTypeCause)
    assert cause.chunk.startswith(unknown.raw_bytes())
    assert "unrecognized chunk type 127" in str(cause)

    peer.send([AbortChunk((UserInitiatedAbortCause(b"test over"),))])
    # After our ABORT the association is gone: a DATA chunk is now out of the blue and is
    # answered with an ABORT carrying the T bit (§8.4 rule 8), or silently dropped.
    peer.send([DataChunk(OUR_TSN, 0, 0, 0, b"late")])
    peer.sock.settimeout(0.5)
    try:
        data, _ = peer.sock.recvfrom(65536)
    except TimeoutError:
        return
    packet = parse_packet(data)
    assert isinstance(packet.chunks[0], AbortChunk)
    assert packet.chunks[0].tag_reflected
