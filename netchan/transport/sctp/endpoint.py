"""SctpEndpoint: one local SCTP port, many associations, stateless setup (RFC 9260).

The endpoint is what a driver owns (one per socket; docs/architecture.md "Driver contract").
It parses datagrams, finds the association they belong to, answers INIT without keeping any
state (the State Cookie carries it, §5.1.3), creates an association only for a valid
COOKIE ECHO (§5.1.5), handles out-of-the-blue packets (§8.4) and ICMP reports (RFC 9260 §10),
and collects datagrams, events and the next deadline of all its associations.

Peer bytes never raise out of :meth:`SctpEndpoint.receive_datagram`: whatever is wrong is
dropped and counted by reason (``statistics()["drops"]``).
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from . import paths
from .association import Association
from .auth import AssociationAuth, AuthKeys, AuthParams, auth_refusal
from .cookie import CookieFactory, ForgedCookieError, StaleCookieError
from .events import AssociationAborted, AssociationClosed, Event
from .handshake import check_init, make_init_ack
from .options import Options
from .packet import (
    COMMON_HEADER_SIZE,
    AbortChunk,
    AuthChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitChunk,
    OutOfResourceCause,
    Packet,
    Parameter,
    ParseError,
    ProtocolViolationCause,
    ShutdownAckChunk,
    ShutdownCompleteChunk,
    StaleCookieErrorCause,
    compute_checksum,
    parse_packet,
    peek_header,
    serialize_packet,
)
from .state import LocalProtocolError, State

PeerAddr = Hashable

_INIT_TAG_OFFSET = COMMON_HEADER_SIZE + 4  # Initiate Tag of an INIT right after the header


class SctpEndpoint:
    """A sans-io SCTP endpoint bound to one local port.

    Args:
        options: protocol options (``Options()`` by default).
        local_port: our SCTP port (for RFC 6951 often equal to the UDP port).
        rng: randomness for tags, TSNs, cookie secrets and jitter (``random.SystemRandom()``
            in production, a seeded ``random.Random`` in tests).
        now: the driver's current time.

    Attributes:
        local_mtu: set by the driver: the largest SCTP packet the local interface toward an
            address can send (the interface MTU minus the IP and UDP headers), or None when
            unknown. It bounds path MTU discovery (RFC 8899 §3 item 5, MAX_PLPMTU); without
            it only ``Options.pmtu_max`` does.
        local_addresses: set by a multihomed driver: the IP addresses it sends and receives
            on, listed in our INIT and INIT ACK (§5.1.2). Empty (the default): none are
            listed and the peer knows only the packets' source address.
    """

    def __init__(
        self,
        options: Options | None = None,
        *,
        local_port: int,
        rng: random.Random,
        now: float,
    ) -> None:
        if not 0 < local_port <= 0xFFFF:
            raise ValueError("local_port must be in 1..65535")
        self.options = options if options is not None else Options()
        self.local_port = local_port
        self.rng = rng
        self.local_mtu: Callable[[PeerAddr], int | None] | None = None
        self.cookies = CookieFactory(rng, self.options.cookie_secret_rotation, now)
        #: SCTP-AUTH shared keys (RFC 4895) when ``Options.auth_keys`` is set, else None.
        #: Add, activate and remove keys here to rotate them without a restart.
        self.auth_keys: AuthKeys | None = (
            AuthKeys(self.options.auth_keys, self.options.auth_active_key)
            if self.options.auth_keys
            else None
        )
        self._assocs: dict[int, Association] = {}
        # Associations touched since the last datagrams_to_send (only they can have
        # something to send or a new deadline), and a heap of deadlines with lazy deletion:
        # the per-input cost does not grow with the number of associations.
        self._dirty: dict[int, Association] = {}
        self._deadline_of: dict[int, float] = {}
        self._heap: list[tuple[float, int]] = []
        # Every peer address of every association (§8.5: packets from any of them).
        self._by_peer: dict[tuple[PeerAddr, int], Association] = {}
        self._open: set[int] = set()
        self._local_addresses: tuple[str, ...] = ()
        self._address_params: tuple[Parameter, ...] = ()
        # Our verification tag -> association (RFC 6951 port learning).
        self._by_tag: dict[int, Association] = {}
        self._events: deque[Event] = deque()
        self._out: list[tuple[bytes, PeerAddr]] = []
        self._next_id = 1
        self._drops: Counter[str] = Counter()
        self.datagrams_received = 0
        self.datagrams_sent = 0
        self.associations_created = 0
        self.rebinds = 0

    # ------------------------------------------------------------------ driver contract

    @property
    def local_addresses(self) -> tuple[str, ...]:
        """Our IP addresses as listed to peers in INIT / INIT ACK (§5.1.2)."""
        return self._local_addresses

    @local_addresses.setter
    def local_addresses(self, hosts: Iterable[str]) -> None:
        self._local_addresses = tuple(hosts)
        params = paths.address_parameters(list(self._local_addresses))
        # A single address is the packets' source anyway: listing it adds nothing.
        self._address_params = tuple(params) if len(params) > 1 else ()

    @property
    def address_parameters(self) -> tuple[Parameter, ...]:
        """The IPv4 / IPv6 Address parameters of our INIT and INIT ACK."""
        return self._address_params

    @property
    def associations(self) -> Mapping[int, Association]:
        """Associations by id (read-only view); an association leaves once its final
        event (closed or aborted) has been handed out by :meth:`next_event`."""
        return MappingProxyType(self._assocs)

    def connect(
        self,
        addr: PeerAddr,
        remote_port: int,
        now: float,
        alternates: Iterable[PeerAddr] = (),
    ) -> Association:
        """Start an association with ``addr``/``remote_port`` (INIT, §5.1 A).

        ``alternates``: more addresses of a multihomed peer; the INIT goes to them in turn
        when ``addr`` does not answer (§5.1), and they are confirmed (§5.4 rule 1).
        Returns the existing association when one with that peer is open.

        Raises:
            ValueError: ``remote_port`` out of range.
            LocalProtocolError: ``max_associations`` reached.
        """
        if not 0 < remote_port <= 0xFFFF:
            raise ValueError("remote_port must be in 1..65535")
        existing = self._by_peer.get((addr, remote_port))
        if existing is not None and not existing.closed:
            return existing
        if self._open_count() >= self.options.max_associations:
            raise LocalProtocolError(f"max_associations ({self.options.max_associations}) reached")
        assoc = self._create(addr, remote_port, now)
        extra = [a for a in alternates if a != addr]
        if extra:
            paths.add_peer_addresses(assoc, extra, confirmed=True, now=now)
        assoc.start_active(now)
        self._by_tag[assoc.local_tag] = assoc
        self._touch(assoc)
        return assoc

    def receive_datagram(self, data: bytes, addr: PeerAddr, now: float) -> None:
        """Feed one datagram from ``addr``. Never raises because of its contents."""
        self.datagrams_received += 1
        try:
            self._receive(bytes(data), addr, now)
        except Exception:  # peer bytes must never take the driver down
            self._drops["internal_error"] += 1

    def handle_timeout(self, now: float) -> None:
        """Run the timers that are due (call at or after :meth:`next_deadline`)."""
        self._refresh_dirty()
        heap = self._heap
        deadline_of = self._deadline_of
        due: list[Association] = []
        while heap and heap[0][0] <= now:
            deadline, assoc_id = heapq.heappop(heap)
            if deadline_of.get(assoc_id) != deadline:
                continue  # stale entry
            del deadline_of[assoc_id]
            assoc = self._assocs.get(assoc_id)
            if assoc is not None:
                due.append(assoc)
        for assoc in due:
            assoc.handle_timeout(now)
            self._touch(assoc)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, PeerAddr]]:
        """Everything to send now, as (datagram, address) pairs."""
        out = self._out
        self._out = []
        dirty = self._dirty
        self._dirty = {}
        for assoc in dirty.values():
            if not assoc.closed:
                addr = assoc.address
                for data in assoc.datagrams_to_send(now):
                    out.append((data, addr))
                if assoc._directed:
                    out.extend(assoc.take_directed())
            self._refresh_deadline(assoc)
        self.datagrams_sent += len(out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest timer of all associations, or None."""
        self._refresh_dirty()
        heap = self._heap
        deadline_of = self._deadline_of
        while heap:
            deadline, assoc_id = heap[0]
            if deadline_of.get(assoc_id) == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def next_event(self) -> Event | None:
        """The next event, or None when there is none."""
        if not self._events:
            return None
        event = self._events.popleft()
        if isinstance(event, (AssociationClosed, AssociationAborted)):
            assoc = self._assocs.get(event.association_id)
            if assoc is not None and assoc.closed:
                del self._assocs[event.association_id]
                # Its drop counts stay in the endpoint's totals.
                self._drops.update(assoc.drops.snapshot())
        return event

    def icmp_unreachable(self, addr: PeerAddr, quoted: bytes, now: float) -> None:
        """An ICMP unreachable quoting a packet we sent to ``addr`` (RFC 9260 §10).

        The association is aborted only when the quoted verification tag is the peer's tag
        of an association with ``addr`` (or, for an INIT with tag 0, when the quoted
        Initiate Tag is ours); anything else is dropped and counted.
        """
        assoc = self._icmp_association(addr, quoted, init_ok=True)
        if assoc is not None:
            assoc.icmp_unreachable(now, addr)
            self._touch(assoc)

    def icmp_packet_too_big(self, addr: PeerAddr, quoted: bytes, size: int, now: float) -> None:
        """An ICMP Packet Too Big (Fragmentation Needed) quoting a packet we sent to ``addr``.

        ``size`` is the reported MTU already converted to SCTP packet bytes (PL_PTB_SIZE:
        the driver subtracts the IP and UDP headers). It is a hint to path MTU discovery
        (RFC 8899 §4.6), used only when the quoted verification tag is the peer's tag of an
        association with ``addr`` (§4.6.1, §6.2.1.4, RFC 9260 Appendix C); anything else is
        dropped and counted.
        """
        assoc = self._icmp_association(addr, quoted, init_ok=False)
        if assoc is not None:
            assoc.packet_too_big(size, now)
            self._touch(assoc)

    def _icmp_association(
        self, addr: PeerAddr, quoted: bytes, *, init_ok: bool
    ) -> Association | None:
        """The association an ICMP report's quoted SCTP header verifiably belongs to."""
        try:
            src_port, dst_port, vtag = peek_header(bytes(quoted))
        except ParseError:
            self._drops["icmp_unverified"] += 1
            return None
        assoc = self._by_peer.get((addr, dst_port))
        if assoc is None or src_port != self.local_port or (vtag == 0 and not init_ok):
            self._drops["icmp_unverified"] += 1
            return None
        if vtag == 0:
            # RFC 9260 §10: a quoted INIT carries tag 0; its Initiate Tag must be ours.
            ok = (
                assoc.state is State.COOKIE_WAIT
                and len(quoted) >= _INIT_TAG_OFFSET + 4
                and quoted[COMMON_HEADER_SIZE] == InitChunk.TYPE
                and int.from_bytes(quoted[_INIT_TAG_OFFSET : _INIT_TAG_OFFSET + 4], "big")
                == assoc.local_tag
            )
        else:
            ok = vtag == assoc.peer_tag
        if not ok:
            self._drops["icmp_unverified"] += 1
            return None
        return assoc

    def statistics(self) -> dict[str, Any]:
        """Counters: datagrams in/out, associations, and drops by reason (a dict)."""
        drops: Counter[str] = Counter(self._drops)
        for assoc in self._assocs.values():
            drops.update(assoc.drops.snapshot())
        return {
            "associations": self._open_count(),
            "associations_created": self.associations_created,
            "datagrams_received": self.datagrams_received,
            "datagrams_sent": self.datagrams_sent,
            "peer_port_changes": self.rebinds,
            "drops": {k: v for k, v in drops.items() if v},
        }

    # ------------------------------------------------------------------ for associations

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    def _new_tag(self) -> int:
        """A random nonzero verification tag not used by a current association (§5.3.1)."""
        while True:
            tag = self.rng.randrange(1, 1 << 32)
            if tag not in self._by_tag:
                return tag

    def _random_bytes(self, n: int) -> bytes:
        """``n`` random bytes (SCTP-AUTH RANDOM numbers, RFC 4895 §3.1)."""
        return self.rng.getrandbits(8 * n).to_bytes(n, "big")

    def _max_plpmtu(self, addr: PeerAddr) -> int:
        """MAX_PLPMTU toward ``addr`` (RFC 8899 §5.1.2): the smaller of ``Options.pmtu_max``
        and the local interface's limit (:attr:`local_mtu`); 0 when neither is known."""
        configured = self.options.pmtu_max
        local = self.local_mtu(addr) if self.local_mtu is not None else None
        if not local or local <= 0:
            return configured
        return min(configured, local) if configured else local

    def _add_peer_address(self, assoc: Association, addr: PeerAddr) -> bool:
        """Map another peer address to ``assoc`` (§8.5); False when another open
        association already has it (the address stays with that one)."""
        key = (addr, assoc.remote_port)
        owner = self._by_peer.get(key)
        if owner is not None and owner is not assoc and not owner.closed:
            return False
        self._by_peer[key] = assoc
        return True

    def _touch(self, assoc: Association) -> None:
        """``assoc`` got input or a user call: it may have output or a new deadline."""
        self._dirty[assoc.id] = assoc

    def _refresh_dirty(self) -> None:
        for assoc in self._dirty.values():
            self._refresh_deadline(assoc)

    def _refresh_deadline(self, assoc: Association) -> None:
        deadline = None if assoc.closed else assoc.next_deadline()
        assoc_id = assoc.id
        if self._deadline_of.get(assoc_id) == deadline:
            return
        if deadline is None:
            del self._deadline_of[assoc_id]
            return
        self._deadline_of[assoc_id] = deadline
        heap = self._heap
        heapq.heappush(heap, (deadline, assoc_id))
        if len(heap) > 4 * len(self._deadline_of) + 64:
            # Too many stale entries: rebuild from the live deadlines.
            self._heap = [(d, i) for i, d in self._deadline_of.items()]
            heapq.heapify(self._heap)

    def _association_closed(self, assoc: Association) -> None:
        self._open.discard(assoc.id)
        for path in assoc._paths:
            key = (path.addr, assoc.remote_port)
            if self._by_peer.get(key) is assoc:
                del self._by_peer[key]
        if self._by_tag.get(assoc.local_tag) is assoc:
            del self._by_tag[assoc.local_tag]
        # Its last packets (ABORT, SHUTDOWN COMPLETE) go out before anything the endpoint
        # answers afterwards on its behalf (e.g. out-of-the-blue replies).
        addr = assoc.address
        self._out.extend(assoc.take_directed())
        self._out.extend((data, addr) for data in assoc.take_packets())
        self._touch(assoc)  # its deadline entry goes at the next refresh

    # ------------------------------------------------------------------ internals

    def _open_count(self) -> int:
        return len(self._open)

    def _create(self, addr: PeerAddr, remote_port: int, now: float) -> Association:
        assoc_id = self._next_id
        self._next_id += 1
        assoc = Association(self, assoc_id, addr, remote_port, now)
        self._assocs[assoc_id] = assoc
        self._by_peer[(addr, remote_port)] = assoc
        self._open.add(assoc_id)
        self.associations_created += 1
        return assoc

    def _drop(self, reason: str) -> None:
        self._drops[reason] += 1

    def _reply(self, addr: PeerAddr, dst_port: int, vtag: int, chunks: list[Chunk]) -> None:
        self._out.append((serialize_packet(self.local_port, dst_port, vtag, chunks), addr))

    def _receive(self, data: bytes, addr: PeerAddr, now: float) -> None:
        if len(data) < COMMON_HEADER_SIZE + 4:
            self._drop("too_short")
            return
        # §6.8: verify the CRC32c first; a mismatch is dropped silently.
        if compute_checksum(data).to_bytes(4, "little") != data[8:12]:
            self._drop("bad_checksum")
            return
        try:
            packet = parse_packet(data, verify_checksum=False)
        except ParseError:
            self._drop("parse_error")
            return
        if packet.dst_port != self.local_port:
            self._drop("wrong_port")
            return
        assoc = self._by_peer.get((addr, packet.src_port))
        if assoc is None:
            assoc = self._rebound(packet, addr)
        if assoc is not None:
            old_tag = assoc.local_tag
            assoc._src = addr
            assoc.receive_packet(packet, len(data), now)
            if assoc.local_tag != old_tag and not assoc.closed:  # restart (§5.2.4 A)
                if self._by_tag.get(old_tag) is assoc:
                    del self._by_tag[old_tag]
                self._by_tag[assoc.local_tag] = assoc
            self._touch(assoc)
            return
        self._out_of_the_blue(packet, addr, len(data), now)

    def _rebound(self, packet: Packet, addr: PeerAddr) -> Association | None:
        """RFC 6951 §5.4: the peer's UDP port is learned from what arrives.

        A packet from an unknown (host, UDP port) whose verification tag is one of our
        associations' tags, from the same host and SCTP port, means the peer's UDP port
        changed (a NAT rebinding): the association follows it. Addresses that are not
        ``(host, port)`` tuples are never rebound.
        """
        assoc = self._by_tag.get(packet.verification_tag)
        if assoc is None or assoc.closed or not isinstance(addr, tuple) or len(addr) < 2:
            return None
        old = assoc.address
        if (
            assoc.remote_port != packet.src_port
            or not isinstance(old, tuple)
            or len(old) < 2
            or old[0] != addr[0]
        ):
            return None
        del self._by_peer[(old, assoc.remote_port)]
        self._by_peer[(addr, assoc.remote_port)] = assoc
        assoc.rebind(addr)
        self.rebinds += 1
        return assoc

    def _out_of_the_blue(self, packet: Packet, addr: PeerAddr, size: int, now: float) -> None:
        """A packet for no association (§8.4), including INIT and COOKIE ECHO (§5.1)."""
        chunks = packet.chunks
        first = chunks[0]
        vtag = packet.verification_tag
        if isinstance(first, InitChunk):
            if len(chunks) != 1 or vtag != 0:
                # §6.10: INIT is never bundled; §8.5.1 A: its verification tag is 0.
                self._drop("malformed_init")
                return
            self._answer_init(first, packet, addr, now)
            return
        if isinstance(first, CookieEchoChunk):
            self._accept_cookie(first, packet, addr, size, now, None)
            return
        if isinstance(first, AuthChunk) and len(chunks) > 1:
            second = chunks[1]
            if isinstance(second, CookieEchoChunk):
                # RFC 4895 §6.3: AUTH then COOKIE ECHO: the AUTH is checked once the cookie
                # gives the key vectors.
                self._accept_cookie(second, packet, addr, size, now, first)
                return
        kinds = {type(chunk) for chunk in chunks}
        if AbortChunk in kinds:
            # §8.4 rule 2: never answer an ABORT.
            self._drop("out_of_the_blue_abort")
        elif ShutdownAckChunk in kinds:
            # §8.4 rule 5: SHUTDOWN COMPLETE with the T bit, reflecting the packet's tag.
            self._drop("out_of_the_blue_shutdown_ack")
            self._reply(addr, packet.src_port, vtag, [ShutdownCompleteChunk(tag_reflected=True)])
        elif ShutdownCompleteChunk in kinds or CookieAckChunk in kinds:
            # §8.4 rules 6 and 7: silently discarded.
            self._drop("out_of_the_blue")
        elif ErrorChunk in kinds and any(
            isinstance(cause, StaleCookieErrorCause)
            for chunk in chunks
            if isinstance(chunk, ErrorChunk)
            for cause in chunk.causes
        ):
            self._drop("out_of_the_blue")  # §8.4 rule 7
        else:
            # §8.4 rule 8: ABORT with the T bit set, reflecting the packet's tag.
            self._drop("out_of_the_blue")
            self._reply(addr, packet.src_port, vtag, [AbortChunk(tag_reflected=True)])

    def _answer_init(self, init: InitChunk, packet: Packet, addr: PeerAddr, now: float) -> None:
        """INIT ACK with a State Cookie; nothing is stored (§5.1 B, §5.1.3)."""
        check = check_init(init)
        if check.discard:
            self._drop("invalid_init")
            return
        if check.abort_causes is not None:
            # §3.3.2: ABORT using the INIT's Initiate Tag.
            self._drop("invalid_init")
            self._reply(
                addr, packet.src_port, init.initiate_tag, [AbortChunk(causes=check.abort_causes)]
            )
            return
        if self._open_count() >= self.options.max_associations:
            self._drop("too_many_associations")
            self._reply(
                addr,
                packet.src_port,
                init.initiate_tag,
                [AbortChunk(causes=(OutOfResourceCause(),))],
            )
            return
        auth: AssociationAuth | None = None
        if self.auth_keys is not None:
            # RFC 4895: a keyed endpoint only associates with peers that authenticate.
            peer_auth, refusal = auth_refusal(init)
            if refusal is not None or peer_auth is None:
                self._drop("auth_refused")
                if refusal is not None:
                    self._reply(addr, packet.src_port, init.initiate_tag, [refusal])
                return
            local_auth = AuthParams.local(self._random_bytes)
            auth = AssociationAuth(self.auth_keys, local_auth, peer_auth)
        rng = self.rng
        ack = make_init_ack(
            self.options,
            self.cookies,
            init,
            check,
            local_tag=rng.randrange(1, 1 << 32),
            local_initial_tsn=rng.getrandbits(32),
            local_port=self.local_port,
            peer_port=packet.src_port,
            now=now,
            addresses=self._address_params,
            auth=auth,
        )
        self._reply(addr, packet.src_port, init.initiate_tag, [ack])

    def _accept_cookie(
        self,
        chunk: CookieEchoChunk,
        packet: Packet,
        addr: PeerAddr,
        size: int,
        now: float,
        auth_chunk: AuthChunk | None,
    ) -> None:
        """A COOKIE ECHO without an association: verify, then create it (§5.1.5).

        ``auth_chunk``: the AUTH chunk placed before it (RFC 4895 §6.2), which a keyed
        endpoint requires and checks before anything is created.
        """
        try:
            contents = self.cookies.open(chunk.cookie, now)
        except ForgedCookieError:
            self._drop("bad_cookie")
            return
        except StaleCookieError as stale:
            # §5.1.5 3, §3.3.10.3: tell the peer how stale it was.
            self._drop("stale_cookie")
            self._reply(
                addr,
                packet.src_port,
                stale.contents.peer_tag,
                [ErrorChunk(causes=(StaleCookieErrorCause(stale.staleness_us),))],
            )
            return
        if (
            packet.verification_tag != contents.local_tag
            or contents.peer_port != packet.src_port
            or contents.local_port != self.local_port
        ):
            self._drop("wrong_vtag")
            return
        if self._open_count() >= self.options.max_associations:
            self._drop("too_many_associations")
            self._reply(
                addr,
                packet.src_port,
                contents.peer_tag,
                [AbortChunk(causes=(OutOfResourceCause(),))],
            )
            return
        if contents.local_tag in self._by_tag:
            self._drop("tag_in_use")
            return
        keys = self.auth_keys
        if keys is not None and not self._cookie_auth_ok(
            keys, contents.auth, auth_chunk, addr, packet.src_port, contents.peer_tag
        ):
            return
        assoc = self._create(addr, packet.src_port, now)
        assoc.packets_received += 1
        assoc.bytes_received += size
        assoc.start_passive(contents, now)
        if assoc._auth is not None and auth_chunk is not None:
            assoc._auth.peer_authenticated(auth_chunk.shared_key_id)
        self._by_tag[assoc.local_tag] = assoc
        assoc._process_chunks(packet.chunks, 1 if auth_chunk is None else 2, now)
        self._touch(assoc)

    def _cookie_auth_ok(
        self,
        keys: AuthKeys,
        vectors: bytes,
        auth_chunk: AuthChunk | None,
        addr: PeerAddr,
        peer_port: int,
        peer_tag: int,
    ) -> bool:
        """A keyed endpoint: the AUTH before a COOKIE ECHO verifies (RFC 4895 §6.3).

        A peer whose AUTH does not verify holds none of our keys: it gets an ABORT saying so
        (accepted unauthenticated in COOKIE-ECHOED, see ``AssociationAuth.filter``) so that it
        fails at once instead of retransmitting its COOKIE ECHO; nothing is created.
        """
        auth = AssociationAuth.from_cookie(keys, vectors)
        if auth is None:
            self._drop("auth_missing")
            return False
        if auth_chunk is None:
            self._drop("auth_missing")
            return False
        reason = auth.verify(auth_chunk)
        if reason is None:
            return True
        self._drop(reason)
        text = b"SCTP-AUTH failed: the peer does not hold the key this endpoint requires"
        self._reply(addr, peer_port, peer_tag, [AbortChunk(causes=(ProtocolViolationCause(text),))])
        return False
