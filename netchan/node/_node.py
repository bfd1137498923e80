"""The node's public API: :func:`open_node` and :class:`Node` (docs/protocol.md).

A node owns one endpoint. It keeps one association per peer node, a control stream (0) per
association for HELLO/OPEN/CREDIT/ERROR, and one *link* per channel (``_links.py``). The
receive loop never blocks on a local channel: every value that arrives has a slot reserved by
credit, so one slow consumer never stalls the association (and so no other channel).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import trio

from .. import _protocol as P
from .._channels import RemoteReceiveChannel, RemoteSendChannel
from .._errors import PeerUnreachableError
from .._listing import ExportInfo
from .._stats import NodeStatistics, PeerStatistics
from ..codec._registry import register_declared
from ..transport import Endpoint, open_endpoint, parse_address
from ..transport._nursery import open_internal_nursery
from ..transport._open import default_client_address
from ._core import Core
from ._credit import DEFAULT_BUFFER
from ._keys import NodeKeys
from ._links import ImportLink, ImportReceiveLink, ImportSendLink

EndpointFactory = Callable[[str], AbstractAsyncContextManager[Endpoint]]


class Node:
    """A netchan node: exports named channels and imports channels of other nodes.

    Obtain one with :func:`open_node`. All methods must be called from the trio task tree the
    node runs in.
    """

    def __init__(self, core: Core, *, listening: bool) -> None:
        self._core = core
        self._ep = core.endpoint
        self._listening = listening
        self.node_id = core.node_id

    @property
    def address(self) -> str | None:
        """The address peers can reach this node at (``None`` for a client-only node)."""
        return self._ep.address if self._listening else None

    def export(
        self,
        name: str,
        channel_end: Any,
        type: Any = None,
        *,
        allow: Iterable[str] | None = None,
    ) -> None:
        """Serve ``channel_end`` under ``name``.

        A ``SendChannel``: values remote importers send are pushed into it (any number of
        importers, each with credit sized by the channel's buffer). A ``ReceiveChannel``: a
        work queue; each value goes to exactly one importer that has credit. The node owns the
        end from now on and closes it when the node closes. ``type`` checks every value; the
        dataclasses and Enums it names (with their fields') are registered with the codec.

        ``allow`` (a node opened with ``keys={...}``) names the keys whose holders may open
        this channel: an importer whose association authenticated with another key gets
        :class:`~netchan.AccessDeniedError` and nothing of the channel, and the channel is
        not listed to it (docs/security.md). Channel ends passed inside values are
        capabilities and are not restricted.

        Raises:
            TypeError: ``channel_end`` is not a trio channel end, or ``name`` not a string.
            ValueError: ``name`` is already exported, or ``allow`` names a key the node does
                not hold (or the node has no keys).
            trio.ClosedResourceError: the node is closed.
        """
        if self._core.closed:
            raise trio.ClosedResourceError("the node is closed")
        if not isinstance(name, str) or not name or len(name) > 1024:
            raise TypeError("an export name is a non-empty string of at most 1024 characters")
        if not isinstance(channel_end, (trio.abc.SendChannel, trio.abc.ReceiveChannel)):
            raise TypeError(
                "export() takes a trio SendChannel or ReceiveChannel, "
                f"not {channel_end.__class__.__name__}"
            )
        if name in self._core.exports.named:
            raise ValueError(f"a channel named {name!r} is already exported")
        allowed = self._allow_set(allow)
        register_declared(type)
        self._core.exports.add(name, channel_end, type, allowed)

    # ------------------------------------------------------------ key rotation

    def _node_keys(self) -> NodeKeys:
        if self._core.closed:
            raise trio.ClosedResourceError("the node is closed")
        keys = self._core.keys
        if keys is None:
            raise ValueError("this node was opened without keys (open_node(key=...))")
        return keys

    def add_key(self, name: str, key: bytes) -> None:
        """Hold one more key, under ``name``: peers holding it can associate from now on.

        Rotation without a restart (docs/security.md): ``add_key`` the new key on every
        node, ``use_key`` it on every node, then ``remove_key`` the old one.

        Raises:
            ValueError: the node has no keys, the name is taken, the key is shorter than 16
                bytes or is one the node holds.
        """
        keys = self._node_keys()
        kid, checked = keys.check_new(name, key)
        self._ep.add_auth_key(kid, checked)
        keys.by_id[kid] = (name, checked)

    def use_key(self, name: str) -> None:
        """Authenticate what this node sends with the key ``name`` from now on."""
        keys = self._node_keys()
        kid = keys.id_of(name)
        self._ep.set_active_auth_key(kid)
        keys.active = kid

    def remove_key(self, name: str) -> None:
        """Stop holding the key ``name`` (not the one in use): peers that only hold it can
        no longer associate, and what they send on existing associations is dropped."""
        keys = self._node_keys()
        kid = keys.id_of(name)
        if kid == keys.active:
            raise ValueError(f"key {name!r} is in use; use_key() another one first")
        self._ep.remove_auth_key(kid)
        del keys.by_id[kid]

    def _allow_set(self, allow: Iterable[str] | None) -> frozenset[str] | None:
        if allow is None:
            return None
        if isinstance(allow, str):
            raise TypeError("allow= takes a set of key names, e.g. allow={'admin'}")
        names = frozenset(allow)
        keys = self._core.keys
        if keys is None:
            raise ValueError("allow= needs a node opened with keys={name: key, ...}")
        unknown = names - keys.names
        if unknown:
            raise ValueError(
                f"allow= names keys this node does not hold: {sorted(unknown)} "
                f"(its keys: {sorted(keys.names)})"
            )
        return names

    async def list_exports(self, address: str) -> list[ExportInfo]:
        """The channels the node at ``address`` exports by name, sorted by name.

        Raises:
            PeerUnreachableError: no association could be set up, or no answer came within
                ``connect_timeout``.
        """
        self._check_import(address, "list")
        peer = await self._core.peer_to(address, None)
        with trio.move_on_after(self._core.peers.connect_timeout):
            return await self._core.queries.ask(peer, peer.send_control)
        raise PeerUnreachableError(f"no answer to LIST from {address}")

    async def import_send(
        self,
        address: str,
        name: str,
        type: Any = None,
    ) -> RemoteSendChannel[Any]:
        """A SendChannel into the SendChannel ``name`` exported by the node at ``address``.

        Raises:
            ChannelNotFoundError: no such export there (or it is a ReceiveChannel).
            PeerUnreachableError: no association could be set up.
        """
        self._check_import(address, name)
        register_declared(type)
        link = ImportSendLink(self._core, name, address, None, P.TargetKind.NAME, name, type)
        await link.open()
        return RemoteSendChannel(link)

    async def import_receive(
        self,
        address: str,
        name: str,
        max_buffer: int = DEFAULT_BUFFER,
        type: Any = None,
    ) -> RemoteReceiveChannel[Any]:
        """A ReceiveChannel from the ReceiveChannel (work queue) ``name`` at ``address``.

        Up to ``max_buffer`` values (at least 1) are sent ahead into this end's buffer: the
        exporter's credit.

        Raises:
            ChannelNotFoundError: no such export there (or it is a SendChannel).
            PeerUnreachableError: no association could be set up.
        """
        self._check_import(address, name)
        if not isinstance(max_buffer, int) or max_buffer < 0:
            raise ValueError(f"max_buffer must be an int >= 0, got {max_buffer!r}")
        register_declared(type)
        link = ImportReceiveLink(
            self._core, name, address, None, P.TargetKind.NAME, name, type, window=max_buffer
        )
        await link.open()
        return RemoteReceiveChannel(link)

    def statistics(self) -> NodeStatistics:
        """A snapshot: peers with their association statistics, channels, values, errors."""
        peers = []
        for peer in self._core.peers:
            try:
                astats = peer.assoc.statistics()
            except Exception:
                astats = None
            peers.append(
                PeerStatistics(
                    node_id=peer.node_id.hex() if peer.node_id else None,
                    address=peer.address,
                    links=len(peer.links),
                    association=astats,
                )
            )
        counters = self._core.counters
        return NodeStatistics(
            node_id=self.node_id.hex(),
            address=self.address,
            peers=tuple(peers),
            exports=len(self._core.exports.named),
            references=len(self._core.exports.tokens),
            imports=sum(isinstance(link, ImportLink) for link in self._core.links()),
            values_in=counters.values_in,
            values_out=counters.values_out,
            errors=dict(counters.errors),
        )

    def _check_import(self, address: str, name: str) -> None:
        if self._core.closed:
            raise trio.ClosedResourceError("the node is closed")
        scheme = parse_address(address).scheme
        mine = self._ep.address.partition("://")[0]
        if scheme != mine:
            raise ValueError(
                f"this node runs on {mine}:// and cannot reach {address}; open the node on "
                f"{scheme}:// (for a client-only node: client_address='{scheme}://0.0.0.0:0')"
            )
        if not isinstance(name, str) or not name:
            raise TypeError("a channel name is a non-empty string")
        if self._listening and address == self._ep.address:
            raise ValueError("a node cannot import its own channels; use them directly")


@asynccontextmanager
async def open_node(
    address: str | None = None,
    *,
    transport: EndpointFactory | None = None,
    max_value_size: int = 64 * 1024 * 1024,
    reference_buffer: int = DEFAULT_BUFFER,
    connect_timeout: float = 20.0,
    linger: float = 2.0,
    client_address: str | None = None,
    key: bytes | None = None,
    keys: Mapping[str, bytes] | None = None,
) -> AsyncIterator[Node]:
    """Open a node: ``async with netchan.open_node("udp://127.0.0.1:9000") as node: ...``.

    With ``address`` the node listens there (port 0: ephemeral, see ``node.address``); without,
    it is client-only: it still binds an ephemeral endpoint (``client_address``) so peers can
    reach the channel ends it passes in values over the associations it opens.

    Args:
        address: ``udp://HOST:PORT`` or ``sctp://HOST:PORT``, or ``None``.
        transport: an ``open_endpoint``-like factory (tests use an in-memory network), e.g.
            ``functools.partial(open_endpoint, nodelay=True)`` to turn off Nagle's rule on
            ``udp://`` (see docs/protocol.md, Credit).
        max_value_size: largest encoded value accepted or sent (codec ``max_size``).
        reference_buffer: the buffer of a ReceiveChannel that arrives inside a value.
        connect_timeout: how long to wait for an association and the peer's HELLO.
        linger: on exit, how long to wait for queued values and END markers to be sent.
        client_address: what a client-only node binds (e.g. ``sctp://0.0.0.0:0`` to use the
            kernel's SCTP, or a loopback address). Default: ``udp://[::]:0``, dual-stack;
            ``udp://0.0.0.0:0`` on hosts without IPv6.
        key: a shared secret (bytes, at least 16; ``secrets.token_bytes(32)``). The node's
            endpoint then requires SCTP-AUTH (RFC 4895) with it: only peers holding the key
            can set up an association (others fail at once, with a clear error), and every
            DATA and SACK is authenticated. Values are not encrypted (docs/security.md).
        keys: several named keys instead (``{"admin": k1, "workers": k2}``): a peer holding
            any one of them can associate; ``export(..., allow={"admin"})`` restricts a
            channel to some of them. Our own associations start with the first key.

    Leaving the block ends every imported channel (the peers see ``EndOfChannel``), tells
    importers of our exports that the node closed, shuts the associations down gracefully
    and closes the exported channel ends.
    """
    node_keys = NodeKeys.from_arguments(key, keys)
    opener: Callable[..., AbstractAsyncContextManager[Endpoint]] = transport or open_endpoint
    bind = address or client_address or default_client_address()
    auth = node_keys.transport_options() if node_keys is not None else {}
    async with opener(bind, **auth) as endpoint, open_internal_nursery() as nursery:
        core = Core(
            endpoint,
            nursery,
            max_value_size=max_value_size,
            reference_buffer=reference_buffer,
            connect_timeout=connect_timeout,
            keys=node_keys,
        )
        core.start()
        try:
            yield Node(core, listening=address is not None)
        finally:
            with trio.CancelScope(shield=True):
                await core.shutdown(linger)
            nursery.cancel_scope.cancel()
