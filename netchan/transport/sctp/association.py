"""One SCTP association (RFC 9260): chunk dispatch by state, timers, liveness, teardown.

The association is sans-io. Its :class:`~netchan.transport.sctp.endpoint.SctpEndpoint`
hands it parsed packets that the endpoint's demultiplexer attributed to it, and the time;
the association queues chunks, bundles them into packets up to the path MTU when the
endpoint drains ``datagrams_to_send``, reports its earliest timer through
``next_deadline()`` and emits events through the endpoint (so their order is global).

The data path lives in its own modules (``rx/`` and ``tx/``); this module glues them to the
wire and to the state machine. Every state change goes through
:func:`~netchan.transport.sctp.state.next_state`.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Protocol

from ..errors import MessageTooLargeError
from .cookie import CookieContents, CookieFactory, ForgedCookieError, StaleCookieError
from .counters import AssociationCounters, DropCounter
from .events import (
    AssociationAborted,
    AssociationClosed,
    AssociationEstablished,
    AssociationRestarted,
    Event,
    MessageReceived,
    PeerAddressChanged,
    SendBufferAvailable,
)
from .handshake import check_init, make_init, make_init_ack, negotiate_interleaving
from .heartbeat import HeartbeatHandler
from .options import Options
from .packet import (
    COMMON_HEADER_SIZE,
    DATA_HEADER_SIZE,
    PAD_CHUNK_HEADER_SIZE,
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    CookieReceivedWhileShuttingDownCause,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    IDataChunk,
    IForwardTsnChunk,
    InitAckChunk,
    InitChunk,
    InvalidStreamIdentifierCause,
    NoUserDataCause,
    Packet,
    PadChunk,
    ProtocolViolationCause,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    StaleCookieErrorCause,
    UnknownChunk,
    UnrecognizedChunkTypeCause,
    UnrecognizedParametersCause,
    UserInitiatedAbortCause,
    serialize_packet,
)
from .plpmtud import PROBE_INFO, Fragmentable, PathMtuDiscovery
from .rx.data_tracker import DataTracker
from .rx.reassembly import ReassemblyQueue
from .state import RECEIVING_STATES, SENDABLE_STATES, State, StateError, Trigger, next_state
from .timers import Timer
from .tx.rto import RtoEstimator
from .txpath import TxPath

PeerAddr = Hashable

# §6.2: send a window update when our window grew by this fraction of receive_window
# (or one MTU, whichever is larger) since the last advertised value.
_WINDOW_UPDATE_FRACTION = 0.25
#: Longest a partial packet of new DATA waits under Nagle's rule (``Options.nodelay`` off)
#: for more data or for the acknowledgement of what is in flight: bounds the wait when the
#: peer delays its SACK (§6.2) for a lone packet.
NAGLE_HOLD = 0.001
#: Consecutive T3-rtx expiries (no new data acknowledged in between) that mean a black hole
#: when the PLPMTU is above BASE_PLPMTU (RFC 8899 §4.3: repeated loss of full-size packets).
#: One expiry is ordinary loss; the second in a row, after the first retransmitted the
#: oldest chunks at the same size, points at the size. A false alarm costs little: BASE is
#: confirmed and MAX_PLPMTU probed again within two round trips.
BLACK_HOLE_T3_EXPIRIES = 2
#: Packets the peer's initial receive window (a_rwnd of INIT / INIT ACK) must hold at the
#: largest path MTU probed for: MAX_PLPMTU is at most a_rwnd / this (RFC 8899 §3 item 5: what
#: the receiver can accept bounds the search; TCP bounds its segments to a fraction of the
#: window alike). A receiver drops a packet that overruns its buffer, and a few large packets
#: fill a small one: usrsctp (128 KiB buffer, its window counts buffer overhead) lost 1 to 4
#: packets of 32 KiB per 20 MB sent, none of 24 KiB or 16 KiB. netchan's 4 MiB window is not
#: limited by it.
PEER_WINDOW_PACKETS = 8
# States in which path MTU probes go out: while DATA may still be sent.
_PROBE_STATES = (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED)
# Probe packet (RFC 8899 §6.2): common header + HEARTBEAT with its info + PAD chunk header.
_PROBE_OVERHEAD = COMMON_HEADER_SIZE + 8 + PROBE_INFO.size + PAD_CHUNK_HEADER_SIZE


class _Host(Protocol):
    """What an association needs from its endpoint."""

    options: Options
    rng: random.Random
    cookies: CookieFactory
    local_port: int

    def _emit(self, event: Event) -> None: ...
    def _new_tag(self) -> int: ...
    def _max_plpmtu(self, addr: PeerAddr) -> int: ...
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
        # RFC 8899 PLPMTUD for the (only) destination, RFC 9260 §7.3: one per destination.
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
        self._timers = (
            self._nagle,
            self._t1,
            self._t2,
            self._t3,
            self._t5,
            self._heartbeat.timer,
            self._sack_timer,
            self._pmtud.timer,
        )
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
        """The peer's transport addresses (one: single-homed)."""
        return (self._addr,)

    @property
    def address(self) -> PeerAddr:
        """The primary (only) peer address."""
        return self._addr

    def rebind(self, addr: PeerAddr) -> None:
        """The peer's transport address changed (RFC 6951 UDP port learning)."""
        self._addr = addr

    @property
    def buffered_amount(self) -> int:
        """Bytes queued or sent and not yet acknowledged."""
        queued = self._pre_queued_bytes() if self._pre_queue else 0
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

    def message_consumed(self, nbytes: int, now: float) -> None:
        """The application took a delivered message: its bytes leave our window (§6.2).

        A window update SACK goes out when the window grew significantly since the last
        advertisement (§6.2, avoiding the silly window syndrome).
        """
        if nbytes < 0:
            raise ValueError("nbytes must not be negative")
        unread = self._unread - nbytes
        self._unread = unread if unread > 0 else 0
        tracker = self._tracker
        if tracker is None or not self._receiving:
            return
        self._host._touch(self)
        grew = self._local_rwnd() - self._advertised_rwnd
        # §6.2 with RFC 1122 §4.2.3.3's receiver SWS avoidance: update when the window grew
        # by a good fraction, or at once when the sender was stopped (our last window was
        # below one packet) and a packet fits again.
        pmtu = self._options.pmtu
        if grew >= self._window_update_step or self._advertised_rwnd < pmtu <= grew:
            tracker.force_immediate()

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
            self._check_shutdown_progress(now)
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
            heartbeats_sent=self._heartbeat.sent,
            heartbeat_acks_received=self._heartbeat.acks_received,
            drops=self.drops.snapshot(),
            srtt=self._rto.srtt,
            rto=self._rto.rto,
            cwnd=tx.cwnd if tx else None,
            ssthresh=tx.ssthresh if tx else None,
            peer_rwnd=tx.peer_rwnd if tx else self._peer_a_rwnd or None,
            bytes_in_flight=tx.bytes_in_flight if tx else 0,
            local_rwnd=self._local_rwnd(),
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

    def _pre_queued_bytes(self) -> int:
        return sum(len(m[0]) for m in self._pre_queue)

    def start_active(self, now: float) -> None:
        """Send INIT and enter COOKIE-WAIT (§5.1 A). Called by ``SctpEndpoint.connect``."""
        self._transition(Trigger.ASSOCIATE)
        self._send_init(now)

    def _send_init(self, now: float) -> None:
        self._init_chunk = make_init(
            self._options, self.local_tag, self.local_initial_tsn, self._preservative
        )
        # §8.5.1 A: the packet carrying INIT has verification tag 0.
        self._send_raw(0, [self._init_chunk])
        self._t1.start(now, self._rto.rto)

    def start_passive(self, contents: CookieContents, now: float) -> None:
        """Build the association from a verified State Cookie (§5.1 D): ESTABLISHED."""
        self._adopt_cookie(contents)
        self._transition(Trigger.COOKIE_ECHO_ACCEPTED)
        self._queue_control(CookieAckChunk())
        self._on_established(now)

    def _adopt_cookie(self, contents: CookieContents) -> None:
        self.local_tag = contents.local_tag
        self.peer_tag = contents.peer_tag
        self.local_initial_tsn = contents.local_initial_tsn
        self._setup_datapath(
            contents.peer_initial_tsn,
            contents.peer_a_rwnd,
            contents.outbound_streams,
            contents.inbound_streams,
            contents.interleaving,
        )

    def _setup_datapath(
        self,
        peer_initial_tsn: int,
        peer_a_rwnd: int,
        outbound: int,
        inbound: int,
        interleaving: bool,
    ) -> None:
        options = self._options
        self._interleaving = interleaving
        self.peer_initial_tsn = peer_initial_tsn
        self._peer_a_rwnd = peer_a_rwnd
        self.outbound_streams = outbound
        self.inbound_streams = inbound
        self._tracker = DataTracker(
            peer_initial_tsn,
            delayed_ack_packets=options.delayed_ack_packets,
            delayed_ack_timeout=options.delayed_ack_timeout,
            pmtu=options.pmtu,
        )
        self._reassembly = ReassemblyQueue(
            max_message_size=options.max_message_size, interleaved=interleaving
        )
        self._unread = 0
        self._advertised_rwnd = options.receive_window
        self._tx = TxPath(
            options, self.local_initial_tsn, peer_a_rwnd, self._rto, interleaving=interleaving
        )
        self._tx_open = False
        self._peer_window_closed = False
        self._pmtu = options.pmtu  # a new send side is cut for BASE_PLPMTU

    def _flush_pre_queue(self, now: float) -> None:
        """ESTABLISHED: messages queued during setup go to the send side, in order."""
        tx = self._tx
        if tx is None:
            return
        self._tx_open = True
        pre = self._pre_queue
        self._pre_queue = []
        for data, stream, ppid, unordered in pre:
            if stream < self.outbound_streams:
                tx.send_queue.add(stream, ppid, data, unordered=unordered, outstanding_bytes=0)
            else:
                # The peer allowed fewer streams than we offered (§5.1.1).
                self.drops.add("message_on_unnegotiated_stream")

    def _on_established(self, now: float) -> None:
        self._flush_pre_queue(now)
        self._t1.reset()
        self._init_chunk = None
        self._cookie_echo = None
        self._error_count = 0
        self._host._emit(
            AssociationEstablished(
                self.id,
                outbound_streams=self.outbound_streams,
                inbound_streams=self.inbound_streams,
            )
        )
        self._restart_heartbeat(now)
        # RFC 8899 §5.2: connectivity confirmed: DISABLED -> BASE, probing starts.
        self._pmtud.limit_max(self._peer_a_rwnd // PEER_WINDOW_PACKETS)
        self._pmtud.start(now)
        if self._shutdown_requested and self.state is State.ESTABLISHED:
            self._transition(Trigger.SHUTDOWN)
            self._check_shutdown_progress(now)

    def _handle_init_ack(self, chunk: InitAckChunk, now: float) -> None:
        if self.state is not State.COOKIE_WAIT:
            # §5.2.3: an INIT ACK in any other state is discarded.
            self.drops.add("unexpected_init_ack")
            return
        check = check_init(chunk)
        if check.abort_causes is not None or check.discard:
            # §3.3.3: destroy the TCB and send ABORT (T bit: we have no peer tag yet,
            # so we reflect our own tag; the peer identifies it by the INIT ACK's tag).
            self._send_raw(chunk.initiate_tag, [AbortChunk(causes=check.abort_causes or ())])
            self._close_aborted(f"invalid INIT ACK: {check.reason}", False)
            return
        if check.cookie is None:  # check_init reports a missing cookie; defensive
            self.drops.add("invalid_init_ack")
            return
        self.peer_tag = chunk.initiate_tag
        outbound = min(self._options.outbound_streams, chunk.inbound_streams)
        inbound = min(self._options.inbound_streams, chunk.outbound_streams)
        # RFC 8260 §2.2.1: I-DATA is used when our INIT and this INIT ACK both list it.
        interleaving = negotiate_interleaving(self._options, check)
        self._setup_datapath(chunk.initial_tsn, chunk.a_rwnd, outbound, inbound, interleaving)
        self._cookie_echo = CookieEchoChunk(check.cookie)
        if check.unrecognized:
            # §3.2.1: report unknown parameters of the INIT ACK in an ERROR bundled with the
            # COOKIE ECHO (COOKIE ECHO first, §5.1 C).
            self._error_after_cookie = ErrorChunk(
                causes=(
                    UnrecognizedParametersCause(b"".join(_pad4(r) for r in check.unrecognized)),
                )
            )
        else:
            self._error_after_cookie = None
        self._transition(Trigger.INIT_ACK_RECEIVED)
        self._t1.reset()
        self._init_retries = 0
        self._send_cookie_echo(now)

    def _send_cookie_echo(self, now: float) -> None:
        if self._cookie_echo is None:
            return
        chunks: list[Chunk] = [self._cookie_echo]
        if self._error_after_cookie is not None:
            chunks.append(self._error_after_cookie)
        self._send_raw(self.peer_tag, chunks)
        self._cookie_sent_at = now
        self._t1.start(now, self._rto.rto)

    def _handle_cookie_ack(self, now: float) -> None:
        if self.state is not State.COOKIE_ECHOED:
            # §5.2.5: a COOKIE ACK in any other state is discarded.
            return
        if self._t1.expirations == 0:
            # Karn: only a COOKIE ECHO sent once gives an RTT sample.
            self._rto.observe(now - self._cookie_sent_at)
        self._transition(Trigger.COOKIE_ACK_RECEIVED)
        self._on_established(now)

    def handle_init(self, chunk: InitChunk, now: float) -> None:
        """An INIT for this existing association (§5.2.1, §5.2.2, §9.2)."""
        options = self._options
        check = check_init(chunk)
        if check.discard:
            self.drops.add("invalid_init")
            return
        if check.abort_causes is not None:
            # §3.3.2: answer with ABORT carrying the INIT's Initiate Tag; keep our state.
            self._send_raw(chunk.initiate_tag, [AbortChunk(causes=check.abort_causes)])
            return
        state = self.state
        if state is State.SHUTDOWN_ACK_SENT:
            # §9.2: discard the INIT and retransmit SHUTDOWN ACK.
            self._queue_control(ShutdownAckChunk())
            return
        if state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            # §5.2.1: INIT ACK with the parameters of our own INIT (same tag, same TSN);
            # Tie-Tags only once we have a peer tag (COOKIE-ECHOED).
            local_tag = self.local_tag
            local_tsn = self.local_initial_tsn
            tie = state is State.COOKIE_ECHOED
        else:
            # §5.2.2: a new Initiate Tag, our Tie-Tags in the cookie; nothing changes here.
            local_tag = self._host._new_tag()
            local_tsn = self._rng.getrandbits(32)
            tie = True
        ack = make_init_ack(
            options,
            self._host.cookies,
            chunk,
            check,
            local_tag=local_tag,
            local_initial_tsn=local_tsn,
            local_port=self._host.local_port,
            peer_port=self.remote_port,
            now=now,
            local_tie_tag=self._local_tie_tag if tie else 0,
            peer_tie_tag=self._peer_tie_tag if tie else 0,
        )
        self._send_raw(chunk.initiate_tag, [ack])

    def handle_cookie_echo(self, chunk: CookieEchoChunk, vtag: int, now: float) -> bool:
        """A COOKIE ECHO for this existing association (§5.2.4).

        Returns True when the rest of the packet is to be processed (the cookie was
        accepted), False when the packet is to be dropped.
        """
        cookies = self._host.cookies
        try:
            contents = cookies.open(chunk.cookie, now)
        except ForgedCookieError:
            self.drops.add("bad_cookie")
            return False
        except StaleCookieError as stale:
            contents = stale.contents
            if not (contents.local_tag == self.local_tag and contents.peer_tag == self.peer_tag):
                # §5.2.4 step 3: stale and not ours: Stale Cookie error.
                self.drops.add("stale_cookie")
                self._send_raw(
                    contents.peer_tag,
                    [ErrorChunk(causes=(StaleCookieErrorCause(stale.staleness_us),))],
                )
                return False
        if vtag != contents.local_tag or contents.peer_port != self.remote_port:
            self.drops.add("wrong_vtag")
            return False
        local_match = contents.local_tag == self.local_tag
        peer_match = contents.peer_tag == self.peer_tag
        ties_match = (
            contents.local_tie_tag == self._local_tie_tag
            and contents.peer_tie_tag == self._peer_tie_tag
        )
        if not local_match and not peer_match and ties_match:
            return self._cookie_restart(contents, now)  # action A
        if local_match and not peer_match:
            # Action B: the peer chose a new tag after answering our INIT (collision).
            if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
                self._adopt_cookie(contents)
                self._transition(Trigger.COLLISION_ESTABLISHED)
                self._queue_control(CookieAckChunk())
                self._on_established(now)
            else:
                self.peer_tag = contents.peer_tag
                self._queue_control(CookieAckChunk())
            return True
        if not local_match and peer_match and contents.local_tie_tag == 0:
            # Action C: our own old cookie arrived late; silently discard.
            self.drops.add("late_cookie")
            return False
        if local_match and peer_match:
            # Action D: a duplicate (our COOKIE ACK may have been lost).
            if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
                self._transition(Trigger.COLLISION_ESTABLISHED)
                self._queue_control(CookieAckChunk())
                self._on_established(now)
            else:
                self._queue_control(CookieAckChunk())
            return True
        self.drops.add("unmatched_cookie")
        return False

    def _cookie_restart(self, contents: CookieContents, now: float) -> bool:
        if self.state is State.SHUTDOWN_ACK_SENT:
            # §5.2.4 A: no restart while shutting down: resend SHUTDOWN ACK plus an ERROR.
            self._queue_control(ShutdownAckChunk())
            self._queue_control(ErrorChunk(causes=(CookieReceivedWhileShuttingDownCause(),)))
            return False
        if self.state is State.COOKIE_WAIT:
            self.drops.add("unmatched_cookie")
            return False
        # Restart: everything is reset as after an ABORT followed by a new COOKIE ECHO
        # (data already handed to the send side is not retained), congestion state
        # included (§5.2.4 A). Messages still waiting for setup are kept.
        was_established = self.state is not State.COOKIE_ECHOED
        for timer in self._timers:
            timer.reset()
        self._pmtud.stop()  # its timer was just reset; probing starts over below
        self._control.clear()
        self._error_count = 0
        self._t3_streak = 0
        if was_established:
            self._shutdown_requested = False
        self._adopt_cookie(contents)
        self._transition(Trigger.RESTART)
        self._queue_control(CookieAckChunk())
        if was_established:
            self._flush_pre_queue(now)
            self._host._emit(AssociationRestarted(self.id))
            self._restart_heartbeat(now)
            self._pmtud.limit_max(self._peer_a_rwnd // PEER_WINDOW_PACKETS)
            self._pmtud.start(now)
        else:
            self._on_established(now)
        return True

    def _handle_stale_cookie(self, cause: StaleCookieErrorCause, now: float) -> None:
        # §5.2.6 alternative 3: a new INIT with a Cookie Preservative covering the delay.
        if self.state is not State.COOKIE_ECHOED:
            return
        self._init_retries += 1
        if self._init_retries > self._options.max_init_retransmits:
            self._close_aborted("peer keeps rejecting our State Cookie as stale", False)
            return
        rtt = max(0.0, now - self._cookie_sent_at)
        self._preservative = cause.staleness / 1_000_000 + min(rtt, 1.0)
        self.peer_tag = 0
        self._tx = None
        self._tracker = None
        self._reassembly = None
        self._transition(Trigger.STALE_COOKIE)
        self._t1.reset()
        self._send_init(now)

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
            self.handle_init(first, now)
            return
        start = 0
        if isinstance(first, CookieEchoChunk):
            if not self.handle_cookie_echo(first, vtag, now):
                return
            start = 1
        elif not self._verification_tag_ok(packet):
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
                if not self._handle_data(chunk, now):
                    return
            elif isinstance(chunk, SackChunk):
                self._handle_sack(chunk, now)
            elif isinstance(chunk, HeartbeatChunk):
                # §8.3: echo the info back unchanged.
                if self.state is not State.COOKIE_WAIT:
                    self._queue_control(HeartbeatAckChunk(chunk.info))
            elif isinstance(chunk, HeartbeatAckChunk):
                self._handle_heartbeat_ack(chunk, now)
            elif isinstance(chunk, AbortChunk):
                self._close_aborted(f"peer sent ABORT: {chunk}", True)
                return
            elif isinstance(chunk, InitAckChunk):
                self._handle_init_ack(chunk, now)
            elif isinstance(chunk, CookieAckChunk):
                self._handle_cookie_ack(now)
            elif isinstance(chunk, ShutdownChunk):
                self._handle_shutdown(chunk, now)
            elif isinstance(chunk, ShutdownAckChunk):
                self._handle_shutdown_ack(now)
            elif isinstance(chunk, ShutdownCompleteChunk):
                self._handle_shutdown_complete(now)
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
            self._end_of_data_packet(now)

    # ------------------------------------------------------------------ data receive

    def _local_rwnd(self) -> int:
        held = self._reassembly.held_bytes if self._reassembly is not None else 0
        return max(0, self._options.receive_window - held - self._unread)

    def _protocol_violation(self, reason: str) -> None:
        """ABORT with a Protocol Violation cause (§3.3.10.13) and close."""
        self._send_raw(
            self.peer_tag, [AbortChunk(causes=(ProtocolViolationCause(reason.encode()),))]
        )
        self._close_aborted(reason, False)

    def _handle_data(self, chunk: DataChunk | IDataChunk, now: float) -> bool:
        """One DATA or I-DATA chunk (§6.2, §6.5, §6.9; RFC 8260 §2.2.3).

        Returns False when processing of the packet must stop (the association aborted).
        """
        tracker = self._tracker
        reassembly = self._reassembly
        if tracker is None or reassembly is None or not self._receiving:
            # §9.2: after SHUTDOWN was received no new DATA is accepted.
            self.drops.add("data_in_wrong_state")
            return True
        if isinstance(chunk, DataChunk):
            if self._interleaving:
                # RFC 8260 §2.2.3: DATA on an association that negotiated I-DATA.
                self._protocol_violation("peer sent DATA after negotiating I-DATA")
                return False
            seq = chunk.ssn
            fsn = 0
        else:
            if not self._interleaving:
                # RFC 8260 §2.2.3: I-DATA without negotiating it.
                self._protocol_violation(
                    f"peer sent chunk type {chunk.chunk_type} without negotiating it"
                )
                return False
            seq = chunk.mid
            fsn = chunk.fsn
        user_data = chunk.user_data
        size = len(user_data)
        if not size:
            # §6.2: DATA without user data: ABORT with the No User Data cause.
            self._send_raw(self.peer_tag, [AbortChunk(causes=(NoUserDataCause(chunk.tsn),))])
            self._close_aborted("peer sent a DATA chunk without user data", False)
            return False
        stream_id = chunk.stream_id
        tsn = chunk.tsn
        if stream_id >= self.inbound_streams:
            # §6.5: invalid stream: report it, but acknowledge the TSN (drop the data).
            if tracker.observe(tsn, immediate=chunk.immediate):
                self._queue_control(ErrorChunk(causes=(InvalidStreamIdentifierCause(stream_id),)))
            self.drops.add("invalid_stream")
            return True
        # §6.2: with a full window, DATA that does not advance the cumulative TSN is
        # dropped (the peer retransmits it); in-order data is still taken so a message
        # larger than the window can complete, but only once the application has read
        # everything delivered (otherwise zero-window probes would grow memory unbounded).
        if (
            size > self._receive_window - reassembly.held_bytes - self._unread
            and (self._unread > 0 or not tracker.would_advance_cumulative(tsn))
            and not tracker.is_duplicate(tsn)
        ):
            self.drops.add("receive_window_full")
            # §6.2: a dropped chunk is answered at once with a SACK showing the current
            # window (this is how the sender's zero window probes learn it is closed).
            tracker.force_immediate()
            return True
        # One call: unwrap + observe (-1: duplicate or otherwise not new, §6.2).
        unwrapped = tracker.accept(tsn, chunk.immediate)
        if unwrapped < 0:
            return True
        errors = reassembly.protocol_errors
        # Positional flags (unordered, beginning, end): the per-chunk hot path.
        ok = reassembly.add(
            unwrapped,
            stream_id,
            seq,
            chunk.ppid,
            user_data,
            chunk.unordered,
            chunk.beginning,
            chunk.ending,
            fsn,
        )
        if not ok:
            # A message larger than max_message_size: no way to deliver it, abort (§6.9).
            self._protocol_violation(
                f"peer sent a message larger than {self._options.max_message_size} bytes"
            )
            return False
        if reassembly.protocol_errors != errors:
            # A new TSN whose fragment contradicts what was received (a position of the
            # message already taken, a fragment outside its B..E range, a sequence number
            # already delivered). It is acknowledged and will not come again: the message
            # can only be lost or delivered wrong, so abort rather than deliver it corrupt.
            # (Linux numbers I-DATA fragments after the first from FSN 0, not 1 as RFC 8260
            # §2.1 says: this is where that ends up.)
            kind = "MID" if self._interleaving else "SSN"
            self._protocol_violation(
                f"peer sent a fragment that contradicts earlier ones "
                f"(stream {stream_id}, {kind} {seq}, TSN {tsn})"
            )
            return False
        if self._receive_window - reassembly.held_bytes - self._unread < self._options.pmtu:
            # Our window is (nearly) closed: the sender is probing one chunk at a time
            # (§6.1 A), e.g. to complete a message larger than the window; acknowledging
            # at once instead of after the delayed-ack timeout keeps that moving.
            tracker.force_immediate()
        delivered = reassembly.delivered
        if delivered:
            emit = self._host._emit
            assoc_id = self.id
            while delivered:
                stream, ppid, data, unordered = delivered.popleft()
                self._unread += len(data)
                self.messages_received += 1
                emit(MessageReceived(assoc_id, stream, ppid, data, unordered))
        return True

    def _end_of_data_packet(self, now: float) -> None:
        tracker = self._tracker
        if tracker is None:
            return
        tracker.end_of_packet(now)
        if self.state is State.SHUTDOWN_SENT:
            # §9.2: in SHUTDOWN-SENT every packet with DATA is answered at once with a
            # SHUTDOWN (bundled with the SACK), and T2 restarts.
            tracker.force_immediate()
            self._queue_control(ShutdownChunk(tracker.cumulative_tsn))
            self._t2.start(now, self._rto.rto)
        self._update_sack_timer()

    def _update_sack_timer(self) -> None:
        tracker = self._tracker
        deadline = tracker.delayed_ack_deadline if tracker is not None else None
        self._sack_timer.deadline = deadline

    # ------------------------------------------------------------------ data send

    def _handle_sack(self, chunk: SackChunk, now: float) -> None:
        tx = self._tx
        if tx is None or self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            self.drops.add("sack_in_wrong_state")
            return
        result = tx.handle_sack(chunk, now)
        if result.invalid:
            # The peer acknowledged a TSN we never sent: it is broken or forging.
            self._protocol_violation("peer acknowledged a TSN that was never sent")
            return
        if result.accepted:
            self._sack_since_t3 = True
            reopened = self._peer_window_closed and chunk.a_rwnd > 0
            self._peer_window_closed = chunk.a_rwnd == 0
            if reopened and not result.cum_advanced and tx.has_outstanding:
                # §6.1 A: the window reopened while our zero window probe is outstanding
                # (the receiver dropped it): retransmit now, not after the backed-off T3.
                self._t3.start(now, 0.0)
        if result.acked_bytes > 0:
            # §8.1/§8.2: an acknowledgement of new data clears the error counters.
            self._clear_errors()
            self._packets_since_ack = 0
        self._after_ack(now)

    def _after_ack(self, now: float) -> None:
        tx = self._tx
        if tx is None:
            return
        # §6.3.2 R2/R3: stop T3 when all is acked, restart it when the earliest
        # outstanding TSN is acknowledged.
        if tx.bytes_in_flight == 0 and not tx.has_outstanding:
            self._t3.stop()
        elif tx.t3_restart:
            self._t3.start(now, self._rto.rto)
        if self._send_blocked and tx.buffered_amount < self._options.send_buffer:
            self._send_blocked = False
            tx.buffer_available()
            self._host._emit(SendBufferAvailable(self.id))
        self._check_shutdown_progress(now)

    def _fill_data(self, chunks: list[Chunk], budget: int, now: float) -> int:
        """Append DATA chunks that fit ``budget`` bytes; returns the bytes used."""
        tx = self._tx
        if tx is None or self.state not in (
            State.ESTABLISHED,
            State.SHUTDOWN_PENDING,
            State.SHUTDOWN_RECEIVED,
        ):
            return 0
        if self._nagle_enabled:
            # Nagle's rule (RFC 896; §6.1 leaves the bundling policy to the sender): while
            # DATA is in flight, a partial packet of new DATA waits for more data, for the
            # acknowledgement, or at most NAGLE_HOLD. Not during shutdown (§9.2: drain).
            # Only once two packets await their SACK, or the last packet left data queued
            # (the sender outpaces its packets): with one lone packet, the peer delays the
            # SACK (§6.2), and a request followed by a second small message (a channel's
            # value and its credit) would wait for the hold bound on every round trip.
            if (
                (self._packets_since_ack >= 2 or self._data_left_queued)
                and self.state is State.ESTABLISHED
                and tx.holds_tail(budget)
            ):
                if not self._nagle_expired:
                    self._nagle.start_if_stopped(now, NAGLE_HOLD)
                    return 0
            else:
                self._nagle.stop()
                self._nagle_expired = False
        used = 0
        # An otherwise empty packet may carry one retransmission cut for a larger PLPMTU.
        out = tx.next_chunks(budget, now, oversize_ok=not chunks)
        if out:
            chunks += out
            for data_chunk in out:
                used += data_chunk.size
            self._packets_since_ack += 1
            self._data_left_queued = tx.send_queue.queued_messages > 0
            # §6.3.2 R1: start T3 when DATA leaves and it is not running.
            if tx.retransmitted_now:
                self._t3.start(now, self._rto.rto)
            else:
                self._t3.start_if_stopped(now, self._rto.rto)
        return used

    # ------------------------------------------------------------------ liveness

    def _clear_errors(self) -> None:
        self._error_count = 0
        self._t3_streak = 0
        if not self._path_reachable:
            self._path_reachable = True
            self._host._emit(PeerAddressChanged(self.id, self._addr_tuple(), "available"))

    def _addr_tuple(self) -> tuple[str, int]:
        addr = self._addr
        if isinstance(addr, tuple) and len(addr) >= 2:
            return (str(addr[0]), int(addr[1]))
        return (str(addr), self.remote_port)

    def _count_error(self, what: str) -> bool:
        """One more unanswered retransmission or heartbeat (§8.1, §8.2).

        Returns False when the association was aborted (limit exceeded).
        """
        self._error_count += 1
        options = self._options
        if self._path_reachable and self._error_count > options.path_max_retransmissions:
            # §8.2: the (only) destination becomes inactive.
            self._path_reachable = False
            self._host._emit(PeerAddressChanged(self.id, self._addr_tuple(), "unreachable"))
        if self._error_count > options.association_max_retransmissions:
            # §8.1: the peer is unreachable.
            self._send_raw(
                self.peer_tag,
                [AbortChunk(causes=(UserInitiatedAbortCause(b"peer unreachable"),))],
            )
            self._close_aborted(
                f"peer unreachable: {self._error_count} consecutive {what} unanswered", False
            )
            return False
        return True

    def _restart_heartbeat(self, now: float) -> None:
        self._heartbeat.restart(now, self._rto.rto)

    def _heartbeat_timeout(self, now: float) -> None:
        # §8.3: heartbeats from ESTABLISHED until SHUTDOWN / SHUTDOWN ACK is sent (then
        # T2-shutdown watches the peer).
        if self.state not in (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED):
            return
        heartbeat = self._heartbeat
        if heartbeat.awaiting_ack:
            # Not answered within one RTO: an error for the path and the association, and
            # the RTO backs off (§8.3).
            self._rto.backoff()
            if not self._count_error("heartbeats"):
                return
            heartbeat.restart(now, self._rto.rto)
            return
        tx = self._tx
        if tx is not None and tx.bytes_in_flight:
            # Not idle: DATA in flight probes the path (T3-rtx counts its errors).
            heartbeat.restart(now, self._rto.rto)
            return
        self._queue_control(heartbeat.send(now, self._rto.rto))

    def _handle_heartbeat_ack(self, chunk: HeartbeatAckChunk, now: float) -> None:
        if len(chunk.info) == PROBE_INFO.size:
            # A path MTU probe's answer (RFC 8899 §6.2.1.2). It gives no RTT sample: a large
            # probe's serialization delay would inflate the RTO.
            if not self._pmtud.handle_ack(chunk.info, now):
                self.drops.add("stale_probe_ack")
            return
        rtt = self._heartbeat.handle_ack(chunk, now)
        if rtt is None:
            return
        # §8.3: the RTT measurement updates the RTO; the error counters are cleared.
        self._rto.observe(rtt)
        self._clear_errors()
        self._restart_heartbeat(now)

    # ------------------------------------------------------------------ shutdown

    def _check_shutdown_progress(self, now: float) -> None:
        tx = self._tx
        drained = tx is None or tx.is_idle
        if not drained:
            return
        if self.state is State.SHUTDOWN_PENDING:
            # §9.2: all outstanding data acknowledged: SHUTDOWN, T2 and T5.
            self._transition(Trigger.OUTSTANDING_DRAINED)
            self._send_shutdown(now)
            self._t5.start(now, min(self._options.shutdown_guard, 5 * self._options.rto_max))
        elif self.state is State.SHUTDOWN_RECEIVED:
            self._transition(Trigger.SHUTDOWN_ACK_SENT)
            self._queue_control(ShutdownAckChunk())
            self._t2.start(now, self._rto.rto)

    def _cumulative_tsn(self) -> int:
        if self._tracker is None:  # nothing received yet: the TSN before the peer's first
            return (self.peer_initial_tsn - 1) & 0xFFFFFFFF
        return self._tracker.cumulative_tsn

    def _send_shutdown(self, now: float) -> None:
        self._queue_control(ShutdownChunk(self._cumulative_tsn()))
        self._t2.start(now, self._rto.rto)

    def _handle_shutdown(self, chunk: ShutdownChunk, now: float) -> None:
        state = self.state
        tx = self._tx
        if state in (State.CLOSED, State.COOKIE_WAIT, State.COOKIE_ECHOED) or tx is None:
            self.drops.add("shutdown_in_wrong_state")
            return
        # §9.2: the Cumulative TSN Ack acknowledges data like a SACK without gaps.
        if tx.handle_cumulative_ack(chunk.cumulative_tsn_ack, now):
            self._clear_errors()
        if state in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
            self._transition(Trigger.SHUTDOWN_RECEIVED)
            self._shutdown_requested = True
        elif state is State.SHUTDOWN_SENT:
            # §9.2: both sides sent SHUTDOWN: answer SHUTDOWN ACK now, restart T2.
            self._transition(Trigger.SHUTDOWN_RECEIVED)
            self._queue_control(ShutdownAckChunk())
            self._t2.start(now, self._rto.rto)
            return
        elif state is State.SHUTDOWN_ACK_SENT:
            # Our SHUTDOWN ACK was lost and the peer retransmitted SHUTDOWN: answer again.
            self._queue_control(ShutdownAckChunk())
            return
        self._after_ack(now)

    def _handle_shutdown_ack(self, now: float) -> None:
        if self.state in (State.SHUTDOWN_SENT, State.SHUTDOWN_ACK_SENT):
            # §9.2: SHUTDOWN COMPLETE, then CLOSED.
            self._send_raw(self.peer_tag, [ShutdownCompleteChunk()])
            self._transition(Trigger.SHUTDOWN_ACK_RECEIVED)
            self._close_gracefully()
        else:
            self.drops.add("unexpected_shutdown_ack")

    def _handle_shutdown_complete(self, now: float) -> None:
        if self.state is State.SHUTDOWN_ACK_SENT:
            self._transition(Trigger.SHUTDOWN_COMPLETE_RECEIVED)
            self._close_gracefully()
        else:
            self.drops.add("unexpected_shutdown_complete")

    def _handle_error(self, chunk: ErrorChunk, now: float) -> None:
        for cause in chunk.causes:
            if isinstance(cause, StaleCookieErrorCause):
                self._handle_stale_cookie(cause, now)
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
            self._t1_expired(now)
        if self._is_closed():
            return
        if self._t3.expired(now):
            self._t3_expired(now)
        if self._is_closed():
            return
        if self._t2.expired(now):
            self._t2_expired(now)
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
        if self._heartbeat.timer.expired(now):
            self._heartbeat_timeout(now)
        if self._nagle.expired(now):
            self._nagle_expired = True  # the held partial packet goes with the next output
        if self._pmtud.timer.expired(now):
            self._pmtud.handle_timeout(now)

    def _is_closed(self) -> bool:
        return self.closed

    def _t1_expired(self, now: float) -> None:
        # §5.1 C/D, §6.3.3: retransmit INIT / COOKIE ECHO with backoff, up to
        # Max.Init.Retransmits.
        self._init_retries += 1
        if self._init_retries > self._options.max_init_retransmits:
            what = "INIT" if self.state is State.COOKIE_WAIT else "COOKIE ECHO"
            self._close_aborted(
                f"association setup failed: {what} unanswered after "
                f"{self._options.max_init_retransmits} retransmissions",
                False,
            )
            return
        self._rto.backoff()
        if self.state is State.COOKIE_WAIT and self._init_chunk is not None:
            self._send_raw(0, [self._init_chunk])
            self._t1.start(now, self._rto.rto)
        elif self.state is State.COOKIE_ECHOED and self._cookie_echo is not None:
            self._send_cookie_echo(now)

    def _t2_expired(self, now: float) -> None:
        # §9.2: retransmit SHUTDOWN / SHUTDOWN ACK with backoff; the error counter applies.
        self._rto.backoff()
        if not self._count_error("SHUTDOWN retransmissions"):
            return
        if self.state is State.SHUTDOWN_SENT:
            self._send_shutdown(now)
        elif self.state is State.SHUTDOWN_ACK_SENT:
            self._queue_control(ShutdownAckChunk())
            self._t2.start(now, self._rto.rto)

    def _t3_expired(self, now: float) -> None:
        tx = self._tx
        if tx is None or not tx.has_outstanding:
            return
        # §6.3.3 E1-E3: back off, mark everything outstanding for retransmission, count
        # an error for the destination.
        self._rto.backoff()
        # §6.1 A: zero window probes that the peer answers with SACKs (window still
        # closed) are not errors: the receiver may keep its window closed indefinitely.
        probing = self._sack_since_t3 and tx.peer_rwnd == 0
        self._sack_since_t3 = False
        tx.handle_t3_expiry(now)
        if not probing:
            # RFC 8899 §4.3: repeated loss of full-size packets may be a black hole.
            self._t3_streak += 1
            if self._t3_streak >= BLACK_HOLE_T3_EXPIRIES and self._pmtud.black_hole(now):
                self._t3_streak = 0
        if not probing and not self._count_error("retransmission timeouts"):
            return
        self._t3.start(now, self._rto.rto)

    # ------------------------------------------------------------------ output

    def _queue_control(self, chunk: Chunk) -> None:
        self._control.append(chunk)

    def _send_raw(self, vtag: int, chunks: list[Chunk]) -> None:
        self._raw.append(serialize_packet(self._host.local_port, self.remote_port, vtag, chunks))

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """Packets ready to go to :attr:`address`: bundles control chunks, SACK and DATA
        up to the path MTU (§6.10)."""
        out = self._raw
        self._raw = []
        if self.peer_tag == 0 or self.closed:
            self._control.clear()
            self._account(out)
            return out
        pmtud = self._pmtud
        pmtu = pmtud.plpmtu
        if pmtu != self._pmtu and self._tx is not None:
            self._tx.set_pmtu(pmtu)
            self._pmtu = pmtu
        if pmtud.probe_due and self.state in _PROBE_STATES:
            probe = pmtud.take_probe(now)
            if probe is not None:
                out.append(self._probe_packet(*probe))
        # RFC 8899 ERROR: BASE_PLPMTU itself is unconfirmed: let IP fragment everything.
        fragment_all = pmtud.fragmentation_needed
        tracker = self._tracker
        tx = self._tx
        local_port = self._host.local_port
        max_packets = self._options.max_burst or 1_000_000
        packets = 0
        while packets < max_packets:
            chunks: list[Chunk] = []
            budget = pmtu - COMMON_HEADER_SIZE
            control = self._control
            while control:
                size = control[0].serialized_size()
                if size > budget and chunks:
                    break
                chunks.append(control.pop(0))
                budget -= size
            if tracker is not None and (
                tracker.should_send_sack_now
                or (tracker.has_unacked and tx is not None and tx.has_data_ready)
            ):
                sack = self._make_sack(tracker)
                size = sack.serialized_size()
                if size <= budget or not chunks:
                    chunks.append(sack)
                    budget -= size
            if budget > DATA_HEADER_SIZE:
                budget -= self._fill_data(chunks, budget, now)
            if not chunks:
                break
            packet = serialize_packet(local_port, self.remote_port, self.peer_tag, chunks)
            if fragment_all or len(packet) > pmtu:
                # A chunk cut for a larger PLPMTU (RFC 9260 §6.9: IP fragmentation is used
                # for it): the driver sends this one without the Don't Fragment bit.
                packet = Fragmentable(packet)
            out.append(packet)
            packets += 1
        self._update_sack_timer()
        self._account(out)
        return out

    def _probe_packet(self, size: int, info: bytes) -> bytes:
        """A probe (RFC 8899 §6.2): a minimum-length HEARTBEAT and a PAD chunk (RFC 4820)
        filling the packet to exactly ``size`` bytes. Sent with Don't Fragment, as every
        packet that is not :class:`Fragmentable` (RFC 8899 §3 item 2)."""
        chunks: list[Chunk] = [HeartbeatChunk(info), PadChunk(size - _PROBE_OVERHEAD)]
        return serialize_packet(self._host.local_port, self.remote_port, self.peer_tag, chunks)

    def take_packets(self) -> list[bytes]:
        """Packets already built (ABORT, SHUTDOWN COMPLETE...), for the endpoint to send
        in order when the association closes."""
        out = self._raw
        self._raw = []
        self._account(out)
        return out

    def _make_sack(self, tracker: DataTracker) -> SackChunk:
        info = tracker.make_sack()
        rwnd = self._local_rwnd()
        self._advertised_rwnd = rwnd
        return SackChunk(
            cumulative_tsn_ack=info.cumulative_tsn_ack,
            a_rwnd=rwnd,
            gap_ack_blocks=info.gap_blocks,
            duplicate_tsns=info.duplicate_tsns,
        )

    def _account(self, packets: list[bytes]) -> None:
        self.packets_sent += len(packets)
        for packet in packets:
            self.bytes_sent += len(packet)

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

    def icmp_unreachable(self, now: float) -> None:
        """The peer's host reported it unreachable (RFC 9260 §10), tag verified."""
        if self.state is State.CLOSED:
            return
        self._close_aborted("peer unreachable (ICMP)", True)


def _pad4(raw: bytes) -> bytes:
    return raw + b"\x00" * (-len(raw) & 3)
