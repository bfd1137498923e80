"""Shared helpers of the codec tests: type-exact comparison and registered sample types."""

from __future__ import annotations

import dataclasses
import enum
import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from netchan.codec import register


def same(a: Any, b: Any) -> bool:
    """Equal *and* of the same types all the way down (``1 == 1.0 == True`` is not enough).

    Floats compare bitwise-ish (NaN equals NaN, -0.0 differs from 0.0), Decimals by their
    string, datetimes and times also by ``fold`` and UTC offset.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        # msgpack keeps map order and dicts keep insertion order: compare pairwise.
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, (set, frozenset)):
        if len(a) != len(b):
            return False
        return all(any(same(x, y) for y in b) for x in a)
    if isinstance(a, (datetime, time)):
        return (
            a.replace(tzinfo=None) == b.replace(tzinfo=None)
            and a.fold == b.fold
            and a.utcoffset() == b.utcoffset()
            and (a.tzinfo is None) == (b.tzinfo is None)
        )
    if isinstance(a, date):
        return a == b and isinstance(b, date)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, enum.Enum):
        return a is b
    equal: bool = a == b
    return equal


@register(name="tests.codec.Point")
@dataclasses.dataclass(frozen=True)
class Point:
    """A frozen registered dataclass (hashable: can be a dict key or set item)."""

    x: int
    y: int


@register(name="tests.codec.Box")
@dataclasses.dataclass
class Box:
    """A mutable registered dataclass holding any value."""

    content: Any
    label: str = "box"


@register(name="tests.codec.Slotted")
@dataclasses.dataclass(slots=True, kw_only=True)
class Slotted:
    """Slots and keyword-only fields."""

    a: int
    b: list[int] = dataclasses.field(default_factory=list)


@register(name="tests.codec.Positive")
@dataclasses.dataclass(frozen=True)
class Positive:
    """A dataclass that validates in ``__post_init__`` (runs again on the receiving side)."""

    n: int

    def __post_init__(self) -> None:
        if not 0 < self.n < 1000:
            raise ValueError(f"n out of range: {self.n}")


@register(name="tests.codec.Color")
class Color(enum.Enum):
    """A plain Enum with mixed-type values."""

    RED = 1
    GREEN = "green"
    BLUE = (0, 0, 255)


@register(name="tests.codec.Level")
class Level(enum.IntEnum):
    """An IntEnum (an int subclass: must not travel as a plain int)."""

    LOW = 1
    HIGH = 2


@register(name="tests.codec.Perm")
class Perm(enum.Flag):
    """A Flag: combinations travel by value."""

    R = 4
    W = 2
    X = 1
