"""An in-memory network for the sans-io SCTP stack: endpoints, virtual time, seeded faults.

Every datagram an endpoint emits is scheduled for delivery after ``delay`` (+ jitter) unless
the seeded rng decides to lose, duplicate, reorder or corrupt it. A link may also have an
MTU: a datagram above it is dropped (a router discarding a packet with Don't Fragment set),
optionally answered with an ICMP Packet Too Big hint, unless the stack marked it
``Fragmentable`` (RFC 9260 §6.9: IP fragments it and the fragments get through).

Multihomed endpoints (:meth:`NetSim.add_multihomed`) own several addresses; each datagram
leaves from the one on the destination's network (the longest common prefix, as a route would
pick it), and :attr:`NetSim.paths` gives a pair of hosts its own fault model (cut a path with
``Link(loss=1.0)``).

Time only moves when the simulator jumps to the next event: the earliest datagram arrival or
endpoint deadline. Every loop is bounded in steps and in virtual time, so a stuck protocol
fails a test instead of hanging it.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from netchan.transport.sctp.plpmtud import Fragmentable

PeerAddr = Hashable

#: Bytes of the original datagram an ICMP error quotes (RFC 792: at least 8; Linux keeps more).
ICMP_QUOTE = 64


class EndpointLike(Protocol):
    """The driver contract of ``SctpEndpoint`` (docs/architecture.md)."""

    def receive_datagram(self, data: bytes, addr: Any, now: float) -> None: ...
    def handle_timeout(self, now: float) -> None: ...
    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Any]]: ...
    def next_deadline(self) -> float | None: ...
    def next_event(self) -> Any: ...
    def icmp_packet_too_big(self, addr: Any, quoted: bytes, size: int, now: float) -> None: ...


@dataclass
class Link:
    """Fault model of the network (probabilities are per datagram)."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    delay: float = 0.005
    jitter: float = 0.0
    #: Largest datagram the path carries with Don't Fragment set; 0: unlimited.
    mtu: int = 0
    #: Report a datagram dropped for its size with an ICMP Packet Too Big to its sender
    #: (delivered after ``delay``); False: a black hole that drops silently.
    ptb: bool = False
    #: A bottleneck of this many bytes per second in each direction, with an unbounded
    #: FIFO queue in front of it (datagrams wait their turn, then ``delay``); 0: none.
    rate: float = 0.0


@dataclass(order=True)
class _InFlight:
    arrival: float
    seq: int
    src: Any = field(compare=False)
    dst: Any = field(compare=False)
    data: bytes = field(compare=False)
    #: Set for an ICMP Packet Too Big: the MTU reported to ``dst`` about a packet to ``src``.
    ptb_mtu: int = field(compare=False, default=0)


