"""Liveness of an association: error counting and heartbeats (RFC 9260 §8.1-§8.3).

Consecutive unanswered retransmissions and heartbeats mark the (only) destination inactive
(§8.2) and, past Association.Max.Retrans, abort the association (§8.1); HEARTBEAT ACKs give
RTT samples and answer path MTU probes (RFC 8899 §6.2.1.2). Functions of the
:class:`~.association.Association` they are given, which owns the state and dispatches to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import PeerAddressChanged
from .packet import AbortChunk, HeartbeatAckChunk, UserInitiatedAbortCause
from .plpmtud import PROBE_INFO
from .state import State

if TYPE_CHECKING:
    from .association import Association


def clear_errors(assoc: Association) -> None:
    assoc._error_count = 0
    assoc._t3_streak = 0
    if not assoc._path_reachable:
        assoc._path_reachable = True
        assoc._host._emit(PeerAddressChanged(assoc.id, addr_tuple(assoc), "available"))


def addr_tuple(assoc: Association) -> tuple[str, int]:
    addr = assoc._addr
    if isinstance(addr, tuple) and len(addr) >= 2:
        return (str(addr[0]), int(addr[1]))
    return (str(addr), assoc.remote_port)


def count_error(assoc: Association, what: str) -> bool:
    """One more unanswered retransmission or heartbeat (§8.1, §8.2).

    Returns False when the association was aborted (limit exceeded).
    """
    assoc._error_count += 1
    options = assoc._options
    if assoc._path_reachable and assoc._error_count > options.path_max_retransmissions:
        # §8.2: the (only) destination becomes inactive.
        assoc._path_reachable = False
        assoc._host._emit(PeerAddressChanged(assoc.id, addr_tuple(assoc), "unreachable"))
    if assoc._error_count > options.association_max_retransmissions:
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
    assoc._heartbeat.restart(now, assoc._rto.rto)


def heartbeat_timeout(assoc: Association, now: float) -> None:
    # §8.3: heartbeats from ESTABLISHED until SHUTDOWN / SHUTDOWN ACK is sent (then
    # T2-shutdown watches the peer).
    if assoc.state not in (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED):
        return
    heartbeat = assoc._heartbeat
    if heartbeat.awaiting_ack:
        # Not answered within one RTO: an error for the path and the association, and
        # the RTO backs off (§8.3).
        assoc._rto.backoff()
        if not count_error(assoc, "heartbeats"):
            return
        heartbeat.restart(now, assoc._rto.rto)
        return
    tx = assoc._tx
    if tx is not None and tx.bytes_in_flight:
        # Not idle: DATA in flight probes the path (T3-rtx counts its errors).
        heartbeat.restart(now, assoc._rto.rto)
        return
    assoc._queue_control(heartbeat.send(now, assoc._rto.rto))


def handle_heartbeat_ack(assoc: Association, chunk: HeartbeatAckChunk, now: float) -> None:
    if len(chunk.info) == PROBE_INFO.size:
        # A path MTU probe's answer (RFC 8899 §6.2.1.2). It gives no RTT sample: a large
        # probe's serialization delay would inflate the RTO.
        if not assoc._pmtud.handle_ack(chunk.info, now):
            assoc.drops.add("stale_probe_ack")
        return
    rtt = assoc._heartbeat.handle_ack(chunk, now)
    if rtt is None:
        return
    # §8.3: the RTT measurement updates the RTO; the error counters are cleared.
    assoc._rto.observe(rtt)
    clear_errors(assoc)
    restart_heartbeat(assoc, now)
