"""``sctp://``: the operating system's SCTP (Linux lksctp) behind the endpoint API.

Uses a one-to-many ``SOCK_SEQPACKET`` socket through cffi in ABI mode (no compiler needed).
On hosts without kernel SCTP, :func:`open_kernel_endpoint` raises ``SCTPUnavailableError`` at
once; ``udp://`` (the userspace stack) works everywhere. See ``docs/kernel.md``.
"""

from __future__ import annotations

from ._endpoint import KernelAssociation, KernelEndpoint, open_kernel_endpoint
from ._options import KernelOptions

__all__ = ["KernelAssociation", "KernelEndpoint", "KernelOptions", "open_kernel_endpoint"]
