"""Destinations of a multihomed association (RFC 9260 §6.4, §8.2, §8.3; RFC 7829).

A peer may own several transport addresses; each is a *path* with its own state: RTO, SRTT
and RTTVAR (§6.3, "per destination"), error counter (§8.2), congestion window (§7.2),
path MTU (§7.3, RFC 8899), heartbeat (§8.3) and confirmation (§5.4). The association sends
DATA to one *current* destination: the primary path while it is active, another active
confirmed path otherwise (§6.4.1 failover), and back to the primary once a HEARTBEAT ACK shows
it active again (§8.3). RFC 7829's Potentially Failed state makes that switch quick: after
``Options.pf_max_retransmissions`` (PFMR, default 0) unanswered retransmissions to the
current path, data moves at once instead of after Path.Max.Retrans; before that, the chunks
of a T3-rtx timeout are retransmitted to another active path (§6.4) and data returns with the
next acknowledgement. Replies (SACK, HEARTBEAT ACK) go to the address the packet came from.

The single-homed case has exactly one :class:`Path`, created with the association: the data
path reads the current path's objects through the association's own attributes (``_rto``,
``_pmtud``), which :func:`use_path` swaps, so nothing is looked up per packet.

Peer addresses are the driver's opaque ``PeerAddr`` values; addresses learned from INIT /
INIT ACK parameters (§5.1.2) can only be formed when the driver's addresses are
``(host, port, ...)`` tuples: the IP parameter replaces the host, the port (the peer's UDP
port, RFC 6951 §5.1: one per peer) is the one the packet came from.
"""

from __future__ import annotations

import enum
import ipaddress
import math
from collections.abc import Hashable
from typing import TYPE_CHECKING

from .congestion import CongestionControl, create_congestion_control
from .events import PeerAddressChanged
from .heartbeat import HeartbeatHandler
from .packet import IPv4AddressParameter, IPv6AddressParameter, Parameter
from .plpmtud import PathMtuDiscovery, PlpmtudState
from .tx.rto import RtoEstimator

if TYPE_CHECKING:
    from .association import Association

__all__ = [
    "ACTIVE",
    "INACTIVE",
    "POTENTIALLY_FAILED",
    "Path",
    "PathState",
    "address_parameters",
    "addresses_from_parameters",
    "ip_of",
]

PeerAddr = Hashable

#: Most destinations an association keeps (§5.1.2 sets no limit; a peer listing thousands of
#: addresses would get a heartbeat timer each). Further addresses are ignored.
MAX_PATHS = 32


class PathState(enum.Enum):
    """A destination's state (§8.2; RFC 7829 §5 adds Potentially Failed). The transitions
    are :func:`path_failed_once` (errors) and :func:`path_answered` (an answer)."""

    ACTIVE = "active"
    POTENTIALLY_FAILED = "potentially_failed"
    INACTIVE = "inactive"


ACTIVE = PathState.ACTIVE
POTENTIALLY_FAILED = PathState.POTENTIALLY_FAILED
INACTIVE = PathState.INACTIVE


