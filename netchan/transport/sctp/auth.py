"""SCTP-AUTH (RFC 4895): shared keys, key vectors, association keys, signing and checking.

An endpoint configured with shared keys (``Options.auth_keys``) *requires* authentication:

- its INIT and INIT ACK carry RANDOM, CHUNKS and HMAC-ALGO (§3) and list AUTH in Supported
  Extensions (RFC 5061 §4.2.7); an INIT or INIT ACK without RANDOM and HMAC-ALGO is refused
  with ABORT (a peer without AUTH support cannot associate);
- it asks the peer to authenticate :data:`REQUIRED_CHUNKS` (DATA, I-DATA, SACK, HEARTBEAT(-ACK),
  ABORT, SHUTDOWN(-ACK), ERROR, COOKIE ECHO, COOKIE ACK): such a chunk that does not follow a
  verifying AUTH chunk is dropped and counted (§6.3). COOKIE ECHO being on the list, a peer
  holding another key never gets an association: its AUTH (placed before the COOKIE ECHO,
  §6.2) is checked as soon as the cookie gives the key vectors (§6.3);
- it authenticates every packet that carries a chunk type the peer listed in its CHUNKS.

The association shared key (§6.1) is the endpoint pair shared key followed by the two key
vectors (each side's RANDOM, CHUNKS and HMAC-ALGO parameters as sent, in that order),
numerically smaller vector first. Keys are identified by a 16-bit Shared Key Identifier; the
:class:`AuthKeys` store of an endpoint holds several, one of them active for sending: add a
key on both sides, switch the active key, remove the old one, all without a restart. A
receiver accepts any key it holds.

Pure computation: no clock, no I/O. HMAC-SHA256 (identifier 3) is preferred; HMAC-SHA1
(identifier 1) is listed too, as §3.3 requires.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .counters import DropCounter
from .packet import (
    AUTH_CHUNK_TYPE,
    HMAC_SHA1,
    HMAC_SHA256,
    AbortChunk,
    AuthChunk,
    Chunk,
    ChunkListParameter,
    CookieEchoChunk,
    ErrorChunk,
    HmacAlgorithmParameter,
    InitAckChunk,
    InitChunk,
    Parameter,
    ProtocolViolationCause,
    RandomParameter,
    UnsupportedHmacIdentifierCause,
    parse_parameters,
    serialize_packet,
)
from .packet._base import CHUNK_HEADER, join_tlvs

__all__ = [
    "HMAC_ALGORITHMS",
    "RANDOM_SIZE",
    "REQUIRED_CHUNKS",
    "AssociationAuth",
    "AuthKeys",
    "AuthParams",
    "association_key",
    "auth_refusal",
]

#: Bytes of our RANDOM parameter's number (§3.1: 32 bytes).
RANDOM_SIZE = 32
#: HMAC identifier -> hash constructor (§3.3, §8 IANA registry).
HMAC_ALGORITHMS: dict[int, Callable[..., Any]] = {
    HMAC_SHA256: hashlib.sha256,
    HMAC_SHA1: hashlib.sha1,
}
_HMAC_SIZES = {HMAC_SHA256: 32, HMAC_SHA1: 20}
#: Most HMAC identifiers accepted in a peer's HMAC-ALGO (the registry holds four).
MAX_HMAC_IDS = 16
#: Our HMAC-ALGO list, preferred first; SHA-1 must be listed (§3.3).
LOCAL_HMAC_IDS = (HMAC_SHA256, HMAC_SHA1)
#: Chunk types a keyed endpoint asks its peer to authenticate (our CHUNKS parameter).
REQUIRED_CHUNKS = (0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 64)
#: §3.2: INIT, INIT ACK, SHUTDOWN COMPLETE and AUTH are never authenticated.
_NEVER_AUTHENTICATED = frozenset({1, 2, 14, AUTH_CHUNK_TYPE})
_COOKIE_ECHO = 10
_ABORT = 6
_KEY_IDS = struct.Struct("!HH")
_VECTOR_LENGTH = struct.Struct("!H")


class AuthKeys:
    """An endpoint's endpoint pair shared keys by Shared Key Identifier (RFC 4895 §6.1),
    one of them active (used for sending).

    Changes apply to existing associations at once: rotation is ``add_key`` on both peers,
    ``set_active_key`` on both, then ``remove_key`` of the old identifier.
    """

    __slots__ = ("_active", "_keys", "generation")

    def __init__(self, keys: Mapping[int, bytes], active: int | None = None) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._keys: dict[int, bytes] = {}
        #: Bumped on every change, so associations drop the keys they derived.
        self.generation = 0
        for key_id, key in keys.items():
            self.add_key(key_id, key)
        chosen = min(self._keys) if active is None else active
        if chosen not in self._keys:
            raise ValueError(f"active key {active} is not among the keys")
        self._active = chosen

    @property
    def active_key_id(self) -> int:
        """The identifier of the key our AUTH chunks use."""
        return self._active

    @property
    def key_ids(self) -> tuple[int, ...]:
        """Identifiers of the keys held, sorted."""
        return tuple(sorted(self._keys))

    def key(self, key_id: int) -> bytes | None:
        """The endpoint pair shared key with this identifier, or None."""
        return self._keys.get(key_id)

    def add_key(self, key_id: int, key: bytes) -> None:
        """Add (or replace) a key; peers' AUTH chunks may use it from now on."""
        if not 0 <= key_id <= 0xFFFF:
            raise ValueError(f"shared key identifier must be in 0..65535, got {key_id}")
        if not isinstance(key, (bytes, bytearray)) or not key:
            raise ValueError("a shared key is non-empty bytes")
        self._keys[key_id] = bytes(key)
        self.generation += 1

    def set_active_key(self, key_id: int) -> None:
        """Sign what we send with this key from now on."""
        if key_id not in self._keys:
            raise KeyError(f"no shared key with identifier {key_id}")
        self._active = key_id
        self.generation += 1

    def remove_key(self, key_id: int) -> None:
        """Forget a key: AUTH chunks using it are dropped from now on.

        Raises:
            KeyError: no such key.
            ValueError: it is the active key (switch first, as Linux requires too).
        """
        if key_id not in self._keys:
            raise KeyError(f"no shared key with identifier {key_id}")
        if key_id == self._active:
            raise ValueError("cannot remove the active key; set another active key first")
        del self._keys[key_id]
        self.generation += 1


