"""Test hosts of our own: two network namespaces joined by two veth links.

Link 1 is 192.0.2.0/24 and link 2 is 198.51.100.0/24 (documentation prefixes, RFC 5737):
host ``a`` is .1 on both, host ``b`` is .2. A link is cut by nftables dropping on *input* in
both namespaces (a drop on output would hand the sender EPERM instead of silence), and made
lossy with ``numgen random mod 100 < N``. Everything is removed when the test ends.

The tests need root and ``ip``/``nft`` (scripts/setup.sh installs nftables); elsewhere they
are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/setup.sh installs it)"
    return None


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=20)


@dataclass
class TwoLinks:
    """Two namespaces ``a`` and ``b`` and the names of their link interfaces."""

    a: str
    b: str
    # link number -> (interface in a, interface in b)
    ifaces: dict[int, tuple[str, str]] = field(default_factory=dict)

    def addr(self, host: str, link: int) -> str:
        """The IPv4 address of ``host`` ("a" or "b") on ``link`` (1 or 2)."""
        return ("192.0.2." if link == 1 else "198.51.100.") + ("1" if host == "a" else "2")

    def _rules(self, link: int, rule: str) -> None:
        # One nft transaction per namespace, b's (the receiver of the tests' data) first: the
        # cut then loses data rather than only acknowledgements while the second one goes in.
        table = f"netchan_link{link}"
        for ns, iface in reversed(list(zip((self.a, self.b), self.ifaces[link], strict=True))):
            script = (
                f"add table inet {table}\n"
                f"add chain inet {table} input "
                "{ type filter hook input priority 0 ; policy accept ; }\n"
                f"add rule inet {table} input iifname {iface} {rule} drop\n"
            )
            argv = ["ip", "netns", "exec", ns, "nft", "-f", "-"]
            subprocess.run(argv, input=script, text=True, check=True, capture_output=True,
                           timeout=20)  # fmt: skip

    def cut(self, link: int) -> None:
        """Black-hole ``link``: every packet arriving on it, either way, is dropped."""
        self._rules(link, "")

    def lossy(self, link: int, percent: int) -> None:
        """Drop ``percent`` % of the packets arriving on ``link``, either way, at random."""
        self._rules(link, f"numgen random mod 100 < {percent}")

    def restore(self, link: int) -> None:
        """Remove what :meth:`cut` or :meth:`lossy` added to ``link``."""
        for ns in (self.a, self.b):
            table = f"netchan_link{link}"
            argv = ["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", table]
            subprocess.run(argv, capture_output=True, timeout=20)

    def rx_packets(self, host: str, link: int) -> int:
        """Packets ``host`` has received on ``link`` so far (the interface's counter)."""
        ns = self.a if host == "a" else self.b
        iface = self.ifaces[link][0 if host == "a" else 1]
        argv = ["ip", "-n", ns, "-s", "-j", "link", "show", "dev", iface]
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=20)
        return int(json.loads(out.stdout)[0]["stats64"]["rx"]["packets"])

    def exec_argv(self, host: str) -> list[str]:
        """The command prefix that runs a program inside ``host``'s namespace."""
        return ["ip", "netns", "exec", self.a if host == "a" else self.b]


def child(net: TwoLinks, host: str, script: str, *args: str) -> subprocess.Popen[str]:
    """Run the Python ``script`` (with ``args``) inside ``host``'s namespace."""
    return subprocess.Popen(
        [*net.exec_argv(host), sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_line(proc: subprocess.Popen[str], want: str, timeout: float) -> None:
    """Read ``proc``'s output until the line ``want``; kill it and fail after ``timeout``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == want:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"no {want!r} from child: {proc.communicate(timeout=10)}")


@pytest.fixture
def two_links() -> Iterator[TwoLinks]:
    """Namespaces ``a`` and ``b`` joined by links 1 and 2, torn down afterwards."""
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    tag = f"{os.getpid() % 100000}"
    net = TwoLinks(a=f"netchan-a{tag}", b=f"netchan-b{tag}")
    try:
        for ns in (net.a, net.b):
            _run("ip", "netns", "add", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        for link in (1, 2):
            ia, ib = f"nca{link}", f"ncb{link}"
            net.ifaces[link] = (ia, ib)
            _run("ip", "link", "add", ia, "netns", net.a, "type", "veth", "peer", "name", ib,
                 "netns", net.b)  # fmt: skip
            for ns, iface, host in ((net.a, ia, "a"), (net.b, ib, "b")):
                _run("ip", "-n", ns, "addr", "add", f"{net.addr(host, link)}/24", "dev", iface)
                _run("ip", "-n", ns, "link", "set", iface, "up")
        yield net
    finally:
        for ns in (net.a, net.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


# Cross-stack failover needs the kernel's SCTP: collected only where it exists (inside the
# SCTP VM, scripts/kernel-tests.sh), like tests/kernel.
_KERNEL_SCTP = os.environ.get("SCTP_VM") == "1" or os.environ.get("NETCHAN_KERNEL_SCTP") == "1"
collect_ignore = [] if _KERNEL_SCTP else ["test_cross_stack_failover.py"]
