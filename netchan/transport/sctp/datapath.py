"""The data path of an association: DATA / I-DATA in, SACKs out; DATA out, SACKs in.

Receive side (RFC 9260 §6.2, §6.5, §6.9; RFC 8260 §2.2.3): the receive window, accepting and
reassembling chunks, the delayed SACK. Send side (§6.1-§6.3): SACK processing, T3-rtx, the
send buffer, Nagle's rule when filling a packet with DATA, black hole detection
(RFC 8899 §4.3). The modules in ``rx/`` and ``tx/`` (through :class:`~.txpath.TxPath`) keep
the records; these functions of the :class:`~.association.Association` they are given glue them
to the chunks and the timers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import liveness, paths, shutdown
from .events import MessageReceived, SendBufferAvailable
from .packet import (
    AbortChunk,
    Chunk,
    DataChunk,
    ErrorChunk,
    IDataChunk,
    InvalidStreamIdentifierCause,
    NoUserDataCause,
    SackChunk,
    ShutdownChunk,
)
from .rx.data_tracker import DataTracker
from .rx.reassembly import message_size
from .state import State

if TYPE_CHECKING:
    from .association import Association

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


def local_rwnd(assoc: Association) -> int:
    held = assoc._reassembly.held_bytes if assoc._reassembly is not None else 0
    return max(0, assoc._options.receive_window - held - assoc._unread)


def handle_data(assoc: Association, chunk: DataChunk | IDataChunk, now: float) -> bool:
    """One DATA or I-DATA chunk (§6.2, §6.5, §6.9; RFC 8260 §2.2.3).

    Returns False when processing of the packet must stop (the association aborted).
    """
    tracker = assoc._tracker
    reassembly = assoc._reassembly
    if tracker is None or reassembly is None or not assoc._receiving:
        # §9.2: after SHUTDOWN was received no new DATA is accepted.
        assoc.drops.add("data_in_wrong_state")
        return True
    if isinstance(chunk, DataChunk):
        if assoc._interleaving:
            # RFC 8260 §2.2.3: DATA on an association that negotiated I-DATA.
            assoc._protocol_violation("peer sent DATA after negotiating I-DATA")
            return False
        seq = chunk.ssn
        fsn = 0
    else:
        if not assoc._interleaving:
            # RFC 8260 §2.2.3: I-DATA without negotiating it.
            assoc._protocol_violation(
                f"peer sent chunk type {chunk.chunk_type} without negotiating it"
            )
            return False
        seq = chunk.mid
        fsn = chunk.fsn
    user_data = chunk.user_data
    size = len(user_data)
    if not size:
        # §6.2: DATA without user data: ABORT with the No User Data cause.
        assoc._send_raw(assoc.peer_tag, [AbortChunk(causes=(NoUserDataCause(chunk.tsn),))])
        assoc._close_aborted("peer sent a DATA chunk without user data", False)
        return False
    stream_id = chunk.stream_id
    tsn = chunk.tsn
    if stream_id >= assoc.inbound_streams:
        # §6.5: invalid stream: report it, but acknowledge the TSN (drop the data).
        if tracker.observe(tsn, immediate=chunk.immediate):
            assoc._queue_control(ErrorChunk(causes=(InvalidStreamIdentifierCause(stream_id),)))
        assoc.drops.add("invalid_stream")
        return True
    # §6.2: with a full window, DATA that does not advance the cumulative TSN is
    # dropped (the peer retransmits it); in-order data is still taken so a message
    # larger than the window can complete, but only once the application has read
    # everything delivered (otherwise zero-window probes would grow memory unbounded).
    # In-order data is also taken while some window is left, however little: a sender
    # may put one chunk in flight whenever nothing is (§6.1 A), and dropping it would
    # cost a retransmission timeout. Memory stays within the window plus one chunk.
    free = assoc._receive_window - reassembly.held_bytes - assoc._unread
    if (
        size > free
        and (not tracker.would_advance_cumulative(tsn) or (assoc._unread > 0 and free <= 0))
        and not tracker.is_duplicate(tsn)
    ):
        assoc.drops.add("receive_window_full")
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
        assoc._protocol_violation(
            f"peer sent a message larger than {assoc._options.max_message_size} bytes"
        )
        return False
    if reassembly.protocol_errors != errors:
        # A new TSN whose fragment contradicts what was received (a position of the
        # message already taken, a fragment outside its B..E range, a sequence number
        # already delivered). It is acknowledged and will not come again: the message
        # can only be lost or delivered wrong, so abort rather than deliver it corrupt.
        # (Linux numbers I-DATA fragments after the first from FSN 0, not 1 as RFC 8260
        # §2.1 says: this is where that ends up.)
        kind = "MID" if assoc._interleaving else "SSN"
        assoc._protocol_violation(
            f"peer sent a fragment that contradicts earlier ones "
            f"(stream {stream_id}, {kind} {seq}, TSN {tsn})"
        )
        return False
    if assoc._receive_window - reassembly.held_bytes - assoc._unread < assoc._options.pmtu:
        # Our window is (nearly) closed: the sender is probing one chunk at a time
        # (§6.1 A), e.g. to complete a message larger than the window; acknowledging
        # at once instead of after the delayed-ack timeout keeps that moving.
        tracker.force_immediate()
    delivered = reassembly.delivered
    if delivered:
        emit = assoc._host._emit
        assoc_id = assoc.id
        while delivered:
            stream, ppid, data, unordered = delivered.popleft()
            assoc._unread += message_size(data)
            assoc.messages_received += 1
            emit(MessageReceived(assoc_id, stream, ppid, data, unordered))
    return True


def end_of_data_packet(assoc: Association, now: float) -> None:
    tracker = assoc._tracker
    if tracker is None:
        return
    tracker.end_of_packet(now)
    if assoc.state is State.SHUTDOWN_SENT:
        # §9.2: in SHUTDOWN-SENT every packet with DATA is answered at once with a
        # SHUTDOWN (bundled with the SACK), and T2 restarts.
        tracker.force_immediate()
        assoc._queue_control(ShutdownChunk(tracker.cumulative_tsn))
        assoc._t2.start(now, assoc._rto.rto)
    update_sack_timer(assoc)


def update_sack_timer(assoc: Association) -> None:
    tracker = assoc._tracker
    deadline = tracker.delayed_ack_deadline if tracker is not None else None
    assoc._sack_timer.deadline = deadline


def handle_sack(assoc: Association, chunk: SackChunk, now: float) -> None:
    tx = assoc._tx
    if tx is None or assoc.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
        assoc.drops.add("sack_in_wrong_state")
        return
    result = tx.handle_sack(chunk, now)
    if result.invalid:
        # The peer acknowledged a TSN we never sent: it is broken or forging.
        assoc._protocol_violation("peer acknowledged a TSN that was never sent")
        return
    if result.accepted:
        assoc._sack_since_t3 = True
        reopened = assoc._peer_window_closed and chunk.a_rwnd > 0
        assoc._peer_window_closed = chunk.a_rwnd == 0
        if reopened and not result.cum_advanced and tx.has_outstanding:
            # §6.1 A: the window reopened while our zero window probe is outstanding
            # (the receiver dropped it): retransmit now, not after the backed-off T3, and
            # without the congestion response of a timeout (the probe was not lost).
            tx.rtx.resend_window_probe()
    if result.acked_bytes > 0:
        # §8.1/§8.2: an acknowledgement of new data clears the error counters.
        liveness.clear_errors(assoc, now)
        assoc._packets_since_ack = 0
    after_ack(assoc, now)


def after_ack(assoc: Association, now: float) -> None:
    tx = assoc._tx
    if tx is None:
        return
    # §6.3.2 R2/R3: stop T3 when all is acked, restart it when the earliest
    # outstanding TSN is acknowledged.
    if tx.bytes_in_flight == 0 and not tx.has_outstanding:
        assoc._t3.stop()
    elif tx.t3_restart:
        assoc._t3.start(now, assoc._rto.rto)
    if assoc._send_blocked and tx.buffered_amount < assoc._options.send_buffer:
        assoc._send_blocked = False
        tx.buffer_available()
        assoc._host._emit(SendBufferAvailable(assoc.id))
    shutdown.check_shutdown_progress(assoc, now)


def end_nagle_hold(assoc: Association) -> None:
    """No DATA is held back for Nagle's rule (:func:`fill_data`) now: its timer stops."""
    if assoc._nagle_enabled:
        assoc._nagle.stop()
        assoc._nagle_expired = False


