"""The reference manager: channel ends inside values (docs/protocol.md "References").

Encoding: a local trio channel end is moved into the node and served under a random token;
a remote channel end travels as its owner and target. Decoding: a reference to this node's
own channel is claimed back as a clone of the local end; any other becomes a new import link,
opened in the background. The peer a value came from is passed explicitly: it fills in the
host of a client-only owner's address.
"""

from __future__ import annotations

import contextlib
from typing import Any

import trio

from .. import _protocol as P
from .._channels import RemoteReceiveChannel, RemoteSendChannel
from ..codec import Codec, CodecLimits, DecodeError, check_type
from ._exports import Exports
from ._frames import Payload, Received
from ._host import Host, Rejected
from ._links import ImportLink, ImportReceiveLink, ImportSendLink
from ._peers import Peer, resolve_address


class _Decoding:
    """One value being decoded: where it came from, and the ends made for its references."""

    __slots__ = ("ends", "peer", "refs")

    def __init__(self, refs: References, peer: Peer | None) -> None:
        self.refs = refs
        self.peer = peer
        self.ends: list[trio.abc.AsyncResource] = []

    def decode_ref(self, desc: Any) -> Any:
        end = self.refs.decode_ref(desc, self.peer)
        if isinstance(end, trio.abc.AsyncResource):
            self.ends.append(end)
        return end

    def discard(self) -> None:
        """The value is refused: close the channel ends made for it."""
        for end in self.ends:
            with contextlib.suppress(Exception):
                end.close()  # type: ignore[attr-defined]
        self.ends = []


class References:
    """Encodes and decodes values, turning channel ends into references and back."""

    def __init__(
        self,
        host: Host,
        exports: Exports,
        *,
        address: str,
        max_value_size: int,
        reference_buffer: int,
    ) -> None:
        self._host = host
        self._exports = exports
        self._address = address
        self._reference_buffer = reference_buffer
        self.codec = Codec(
            limits=CodecLimits(max_size=max_value_size),
            ref_types=(
                trio.MemorySendChannel,
                trio.MemoryReceiveChannel,
                RemoteSendChannel,
                RemoteReceiveChannel,
            ),
            encode_ref=self.encode_ref,
        )

    def encode(self, value: Any) -> Payload:
        """Encode a value; channel ends inside travel as references. Big binary fields stay
        where they are, by reference (``Codec.encode_gathered``): the node's loop never
        copies a big value as a whole."""
        return self.codec.encode_gathered(value)

    def decode(self, payload: Received, peer: Peer | None, tp: Any) -> Any:
        """Decode a value that came from ``peer`` and check it against ``tp``.

        Raises:
            Rejected: undecodable, or not of type ``tp`` (the ends made for references inside
                are closed again).
        """
        decoding = _Decoding(self, peer)
        try:
            value = self.codec.decode(payload, decode_ref=decoding.decode_ref)
        except DecodeError as exc:
            decoding.discard()
            raise Rejected(P.ErrorCode.DECODE, "undecodable", str(exc)) from None
        if tp is not None:
            try:
                check_type(value, tp)
            except Exception as exc:  # TypeError, or whatever a strange type raises
                decoding.discard()
                raise Rejected(P.ErrorCode.TYPE_MISMATCH, "type_mismatch", str(exc)) from None
        return value

    def encode_ref(self, obj: Any) -> object:
        """The description of a channel end inside a value (codec hook)."""
        if isinstance(obj, (RemoteSendChannel, RemoteReceiveChannel)):
            link = obj._netchan_link
            direction = P.Dir.SEND if isinstance(obj, RemoteSendChannel) else P.Dir.RECEIVE
            if link.owner_id is None:
                raise TypeError("this channel end is not connected yet and cannot travel")
            if link.target_kind is P.TargetKind.TOKEN:
                link.forwards += 1
            window = link.window if isinstance(link, ImportSendLink) else 0
            return [
                int(direction),
                link.owner_id,
                link.address,
                int(link.target_kind),
                link.target,
                window,
            ]
        direction = P.Dir.SEND if isinstance(obj, trio.MemorySendChannel) else P.Dir.RECEIVE
        export = self._exports.moved(obj)
        export.pending += 1
        return [
            int(direction),
            self._host.node_id,
            self._address,
            int(P.TargetKind.TOKEN),
            export.token,
            export.window,
        ]

    def decode_ref(self, desc: Any, peer: Peer | None) -> Any:
        """The channel end a received description stands for (``peer`` sent it)."""
        if (
            not isinstance(desc, list)
            or len(desc) < 5
            or desc[0] not in (0, 1)
            or not isinstance(desc[1], bytes)
            or not (desc[2] is None or isinstance(desc[2], str))
            or desc[3] not in (0, 1)
            or not isinstance(desc[4], str)
        ):
            raise ValueError("malformed channel reference")
        direction = P.DIRS[desc[0]]
        owner_id: bytes = desc[1]
        kind = P.TARGET_KINDS[desc[3]]
        key: str = desc[4]
        if owner_id == self._host.node_id:
            return self._claim_local(direction, kind, key)
        address = resolve_address(desc[2], owner_id, peer)
        link: ImportLink
        end: Any
        if direction is P.Dir.SEND:
            # The owner pre-grants its window to every holder: the first values go with the
            # OPEN (an absent or odd figure: none, wait for OPEN_OK).
            window = desc[5] if len(desc) > 5 and type(desc[5]) is int else 0
            link = ImportSendLink(
                self._host, "<ref>", address, owner_id, kind, key, None, early_credit=window
            )
            end = RemoteSendChannel(link)
        else:
            link = ImportReceiveLink(
                self._host,
                "<ref>",
                address,
                owner_id,
                kind,
                key,
                None,
                window=self._reference_buffer,
            )
            end = RemoteReceiveChannel(link)
        if kind is P.TargetKind.NAME:
            link.name = key
        link.open_reference()
        return end

    def _claim_local(self, direction: P.Dir, kind: P.TargetKind, key: str) -> Any:
        export = self._exports.lookup(kind, key)
        if export is None:
            raise ValueError(f"reference to a channel of this node that no longer exists: {key}")
        if export.is_send != (direction is P.Dir.SEND) or not hasattr(export.end, "clone"):
            raise ValueError("reference with the wrong direction")
        end = export.end.clone()
        if kind is P.TargetKind.TOKEN:
            export.pending -= 1
            export.maybe_release()
        return end