class NetSim:
    """Joins endpoints by address; ``run*`` methods advance virtual time.

    Args:
        rng: seeded ``random.Random`` for the faults.
        link: the fault model (may be changed between phases of a test).
        now: the starting time.

    Attributes:
        events: every event drained from each endpoint, by address, in order.
        sent: (time, src, dst, bytes) of every datagram emitted (before faults), if
            ``record`` is True.
        drop_filter: optional ``f(src, dst, data) -> bool``; True drops the datagram
            (deterministic, targeted loss for timer tests).
        paths: per path fault models, by ``frozenset({src_host, dst_host})`` (both
            directions); other datagrams use ``link``.
    """

    def __init__(self, rng: random.Random, link: Link | None = None, now: float = 0.0) -> None:
        self.rng = rng
        self.link = link or Link()
        self.now = now
        self.endpoints: dict[Any, EndpointLike] = {}
        self.events: dict[Any, list[Any]] = {}
        self.sent: list[tuple[float, Any, Any, bytes]] = []
        self.record = True
        self.drop_filter: Callable[[Any, Any, bytes], bool] | None = None
        self.paths: dict[frozenset[Any], Link] = {}
        # Every address of a multihomed endpoint, by the endpoint's first address.
        self._homes: dict[Any, list[Any]] = {}
        self._queue: list[_InFlight] = []
        self._busy_until: dict[tuple[Any, Any], float] = {}
        self._seq = 0
        self.delivered = 0
        self.lost = 0
        self.too_big = 0
        self.fragmented = 0

    def add(self, addr: Any, endpoint: EndpointLike) -> EndpointLike:
        """Attach ``endpoint`` at ``addr``; datagrams to ``addr`` reach it."""
        self.endpoints[addr] = endpoint
        self.events[addr] = []
        return endpoint

    def add_multihomed(self, addrs: list[Any], endpoint: EndpointLike) -> EndpointLike:
        """Attach ``endpoint`` at every address of ``addrs`` (events under the first)."""
        first = addrs[0]
        self.add(first, endpoint)
        self._homes[first] = list(addrs)
        return endpoint

    def cut(self, host_a: str, host_b: str, cut: bool = True) -> None:
        """Black-hole the path between two hosts (both directions), or restore it."""
        key = frozenset((host_a, host_b))
        if cut:
            self.paths[key] = Link(loss=1.0, delay=self.link.delay)
        else:
            self.paths.pop(key, None)

    def _source(self, home: Any, dst: Any) -> Any:
        addrs = self._homes.get(home)
        if addrs is None:
            return home
        target = str(dst[0]) if isinstance(dst, tuple) else str(dst)

        def common(addr: Any) -> int:
            host = str(addr[0]) if isinstance(addr, tuple) else str(addr)
            n = 0
            for x, y in zip(host, target, strict=False):
                if x != y:
                    break
                n += 1
            return n

        return max(addrs, key=common)

    def _schedule(self, src: Any, dst: Any, data: bytes) -> None:
        link = self.link
        if self.paths:
            src_host = src[0] if isinstance(src, tuple) else src
            dst_host = dst[0] if isinstance(dst, tuple) else dst
            link = self.paths.get(frozenset((src_host, dst_host)), link)
        rng = self.rng
        if self.record:
            self.sent.append((self.now, src, dst, data))
        if self.drop_filter is not None and self.drop_filter(src, dst, data):
            self.lost += 1
            return
        if link.mtu and len(data) > link.mtu:
            if isinstance(data, Fragmentable):
                self.fragmented += 1
            else:
                self.too_big += 1
                if link.ptb:
                    # The router's ICMP goes back to the sender, quoting the datagram.
                    self._seq += 1
                    heapq.heappush(
                        self._queue,
                        _InFlight(
                            self.now + link.delay,
                            self._seq,
                            dst,
                            src,
                            bytes(data[:ICMP_QUOTE]),
                            ptb_mtu=link.mtu,
                        ),
                    )
                return
        if link.loss and rng.random() < link.loss:
            self.lost += 1
            return
        copies = 2 if link.duplicate and rng.random() < link.duplicate else 1
        for _ in range(copies):
            payload = data
            if link.corrupt and rng.random() < link.corrupt and payload:
                i = rng.randrange(len(payload))
                payload = (
                    payload[:i] + bytes([payload[i] ^ (1 << rng.randrange(8))]) + payload[i + 1 :]
                )
            delay = link.delay + (rng.random() * link.jitter if link.jitter else 0.0)
            if link.reorder and rng.random() < link.reorder:
                delay += link.delay * (1 + 3 * rng.random())
            start = self.now
            if link.rate:
                # Serialized through the bottleneck after what is queued ahead of it.
                start = max(start, self._busy_until.get((src, dst), start))
                start += len(payload) / link.rate
                self._busy_until[(src, dst)] = start
            self._seq += 1
            heapq.heappush(self._queue, _InFlight(start + delay, self._seq, src, dst, payload))

    def flush(self) -> None:
        """Collect outgoing datagrams and events of every endpoint (no time passes)."""
        for addr, ep in self.endpoints.items():
            for data, dst in ep.datagrams_to_send(self.now):
                self._schedule(self._source(addr, dst), dst, data)
            events = self.events[addr]
            while (event := ep.next_event()) is not None:
                events.append(event)

    def next_time(self) -> float | None:
        """The earliest arrival or endpoint deadline."""
        times = [
            ep_deadline
            for ep in self.endpoints.values()
            if (ep_deadline := ep.next_deadline()) is not None
        ]
        if self._queue:
            times.append(self._queue[0].arrival)
        return min(times) if times else None

    def step(self, until: float) -> bool:
        """Advance to the next event (not beyond ``until``) and process it.

        Returns False when nothing is left to do before ``until``.
        """
        self.flush()
        t = self.next_time()
        if t is None or t > until:
            self.now = max(self.now, until)
            return False
        self.now = max(self.now, t)
        while self._queue and self._queue[0].arrival <= self.now:
            item = heapq.heappop(self._queue)
            ep = self.endpoints.get(item.dst) or self._alias(item.dst)
            if ep is None:
                continue
            if item.ptb_mtu:
                ep.icmp_packet_too_big(item.src, item.data, item.ptb_mtu, self.now)
            else:
                self.delivered += 1
                ep.receive_datagram(item.data, item.src, self.now)
        for ep in self.endpoints.values():
            deadline = ep.next_deadline()
            if deadline is not None and deadline <= self.now:
                ep.handle_timeout(self.now)
        self.flush()
        return True

    def _alias(self, addr: Any) -> EndpointLike | None:
        for first, addrs in self._homes.items():
            if addr in addrs:
                return self.endpoints[first]
        return None

    def run(self, duration: float, max_steps: int = 200_000) -> None:
        """Run for ``duration`` seconds of virtual time (bounded in steps)."""
        until = self.now + duration
        for _ in range(max_steps):
            if not self.step(until):
                return
        raise AssertionError(f"netsim: more than {max_steps} steps in {duration} s")

    def run_until(
        self, predicate: Callable[[], bool], timeout: float, max_steps: int = 200_000
    ) -> None:
        """Run until ``predicate()`` holds; fail after ``timeout`` virtual seconds."""
        until = self.now + timeout
        for _ in range(max_steps):
            self.flush()
            if predicate():
                return
            if not self.step(until):
                self.flush()
                if predicate():
                    return
                raise AssertionError(f"netsim: condition not met within {timeout} s")
        raise AssertionError(f"netsim: more than {max_steps} steps")

    def events_of(self, addr: Any, kind: type) -> list[Any]:
        """Events of type ``kind`` drained so far from the endpoint at ``addr``."""
        return [e for e in self.events[addr] if isinstance(e, kind)]
