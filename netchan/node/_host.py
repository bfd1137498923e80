"""What links, peers and exports may ask of their node: one small typed interface.

The channel layer's parts never reach into each other's private state; a link gets a
:class:`Host` (the node's core, ``_core.py``) and calls these methods only, the way the SCTP
association gets its callbacks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .. import _protocol as P

if TYPE_CHECKING:
    from ._frames import Payload, Received
    from ._links import Link
    from ._peers import Peer


class Rejected(Exception):
    """A received value is refused (undecodable or of the wrong type)."""

    def __init__(self, code: P.ErrorCode, kind: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind


class Counters:
    """The node's counters (``NodeStatistics.values_in`` / ``values_out`` / ``errors``)."""

    __slots__ = ("errors", "values_in", "values_out")

    def __init__(self) -> None:
        self.values_in = 0
        self.values_out = 0
        self.errors: Counter[str] = Counter()

    def count(self, kind: str, n: int = 1) -> None:
        """Count ``n`` errors of ``kind`` (a short snake_case word, see ``NodeStatistics``)."""
        self.errors[kind] += n


class Host(Protocol):
    """The node as its links, peers and exports see it."""

    @property
    def node_id(self) -> bytes:
        """This node's random id."""

    @property
    def closed(self) -> bool:
        """Whether the node is closing or closed (channel ends raise ClosedResourceError)."""

    @property
    def counters(self) -> Counters:
        """Where values and errors are counted."""

    @property
    def max_value_size(self) -> int:
        """Largest encoded value (and reassembled value) accepted."""

    def add_link(self, link: Link) -> int:
        """Register a new link; returns its id (frames and control messages name it)."""

    def forget_link(self, link: Link) -> None:
        """Forget a link: late frames for it are dropped from now on."""

    def grant_credit(self, link: Link, n: int) -> None:
        """Grant ``n`` more values to ``link``'s sender (CREDIT): at the end of the batch
        of messages being routed, or now outside one; none once the link stopped being
        open."""

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the node's nursery."""

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` soon in the trio loop (safe from ``__del__``)."""

    def encode(self, value: Any) -> Payload:
        """Encode a value (channel ends inside become references)."""

    def decode(self, payload: Received, peer: Peer | None, tp: Any) -> Any:
        """Decode a value that came from ``peer``; raises :class:`Rejected`."""

    async def peer_to(self, address: str | None, owner_id: bytes | None) -> Peer:
        """The association to a node (reused, or set up); raises PeerUnreachableError."""

    def ready_peer(self, owner_id: bytes) -> Peer | None:
        """The peer with ``owner_id`` if its association is up and usable now, else None."""

    def peer_failed(self, peer: Peer, cause: BaseException) -> None:
        """The association to ``peer`` is gone: fail or wind down its links."""

    def key_name(self, peer: Peer) -> str | None:
        """The name of the node key ``peer``'s association authenticated with (SCTP-AUTH),
        or None (no keys, or not known yet)."""
