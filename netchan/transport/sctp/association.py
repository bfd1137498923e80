"""One SCTP association (RFC 9260): chunk dispatch by state, timers, liveness, teardown.

The association is sans-io. Its :class:`~netchan.transport.sctp.endpoint.SctpEndpoint`
hands it parsed packets that the endpoint's demultiplexer attributed to it, and the time;
the association queues chunks, bundles them into packets up to the path MTU when the
endpoint drains ``datagrams_to_send``, reports its earliest timer through
``next_deadline()`` and emits events through the endpoint (so their order is global).

The :class:`Association` owns the state, the public API and the dispatch of chunks and
timers; its procedures are split by concern, as module-level functions given the association:
:mod:`.connect` (setup and the §5.2 cases), :mod:`.datapath` (DATA and SACK, §6, over ``rx/``
and ``tx/``), :mod:`.bundling` (packet assembly, §6.10), :mod:`.liveness` (§8) and
:mod:`.shutdown` (§9). Every state change goes through
:func:`~netchan.transport.sctp.state.next_state`.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Protocol

from ..errors import MessageTooLargeError
from . import bundling, connect, datapath, liveness, paths, shutdown
from .auth import AssociationAuth, AuthKeys, AuthParams
from .connect import PEER_WINDOW_PACKETS
from .cookie import CookieContents, CookieFactory
from .counters import AssociationCounters, DropCounter
from .datapath import BLACK_HOLE_T3_EXPIRIES, NAGLE_HOLD
from .events import AssociationAborted, AssociationClosed, Event
from .heartbeat import HeartbeatHandler
from .options import Options
from .packet import (
    AbortChunk,
    AuthChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    IDataChunk,
    IForwardTsnChunk,
    InitAckChunk,
    InitChunk,
    Packet,
    PadChunk,
    Parameter,
    ProtocolViolationCause,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    StaleCookieErrorCause,
    UnknownChunk,
    UnrecognizedChunkTypeCause,
    UserInitiatedAbortCause,
    serialize_packet,
)
from .plpmtud import PathMtuDiscovery
from .rx.data_tracker import DataTracker
from .rx.reassembly import ReassemblyQueue
from .state import RECEIVING_STATES, SENDABLE_STATES, State, StateError, Trigger, next_state
from .timers import Timer
from .tx.rto import RtoEstimator
from .txpath import TxPath

# The tunables of the association's parts are importable from here too.
__all__ = ["BLACK_HOLE_T3_EXPIRIES", "NAGLE_HOLD", "PEER_WINDOW_PACKETS", "Association", "PeerAddr"]

PeerAddr = Hashable

# §6.2: send a window update when our window grew by this fraction of receive_window
# (or one MTU, whichever is larger) since the last advertised value.
_WINDOW_UPDATE_FRACTION = 0.25


class _Host(Protocol):
    """What an association needs from its endpoint."""

    options: Options
    rng: random.Random
    cookies: CookieFactory
    local_port: int
    auth_keys: AuthKeys | None

    def _emit(self, event: Event) -> None: ...
    def _random_bytes(self, n: int) -> bytes: ...
    def _new_tag(self) -> int: ...
    def _max_plpmtu(self, addr: PeerAddr) -> int: ...
    def _add_peer_address(self, assoc: Association, addr: PeerAddr) -> bool: ...

    @property
    def address_parameters(self) -> tuple[Parameter, ...]: ...
    def _association_closed(self, assoc: Association) -> None: ...
    def _touch(self, assoc: Association) -> None: ...


def _random_nonzero32(rng: random.Random) -> int:
    return rng.randrange(1, 1 << 32)


class Association:
    """One association with a peer (RFC 9260 §4 state machine, §5-§9 procedures).

    Created by :meth:`SctpEndpoint.connect` (active side, starts in COOKIE-WAIT) or by a
    valid COOKIE ECHO (passive side, starts ESTABLISHED). Users call :meth:`send`,
    :meth:`message_consumed`, :meth:`shutdown` and :meth:`abort`; everything else is for
    the endpoint.

    Attributes:
        id: local association id, never reused within its endpoint.
        remote_port: the peer's SCTP port.
        state: the RFC 9260 state.
        outbound_streams, inbound_streams: negotiated stream counts (0 before setup).
    """

    def __init__(
        self,
        host: _Host,
        assoc_id: int,
        addr: PeerAddr,
        remote_port: int,
        now: float,
    ) -> None:
        self._host = host
        options = host.options
        self._options = options
        self.id = assoc_id
        self.remote_port = remote_port
        self._addr = addr
        self.state = State.CLOSED
        self._sendable = False
        self._receiving = False
        rng = host.rng
        self._rng = rng
        self.local_tag = host._new_tag()
        self.peer_tag = 0
        self.local_initial_tsn = rng.getrandbits(32)
        self.peer_initial_tsn = 0
        # §5.2.2: Tie-Tags are random, nonzero, and only revealed inside our own cookies.
        self._local_tie_tag = _random_nonzero32(rng)
        self._peer_tie_tag = _random_nonzero32(rng)
        self.outbound_streams = 0
        self.inbound_streams = 0
        self._peer_a_rwnd = 0
        self._rto = RtoEstimator(
            rto_initial=options.rto_initial,
            rto_min=options.rto_min,
            rto_max=options.rto_max,
            alpha=options.rto_alpha,
            beta=options.rto_beta,
        )
        # Timers (§4, §5.1, §6.3, §8.3, §9.2).
        self._t1 = Timer("T1")  # T1-init or T1-cookie
        self._t2 = Timer("T2-shutdown")
        self._t3 = Timer("T3-rtx")
        self._t5 = Timer("T5-shutdown-guard")
        self.drops = DropCounter()
        self._heartbeat = HeartbeatHandler(options.heartbeat_interval, rng, self.drops)
        self._sack_timer = Timer("delayed-SACK")
        # RFC 8899 PLPMTUD, RFC 9260 §7.3: one per destination; this is the first one's.
        self._pmtud = PathMtuDiscovery(
            base=options.pmtu,
            max_plpmtu=host._max_plpmtu(addr) if options.plpmtud else 0,
            probe_timeout=options.pmtu_probe_timeout,
            raise_interval=options.pmtu_raise_interval,
            rng=rng,
        )
        # The packet size the send side is cut for (follows the PLPMTU lazily).
        self._pmtu = options.pmtu
        # T3-rtx expiries since new data was last acknowledged (black hole detection).
        self._t3_streak = 0
        # Nagle's rule (Options.nodelay off): how long a partial packet may still wait.
        self._nagle = Timer("Nagle")
        self._nagle_enabled = not options.nodelay
        self._nagle_expired = False
        # DATA packets sent since a SACK last acknowledged new data: the peer acknowledges
        # at once only every second packet (§6.2), so holding for a SACK pays off from two.
        self._packets_since_ack = 0
        # The last DATA packet left with more data still queued (a sender outpacing it).
        self._data_left_queued = False
        # Destinations (§6.4): the first is the address the association was created with;
        # ``_rto``, ``_heartbeat`` and ``_pmtud`` above are its state. ``_path`` is where
        # DATA goes (paths.select), ``_primary`` the preferred one.
        self._path = paths.Path(addr, self._rto, self._heartbeat, self._pmtud, confirmed=True)
        self._primary = self._path
        self._paths = [self._path]
        self._multihomed = False
        # Packets for a destination other than the current one (heartbeats of other paths,
        # replies to the address a packet came from, §6.4, §8.3).
        self._directed: list[tuple[bytes, PeerAddr]] = []
        # The source of the packet being processed (set by the endpoint) and, multihomed,
        # the confirmed path the next SACK answers to (§6.4: replies to the DATA's source).
        self._src: PeerAddr = addr
        self._reply_path: paths.Path | None = None
        # Data goes to another path for the retransmissions of a T3-rtx timeout (§6.4)
        # until the next acknowledgement of new data.
        self._detour = False
        self._established_once = False
        self._timers: tuple[Timer, ...] = ()
        self._rebuild_timers()
        # Packets with a special verification tag (INIT, T-bit replies...), ready to go.
        self._raw: list[bytes] = []
        # Control chunks to bundle at the front of the next packet(s), peer's tag.
        self._control: list[Chunk] = []
        self._init_chunk: InitChunk | None = None
        # Messages queued before the peer's parameters are known (COOKIE-WAIT/-ECHOED).
        self._pre_queue: list[tuple[bytes, int, int, bool]] = []
        self._error_after_cookie: ErrorChunk | None = None
        self._cookie_echo: CookieEchoChunk | None = None
        self._cookie_sent_at = 0.0
        self._init_retries = 0
        self._preservative = 0.0
        self._shutdown_requested = False
        # Liveness (§8.1-§8.3).
        self._error_count = 0
        self._path_reachable = True
        self._sack_since_t3 = False
        self._peer_window_closed = False
        # Data path, created when the peer's parameters are known.
        self._tracker: DataTracker | None = None
        self._reassembly: ReassemblyQueue | None = None
        self._tx: TxPath | None = None
        self._tx_open = False
        # RFC 8260: I-DATA negotiated (every message in I-DATA chunks, never DATA).
        self._interleaving = False
        self._unread = 0
        self._advertised_rwnd = options.receive_window
        self._receive_window = options.receive_window
        self._window_update_step = max(
            options.pmtu, int(options.receive_window * _WINDOW_UPDATE_FRACTION)
        )
        self._send_blocked = False
        # SCTP-AUTH (RFC 4895, auth.py): our INIT's parameters (keyed endpoint, active side)
        # and, once both sides' are known, the association's keys; None without AUTH.
        self._local_auth: AuthParams | None = None
        self._auth: AssociationAuth | None = None
        # Counters.
        self.packets_sent = 0
        self.packets_received = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.messages_sent = 0
        self.messages_received = 0
        self.closed = False

    # ------------------------------------------------------------------ public API

    @property
    def peer_addresses(self) -> tuple[PeerAddr, ...]:
        """The peer's transport addresses, the primary path first (§6.4)."""
        primary = self._primary
        return (primary.addr, *(p.addr for p in self._paths if p is not primary))

    @property
    def address(self) -> PeerAddr:
        """Where DATA goes now: the primary path, or the failover destination (§6.4.1)."""
        return self._addr

    @property
    def primary_path(self) -> PeerAddr:
        """The primary path's address (§6.4), whatever its state."""
        return self._primary.addr

    def path_states(self) -> dict[PeerAddr, tuple[str, bool]]:
        """Each peer address's (state, confirmed): ``"active"``, ``"potentially_failed"``
        (RFC 7829) or ``"inactive"`` (§8.2), and whether §5.4 confirmed it."""
        return {p.addr: (p.state.value, p.confirmed) for p in self._paths}

    def set_primary(self, addr: PeerAddr, now: float) -> None:
        """Make ``addr`` the primary path (§6.4: the upper layer may choose it).

        DATA moves there at once when it is active and confirmed; otherwise once it is.

        Raises:
            ValueError: ``addr`` is not one of :attr:`peer_addresses`.
        """
        path = paths.find(self, addr)
        if path is None:
            raise ValueError(f"{addr!r} is not an address of the peer")
        if path is not self._primary:
            self._primary = path
            paths.emit(self, path, "primary")
        if self._multihomed:
            paths.select(self, now)
        self._host._touch(self)

    @property
    def authenticated(self) -> bool:
        """SCTP-AUTH (RFC 4895) is in use on this association."""
        return self._auth is not None

    @property
    def peer_key_id(self) -> int | None:
        """The Shared Key Identifier of the peer's last AUTH chunk that verified: which of
        the endpoint's keys the peer holds (None without AUTH or before one arrived)."""
        return self._auth.peer_key_id if self._auth is not None else None

    def rebind(self, addr: PeerAddr) -> None:
        """The peer's transport address changed (RFC 6951 UDP port learning)."""
        self._path.addr = addr
        self._addr = addr

    @property
    def buffered_amount(self) -> int:
        """Bytes queued or sent and not yet acknowledged."""
        queued = connect.pre_queued_bytes(self) if self._pre_queue else 0
        return queued + self._tx.buffered_amount if self._tx is not None else queued

    @property
    def send_buffer_free(self) -> int:
        """Bytes ``send`` accepts before raising BufferError."""
        return max(0, self._options.send_buffer - self.buffered_amount)

    def send(
        self,
        data: bytes,
        *,
        stream: int,
        ppid: int = 0,
        unordered: bool = False,
        now: float,
    ) -> None:
        """Queue one user message (§6.1); it leaves with the next ``datagrams_to_send``.

        Raises:
            StateError: the association is not in a state that accepts new data (§9.2).
            ValueError: ``stream`` is outside the negotiated outbound streams or ``ppid``
                does not fit 32 bits.
            MessageTooLargeError: larger than ``Options.max_message_size``.
            BufferError: the send buffer is full; wait for ``SendBufferAvailable``.
        """
        if not self._sendable or self._shutdown_requested:
            raise StateError(f"cannot send in state {self.state}")
        limit = self.outbound_streams or self._options.outbound_streams
        if not 0 <= stream < limit:
            raise ValueError(f"stream {stream} is outside 0..{limit - 1}")
        if not 0 <= ppid <= 0xFFFFFFFF:
            raise ValueError("ppid must fit 32 bits")
        if len(data) > self._options.max_message_size:
            raise MessageTooLargeError(
                f"message of {len(data)} bytes exceeds max_message_size "
                f"{self._options.max_message_size}"
            )
        if not data:
            # §6.2: DATA chunks must carry user data (No User Data cause otherwise).
            raise ValueError("SCTP cannot carry an empty message")
        data = bytes(data)
        if self._tx is None or not self._tx_open:
            # Before ESTABLISHED messages wait here: the send side may still be rebuilt
            # (collision §5.2.4 B, stale cookie §5.2.6) before anything is sent.
            buffered = self.buffered_amount
            if buffered + len(data) > self._options.send_buffer and buffered:
                self._send_blocked = True
                raise BufferError("send buffer full")
            self._pre_queue.append((data, stream, ppid, unordered))
        else:
            try:
                self._tx.enqueue(data, stream, ppid, unordered, now)
            except BufferError:
                self._send_blocked = True
                raise
        self.messages_sent += 1
        self._host._touch(self)

    def message_consumed(self, nbytes: int, now: float) -> bool:
        """The application took a delivered message: its bytes leave our window (§6.2).

        A window update SACK goes out when the window grew significantly since the last
        advertisement (§6.2, avoiding the silly window syndrome). Returns True when that
        made a SACK due now, so a driver wakes its sender only then (a reader taking
        messages one by one would otherwise cost a flush per message).
        """
        if nbytes < 0:
            raise ValueError("nbytes must not be negative")
        unread = self._unread - nbytes
        self._unread = unread if unread > 0 else 0
        tracker = self._tracker
        if tracker is None or not self._receiving:
            return False
        self._host._touch(self)
        grew = datapath.local_rwnd(self) - self._advertised_rwnd
        # §6.2 with RFC 1122 §4.2.3.3's receiver SWS avoidance: update when the window grew
        # by a good fraction, or at once when the sender was stopped (our last window was
        # below one packet) and a packet fits again.
        pmtu = self._options.pmtu
        if grew >= self._window_update_step or self._advertised_rwnd < pmtu <= grew:
            tracker.force_immediate()
            return True
        return False

    def shutdown(self, now: float) -> None:
        """Start a graceful shutdown (§9.2): queued and outstanding data is delivered first.

        Idempotent. Before the association is established the shutdown starts as soon as
        it is.
        """
        if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            self._shutdown_requested = True
            return
        if self.state is State.ESTABLISHED:
            self._shutdown_requested = True
            self._transition(Trigger.SHUTDOWN)
            shutdown.check_shutdown_progress(self, now)
            self._host._touch(self)

    def abort(self, reason: str = "", now: float = 0.0) -> None:
        """Abort at once (§9.1): ABORT with a User-Initiated Abort cause, no retransmission.

        Idempotent; does nothing once closed.
        """
        if self.state is State.CLOSED:
            return
        cause = UserInitiatedAbortCause(reason.encode("utf-8", "replace")[:512])
        self._raw.clear()  # nothing queued before (an INIT, say) leaves after an abort
        if self.peer_tag:
            self._send_raw(self.peer_tag, [AbortChunk(causes=(cause,))])
        self._close_aborted(f"aborted locally: {reason}" if reason else "aborted locally", False)

    def statistics(self) -> AssociationCounters:
        """A frozen snapshot of counters and congestion / flow-control state."""
        tx = self._tx
        reassembly = self._reassembly
        return AssociationCounters(
            state=str(self.state),
            outbound_streams=self.outbound_streams,
            inbound_streams=self.inbound_streams,
            packets_sent=self.packets_sent,
            packets_received=self.packets_received,
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
            messages_sent=self.messages_sent,
            messages_received=self.messages_received,
            retransmissions=tx.retransmissions if tx else 0,
            fast_retransmits=tx.fast_retransmits if tx else 0,
            t3_expiries=tx.t3_expiries if tx else 0,
            heartbeats_sent=sum(p.heartbeat.sent for p in self._paths),
            heartbeat_acks_received=sum(p.heartbeat.acks_received for p in self._paths),
            drops=self.drops.snapshot(),
            srtt=self._rto.srtt,
            rto=self._rto.rto,
            cwnd=tx.cwnd if tx else None,
            ssthresh=tx.ssthresh if tx else None,
            peer_rwnd=tx.peer_rwnd if tx else self._peer_a_rwnd or None,
            bytes_in_flight=tx.bytes_in_flight if tx else 0,
            local_rwnd=datapath.local_rwnd(self),
            send_buffered=self.buffered_amount,
            receive_buffered=(reassembly.held_bytes if reassembly else 0) + self._unread,
            interleaving=self._interleaving,
            pmtu=self._pmtud.plpmtu,
            pmtu_state=str(self._pmtud.state),
            pmtu_probes_sent=self._pmtud.probes_sent,
            pmtu_black_holes=self._pmtud.black_holes,
        )

    @property
    def pmtu(self) -> int:
        """The current PLPMTU toward the peer: the largest packet sent, probes aside."""
        return self._pmtud.plpmtu

    def packet_too_big(self, size: int, now: float) -> None:
        """A verified ICMP Packet Too Big for a packet we sent to the peer (RFC 8899 §4.6),
        ``size`` in SCTP packet bytes (the driver subtracted the IP and UDP headers)."""
        if self.closed:
            return
        self._pmtud.packet_too_big(size, now)

    def __repr__(self) -> str:
        return f"<Association id={self.id} {self.state} peer={self._addr!r}>"

    # ------------------------------------------------------------------ setup

    def start_active(self, now: float) -> None:
        """Send INIT and enter COOKIE-WAIT (§5.1 A). Called by ``SctpEndpoint.connect``."""
        self._transition(Trigger.ASSOCIATE)
        connect.send_init(self, now)

    def start_passive(self, contents: CookieContents, now: float) -> None:
        """Build the association from a verified State Cookie (§5.1 D): ESTABLISHED."""
        connect.adopt_cookie(self, contents, now)
        self._transition(Trigger.COOKIE_ECHO_ACCEPTED)
        self._queue_control(CookieAckChunk())
        connect.on_established(self, now)

    def handle_init(self, chunk: InitChunk, now: float) -> None:
        """An INIT for this existing association (§5.2.1, §5.2.2, §9.2)."""
        connect.handle_init(self, chunk, now)

    def handle_cookie_echo(self, chunk: CookieEchoChunk, vtag: int, now: float) -> bool:
        """A COOKIE ECHO for this existing association (§5.2.4).

        Returns True when the rest of the packet is to be processed (the cookie was
        accepted), False when the packet is to be dropped.
        """
        return connect.handle_cookie_echo(self, chunk, vtag, now)

    # ------------------------------------------------------------------ receive

    def receive_packet(self, packet: Packet, size: int, now: float) -> None:
        """Process one packet the endpoint attributed to this association.

        Verification-tag rules (§8.5, §8.5.1) are applied here; offending packets are
        dropped and counted. Never raises on peer input.
        """
        self.packets_received += 1
        self.bytes_received += size
        chunks = packet.chunks
        first = chunks[0]
        vtag = packet.verification_tag
        if isinstance(first, InitChunk):
            # §6.10: INIT is alone in its packet; §8.5.1 A: its verification tag is 0.
            if len(chunks) != 1 or vtag != 0:
                self.drops.add("malformed_init")
                return
            connect.handle_init(self, first, now)
            return
        start = 0
        keys = self._host.auth_keys
        if keys is not None and isinstance(first, (AuthChunk, CookieEchoChunk)):
            start = connect.authenticated_cookie_echo(self, keys, chunks, vtag, now)
            if start < 0:
                return
        elif isinstance(first, CookieEchoChunk):
            if not connect.handle_cookie_echo(self, first, vtag, now):
                return
            start = 1
        if start == 0:
            if not self._verification_tag_ok(packet):
                return
            auth = self._auth
            if auth is not None:
                chunks, error = auth.filter(
                    chunks, 0, self.drops, setup=self.state is State.COOKIE_ECHOED
                )
                if error is not None:
                    self._queue_control(error)
                if not chunks:
                    return
        self._process_chunks(chunks, start, now)

    def _verification_tag_ok(self, packet: Packet) -> bool:
        vtag = packet.verification_tag
        for chunk in packet.chunks:
            if isinstance(chunk, (AbortChunk, ShutdownCompleteChunk)):
                # §8.5.1 B, C: with the T bit the packet carries the peer's own tag.
                expected = self.peer_tag if chunk.tag_reflected else self.local_tag
                if vtag == expected and expected != 0:
                    return True
                self.drops.add("wrong_vtag")
                return False
            if isinstance(chunk, ShutdownAckChunk) and self.state in (
                State.COOKIE_WAIT,
                State.COOKIE_ECHOED,
            ):
                # §8.5.1 E: treat as out of the blue: SHUTDOWN COMPLETE with the T bit.
                self._send_raw(vtag, [ShutdownCompleteChunk(tag_reflected=True)])
                self.drops.add("shutdown_ack_during_setup")
                return False
        if vtag != self.local_tag:
            self.drops.add("wrong_vtag")
            return False
        return True

    def _process_chunks(self, chunks: list[Chunk], start: int, now: float) -> None:
        had_data = False
        for index in range(start, len(chunks)):
            if self.state is State.CLOSED:
                return
            chunk = chunks[index]
            if isinstance(chunk, (DataChunk, IDataChunk)):
                had_data = True
                if not datapath.handle_data(self, chunk, now):
                    return
            elif isinstance(chunk, SackChunk):
                datapath.handle_sack(self, chunk, now)
            elif isinstance(chunk, HeartbeatChunk):
                # §8.3: echo the info back unchanged, to the address it came from.
                if self.state is not State.COOKIE_WAIT:
                    if self._multihomed and self._src != self._addr:
                        self._send_to(self._src, self.peer_tag, [HeartbeatAckChunk(chunk.info)])
                    else:
                        self._queue_control(HeartbeatAckChunk(chunk.info))
            elif isinstance(chunk, HeartbeatAckChunk):
                liveness.handle_heartbeat_ack(self, chunk, now)
            elif isinstance(chunk, AbortChunk):
                self._close_aborted(f"peer sent ABORT: {chunk}", True)
                return
            elif isinstance(chunk, InitAckChunk):
                connect.handle_init_ack(self, chunk, now)
            elif isinstance(chunk, CookieAckChunk):
                connect.handle_cookie_ack(self, now)
            elif isinstance(chunk, ShutdownChunk):
                shutdown.handle_shutdown(self, chunk, now)
            elif isinstance(chunk, ShutdownAckChunk):
                shutdown.handle_shutdown_ack(self, now)
            elif isinstance(chunk, ShutdownCompleteChunk):
                shutdown.handle_shutdown_complete(self, now)
            elif isinstance(chunk, ErrorChunk):
                self._handle_error(chunk, now)
            elif isinstance(chunk, PadChunk):
                pass  # RFC 4820 §3: the receiver ignores PAD (it fills path MTU probes)
            elif isinstance(chunk, (InitChunk, CookieEchoChunk)):
                # §6.10 / §5.1: INIT bundled, or COOKIE ECHO not first: ignore the chunk.
                self.drops.add("misplaced_chunk")
            elif isinstance(chunk, IForwardTsnChunk):
                # RFC 8260 §2.3.1: I-FORWARD-TSN belongs to PR-SCTP, which we never offer:
                # a protocol violation that aborts the association.
                self._protocol_violation(
                    f"peer sent chunk type {chunk.chunk_type} without negotiating it"
                )
                return
            else:
                # §3.2: unknown (or not offered: FORWARD TSN, RFC 3758) chunk types are
                # handled by the upper two bits of their type.
                raw = chunk.serialize()
                action = (
                    chunk.action
                    if isinstance(chunk, UnknownChunk)
                    else UnknownChunk(chunk.chunk_type, 0, b"").action
                )
                self.drops.add("unrecognized_chunk")
                if action.report:
                    # §3.3.10.6: the whole chunk, cut only where it would not fit one
                    # packet with the ERROR's headers.
                    cause = UnrecognizedChunkTypeCause(raw[: self._options.pmtu - 24])
                    self._queue_control(ErrorChunk(causes=(cause,)))
                if not action.skip:
                    break
        if had_data:
            if self._multihomed:
                # §6.4: the SACK goes to the DATA's source, when we may send there (§5.4).
                path = paths.find(self, self._src)
                self._reply_path = path if path is not None and path.confirmed else None
            datapath.end_of_data_packet(self, now)

    # ------------------------------------------------------------------ data receive

    def _protocol_violation(self, reason: str) -> None:
        """ABORT with a Protocol Violation cause (§3.3.10.13) and close."""
        self._send_raw(
            self.peer_tag, [AbortChunk(causes=(ProtocolViolationCause(reason.encode()),))]
        )
        self._close_aborted(reason, False)

    # ------------------------------------------------------------------ data send

    # ------------------------------------------------------------------ ERROR chunks

    def _handle_error(self, chunk: ErrorChunk, now: float) -> None:
        for cause in chunk.causes:
            if isinstance(cause, StaleCookieErrorCause):
                connect.handle_stale_cookie(self, cause, now)
                return
        self.drops.add("error_chunk_received")

    # ------------------------------------------------------------------ timers

    def next_deadline(self) -> float | None:
        """The earliest deadline of this association's timers."""
        best: float | None = None
        for timer in self._timers:
            deadline = timer.deadline
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        return best

    def handle_timeout(self, now: float) -> None:
        """Run every timer whose deadline has passed."""
        if self._is_closed():
            return
        if self._t1.expired(now):
            connect.t1_expired(self, now)
        if self._is_closed():
            return
        if self._t3.expired(now):
            datapath.t3_expired(self, now)
        if self._is_closed():
            return
        if self._t2.expired(now):
            shutdown.t2_expired(self, now)
        if self._is_closed():
            return
        if self._t5.expired(now):
            # §9.2: T5-shutdown-guard: give up on the graceful shutdown.
            self._send_raw(
                self.peer_tag,
                [AbortChunk(causes=(UserInitiatedAbortCause(b"shutdown guard timer expired"),))],
            )
            self._close_aborted("shutdown did not complete in time (T5-shutdown-guard)", False)
            return
        if self._sack_timer.expired(now) and self._tracker is not None:
            self._tracker.handle_timeout(now)
        for path in self._paths:
            if path.heartbeat.timer.expired(now):
                liveness.heartbeat_timeout(self, path, now)
                if self._is_closed():
                    return
        if self._nagle.expired(now):
            self._nagle_expired = True  # the held partial packet goes with the next output
        if self._pmtud.timer.expired(now):
            self._pmtud.handle_timeout(now)

    def _is_closed(self) -> bool:
        return self.closed

    # ------------------------------------------------------------------ output

    def _queue_control(self, chunk: Chunk) -> None:
        self._control.append(chunk)

    def _send_raw(self, vtag: int, chunks: list[Chunk]) -> None:
        self._raw.append(self._serialize(vtag, chunks))

    def _serialize(self, vtag: int, chunks: list[Chunk]) -> bytes:
        """A packet to the peer: with an AUTH chunk when SCTP-AUTH asks for one (RFC 4895)."""
        auth = self._auth
        if auth is not None:
            return auth.serialize(self._host.local_port, self.remote_port, vtag, chunks)
        return serialize_packet(self._host.local_port, self.remote_port, vtag, chunks)

    def _send_to(self, addr: PeerAddr, vtag: int, chunks: list[Chunk]) -> None:
        """A packet for ``addr`` rather than the current destination (§6.4, §8.3)."""
        packet = self._serialize(vtag, chunks)
        self._directed.append((packet, addr))
        self.packets_sent += 1
        self.bytes_sent += len(packet)

    def take_directed(self) -> list[tuple[bytes, PeerAddr]]:
        """Packets for destinations other than :attr:`address`, with their address."""
        out = self._directed
        self._directed = []
        return out

    def _rebuild_timers(self) -> None:
        """The timers :meth:`next_deadline` watches: the association's, the current path's
        path MTU discovery, and every path's heartbeat."""
        timers = [
            self._nagle,
            self._t1,
            self._t2,
            self._t3,
            self._t5,
            self._sack_timer,
            self._pmtud.timer,
        ]
        timers.extend(path.heartbeat.timer for path in self._paths)
        self._timers = tuple(timers)

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """Packets ready to go to :attr:`address`: bundles control chunks, SACK and DATA
        up to the path MTU (§6.10)."""
        return bundling.datagrams_to_send(self, now)

    def take_packets(self) -> list[bytes]:
        """Packets already built (ABORT, SHUTDOWN COMPLETE...), for the endpoint to send
        in order when the association closes."""
        out = self._raw
        self._raw = []
        bundling.account(self, out)
        return out

    # ------------------------------------------------------------------ closing

    def _transition(self, trigger: Trigger) -> None:
        state = next_state(self.state, trigger)
        self.state = state
        # Cached for the per-message paths (enum hashing is comparatively slow).
        self._sendable = state in SENDABLE_STATES
        self._receiving = state in RECEIVING_STATES

    def _stop_all(self) -> None:
        for timer in self._timers:
            timer.stop()
        self._control.clear()

    def _close_aborted(self, reason: str, by_peer: bool) -> None:
        if self.state is State.CLOSED:
            return
        self._transition(Trigger.ABORT)
        self._stop_all()
        self.closed = True
        self._host._emit(AssociationAborted(self.id, reason=reason, by_peer=by_peer))
        self._host._association_closed(self)

    def _close_gracefully(self) -> None:
        self._stop_all()
        self.closed = True
        self._host._emit(AssociationClosed(self.id))
        self._host._association_closed(self)

    def icmp_unreachable(self, now: float, addr: PeerAddr | None = None) -> None:
        """The peer's host reported it unreachable (RFC 9260 §10), tag verified.

        Multihomed, an unreachable ``addr`` is a failed path (§8.2): data moves to another
        one; the association ends only when no other path is left. A path counts only once
        confirmed (§5.4: DATA never goes to an address that has not answered a HEARTBEAT):
        with nothing but unconfirmed addresses besides, the association would keep sending
        into the unreachable one until its retransmission timeouts ran out.
        """
        if self.state is State.CLOSED:
            return
        if self._multihomed and addr is not None:
            path = paths.find(self, addr)
            if path is not None and any(
                p is not path and p.confirmed and p.state is not paths.INACTIVE for p in self._paths
            ):
                path.error_count = max(path.error_count, self._options.path_max_retransmissions)
                paths.path_failed_once(self, path, now)
                return
        self._close_aborted("peer unreachable (ICMP)", True)
