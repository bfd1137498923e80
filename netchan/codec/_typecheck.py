"""Runtime type checks for channel values (``type=`` on export and import).

Values are checked in full (every element of a ``list[int]``, every field of a dataclass)
because a channel's ``type=`` is a promise to the receiver: nothing malformed reaches it.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import sys
import types
import typing
from typing import Any

_MAX_CHECK_DEPTH = 256
_NO_HINTS: dict[str, Any] = {}
_hints_cache: dict[type, dict[str, Any]] = {}


class _Unsupported(Exception):
    """Internal: an annotation this module cannot check."""


def check_type(value: object, tp: object) -> None:
    """Raise ``TypeError`` unless ``value`` is of type ``tp``.

    Supported ``tp``: plain classes (``isinstance``; ``float`` also accepts ``int`` and
    ``complex`` accepts ``int``/``float``, as in PEP 484, but not ``bool``), ``None``,
    ``typing.Any`` and ``object``, unions (``int | None``, ``Optional[int]``), ``Literal``,
    ``Annotated`` (checked as its first argument), ``NewType``, and generics over list, set,
    frozenset, tuple (``tuple[int, ...]`` and ``tuple[int, str]``), dict and the
    ``collections.abc`` containers; their items are checked in full. Dataclass instances
    also have their fields checked against the field annotations (annotations this function
    cannot check, such as ``Callable``, are skipped inside fields and generics).

    Args:
        value: the value to check.
        tp: the expected type.

    Raises:
        TypeError: ``value`` is not a ``tp`` (message like ``"expected Job, got dict"`` or
            ``"value.items[2]: expected int, got str"``), or ``tp`` itself cannot be checked.
    """
    try:
        _check(value, tp, "", 0)
    except _Unsupported:
        raise TypeError(f"check_type: cannot check values against {tp!r}") from None


def type_name(tp: object) -> str:
    """A short readable name for a type or annotation (``list[int]``, ``Job | None``)."""
    if tp is Any:
        return "Any"
    if tp is None or tp is type(None):
        return "None"
    if tp is Ellipsis:
        return "..."
    if isinstance(tp, list):  # Callable's parameter list
        return f"[{', '.join(type_name(a) for a in tp)}]"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None:
        if not args:
            return type_name(origin)
        return f"{type_name(origin)}[{', '.join(type_name(a) for a in args)}]"
    if isinstance(tp, type):
        return tp.__qualname__
    return repr(tp)


def _fail(path: str, tp: object, value: object) -> typing.NoReturn:
    where = f"{path}: " if path else ""
    raise TypeError(f"{where}expected {type_name(tp)}, got {type(value).__qualname__}")


def _hints(cls: type) -> dict[str, Any]:
    hints = _hints_cache.get(cls)
    if hints is None:
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            resolved = typing.get_type_hints(cls, include_extras=True)
        except Exception:
            # Some string annotation does not resolve (a local name, a missing import):
            # resolve the fields one by one and skip those that fail.
            resolved = {}
            for klass in reversed(cls.__mro__):
                module = sys.modules.get(klass.__module__)
                globalns = vars(module) if module is not None else {}
                for k, v in getattr(klass, "__annotations__", {}).items():
                    if isinstance(v, str):
                        try:
                            holder = types.SimpleNamespace(__annotations__={k: v})
                            v = typing.get_type_hints(holder, globalns, include_extras=True)[k]
                        except Exception:
                            resolved.pop(k, None)
                            continue
                    resolved[k] = v
        hints = {k: v for k, v in resolved.items() if k in names} or _NO_HINTS
        _hints_cache[cls] = hints
    return hints


def _check(value: object, tp: Any, path: str, depth: int) -> None:
    if depth > _MAX_CHECK_DEPTH:
        raise TypeError(f"{path or 'value'}: nested too deeply to check")
    if tp is Any or tp is object:
        return
    if tp is None or tp is type(None):
        if value is not None:
            _fail(path, tp, value)
        return
    origin = typing.get_origin(tp)
    if origin is None:
        if isinstance(tp, type):
            _check_class(value, tp, path, depth)
            return
        supertype = getattr(tp, "__supertype__", None)  # typing.NewType
        if supertype is not None:
            _check(value, supertype, path, depth)
            return
        if isinstance(tp, typing.TypeVar):
            if tp.__bound__ is not None:
                _check(value, tp.__bound__, path, depth)
            return
        raise _Unsupported
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        for arg in args:
            try:
                _check(value, arg, path, depth)
            except TypeError:
                continue
            return
        _fail(path, tp, value)
    if origin is typing.Literal:
        for lit in args:
            if type(value) is type(lit) and value == lit:
                return
        where = f"{path}: " if path else ""
        raise TypeError(f"{where}expected {type_name(tp)}, got {value!r}")
    if origin is typing.Annotated:
        _check(value, args[0], path, depth)
        return
    if not isinstance(origin, type):
        raise _Unsupported
    try:
        ok = isinstance(value, origin)
    except TypeError:
        raise _Unsupported from None
    if not ok:
        _fail(path, tp, value)
    if not args:
        return
    try:
        _check_items(value, origin, args, tp, path, depth + 1)
    except _Unsupported:
        return  # e.g. list[Callable[..., int]]: the container type was checked


def _check_items(
    value: Any, origin: type, args: tuple[Any, ...], tp: object, path: str, depth: int
) -> None:
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            for i, item in enumerate(value):
                _check(item, args[0], f"{path}[{i}]", depth)
            return
        if args == ((),):  # tuple[()]
            args = ()
        if len(value) != len(args):
            where = f"{path}: " if path else ""
            raise TypeError(f"{where}expected {type_name(tp)}, got a tuple of {len(value)} items")
        for i, (item, arg) in enumerate(zip(value, args, strict=True)):
            _check(item, arg, f"{path}[{i}]", depth)
        return
    if issubclass(origin, collections.abc.Mapping):
        if len(args) != 2:
            raise _Unsupported
        key_tp, value_tp = args
        for k, v in value.items():
            _check(k, key_tp, f"{path}[{k!r}] (key)", depth)
            _check(v, value_tp, f"{path}[{k!r}]", depth)
        return
    if issubclass(origin, (collections.abc.Sequence, collections.abc.Set)) and len(args) == 1:
        if issubclass(origin, (str, bytes, bytearray)):
            return
        item_tp = args[0]
        if issubclass(origin, collections.abc.Sequence):
            for i, item in enumerate(value):
                _check(item, item_tp, f"{path}[{i}]", depth)
        else:
            for item in value:
                _check(item, item_tp, f"{path}{{{item!r}}}", depth)
        return
    raise _Unsupported


def _check_class(value: object, tp: type, path: str, depth: int) -> None:
    if tp is float:
        if type(value) is bool or not isinstance(value, (int, float)):
            _fail(path, tp, value)
        return
    if tp is complex:
        if type(value) is bool or not isinstance(value, (int, float, complex)):
            _fail(path, tp, value)
        return
    try:
        ok = isinstance(value, tp)
    except TypeError:  # e.g. a Protocol that is not runtime_checkable
        raise _Unsupported from None
    if not ok:
        _fail(path, tp, value)
    if dataclasses.is_dataclass(tp):
        # The value's own class may be a subclass with more fields; its annotations rule.
        cls = type(value)
        prefix = path or cls.__qualname__
        for name, field_tp in _hints(cls).items():
            try:
                _check(getattr(value, name), field_tp, f"{prefix}.{name}", depth + 1)
            except _Unsupported:
                continue
