"""A scripted stand-in for ``SctpEndpoint`` that speaks a toy protocol, for driver tests.

It implements the sans-io driver contract of docs/architecture.md (same method names, same
events) with the smallest protocol that exercises everything the trio driver does: a
two-way handshake, messages with stream/PPID/unordered, a receive window that counts
delivered-but-unread bytes until ``message_consumed``, a send buffer that raises
``BufferError`` when full, heartbeats with a failure limit, graceful shutdown, abort, and an
ICMP check of the quoted verification tag. It is NOT SCTP: loopback does not lose datagrams,
so there are no retransmissions of data. The real stack is tested with the same driver tests
(``tests/udp/test_driver.py`` runs them against both).

Wire format: ``!HHI`` (source port, destination port, verification tag) like SCTP's common
header, then a kind byte and a body.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections import Counter, deque
from typing import Any

from netchan.transport.errors import MessageTooLargeError
from netchan.transport.sctp import events as ev
from netchan.transport.sctp.options import Options

HEADER = struct.Struct("!HHIB")
INIT, INIT_ACK, DATA, ACK, SHUTDOWN, SHUTDOWN_ACK, ABORT, HB, HB_ACK = range(1, 10)
INIT_BODY = struct.Struct("!IH")
DATA_BODY = struct.Struct("!HIB")
ACK_BODY = struct.Struct("!QQ")


class FakeAssociation:
    """One toy association."""

    _ids = itertools.count(1)

    def __init__(self, ep: FakeEndpoint, addr: Any, remote_port: int, local_tag: int) -> None:
        self.ep = ep
        self.id = next(self._ids)
        self.addr = addr
        self.remote_port = remote_port
        self.local_tag = local_tag
        self.peer_tag = 0
        self.state = "COOKIE_WAIT"
        self.outbound_streams = ep.options.outbound_streams
        self.inbound_streams = ep.options.inbound_streams
        self.queue: deque[bytes] = deque()  # encoded DATA bodies not yet sent
        self.queued_bytes = 0
        self.sent_bytes = 0  # total payload bytes sent
        self.peer_received = 0  # acked as received by the peer
        self.peer_consumed = 0  # acked as read by the peer's application
        self.received = 0
        self.consumed = 0
        self.buffer_full = False
        self.init_tries = 0
        self.timer: float | None = None
        self.hb_misses = 0
        self.shutdown_requested = False
        self.counters: Counter[str] = Counter()

    @property
    def peer_addresses(self) -> tuple[Any, ...]:
        return (self.addr,)

    @property
    def pmtu(self) -> int:
        return int(self.ep.options.pmtu)

    @property
    def buffered_amount(self) -> int:
        return self.queued_bytes + (self.sent_bytes - self.peer_received)

    @property
    def send_buffer_free(self) -> int:
        return max(0, self.ep.options.send_buffer - self.buffered_amount)

    def send(self, data: bytes, *, stream: int, ppid: int, unordered: bool, now: float) -> None:
        if self.state != "ESTABLISHED" or self.shutdown_requested:
            raise RuntimeError(f"cannot send in {self.state}")
        if not 0 <= stream < self.outbound_streams:
            raise ValueError(f"bad stream {stream}")
        if len(data) > min(self.ep.options.max_message_size, 60000):
            raise MessageTooLargeError(f"{len(data)} bytes")
        if self.buffered_amount and self.buffered_amount + len(data) > self.ep.options.send_buffer:
            self.buffer_full = True
            raise BufferError("send buffer full")
        self.queue.append(DATA_BODY.pack(stream, ppid, int(unordered)) + data)
        self.queued_bytes += len(data)
        self.counters["messages_sent"] += 1

    def message_consumed(self, nbytes: int, now: float) -> bool:
        self.consumed += nbytes
        self.ep._out(self, ACK, ACK_BODY.pack(self.received, self.consumed))
        return True

    def shutdown(self, now: float) -> None:
        self.shutdown_requested = True

    def abort(self, reason: str, now: float) -> None:
        self.ep._out(self, ABORT, reason.encode())
        self.ep._end(self, ev.AssociationAborted(self.id, f"aborted: {reason}", False))

    def statistics(self) -> Any:
        from netchan.transport.sctp.counters import AssociationCounters

        return AssociationCounters(
            state=self.state,
            outbound_streams=self.outbound_streams,
            inbound_streams=self.inbound_streams,
            messages_sent=self.counters["messages_sent"],
            messages_received=self.counters["messages_received"],
            send_buffered=self.buffered_amount,
        )

    def pump(self, now: float) -> None:
        """Send queued DATA while the peer's window has room; SHUTDOWN when drained."""
        window = self.ep.options.receive_window
        while self.queue and self.sent_bytes - self.peer_consumed < window:
            body = self.queue.popleft()
            size = len(body) - DATA_BODY.size
            self.queued_bytes -= size
            self.sent_bytes += size
            self.ep._out(self, DATA, body)
        if (
            self.shutdown_requested
            and self.state == "ESTABLISHED"
            and not self.queue
            and self.peer_received == self.sent_bytes
        ):
            self.state = "SHUTDOWN_SENT"
            self.ep._out(self, SHUTDOWN, b"")
        if self.buffer_full and self.buffered_amount < self.ep.options.send_buffer:
            self.buffer_full = False
            self.ep.events.append(ev.SendBufferAvailable(self.id))


