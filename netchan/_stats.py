"""Statistics records of nodes and channels: frozen snapshots, like trio's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .transport import AssociationStatistics

_EMPTY: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ChannelStatistics:
    """A snapshot of one imported channel end (shared by all its clones).

    Attributes:
        name: the exported name, or ``"<ref>"`` for a channel end that arrived inside a value.
        direction: ``"send"`` or ``"receive"``.
        remote: the owner's address, when known.
        state: ``"opening"``, ``"open"``, ``"ended"`` (EndOfChannel seen or sent),
            ``"closed"`` (every clone closed) or ``"broken"``.
        values_sent / values_received: values through this end.
        credit: send side: values the receiver has room for now; receive side: credit granted
            to the remote sender and not used yet.
        max_buffer: the credit window (the receiving side's buffer).
        current_buffer_used: values waiting in this end (send: queued toward the network;
            receive: arrived and not taken by ``receive`` yet).
        queued_bytes: bytes of those values.
        open_clones: clones of this end not closed yet.
        tasks_waiting: tasks blocked in ``send`` / ``receive``.
        rejected: values refused (undecodable or of the wrong type): on a receiving end the
            values it refused, on a sending end the values it sent that the receiver refused
            (reported back after ``send`` returned).
    """

    name: str
    direction: str
    remote: str | None
    state: str
    values_sent: int
    values_received: int
    credit: int
    max_buffer: int
    current_buffer_used: int
    queued_bytes: int
    open_clones: int
    tasks_waiting: int
    rejected: int


@dataclass(frozen=True, slots=True)
class PeerStatistics:
    """One peer node and its association.

    Attributes:
        node_id: the peer's random node id (hex), once its HELLO arrived.
        address: the peer's listening address as announced (for reply routing).
        links: channel links currently open over this association.
        association: the transport's snapshot: RTT (``srtt``), ``cwnd``, retransmissions...
    """

    node_id: str | None
    address: str | None
    links: int
    association: AssociationStatistics | None


@dataclass(frozen=True, slots=True)
class NodeStatistics:
    """A snapshot of a node.

    Attributes:
        node_id: this node's random id (hex).
        address: the bound address (``None`` for a client-only node).
        peers: one record per association.
        exports: named exports; ``references``: channel ends currently exported because they
            travelled inside values; ``imports``: imported ends (links we opened) alive now.
        values_in / values_out: values received from / sent to the network.
        errors: counted errors by kind (``"undecodable"``, ``"unknown_channel"``,
            ``"credit_exceeded"``, ``"malformed_control"``, ...).
    """

    node_id: str
    address: str | None
    peers: tuple[PeerStatistics, ...]
    exports: int
    references: int
    imports: int
    values_in: int
    values_out: int
    errors: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
