"""The start-up probe of the interop tests must not disturb the program it waits for."""

from __future__ import annotations

import socket
import sys

import pytest

from benchmarks._tsctp import free_udp_port, udp_port_taken


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/udp")
def test_udp_port_taken_sees_a_bound_port_without_binding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probing bind could take the port for the instant the program binds its IPv4 socket."""
    port = free_udp_port()
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("0.0.0.0", port))
    try:

        def no_bind(self: socket.socket, address: object) -> None:
            raise AssertionError(f"udp_port_taken bound {address!r}")

        monkeypatch.setattr(socket.socket, "bind", no_bind)
        assert udp_port_taken(port)
    finally:
        holder.close()
    assert not udp_port_taken(port)
