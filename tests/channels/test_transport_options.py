"""How the node opens its endpoint when no ``transport=`` is given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

import netchan
from netchan import _node
from netchan.transport import Endpoint
from netchan.transport import open_endpoint as real_open_endpoint


async def test_udp_node_sends_without_nagle_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    # A channel's round trip is value -> CREDIT -> next value: with Nagle's rule the next
    # value waits for the CREDIT's acknowledgement (up to the hold time) on every step.
    calls: list[tuple[str, dict[str, Any]]] = []

    @asynccontextmanager
    async def recording(address: str, **options: Any) -> AsyncIterator[Endpoint]:
        calls.append((address, options))
        async with real_open_endpoint(address, **options) as ep:
            yield ep

    monkeypatch.setattr(_node, "open_endpoint", recording)
    with trio.fail_after(20):
        async with (
            netchan.open_node("udp://127.0.0.1:0") as server,
            netchan.open_node(client_address="udp://127.0.0.1:0") as client,
        ):
            send, recv = trio.open_memory_channel[int](0)
            server.export("ping", send)
            assert server.address is not None
            ping = await client.import_send(server.address, "ping")
            for i in range(3):
                await ping.send(i)
                assert await recv.receive() == i
    assert calls == [
        ("udp://127.0.0.1:0", {"nodelay": True}),
        ("udp://127.0.0.1:0", {"nodelay": True}),
    ]


def test_sctp_node_keeps_the_backend_defaults() -> None:
    # The kernel backend's own default is SCTP_NODELAY; the node passes nothing there.
    seen: list[dict[str, Any]] = []

    def recording(address: str, **options: Any) -> Any:
        seen.append(options)
        return None

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_node, "open_endpoint", recording)
        _node._default_endpoint("sctp://127.0.0.1:0")
    assert seen == [{}]
