"""Fixtures of the channel suite: the same tests run over the in-memory transport (default,
deterministic, ``MockClock``) or a real backend on loopback.

``NETCHAN_TEST_SCHEME=udp`` runs them over the userspace stack, ``NETCHAN_TEST_SCHEME=sctp``
over the kernel's SCTP (inside a VM with SCTP), both with the real clock.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import trio
import trio.testing

import netchan
from netchan.transport import Endpoint, open_endpoint
from tests.support.memory_transport import MemoryNetwork

SCHEME = os.environ.get("NETCHAN_TEST_SCHEME", "memory")


class Env:
    """Opens nodes on the transport under test."""

    def __init__(self, scheme: str, network: MemoryNetwork | None) -> None:
        self.scheme = scheme
        self.network = network

    @property
    def memory(self) -> bool:
        return self.network is not None

    def node(self, *, listen: bool = True, **kw: Any) -> AbstractAsyncContextManager[netchan.Node]:
        """A listening node on 127.0.0.1 (ephemeral port), or a client-only one."""
        wire = "udp" if self.scheme == "memory" else self.scheme
        address = f"{wire}://127.0.0.1:0" if listen else None
        kw.setdefault("client_address", f"{wire}://127.0.0.1:0")
        if self.network is not None:
            kw.setdefault("transport", self.network.open_endpoint)
        return netchan.open_node(address, **kw)

    def raw_endpoint(self) -> AbstractAsyncContextManager[Endpoint]:
        """A bare endpoint on the transport under test: it plays a misbehaving peer node."""
        wire = "udp" if self.scheme == "memory" else self.scheme
        if self.network is not None:
            return self.network.open_endpoint(f"{wire}://127.0.0.1:0")
        return open_endpoint(f"{wire}://127.0.0.1:0")

    def crash(self, node: netchan.Node) -> None:
        """Make ``node``'s process die silently (memory transport only)."""
        assert self.network is not None
        self.network.crash(node._ep.address)


@pytest.fixture
def clock() -> trio.abc.Clock | None:
    """The test's clock: tests list it as a parameter so pytest-trio runs them on it."""
    if SCHEME == "memory":
        return trio.testing.MockClock(autojump_threshold=0)
    return None


@pytest.fixture
def env(clock: trio.abc.Clock | None) -> Env:
    return Env(SCHEME, MemoryNetwork() if SCHEME == "memory" else None)


memory_only = pytest.mark.skipif(
    SCHEME != "memory", reason="needs the in-memory transport's fault injection"
)


async def eventually(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Wait until ``check()`` holds (messages in flight on a real transport get delivered).

    Polls every 10 ms, at most ``timeout`` seconds (then fails the test with the last state).
    """
    with trio.move_on_after(timeout):
        while not check():
            await trio.sleep(0.01)
    assert check(), "condition still false after the timeout"


NodeFactory = Callable[..., AbstractAsyncContextManager[netchan.Node]]
