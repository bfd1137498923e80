"""SCTP-AUTH (RFC 4895) on the kernel's SCTP: the Linux socket options (RFC 6458 §8.1.20-26).

A keyed ``sctp://`` endpoint (``auth_keys`` option) enables AUTH on its socket
(SCTP_AUTH_SUPPORTED, Linux 5.5 and later; otherwise ``net.sctp.auth_enable=1`` must be
set), lists the chunks the peer must authenticate (SCTP_AUTH_CHUNK, the same list as the
userspace stack's), prefers HMAC-SHA256 (SCTP_HMAC_IDENT), installs its keys (SCTP_AUTH_KEY),
makes one active (SCTP_AUTH_ACTIVE_KEY) and deletes the kernel's default empty key 0
(SCTP_AUTH_DELETE_KEY), which would otherwise authenticate anyone.

Linux still sets up an association with a peer that offers no AUTH (it then just does not
authenticate); the endpoint checks every new association (SCTP_PEER_AUTH_CHUNKS fails with
EACCES for such a peer) and aborts it, as the userspace stack refuses it in the handshake.
Which key the peer uses is reported by SCTP_AUTHENTICATION_EVENT (SCTP_AUTH_NEW_KEY) when it
is not our active key.

The constants are Linux's (``<linux/sctp.h>``); FreeBSD's backend is not ported.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterable, Mapping

from ..sctp.auth import REQUIRED_CHUNKS
from ._ffi import ffi
from ._socket import SctpSocket

SCTP_AUTH_CHUNK = 21
SCTP_HMAC_IDENT = 22
SCTP_AUTH_KEY = 23
SCTP_AUTH_ACTIVE_KEY = 24
SCTP_AUTH_DELETE_KEY = 25
SCTP_PEER_AUTH_CHUNKS = 26
SCTP_AUTH_SUPPORTED = 129
#: SCTP_AUTHENTICATION_EVENT notification type and its SCTP_AUTH_NEW_KEY indication.
SCTP_AUTHENTICATION_EVENT = 0x8008
SCTP_AUTH_NEW_KEY = 0
_HMAC_SHA256, _HMAC_SHA1 = 3, 1
_FUTURE_ASSOC = 0
_COOKIE_ECHO = 10
#: The chunks a keyed kernel endpoint asks its peer to authenticate: the userspace stack's
#: list without COOKIE ECHO. Linux 6.1 listing COOKIE ECHO drops every authenticated COOKIE
#: ECHO it receives (kernel to kernel, and from netchan's stack, tested in the SCTP VM), so no
#: association could be set up. The cost: a peer holding another key gets an association on
#: the kernel side, in which every DATA, SACK, HEARTBEAT ACK... it sends is dropped (nothing
#: is delivered; the kernel gives up on it after its retransmissions).
KERNEL_REQUIRED_CHUNKS = tuple(c for c in REQUIRED_CHUNKS if c != _COOKIE_ECHO)

ffi.cdef(
    """
    struct sctp_authkey_head {
        sctp_assoc_t sca_assoc_id; uint16_t sca_keynumber; uint16_t sca_keylength;
    };
    struct sctp_authchunk { uint8_t sauth_chunk; };
    struct sctp_hmacalgo { uint32_t shmac_num_idents; uint16_t shmac_idents[2]; };
    struct sctp_authkeyid { sctp_assoc_t scact_assoc_id; uint16_t scact_keynumber; };
    struct sctp_authchunks {
        sctp_assoc_t gauth_assoc_id; uint32_t gauth_number_of_chunks; uint8_t gauth_chunks[256];
    };
    struct sctp_authkey_event {
        uint16_t auth_type; uint16_t auth_flags; uint32_t auth_length;
        uint16_t auth_keynumber; uint16_t auth_altkeynumber; uint32_t auth_indication;
        sctp_assoc_t auth_assoc_id;
    };
    """
)

#: The sizes the kernel expects (gcc, Linux 6.1 / x86_64): header parts of flexible structs.
EXPECTED_SIZES = {
    "struct sctp_authkey_head": 8,
    "struct sctp_authkeyid": 8,
    "struct sctp_authkey_event": 20,
}


#: Why a peer offering no AUTH is aborted (the userspace stack's words).
NO_AUTH = (
    "no SCTP-AUTH (RFC 4895) parameters: the sender has no key, and this endpoint requires one"
)


def check_options(keys: Mapping[int, bytes] | None, active: int | None) -> None:
    """Validate the ``auth_keys`` / ``auth_active_key`` options (ValueError)."""
    if keys is None:
        if active is not None:
            raise ValueError("auth_active_key needs auth_keys")
        return
    if not keys or not all(
        isinstance(k, int) and 0 <= k <= 0xFFFF and isinstance(v, bytes) and v
        for k, v in keys.items()
    ):
        raise ValueError("auth_keys maps identifiers 0..65535 to non-empty bytes")
    if active is not None and active not in keys:
        raise ValueError(f"auth_active_key {active} is not in auth_keys")


def active_key(keys: Mapping[int, bytes], active: int | None) -> int:
    """The key identifier to sign with: ``active``, else the smallest (as on udp://)."""
    return min(keys) if active is None else active


class Keyring:
    """A keyed endpoint's keys, changed on the socket (future associations) and on each live
    association: Linux copies the endpoint's keys into an association when it is set up."""

    def __init__(self, sock: SctpSocket, keys: Mapping[int, bytes], active: int | None) -> None:
        self._sock = sock
        self._keys = dict(keys)
        #: The identifier of the key our AUTH chunks use.
        self.active = active_key(keys, active)

    def add(self, key_id: int, key: bytes, live: Iterable[int]) -> None:
        """Add (or replace) a key."""
        if not 0 <= key_id <= 0xFFFF or not isinstance(key, bytes) or not key:
            raise ValueError("a key identifier is 0..65535 and a key non-empty bytes")
        add_key(self._sock, key_id, key)
        for kid in live:
            with contextlib.suppress(OSError):  # an association ending meanwhile
                add_key(self._sock, key_id, key, kid)
        self._keys[key_id] = key

    def set_active(self, key_id: int, live: Iterable[int]) -> None:
        """Sign with ``key_id`` from now on."""
        if key_id not in self._keys:
            raise KeyError(f"no shared key with identifier {key_id}")
        set_active_key(self._sock, key_id)
        for kid in live:
            with contextlib.suppress(OSError):
                set_active_key(self._sock, key_id, kid)
        self.active = key_id

    def remove(self, key_id: int, live: Iterable[int]) -> None:
        """Delete a key (not the active one)."""
        if key_id not in self._keys:
            raise KeyError(f"no shared key with identifier {key_id}")
        if key_id == self.active:
            raise ValueError("cannot remove the active key; set another active key first")
        delete_key(self._sock, key_id)
        for kid in live:
            with contextlib.suppress(OSError):
                delete_key(self._sock, key_id, kid)
        del self._keys[key_id]


def _key_id_struct(assoc_id: int, key_id: int) -> object:
    v = ffi.new("struct sctp_authkeyid *")
    v.scact_assoc_id = assoc_id
    v.scact_keynumber = key_id
    return v


def add_key(sock: SctpSocket, key_id: int, key: bytes, assoc_id: int = _FUTURE_ASSOC) -> None:
    """SCTP_AUTH_KEY: struct sctp_authkey {assoc id, key number, key length, key bytes}."""
    # The struct ends in a flexible array: its fixed head, then the key bytes.
    head = ffi.new("struct sctp_authkey_head *")
    head.sca_assoc_id = assoc_id
    head.sca_keynumber = key_id
    head.sca_keylength = len(key)
    raw = bytes(ffi.buffer(head)) + bytes(key)
    sock.setsockopt(SCTP_AUTH_KEY, ffi.from_buffer(raw), len(raw))


def set_active_key(sock: SctpSocket, key_id: int, assoc_id: int = _FUTURE_ASSOC) -> None:
    """SCTP_AUTH_ACTIVE_KEY: sign with ``key_id`` (new associations, or one association)."""
    sock.setsockopt(SCTP_AUTH_ACTIVE_KEY, _key_id_struct(assoc_id, key_id))


def delete_key(sock: SctpSocket, key_id: int, assoc_id: int = _FUTURE_ASSOC) -> None:
    """SCTP_AUTH_DELETE_KEY (the active key cannot be deleted)."""
    sock.setsockopt(SCTP_AUTH_DELETE_KEY, _key_id_struct(assoc_id, key_id))


def configure(sock: SctpSocket, keys: Mapping[int, bytes], active: int | None) -> None:
    """Turn a fresh socket into a keyed endpoint (before bind / listen), subscribed to
    SCTP_AUTHENTICATION_EVENT.

    Raises:
        OSError: the kernel refuses (no SCTP-AUTH: ``sysctl net.sctp.auth_enable=1`` on
            kernels before 5.5).
    """
    value = ffi.new("struct sctp_assoc_value *")
    value.assoc_id = _FUTURE_ASSOC
    value.assoc_value = 1
    try:
        sock.setsockopt(SCTP_AUTH_SUPPORTED, value)
    except OSError as exc:
        if exc.errno not in (errno.ENOPROTOOPT, errno.EINVAL):
            raise
        # Older kernels: AUTH follows net.sctp.auth_enable; the options below fail without.
    hmacs = ffi.new("struct sctp_hmacalgo *")
    hmacs.shmac_num_idents = 2
    hmacs.shmac_idents[0] = _HMAC_SHA256
    hmacs.shmac_idents[1] = _HMAC_SHA1
    sock.setsockopt(SCTP_HMAC_IDENT, hmacs)
    for chunk_type in KERNEL_REQUIRED_CHUNKS:
        chunk = ffi.new("struct sctp_authchunk *")
        chunk.sauth_chunk = chunk_type
        sock.setsockopt(SCTP_AUTH_CHUNK, chunk)
    for key_id, key in keys.items():
        add_key(sock, key_id, key)
    set_active_key(sock, active_key(keys, active))
    sock.subscribe(SCTP_AUTHENTICATION_EVENT)
    if 0 not in keys:
        # The kernel's default key 0 is empty: anyone could authenticate with it.
        delete_key(sock, 0)


def peer_capable(sock: SctpSocket, assoc_id: int) -> bool:
    """Whether the peer of association ``assoc_id`` negotiated AUTH (SCTP_PEER_AUTH_CHUNKS
    answers EACCES, or an empty list on older kernels, when it did not)."""
    v = ffi.new("struct sctp_authchunks *")
    v.gauth_assoc_id = assoc_id
    try:
        sock.getsockopt(SCTP_PEER_AUTH_CHUNKS, v)
    except OSError:
        return False
    return int(v.gauth_number_of_chunks) > 0


def decode_new_key(data: bytes) -> tuple[int, int] | None:
    """(association id, key number) of an SCTP_AUTH_NEW_KEY notification, else None."""
    if len(data) < ffi.sizeof("struct sctp_authkey_event"):
        return None
    v = ffi.cast("struct sctp_authkey_event *", ffi.from_buffer(data))
    if v.auth_type != SCTP_AUTHENTICATION_EVENT or v.auth_indication != SCTP_AUTH_NEW_KEY:
        return None
    return int(v.auth_assoc_id), int(v.auth_keynumber)
