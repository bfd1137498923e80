"""Options of the ``sctp://`` backend (:class:`KernelOptions`), checked when an endpoint opens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .._common import check_option_names
from . import _auth


@dataclass(frozen=True, slots=True)
class KernelOptions:
    """Knobs of the ``sctp://`` backend (keyword options of ``open_endpoint``).

    Names match :class:`netchan.transport.sctp.Options` where the meaning is the same, so the
    common ones can be given to either backend. Times are seconds, sizes bytes.

    Attributes:
        outbound_streams, inbound_streams: streams offered in INIT (SCTP_INITMSG). The kernel
            preallocates per-stream state for every association, so the default is 4096
            rather than the protocol's 65535 (a few hundred kilobytes of kernel memory per
            association instead of several megabytes). Up to 65535.
        max_init_retransmits: INIT retransmissions before giving up (RFC Max.Init.Retransmits).
        rto_initial, rto_min, rto_max: RTO bounds (SCTP_RTOINFO), LAN defaults as the
            userspace stack's.
        association_max_retransmissions: Association.Max.Retrans (SCTP_ASSOCINFO). With
            ``rto_max`` 1 s and 10: a 5 s outage with data in flight is
            survived (T3-rtx from a LAN RTO retransmits until 7.5 s into the silence) and a
            silent peer is dead within 8.5 s (11 s whatever the RTO). Idle, Linux probes
            every RTO jittered by +-50% once a heartbeat goes unanswered (its single path is
            Potentially Failed at once, ``pf_retrans`` 0): about 6.75 s of silence is
            survived on average but only about 3.5 s with the shortest jitter, and the peer
            is dead within about 12.7 s from a LAN RTO (docs/kernel.md).
        heartbeat_interval: HB.interval (SCTP_PEER_ADDR_PARAMS); 0 keeps the kernel's.
        delayed_ack_timeout, delayed_ack_packets: how late our SACKs may be (SCTP_DELAYED_SACK,
            RFC 9260 §6.2). The LAN default of 20 ms (Linux: 200 ms) keeps peers whose
            ``rto_min`` is 100 ms, like the userspace stack's, from timing out spuriously.
        send_buffer: SO_SNDBUF requested; Linux doubles it and caps the request at
            ``net.core.wmem_max`` (unless the process may use SO_SNDBUFFORCE). The kernel
            refuses messages larger than the send buffer.
        receive_window: SO_RCVBUF requested, and the bound on bytes of complete messages
            queued for the application before the reader stops reading.
        max_message_size: largest message accepted by ``send`` and for reassembly.
        nodelay: SCTP_NODELAY (no Nagle-like bundling delay).
        udp_encapsulation_port: if set, speak SCTP over UDP (RFC 6951) to this remote UDP
            port (SCTP_REMOTE_UDP_ENCAPS_PORT; needs ``net.sctp.udp_port`` set on Linux).
        recv_chunk: bytes read per ``recvmsg``; larger messages arrive in pieces.
        auth_keys, auth_active_key: SCTP-AUTH (RFC 4895) shared keys by identifier and the
            one to sign with, as for ``udp://`` (``kernel/_auth.py``, docs/security.md): the
            endpoint then requires AUTH from every peer. None: no authentication.
    """

    outbound_streams: int = 4096
    inbound_streams: int = 4096
    max_init_retransmits: int = 8
    rto_initial: float = 0.5
    rto_min: float = 0.1
    rto_max: float = 1.0
    association_max_retransmissions: int = 10
    heartbeat_interval: float = 1.0
    delayed_ack_timeout: float = 0.02
    delayed_ack_packets: int = 2
    send_buffer: int = 4 * 1024 * 1024
    receive_window: int = 4 * 1024 * 1024
    max_message_size: int = 256 * 1024 * 1024
    nodelay: bool = True
    udp_encapsulation_port: int | None = None
    recv_chunk: int = 256 * 1024
    auth_keys: Mapping[int, bytes] | None = None
    auth_active_key: int | None = None

    def __post_init__(self) -> None:
        _auth.check_options(self.auth_keys, self.auth_active_key)
        if not 1 <= self.outbound_streams <= 65535 or not 1 <= self.inbound_streams <= 65535:
            raise ValueError("stream counts must be in 1..65535")
        if not 0 < self.rto_min <= self.rto_initial <= self.rto_max:
            raise ValueError("need 0 < rto_min <= rto_initial <= rto_max")
        if self.send_buffer < 4096 or self.receive_window < 4096:
            raise ValueError("send_buffer and receive_window must be at least 4096")
        if self.recv_chunk < 1024:
            raise ValueError("recv_chunk must be at least 1024")
        if self.max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        if not 0 < self.delayed_ack_timeout <= 0.5 or self.delayed_ack_packets < 1:
            raise ValueError("need 0 < delayed_ack_timeout <= 0.5 s and delayed_ack_packets >= 1")


def _options(options: dict[str, Any]) -> KernelOptions:
    check_option_names("sctp", options, [f.name for f in fields(KernelOptions)])
    return KernelOptions(**options)
