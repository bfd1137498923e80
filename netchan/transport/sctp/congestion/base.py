"""Pluggable congestion control for the SCTP send side (RFC 9260 §7.2).

Shaped after aioquic's ``congestion/base.py``: an abstract controller that the
retransmission queue (:mod:`netchan.transport.sctp.tx.retransmission_queue`) informs of
sends, acknowledgements and losses, and whose :attr:`CongestionControl.cwnd` it reads before
putting new or retransmitted DATA on the wire. Implementations register under a name
(:func:`register_congestion_control`) and the association picks one by name
(:func:`create_congestion_control`). Sizes are bytes of DATA chunks (chunk header, user data
and padding, as §7.2.2 counts them), the unit the retransmission queue counts in flight.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

__all__ = [
    "CongestionControl",
    "create_congestion_control",
    "register_congestion_control",
    "rfc_initial_cwnd",
]


def rfc_initial_cwnd(mtu: int) -> int:
    """RFC 9260 §7.2.1's initial cwnd, min(4*MTU, max(2*MTU, 4404)) (the IPv4 value).

    RFC 4960 used 4380; RFC 9260 uses 4404 for IPv4 and 4344 for IPv6 (the difference is
    header overhead). One value serves both here.
    """
    return min(4 * mtu, max(2 * mtu, 4404))


class CongestionControl(ABC):
    """A per-destination congestion controller.

    The retransmission queue calls, with the caller's ``now``:

    * :meth:`on_packet_sent` for every packet carrying DATA (new or retransmitted).
    * :meth:`on_acked` once per accepted SACK that acknowledged new DATA.
    * :meth:`on_fast_retransmit` when it enters Fast Recovery (§7.2.4 step 2).
    * :meth:`on_t3_expiry` when T3-rtx expires (§6.3.3 E1).
    * :meth:`on_idle` before sending after a period with nothing in flight (§7.2.1).

    Attributes:
        mtu: the path MTU in bytes (the RFC's PMDCS; the packet size the association fills).
        cwnd: the congestion window in bytes.
        ssthresh: the slow-start threshold in bytes.
    """

    __slots__ = ("cwnd", "mtu", "ssthresh")

    def __init__(self, *, mtu: int, initial_cwnd: int | None = None) -> None:
        if mtu <= 0:
            raise ValueError("mtu must be positive")
        if initial_cwnd is not None and initial_cwnd < mtu:
            raise ValueError("initial_cwnd must be at least one MTU")
        self.mtu = mtu
        self.cwnd = rfc_initial_cwnd(mtu) if initial_cwnd is None else initial_cwnd
        # §7.2.1: "The initial value of ssthresh SHOULD be arbitrarily high".
        self.ssthresh = 1 << 62

    @abstractmethod
    def on_packet_sent(self, nbytes: int, now: float) -> None:
        """A packet with ``nbytes`` of DATA chunks left for the peer."""

    @abstractmethod
    def on_acked(
        self,
        acked_bytes: int,
        *,
        cum_advanced: bool,
        fully_utilized: bool,
        in_fast_recovery: bool,
        flight_size: int,
        now: float,
    ) -> None:
        """A SACK acknowledged ``acked_bytes`` of DATA not acknowledged before.

        Args:
            acked_bytes: bytes newly acknowledged by the cumulative ack and gap blocks.
            cum_advanced: whether the Cumulative TSN Ack Point moved.
            fully_utilized: whether the flight size before this SACK used the whole cwnd
                (the condition of §7.2.1 and §7.2.2 for growing cwnd).
            in_fast_recovery: whether the sender is in Fast Recovery (§7.2.4).
            flight_size: bytes still in flight after the SACK (0 resets
                partial_bytes_acked, §7.2.2).
            now: the caller's time.
        """

    @abstractmethod
    def on_fast_retransmit(self, now: float) -> None:
        """Loss detected from gap reports, entering Fast Recovery (§7.2.3)."""

    @abstractmethod
    def on_t3_expiry(self, now: float) -> None:
        """T3-rtx expired (§7.2.3, §6.3.3 E1)."""

    @abstractmethod
    def on_idle(self, now: float, rto: float) -> None:
        """About to send after a pause: decay cwnd for the time nothing was sent (§7.2.1)."""


_REGISTRY: dict[str, Callable[..., CongestionControl]] = {}


def register_congestion_control(name: str, factory: Callable[..., CongestionControl]) -> None:
    """Make a congestion controller available to :func:`create_congestion_control`.

    ``factory`` is called with keyword arguments ``mtu`` and ``initial_cwnd``.
    """
    if not name:
        raise ValueError("congestion control name must not be empty")
    _REGISTRY[name] = factory


def create_congestion_control(
    name: str, *, mtu: int, initial_cwnd_mtus: int | None = None
) -> CongestionControl:
    """Create the controller registered as ``name`` ("reno" is built in).

    Args:
        name: registered name.
        mtu: path MTU in bytes.
        initial_cwnd_mtus: initial cwnd as a number of MTUs (``Options.initial_cwnd_mtus``);
            ``None`` uses RFC 9260 §7.2.1's formula.

    Raises:
        ValueError: unknown name or invalid sizes.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"unknown congestion control {name!r} (known: {known})") from None
    if initial_cwnd_mtus is not None and initial_cwnd_mtus < 1:
        raise ValueError("initial_cwnd_mtus must be at least 1")
    initial = None if initial_cwnd_mtus is None else initial_cwnd_mtus * mtu
    return factory(mtu=mtu, initial_cwnd=initial)
