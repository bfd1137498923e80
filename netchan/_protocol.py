"""The channel protocol's wire format: control messages on stream 0, value frames elsewhere.

docs/protocol.md is the normative description; this module is its one implementation. Every
parser here takes peer bytes and raises only :class:`ProtocolError` (never another exception),
so the node can count and refuse bad input without ever crashing on it.

Stream mapping: SCTP stream 0 carries control messages (msgpack arrays). Every other stream
carries value frames of one or more channels: ``kind (1 byte) | link id (u32, big endian) |
payload``. A channel's frames always use the same stream, so its values and its END marker
stay in order (RFC 9260 §6.6: order is kept per stream only).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

import msgpack

PROTOCOL_VERSION = 2
"""Bumped on any change of the wire format; HELLO carries it (docs/protocol.md "Versions")."""
MIN_PROTOCOL_VERSION = 1
"""The oldest version this node still speaks: a peer of an older (or a newer) version is
refused. Version 1 peers are served without what version 2 added (BATCH frames)."""
BATCH_VERSION = 2
"""The first version that understands BATCH frames."""
EARLY_VERSION = 2
"""The first version that understands EARLY frames (and pre-granted reference credit)."""

CONTROL_STREAM = 0
PPID_CONTROL = 0x4E430001
"""Payload protocol identifiers (RFC 9260 §3.3.1): informational; streams decide the meaning."""
PPID_VALUE = 0x4E430002

MAX_CONTROL_SIZE = 64 * 1024
"""A control message larger than this is a protocol violation."""

_FRAME_HEADER = struct.Struct(">BI")
FRAME_HEADER_SIZE = _FRAME_HEADER.size


class ProtocolError(Exception):
    """The peer sent something the protocol does not allow (counted, logged, refused).

    Attributes:
        kind: a short stable name used as the counter key in ``node.statistics().errors``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Ctl(enum.IntEnum):
    """Control message types (first element of the msgpack array on stream 0)."""

    HELLO = 1
    OPEN = 2
    OPEN_OK = 3
    OPEN_ERR = 4
    CREDIT = 5
    CLOSE = 6
    ERROR = 7
    REJECT = 8
    LIST = 9
    EXPORTS = 10


class Frame(enum.IntEnum):
    """Value frame kinds (first byte of a message on a data stream)."""

    VALUE = 1
    """A value (codec bytes) toward the receiving side of the link."""
    END = 2
    """The sending side is done (after its last VALUE); payload: forwards (u32)."""
    RETURN = 3
    """Importer → exporter of a work queue: a value given back unread (payload as VALUE)."""
    CLOSE = 4
    """Importer → exporter of a work queue: stop sending; answer with END."""
    MORE = 5
    """A piece of a value whose last piece is the VALUE frame (big values are sent in pieces
    of FRAGMENT_SIZE so that other channels' messages interleave with them)."""
    BATCH = 6
    """Several whole values of one link in one message (version 2): each is ``u32 length |
    codec bytes``. One SCTP message (one TSN, one reassembly, one delivery, one wake-up of the
    receiving node) carries what a sender in a loop queued, instead of one per value."""
    EARLY = 7
    """A frame of a link still opening, sent right after its OPEN (version 2): it names the
    *sender's* link id (the receiver's is not known yet) and carries one VALUE, MORE, BATCH
    or END frame without its link id: ``inner kind (1 byte) | inner payload``. A channel
    end that travelled in a value sends its first values with its OPEN, within the credit
    the reference pre-granted, instead of one round trip later."""


EARLY_INNER = frozenset({Frame.VALUE, Frame.MORE, Frame.BATCH, Frame.END})
"""The frames an EARLY frame may carry."""

FRAME_FIRST_BYTES = frozenset(bytes([k]) for k in Frame)
"""First bytes that mark a value frame (a control message starts with a msgpack array)."""

FRAGMENT_SIZE = 256 * 1024

BATCH_LIMIT = 60 * 1024
"""Largest payload of a BATCH frame a sender builds: most of one 64 KiB loopback packet
(path MTU discovery, RFC 8899), so a sender in a loop pays one SCTP message, one packet and
one receiver wake-up per ~60 values of 1 KiB. 16 KiB cost 1 KiB values 13/11 us of CPU per
value and 0.73x TCP; 60 KiB gives 8/7 us and 1.18x (docs/benchmarks.md "Larger batches").
A batch only takes what is queued already; a lone value is never held back."""
BATCH_ITEM_LIMIT = 2 * 1024
"""Values larger than this travel in their own VALUE frame (batching them saves nothing)."""
_U32 = struct.Struct(">I")


