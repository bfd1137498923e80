"""Exceptions of the value codec.

Two kinds, as in the rest of netchan: :class:`EncodeError` means the *caller* handed us a value
we cannot put on the wire (a ``TypeError``: wrong kind of value), :class:`DecodeError` means the
*bytes* are bad (a ``ValueError``: they came from a peer, maybe a hostile one). Decoding never
lets any other exception out, so a node can catch exactly one class around ``decode``.
"""

from __future__ import annotations


class CodecError(Exception):
    """Base class of codec errors."""


class EncodeError(CodecError, TypeError):
    """A value cannot be encoded: unsupported or unregistered type, or a limit is exceeded.

    The message names the offending type and, for dataclasses and Enums, says how to
    register it.
    """


class EncodeLimitError(EncodeError, ValueError):
    """The value is supported but too big or too deeply nested for the codec's limits.

    Also a ``ValueError``: the type is fine, the size is not (see :class:`CodecLimits`).
    """


class DecodeError(CodecError, ValueError):
    """Bytes that do not decode to a value: malformed msgpack, unknown ext type or registered
    name, a limit exceeded, or a registered type that refused its fields.

    The original exception, when there was one, is attached as ``__cause__``.
    """
