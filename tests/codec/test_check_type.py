"""check_type: what a channel's ``type=`` promises, with clear messages."""

from __future__ import annotations

import collections.abc
import dataclasses
import typing
import uuid
from typing import Annotated, Any, Literal, NewType, Optional, Union

import pytest

from netchan.codec import check_type
from tests.codec.helpers import Box, Color, Level, Point, Slotted

UserId = NewType("UserId", int)


@dataclasses.dataclass
class Job:
    n: int
    name: str
    tags: list[str] = dataclasses.field(default_factory=list)
    parent: Job | None = None
    when: Optional[float] = None  # noqa: UP045 - the old spelling is supported too
    callback: collections.abc.Callable[[int], int] | None = None


OK: list[tuple[Any, Any]] = [
    (1, int),
    (True, bool),
    (True, int),  # bool is an int, as isinstance says
    (1, float),  # PEP 484 numeric tower
    (1.5, float),
    (2, complex),
    (1.5, complex),
    (None, None),
    (None, type(None)),
    (None, int | None),
    (3, int | None),
    (3, Optional[int]),  # noqa: UP045
    ("x", Union[int, str]),  # noqa: UP007
    (object(), Any),
    (object(), object),
    ([1, 2], list[int]),
    ([], list[int]),
    ([[1], []], list[list[int]]),
    ((1, "a"), tuple[int, str]),
    ((1, 2, 3), tuple[int, ...]),
    ((), tuple[int, ...]),
    ((), tuple[()]),
    ({"a": 1}, dict[str, int]),
    ({(1, 2): [None]}, dict[tuple[int, int], list[None]]),
    ({1, 2}, set[int]),
    (frozenset({"a"}), frozenset[str]),
    ([1], collections.abc.Sequence[int]),
    ({"a": 1}, collections.abc.Mapping[str, int]),
    ([1, "a"], list),
    ([1], typing.List[int]),  # noqa: UP006
    ("red", Literal["red", "blue"]),
    (5, Annotated[int, "positive"]),
    (5, UserId),
    (Color.RED, Color),
    (Level.LOW, int),
    (uuid.UUID(int=1), uuid.UUID),
    (Point(1, 2), Point),
    (Box(Point(1, 2)), Box),
    (Slotted(a=1, b=[1]), Slotted),
    (Job(1, "a", ["t"], Job(2, "b"), 1), Job),
    (Job(1, "a", callback=lambda n: n), Job),
    ([lambda: 1], list[collections.abc.Callable[[], int]]),
]


@pytest.mark.parametrize(("value", "tp"), OK, ids=[repr(tp) for _, tp in OK])
def test_accepts(value: Any, tp: Any) -> None:
    check_type(value, tp)


BAD: list[tuple[Any, Any, str]] = [
    ({"n": 1}, Job, "expected Job, got dict"),
    ("1", int, "expected int, got str"),
    (True, float, "expected float, got bool"),
    (1j, float, "expected float, got complex"),
    (1, str, "expected str, got int"),
    (1, None, "expected None, got int"),
    ("x", int | None, "expected int | None, got str"),
    ([1, "2"], list[int], r"\[1\]: expected int, got str"),
    ((1, 2), list[int], "expected list\\[int\\], got tuple"),
    ([1], tuple[int, ...], "expected tuple\\[int, ...\\], got list"),
    ((1,), tuple[int, str], "got a tuple of 1 items"),
    ((1, 2), tuple[int, str], r"\[1\]: expected str, got int"),
    ({"a": "b"}, dict[str, int], r"\['a'\]: expected int, got str"),
    ({1: 1}, dict[str, int], r"\[1\] \(key\): expected str, got int"),
    ({1, "a"}, set[int], "expected int, got str"),
    ("green", Literal["red", "blue"], "expected Literal\\['red', 'blue'\\], got 'green'"),
    (1, Literal[True], "got 1"),
    ("5", UserId, "expected int, got str"),
    (1, Color, "expected Color, got int"),
    (Job("1", "a"), Job, r"Job\.n: expected int, got str"),  # type: ignore[arg-type]
    (Job(1, "a", [1]), Job, r"Job\.tags\[0\]: expected str, got int"),  # type: ignore[list-item]
    (Job(1, "a", parent=Job(1, 2)), Job, r"Job\.parent: expected Job \| None, got Job"),  # type: ignore[arg-type]
    (Box(1, label=2), Box, r"Box\.label: expected str, got int"),  # type: ignore[arg-type]
    ([Point(1, "y")], list[Point], r"\[0\]\.y: expected int, got str"),  # type: ignore[arg-type]
    (Slotted(a="1"), Slotted, r"Slotted\.a: expected int, got str"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("value", "tp", "message"), BAD, ids=[m for *_, m in BAD])
def test_refuses_with_clear_message(value: Any, tp: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        check_type(value, tp)


@pytest.mark.parametrize("tp", ["int", 3, typing.Protocol])
def test_unsupported_type_arguments(tp: Any) -> None:
    with pytest.raises(TypeError, match="cannot check"):
        check_type(1, tp)


def test_callable_is_checked_shallowly() -> None:
    check_type(len, collections.abc.Callable[[Any], int])
    with pytest.raises(TypeError, match=r"expected Callable\[\[int\], int\], got int"):
        check_type(1, collections.abc.Callable[[int], int])


@dataclasses.dataclass
class Node:
    children: list[Node]


def test_self_containing_value_is_refused_not_recursed_forever() -> None:
    node = Node([])
    node.children.append(node)
    with pytest.raises(TypeError, match="nested too deeply"):
        check_type(node, Node)
    check_type(Node([Node([])]), Node)


def test_unresolvable_annotations_are_skipped_not_fatal() -> None:
    class Local:
        pass

    @dataclasses.dataclass
    class Holder:
        item: Local  # a string annotation naming a local class: unresolvable later
        count: int

    assert isinstance(Holder.__annotations__["item"], str)
    check_type(Holder(Local(), 1), Holder)
    check_type(Holder("not checked", 1), Holder)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Holder\.count: expected int, got str"):
        check_type(Holder(Local(), "1"), Holder)  # type: ignore[arg-type]
