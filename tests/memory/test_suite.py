"""The endpoint conformance suite (tests/endpoint_suite.py) against the in-memory transport.

The channel suite runs on ``tests/support/memory_transport.py`` by default, so that transport
must keep the promises of ``_api.py`` as the real backends do: it passes the same suite. Each
test gets its own :class:`MemoryNetwork`. The fixtures are defined here, after the suite's
names are imported, because a test module's own fixtures take precedence over a conftest's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from netchan.transport import Endpoint
from tests.endpoint_suite import *  # noqa: F403
from tests.support.memory_transport import MemoryNetwork


@pytest.fixture
def endpoint_scheme() -> str:
    """The URL scheme the in-memory endpoints are bound with (they accept any)."""
    return "udp"


@pytest.fixture
def small_buffer_options() -> dict[str, Any]:
    """A small receive window: the in-memory transport has no send buffer of its own."""
    return {"receive_window": 65536}


@pytest.fixture
def open_ep(endpoint_scheme: str) -> Callable[..., AbstractAsyncContextManager[Endpoint]]:
    """``open_ep(**options)``: an in-memory endpoint on one network shared by the test."""
    # Senders block at the receiver's window (there is no send buffer in between): as large
    # as the real backends' send buffers, so a test that sends before it reads can.
    network = MemoryNetwork(receive_window=4 * 1024 * 1024)

    @asynccontextmanager
    async def opener(**options: Any) -> AsyncIterator[Endpoint]:
        async with network.open_endpoint(f"{endpoint_scheme}://127.0.0.1:0", **options) as ep:
            yield ep

    return opener
