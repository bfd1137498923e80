"""Cross-stack failover: netchan's ``udp://`` against the Linux kernel's SCTP over UDP
(RFC 6951), two addresses on each side, between two test hosts (network namespaces).

Collected only where the kernel has SCTP (inside the SCTP VM: scripts/kernel-tests.sh). The
data sender runs in host ``a``, the receiver in host ``b``; once in each direction the sender
is the other stack:

* ``udp://`` sends, the kernel receives: our stack moves the data to link 2 (RFC 9260 §6.4,
  RFC 7829) and the kernel must SACK over it;
* the kernel sends, ``udp://`` receives: the kernel fails over, our stack must accept the
  packets from the kernel's second address (§8.5) and answer there.

Link 1 (the primary: each sender lists the peer's link-1 address first) becomes a black hole
for 5 s during a transfer of numbered messages on one ordered stream. Every message must arrive
once and in order, with no gap over 2 s between arrivals; after link 1 comes back, the sender
must see the link-1 address of the peer available again (heartbeats, §8.3).
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

from .conftest import TwoLinks, _run, child, wait_line

COUNT = 900  # 9 s at 100 messages per second
RATE = 100.0
KERNEL_UDP_PORT = 9899  # net.sctp.udp_port in the kernel's namespace
KERNEL_SCTP_PORT = 9900
USER_PORT = 9901

RECEIVER = """
import json, sys, time, trio
from netchan.transport import open_endpoint
async def main():
    address, count, options = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    async with open_endpoint(address, **options) as ep:
        print("ready", flush=True)
        got = []
        with trio.fail_after(60):
            while len(got) < count:
                msg = await ep.receive()
                got.append((int.from_bytes(msg.data, "big"), time.monotonic()))
            await msg.association.send(b"done", stream=1)
            await trio.sleep(0.5)  # the answer's SACK
    print(json.dumps(got), flush=True)
trio.run(main)
"""

SENDER = """
import json, sys, time, trio
from netchan.transport import open_endpoint
async def main():
    local, remote, count, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    options = json.loads(sys.argv[5])
    events = []
    start = time.monotonic()
    async with open_endpoint(local, **options) as ep:
        async def watch():
            while True:
                ev = await ep.next_event()
                address = getattr(ev, "address", None)
                events.append((type(ev).__name__, address, getattr(ev, "state", None),
                               time.monotonic() - start))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            with trio.fail_after(60):
                assoc = await ep.connect(remote)
                for n in range(count):
                    await assoc.send(n.to_bytes(4, "big"), stream=1)
                    if n == 100:
                        print("sending", flush=True)
                    await trio.sleep(1 / rate)
                assert (await ep.receive()).data == b"done"
            # Link 1 is back since about 3 s: give the heartbeat time to find it.
            await trio.sleep(2.0)
            print(json.dumps({"events": events, "paths": list(assoc.peer_addresses)}),
                  flush=True)
            nursery.cancel_scope.cancel()
trio.run(main)
"""


def _kernel_udp_port(net: TwoLinks, host: str) -> None:
    """Turn on the kernel's SCTP-over-UDP in ``host``'s namespace (the sysctl is per netns)."""
    ns = net.a if host == "a" else net.b
    for name, value in (("udp_port", KERNEL_UDP_PORT), ("encap_port", 0)):
        _run("ip", "netns", "exec", ns, "sh", "-c", f"echo {value} > /proc/sys/net/sctp/{name}")


@pytest.mark.parametrize("sender", ["udp", "kernel"])
def test_link_1_black_holed_for_5_s(two_links: TwoLinks, sender: str) -> None:
    net = two_links
    a1, a2, b1, b2 = (net.addr(h, n) for h in "ab" for n in (1, 2))
    fast = {"heartbeat_interval": 0.5}
    if sender == "udp":
        _kernel_udp_port(net, "b")
        recv_addr, recv_opts = f"sctp://{b1},{b2}:{KERNEL_SCTP_PORT}", fast
        send_addr, send_opts = f"udp://{a1},{a2}:0", fast
        target = f"udp://{b1},{b2}:{KERNEL_UDP_PORT}?sctp_port={KERNEL_SCTP_PORT}"
        link1_peer = f"udp://{b1}:{KERNEL_UDP_PORT}?sctp_port={KERNEL_SCTP_PORT}"
    else:
        _kernel_udp_port(net, "a")
        recv_addr, recv_opts = f"udp://{b1},{b2}:{USER_PORT}", fast
        send_addr = f"sctp://{a1},{a2}:0"
        send_opts = fast | {"udp_encapsulation_port": USER_PORT}
        target = f"sctp://{b1},{b2}:{USER_PORT}"
        link1_peer = target.replace(f"{b1},{b2}", b1)

    receiver = child(net, "b", RECEIVER, recv_addr, str(COUNT), json.dumps(recv_opts))
    proc = None
    try:
        wait_line(receiver, "ready", 30)
        proc = child(
            net, "a", SENDER, send_addr, target, str(COUNT), str(RATE), json.dumps(send_opts)
        )
        wait_line(proc, "sending", 30)
        assert net.rx_packets("b", 1) >= 50, "link 1 did not carry the transfer"
        cut_at = time.monotonic()
        net.cut(1)
        time.sleep(5.0)
        net.restore(1)
        out, err = receiver.communicate(timeout=60)
        assert receiver.returncode == 0, err
        sender_out, sender_err = proc.communicate(timeout=30)
        assert proc.returncode == 0, sender_err
    finally:
        for p in (receiver, proc):
            if p is not None and p.poll() is None:
                p.kill()
                p.communicate(timeout=10)
    got = json.loads(out.strip().splitlines()[-1])
    assert [v for v, _ in got] == list(range(COUNT)), "every message once and in order"
    times = [t for _, t in got]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 2.0, f"largest gap between arrivals {max(gaps):.3f} s"
    # The failover: the largest gap among the arrivals during the cut.
    during = [g for g, t in zip(gaps, times[1:], strict=True) if cut_at <= t <= cut_at + 5.5]
    assert during, "nothing arrived while link 1 was cut"
    report = json.loads(sender_out.strip().splitlines()[-1])
    states = [(addr, state) for kind, addr, state, _t in report["events"] if addr == link1_peer]
    assert report["paths"] and link1_peer in report["paths"], report["paths"]
    # Link 1 left service during the cut and came back afterwards.
    down = [i for i, (_, s) in enumerate(states) if s in ("potentially_failed", "unreachable")]
    assert down, f"link 1 never left service: {report['events']}"
    assert any(s == "available" for _, s in states[down[0] :]), report["events"]
    print(f"{sender} sender: largest gap {max(gaps):.3f} s, during the cut {max(during):.3f} s")
