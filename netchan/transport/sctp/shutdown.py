"""Graceful shutdown of an association (RFC 9260 §9.2).

SHUTDOWN once everything outstanding is acknowledged, SHUTDOWN ACK, SHUTDOWN COMPLETE and the
T2-shutdown retransmissions. Functions of the :class:`~.association.Association` they are
given, which owns the state and dispatches chunks and timers to them; every state change
still goes through :func:`~.state.next_state`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import datapath, liveness
from .packet import ShutdownAckChunk, ShutdownChunk, ShutdownCompleteChunk
from .state import State, Trigger

if TYPE_CHECKING:
    from .association import Association


def check_shutdown_progress(assoc: Association, now: float) -> None:
    tx = assoc._tx
    drained = tx is None or tx.is_idle
    if not drained:
        return
    if assoc.state is State.SHUTDOWN_PENDING:
        # §9.2: all outstanding data acknowledged: SHUTDOWN, T2 and T5.
        assoc._transition(Trigger.OUTSTANDING_DRAINED)
        send_shutdown(assoc, now)
        assoc._t5.start(now, min(assoc._options.shutdown_guard, 5 * assoc._options.rto_max))
    elif assoc.state is State.SHUTDOWN_RECEIVED:
        assoc._transition(Trigger.SHUTDOWN_ACK_SENT)
        assoc._queue_control(ShutdownAckChunk())
        assoc._t2.start(now, assoc._rto.rto)


def cumulative_tsn(assoc: Association) -> int:
    if assoc._tracker is None:  # nothing received yet: the TSN before the peer's first
        return (assoc.peer_initial_tsn - 1) & 0xFFFFFFFF
    return assoc._tracker.cumulative_tsn


def send_shutdown(assoc: Association, now: float) -> None:
    assoc._queue_control(ShutdownChunk(cumulative_tsn(assoc)))
    assoc._t2.start(now, assoc._rto.rto)


def handle_shutdown(assoc: Association, chunk: ShutdownChunk, now: float) -> None:
    state = assoc.state
    tx = assoc._tx
    if state in (State.CLOSED, State.COOKIE_WAIT, State.COOKIE_ECHOED) or tx is None:
        assoc.drops.add("shutdown_in_wrong_state")
        return
    # §9.2: the Cumulative TSN Ack acknowledges data like a SACK without gaps.
    if tx.handle_cumulative_ack(chunk.cumulative_tsn_ack, now):
        liveness.clear_errors(assoc, now)
    if state in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
        assoc._transition(Trigger.SHUTDOWN_RECEIVED)
        assoc._shutdown_requested = True
    elif state is State.SHUTDOWN_SENT:
        # §9.2: both sides sent SHUTDOWN: answer SHUTDOWN ACK now, restart T2.
        assoc._transition(Trigger.SHUTDOWN_RECEIVED)
        assoc._queue_control(ShutdownAckChunk())
        assoc._t2.start(now, assoc._rto.rto)
        return
    elif state is State.SHUTDOWN_ACK_SENT:
        # Our SHUTDOWN ACK was lost and the peer retransmitted SHUTDOWN: answer again.
        assoc._queue_control(ShutdownAckChunk())
        return
    datapath.after_ack(assoc, now)


def handle_shutdown_ack(assoc: Association, now: float) -> None:
    if assoc.state in (State.SHUTDOWN_SENT, State.SHUTDOWN_ACK_SENT):
        # §9.2: SHUTDOWN COMPLETE, then CLOSED.
        assoc._send_raw(assoc.peer_tag, [ShutdownCompleteChunk()])
        assoc._transition(Trigger.SHUTDOWN_ACK_RECEIVED)
        assoc._close_gracefully()
    else:
        assoc.drops.add("unexpected_shutdown_ack")


def handle_shutdown_complete(assoc: Association, now: float) -> None:
    if assoc.state is State.SHUTDOWN_ACK_SENT:
        assoc._transition(Trigger.SHUTDOWN_COMPLETE_RECEIVED)
        assoc._close_gracefully()
    else:
        assoc.drops.add("unexpected_shutdown_complete")


def t2_expired(assoc: Association, now: float) -> None:
    # §9.2: retransmit SHUTDOWN / SHUTDOWN ACK with backoff; the error counter applies.
    assoc._rto.backoff()
    if not liveness.count_error(assoc, "SHUTDOWN retransmissions", now):
        return
    if assoc.state is State.SHUTDOWN_SENT:
        send_shutdown(assoc, now)
    elif assoc.state is State.SHUTDOWN_ACK_SENT:
        assoc._queue_control(ShutdownAckChunk())
        assoc._t2.start(now, assoc._rto.rto)
