"""Values <-> bytes for netchan: msgpack with ext types, registered types and limits.

The channel layer encodes every value it sends with a :class:`Codec` and decodes what it
receives with one; channel ends inside values travel as references through the codec's
``encode_ref``/``decode_ref`` hooks. The codec itself is pure (no I/O, no nodes): bytes in,
values out. Wire format: docs/codec.md.

Example::

    from dataclasses import dataclass
    from netchan.codec import Codec, register

    @register
    @dataclass
    class Job:
        n: int

    codec = Codec()
    value = {"job": Job(4), "at": (1, 2)}
    assert codec.decode(codec.encode(value)) == value
"""

from __future__ import annotations

from ._codec import Codec
from ._errors import CodecError, DecodeError, EncodeError, EncodeLimitError
from ._ext import ExtCode
from ._gather import Gathered
from ._limits import CodecLimits
from ._registry import register, unregister
from ._scatter import Scattered
from ._typecheck import check_type

__all__ = [
    "Codec",
    "CodecError",
    "CodecLimits",
    "DecodeError",
    "EncodeError",
    "EncodeLimitError",
    "ExtCode",
    "Gathered",
    "Scattered",
    "check_type",
    "register",
    "unregister",
]
