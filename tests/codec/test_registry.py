"""Registered dataclasses and Enums: wire names, decorator forms, errors."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from typing import Any

import pytest

from netchan.codec import Codec, DecodeError, EncodeError, register, unregister
from netchan.codec._registry import by_name, default_name
from tests.codec.helpers import Box, Color, Level, Perm, Point, Positive, Slotted, same

CODEC = Codec()


@pytest.fixture
def cleanup() -> Iterator[list[type]]:
    """Classes registered inside a test are unregistered after it."""
    registered: list[type] = []
    yield registered
    for cls in registered:
        unregister(cls)


def test_nested_registered_values_round_trip() -> None:
    value = Box([Point(1, 2), {"c": Color.GREEN}, (Level.LOW, Perm.W | Perm.X)], label="x")
    back = CODEC.decode(CODEC.encode(value))
    assert same(back, value)
    assert type(back.content[0]) is Point


def test_int_enum_is_not_sent_as_int() -> None:
    back = CODEC.decode(CODEC.encode([Level.HIGH, 2]))
    assert back[0] is Level.HIGH
    assert type(back[1]) is int


def test_enum_travels_by_member_name() -> None:
    data = CODEC.encode(Color.GREEN)
    assert b"GREEN" in data and b"green" not in data


def test_flag_travels_by_value() -> None:
    assert CODEC.decode(CODEC.encode(Perm.R | Perm.W | Perm.X)) == Perm(7)
    assert CODEC.decode(CODEC.encode(Perm(0))) == Perm(0)


def test_dataclass_fields_travel_by_name() -> None:
    data = CODEC.encode(Point(1, 2))
    assert b"tests.codec.Point" in data and b"\xa1x" in data and b"\xa1y" in data


def test_post_init_runs_on_decode() -> None:
    assert CODEC.decode(CODEC.encode(Positive(5))) == Positive(5)


def test_init_false_fields_are_recomputed(cleanup: list[type]) -> None:
    @dataclasses.dataclass
    class Area:
        w: int
        h: int
        area: int = dataclasses.field(init=False)

        def __post_init__(self) -> None:
            self.area = self.w * self.h

    register(Area, "tests.codec.Area")
    cleanup.append(Area)
    back = CODEC.decode(CODEC.encode(Area(2, 3)))
    assert back.area == 6
    assert b"area" not in CODEC.encode(Area(2, 3))


def test_missing_field_with_default_is_filled(cleanup: list[type]) -> None:
    # A newer receiver with an extra defaulted field understands an older sender.
    @dataclasses.dataclass
    class V1:
        a: int

    @dataclasses.dataclass
    class V2:
        a: int
        b: str = "default"

    register(V1, "tests.codec.Versioned")
    data = CODEC.encode(V1(1))
    unregister(V1)
    register(V2, "tests.codec.Versioned")
    cleanup.append(V2)
    assert CODEC.decode(data) == V2(1, "default")


def test_decorator_forms(cleanup: list[type]) -> None:
    @register
    @dataclasses.dataclass
    class Plain:
        a: int

    @register(name="tests.codec.Named")
    @dataclasses.dataclass
    class Named:
        a: int

    class Shade(enum.Enum):
        DARK = 1

    assert register(Shade, "tests.codec.Shade") is Shade
    cleanup.extend([Plain, Named, Shade])
    assert by_name[default_name(Plain)].cls is Plain
    assert default_name(Plain).endswith("test_decorator_forms.<locals>.Plain")
    assert by_name["tests.codec.Named"].cls is Named
    for value in (Plain(1), Named(2), Shade.DARK):
        assert CODEC.decode(CODEC.encode(value)) == value


def test_register_same_class_twice_is_idempotent() -> None:
    register(Point, "tests.codec.Point")
    assert CODEC.decode(CODEC.encode(Point(0, 0))) == Point(0, 0)


def test_name_taken_by_another_class(cleanup: list[type]) -> None:
    @dataclasses.dataclass
    class Other:
        a: int

    with pytest.raises(ValueError, match="already registered"):
        register(Other, "tests.codec.Point")


def test_class_has_one_wire_name() -> None:
    with pytest.raises(ValueError, match="one wire name"):
        register(Point, "tests.codec.Point2")


def test_redefinition_replaces_the_old_class(cleanup: list[type]) -> None:
    # A module reloaded (or a notebook cell run again) defines a new class object with the
    # same module and qualname: it takes over the wire name.
    def define() -> type:
        @dataclasses.dataclass
        class Again:
            a: int

        return Again

    first, second = define(), define()
    register(first, "tests.codec.Again")
    register(second, "tests.codec.Again")
    cleanup.append(second)
    back = CODEC.decode(CODEC.encode(second(1)))
    assert type(back) is second
    with pytest.raises(EncodeError, match="not registered"):
        CODEC.encode(first(1))


@pytest.mark.parametrize("bad", [int, dict, object(), "Point", Point(1, 2)])
def test_register_refuses_non_dataclass_non_enum(bad: Any) -> None:
    with pytest.raises(TypeError, match="dataclass or an Enum"):
        register(bad)


def test_register_refuses_bad_names() -> None:
    @dataclasses.dataclass
    class Fine:
        a: int

    with pytest.raises(TypeError):
        register(Fine, "")
    with pytest.raises(TypeError):
        register(Fine, 42)  # type: ignore[call-overload]


def test_register_refuses_initvar_without_default() -> None:
    @dataclasses.dataclass
    class WithInitVar:
        a: int
        secret: dataclasses.InitVar[str]

    with pytest.raises(TypeError, match="InitVar"):
        register(WithInitVar, "tests.codec.WithInitVar")


def test_unregistered_dataclass_message() -> None:
    @dataclasses.dataclass
    class Job:
        n: int

    with pytest.raises(EncodeError, match=r"Job: dataclass not registered.*register"):
        CODEC.encode({"job": Job(1)})


def test_unregistered_enum_message() -> None:
    class Mood(enum.Enum):
        OK = 1

    with pytest.raises(EncodeError, match=r"Mood: Enum not registered.*register"):
        CODEC.encode([Mood.OK])


def test_subclass_of_registered_dataclass_is_not_registered() -> None:
    @dataclasses.dataclass(frozen=True)
    class Point3(Point):
        z: int = 0

    with pytest.raises(EncodeError, match="not registered"):
        CODEC.encode(Point3(1, 2, 3))


class Opaque:
    pass


class MyDict(dict[str, int]):
    pass


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (Opaque(), r"object of type .*Opaque: supported are"),
        (MyDict(a=1), r"MyDict: subclasses of dict"),
        (lambda: 1, r"object of type function"),
        (object, r"object of type type"),
        (range(3), r"object of type range"),
    ],
)
def test_unsupported_values_name_their_type(value: Any, pattern: str) -> None:
    with pytest.raises(EncodeError, match=pattern):
        CODEC.encode([1, {"deep": value}])


def test_encode_error_is_type_error() -> None:
    with pytest.raises(TypeError):
        CODEC.encode(Opaque())


def test_unknown_name_on_decode() -> None:
    data = CODEC.encode(Slotted(a=1))
    unregister(Slotted)
    try:
        with pytest.raises(DecodeError, match=r"unknown registered type 'tests\.codec\.Slotted'"):
            CODEC.decode(data)
    finally:
        register(Slotted, "tests.codec.Slotted")
    assert CODEC.decode(data) == Slotted(a=1)