class Path:
    """One destination transport address of the peer and its per-destination state.

    Attributes:
        addr: the driver's address of the destination.
        rto: its RTO estimator (SRTT, RTTVAR, RTO; §6.3.1 per destination).
        error_count: consecutive unanswered retransmissions / heartbeats to it (§8.2).
        state: ``ACTIVE``, ``POTENTIALLY_FAILED`` or ``INACTIVE``.
        confirmed: §5.4: it answered a HEARTBEAT (or it is the handshake's address).
        heartbeat: its heartbeat timer and outstanding nonce (§8.3).
        pmtud: its path MTU discovery (RFC 8899; RFC 9260 §7.3 per destination).
        congestion: its congestion controller while it is not the current path (the
            current path's lives in the retransmission queue); None until used.
    """

    __slots__ = (
        "addr",
        "confirmed",
        "congestion",
        "error_count",
        "heartbeat",
        "last_answered",
        "pmtud",
        "rto",
        "state",
    )

    def __init__(
        self,
        addr: PeerAddr,
        rto: RtoEstimator,
        heartbeat: HeartbeatHandler,
        pmtud: PathMtuDiscovery,
        *,
        confirmed: bool,
    ) -> None:
        self.addr = addr
        self.rto = rto
        self.heartbeat = heartbeat
        self.pmtud = pmtud
        self.confirmed = confirmed
        self.error_count = 0
        self.state = ACTIVE
        self.congestion: CongestionControl | None = None
        # When it last answered (HEARTBEAT ACK, SACK of data sent there): among paths
        # that all failed, data goes to the one that worked most recently.
        self.last_answered = -math.inf

    @property
    def usable(self) -> bool:
        """DATA may go here: active and confirmed (§5.4, §6.4)."""
        return self.state is ACTIVE and self.confirmed

    def __repr__(self) -> str:
        flag = "" if self.confirmed else " unconfirmed"
        return f"<Path {self.addr!r} {self.state.value}{flag} errors={self.error_count}>"


def ip_of(addr: PeerAddr) -> str | None:
    """The IP address (normalized text) of a ``(host, port, ...)`` driver address."""
    if isinstance(addr, tuple) and len(addr) >= 2 and isinstance(addr[0], str):
        try:
            return str(ipaddress.ip_address(addr[0].split("%", 1)[0]))
        except ValueError:
            return None
    return None


def address_parameters(hosts: list[str]) -> list[Parameter]:
    """IPv4 / IPv6 Address parameters (§3.3.2.1) listing our local addresses.

    IPv4-mapped IPv6 addresses (an IPv6 socket's view of IPv4 peers) are listed as IPv4.
    Wildcards and unparsable names are left out (the source address of the packet is then
    the only one the peer learns, §5.1.2).
    """
    params: list[Parameter] = []
    for host in hosts:
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            continue
        if ip.is_unspecified:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if isinstance(ip, ipaddress.IPv4Address):
            params.append(IPv4AddressParameter(ip))
        else:
            params.append(IPv6AddressParameter(ip))
    return params


def addresses_from_parameters(
    params: tuple[Parameter, ...] | list[Parameter], source: PeerAddr
) -> list[PeerAddr]:
    """The peer's addresses named by an INIT / INIT ACK (§5.1.2), as driver addresses.

    Formed after ``source`` (the packet's source, itself always one of the peer's
    addresses): same port, the parameter's IP, in the family of ``source`` (IPv4 peers of
    an IPv6 socket are IPv4-mapped). Empty when ``source`` is not a ``(host, port)`` tuple.
    Addresses no host owns (unspecified, multicast, broadcast) are ignored, and loopback
    addresses unless the peer itself is on loopback (§5.1.2: they are not to be listed to
    a remote peer); at most :data:`MAX_PATHS`.
    """
    source_ip = ip_of(source)
    if not isinstance(source, tuple) or len(source) < 2 or source_ip is None:
        return []
    host = str(source[0])
    mapped = ":" in host
    source_loopback = _unmapped(ipaddress.ip_address(source_ip)).is_loopback
    out: list[PeerAddr] = []
    for param in params:
        if len(out) >= MAX_PATHS:
            break
        if isinstance(param, IPv4AddressParameter):
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address = param.address
            text = f"::ffff:{param.address}" if mapped else str(param.address)
        elif isinstance(param, IPv6AddressParameter):
            if not mapped:
                continue  # an IPv4 socket cannot reach it
            ip = _unmapped(param.address)
            text = str(param.address)
        else:
            continue
        if (
            ip.is_unspecified
            or ip.is_multicast
            or ip == ipaddress.IPv4Address("255.255.255.255")
            or (ip.is_loopback and not source_loopback)
        ):
            continue
        addr: PeerAddr = (text, source[1])
        if addr not in out:
            out.append(addr)
    return out


