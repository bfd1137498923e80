"""``open_endpoint``: pick the backend from the URL scheme."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._address import parse_address
from ._api import Endpoint


def default_client_address() -> str:
    """What a client-only node binds by default: ``udp://[::]:0``, or ``udp://0.0.0.0:0``.

    The IPv6 wildcard binds dual-stack, so the node reaches IPv4 and IPv6 peers alike; hosts
    without IPv6 get the IPv4 wildcard.
    """
    from .udp._socket import dual_stack_available

    return "udp://[::]:0" if dual_stack_available() else "udp://0.0.0.0:0"


@asynccontextmanager
async def open_endpoint(address: str, **options: Any) -> AsyncIterator[Endpoint]:
    """Open a one-to-many SCTP endpoint bound to ``address``.

    ``udp://HOST:PORT`` runs netchan's userspace SCTP over UDP (RFC 6951) and works everywhere;
    ``sctp://HOST:PORT`` uses the operating system's SCTP and fails at once with
    :class:`SCTPUnavailableError` where there is none. Keyword options are passed to the
    backend (for ``udp://``, the fields of :class:`netchan.transport.sctp.Options`).

    Used as ``async with open_endpoint("udp://127.0.0.1:0") as ep: ...``; leaving the block
    aborts every association still open and closes the socket.
    """
    addr = parse_address(address)
    if addr.scheme == "udp":
        from .udp import open_udp_endpoint

        async with open_udp_endpoint(addr, **options) as ep:
            yield ep
    else:
        from .kernel import open_kernel_endpoint

        async with open_kernel_endpoint(addr, **options) as ep:
            yield ep
