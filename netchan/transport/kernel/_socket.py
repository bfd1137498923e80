"""A thin, synchronous, non-blocking wrapper of one SCTP one-to-many socket (RFC 6458).

Everything that touches the C structures is here: socket options, ``sendmsg`` with an
``SCTP_SNDINFO`` control message, ``recvmsg`` with ``SCTP_RCVINFO``, socket addresses. The trio
logic (``_endpoint.py``) sees Python values only. Calls never block: ``send`` raises
``BlockingIOError`` and ``receive`` returns None when the kernel says EAGAIN.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from dataclasses import dataclass
from typing import Any

from ..errors import SCTPUnavailableError
from ._ffi import cmsg_align, cmsg_len, cmsg_space, ffi, lib
from ._platform import SctpConstants

PeerAddr = tuple[str, int]
"""An IP literal (IPv4 dotted or IPv6 without brackets) and a port."""

_NO_SCTP_ERRNOS = {
    errno.EPROTONOSUPPORT,
    errno.ESOCKTNOSUPPORT,
    errno.EAFNOSUPPORT,
    errno.EPFNOSUPPORT,
    errno.ENOPROTOOPT,
}


def _os_error(what: str) -> OSError:
    err = ffi.errno
    if err in (errno.EAGAIN, errno.EWOULDBLOCK):
        return BlockingIOError(err, f"{what}: {os.strerror(err)}")
    return OSError(err, f"{what}: {os.strerror(err)}")


@dataclass(frozen=True, slots=True)
class Received:
    """One ``recvmsg`` result: a piece of a message or of a notification.

    Attributes:
        data: the bytes read (a whole message only when ``eor``).
        eor: MSG_EOR was set: this piece ends the message / notification.
        notification: MSG_NOTIFICATION was set.
        stream, ppid, unordered, assoc_id: from the SCTP_RCVINFO control message (data only;
            ``ppid`` already converted from network byte order).
    """

    data: bytes
    eor: bool
    notification: bool
    stream: int = 0
    ppid: int = 0
    unordered: bool = False
    assoc_id: int = 0


@dataclass(frozen=True, slots=True)
class Status:
    """SCTP_STATUS and SCTP_GET_ASSOC_STATS of one association (times in seconds)."""

    state: int
    peer_rwnd: int
    unacked: int
    pending: int
    inbound_streams: int
    outbound_streams: int
    fragmentation_point: int
    cwnd: int
    srtt: float
    rto: float
    packets_sent: int
    packets_received: int
    retransmitted_chunks: int
    local_rwnd: int | None


class SctpSocket:
    """One non-blocking SCTP ``SOCK_SEQPACKET`` socket and the calls on it.

    Raises:
        SCTPUnavailableError: from the constructor when the OS has no SCTP.
    """

    def __init__(self, family: int, consts: SctpConstants, recv_size: int) -> None:
        self.consts = consts
        self.family = family
        try:
            self.sock = socket.socket(family, socket.SOCK_SEQPACKET, consts.ipproto_sctp)
        except OSError as exc:
            if exc.errno in _NO_SCTP_ERRNOS:
                raise SCTPUnavailableError(
                    f"this operating system has no SCTP ({exc.strerror}): sctp:// cannot "
                    "work here; use udp:// (netchan's userspace SCTP over UDP) instead"
                ) from exc
            raise
        self.sock.setblocking(False)
        self.fd = self.sock.fileno()
        self._lib = lib()
        # receive buffers, reused for every recvmsg
        self._recv_size = recv_size
        self._rbuf = ffi.new("char[]", recv_size)
        self._rname = ffi.new("struct sockaddr_storage *")
        self._rctl_size = 2 * cmsg_space(ffi.sizeof("struct sctp_sndrcvinfo"))
        self._rctl = ffi.new("char[]", self._rctl_size)
        self._riov = ffi.new("struct iovec *")
        self._riov.iov_base = self._rbuf
        self._riov.iov_len = recv_size
        self._rmsg = ffi.new("struct msghdr *")
        # send buffers
        self._sctl_size = cmsg_space(ffi.sizeof("struct sctp_sndinfo"))
        self._sctl = ffi.new("char[]", self._sctl_size)
        self._siov = ffi.new("struct iovec *")
        self._smsg = ffi.new("struct msghdr *")
        hdr = ffi.cast("struct cmsghdr *", self._sctl)
        hdr.cmsg_len = cmsg_len(ffi.sizeof("struct sctp_sndinfo"))
        hdr.cmsg_level = consts.ipproto_sctp
        hdr.cmsg_type = consts.cmsg_sndinfo
        self._sndinfo = ffi.cast(
            "struct sctp_sndinfo *", self._sctl + cmsg_align(ffi.sizeof("struct cmsghdr"))
        )

    # --- addresses --------------------------------------------------------------------------

    def sockaddr(self, addr: PeerAddr) -> tuple[Any, int]:
        """A C socket address for ``addr`` (IPv4 as sockaddr_in even on an IPv6 socket)."""
        host, port = addr
        ip = ipaddress.ip_address(host)
        if ip.version == 4:
            sin = ffi.new("struct sockaddr_in *")
            sin.sin_family = socket.AF_INET
            sin.sin_port = socket.htons(port)
            ffi.memmove(ffi.addressof(sin.sin_addr), ip.packed, 4)
            return sin, ffi.sizeof("struct sockaddr_in")
        sin6 = ffi.new("struct sockaddr_in6 *")
        sin6.sin6_family = socket.AF_INET6
        sin6.sin6_port = socket.htons(port)
        ffi.memmove(sin6.sin6_addr.s6_addr, ip.packed, 16)
        return sin6, ffi.sizeof("struct sockaddr_in6")

    def packed_sockaddrs(self, addrs: list[PeerAddr]) -> Any:
        """Socket addresses back to back, as bindx / connectx want them."""
        parts = [self.sockaddr(a) for a in addrs]
        total = sum(n for _, n in parts)
        buf = ffi.new("char[]", total)
        pos = 0
        for ptr, n in parts:
            ffi.memmove(buf + pos, ptr, n)
            pos += n
        return buf, total

    @staticmethod
    def decode_sockaddr(ptr: Any) -> PeerAddr | None:
        """(ip, port) of a C socket address; IPv4-mapped IPv6 becomes plain IPv4."""
        sa = ffi.cast("struct sockaddr *", ptr)
        if sa.sa_family == socket.AF_INET:
            sin = ffi.cast("struct sockaddr_in *", ptr)
            host = socket.inet_ntop(
                socket.AF_INET, bytes(ffi.buffer(ffi.addressof(sin.sin_addr), 4))
            )
            return host, socket.ntohs(sin.sin_port)
        if sa.sa_family == socket.AF_INET6:
            sin6 = ffi.cast("struct sockaddr_in6 *", ptr)
            ip6 = ipaddress.IPv6Address(bytes(ffi.buffer(sin6.sin6_addr.s6_addr, 16)))
            mapped = ip6.ipv4_mapped
            return (str(mapped) if mapped else str(ip6)), socket.ntohs(sin6.sin6_port)
        return None

    def _sockaddr_size(self, ptr: Any) -> int:
        sa = ffi.cast("struct sockaddr *", ptr)
        if sa.sa_family == socket.AF_INET:
            return int(ffi.sizeof("struct sockaddr_in"))
        if sa.sa_family == socket.AF_INET6:
            return int(ffi.sizeof("struct sockaddr_in6"))
        return 0

    # --- socket options ---------------------------------------------------------------------

    def setsockopt(self, opt: int, value: Any, size: int | None = None) -> None:
        """setsockopt(IPPROTO_SCTP, opt) with a cffi struct pointer or buffer."""
        n = ffi.sizeof(ffi.typeof(value).item) if size is None else size
        if self._lib.setsockopt(self.fd, self.consts.ipproto_sctp, opt, value, n) != 0:
            raise _os_error(f"setsockopt({opt})")

    def getsockopt(self, opt: int, value: Any, size: int | None = None) -> int:
        """getsockopt(IPPROTO_SCTP, opt) into ``value`` (which may carry input, e.g. assoc_id)."""
        optlen = ffi.new(
            "unsigned int *", ffi.sizeof(ffi.typeof(value).item) if size is None else size
        )
        if self._lib.getsockopt(self.fd, self.consts.ipproto_sctp, opt, value, optlen) != 0:
            raise _os_error(f"getsockopt({opt})")
        return int(optlen[0])

    def set_initmsg(self, ostreams: int, instreams: int, attempts: int, timeo_ms: int) -> None:
        """SCTP_INITMSG: streams we offer and INIT retransmissions (RFC 6458 §8.1.3)."""
        v = ffi.new("struct sctp_initmsg *")
        v.sinit_num_ostreams = ostreams
        v.sinit_max_instreams = instreams
        v.sinit_max_attempts = attempts
        v.sinit_max_init_timeo = timeo_ms
        self.setsockopt(self.consts.sctp_initmsg, v)

    def set_int(self, opt: int, value: int) -> None:
        """An ``int`` valued SCTP socket option."""
        self.setsockopt(opt, ffi.new("int *", value))

    def subscribe(self, event_type: int) -> None:
        """SCTP_EVENT: receive notifications of ``event_type`` (RFC 6458 §6.2.2)."""
        v = ffi.new("struct sctp_event *")
        v.se_assoc_id = self.consts.sctp_future_assoc
        v.se_type = event_type
        v.se_on = 1
        self.setsockopt(self.consts.sctp_event, v)

    def set_rtoinfo(self, initial: float, rto_max: float, rto_min: float) -> None:
        """SCTP_RTOINFO (RFC 6458 §8.1.1), times in seconds."""
        v = ffi.new("struct sctp_rtoinfo *")
        v.srto_assoc_id = self.consts.sctp_future_assoc
        v.srto_initial = round(initial * 1000)
        v.srto_max = round(rto_max * 1000)
        v.srto_min = round(rto_min * 1000)
        self.setsockopt(self.consts.sctp_rtoinfo, v)

    def set_assoc_max_retrans(self, count: int) -> None:
        """SCTP_ASSOCINFO's Association.Max.Retrans (RFC 6458 §8.1.2)."""
        v = ffi.new("struct sctp_assocparams *")
        v.sasoc_assoc_id = self.consts.sctp_future_assoc
        v.sasoc_asocmaxrxt = count
        self.setsockopt(self.consts.sctp_associnfo, v)

    def set_heartbeat(self, interval: float) -> None:
        """SCTP_PEER_ADDR_PARAMS: heartbeat interval for future associations (§8.1.12)."""
        v = ffi.new("struct sctp_paddrparams *")
        v.spp_assoc_id = self.consts.sctp_future_assoc
        v.spp_hbinterval = round(interval * 1000)
        v.spp_flags = self.consts.spp_hb_enable
        # The pre-flowlabel length, which every kernel since 2.6 accepts.
        old_len = cmsg_align_4(ffi.offsetof("struct sctp_paddrparams", "spp_ipv6_flowlabel"))
        self.setsockopt(self.consts.sctp_peer_addr_params, v, old_len)

    def set_delayed_sack(self, delay: float, every: int) -> None:
        """SCTP_DELAYED_SACK (RFC 6458 §8.1.19): SACK at most ``delay`` s / ``every`` packets
        late (RFC 9260 §6.2). Linux's default is 200 ms, which would make a peer with a
        LAN ``rto_min`` of 100 ms time out spuriously."""
        v = ffi.new("struct sctp_sack_info *")
        v.sack_assoc_id = self.consts.sctp_future_assoc
        v.sack_delay = max(1, round(delay * 1000))
        v.sack_freq = every
        self.setsockopt(self.consts.sctp_delayed_sack, v)

    def set_udp_encaps_port(self, port: int) -> None:
        """SCTP_REMOTE_UDP_ENCAPS_PORT: talk RFC 6951 (SCTP over UDP) to this remote port."""
        v = ffi.new("struct sctp_udpencaps *")
        v.sue_assoc_id = self.consts.sctp_future_assoc
        v.sue_port = socket.htons(port)
        self.setsockopt(self.consts.sctp_remote_udp_encaps_port, v)

    # --- setup ------------------------------------------------------------------------------

    def bind(self, addrs: list[PeerAddr]) -> None:
        """Bind every address with SCTP_SOCKOPT_BINDX_ADD (RFC 6458 §9.1, multihoming).

        bindx takes IPv4 addresses on an IPv6 socket too (dual-stack endpoints). The first
        call picks the port (ephemeral for port 0); the others reuse it.
        """
        buf, total = self.packed_sockaddrs(addrs[:1])
        self.setsockopt(self.consts.sctp_bindx_add, buf, total)
        if len(addrs) > 1:
            port = self.local_port()
            buf, total = self.packed_sockaddrs([(h, port) for h, _ in addrs[1:]])
            self.setsockopt(self.consts.sctp_bindx_add, buf, total)

    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def connectx(self, addrs: list[PeerAddr]) -> int:
        """Start an association to a (multihomed) peer; returns its association id.

        Linux's SCTP_SOCKOPT_CONNECTX3 (a getsockopt) reports the id even on a non-blocking
        socket, where the handshake goes on in the background (EINPROGRESS).
        """
        buf, total = self.packed_sockaddrs(addrs)
        param = ffi.new("struct sctp_getaddrs_old *")
        param.assoc_id = 0
        param.addr_num = total
        param.addrs = ffi.cast("struct sockaddr *", buf)
        optlen = ffi.new("unsigned int *", ffi.sizeof("struct sctp_getaddrs_old"))
        rc = self._lib.getsockopt(
            self.fd, self.consts.ipproto_sctp, self.consts.sctp_connectx, param, optlen
        )
        if rc != 0 and ffi.errno != errno.EINPROGRESS:
            raise _os_error("connectx")
        return int(ffi.cast("sctp_assoc_t *", param)[0])

    # --- data -------------------------------------------------------------------------------

    def send(
        self,
        data: bytes,
        *,
        stream: int,
        ppid: int,
        flags: int,
        assoc_id: int,
        to: PeerAddr | None = None,
    ) -> int:
        """sendmsg with an SCTP_SNDINFO control message (RFC 6458 §5.3.4).

        ``ppid`` is converted to network byte order, so the wire carries the value given
        (the kernel copies the field into the DATA chunk unchanged).
        """
        info = self._sndinfo
        info.snd_sid = stream
        info.snd_flags = flags
        info.snd_ppid = socket.htonl(ppid)
        info.snd_context = 0
        info.snd_assoc_id = assoc_id
        msg = self._smsg
        keep: Any = None
        if to is not None:
            keep, n = self.sockaddr(to)
            msg.msg_name = keep
            msg.msg_namelen = n
        else:
            msg.msg_name = ffi.NULL
            msg.msg_namelen = 0
        src = ffi.from_buffer(data)
        self._siov.iov_base = src
        self._siov.iov_len = len(data)
        msg.msg_iov = self._siov
        msg.msg_iovlen = 1
        msg.msg_control = self._sctl
        msg.msg_controllen = self._sctl_size
        msg.msg_flags = 0
        n = self._lib.sendmsg(self.fd, msg, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        del keep, src
        if n < 0:
            raise _os_error("sendmsg")
        return int(n)

    def receive(self) -> Received | None:
        """One recvmsg; None when nothing is waiting (EAGAIN)."""
        msg = self._rmsg
        msg.msg_name = self._rname
        msg.msg_namelen = ffi.sizeof("struct sockaddr_storage")
        msg.msg_iov = self._riov
        msg.msg_iovlen = 1
        msg.msg_control = self._rctl
        msg.msg_controllen = self._rctl_size
        msg.msg_flags = 0
        n = self._lib.recvmsg(self.fd, msg, socket.MSG_DONTWAIT)
        if n < 0:
            if ffi.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                return None
            raise _os_error("recvmsg")
        data = bytes(ffi.buffer(self._rbuf, n))
        flags = msg.msg_flags
        c = self.consts
        eor = bool(flags & c.msg_eor)
        if flags & c.msg_notification:
            return Received(data, eor, True)
        # Walk the control messages (CMSG_FIRSTHDR / CMSG_NXTHDR).
        hdr_size = cmsg_align(ffi.sizeof("struct cmsghdr"))
        pos = 0
        end = msg.msg_controllen
        while pos + hdr_size <= end:
            hdr = ffi.cast("struct cmsghdr *", self._rctl + pos)
            if hdr.cmsg_len < hdr_size:
                break
            if hdr.cmsg_level == c.ipproto_sctp and hdr.cmsg_type == c.cmsg_rcvinfo:
                info = ffi.cast("struct sctp_rcvinfo *", self._rctl + pos + hdr_size)
                return Received(
                    data,
                    eor,
                    False,
                    stream=info.rcv_sid,
                    ppid=socket.ntohl(info.rcv_ppid),
                    unordered=bool(info.rcv_flags & c.sctp_unordered),
                    assoc_id=info.rcv_assoc_id,
                )
            pos += cmsg_align(hdr.cmsg_len)
        # No SCTP_RCVINFO: cannot be tied to an association.
        return Received(data, eor, False, assoc_id=-1)

    # --- association queries ----------------------------------------------------------------

    def assoc_id_for(self, addr: PeerAddr) -> int | None:
        """The id of the association with peer address ``addr`` (SCTP_GET_PEER_ADDR_INFO).

        The kernel looks the association up by the address when assoc_id is 0, which is how
        a one-to-many socket learns the id of an association set up implicitly by sendmsg.
        """
        v = ffi.new("struct sctp_paddrinfo *")
        ptr, n = self.sockaddr(addr)
        ffi.memmove(ffi.addressof(v.spinfo_address), ptr, n)
        v.spinfo_assoc_id = 0
        try:
            self.getsockopt(self.consts.sctp_get_peer_addr_info, v)
        except OSError:
            return None
        return int(v.spinfo_assoc_id)

    def peer_addresses(self, assoc_id: int) -> list[PeerAddr]:
        """SCTP_GET_PEER_ADDRS: every transport address of the peer."""
        size = ffi.sizeof("struct sctp_getaddrs") + 16 * ffi.sizeof("struct sockaddr_storage")
        buf = ffi.new("char[]", size)
        head = ffi.cast("struct sctp_getaddrs *", buf)
        head.assoc_id = assoc_id
        try:
            self.getsockopt(self.consts.sctp_get_peer_addrs, buf, size)
        except OSError:
            return []
        out: list[PeerAddr] = []
        pos = ffi.sizeof("struct sctp_getaddrs")
        for _ in range(head.addr_num):
            if pos >= size:
                break
            ptr = buf + pos
            step = self._sockaddr_size(ptr)
            addr = self.decode_sockaddr(ptr)
            if addr is None or step == 0:
                break
            out.append(addr)
            pos += step
        return out

    def primary_address(self, assoc_id: int) -> PeerAddr | None:
        """SCTP_STATUS: the association's primary path (RFC 6458 §8.2.1), or None."""
        st = ffi.new("struct sctp_status *")
        st.sstat_assoc_id = assoc_id
        try:
            self.getsockopt(self.consts.sctp_status, st)
        except OSError:
            return None
        return self.decode_sockaddr(ffi.addressof(st.sstat_primary, "spinfo_address"))

    def set_primary(self, assoc_id: int, addr: PeerAddr) -> None:
        """SCTP_PRIMARY_ADDR: make ``addr`` the primary path (RFC 6458 §8.3.2)."""
        prim = ffi.new("struct sctp_prim *")
        prim.ssp_assoc_id = assoc_id
        sa, size = self.sockaddr(addr)
        ffi.memmove(ffi.addressof(prim, "ssp_addr"), sa, size)
        self.setsockopt(self.consts.sctp_primary_addr, prim)

    def status(self, assoc_id: int) -> Status | None:
        """SCTP_STATUS plus SCTP_GET_ASSOC_STATS; None if the association is gone."""
        st = ffi.new("struct sctp_status *")
        st.sstat_assoc_id = assoc_id
        try:
            self.getsockopt(self.consts.sctp_status, st)
        except OSError:
            return None
        sent = received = rtx = 0
        if self.consts.sctp_get_assoc_stats is not None:
            stats = ffi.new("struct sctp_assoc_stats *")
            stats.sas_assoc_id = assoc_id
            try:
                self.getsockopt(self.consts.sctp_get_assoc_stats, stats)
                sent, received = stats.sas_opackets, stats.sas_ipackets
                rtx = stats.sas_rtxchunks
            except OSError:
                pass
        local_rwnd: int | None = None
        params = ffi.new("struct sctp_assocparams *")
        params.sasoc_assoc_id = assoc_id
        try:
            self.getsockopt(self.consts.sctp_associnfo, params)
            local_rwnd = int(params.sasoc_local_rwnd)
        except OSError:
            pass
        p = st.sstat_primary
        return Status(
            state=st.sstat_state,
            peer_rwnd=st.sstat_rwnd,
            unacked=st.sstat_unackdata,
            pending=st.sstat_penddata,
            inbound_streams=st.sstat_instrms,
            outbound_streams=st.sstat_outstrms,
            fragmentation_point=st.sstat_fragmentation_point,
            cwnd=p.spinfo_cwnd,
            srtt=p.spinfo_srtt / 1000.0,
            rto=p.spinfo_rto / 1000.0,
            packets_sent=int(sent),
            packets_received=int(received),
            retransmitted_chunks=int(rtx),
            local_rwnd=local_rwnd,
        )

    def close(self) -> None:
        self.sock.close()


def cmsg_align_4(n: int) -> int:
    """Round up to a multiple of 4 (the kernel's ALIGN(x, 4))."""
    return (n + 3) & ~3
