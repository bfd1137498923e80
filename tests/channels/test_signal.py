"""The node's wake-up signal: ``wait`` returns on the next ``fire`` only (never an old one)."""

from __future__ import annotations

import trio
import trio.testing

from netchan.node._signal import Signal as _Signal


async def test_fire_wakes_every_current_waiter_and_no_later_one(clock: object) -> None:
    signal = _Signal()
    signal.fire()  # nobody waits: forgotten, not remembered for the next waiter
    woken: list[int] = []

    async def waiter(i: int) -> None:
        await signal.wait()
        woken.append(i)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter, 1)
        nursery.start_soon(waiter, 2)
        await trio.testing.wait_all_tasks_blocked()
        assert woken == []  # the fire before they waited does not count
        signal.fire()
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(woken) == [1, 2]
        nursery.start_soon(waiter, 3)
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(woken) == [1, 2]  # a new waiter waits for the next fire
        signal.fire()
    assert sorted(woken) == [1, 2, 3]


async def test_cancelled_waiter_does_not_break_the_next_one(clock: object) -> None:
    signal = _Signal()
    with trio.move_on_after(1):
        await signal.wait()
    async with trio.open_nursery() as nursery:
        done = trio.Event()

        async def waiter() -> None:
            await signal.wait()
            done.set()

        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        signal.fire()
        with trio.fail_after(1):
            await done.wait()


def test_a_link_failing_while_its_end_goes_out_stays_broken() -> None:
    """The sender task's END completes after the link failed: no illegal transition (it
    used to raise out of the sender task and take the node down)."""
    from netchan import _protocol as P
    from netchan.node._host import Counters
    from netchan.node._links import ImportSendLink
    from netchan.node._state import LinkState

    class StubHost:
        closed = False
        counters = Counters()
        max_value_size = 1 << 20
        node_id = b"n" * 16

        def add_link(self, link: object) -> int:
            return 1

        def forget_link(self, link: object) -> None:
            pass

    link = ImportSendLink(StubHost(), "c", None, None, P.TargetKind.NAME, "c", None)
    link.finish()
    link.fail(RuntimeError("the association died while END was going out"))
    link.after_final()
    assert link.state is LinkState.BROKEN
