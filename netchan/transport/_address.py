"""Endpoint addresses as URLs: ``udp://HOST[,HOST...]:PORT[?sctp_port=N]`` and ``sctp://...``.

* ``udp://`` is netchan's userspace SCTP encapsulated in UDP (RFC 6951). PORT is the UDP port;
  the SCTP port defaults to the same number and ``?sctp_port=N`` names another one (usrsctp's
  echo_server, for instance, is SCTP port 7 behind whatever UDP port it was given).
* ``sctp://`` is the operating system's SCTP; PORT is the SCTP port.
* Several hosts joined by commas make a multihomed endpoint. IPv6 literals go in brackets:
  ``udp://[::1]:9000``, ``sctp://127.0.0.1,[::1]:9000``.
* Port 0 asks for an ephemeral port.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from .errors import InvalidAddressError

SCHEMES = ("udp", "sctp")


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed endpoint address.

    Attributes:
        scheme: ``"udp"`` or ``"sctp"``.
        hosts: one or more host names or IP literals (IPv6 without brackets).
        port: the UDP port (``udp``) or SCTP port (``sctp``).
        sctp_port: for ``udp``, the SCTP port carried inside UDP (defaults to ``port``);
            for ``sctp`` always equal to ``port``.
    """

    scheme: str
    hosts: tuple[str, ...]
    port: int
    sctp_port: int

    @property
    def host(self) -> str:
        """The first (primary) host."""
        return self.hosts[0]

    def __str__(self) -> str:
        return format_address(self.scheme, self.hosts, self.port, self.sctp_port)


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def format_address(
    scheme: str, hosts: tuple[str, ...] | list[str], port: int, sctp_port: int | None = None
) -> str:
    """Build the URL for an address; ``?sctp_port=`` only when it differs from the port."""
    text = f"{scheme}://{','.join(_format_host(h) for h in hosts)}:{port}"
    if scheme == "udp" and sctp_port is not None and sctp_port != port:
        text += f"?sctp_port={sctp_port}"
    return text


def _parse_port(text: str, what: str, url: str) -> int:
    if not text.isdigit():
        raise InvalidAddressError(f"{what} {text!r} in {url!r} is not a number")
    value = int(text)
    if not 0 <= value <= 65535:
        raise InvalidAddressError(f"{what} {value} in {url!r} is out of range 0..65535")
    return value


def parse_address(url: str) -> Address:
    """Parse an endpoint URL into an :class:`Address`.

    Raises:
        InvalidAddressError: with a message naming what is wrong.
    """
    if not isinstance(url, str):
        raise InvalidAddressError(f"an address is a URL string, not {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise InvalidAddressError(
            f"address {url!r} must start with one of {', '.join(s + '://' for s in SCHEMES)}"
        )
    rest, _, query = rest.partition("?")
    hostpart, colon, porttext = rest.rpartition(":")
    if not colon or not hostpart:
        raise InvalidAddressError(f"address {url!r} needs HOST:PORT")
    port = _parse_port(porttext, "port", url)
    hosts: list[str] = []
    for item in hostpart.split(","):
        if item.startswith("["):
            if not item.endswith("]") or len(item) < 3:
                raise InvalidAddressError(f"bad bracketed IPv6 host {item!r} in {url!r}")
            hosts.append(item[1:-1])
        elif not item or ":" in item or "[" in item or "]" in item:
            raise InvalidAddressError(f"bad host {item!r} in {url!r} (IPv6 needs [brackets])")
        else:
            hosts.append(item)
    sctp_port = port
    if query:
        try:
            params = parse_qs(query, strict_parsing=True)
        except ValueError as exc:
            raise InvalidAddressError(f"bad query in {url!r}: {exc}") from None
        unknown = set(params) - {"sctp_port"}
        if unknown:
            raise InvalidAddressError(f"unknown address option(s) {sorted(unknown)} in {url!r}")
        if "sctp_port" in params:
            if scheme != "udp":
                raise InvalidAddressError(f"sctp_port= only applies to udp:// ({url!r})")
            sctp_port = _parse_port(params["sctp_port"][-1], "sctp_port", url)
    return Address(scheme, tuple(hosts), port, sctp_port)