def fill_data(assoc: Association, chunks: list[Chunk], budget: int, now: float) -> int:
    """Append DATA chunks that fit ``budget`` bytes; returns the bytes used."""
    tx = assoc._tx
    if tx is None or assoc.state not in (
        State.ESTABLISHED,
        State.SHUTDOWN_PENDING,
        State.SHUTDOWN_RECEIVED,
    ):
        return 0
    if assoc._nagle_enabled:
        # Nagle's rule (RFC 896; §6.1 leaves the bundling policy to the sender): while
        # DATA is in flight, a partial packet of new DATA waits for more data, for the
        # acknowledgement, or at most NAGLE_HOLD. Not during shutdown (§9.2: drain).
        # Only once two packets await their SACK, or the last packet left data queued
        # (the sender outpaces its packets): with one lone packet, the peer delays the
        # SACK (§6.2), and a request followed by a second small message (a channel's
        # value and its credit) would wait for the hold bound on every round trip.
        if (
            (assoc._packets_since_ack >= 2 or assoc._data_left_queued)
            and assoc.state is State.ESTABLISHED
            and tx.holds_tail(budget)
        ):
            if not assoc._nagle_expired:
                assoc._nagle.start_if_stopped(now, NAGLE_HOLD)
                return 0
        else:
            end_nagle_hold(assoc)
    used = 0
    # An otherwise empty packet may carry one retransmission cut for a larger PLPMTU.
    out = tx.next_chunks(budget, now, oversize_ok=not chunks)
    if out:
        chunks += out
        for data_chunk in out:
            used += data_chunk.size
        assoc._packets_since_ack += 1
        assoc._data_left_queued = tx.send_queue.queued_messages > 0
        # §6.3.2 R1: start T3 when DATA leaves and it is not running.
        if tx.retransmitted_now:
            assoc._t3.start(now, assoc._rto.rto)
        else:
            assoc._t3.start_if_stopped(now, assoc._rto.rto)
    return used


