"""Liveness of an association: error counting and heartbeats (RFC 9260 §8.1-§8.3).

Consecutive unanswered retransmissions and heartbeats mark a destination potentially failed
(RFC 7829) or inactive (§8.2, :mod:`.paths`) and, past Association.Max.Retrans, abort the
association (§8.1); each destination has its heartbeat (§8.3); HEARTBEAT ACKs give RTT
samples, confirm addresses (§5.4) and answer path MTU probes (RFC 8899 §6.2.1.2). Functions of the
:class:`~.association.Association` they are given, which owns the state and dispatches to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import paths
from .packet import AbortChunk, HeartbeatAckChunk, UserInitiatedAbortCause
from .paths import ACTIVE, POTENTIALLY_FAILED, Path
from .plpmtud import PROBE_INFO
from .state import State

if TYPE_CHECKING:
    from .association import Association


def clear_errors(assoc: Association, now: float) -> None:
    """New data was acknowledged (§8.1, §8.2): the association's error counter and that of
    the destination the data went to (the current one) are cleared."""
    assoc._error_count = 0
    assoc._t3_streak = 0
    path = assoc._path
    if path.error_count or path.state is not ACTIVE:
        paths.path_answered(assoc, path, now)
    if assoc._detour:
        # The retransmissions sent elsewhere (§6.4) arrived: back to the preferred path.
        assoc._detour = False
        paths.select(assoc, now)


def count_error(
    assoc: Association, what: str, now: float, path: Path | None = None, *, overall: bool = True
) -> bool:
    """One more unanswered retransmission or heartbeat on ``path`` (default: the current
    destination), §8.1, §8.2; ``overall`` False for the probe of an unconfirmed address,
    which does not count for the association (§5.4).

    Returns False when the association was aborted (limit exceeded).
    """
    paths.path_failed_once(assoc, assoc._path if path is None else path, now)
    if not overall:
        return True
    assoc._error_count += 1
    if assoc._error_count > assoc._options.association_max_retransmissions:
        # §8.1: the peer is unreachable.
        assoc._send_raw(
            assoc.peer_tag,
            [AbortChunk(causes=(UserInitiatedAbortCause(b"peer unreachable"),))],
        )
        assoc._close_aborted(
            f"peer unreachable: {assoc._error_count} consecutive {what} unanswered", False
        )
        return False
    return True


def restart_heartbeat(assoc: Association, now: float) -> None:
    """The current destination's next heartbeat (§8.3)."""
    assoc._path.heartbeat.restart(now, assoc._rto.rto)


def heartbeat_timeout(assoc: Association, path: Path, now: float) -> None:
    # §8.3: heartbeats from ESTABLISHED until SHUTDOWN / SHUTDOWN ACK is sent (then
    # T2-shutdown watches the peer).
    if assoc.state not in (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED):
        return
    heartbeat = path.heartbeat
    if heartbeat.awaiting_ack:
        # Not answered within one RTO: an error for the path, and the RTO backs off
        # (§8.3). It counts for the association only on the path data goes to (§8.1:
        # heartbeats on other paths SHOULD NOT, or an idle association would die of a
        # dead alternate path) and never for an unconfirmed address (§5.4).
        path.rto.backoff()
        overall = path is assoc._path and path.confirmed
        if not count_error(assoc, "heartbeats", now, path, overall=overall):
            return
        if overall:
            tx = assoc._tx
            if tx is not None and tx.bytes_in_flight:
                # T3-rtx probes the path now and counts its errors: a heartbeat chain
                # beside it would count each second of silence twice.
                heartbeat.restart(now, path.rto.rto)
                return
            # The peer may be gone: the next HEARTBEAT goes at once, answered within the
            # backed-off RTO, as a T3-rtx retransmission would (an on-demand HEARTBEAT,
            # §8.3 D; RFC 7829 §5.1 probes a Potentially Failed destination so, and Linux
            # does it for its single path too). §8.3's HB.interval + RTO per heartbeat
            # (RECOMMENDED for an idle destination) paces the probes of a path that
            # answers; once one goes unanswered, silence is measured in backed-off RTOs
            # whether or not data is in flight, so one bound (Options) holds for both.
        elif path.confirmed and path.state is not POTENTIALLY_FAILED:
            heartbeat.restart(now, path.rto.rto)
            return
        # §5.4: an unconfirmed address is probed every RTO; RFC 7829 §5.1: so is a
        # Potentially Failed one.
    elif path is assoc._path:
        tx = assoc._tx
        if tx is not None and tx.bytes_in_flight:
            # Not idle: DATA in flight probes the path (T3-rtx counts its errors).
            heartbeat.restart(now, path.rto.rto)
            return
        assoc._queue_control(heartbeat.send(now, path.rto.rto))
        return
    chunk = heartbeat.send(now, path.rto.rto)
    if path is assoc._path:
        assoc._queue_control(chunk)
    else:
        assoc._send_to(path.addr, assoc.peer_tag, [chunk])


def handle_heartbeat_ack(assoc: Association, chunk: HeartbeatAckChunk, now: float) -> None:
    if len(chunk.info) == PROBE_INFO.size:
        # A path MTU probe's answer (RFC 8899 §6.2.1.2). It gives no RTT sample: a large
        # probe's serialization delay would inflate the RTO.
        if not assoc._pmtud.handle_ack(chunk.info, now):
            assoc.drops.add("stale_probe_ack")
        return
    path = assoc._path
    if assoc._multihomed:
        # §5.4: the nonce names the destination the HEARTBEAT went to.
        for candidate in assoc._paths:
            if candidate.heartbeat.matches(chunk.info):
                path = candidate
                break
    rtt = path.heartbeat.handle_ack(chunk, now)
    if rtt is None:
        return
    # §8.3: the RTT measurement updates the path's RTO; the error counters are cleared.
    path.rto.observe(rtt)
    assoc._error_count = 0
    if path is assoc._path:
        assoc._t3_streak = 0
    paths.confirm(assoc, path, now)
    paths.path_answered(assoc, path, now)
    path.heartbeat.restart(now, path.rto.rto)
