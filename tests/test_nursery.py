"""``open_internal_nursery``: what leaves a context manager built on an internal nursery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from netchan.transport._nursery import collapse, open_internal_nursery


@asynccontextmanager
async def service(fail_after: float | None = None) -> AsyncIterator[None]:
    """A context manager like ``open_node``: a background task around the caller's body."""

    async def background() -> None:
        if fail_after is None:
            await trio.sleep_forever()
        await trio.sleep(fail_after)
        raise OSError("background failed")

    async with open_internal_nursery() as nursery:
        nursery.start_soon(background)
        try:
            yield
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def two_layers() -> AsyncIterator[None]:
    async with service(), service():
        yield


async def test_the_body_exception_comes_out_as_itself_with_its_story() -> None:
    raised = ValueError("mine")
    cause = KeyError("why")
    with pytest.raises(ValueError) as info:
        async with two_layers():
            try:
                raise cause
            except KeyError:
                raise raised from cause
    assert info.value is raised
    assert info.value.__cause__ is cause and info.value.__context__ is cause
    frames = [f.name for f in info.traceback]
    assert "test_the_body_exception_comes_out_as_itself_with_its_story" in frames


async def test_the_body_own_group_is_not_unwrapped() -> None:
    group = ExceptionGroup("the body's own", [ValueError("only one")])
    with pytest.raises(ExceptionGroup) as info:
        async with two_layers():
            raise group
    assert info.value is group


async def test_a_background_failure_comes_out_alone_and_cancels_the_body() -> None:
    context = RuntimeError("earlier")
    reached = False

    @asynccontextmanager
    async def failing() -> AsyncIterator[None]:
        async def background() -> None:
            await trio.sleep(0.1)
            try:
                raise context
            except RuntimeError:
                raise OSError("background failed") from None

        async with open_internal_nursery() as nursery:
            nursery.start_soon(background)
            yield

    with trio.fail_after(5), pytest.raises(OSError, match="background failed") as info:
        async with failing():
            await trio.sleep_forever()
            reached = True
    assert not reached
    assert info.value.__context__ is context and info.value.__suppress_context__


async def test_concurrent_failures_stay_grouped() -> None:
    with trio.fail_after(5), pytest.raises(ExceptionGroup) as info:
        async with service(fail_after=0.05):
            with trio.CancelScope(shield=True):
                await trio.sleep(0.2)  # the background task fails meanwhile
            raise ValueError("body")
    assert {type(e) for e in info.value.exceptions} == {ValueError, OSError}


async def test_a_cancelled_scope_around_still_cancels_cleanly() -> None:
    with trio.fail_after(5):
        with trio.CancelScope() as scope:
            async with two_layers():
                scope.cancel()
                await trio.sleep_forever()
        assert scope.cancelled_caught
        with trio.move_on_after(0.05) as scope:
            async with two_layers():
                await trio.sleep_forever()
        assert scope.cancelled_caught


async def test_body_error_while_an_outer_scope_is_cancelled() -> None:
    with trio.fail_after(5), trio.CancelScope() as scope, pytest.raises(ValueError):
        async with two_layers():
            scope.cancel()
            raise ValueError("body")
    assert not scope.cancelled_caught  # ValueError was on its way; the scope had nothing


async def test_cancelled_from_the_body_reaches_its_scope() -> None:
    with trio.fail_after(5):
        with trio.CancelScope() as outer:
            with pytest.raises(trio.Cancelled):
                async with two_layers():
                    outer.cancel()
                    await trio.lowlevel.checkpoint()
            raise trio.Cancelled._create()  # what the next checkpoint would do
        assert outer.cancelled_caught


async def test_keyboard_interrupt_in_the_body() -> None:
    with trio.fail_after(5), pytest.raises(KeyboardInterrupt):
        async with two_layers():
            raise KeyboardInterrupt


def test_collapse_looks_one_level_deep() -> None:
    leaf = ValueError("x")
    inner = ExceptionGroup("inner", [leaf])
    assert collapse(ExceptionGroup("outer", [inner])) is inner
    cancelled = trio.Cancelled._create()
    assert collapse(BaseExceptionGroup("g", [cancelled, leaf])) is leaf
    only = BaseExceptionGroup("g", [cancelled, BaseExceptionGroup("c", [trio.Cancelled._create()])])
    assert collapse(only) is cancelled
    two = ExceptionGroup("g", [leaf, KeyError()])
    assert collapse(two) is two