@dataclass(frozen=True, slots=True)
class AuthParams:
    """One side's RANDOM, CHUNKS and HMAC-ALGO (RFC 4895 §3) and its key vector (§6.1).

    Attributes:
        random: the RANDOM number.
        chunks: chunk types this side wants authenticated (empty: no CHUNKS parameter).
        hmac_ids: the HMAC identifiers it accepts, preferred first.
    """

    random: bytes
    chunks: tuple[int, ...]
    hmac_ids: tuple[int, ...]

    @classmethod
    def local(cls, rng_bytes: Callable[[int], bytes]) -> AuthParams:
        """Ours: a fresh 32-byte RANDOM, :data:`REQUIRED_CHUNKS`, SHA-256 then SHA-1."""
        return cls(rng_bytes(RANDOM_SIZE), REQUIRED_CHUNKS, LOCAL_HMAC_IDS)

    def parameters(self) -> list[Parameter]:
        """The three parameters, in key vector order (RANDOM, CHUNKS, HMAC-ALGO)."""
        params: list[Parameter] = [RandomParameter(self.random)]
        if self.chunks:
            params.append(ChunkListParameter(self.chunks))
        params.append(HmacAlgorithmParameter(self.hmac_ids))
        return params

    @property
    def vector(self) -> bytes:
        """The key vector (§6.1): the parameters as sent, without padding, concatenated."""
        return b"".join(p.serialize() for p in self.parameters())

    def padded_parameters(self) -> bytes:
        """The parameters with padding between them, as in a chunk (for the cookie)."""
        return join_tlvs(tuple(self.parameters()))

    @classmethod
    def from_padded(cls, data: bytes) -> AuthParams | None:
        """Rebuild from :meth:`padded_parameters` (a cookie of ours); None if malformed."""
        try:
            found = cls.find(parse_parameters(data))
        except ValueError:
            return None
        return found if isinstance(found, AuthParams) else None

    @classmethod
    def find(cls, parameters: Iterable[Parameter]) -> AuthParams | str:
        """The AUTH parameters among an INIT's or INIT ACK's, or why they are unusable."""
        random: bytes | None = None
        chunks: tuple[int, ...] = ()
        hmac_ids: tuple[int, ...] | None = None
        for param in parameters:
            if isinstance(param, RandomParameter):
                random = param.random
            elif isinstance(param, ChunkListParameter):
                chunks = param.chunk_types
            elif isinstance(param, HmacAlgorithmParameter):
                hmac_ids = param.hmac_ids
        if random is None or hmac_ids is None:
            return (
                "no SCTP-AUTH (RFC 4895) parameters: the sender has no key, "
                "and this endpoint requires one"
            )
        if len(random) != RANDOM_SIZE:
            # §6.1: a RANDOM of another length than 32 bytes aborts the association.
            return f"the peer's RANDOM parameter has {len(random)} bytes, not {RANDOM_SIZE}"
        if len(hmac_ids) > MAX_HMAC_IDS:
            # Both key vectors travel in our State Cookie, whose size is bounded.
            return f"the peer's HMAC-ALGO parameter lists {len(hmac_ids)} identifiers (> 16)"
        if HMAC_SHA1 not in hmac_ids:
            # §3.3: every implementation must list SHA-1.
            return "the peer's HMAC-ALGO parameter does not list HMAC-SHA1 (RFC 4895 §3.3)"
        return cls(random, chunks, hmac_ids)


