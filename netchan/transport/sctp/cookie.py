"""The State Cookie (RFC 9260 §5.1.3, §5.1.5): stateless association setup.

A listening endpoint answers an INIT with an INIT ACK that carries everything needed to build
the association later, signed with a secret only the endpoint knows. Nothing is stored for the
INIT (SYN-flood defence, §5.1.3): only a COOKIE ECHO whose MAC verifies creates state.

The MAC is HMAC-SHA256 (§5.1.3 suggests an HMAC, RFC 2104) keyed with a secret that rotates
every ``Options.cookie_secret_rotation`` seconds; a cookie signed with the current or the
previous secret is accepted, so a cookie issued just before a rotation stays usable. Secrets
come from the ``random.Random`` the driver hands the endpoint (``random.SystemRandom`` in
production).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import struct
from dataclasses import dataclass

_MAC_SIZE = 32
_SECRET_BITS = 256
_VERSION = 4
# version, local tag, peer tag, local initial TSN, peer initial TSN, outbound streams,
# inbound streams, peer a_rwnd, local port, peer port, local tie-tag, peer tie-tag,
# creation time (s), lifetime (s), flags.
_BODY = struct.Struct("!BIIIIHHIHHIIddB")
# Flag bits of the cookie's last byte.
_FLAG_INTERLEAVING = 0x01
#: Size of a cookie without peer addresses and SCTP-AUTH key vectors: one byte counts the
#: addresses, each adds 1 + 4 or 1 + 16 bytes; the key vectors (RFC 4895) follow them.
COOKIE_SIZE = _BODY.size + 1 + _MAC_SIZE
#: Most peer addresses a cookie carries (§5.1.2 sets no limit; this bounds its size).
MAX_COOKIE_ADDRESSES = 32
#: Longest SCTP-AUTH part a cookie of ours carries (two key vectors, see ``auth``).
_MAX_AUTH = 1024


class CookieError(Exception):
    """Base class of State Cookie failures (never raised out of the endpoint)."""


class ForgedCookieError(CookieError):
    """The cookie's MAC does not verify with the current or the previous secret (§5.1.5 2)."""


class StaleCookieError(CookieError):
    """The cookie's lifetime has expired (§5.1.5 3).

    Attributes:
        staleness_us: how late it arrived, in microseconds, for the Stale Cookie error cause
            (§3.3.10.3).
        contents: what the (authentic) cookie carries.
    """

    def __init__(self, staleness_us: int, contents: CookieContents) -> None:
        super().__init__(f"State Cookie expired {staleness_us} us ago")
        self.staleness_us = staleness_us
        #: The authenticated contents: §5.2.4 step 3 accepts a stale cookie whose tags
        #: match the existing association.
        self.contents = contents


@dataclass(frozen=True, slots=True)
class CookieContents:
    """What a State Cookie carries (§5.1.3): the TCB an INIT ACK's sender would have built.

    Attributes:
        local_tag: our Initiate Tag (the tag the peer must put on its packets).
        peer_tag: the peer's Initiate Tag (the tag we put on our packets).
        local_initial_tsn: our first TSN.
        peer_initial_tsn: the peer's first TSN.
        outbound_streams: negotiated streams we send on (min of our OS and its MIS).
        inbound_streams: negotiated streams we receive on (min of our MIS and its OS).
        peer_a_rwnd: the peer's advertised receiver window from its INIT.
        local_port, peer_port: the SCTP ports.
        local_tie_tag, peer_tie_tag: §5.2.2 Tie-Tags (0 when no association existed).
        created: when the cookie was made (driver time, seconds).
        lifetime: Valid.Cookie.Life in seconds.
        interleaving: I-DATA was negotiated (RFC 8260 §2.2.1: both INIT and INIT ACK list it).
        peer_addresses: the IPv4 / IPv6 addresses the INIT listed (§5.1.2), packed (4 or
            16 bytes each): the multihomed peer's other destinations.
        auth: both sides' SCTP-AUTH key vectors (RFC 4895 §6.1), empty without AUTH
            (``AssociationAuth.cookie_bytes``).
    """

    local_tag: int
    peer_tag: int
    local_initial_tsn: int
    peer_initial_tsn: int
    outbound_streams: int
    inbound_streams: int
    peer_a_rwnd: int
    local_port: int
    peer_port: int
    local_tie_tag: int = 0
    peer_tie_tag: int = 0
    created: float = 0.0
    lifetime: float = 60.0
    interleaving: bool = False
    peer_addresses: tuple[bytes, ...] = ()
    auth: bytes = b""


