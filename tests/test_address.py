"""Endpoint URLs: parsing, formatting and clear errors."""

import pytest

from netchan.transport import InvalidAddressError, format_address, parse_address


def test_udp_defaults_sctp_port_to_udp_port() -> None:
    a = parse_address("udp://127.0.0.1:9000")
    assert (a.scheme, a.hosts, a.port, a.sctp_port) == ("udp", ("127.0.0.1",), 9000, 9000)
    assert str(a) == "udp://127.0.0.1:9000"


def test_udp_explicit_sctp_port_round_trips() -> None:
    a = parse_address("udp://127.0.0.1:11111?sctp_port=7")
    assert (a.port, a.sctp_port) == (11111, 7)
    assert str(a) == "udp://127.0.0.1:11111?sctp_port=7"


def test_ipv6_and_multihomed() -> None:
    a = parse_address("sctp://127.0.0.1,[::1]:0")
    assert a.hosts == ("127.0.0.1", "::1") and a.port == 0
    assert str(a) == "sctp://127.0.0.1,[::1]:0"
    assert format_address("udp", ["::1"], 5) == "udp://[::1]:5"


@pytest.mark.parametrize(
    "bad",
    [
        "tcp://127.0.0.1:1",
        "127.0.0.1:1",
        "udp://127.0.0.1",
        "udp://127.0.0.1:70000",
        "udp://127.0.0.1:x",
        "udp://::1:9000",
        "udp://[::1:9000",
        "udp://127.0.0.1:1?foo=2",
        "sctp://127.0.0.1:1?sctp_port=2",
        "udp://,127.0.0.1:1",
    ],
)
def test_bad_addresses_raise_clear_errors(bad: str) -> None:
    with pytest.raises(InvalidAddressError):
        parse_address(bad)