def t3_expired(assoc: Association, now: float) -> None:
    tx = assoc._tx
    if tx is None or not tx.has_outstanding:
        return
    # §6.3.3 E1-E3: back off, mark everything outstanding for retransmission, count
    # an error for the destination.
    assoc._rto.backoff()
    # §6.1 A: zero window probes that the peer answers with SACKs (window still
    # closed) are not errors: the receiver may keep its window closed indefinitely.
    probing = assoc._sack_since_t3 and tx.peer_rwnd == 0
    assoc._sack_since_t3 = False
    failed = assoc._path
    tx.handle_t3_expiry(now)
    if not probing:
        # RFC 8899 §4.3: repeated loss of full-size packets may be a black hole.
        assoc._t3_streak += 1
        if assoc._t3_streak >= BLACK_HOLE_T3_EXPIRIES and assoc._pmtud.black_hole(now):
            assoc._t3_streak = 0
    if not probing and not liveness.count_error(assoc, "retransmission timeouts", now):
        return
    if assoc._multihomed and not probing:
        paths.retransmit_elsewhere(assoc, failed, now)
    assoc._t3.start(now, assoc._rto.rto)


def make_sack(assoc: Association, tracker: DataTracker) -> SackChunk:
    info = tracker.make_sack()
    rwnd = local_rwnd(assoc)
    assoc._advertised_rwnd = rwnd
    return SackChunk(
        cumulative_tsn_ack=info.cumulative_tsn_ack,
        a_rwnd=rwnd,
        gap_ack_blocks=info.gap_blocks,
        duplicate_tsns=info.duplicate_tsns,
    )
