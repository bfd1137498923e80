"""``udp://``: netchan's userspace SCTP (``netchan.transport.sctp``) over UDP (RFC 6951).

:func:`open_udp_endpoint` binds one UDP socket and runs the sans-io stack on it with trio; the
endpoint it yields implements :class:`netchan.transport.Endpoint`. Usually reached through
``netchan.transport.open_endpoint("udp://HOST:PORT")``. See docs/userspace.md.
"""

from __future__ import annotations

from ._association import UdpAssociation
from ._endpoint import UdpEndpoint, open_udp_endpoint

__all__ = ["UdpAssociation", "UdpEndpoint", "open_udp_endpoint"]
