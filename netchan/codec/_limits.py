"""Limits of the value codec (sizes, nesting, items), enforced on both encode and decode."""

from __future__ import annotations

from dataclasses import dataclass

# msgpack's packer refuses ~511 levels and its unpacker 1024 (the depth check relies on the
# latter). 200 leaves room for code that later walks a value recursively (repr, ==,
# check_type) even when called deep inside a trio task.
MAX_DEPTH_CEILING = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class CodecLimits:
    """How big a value may be, so that a peer cannot make us allocate or recurse without bound.

    Checked when decoding (the bytes come from the network) and when encoding (so the sender
    gets a clear :class:`EncodeLimitError` instead of the receiver a silent drop).

    Both limits on structure are defined on the encoding, so that every implementation
    counts the same way (docs/codec.md):

    Attributes:
        max_size: largest encoded value in bytes. Decoded objects can take more memory than
            their encoding (an empty list is 1 byte on the wire and ~56 bytes in CPython), so
            this also bounds memory at roughly 60 x ``max_size`` in the worst case.
        max_depth: deepest nesting of msgpack arrays and maps. A scalar has depth 0,
            ``[1, 2]`` and ``(1, 2)`` depth 1, ``{"a": [1]}`` depth 2; a registered
            dataclass adds 2 (an array holding its field map), an Enum member 1, a channel
            reference 1 plus its description. At most ``MAX_DEPTH_CEILING`` (200).
        max_items: most elements in one msgpack array or entries in one map. Tuples, sets
            and frozensets spend one element on their marker, so they hold at most
            ``max_items - 1`` items. ``None``: bounded only by ``max_size`` (msgpack's own
            check that a declared length fits in the bytes received). At least 3, the
            array of a registered type.
    """

    max_size: int = 16 * 1024 * 1024
    max_depth: int = 64
    max_items: int | None = None

    def __post_init__(self) -> None:
        if type(self.max_size) is not int or self.max_size < 1:
            raise ValueError(f"max_size must be a positive int, got {self.max_size!r}")
        if type(self.max_depth) is not int or not 1 <= self.max_depth <= MAX_DEPTH_CEILING:
            raise ValueError(
                f"max_depth must be an int in 1..{MAX_DEPTH_CEILING}, got {self.max_depth!r}"
            )
        if self.max_items is not None and (type(self.max_items) is not int or self.max_items < 3):
            raise ValueError(f"max_items must be None or an int >= 3, got {self.max_items!r}")
