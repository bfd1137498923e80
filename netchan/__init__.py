"""netchan: Go-style channels between trio programs across hosts, carried on SCTP streams.

A node exports named channels; peers import them. Each channel rides its own SCTP stream, so
one slow or lossy channel never holds up another. Channel ends travel inside values (reply
channels). Everything behaves like ``trio.open_memory_channel``: backpressure, ``clone``,
``EndOfChannel`` after a clean close, ``BrokenResourceError`` when a peer fails.

Example::

    async with netchan.open_node("udp://127.0.0.1:9000") as node:
        send, recv = trio.open_memory_channel(100)
        node.export("jobs", send)

    async with netchan.open_node() as node:
        jobs = await node.import_send("udp://127.0.0.1:9000", "jobs")
        await jobs.send({"n": 4})

Wire protocol: docs/protocol.md.
"""

from __future__ import annotations

from ._channels import RemoteReceiveChannel, RemoteSendChannel
from ._errors import (
    AccessDeniedError,
    ChannelNotFoundError,
    NetchanError,
    PeerUnreachableError,
    RemoteError,
)
from ._listing import ExportInfo
from ._protocol import PROTOCOL_VERSION
from ._stats import ChannelStatistics, NodeStatistics, PeerStatistics
from .node import Node, open_node

__version__ = "0.1.0"

__all__ = [
    "PROTOCOL_VERSION",
    "AccessDeniedError",
    "ChannelNotFoundError",
    "ChannelStatistics",
    "ExportInfo",
    "NetchanError",
    "Node",
    "NodeStatistics",
    "PeerStatistics",
    "PeerUnreachableError",
    "RemoteError",
    "RemoteReceiveChannel",
    "RemoteSendChannel",
    "__version__",
    "open_node",
]
