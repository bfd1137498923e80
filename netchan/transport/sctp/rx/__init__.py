"""Receive side of the SCTP data path: received-TSN tracking / SACK policy and reassembly."""

from __future__ import annotations

from .data_tracker import DataTracker, SackInfo
from .reassembly import ReassemblyQueue

__all__ = ["DataTracker", "ReassemblyQueue", "SackInfo"]
