"""A node's shared keys (``open_node(key=...)`` / ``keys={...}``), SCTP-AUTH underneath.

Keys become the endpoint's SCTP-AUTH (RFC 4895) endpoint pair shared keys, so a peer without
one of them cannot set up an association at all, and every DATA and SACK it sends is
authenticated (docs/security.md). Named keys are principals: an export's ``allow`` set names
the keys whose holders may open it, and the node learns which key a peer holds from the
Shared Key Identifier of the peer's AUTH chunks (``Association.peer_key_id``).

Both sides must agree on the identifier of a key without configuring it: it is derived from
the key (16 bits of a SHA-256 of it, under a label), so ``key=k`` on a client and
``keys={"workers": k, ...}`` on a server name the same key. The identifier reveals nothing
usable about a key of at least 16 random bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

#: The shortest key accepted (bytes): 128 bits.
MIN_KEY_SIZE = 16
_LABEL = b"netchan shared key identifier\x00"
_SINGLE = "default"


def key_id(key: bytes) -> int:
    """The SCTP-AUTH Shared Key Identifier netchan uses for ``key`` (both sides derive it)."""
    return int.from_bytes(hashlib.sha256(_LABEL + key).digest()[:2], "big")


def _check_key(name: str, key: object) -> bytes:
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"key {name!r} must be bytes, not {type(key).__name__}")
    if len(key) < MIN_KEY_SIZE:
        raise ValueError(
            f"key {name!r} has {len(key)} bytes; at least {MIN_KEY_SIZE} are required "
            "(e.g. secrets.token_bytes(32))"
        )
    return bytes(key)


class NodeKeys:
    """The keys of a node: by name, with their SCTP-AUTH identifiers.

    Attributes:
        by_id: key identifier -> (name, key).
        active: the identifier our AUTH chunks use (the first key given, until ``use``).
    """

    __slots__ = ("active", "by_id")

    def __init__(self, by_id: dict[int, tuple[str, bytes]], active: int) -> None:
        self.by_id = by_id
        self.active = active

    def check_new(self, name: str, key: object) -> tuple[int, bytes]:
        """The identifier and bytes of a key to add under ``name`` (ValueError, TypeError)."""
        if not isinstance(name, str) or not name:
            raise TypeError("key names are non-empty strings")
        if name in self.names:
            raise ValueError(f"the node already holds a key named {name!r}")
        checked = _check_key(name, key)
        kid = key_id(checked)
        if kid in self.by_id:
            raise ValueError(
                f"keys {self.by_id[kid][0]!r} and {name!r} are the same key or share an "
                "identifier; use another key"
            )
        return kid, checked

    def id_of(self, name: str) -> int:
        """The identifier of the key named ``name`` (KeyError if the node has none)."""
        for kid, (held, _) in self.by_id.items():
            if held == name:
                return kid
        raise KeyError(f"the node holds no key named {name!r}")

    @classmethod
    def from_arguments(cls, key: bytes | None, keys: Mapping[str, bytes] | None) -> NodeKeys | None:
        """Check ``open_node``'s ``key`` / ``keys`` arguments; None when neither is given.

        Raises:
            ValueError: both given, an empty ``keys``, a key shorter than 16 bytes, two
                keys with the same identifier (or the same key twice).
            TypeError: a key that is not bytes, a name that is not a string.
        """
        if key is not None and keys is not None:
            raise ValueError("give key= or keys=, not both")
        if key is not None:
            named: Mapping[str, Any] = {_SINGLE: key}
        elif keys is not None:
            if not isinstance(keys, Mapping) or not keys:
                raise ValueError("keys= must be a non-empty mapping of names to keys")
            named = keys
        else:
            return None
        by_id: dict[int, tuple[str, bytes]] = {}
        for name, value in named.items():
            if not isinstance(name, str) or not name:
                raise TypeError("key names are non-empty strings")
            checked = _check_key(name, value)
            kid = key_id(checked)
            if kid in by_id:
                raise ValueError(
                    f"keys {by_id[kid][0]!r} and {name!r} are the same key or share an "
                    "identifier; use another key"
                )
            by_id[kid] = (name, checked)
        return cls(by_id, next(iter(by_id)))

    @property
    def names(self) -> frozenset[str]:
        """The names of the keys."""
        return frozenset(name for name, _ in self.by_id.values())

    def transport_options(self) -> dict[str, Any]:
        """The ``open_endpoint`` options giving the endpoint these keys (both backends)."""
        return {
            "auth_keys": {kid: key for kid, (_, key) in self.by_id.items()},
            "auth_active_key": self.active,
        }

    def name_of(self, kid: int | None) -> str | None:
        """The name of the key with identifier ``kid`` (None: unknown or no key)."""
        if kid is None:
            return None
        entry = self.by_id.get(kid)
        return entry[0] if entry is not None else None
