"""On a host whose kernel has no SCTP, ``sctp://`` fails at once and names ``udp://``."""

from __future__ import annotations

import errno
import socket

import pytest
import trio

from netchan.transport import InvalidAddressError, SCTPUnavailableError, open_endpoint
from netchan.transport.kernel import KernelOptions


def _host_has_sctp() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132).close()
    except OSError as exc:
        assert exc.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT)
        return False
    return True


async def test_sctp_unavailable_fails_at_once_and_names_udp() -> None:
    if _host_has_sctp():
        # This host has kernel SCTP: then opening must simply work.
        async with open_endpoint("sctp://127.0.0.1:0") as ep:
            assert ep.address.startswith("sctp://127.0.0.1:")
        return
    with trio.fail_after(5):
        with pytest.raises(SCTPUnavailableError) as info:
            async with open_endpoint("sctp://127.0.0.1:0"):
                pytest.fail("opened an sctp:// endpoint without kernel SCTP")
    text = str(info.value)
    assert "udp://" in text
    assert "SCTP" in text
    assert isinstance(info.value, OSError)


async def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown sctp:// endpoint option"):
        async with open_endpoint("sctp://127.0.0.1:0", no_such_option=1):
            pass


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        KernelOptions(outbound_streams=0)
    with pytest.raises(ValueError):
        KernelOptions(rto_min=2.0, rto_initial=1.0)
    assert KernelOptions().outbound_streams == 4096


async def test_a_name_that_resolves_to_nothing_is_an_invalid_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A resolver may answer with an empty list; binding to such a name must say so, not fail
    # with an IndexError (the kernel backend used to have its own lookup for binding).
    async def getaddrinfo(*args: object, **kwargs: object) -> list[object]:
        return []

    monkeypatch.setattr(trio.socket, "getaddrinfo", getaddrinfo)
    with trio.fail_after(5), pytest.raises(InvalidAddressError, match=r"nothing\.test"):
        async with open_endpoint("sctp://nothing.test:0"):
            pytest.fail("opened an endpoint on a name without an address")
