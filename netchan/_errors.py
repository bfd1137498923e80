"""Exceptions of the channel layer.

Channel ends follow trio: ``trio.ClosedResourceError`` (you closed it), ``trio.EndOfChannel``
(the other side closed cleanly), ``trio.BrokenResourceError`` (something outside failed; the
cause is attached as ``__cause__``). The classes here name what trio has no name for.
"""

from __future__ import annotations


class NetchanError(Exception):
    """Base class of channel-layer errors."""


class ChannelNotFoundError(NetchanError, LookupError):
    """``import_send`` / ``import_receive`` named a channel the remote node does not export,
    or exports in the other direction."""


class RemoteError(NetchanError):
    """The remote node reported a failure of a channel (attached as ``__cause__``).

    Attributes:
        code: the protocol's error code name (docs/protocol.md "Error codes").
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class AccessDeniedError(NetchanError, PermissionError):
    """The remote node refused to open a channel: its export's ``allow`` list does not name
    the key this node holds (docs/security.md)."""


class PeerUnreachableError(NetchanError, ConnectionError):
    """No association could be set up to a node (or it speaks another protocol version)."""