def _unmapped(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


# ---------------------------------------------------------------------------- association side


def new_path(assoc: Association, addr: PeerAddr, *, confirmed: bool) -> Path:
    """A fresh destination with the association's options (§6.3.1: RTO.Initial)."""
    options = assoc._options
    host = assoc._host
    return Path(
        addr,
        RtoEstimator(
            rto_initial=options.rto_initial,
            rto_min=options.rto_min,
            rto_max=options.rto_max,
            alpha=options.rto_alpha,
            beta=options.rto_beta,
        ),
        HeartbeatHandler(options.heartbeat_interval, assoc._rng, assoc.drops),
        PathMtuDiscovery(
            base=options.pmtu,
            max_plpmtu=host._max_plpmtu(addr) if options.plpmtud else 0,
            probe_timeout=options.pmtu_probe_timeout,
            raise_interval=options.pmtu_raise_interval,
            rng=assoc._rng,
        ),
        confirmed=confirmed,
    )


def find(assoc: Association, addr: PeerAddr) -> Path | None:
    """The path of ``addr``, or None."""
    for path in assoc._paths:
        if path.addr == addr:
            return path
    return None


def add_peer_addresses(
    assoc: Association, addrs: list[PeerAddr], *, confirmed: bool, now: float
) -> None:
    """Learn peer addresses (§5.1.2); the endpoint maps them to the association (§8.5)."""
    for addr in addrs:
        path = find(assoc, addr)
        if path is not None:
            if confirmed and not path.confirmed:
                path.confirmed = True
            continue
        if len(assoc._paths) >= MAX_PATHS:
            break
        if not assoc._host._add_peer_address(assoc, addr):
            continue  # another association of this endpoint owns it
        path = new_path(assoc, addr, confirmed=confirmed)
        assoc._paths.append(path)
        if assoc._established_once:
            start_probing(assoc, path, now)
    assoc._multihomed = len(assoc._paths) > 1
    assoc._rebuild_timers()


def start_probing(assoc: Association, path: Path, now: float) -> None:
    """Heartbeats for a path other than the current one (§8.3), at once when it is
    unconfirmed (§5.4: probing starts when the association is established)."""
    if path.confirmed:
        path.heartbeat.restart(now, path.rto.rto)
    else:
        path.heartbeat.timer.start(now, 0.0)


def emit(assoc: Association, path: Path, state: str) -> None:
    """A PeerAddressChanged event for ``path``."""
    assoc._host._emit(PeerAddressChanged(assoc.id, addr_tuple(assoc, path.addr), state))


def addr_tuple(assoc: Association, addr: PeerAddr) -> tuple[str, int]:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return (str(addr[0]), int(addr[1]))
    return (str(addr), assoc.remote_port)


def use_path(assoc: Association, path: Path, now: float) -> None:
    """Make ``path`` the destination of DATA (and of everything not addressed otherwise).

    The association's per-path shortcuts follow it: the RTO estimator (T3-rtx, T1, T2 and
    SACK RTT samples), path MTU discovery and the congestion controller (§7.2: cwnd is kept
    per destination; a path never used starts from the initial window, §7.2.1).
    """
    old = assoc._path
    if path is old:
        return
    assoc._path = path
    assoc._addr = path.addr
    assoc._rto = path.rto
    tx = assoc._tx
    if tx is not None:
        congestion = path.congestion
        if congestion is None:
            options = assoc._options
            congestion = create_congestion_control(
                options.congestion_control,
                mtu=assoc._pmtu,
                initial_cwnd_mtus=options.initial_cwnd_mtus,
            )
        old.congestion = tx.switch_path(path.rto, congestion)
        path.congestion = None
    if path.pmtud is not assoc._pmtud:
        assoc._pmtud = path.pmtud
        if assoc._established_once and path.pmtud.state is PlpmtudState.DISABLED:
            # RFC 8899 §5.2: this path's search starts when it first carries data.
            from .connect import PEER_WINDOW_PACKETS  # (connect imports this module)

            path.pmtud.limit_max(assoc._peer_a_rwnd // PEER_WINDOW_PACKETS)
            path.pmtud.start(now)
    assoc._rebuild_timers()


def select(assoc: Association, now: float) -> None:
    """Choose the current destination (§6.4, §6.4.1; RFC 7829 §5).

    The primary while it is usable; otherwise the first usable path in the peer's order;
    when none is, the path with the fewest errors among the confirmed ones (data must go
    somewhere: an inactive path is still tried, §6.4.1 leaves this to the implementation).
    """
    primary = assoc._primary
    if primary.usable:
        use_path(assoc, primary, now)
        return
    for path in assoc._paths:
        if path.usable:
            use_path(assoc, path, now)
            return
    candidates = [p for p in assoc._paths if p.confirmed] or assoc._paths
    # RFC 7829 §5.1: the Potentially Failed one with the fewest errors, the most recently
    # active of those (a path that never answered is not preferred over one that just
    # lost a packet).
    best = min(candidates, key=lambda p: (p.state is INACTIVE, p.error_count, -p.last_answered))
    use_path(assoc, best, now)


def setup_failed_once(assoc: Association, path: Path) -> None:
    """INIT or COOKIE ECHO to ``path`` went unanswered (T1 expired, §5.1): an error for the
    path, which starts Potentially Failed (RFC 7829) if the association comes up over
    another one. Otherwise a destination that never answered would look active: the first
    timeout elsewhere would send data to it, and it is the primary data returns to (§6.4).
    No event: the association does not exist for the application yet."""
    path.error_count += 1
    if path.state is ACTIVE and path.error_count > assoc._options.pf_max_retransmissions:
        path.state = POTENTIALLY_FAILED


def path_failed_once(assoc: Association, path: Path, now: float) -> None:
    """An unanswered retransmission or heartbeat on ``path`` (§8.2, RFC 7829 §5)."""
    path.error_count += 1
    options = assoc._options
    if path.state is not INACTIVE and path.error_count > options.path_max_retransmissions:
        # §8.2: the destination becomes inactive.
        path.state = INACTIVE
        emit(assoc, path, "unreachable")
        if assoc._multihomed and path is assoc._path:
            select(assoc, now)
    elif (
        assoc._multihomed
        and path.state is ACTIVE
        and path.error_count > options.pf_max_retransmissions
    ):
        # RFC 7829 §5.1: Potentially Failed: no new data goes there; heartbeats probe it.
        path.state = POTENTIALLY_FAILED
        emit(assoc, path, "potentially_failed")
        if not path.heartbeat.awaiting_ack:
            path.heartbeat.timer.start(now, 0.0)  # RFC 7829 §5.1: probe it at once
        if path is assoc._path:
            select(assoc, now)


def retransmit_elsewhere(assoc: Association, failed: Path, now: float) -> None:
    """§6.4: after a T3-rtx timeout on ``failed``, the chunks that timed out go to another
    active destination when there is one, until new data is acknowledged (then
    :func:`select` chooses again). Nothing to do when ``failed`` is no longer the current
    destination (it went potentially failed or inactive and :func:`select` moved away)."""
    if assoc._path is not failed:
        return
    for path in assoc._paths:
        if path is not failed and path.usable:
            use_path(assoc, path, now)
            assoc._detour = True
            return


def path_answered(assoc: Association, path: Path, now: float) -> None:
    """``path`` answered (HEARTBEAT ACK; SACK of data sent there): §8.2 clears its counter
    and it is active again; data returns to the primary when that is the one (§8.3)."""
    path.error_count = 0
    path.last_answered = now
    if path.state is not ACTIVE:
        path.state = ACTIVE
        emit(assoc, path, "available")
        if assoc._multihomed:
            select(assoc, now)


def confirm(assoc: Association, path: Path, now: float) -> None:
    """§5.4: a HEARTBEAT ACK for our nonce to ``path``: it may carry data now."""
    if path.confirmed:
        return
    path.confirmed = True
    emit(assoc, path, "confirmed")
    if assoc._multihomed and not assoc._path.usable:
        select(assoc, now)
