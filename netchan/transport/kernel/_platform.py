"""The one table of operating-system SCTP constants (RFC 6458 sockets API numbers).

Every number the kernel backend passes to the OS lives here, per platform, so porting means
filling in one table. Linux values are from ``<linux/sctp.h>`` (Linux 6.1, verified at run time
in the SCTP test VM). FreeBSD values are from ``<netinet/sctp.h>`` / ``<netinet/sctp_uio.h>``;
they are prepared but **untested**: FreeBSD's structures also differ (``sin_len`` in socket
addresses, extra key-number fields in the send/receive info structures), so the backend refuses
to start there until those layouts are ported and tested (see ``docs/kernel.md``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SctpConstants:
    """SCTP socket API numbers of one operating system.

    Attributes are named as in RFC 6458 and the system headers (lower-cased).
    """

    name: str
    ipproto_sctp: int
    # socket options (level IPPROTO_SCTP)
    sctp_rtoinfo: int
    sctp_associnfo: int
    sctp_initmsg: int
    sctp_nodelay: int
    sctp_peer_addr_params: int
    sctp_delayed_sack: int
    sctp_status: int
    sctp_get_peer_addr_info: int
    sctp_fragment_interleave: int
    sctp_recvrcvinfo: int
    sctp_event: int
    sctp_remote_udp_encaps_port: int
    sctp_bindx_add: int
    sctp_connectx: int  # Linux: SCTP_SOCKOPT_CONNECTX3 (getsockopt); FreeBSD: SCTP_CONNECT_X
    sctp_get_peer_addrs: int
    sctp_primary_addr: int
    sctp_get_assoc_stats: int | None  # Linux only
    # cmsg types
    cmsg_sndinfo: int
    cmsg_rcvinfo: int
    cmsg_sndrcv: int
    # recvmsg flags
    msg_notification: int
    msg_eor: int
    # send flags (snd_flags)
    sctp_unordered: int
    sctp_abort: int
    sctp_eof: int
    # notification types
    sctp_assoc_change: int
    sctp_peer_addr_change: int
    sctp_send_failed: int
    sctp_remote_error: int
    sctp_shutdown_event: int
    sctp_partial_delivery_event: int
    sctp_send_failed_event: int
    # sctp_assoc_change.sac_state
    sctp_comm_up: int
    sctp_comm_lost: int
    sctp_restart: int
    sctp_shutdown_comp: int
    sctp_cant_str_assoc: int
    # sctp_paddr_change.spc_state -> endpoint API state names
    addr_states: dict[int, str]
    # association ids of the "apply to" kind
    sctp_future_assoc: int
    sctp_current_assoc: int
    sctp_all_assoc: int
    # SCTP_PEER_ADDR_PARAMS flags
    spp_hb_enable: int


LINUX = SctpConstants(
    name="Linux",
    ipproto_sctp=132,
    sctp_rtoinfo=0,
    sctp_associnfo=1,
    sctp_initmsg=2,
    sctp_nodelay=3,
    sctp_peer_addr_params=9,
    sctp_delayed_sack=16,
    sctp_status=14,
    sctp_get_peer_addr_info=15,
    sctp_fragment_interleave=18,
    sctp_recvrcvinfo=32,
    sctp_event=127,
    sctp_remote_udp_encaps_port=132,
    sctp_bindx_add=100,
    sctp_connectx=111,
    sctp_get_peer_addrs=108,
    sctp_primary_addr=6,
    sctp_get_assoc_stats=112,
    cmsg_sndinfo=2,
    cmsg_rcvinfo=3,
    cmsg_sndrcv=1,
    msg_notification=0x8000,
    msg_eor=0x80,
    sctp_unordered=0x1,
    sctp_abort=0x4,
    sctp_eof=0x200,  # MSG_FIN
    sctp_assoc_change=0x8001,
    sctp_peer_addr_change=0x8002,
    sctp_send_failed=0x8003,
    sctp_remote_error=0x8004,
    sctp_shutdown_event=0x8005,
    sctp_partial_delivery_event=0x8006,
    sctp_send_failed_event=0x800D,
    sctp_comm_up=0,
    sctp_comm_lost=1,
    sctp_restart=2,
    sctp_shutdown_comp=3,
    sctp_cant_str_assoc=4,
    addr_states={
        0: "available",
        1: "unreachable",
        2: "removed",
        3: "added",
        4: "primary",
        5: "confirmed",  # SCTP_ADDR_CONFIRMED: the address answered a HEARTBEAT
        6: "potentially_failed",  # SCTP_ADDR_POTENTIALLY_FAILED (RFC 7829)
    },
    sctp_future_assoc=0,
    sctp_current_assoc=1,
    sctp_all_assoc=2,
    spp_hb_enable=1,
)

# Untested: values from FreeBSD's headers, kept so a port only has to add struct layouts.
FREEBSD = SctpConstants(
    name="FreeBSD",
    ipproto_sctp=132,
    sctp_rtoinfo=0x01,
    sctp_associnfo=0x02,
    sctp_initmsg=0x03,
    sctp_nodelay=0x04,
    sctp_peer_addr_params=0x0A,
    sctp_delayed_sack=0x0F,
    sctp_status=0x100,
    sctp_get_peer_addr_info=0x101,
    sctp_fragment_interleave=0x10,
    sctp_recvrcvinfo=0x1F,
    sctp_event=0x1E,
    sctp_remote_udp_encaps_port=0x24,
    sctp_bindx_add=0x8001,
    sctp_connectx=0x8007,
    sctp_get_peer_addrs=0x8003,
    sctp_primary_addr=0x07,
    sctp_get_assoc_stats=None,
    cmsg_sndinfo=0x04,
    cmsg_rcvinfo=0x05,
    cmsg_sndrcv=0x02,
    msg_notification=0x2000,
    msg_eor=0x8,
    sctp_unordered=0x0400,
    sctp_abort=0x0200,
    sctp_eof=0x0100,
    sctp_assoc_change=0x0001,
    sctp_peer_addr_change=0x0002,
    sctp_send_failed=0x0004,
    sctp_remote_error=0x0003,
    sctp_shutdown_event=0x0005,
    sctp_partial_delivery_event=0x0007,
    sctp_send_failed_event=0x000E,
    sctp_comm_up=1,
    sctp_comm_lost=2,
    sctp_restart=3,
    sctp_shutdown_comp=4,
    sctp_cant_str_assoc=5,
    addr_states={
        1: "available",
        2: "unreachable",
        3: "removed",
        4: "added",
        5: "primary",
        6: "confirmed",
    },
    sctp_future_assoc=0,
    sctp_current_assoc=1,
    sctp_all_assoc=2,
    spp_hb_enable=0x01,
)

#: The platforms whose struct layouts are implemented and tested (see ``_ffi.py``).
SUPPORTED = {"linux": LINUX}
PREPARED = {"freebsd": FREEBSD}


def current() -> SctpConstants | None:
    """The constants of the running OS, or None where the backend is not ported."""
    for prefix, table in SUPPORTED.items():
        if sys.platform.startswith(prefix):
            return table
    return None