def association_key(shared_key: bytes, vector_a: bytes, vector_b: bytes) -> bytes:
    """The association shared key (RFC 4895 §6.1).

    The endpoint pair shared key, then the numerically smaller key vector (network byte
    order), then the larger; vectors equal as numbers go shorter first (and identical ones in
    either order, which gives the same bytes).
    """
    first, second = sorted((vector_a, vector_b), key=lambda v: (int.from_bytes(v, "big"), len(v)))
    return shared_key + first + second


def auth_refusal(chunk: InitChunk | InitAckChunk) -> tuple[AuthParams | None, AbortChunk | None]:
    """For a keyed endpoint: the peer's AUTH parameters, or the ABORT refusing it.

    The ABORT carries a Protocol Violation cause naming the reason, so that the refused
    side's user reads why ("no SCTP-AUTH (RFC 4895) parameters ...").
    """
    found = AuthParams.find(chunk.parameters)
    if isinstance(found, AuthParams):
        return found, None
    cause = ProtocolViolationCause(found.encode())
    return None, AbortChunk(causes=(cause,))


class _Raw(Chunk):
    """Chunks already serialized, as parts (what an AUTH chunk covers), for
    ``serialize_packet``: the parts are joined once, with the rest of the packet."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[bytes | memoryview]) -> None:
        self.parts = parts

    def serialized_size(self) -> int:
        return sum(len(p) for p in self.parts)

    def write(self, out: list[bytes | memoryview]) -> None:
        out.extend(self.parts)


class AssociationAuth:
    """An association's SCTP-AUTH state: both sides' parameters and the keys derived.

    Attributes:
        local, peer: each side's RANDOM, CHUNKS and HMAC-ALGO.
        keys: the endpoint's key store (shared: rotation reaches every association).
        send_hmac_id: the HMAC we sign with: the first of the peer's list we support (§6.1).
        overhead: bytes an AUTH chunk adds to a packet.
        peer_key_id: the Shared Key Identifier of the last AUTH chunk from the peer that
            verified (None before one did): which key the peer holds.
    """

    __slots__ = (
        "_generation",
        "_macs",
        "_peer_used",
        "_setup_active",
        "keys",
        "local",
        "overhead",
        "peer",
        "peer_key_id",
        "peer_requires",
        "send_hmac_id",
        "we_require",
    )

    def __init__(self, keys: AuthKeys, local: AuthParams, peer: AuthParams) -> None:
        self.keys = keys
        self.local = local
        self.peer = peer
        self.send_hmac_id = next(h for h in peer.hmac_ids if h in HMAC_ALGORITHMS)
        self.overhead = 8 + _HMAC_SIZES[self.send_hmac_id]
        self.peer_requires = frozenset(peer.chunks) - _NEVER_AUTHENTICATED
        self.we_require = frozenset(local.chunks) - _NEVER_AUTHENTICATED
        self.peer_key_id: int | None = None
        # Key ids the peer's AUTH chunks used, and our active key when the association began
        # (see send_key_id).
        self._peer_used: set[int] = set()
        self._setup_active = keys.active_key_id
        self._macs: dict[tuple[int, int], Any] = {}
        self._generation = keys.generation

    @property
    def send_key_id(self) -> int:
        """The Shared Key Identifier our AUTH chunks use now.

        Our active key, except when it is still the one we started with, the peer has never
        used it and the peer's key is one we hold: then the peer's key. An endpoint holding
        several keys (one per group of peers) so answers each peer with the key that peer
        holds; a key made active later (rotation) is used from then on.
        """
        active = self.keys.active_key_id
        peer = self.peer_key_id
        if (
            peer is None
            or peer == active
            or active != self._setup_active
            or active in self._peer_used
            or self.keys.key(peer) is None
        ):
            return active
        return peer

    # ------------------------------------------------------------------ State Cookie

    def cookie_bytes(self) -> bytes:
        """Both key vectors, for the State Cookie (the passive side keeps no state, §5.1.3)."""
        local = self.local.padded_parameters()
        return _VECTOR_LENGTH.pack(len(local)) + local + self.peer.padded_parameters()

    @classmethod
    def from_cookie(cls, keys: AuthKeys, data: bytes) -> AssociationAuth | None:
        """Rebuild from :meth:`cookie_bytes` (a cookie we signed); None if malformed."""
        if len(data) < 2:
            return None
        (n,) = _VECTOR_LENGTH.unpack_from(data)
        local = AuthParams.from_padded(data[2 : 2 + n])
        peer = AuthParams.from_padded(data[2 + n :])
        if local is None or peer is None:
            return None
        return cls(keys, local, peer)

    # ------------------------------------------------------------------ keys

    def _mac(self, key_id: int, hmac_id: int) -> Any:
        """A keyed HMAC object (copied per packet) for this key and algorithm, or None."""
        if self._generation != self.keys.generation:
            self._macs.clear()
            self._generation = self.keys.generation
        mac = self._macs.get((key_id, hmac_id))
        if mac is None:
            shared = self.keys.key(key_id)
            if shared is None:
                return None
            key = association_key(shared, self.local.vector, self.peer.vector)
            mac = hmac.new(key, digestmod=HMAC_ALGORITHMS[hmac_id])
            self._macs[(key_id, hmac_id)] = mac
        return mac

    # ------------------------------------------------------------------ sending

    def needs_auth(self, chunks: list[Chunk]) -> bool:
        """Whether a packet of these chunks carries one the peer wants authenticated."""
        requires = self.peer_requires
        return any(chunk.chunk_type in requires for chunk in chunks)

    def serialize(self, src_port: int, dst_port: int, vtag: int, chunks: list[Chunk]) -> bytes:
        """The packet, with an AUTH chunk when the peer asks for one of its chunks (§6.2).

        The AUTH chunk goes first (before a COOKIE ECHO the peer wants authenticated, §6.2),
        or right after a COOKIE ECHO it does not; the HMAC covers the AUTH chunk with a
        zeroed HMAC field and every chunk after it, as sent.
        """
        if not self.needs_auth(chunks):
            return serialize_packet(src_port, dst_port, vtag, chunks)
        first = chunks[0]
        at = (
            1
            if isinstance(first, CookieEchoChunk) and _COOKIE_ECHO not in self.peer_requires
            else 0
        )
        parts: list[bytes | memoryview] = []
        for chunk in chunks[at:]:
            chunk.write(parts)
        key_id = self.send_key_id
        hmac_id = self.send_hmac_id
        size = _HMAC_SIZES[hmac_id]
        header = CHUNK_HEADER.pack(AUTH_CHUNK_TYPE, 0, 8 + size) + _KEY_IDS.pack(key_id, hmac_id)
        mac = self._mac(key_id, hmac_id).copy()
        mac.update(header)
        mac.update(bytes(size))
        update = mac.update
        for part in parts:
            update(part)
        auth = _Raw([header + mac.digest()])
        return serialize_packet(src_port, dst_port, vtag, [*chunks[:at], auth, _Raw(parts)])

    # ------------------------------------------------------------------ receiving

    def verify(self, chunk: AuthChunk) -> str | None:
        """None when the AUTH chunk's HMAC verifies (§6.3), else the drop reason."""
        hmac_id = chunk.hmac_id
        if hmac_id not in self.local.hmac_ids or hmac_id not in HMAC_ALGORITHMS:
            return "auth_unsupported_hmac"
        mac = self._mac(chunk.shared_key_id, hmac_id)
        if mac is None:
            return "auth_unknown_key"
        covered = chunk.covered_parts()
        if len(chunk.hmac) != _HMAC_SIZES[hmac_id] or not covered:
            return "auth_bad_hmac"
        mac = mac.copy()
        for part in covered:
            mac.update(part)
        if not hmac.compare_digest(mac.digest(), chunk.hmac):
            return "auth_bad_hmac"
        self.peer_authenticated(chunk.shared_key_id)
        return None

    def peer_authenticated(self, key_id: int) -> None:
        """An AUTH chunk of the peer using ``key_id`` verified."""
        self.peer_key_id = key_id
        self._peer_used.add(key_id)

    def filter(
        self, chunks: list[Chunk], start: int, drops: DropCounter, *, setup: bool = False
    ) -> tuple[list[Chunk], ErrorChunk | None]:
        """The chunks of ``chunks[start:]`` to process, and an ERROR to send back, if any.

        §6.3: a chunk we require to be authenticated and not preceded by an AUTH chunk that
        verifies is dropped (counted as ``auth_missing``); an AUTH chunk that does not verify
        is dropped with every chunk after it (``auth_bad_hmac``, ``auth_unknown_key``), and
        one using an HMAC we did not offer also gets an Unsupported HMAC Identifier ERROR
        (§4.1, ``auth_unsupported_hmac``). With ``setup`` (COOKIE-ECHOED: no authenticated
        chunk arrived from this peer yet) an ABORT is accepted unauthenticated: a peer that
        refuses our key can only say so that way (it must carry our verification tag, so
        only an on-path attacker could forge it, who can stop the setup anyway).
        """
        error: ErrorChunk | None = None
        first = chunks[start] if start < len(chunks) else None
        if isinstance(first, AuthChunk):
            # The usual packet: AUTH first, covering all the rest (a second AUTH chunk in
            # it is then handled as a misplaced chunk type would be).
            reason = self.verify(first)
            if reason is None:
                return chunks[start + 1 :], None
            drops.add(reason)
            if reason == "auth_unsupported_hmac":
                error = ErrorChunk(causes=(UnsupportedHmacIdentifierCause(first.hmac_id),))
            return [], error
        out: list[Chunk] = []
        required = self.we_require
        authenticated = False
        for index in range(start, len(chunks)):
            chunk = chunks[index]
            if isinstance(chunk, AuthChunk):
                if authenticated:
                    continue  # a second AUTH chunk adds nothing
                reason = self.verify(chunk)
                if reason is not None:
                    drops.add(reason)
                    if reason == "auth_unsupported_hmac":
                        cause = UnsupportedHmacIdentifierCause(chunk.hmac_id)
                        error = ErrorChunk(causes=(cause,))
                    break
                authenticated = True
            elif (
                authenticated
                or chunk.chunk_type not in required
                or (setup and chunk.chunk_type == _ABORT)
            ):
                out.append(chunk)
            else:
                drops.add("auth_missing")
        return out, error