class Dir(enum.IntEnum):
    """Which way values flow on a link, seen from the side that opened it (the importer)."""

    SEND = 0
    """The importer sends values; the exporter pushes them into a local SendChannel."""
    RECEIVE = 1
    """The exporter sends values (work queue); the importer receives them."""


class TargetKind(enum.IntEnum):
    """How OPEN names what it opens."""

    NAME = 0
    """A channel exported by name with ``node.export``."""
    TOKEN = 1
    """A channel end that travelled inside a value (a reference), by its random token."""


class ErrorCode(enum.IntEnum):
    """Codes carried by OPEN_ERR, ERROR and REJECT."""

    UNKNOWN_CHANNEL = 1
    WRONG_DIRECTION = 2
    TYPE_MISMATCH = 3
    PROTOCOL = 4
    BROKEN = 5
    DECODE = 6
    CREDIT_EXCEEDED = 7
    CLOSED = 8
    FORBIDDEN = 9
    """OPEN_ERR: the export's ``allow`` list does not name the key the importer holds
    (docs/security.md). A node that predates it reads it as PROTOCOL."""


@dataclass(frozen=True, slots=True)
class Hello:
    """First message each side sends on stream 0 of a new association."""

    version: int
    node_id: bytes
    address: str | None


@dataclass(frozen=True, slots=True)
class Open:
    """Importer → exporter: open a link to a named export or a reference token.

    ``credit`` is what the importer grants for ``Dir.RECEIVE`` (its buffer); ignored for
    ``Dir.SEND``. ``type_name`` is the importer's declared type, informational.
    """

    link: int
    target_kind: TargetKind
    target: str
    direction: Dir
    credit: int
    type_name: str | None


@dataclass(frozen=True, slots=True)
class OpenOk:
    """Exporter → importer: the link is open; ``credit`` is granted for ``Dir.SEND``."""

    link: int
    peer_link: int
    credit: int


@dataclass(frozen=True, slots=True)
class OpenErr:
    """Exporter → importer: the link could not be opened."""

    link: int
    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Credit:
    """Receiver of values → sender: ``n`` more values may be sent on ``link``."""

    link: int
    n: int


@dataclass(frozen=True, slots=True)
class Close:
    """The receiving side of a link closed it (no more values wanted).

    ``forwards`` counts references to the link's target that the closing side passed on
    inside values (the owner's reference count, docs/protocol.md "References").
    """

    link: int
    forwards: int


