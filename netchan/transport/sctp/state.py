"""RFC 9260 association states and the one table of legal transitions (§4).

Every state change of an :class:`~netchan.transport.sctp.association.Association` goes
through :func:`next_state`, so the state machine can be read in one place, as data (the way
h11 keeps its ``_state.py``). A trigger that is not legal in the current state is a bug in the
caller or a misuse of the API and raises :class:`StateError`; what the *peer* sends never
reaches this table unchecked (the association decides per RFC 9260 whether a chunk is
acceptable in its state before asking for a transition).
"""

from __future__ import annotations

import enum


class LocalProtocolError(Exception):
    """The local side used the SCTP stack in a way it does not allow (a caller bug)."""


class StateError(LocalProtocolError):
    """An operation is not possible in the association's current state.

    Raised, for instance, by ``Association.send`` after ``shutdown()``, or for an
    illegal state transition.
    """


class State(enum.Enum):
    """The association states of RFC 9260 §4 (Figure 3), with the RFC's names."""

    CLOSED = "CLOSED"
    COOKIE_WAIT = "COOKIE-WAIT"
    COOKIE_ECHOED = "COOKIE-ECHOED"
    ESTABLISHED = "ESTABLISHED"
    SHUTDOWN_PENDING = "SHUTDOWN-PENDING"
    SHUTDOWN_SENT = "SHUTDOWN-SENT"
    SHUTDOWN_RECEIVED = "SHUTDOWN-RECEIVED"
    SHUTDOWN_ACK_SENT = "SHUTDOWN-ACK-SENT"

    def __str__(self) -> str:
        return self.value


class Trigger(enum.Enum):
    """What moves an association from one state to another (the arrows of §4 Figure 3)."""

    #: The user asked to associate: INIT sent, T1-init started (§5.1 A).
    ASSOCIATE = "associate"
    #: A valid COOKIE ECHO created the association on the passive side (§5.1 D).
    COOKIE_ECHO_ACCEPTED = "cookie_echo_accepted"
    #: INIT ACK received in COOKIE-WAIT: COOKIE ECHO sent, T1-cookie started (§5.1 C).
    INIT_ACK_RECEIVED = "init_ack_received"
    #: COOKIE ACK received in COOKIE-ECHOED (§5.1 E).
    COOKIE_ACK_RECEIVED = "cookie_ack_received"
    #: A peer's COOKIE ECHO in COOKIE-WAIT/COOKIE-ECHOED completed a collision (§5.2.4 B/D).
    COLLISION_ESTABLISHED = "collision_established"
    #: ERROR "Stale Cookie" in COOKIE-ECHOED: a new INIT is sent (§5.2.6 alternative 3).
    STALE_COOKIE = "stale_cookie"
    #: The peer restarted (§5.2.4 action A): the association starts afresh, ESTABLISHED.
    RESTART = "restart"
    #: The user asked for a graceful shutdown (§9.2).
    SHUTDOWN = "shutdown"
    #: All outstanding data is acknowledged while SHUTDOWN-PENDING: SHUTDOWN sent (§9.2).
    OUTSTANDING_DRAINED = "outstanding_drained"
    #: SHUTDOWN received (§9.2).
    SHUTDOWN_RECEIVED = "shutdown_received"
    #: All outstanding data is acknowledged while SHUTDOWN-RECEIVED: SHUTDOWN ACK sent (§9.2).
    SHUTDOWN_ACK_SENT = "shutdown_ack_sent"
    #: SHUTDOWN ACK received in SHUTDOWN-SENT (or a collision): SHUTDOWN COMPLETE sent.
    SHUTDOWN_ACK_RECEIVED = "shutdown_ack_received"
    #: SHUTDOWN COMPLETE received in SHUTDOWN-ACK-SENT (§9.2).
    SHUTDOWN_COMPLETE_RECEIVED = "shutdown_complete_received"
    #: ABORT sent or received, retransmission limit, ICMP, T5 expiry (§9.1, §8.1).
    ABORT = "abort"


S = State
T = Trigger

