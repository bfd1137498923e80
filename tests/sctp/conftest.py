"""Shared helpers of the sans-io SCTP tests: a pair of endpoints on the in-memory network."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from netchan.transport.sctp import COMPILED
from netchan.transport.sctp import events as ev
from netchan.transport.sctp.association import Association
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.options import Options
from tests.sctp.netsim import Link, NetSim

A_ADDR = ("10.0.0.1", 5000)
B_ADDR = ("10.0.0.2", 6000)


@dataclass
class Pair:
    """Two endpoints joined by a :class:`NetSim`; ``a`` connects to ``b``."""

    net: NetSim
    a: SctpEndpoint
    b: SctpEndpoint
    options: Options

    def connect(self, timeout: float = 10.0) -> tuple[Association, Association]:
        """Associate ``a`` with ``b`` and return (a's association, b's association)."""
        assoc = self.a.connect(B_ADDR, 6000, self.net.now)
        self.net.run_until(
            lambda: (
                bool(self.net.events_of(B_ADDR, ev.AssociationEstablished))
                and bool(self.net.events_of(A_ADDR, ev.AssociationEstablished))
            ),
            timeout,
        )
        (peer,) = self.b.associations.values()
        return assoc, peer

    def received(self, addr: tuple[str, int] = B_ADDR) -> list[ev.MessageReceived]:
        """Messages delivered so far at ``addr``."""
        return self.net.events_of(addr, ev.MessageReceived)


def make_pair(
    seed: int = 1, options: Options | None = None, link: Link | None = None, now: float = 0.0
) -> Pair:
    """A fresh pair with seeded randomness everywhere."""
    options = options or Options()
    net = NetSim(random.Random(seed), link, now=now)
    a = SctpEndpoint(options, local_port=5000, rng=random.Random(seed * 1000 + 1), now=now)
    b = SctpEndpoint(options, local_port=6000, rng=random.Random(seed * 1000 + 2), now=now)
    net.add(A_ADDR, a)
    net.add(B_ADDR, b)
    return Pair(net, a, b, options)


@pytest.fixture
def pair() -> Pair:
    """A lossless pair with default (LAN) options."""
    return make_pair()


def chunk_types(data: bytes) -> list[int]:
    """The chunk types of a datagram (parsed with the stack's own parser)."""
    from netchan.transport.sctp.packet import parse_packet

    return [chunk.chunk_type for chunk in parse_packet(data).chunks]


def sent_chunks(pair: Pair, src: tuple[str, int], chunk_type: int) -> list[float]:
    """Times at which ``src`` emitted a datagram containing ``chunk_type``."""
    return [t for t, s, _, data in pair.net.sent if s == src and chunk_type in chunk_types(data)]


@pytest.fixture(autouse=True)
def no_internal_errors(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fail a test in which the stack raised on a datagram.

    ``SctpEndpoint.receive_datagram`` counts such an exception as an ``internal_error`` drop
    (a driver must survive anything a peer sends); in these tests it is a bug in the stack, so
    it is re-raised here. Tests about that counting itself are marked ``internal_errors``.
    (The compiled core's classes cannot be patched; the pure-Python run checks.)
    """
    if request.node.get_closest_marker("internal_errors") or COMPILED:
        yield
        return
    original = SctpEndpoint._receive

    def checked(self: SctpEndpoint, data: bytes, addr: object, now: float) -> None:
        try:
            original(self, data, addr, now)  # type: ignore[arg-type]
        except Exception as exc:
            failures.append(exc)
            raise

    failures: list[BaseException] = []
    monkeypatch.setattr(SctpEndpoint, "_receive", checked)
    yield
    if failures:
        raise AssertionError(f"the stack raised on a datagram: {failures[0]!r}") from failures[0]
