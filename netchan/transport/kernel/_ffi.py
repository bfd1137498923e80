"""cffi (ABI mode) declarations of the SCTP sockets API structures and the libc calls we use.

ABI mode: the structures are declared here as in ``<linux/sctp.h>`` and ``<sys/socket.h>`` and
cffi computes their layout with the platform's C rules; the functions come from the already
loaded C library (``ffi.dlopen(None)``). Nothing is compiled at install time and no byte offset
is written by hand. ``check_layouts()`` compares the computed sizes with the ones measured with
a C compiler on Linux 6.1 / x86_64 (the host tests call it, so a bad declaration fails loudly).

The declarations are Linux's (glibc ``msghdr``, sockaddrs without ``sin_len``). FreeBSD differs
and is not declared yet; see ``_platform.py``.
"""

from __future__ import annotations

from typing import Any

import cffi

ffi = cffi.FFI()

ffi.cdef(
    """
    typedef int32_t sctp_assoc_t;

    struct iovec { void *iov_base; size_t iov_len; };
    struct msghdr {
        void *msg_name;
        unsigned int msg_namelen;
        struct iovec *msg_iov;
        size_t msg_iovlen;
        void *msg_control;
        size_t msg_controllen;
        int msg_flags;
    };
    struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; };

    struct sockaddr { uint16_t sa_family; char sa_data[14]; };
    struct in_addr { uint32_t s_addr; };
    struct sockaddr_in {
        uint16_t sin_family; uint16_t sin_port; struct in_addr sin_addr;
        unsigned char sin_zero[8];
    };
    struct in6_addr { unsigned char s6_addr[16]; };
    struct sockaddr_in6 {
        uint16_t sin6_family; uint16_t sin6_port; uint32_t sin6_flowinfo;
        struct in6_addr sin6_addr; uint32_t sin6_scope_id;
    };
    struct sockaddr_storage {
        uint16_t ss_family; char ss_padding[118]; unsigned long ss_align;
    };

    struct sctp_initmsg {
        uint16_t sinit_num_ostreams; uint16_t sinit_max_instreams;
        uint16_t sinit_max_attempts; uint16_t sinit_max_init_timeo;
    };
    struct sctp_sndrcvinfo {
        uint16_t sinfo_stream; uint16_t sinfo_ssn; uint16_t sinfo_flags;
        uint32_t sinfo_ppid; uint32_t sinfo_context; uint32_t sinfo_timetolive;
        uint32_t sinfo_tsn; uint32_t sinfo_cumtsn; sctp_assoc_t sinfo_assoc_id;
    };
    struct sctp_sndinfo {
        uint16_t snd_sid; uint16_t snd_flags; uint32_t snd_ppid; uint32_t snd_context;
        sctp_assoc_t snd_assoc_id;
    };
    struct sctp_rcvinfo {
        uint16_t rcv_sid; uint16_t rcv_ssn; uint16_t rcv_flags; uint32_t rcv_ppid;
        uint32_t rcv_tsn; uint32_t rcv_cumtsn; uint32_t rcv_context;
        sctp_assoc_t rcv_assoc_id;
    };
    struct sctp_event { sctp_assoc_t se_assoc_id; uint16_t se_type; uint8_t se_on; };

    struct sctp_notification_header {
        uint16_t sn_type; uint16_t sn_flags; uint32_t sn_length;
    };
    struct sctp_assoc_change {
        uint16_t sac_type; uint16_t sac_flags; uint32_t sac_length; uint16_t sac_state;
        uint16_t sac_error; uint16_t sac_outbound_streams; uint16_t sac_inbound_streams;
        sctp_assoc_t sac_assoc_id;
    };
    struct sctp_shutdown_event {
        uint16_t sse_type; uint16_t sse_flags; uint32_t sse_length;
        sctp_assoc_t sse_assoc_id;
    };
    struct sctp_send_failed_event {
        uint16_t ssf_type; uint16_t ssf_flags; uint32_t ssf_length; uint32_t ssf_error;
        struct sctp_sndinfo ssfe_info; sctp_assoc_t ssf_assoc_id;
    };
    struct sctp_remote_error {
        uint16_t sre_type; uint16_t sre_flags; uint32_t sre_length; uint16_t sre_error;
        sctp_assoc_t sre_assoc_id;
    };

    struct sctp_rtoinfo {
        sctp_assoc_t srto_assoc_id; uint32_t srto_initial; uint32_t srto_max;
        uint32_t srto_min;
    };
    struct sctp_assocparams {
        sctp_assoc_t sasoc_assoc_id; uint16_t sasoc_asocmaxrxt;
        uint16_t sasoc_number_peer_destinations; uint32_t sasoc_peer_rwnd;
        uint32_t sasoc_local_rwnd; uint32_t sasoc_cookie_life;
    };
    struct sctp_assoc_value { sctp_assoc_t assoc_id; uint32_t assoc_value; };
    struct sctp_sack_info { sctp_assoc_t sack_assoc_id; uint32_t sack_delay; uint32_t sack_freq; };
    struct sctp_getaddrs_old { sctp_assoc_t assoc_id; int addr_num; struct sockaddr *addrs; };
    struct sctp_getaddrs { sctp_assoc_t assoc_id; uint32_t addr_num; };
    struct sctp_assoc_stats {
        sctp_assoc_t sas_assoc_id; struct sockaddr_storage sas_obs_rto_ipaddr;
        uint64_t sas_maxrto; uint64_t sas_isacks; uint64_t sas_osacks;
        uint64_t sas_opackets; uint64_t sas_ipackets; uint64_t sas_rtxchunks;
        uint64_t sas_outofseqtsns; uint64_t sas_idupchunks; uint64_t sas_gapcnt;
        uint64_t sas_ouodchunks; uint64_t sas_iuodchunks; uint64_t sas_oodchunks;
        uint64_t sas_iodchunks; uint64_t sas_octrlchunks; uint64_t sas_ictrlchunks;
    };
    struct sctp_udpencaps {
        sctp_assoc_t sue_assoc_id; struct sockaddr_storage sue_address; uint16_t sue_port;
    };

    ssize_t sendmsg(int sockfd, const struct msghdr *msg, int flags);
    ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags);
    int setsockopt(int sockfd, int level, int optname, const void *optval,
                   unsigned int optlen);
    int getsockopt(int sockfd, int level, int optname, void *optval, unsigned int *optlen);
    """
)

