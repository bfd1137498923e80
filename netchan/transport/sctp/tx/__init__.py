"""Send side of the SCTP data path: send queue and scheduler, retransmission queue, RTO."""

from __future__ import annotations

from .retransmission_queue import RetransmissionQueue, SackResult
from .rto import RtoEstimator
from .send_queue import OutgoingChunk, SendQueue

__all__ = ["OutgoingChunk", "RetransmissionQueue", "RtoEstimator", "SackResult", "SendQueue"]
