"""Internal nurseries whose exceptions come out as themselves (STYLE 12).

``open_endpoint`` and ``open_node`` run background tasks in a nursery that encloses the user's
``async with`` body. Since trio 0.25 a nursery always wraps what it raises in an
``ExceptionGroup``, so a ``ValueError`` raised in the body, or a ``PeerUnreachableError`` from
an import, would reach the caller as ``ExceptionGroup([ExceptionGroup([ValueError])])``: one
layer per internal nursery, and ``except ValueError:`` around the block would never match.

:func:`open_internal_nursery` is a drop-in for ``trio.open_nursery()`` that adds no layer
of its own when there is a single failure:

* The body raised, with no ``trio.Cancelled`` inside (a ``ValueError``, ``KeyboardInterrupt``,
  a group of its own): its exception is kept out of the nursery. The background tasks are
  cancelled, as trio does when a body fails, the nursery closes, and Python re-raises the
  body's exception untouched: same object, traceback, ``__cause__`` and ``__context__``. Only
  if a background task failed too (two real failures at once) does a group come out, holding
  both.
* Otherwise (no exception, or one carrying cancellations) trio's nursery handles it, so every
  ``Cancelled`` is routed to the scope it belongs to: the nursery's own scope absorbs the
  cancellations it caused. Then :func:`collapse` removes the nursery's layer if it stands for a
  single failure: looking one level deep only, cancellations do not count (they are the echo
  of a cancellation an enclosing scope will absorb; trio drops them there), one remaining
  failure is raised alone (a background task's keeps its own ``__context__``), only
  cancellations mean one of them is raised (a cancellation is never swallowed), and two or
  more failures stay grouped as trio made them.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import trio

__all__ = ["collapse", "open_internal_nursery"]


def _only_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        _, rest = exc.split(trio.Cancelled)
        return rest is None
    return False


def _holds_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        matched, _ = exc.split(trio.Cancelled)
        return matched is not None
    return isinstance(exc, trio.Cancelled)


def collapse(group: BaseExceptionGroup[Any]) -> BaseException:
    """What an internal nursery's ``group`` stands for: a single failure, or ``group`` itself.

    Looks at the direct members only (see the module docstring). Returns the one member that
    is not a cancellation; else, when every member is a cancellation, the first member; else
    (two or more failures) ``group`` unchanged.
    """
    failures = [e for e in group.exceptions if not _only_cancelled(e)]
    if len(failures) == 1:
        return failures[0]
    if not failures:
        return group.exceptions[0]
    return group


class _InternalNursery:
    """The context manager returned by :func:`open_internal_nursery`."""

    def __init__(self) -> None:
        self._manager = trio.open_nursery()
        self._nursery: trio.Nursery | None = None

    async def __aenter__(self) -> trio.Nursery:
        self._nursery = await self._manager.__aenter__()
        return self._nursery

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        assert self._nursery is not None, "__aexit__ without __aenter__"
        if exc is not None and not _holds_cancelled(exc):
            return await self._exit_beside(exc)
        # No exception, or one carrying cancellations: trio routes every Cancelled to the
        # scope it belongs to (ours absorbs its own); then our layer comes off.
        try:
            return bool(await self._manager.__aexit__(exc_type, exc, tb))
        except BaseExceptionGroup as group:
            if group is exc:
                raise  # a non-strict nursery let the body's own group through as it was
            single = collapse(group)
            if single is group:
                raise
            if single is exc:
                return False  # Python re-raises the body's exception as it was
        # ``raise`` here would set __context__ to the exception being handled (the body's);
        # a failure of a background task has its own story.
        context = single.__context__
        try:
            raise single
        finally:
            single.__context__ = context

    async def _exit_beside(self, exc: BaseException) -> bool:
        """The body failed with no cancellation inside: keep its exception out of the nursery.

        As trio does for a failed body, the background tasks are cancelled; the nursery then
        closes without the body's exception, which Python re-raises untouched (identity, a
        group of the body's own included). Cancellations the tasks end with belong to an
        enclosing scope and are dropped: an exception is on its way anyway, and the scope stays
        cancelled. A real failure of a task is concurrent with the body's: both are grouped.
        """
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()
        try:
            await self._manager.__aexit__(None, None, None)
        except BaseExceptionGroup as group:
            failures = [e for e in group.exceptions if not _only_cancelled(e)]
            if failures:
                raise BaseExceptionGroup(
                    "the body and background tasks failed", [exc, *failures]
                ) from None
        return False


def open_internal_nursery() -> _InternalNursery:
    """``trio.open_nursery()`` for a nursery that is an implementation detail.

    Use it where a context manager (``open_node``, ``open_endpoint``) runs background tasks
    around its caller's body: the body's exception, and a single failure of a background task,
    propagate unwrapped; only genuinely concurrent failures stay grouped. Cancellation works
    as with a plain nursery.
    """
    return _InternalNursery()