#: The transition table: (state, trigger) -> next state. Nothing else changes ``state``.
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    # §5.1: association setup.
    (S.CLOSED, T.ASSOCIATE): S.COOKIE_WAIT,
    (S.CLOSED, T.COOKIE_ECHO_ACCEPTED): S.ESTABLISHED,
    (S.COOKIE_WAIT, T.INIT_ACK_RECEIVED): S.COOKIE_ECHOED,
    (S.COOKIE_ECHOED, T.COOKIE_ACK_RECEIVED): S.ESTABLISHED,
    # §5.2.4: a COOKIE ECHO from the peer while we are still setting up (collision).
    (S.COOKIE_WAIT, T.COLLISION_ESTABLISHED): S.ESTABLISHED,
    (S.COOKIE_ECHOED, T.COLLISION_ESTABLISHED): S.ESTABLISHED,
    (S.COOKIE_ECHOED, T.STALE_COOKIE): S.COOKIE_WAIT,
    # §5.2.4 A: restart of the peer (not in SHUTDOWN-ACK-SENT, where the RFC forbids it).
    (S.COOKIE_ECHOED, T.RESTART): S.ESTABLISHED,
    (S.ESTABLISHED, T.RESTART): S.ESTABLISHED,
    (S.SHUTDOWN_PENDING, T.RESTART): S.ESTABLISHED,
    (S.SHUTDOWN_SENT, T.RESTART): S.ESTABLISHED,
    (S.SHUTDOWN_RECEIVED, T.RESTART): S.ESTABLISHED,
    # §9.2: graceful shutdown.
    (S.ESTABLISHED, T.SHUTDOWN): S.SHUTDOWN_PENDING,
    (S.SHUTDOWN_PENDING, T.OUTSTANDING_DRAINED): S.SHUTDOWN_SENT,
    (S.ESTABLISHED, T.SHUTDOWN_RECEIVED): S.SHUTDOWN_RECEIVED,
    (S.SHUTDOWN_PENDING, T.SHUTDOWN_RECEIVED): S.SHUTDOWN_RECEIVED,
    (S.SHUTDOWN_RECEIVED, T.SHUTDOWN_ACK_SENT): S.SHUTDOWN_ACK_SENT,
    # §9.2: SHUTDOWN received in SHUTDOWN-SENT: answer SHUTDOWN ACK at once (collision).
    (S.SHUTDOWN_SENT, T.SHUTDOWN_RECEIVED): S.SHUTDOWN_ACK_SENT,
    (S.SHUTDOWN_SENT, T.SHUTDOWN_ACK_RECEIVED): S.CLOSED,
    # §9.2: SHUTDOWN ACK received in SHUTDOWN-ACK-SENT (both sent SHUTDOWN ACK).
    (S.SHUTDOWN_ACK_SENT, T.SHUTDOWN_ACK_RECEIVED): S.CLOSED,
    (S.SHUTDOWN_ACK_SENT, T.SHUTDOWN_COMPLETE_RECEIVED): S.CLOSED,
}
# §9.1: ABORT leads to CLOSED from every state but CLOSED itself.
for _state in State:
    if _state is not S.CLOSED:
        TRANSITIONS[(_state, T.ABORT)] = S.CLOSED
del _state

#: States in which the user may queue new messages (§9.2: not after shutdown was asked or
#: received). COOKIE-WAIT/COOKIE-ECHOED queue until established (§5.1: data may be bundled
#: with COOKIE ECHO).
SENDABLE_STATES = frozenset({S.COOKIE_WAIT, S.COOKIE_ECHOED, S.ESTABLISHED})

#: States in which DATA from the peer is accepted (§6, §9.2: until SHUTDOWN is received).
RECEIVING_STATES = frozenset({S.COOKIE_ECHOED, S.ESTABLISHED, S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT})


def next_state(state: State, trigger: Trigger) -> State:
    """The state that ``trigger`` leads to from ``state``.

    Raises:
        StateError: the transition is not in :data:`TRANSITIONS` (a bug or API misuse).
    """
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise StateError(f"{trigger.value} is not possible in state {state}") from None