@dataclass(frozen=True, slots=True)
class Error:
    """The link failed on the sender's side (its channel broke, or a protocol violation)."""

    link: int
    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Reject:
    """One value on ``link`` was refused (undecodable, wrong type); informational."""

    link: int
    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class ListExports:
    """Any peer → a node: which channels do you export by name? Answered by :class:`Exports`."""

    request: int


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One named export: ``direction`` is what an importer does (``Dir.SEND``: it sends)."""

    name: str
    direction: Dir
    type_name: str | None


@dataclass(frozen=True, slots=True)
class Exports:
    """The answer to :class:`ListExports`: the node's named exports, sorted by name.

    ``complete`` is false when the list was cut to fit in one control message.
    """

    request: int
    entries: tuple[ExportEntry, ...]
    complete: bool


Control = Hello | Open | OpenOk | OpenErr | Credit | Close | Error | Reject | ListExports | Exports


def exports_answer(request: int, entries: list[ExportEntry]) -> Exports:
    """The :class:`Exports` answer, cut (``complete=False``) to fit ``MAX_CONTROL_SIZE``."""
    entries = sorted(entries, key=lambda e: e.name)
    kept: list[ExportEntry] = []
    size = 64  # the array, type, request, flag
    for entry in entries:
        size += len(_pack([entry.name, int(entry.direction), entry.type_name]))
        if size > MAX_CONTROL_SIZE:
            break
        kept.append(entry)
    return Exports(request, tuple(kept), len(kept) == len(entries))


def _pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def encode_control(msg: Control) -> bytes:
    """Serialize a control message (a msgpack array whose first item is its :class:`Ctl`)."""
    if isinstance(msg, Hello):
        return _pack([Ctl.HELLO, msg.version, msg.node_id, msg.address])
    if isinstance(msg, Open):
        return _pack(
            [
                Ctl.OPEN,
                msg.link,
                int(msg.target_kind),
                msg.target,
                int(msg.direction),
                msg.credit,
                msg.type_name,
            ]
        )
    if isinstance(msg, OpenOk):
        return _pack([Ctl.OPEN_OK, msg.link, msg.peer_link, msg.credit])
    if isinstance(msg, OpenErr):
        return _pack([Ctl.OPEN_ERR, msg.link, int(msg.code), msg.message])
    if isinstance(msg, Credit):
        return _pack([Ctl.CREDIT, msg.link, msg.n])
    if isinstance(msg, Close):
        return _pack([Ctl.CLOSE, msg.link, msg.forwards])
    if isinstance(msg, Error):
        return _pack([Ctl.ERROR, msg.link, int(msg.code), msg.message])
    if isinstance(msg, ListExports):
        return _pack([Ctl.LIST, msg.request])
    if isinstance(msg, Exports):
        entries = [[e.name, int(e.direction), e.type_name] for e in msg.entries]
        return _pack([Ctl.EXPORTS, msg.request, entries, msg.complete])
    return _pack([Ctl.REJECT, msg.link, int(msg.code), msg.message])


def _u32(value: object, what: str) -> int:
    if type(value) is not int or not 0 <= value <= 0xFFFFFFFF:
        raise ProtocolError("malformed_control", f"{what} must be a u32, got {value!r}")
    return value


def _str(value: object, what: str, *, optional: bool = False, limit: int = 4096) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError("malformed_control", f"{what} must be a string, got {value!r:.80}")
    return value


def _code(value: object) -> ErrorCode:
    return _ERROR_CODES.get(_u32(value, "error code"), ErrorCode.PROTOCOL)


# Members by value, for decoding: ``Ctl(x)`` runs the enum machinery's Python code (a few
# microseconds per call, several calls per message); a dict lookup is one C call. The decode
# of every control message and frame goes through these.
_CTLS: dict[int, Ctl] = {int(m): m for m in Ctl}
_FRAMES: dict[int, Frame] = {int(m): m for m in Frame}
DIRS: dict[int, Dir] = {int(m): m for m in Dir}
TARGET_KINDS: dict[int, TargetKind] = {int(m): m for m in TargetKind}
_ERROR_CODES: dict[int, ErrorCode] = {int(m): m for m in ErrorCode}
# Fewest items of each control message (later versions may append fields).
_SHAPES: dict[Ctl, int] = {
    Ctl.HELLO: 4,
    Ctl.OPEN: 7,
    Ctl.OPEN_OK: 4,
    Ctl.OPEN_ERR: 4,
    Ctl.CREDIT: 3,
    Ctl.CLOSE: 3,
    Ctl.ERROR: 4,
    Ctl.REJECT: 4,
    Ctl.LIST: 2,
    Ctl.EXPORTS: 4,
}


def decode_control(data: bytes) -> Control:
    """Parse a control message; raises :class:`ProtocolError` on anything malformed."""
    if len(data) > MAX_CONTROL_SIZE:
        raise ProtocolError("oversize_control", f"control message of {len(data)} bytes")
    try:
        items = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises many types; all mean "malformed"
        raise ProtocolError("malformed_control", f"undecodable control message: {exc}") from None
    if not isinstance(items, list) or not items or type(items[0]) is not int:
        raise ProtocolError("malformed_control", "control message is not [type, ...]")
    kind = _CTLS.get(items[0])
    if kind is None:
        raise ProtocolError("unknown_control", f"unknown control type {items[0]}")
    # Later versions may append fields: accept longer arrays, refuse shorter ones.
    if len(items) < _SHAPES[kind]:
        raise ProtocolError("malformed_control", f"{kind.name} has {len(items)} items")
    a = items
    if kind is Ctl.HELLO:
        if not isinstance(a[2], bytes) or not 8 <= len(a[2]) <= 64:
            raise ProtocolError("malformed_control", "HELLO node id must be 8..64 bytes")
        return Hello(_u32(a[1], "version"), a[2], _str(a[3], "address", optional=True))
    if kind is Ctl.OPEN:
        tkind = TARGET_KINDS.get(_u32(a[2], "target kind"))
        direction = DIRS.get(_u32(a[4], "direction"))
        if tkind is None or direction is None:
            raise ProtocolError("malformed_control", "OPEN with bad kind/direction")
        return Open(
            _u32(a[1], "link"),
            tkind,
            _str(a[3], "target"),
            direction,
            _u32(a[5], "credit"),
            _str(a[6], "type name", optional=True),
        )
    if kind is Ctl.OPEN_OK:
        return OpenOk(_u32(a[1], "link"), _u32(a[2], "peer link"), _u32(a[3], "credit"))
    if kind is Ctl.OPEN_ERR:
        return OpenErr(_u32(a[1], "link"), _code(a[2]), _str(a[3], "message"))
    if kind is Ctl.CREDIT:
        return Credit(_u32(a[1], "link"), _u32(a[2], "credit"))
    if kind is Ctl.CLOSE:
        return Close(_u32(a[1], "link"), _u32(a[2], "forwards"))
    if kind is Ctl.ERROR:
        return Error(_u32(a[1], "link"), _code(a[2]), _str(a[3], "message"))
    if kind is Ctl.LIST:
        return ListExports(_u32(a[1], "request"))
    if kind is Ctl.EXPORTS:
        return Exports(_u32(a[1], "request"), _entries(a[2]), a[3] is not False)
    return Reject(_u32(a[1], "link"), _code(a[2]), _str(a[3], "message"))


def frame_header(kind: Frame, link: int) -> bytes:
    """The 5 bytes in front of a frame's payload."""
    return _FRAME_HEADER.pack(kind, link)


