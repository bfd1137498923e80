"""Exceptions of the transport layer.

The endpoint API follows trio's conventions: ``trio.ClosedResourceError`` means *you* closed
the object, ``trio.BrokenResourceError`` means something outside failed (the peer aborted, the
network died); its ``__cause__`` is an :class:`AssociationAbortedError` saying why. The classes
here cover what trio has no name for.
"""

from __future__ import annotations


class TransportError(Exception):
    """Base class of netchan transport errors."""


class InvalidAddressError(TransportError, ValueError):
    """An endpoint address URL could not be parsed (see :func:`parse_address`)."""


class SCTPUnavailableError(TransportError, OSError):
    """The operating system has no SCTP; ``sctp://`` cannot work here.

    Raised at once by ``open_endpoint("sctp://...")`` on such hosts. The userspace stack
    (``udp://``) works everywhere and is the way out.
    """


class MessageTooLargeError(TransportError, ValueError):
    """A message is larger than the association's configured maximum message size."""


class AssociationAbortedError(TransportError):
    """Why an association ended abnormally; attached as ``__cause__`` of BrokenResourceError.

    Attributes:
        reason: human-readable reason ("peer sent ABORT: ...", "peer unreachable", ...).
        by_peer: True when the peer (or its host's ICMP) ended it, False when we gave up
            (retransmission limit) or aborted it ourselves.
    """

    def __init__(self, reason: str, *, by_peer: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.by_peer = by_peer