# The kernel declares these __attribute__((packed, aligned(4))): a sockaddr_storage right
# after a 4-byte field, no padding.
ffi.cdef(
    """
    struct sctp_paddrinfo {
        sctp_assoc_t spinfo_assoc_id; struct sockaddr_storage spinfo_address;
        int32_t spinfo_state; uint32_t spinfo_cwnd; uint32_t spinfo_srtt;
        uint32_t spinfo_rto; uint32_t spinfo_mtu;
    };
    struct sctp_paddr_change {
        uint16_t spc_type; uint16_t spc_flags; uint32_t spc_length;
        struct sockaddr_storage spc_aaddr; int spc_state; int spc_error;
        sctp_assoc_t spc_assoc_id;
    };
    struct sctp_prim {
        sctp_assoc_t ssp_assoc_id; struct sockaddr_storage ssp_addr;
    };
    struct sctp_paddrparams {
        sctp_assoc_t spp_assoc_id; struct sockaddr_storage spp_address;
        uint32_t spp_hbinterval; uint16_t spp_pathmaxrxt; uint32_t spp_pathmtu;
        uint32_t spp_sackdelay; uint32_t spp_flags; uint32_t spp_ipv6_flowlabel;
        uint8_t spp_dscp;
    };
    """,
    packed=True,
)

ffi.cdef(
    """
    struct sctp_status {
        sctp_assoc_t sstat_assoc_id; int32_t sstat_state; uint32_t sstat_rwnd;
        uint16_t sstat_unackdata; uint16_t sstat_penddata; uint16_t sstat_instrms;
        uint16_t sstat_outstrms; uint32_t sstat_fragmentation_point;
        struct sctp_paddrinfo sstat_primary;
    };
    """
)

#: Sizes measured with gcc on Linux 6.1 / x86_64 (see docs/kernel.md).
EXPECTED_SIZES_LINUX_X86_64 = {
    "struct sctp_initmsg": 8,
    "struct sctp_sndinfo": 16,
    "struct sctp_rcvinfo": 28,
    "struct sctp_sndrcvinfo": 32,
    "struct sctp_event": 8,
    "struct sctp_sack_info": 12,
    "struct sctp_assoc_change": 20,
    "struct sctp_paddrinfo": 152,
    "struct sctp_status": 176,
    "struct sctp_paddr_change": 148,
    "struct sctp_prim": 132,
    # 156 in C: aligned(4) pads the packed 155 bytes. We pass the 152-byte "old" length,
    # which the kernel accepts (see _socket.py).
    "struct sctp_paddrparams": 155,
    "struct sctp_udpencaps": 144,
    "struct sctp_assoc_stats": 256,
    "struct sctp_send_failed_event": 32,
    "struct sctp_shutdown_event": 12,
    "struct sctp_getaddrs_old": 16,
    "struct sockaddr_storage": 128,
    "struct sockaddr_in": 16,
    "struct sockaddr_in6": 28,
    "struct msghdr": 56,
    "struct cmsghdr": 16,
}


def check_layouts() -> dict[str, tuple[int, int]]:
    """Compare cffi's computed struct sizes with the measured ones; returns the mismatches."""
    bad: dict[str, tuple[int, int]] = {}
    for name, size in EXPECTED_SIZES_LINUX_X86_64.items():
        got = ffi.sizeof(name)
        if got != size:
            bad[name] = (got, size)
    return bad


_lib: Any = None


def lib() -> Any:
    """The C library (loaded on first use, so importing this module never touches libc)."""
    global _lib
    if _lib is None:
        _lib = ffi.dlopen(None)
    return _lib


def cmsg_align(n: int) -> int:
    """CMSG_ALIGN: control data is aligned to ``size_t`` (as glibc's <bits/socket.h>)."""
    a = int(ffi.sizeof("size_t"))
    return (n + a - 1) & ~(a - 1)


def cmsg_space(n: int) -> int:
    """CMSG_SPACE(n): bytes one control message with ``n`` data bytes takes in the buffer."""
    return cmsg_align(ffi.sizeof("struct cmsghdr")) + cmsg_align(n)


def cmsg_len(n: int) -> int:
    """CMSG_LEN(n): the ``cmsg_len`` value of a control message with ``n`` data bytes."""
    return cmsg_align(ffi.sizeof("struct cmsghdr")) + n