class CookieFactory:
    """Signs and verifies State Cookies with a rotating HMAC-SHA256 secret.

    The factory keeps two secrets and nothing per peer: its memory is constant however many
    INITs arrive.
    """

    __slots__ = ("_current", "_previous", "_rng", "_rotated_at", "_rotation")

    def __init__(self, rng: random.Random, rotation: float, now: float) -> None:
        if rotation <= 0:
            raise ValueError("cookie_secret_rotation must be positive")
        self._rng = rng
        self._rotation = rotation
        self._current = self._new_secret()
        self._previous: bytes | None = None
        self._rotated_at = now

    def _new_secret(self) -> bytes:
        return self._rng.getrandbits(_SECRET_BITS).to_bytes(_SECRET_BITS // 8, "big")

    def _maybe_rotate(self, now: float) -> None:
        if now - self._rotated_at < self._rotation:
            return
        # After a long idle period both secrets are replaced: a cookie older than two
        # rotation periods must not verify.
        if now - self._rotated_at >= 2 * self._rotation:
            self._previous = None
        else:
            self._previous = self._current
        self._current = self._new_secret()
        self._rotated_at = now

    def make(self, contents: CookieContents, now: float) -> bytes:
        """Serialize and sign ``contents`` (its ``created`` is taken as given)."""
        self._maybe_rotate(now)
        body = _BODY.pack(
            _VERSION,
            contents.local_tag,
            contents.peer_tag,
            contents.local_initial_tsn,
            contents.peer_initial_tsn,
            contents.outbound_streams,
            contents.inbound_streams,
            contents.peer_a_rwnd,
            contents.local_port,
            contents.peer_port,
            contents.local_tie_tag,
            contents.peer_tie_tag,
            contents.created,
            contents.lifetime,
            _FLAG_INTERLEAVING if contents.interleaving else 0,
        )
        addresses = [a for a in contents.peer_addresses[:MAX_COOKIE_ADDRESSES] if len(a) in (4, 16)]
        body += bytes((len(addresses),))
        body += b"".join(bytes((len(a),)) + a for a in addresses)
        body += contents.auth  # SCTP-AUTH key vectors (RFC 4895), variable length
        return body + hmac.new(self._current, body, hashlib.sha256).digest()

    def open(self, cookie: bytes, now: float) -> CookieContents:
        """Verify a cookie from a COOKIE ECHO and return its contents (§5.1.5).

        Raises:
            ForgedCookieError: wrong size, unknown version or a MAC that does not verify.
            StaleCookieError: the MAC verifies but the lifetime has passed.
        """
        self._maybe_rotate(now)
        size = len(cookie)
        if size < COOKIE_SIZE or size > COOKIE_SIZE + 17 * MAX_COOKIE_ADDRESSES + _MAX_AUTH:
            raise ForgedCookieError("State Cookie has the wrong size")
        body = bytes(cookie[: size - _MAC_SIZE])
        mac = bytes(cookie[size - _MAC_SIZE :])
        # §5.1.5 step 2: compare in constant time, against the current then previous secret.
        ok = hmac.compare_digest(mac, hmac.new(self._current, body, hashlib.sha256).digest())
        if not ok and self._previous is not None:
            ok = hmac.compare_digest(mac, hmac.new(self._previous, body, hashlib.sha256).digest())
        if not ok:
            raise ForgedCookieError("State Cookie MAC does not verify")
        (
            version,
            local_tag,
            peer_tag,
            local_tsn,
            peer_tsn,
            outbound,
            inbound,
            peer_a_rwnd,
            local_port,
            peer_port,
            local_tie_tag,
            peer_tie_tag,
            created,
            lifetime,
            flags,
        ) = _BODY.unpack_from(body)
        if version != _VERSION:
            raise ForgedCookieError("State Cookie has an unknown version")
        # Authenticated: only our own make() wrote what follows the fixed fields.
        addresses: list[bytes] = []
        count = body[_BODY.size]
        pos = _BODY.size + 1
        for _ in range(count):
            length = body[pos]
            addresses.append(body[pos + 1 : pos + 1 + length])
            pos += 1 + length
        contents = CookieContents(
            local_tag=local_tag,
            peer_tag=peer_tag,
            local_initial_tsn=local_tsn,
            peer_initial_tsn=peer_tsn,
            outbound_streams=outbound,
            inbound_streams=inbound,
            peer_a_rwnd=peer_a_rwnd,
            local_port=local_port,
            peer_port=peer_port,
            local_tie_tag=local_tie_tag,
            peer_tie_tag=peer_tie_tag,
            created=created,
            lifetime=lifetime,
            interleaving=bool(flags & _FLAG_INTERLEAVING),
            peer_addresses=tuple(addresses),
            auth=body[pos:],
        )
        # §5.1.5 step 3: compare the creation timestamp plus lifetime with the current time.
        expires = contents.created + contents.lifetime
        if now > expires:
            raise StaleCookieError(max(1, int((now - expires) * 1_000_000)), contents)
        return contents
