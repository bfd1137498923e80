"""I-DATA (RFC 8260) against usrsctp's echo_server, with and without interleaving enabled.

usrsctp offers I-DATA only when the application asks for it on the socket (RFC 8260 §2.2.1:
SCTP_FRAGMENT_INTERLEAVE level 2, then SCTP_INTERLEAVING_SUPPORTED). The example programs
never ask, so a small LD_PRELOAD library, built here with the C compiler, asks for them in
``usrsctp_socket``. A UDP relay between the two stacks records the chunk types on the wire,
so the tests check what was negotiated where it matters: in the packets.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import trio

from benchmarks._tsctp import available, free_udp_port, program, running
from netchan.transport import open_endpoint
from netchan.transport.sctp.packet import ParseError, parse_packet
from tests.interop.test_usrsctp import connect_when_listening, wait_bound

pytestmark = [
    pytest.mark.usrsctp,
    pytest.mark.skipif(
        not available("echo_server"),
        reason="usrsctp example programs not installed (scripts/setup.sh installs them)",
    ),
]

HOST = "127.0.0.1"
DATA, IDATA = 0, 64

# Option names of usrsctp's public header (usrsctp.h), which Debian does not install.
_SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define SCTP_FRAGMENT_INTERLEAVE 0x00000010
#define SCTP_INTERLEAVING_SUPPORTED 0x00001206

struct assoc_value { uint32_t assoc_id; uint32_t assoc_value; };
typedef void *(*socket_fn)(int, int, int, void *, void *, uint32_t, void *);
typedef int (*setsockopt_fn)(void *, int, int, const void *, socklen_t);

void *usrsctp_socket(int domain, int type, int protocol, void *receive_cb, void *send_cb,
                     uint32_t threshold, void *ulp_info) {
    socket_fn real = (socket_fn)dlsym(RTLD_NEXT, "usrsctp_socket");
    setsockopt_fn setopt = (setsockopt_fn)dlsym(RTLD_NEXT, "usrsctp_setsockopt");
    void *so = real(domain, type, protocol, receive_cb, send_cb, threshold, ulp_info);
    if (so != NULL) {
        int level = 2;
        struct assoc_value on = {0, 1};
        if (setopt(so, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, sizeof level) != 0 ||
            setopt(so, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED, &on, sizeof on) != 0) {
            fprintf(stderr, "idata shim: setsockopt failed\n");
        }
    }
    return so;
}
"""


@pytest.fixture(scope="module")
def idata_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LD_PRELOAD library that makes usrsctp offer I-DATA."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build the I-DATA shim")
    work = tmp_path_factory.mktemp("idata-shim")
    source = work / "idata.c"
    source.write_text(_SHIM_SOURCE)
    target = work / "idata.so"
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(target), str(source), "-ldl"],
        check=True,
        capture_output=True,
    )
    return target


def _user_chunk_types(datagram: bytes) -> set[int]:
    try:
        packet = parse_packet(datagram)
    except ParseError:
        return {-1}
    return {c.chunk_type for c in packet.chunks if c.chunk_type in (DATA, IDATA)}


async def _relay(sock: trio.socket.SocketType, theirs: int, seen: dict[str, set[int]]) -> None:
    """Forward datagrams between our endpoint and usrsctp, noting their user chunk types."""
    ours: tuple[str, int] | None = None
    while True:
        data, addr = await sock.recvfrom(65536)
        if addr[1] == theirs:
            seen["theirs"] |= _user_chunk_types(data)
            if ours is not None:
                await sock.sendto(data, ours)
        else:
            ours = addr
            seen["ours"] |= _user_chunk_types(data)
            await sock.sendto(data, (HOST, theirs))


async def _echo_through_relay(
    tmp_path: Path, shim: Path | None, offer: bool
) -> dict[str, set[int]]:
    theirs, ours = free_udp_port(), free_udp_port()
    relay = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await relay.bind((HOST, 0))
    relay_port = relay.getsockname()[1]
    seen: dict[str, set[int]] = {"ours": set(), "theirs": set()}
    # echo_server sends to the relay (its "remote UDP port" argument).
    args = [str(program("echo_server")), str(theirs), str(relay_port)]
    with running(args, workdir=tmp_path, quiet=shim, name="echo"), relay:
        await wait_bound(theirs)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_relay, relay, theirs, seen)
            async with open_endpoint(f"udp://{HOST}:{ours}", interleaving=offer) as ep:
                with trio.fail_after(30):
                    assoc = await connect_when_listening(
                        ep, f"udp://{HOST}:{relay_port}?sctp_port=7"
                    )
                    sent = {}
                    # Fragmented (several packets) and whole messages on several streams,
                    # ordered and unordered, sent back to back so fragments interleave.
                    index = 0
                    for size in (10000, 7, 1188, 5000, 300):
                        for stream in (0, 1, 5):
                            for unordered in (False, True):
                                data = bytes([index % 251]) * size
                                sent[1000 + index] = (data, stream, unordered)
                                await assoc.send(
                                    data, stream=stream, ppid=1000 + index, unordered=unordered
                                )
                                index += 1
                    echoed = [await assoc.receive() for _ in sent]
                    for msg in echoed:
                        assert (msg.data, msg.stream, msg.unordered) == sent[msg.ppid]
                    assert sorted(m.ppid for m in echoed) == sorted(sent)
                    for stream in (0, 1, 5):
                        order = [m.ppid for m in echoed if m.stream == stream and not m.unordered]
                        assert order == sorted(order)
                    await assoc.aclose()
            nursery.cancel_scope.cancel()
    return seen


async def test_usrsctp_with_interleaving_negotiates_idata(tmp_path: Path, idata_shim: Path) -> None:
    seen = await _echo_through_relay(tmp_path, idata_shim, offer=True)
    assert seen == {"ours": {IDATA}, "theirs": {IDATA}}


async def test_usrsctp_without_interleaving_falls_back_to_data(tmp_path: Path) -> None:
    # The example programs as shipped do not offer I-DATA: DATA both ways.
    seen = await _echo_through_relay(tmp_path, None, offer=True)
    assert seen == {"ours": {DATA}, "theirs": {DATA}}


async def test_usrsctp_offering_idata_to_us_not_offering_it(
    tmp_path: Path, idata_shim: Path
) -> None:
    seen = await _echo_through_relay(tmp_path, idata_shim, offer=False)
    assert seen == {"ours": {DATA}, "theirs": {DATA}}
