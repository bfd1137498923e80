"""SCTP notifications (RFC 6458 §6.1) decoded from the bytes ``recvmsg`` returns.

The kernel hands notifications in the data stream with MSG_NOTIFICATION set. Each is decoded
here into a small frozen record; the endpoint turns those into the API's association events.
Unknown or truncated notifications decode to None (they are counted, never raised).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ._ffi import ffi
from ._platform import SctpConstants
from ._socket import PeerAddr, SctpSocket


@dataclass(frozen=True, slots=True)
class AssocChange:
    """SCTP_ASSOC_CHANGE: COMM_UP, COMM_LOST, RESTART, SHUTDOWN_COMP or CANT_STR_ASSOC."""

    assoc_id: int
    state: int
    error: int
    outbound_streams: int
    inbound_streams: int
    abort_causes: bytes | None  # the peer's ABORT chunk, when it sent one


@dataclass(frozen=True, slots=True)
class PeerAddrChange:
    """SCTP_PEER_ADDR_CHANGE: a peer transport address changed state (RFC 9260 §8.2)."""

    assoc_id: int
    address: PeerAddr | None
    state: int
    error: int


@dataclass(frozen=True, slots=True)
class ShutdownEvent:
    """SCTP_SHUTDOWN_EVENT: the peer sent SHUTDOWN; it will send no more data."""

    assoc_id: int


@dataclass(frozen=True, slots=True)
class SendFailed:
    """SCTP_SEND_FAILED_EVENT: a message could not be (fully) delivered."""

    assoc_id: int
    error: int
    stream: int


@dataclass(frozen=True, slots=True)
class Other:
    """A notification we subscribed to but only count (remote error, partial delivery...)."""

    assoc_id: int
    type: int


Notification = AssocChange | PeerAddrChange | ShutdownEvent | SendFailed | Other


def _view(data: bytes, ctype: str) -> Any:
    if len(data) < ffi.sizeof(ctype):
        return None
    return ffi.cast(ctype + " *", ffi.from_buffer(data))


def decode(data: bytes, c: SctpConstants) -> Notification | None:
    """Decode one complete notification; None if too short or of an unknown type."""
    head = _view(data, "struct sctp_notification_header")
    if head is None:
        return None
    kind = head.sn_type
    if kind == c.sctp_assoc_change:
        v = _view(data, "struct sctp_assoc_change")
        if v is None:
            return None
        size = ffi.sizeof("struct sctp_assoc_change")
        info = data[size : v.sac_length] if v.sac_length > size else None
        return AssocChange(
            assoc_id=v.sac_assoc_id,
            state=v.sac_state,
            error=v.sac_error,
            outbound_streams=v.sac_outbound_streams,
            inbound_streams=v.sac_inbound_streams,
            abort_causes=info,
        )
    if kind == c.sctp_peer_addr_change:
        v = _view(data, "struct sctp_paddr_change")
        if v is None:
            return None
        return PeerAddrChange(
            assoc_id=v.spc_assoc_id,
            address=SctpSocket.decode_sockaddr(ffi.addressof(v.spc_aaddr)),
            state=v.spc_state,
            error=v.spc_error,
        )
    if kind == c.sctp_shutdown_event:
        v = _view(data, "struct sctp_shutdown_event")
        return None if v is None else ShutdownEvent(v.sse_assoc_id)
    if kind == c.sctp_send_failed_event:
        v = _view(data, "struct sctp_send_failed_event")
        if v is None:
            return None
        return SendFailed(v.ssf_assoc_id, v.ssf_error, v.ssfe_info.snd_sid)
    if kind == c.sctp_remote_error:
        v = _view(data, "struct sctp_remote_error")
        return None if v is None else Other(v.sre_assoc_id, kind)
    if kind == c.sctp_partial_delivery_event:
        # struct sctp_pdapi_event: type, flags, length, indication, assoc_id, stream, seq
        if len(data) < 16:
            return None
        return Other(ffi.cast("sctp_assoc_t *", ffi.from_buffer(data[12:16]))[0], kind)
    return None


# RFC 9260 §3.3.10: error cause codes, for readable abort reasons.
_CAUSES = {
    1: "invalid stream identifier",
    2: "missing mandatory parameter",
    3: "stale cookie",
    4: "out of resource",
    5: "unresolvable address",
    6: "unrecognized chunk type",
    7: "invalid mandatory parameter",
    8: "unrecognized parameters",
    9: "no user data",
    10: "cookie received while shutting down",
    11: "restart with new addresses",
    12: "user-initiated abort",
    13: "protocol violation",
}


def abort_reason(causes: bytes) -> str:
    """A readable reason from the error causes of the peer's ABORT (RFC 9260 §3.3.7, §3.3.10).

    Linux puts the ABORT chunk's body (its causes, without the chunk header) after the
    sctp_assoc_change record. The bytes come from the peer, so they are parsed defensively:
    anything malformed just ends the parse.
    """
    end = len(causes)
    pos = 0
    parts: list[str] = []
    while pos + 4 <= end and len(parts) < 8:
        code, clen = struct.unpack_from("!HH", causes, pos)
        if clen < 4:
            break
        body = causes[pos + 4 : min(pos + clen, end)]
        text = _CAUSES.get(code, f"cause {code}")
        if code in (12, 13) and body:
            text += ": " + body.decode("utf-8", "replace")
        parts.append(text)
        pos += (clen + 3) & ~3
    return "peer sent ABORT" + (": " + "; ".join(parts) if parts else "")
