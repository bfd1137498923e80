"""Registered types: dataclasses and Enums that travel by a stable wire name.

Decoding never imports anything named by the peer: a name on the wire is only looked up in
this registry, filled by the program itself with :func:`register`. An unknown name is a
``DecodeError``.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

T = TypeVar("T", bound=type)


@dataclass(frozen=True, slots=True)
class Registered:
    """What the codec knows about one registered type."""

    cls: type
    name: str
    kind: str  # "dataclass", "enum" or "flag"
    fields: tuple[str, ...]  # dataclass fields set by __init__, in definition order
    field_set: frozenset[str]


_lock = threading.Lock()
by_name: dict[str, Registered] = {}
by_class: dict[type, Registered] = {}
dataclass_types: frozenset[type] = frozenset()  # the registered dataclasses, for fast lookups


def default_name(cls: type) -> str:
    """The wire name a class gets when none is given: ``module.qualname``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(cls: type, name: str) -> Registered:
    if issubclass(cls, enum.Enum):
        kind = "flag" if issubclass(cls, enum.Flag) else "enum"
        return Registered(cls, name, kind, (), frozenset())
    if dataclasses.is_dataclass(cls):
        init_fields = tuple(f.name for f in dataclasses.fields(cls) if f.init)
        # Decoding calls cls(**fields); every required __init__ parameter must be a field
        # we carry (an InitVar without default would make every decode fail).
        try:
            params = inspect.signature(cls).parameters.values()
        except (TypeError, ValueError):  # pragma: no cover - exotic metaclasses
            params = ()  # type: ignore[assignment]
        for p in params:
            if (
                p.name not in init_fields
                and p.default is inspect.Parameter.empty
                and p.kind
                in (
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    inspect.Parameter.KEYWORD_ONLY,
                )
            ):
                raise TypeError(
                    f"cannot register {cls.__qualname__}: __init__ parameter {p.name!r} is "
                    "not a field (InitVar without default); the codec rebuilds instances "
                    "from their fields only"
                )
        return Registered(cls, name, "dataclass", init_fields, frozenset(init_fields))
    raise TypeError(
        f"register() takes a dataclass or an Enum class, got {cls!r}; convert other objects "
        "to a dataclass or to built-in values before sending them"
    )


def _register(cls: type, name: str | None) -> None:
    if not isinstance(cls, type):
        raise TypeError(
            f"register() takes a dataclass or an Enum class, got {cls!r}; pass the class, "
            "not an instance"
        )
    if name is None:
        name = default_name(cls)
    elif not isinstance(name, str) or not name:
        raise TypeError(f"register() name must be a non-empty str, got {name!r}")
    entry = _describe(cls, name)
    with _lock:
        old = by_name.get(name)
        if old is not None and old.cls is not cls:
            # Redefinition of the same class (module reloaded, notebook cell run again)
            # replaces the old one; a different class under a taken name is a mistake.
            if default_name(old.cls) != default_name(cls):
                raise ValueError(
                    f"wire name {name!r} is already registered for {default_name(old.cls)}; "
                    f"choose another name for {default_name(cls)}"
                )
            del by_class[old.cls]
        prev = by_class.get(cls)
        if prev is not None and prev.name != name:
            raise ValueError(
                f"{default_name(cls)} is already registered as {prev.name!r}; a class has one "
                "wire name"
            )
        by_name[name] = entry
        by_class[cls] = entry
        _refresh()


def _refresh() -> None:
    global dataclass_types
    dataclass_types = frozenset(c for c, e in by_class.items() if e.kind == "dataclass")


@overload
def register(cls: T, name: str | None = None) -> T: ...
@overload
def register(cls: None = None, name: str | None = None) -> Callable[[T], T]: ...
def register(cls: T | None = None, name: str | None = None) -> T | Callable[[T], T]:
    """Let a dataclass or Enum travel inside values, under a stable wire name.

    The name (default ``module.qualname``) is what goes on the wire, so both sides must
    register the same class under the same name; give an explicit name when the class may
    move between modules. Usable three ways::

        @register
        @dataclass
        class Job: ...

        @register(name="jobs.Result")
        @dataclass(frozen=True)
        class Result: ...

        register(Color, "Color")

    Dataclasses travel as their ``__init__`` fields by name and are rebuilt by calling the
    class (so ``__post_init__`` validation runs on the receiving side). Enums travel by member
    name, Flags by integer value.

    Raises:
        TypeError: ``cls`` is neither a dataclass nor an Enum, or cannot be rebuilt from its
            fields.
        ValueError: the name is taken by another class, or the class already has another
            name.
    """
    if cls is None:

        def decorator(c: T) -> T:
            _register(c, name)
            return c

        return decorator
    _register(cls, name)
    return cls


def lookup_class(cls: type) -> Registered | None:
    """The registration of ``cls``, or None."""
    return by_class.get(cls)


def register_declared(tp: Any) -> None:
    """Register the dataclasses and Enums a channel's declared type names, with their fields'.

    A channel declared with ``type=Point`` says what travels on it: requiring ``@register``
    on ``Point`` as well would say it twice. Classes already registered keep their wire name;
    a class that cannot be registered is left alone (encoding or ``check_type`` then says
    why). Explicit registration stays for values of untyped channels.
    """
    seen: set[int] = set()

    def walk(t: Any) -> None:
        if id(t) in seen:
            return
        seen.add(id(t))
        for arg in typing.get_args(t):
            walk(arg)
        if not isinstance(t, type):
            return
        is_dataclass = dataclasses.is_dataclass(t)
        if (is_dataclass or (issubclass(t, enum.Enum) and len(t) > 0)) and t not in by_class:
            try:
                register(t)
            except (TypeError, ValueError):
                return
        if is_dataclass:
            try:
                hints = typing.get_type_hints(t)
            except Exception:  # unresolvable annotations: nothing more to learn
                return
            for hint in hints.values():
                walk(hint)

    walk(tp)


def unregister(cls: type) -> None:
    """Forget a registered class (mainly for tests); unknown classes are ignored."""
    with _lock:
        entry = by_class.pop(cls, None)
        if entry is not None and by_name.get(entry.name) is entry:
            del by_name[entry.name]
        _refresh()


__all__ = [
    "Registered",
    "default_name",
    "lookup_class",
    "register",
    "register_declared",
    "unregister",
]