def _entries(value: object) -> tuple[ExportEntry, ...]:
    if not isinstance(value, list):
        raise ProtocolError("malformed_control", "EXPORTS entries must be an array")
    entries = []
    for item in value:
        if not isinstance(item, list) or len(item) < 3:
            raise ProtocolError("malformed_control", "an EXPORTS entry is [name, dir, type]")
        direction = DIRS.get(_u32(item[1], "direction"))
        if direction is None:
            raise ProtocolError("malformed_control", "EXPORTS entry with a bad direction")
        entries.append(
            ExportEntry(_str(item[0], "name"), direction, _str(item[2], "type", optional=True))
        )
    return tuple(entries)


def encode_frame(kind: Frame, link: int, payload: bytes = b"") -> bytes:
    """A value frame: kind, the *receiver's* link id, then the payload."""
    return _FRAME_HEADER.pack(kind, link) + payload


def encode_early(link: int, inner: Frame, payload: bytes | memoryview = b"") -> bytes:
    """An EARLY frame: ``inner`` of the link the sender calls ``link``, still opening."""
    return b"".join((_FRAME_HEADER.pack(Frame.EARLY, link), bytes((inner,)), payload))


def decode_early(payload: memoryview) -> tuple[Frame, memoryview]:
    """The inner frame kind and payload of an EARLY frame; :class:`ProtocolError` if bad."""
    if len(payload) < 1 or payload[0] not in EARLY_INNER:
        raise ProtocolError("malformed_frame", "EARLY frame without a value, MORE, BATCH or END")
    return _FRAMES[payload[0]], payload[1:]


def frame_end(link: int, forwards: int) -> bytes:
    """The END frame: the sender closed; ``forwards`` as in :class:`Close`."""
    return encode_frame(Frame.END, link, struct.pack(">I", forwards))


def decode_frame(data: bytes) -> tuple[Frame, int, memoryview]:
    """Split a value frame; raises :class:`ProtocolError` when malformed."""
    if len(data) < FRAME_HEADER_SIZE:
        raise ProtocolError("malformed_frame", f"value frame of {len(data)} bytes")
    kind, link = _FRAME_HEADER.unpack_from(data)
    frame = _FRAMES.get(kind)
    if frame is None:
        raise ProtocolError("malformed_frame", f"unknown frame kind {kind}")
    return frame, link, memoryview(data)[FRAME_HEADER_SIZE:]


def encode_batch(link: int, payloads: list[bytes]) -> bytes:
    """A BATCH frame carrying ``payloads`` (codec bytes of whole values) in order."""
    parts: list[bytes] = [_FRAME_HEADER.pack(Frame.BATCH, link)]
    pack = _U32.pack
    for payload in payloads:
        parts.append(pack(len(payload)))
        parts.append(payload)
    return b"".join(parts)


def decode_batch(payload: memoryview) -> list[memoryview]:
    """The values of a BATCH frame's payload; raises :class:`ProtocolError` when malformed.

    The whole frame is checked before any value is taken, so a malformed batch is refused
    as one (nothing of it is delivered) rather than cut off in the middle.
    """
    items: list[memoryview] = []
    offset = 0
    end = len(payload)
    unpack = _U32.unpack_from
    while offset < end:
        if end - offset < 4:
            raise ProtocolError("malformed_frame", "BATCH with a truncated length")
        (size,) = unpack(payload, offset)
        offset += 4
        if size > end - offset:
            raise ProtocolError("malformed_frame", "BATCH item longer than the frame")
        items.append(payload[offset : offset + size])
        offset += size
    if not items:
        raise ProtocolError("malformed_frame", "empty BATCH")
    return items


def end_forwards(payload: memoryview) -> int:
    """The ``forwards`` count of an END frame's payload (0 if absent)."""
    if len(payload) < 4:
        return 0
    return int(struct.unpack_from(">I", payload)[0])
