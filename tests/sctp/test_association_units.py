"""Unit tests of the association's building blocks: state table, State Cookie, timers."""

from __future__ import annotations

import dataclasses
import random

import pytest

from netchan.transport.sctp.cookie import (
    COOKIE_SIZE,
    CookieContents,
    CookieFactory,
    ForgedCookieError,
    StaleCookieError,
)
from netchan.transport.sctp.state import (
    TRANSITIONS,
    State,
    StateError,
    Trigger,
    next_state,
)
from netchan.transport.sctp.timers import Timer


def test_handshake_and_shutdown_paths_follow_rfc_figure_3() -> None:
    s = next_state(State.CLOSED, Trigger.ASSOCIATE)
    assert s is State.COOKIE_WAIT
    s = next_state(s, Trigger.INIT_ACK_RECEIVED)
    assert s is State.COOKIE_ECHOED
    s = next_state(s, Trigger.COOKIE_ACK_RECEIVED)
    assert s is State.ESTABLISHED
    s = next_state(s, Trigger.SHUTDOWN)
    assert s is State.SHUTDOWN_PENDING
    s = next_state(s, Trigger.OUTSTANDING_DRAINED)
    assert s is State.SHUTDOWN_SENT
    assert next_state(s, Trigger.SHUTDOWN_ACK_RECEIVED) is State.CLOSED
    # Passive close.
    s = next_state(State.ESTABLISHED, Trigger.SHUTDOWN_RECEIVED)
    assert s is State.SHUTDOWN_RECEIVED
    s = next_state(s, Trigger.SHUTDOWN_ACK_SENT)
    assert s is State.SHUTDOWN_ACK_SENT
    assert next_state(s, Trigger.SHUTDOWN_COMPLETE_RECEIVED) is State.CLOSED


def test_abort_from_every_open_state_and_illegal_transitions_raise() -> None:
    for state in State:
        if state is State.CLOSED:
            with pytest.raises(StateError):
                next_state(state, Trigger.ABORT)
        else:
            assert next_state(state, Trigger.ABORT) is State.CLOSED
    with pytest.raises(StateError, match="COOKIE-WAIT"):
        next_state(State.COOKIE_WAIT, Trigger.SHUTDOWN)
    # Every target of the table is a State and no transition leaves CLOSED except setup.
    assert {t for (s, t) in TRANSITIONS if s is State.CLOSED} == {
        Trigger.ASSOCIATE,
        Trigger.COOKIE_ECHO_ACCEPTED,
    }


def _contents(created: float = 10.0) -> CookieContents:
    return CookieContents(
        local_tag=0x11111111,
        peer_tag=0x22222222,
        local_initial_tsn=5,
        peer_initial_tsn=0xFFFFFFFF,
        outbound_streams=10,
        inbound_streams=65535,
        peer_a_rwnd=131072,
        local_port=5000,
        peer_port=6000,
        local_tie_tag=7,
        peer_tie_tag=8,
        created=created,
        lifetime=60.0,
    )


def test_cookie_round_trip_and_size() -> None:
    factory = CookieFactory(random.Random(1), rotation=30.0, now=0.0)
    cookie = factory.make(_contents(), now=10.0)
    assert len(cookie) == COOKIE_SIZE
    assert factory.open(cookie, now=11.0) == _contents()


def test_cookie_with_a_flipped_bit_is_forged() -> None:
    factory = CookieFactory(random.Random(2), rotation=30.0, now=0.0)
    cookie = bytearray(factory.make(_contents(), now=10.0))
    for index in (0, 5, len(cookie) - 1):
        mutated = bytearray(cookie)
        mutated[index] ^= 0x01
        with pytest.raises(ForgedCookieError):
            factory.open(bytes(mutated), now=11.0)
    with pytest.raises(ForgedCookieError):
        factory.open(bytes(cookie[:-1]), now=11.0)
    # Another endpoint (another secret) does not accept it either.
    other = CookieFactory(random.Random(3), rotation=30.0, now=0.0)
    with pytest.raises(ForgedCookieError):
        other.open(bytes(cookie), now=11.0)


def test_cookie_expires_with_staleness_in_microseconds() -> None:
    factory = CookieFactory(random.Random(4), rotation=1000.0, now=0.0)
    cookie = factory.make(_contents(created=10.0), now=10.0)
    assert factory.open(cookie, now=70.0).created == 10.0
    with pytest.raises(StaleCookieError) as info:
        factory.open(cookie, now=70.5)
    assert info.value.staleness_us == 500_000


def test_cookie_secret_rotation_accepts_current_and_previous_only() -> None:
    factory = CookieFactory(random.Random(5), rotation=10.0, now=0.0)
    contents = CookieContents(**_asdict(_contents()))  # type: ignore[arg-type]
    cookie = factory.make(contents, now=1.0)
    factory.open(cookie, now=12.0)  # one rotation later: previous secret still accepted
    factory.make(contents, now=23.0)  # second rotation (at 22+): the first secret is gone
    with pytest.raises(ForgedCookieError):
        factory.open(cookie, now=23.5)


def _asdict(c: CookieContents) -> dict[str, object]:
    return {field.name: getattr(c, field.name) for field in dataclasses.fields(c)}


def test_timer_expiry_and_counts() -> None:
    timer = Timer("T1-init")
    assert not timer.running
    assert not timer.expired(100.0)
    timer.start(1.0, 0.5)
    assert timer.deadline == 1.5
    assert not timer.expired(1.49)
    assert timer.expired(1.5)
    assert not timer.running
    assert timer.expirations == 1
    timer.start_if_stopped(2.0, 1.0)
    timer.start_if_stopped(2.5, 1.0)
    assert timer.deadline == 3.0
    timer.reset()
    assert timer.expirations == 0
    with pytest.raises(ValueError):
        timer.start(0.0, -1.0)
