"""Packet assembly for an association: bundling chunks up to the path MTU (RFC 9260 §6.10).

Control chunks first, then a SACK when one is due, then DATA (through
:func:`~.datapath.fill_data`), packet after packet up to ``Options.max_burst``; path MTU
probes (RFC 8899 §6.2) are built here too. Packets with a special verification tag (INIT,
T-bit replies) are built at once by ``Association._send_raw`` and go out first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import datapath
from .packet import (
    COMMON_HEADER_SIZE,
    DATA_HEADER_SIZE,
    PAD_CHUNK_HEADER_SIZE,
    Chunk,
    HeartbeatChunk,
    PadChunk,
    serialize_packet,
)
from .plpmtud import PROBE_INFO, Fragmentable
from .state import State

if TYPE_CHECKING:
    from .association import Association

# States in which path MTU probes go out: while DATA may still be sent.
_PROBE_STATES = (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED)
# Probe packet (RFC 8899 §6.2): common header + HEARTBEAT with its info + PAD chunk header.
_PROBE_OVERHEAD = COMMON_HEADER_SIZE + 8 + PROBE_INFO.size + PAD_CHUNK_HEADER_SIZE


def datagrams_to_send(assoc: Association, now: float) -> list[bytes]:
    """Packets ready to go to :attr:`address`: bundles control chunks, SACK and DATA
    up to the path MTU (§6.10)."""
    out = assoc._raw
    assoc._raw = []
    if assoc.peer_tag == 0 or assoc.closed:
        assoc._control.clear()
        account(assoc, out)
        return out
    pmtud = assoc._pmtud
    # SCTP-AUTH (RFC 4895): room for the AUTH chunk in every packet.
    auth = assoc._auth
    overhead = auth.overhead if auth is not None else 0
    pmtu = pmtud.plpmtu - overhead
    if pmtu != assoc._pmtu and assoc._tx is not None:
        assoc._tx.set_pmtu(pmtu)
        assoc._pmtu = pmtu
    if pmtud.probe_due and assoc.state in _PROBE_STATES:
        probe = pmtud.take_probe(now)
        if probe is not None:
            out.append(probe_packet(assoc, *probe))
    # RFC 8899 ERROR: BASE_PLPMTU itself is unconfirmed: let IP fragment everything.
    fragment_all = pmtud.fragmentation_needed
    tracker = assoc._tracker
    tx = assoc._tx
    local_port = assoc._host.local_port
    max_packets = assoc._options.max_burst or 1_000_000
    packets = 0
    reply = assoc._reply_path
    if reply is not None and tracker is not None and tracker.should_send_sack_now:
        # §6.4: the SACK answers the DATA's source, here not the current destination.
        assoc._reply_path = None
        if reply is not assoc._path:
            assoc._send_to(reply.addr, assoc.peer_tag, [datapath.make_sack(assoc, tracker)])
    while packets < max_packets:
        chunks: list[Chunk] = []
        budget = pmtu - COMMON_HEADER_SIZE
        control = assoc._control
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
            sack = datapath.make_sack(assoc, tracker)
            size = sack.serialized_size()
            if size <= budget or not chunks:
                chunks.append(sack)
                budget -= size
        if budget > DATA_HEADER_SIZE:
            if tx is not None and tx.has_data_ready:
                budget -= datapath.fill_data(assoc, chunks, budget, now)
            else:
                # No DATA waits: what fill_data would do with empty queues, without asking
                # them for chunks.
                datapath.end_nagle_hold(assoc)
        if not chunks:
            break
        if auth is None:
            packet = serialize_packet(local_port, assoc.remote_port, assoc.peer_tag, chunks)
        else:
            packet = auth.serialize(local_port, assoc.remote_port, assoc.peer_tag, chunks)
        if fragment_all or len(packet) > pmtu + overhead:
            # A chunk cut for a larger PLPMTU (RFC 9260 §6.9: IP fragmentation is used
            # for it): the driver sends this one without the Don't Fragment bit.
            packet = Fragmentable(packet)
        out.append(packet)
        packets += 1
        if not assoc._control and (tx is None or not tx.has_data_ready):
            # Everything went into this packet, the SACK too if one was due: another round
            # would only find that out.
            break
    datapath.update_sack_timer(assoc)
    account(assoc, out)
    return out


def probe_packet(assoc: Association, size: int, info: bytes) -> bytes:
    """A probe (RFC 8899 §6.2): a minimum-length HEARTBEAT and a PAD chunk (RFC 4820)
    filling the packet to exactly ``size`` bytes. Sent with Don't Fragment, as every
    packet that is not :class:`Fragmentable` (RFC 8899 §3 item 2)."""
    auth = assoc._auth
    overhead = _PROBE_OVERHEAD + (auth.overhead if auth is not None else 0)
    chunks: list[Chunk] = [HeartbeatChunk(info), PadChunk(size - overhead)]
    return assoc._serialize(assoc.peer_tag, chunks)


def account(assoc: Association, packets: list[bytes]) -> None:
    assoc.packets_sent += len(packets)
    for packet in packets:
        assoc.bytes_sent += len(packet)
