"""Congestion control for the SCTP send side, chosen by name (RFC 9260 §7.2).

``create_congestion_control("reno", mtu=1200)`` gives RFC 9260's algorithm; other
algorithms plug in with :func:`register_congestion_control`.
"""

from __future__ import annotations

from .base import (
    CongestionControl,
    create_congestion_control,
    register_congestion_control,
    rfc_initial_cwnd,
)
from .reno import RenoCongestionControl

register_congestion_control("reno", RenoCongestionControl)

__all__ = [
    "CongestionControl",
    "RenoCongestionControl",
    "create_congestion_control",
    "register_congestion_control",
    "rfc_initial_cwnd",
]