class FakeEndpoint:
    """The toy protocol behind the driver contract."""

    def __init__(self, options: Options, *, local_port: int, rng: random.Random, now: float):
        self.options = options
        self.local_port = local_port
        self.rng = rng
        self.associations: dict[int, FakeAssociation] = {}
        self.by_tag: dict[int, FakeAssociation] = {}
        self.out: list[tuple[bytes, Any]] = []
        self.events: deque[ev.Event] = deque()
        self.drops: Counter[str] = Counter()

    # --- driver contract ---------------------------------------------------------------------

    def connect(self, addr: Any, remote_port: int, now: float) -> FakeAssociation:
        assoc = self._new(addr, remote_port)
        assoc.timer = now + self.options.rto_initial
        self._send_init(assoc)
        return assoc

    def receive_datagram(self, data: bytes, addr: Any, now: float) -> None:
        if len(data) < HEADER.size:
            self.drops["malformed"] += 1
            return
        src, _dst, tag, kind = HEADER.unpack_from(data)
        body = data[HEADER.size :]
        if kind == INIT and tag == 0 and len(body) == INIT_BODY.size:
            peer_tag, streams = INIT_BODY.unpack(body)
            assoc = self._new(addr, src)
            assoc.peer_tag = peer_tag
            assoc.outbound_streams = min(streams, assoc.outbound_streams)
            self._out(assoc, INIT_ACK, INIT_BODY.pack(assoc.local_tag, assoc.inbound_streams))
            self._establish(assoc, now)
            return
        assoc = self.by_tag.get(tag)
        if assoc is None or assoc.addr != addr or kind not in range(1, 10):
            self.drops["out_of_the_blue" if assoc is None else "malformed"] += 1
            return
        assoc.hb_misses = 0
        if kind == INIT_ACK and assoc.state == "COOKIE_WAIT":
            assoc.peer_tag, streams = INIT_BODY.unpack(body)
            assoc.outbound_streams = min(streams, assoc.outbound_streams)
            self._establish(assoc, now)
        elif kind == DATA and len(body) >= DATA_BODY.size:
            stream, ppid, flags = DATA_BODY.unpack_from(body)
            payload = body[DATA_BODY.size :]
            assoc.received += len(payload)
            assoc.counters["messages_received"] += 1
            self.events.append(ev.MessageReceived(assoc.id, stream, ppid, payload, bool(flags)))
            self._out(assoc, ACK, ACK_BODY.pack(assoc.received, assoc.consumed))
        elif kind == ACK and len(body) == ACK_BODY.size:
            got, consumed = ACK_BODY.unpack(body)
            assoc.peer_received = max(assoc.peer_received, got)
            assoc.peer_consumed = max(assoc.peer_consumed, consumed)
        elif kind == SHUTDOWN:
            self._out(assoc, SHUTDOWN_ACK, b"")
            self._end(assoc, ev.AssociationClosed(assoc.id))
        elif kind == SHUTDOWN_ACK and assoc.state == "SHUTDOWN_SENT":
            self._end(assoc, ev.AssociationClosed(assoc.id))
        elif kind == ABORT:
            reason = f"peer sent ABORT: {body.decode(errors='replace')}"
            self._end(assoc, ev.AssociationAborted(assoc.id, reason, True))
        elif kind == HB:
            self._out(assoc, HB_ACK, b"")

    def handle_timeout(self, now: float) -> None:
        for assoc in list(self.associations.values()):
            if assoc.timer is None or assoc.timer > now:
                continue
            if assoc.state == "COOKIE_WAIT":
                assoc.init_tries += 1
                if assoc.init_tries > self.options.max_init_retransmits:
                    self._end(assoc, ev.AssociationAborted(assoc.id, "no answer to INIT", False))
                    continue
                self._send_init(assoc)
                assoc.timer = now + self.options.rto_initial
            else:
                assoc.hb_misses += 1
                if assoc.hb_misses > self.options.association_max_retransmissions:
                    reason = "peer unreachable (heartbeats unanswered)"
                    self._end(assoc, ev.AssociationAborted(assoc.id, reason, False))
                    continue
                self._out(assoc, HB, b"")
                assoc.timer = now + self.options.heartbeat_interval

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Any]]:
        for assoc in list(self.associations.values()):
            assoc.pump(now)
        out, self.out = self.out, []
        return out

    def next_deadline(self) -> float | None:
        timers = [a.timer for a in self.associations.values() if a.timer is not None]
        return min(timers) if timers else None

    def next_event(self) -> ev.Event | None:
        return self.events.popleft() if self.events else None

    def statistics(self) -> dict[str, Any]:
        return {"associations": len(self.associations), "drops": dict(self.drops)}

    def icmp_unreachable(self, addr: Any, quoted: bytes, now: float) -> None:
        # RFC 9260 §10: act only if the quoted tag is the peer's tag we sent with.
        if len(quoted) < 8:
            self.drops["icmp_short"] += 1
            return
        tag = struct.unpack_from("!I", quoted, 4)[0]
        if tag == 0 and len(quoted) >= HEADER.size + 4 and quoted[8] == INIT:
            # An INIT carries tag 0; RFC 9260 §10: check its Initiate Tag instead.
            (initiate,) = struct.unpack_from("!I", quoted, HEADER.size)
            assoc = self.by_tag.get(initiate)
            if assoc is not None and assoc.addr == addr and assoc.state == "COOKIE_WAIT":
                reason = "peer unreachable (ICMP port unreachable)"
                self._end(assoc, ev.AssociationAborted(assoc.id, reason, True))
                return
        for assoc in list(self.associations.values()):
            if assoc.addr == addr and assoc.peer_tag == tag and tag != 0:
                reason = "peer unreachable (ICMP port unreachable)"
                self._end(assoc, ev.AssociationAborted(assoc.id, reason, True))
                return
        self.drops["icmp_bad_tag"] += 1

    # --- internals -------------------------------------------------------------------------

    def _new(self, addr: Any, remote_port: int) -> FakeAssociation:
        tag = self.rng.randrange(1, 2**32)
        assoc = FakeAssociation(self, addr, remote_port, tag)
        self.associations[assoc.id] = assoc
        self.by_tag[tag] = assoc
        return assoc

    def _send_init(self, assoc: FakeAssociation) -> None:
        body = INIT_BODY.pack(assoc.local_tag, assoc.outbound_streams)
        header = HEADER.pack(self.local_port, assoc.remote_port, 0, INIT)
        self.out.append((header + body, assoc.addr))

    def _establish(self, assoc: FakeAssociation, now: float) -> None:
        assoc.state = "ESTABLISHED"
        hb = self.options.heartbeat_interval
        assoc.timer = now + hb if hb > 0 else None
        self.events.append(
            ev.AssociationEstablished(assoc.id, assoc.outbound_streams, assoc.inbound_streams)
        )

    def _out(self, assoc: FakeAssociation, kind: int, body: bytes) -> None:
        header = HEADER.pack(self.local_port, assoc.remote_port, assoc.peer_tag, kind)
        self.out.append((header + body, assoc.addr))

    def _end(self, assoc: FakeAssociation, event: ev.Event) -> None:
        if self.associations.pop(assoc.id, None) is None:
            return
        self.by_tag.pop(assoc.local_tag, None)
        assoc.state = "CLOSED"
        assoc.timer = None
        self.events.append(event)
