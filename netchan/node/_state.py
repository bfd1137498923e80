"""The lifecycle of a link: its states and the one table of legal transitions per link kind.

Every state change of a link goes through :meth:`Lifecycle.fire`, so each kind's life can be
read here, as data (as ``transport/sctp/state.py`` does for the association). A trigger that
is not legal in the current state raises :class:`P.ProtocolError`: when the peer caused it
(a second END, say) the router counts and logs it like any other protocol error.

What the four link kinds do is in ``_links.py``; the words used here:

* *finish*: this side ends the link (its last clone closed, its work queue ended, or the node
  is closing). What is queued still goes out, then the final frame (END, or CLOSE for an
  importer that receives).
* *remote end*: the other side's END arrived (or, for an exporter receiving values, its
  association ended: nothing more will come).
* *final sent*: this side's END was handed to the association.
* *delivered*: everything that arrived was handed to the local channel.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from .. import _protocol as P


class LinkState(enum.Enum):
    """Where a link is in its life; ``value`` is what ``statistics().state`` shows."""

    #: OPEN sent to the owner, no answer yet (importer only).
    OPENING = "opening"
    OPEN = "open"
    #: The other side ended; what already arrived is still delivered.
    ENDED = "ended"
    #: This side ended; queued frames, then the final frame, are going out.
    FINISHING = "finishing"
    #: This side's END is sent; waiting for the other side's END (exported work queues).
    FINISHED = "finished"
    #: Nothing more happens on this link; it is forgotten.
    CLOSED = "closed"
    #: The link failed (``link.error`` holds the cause).
    BROKEN = "broken"

    # Identity hash (members are singletons compared by identity): the transition table is
    # looked up with (state, trigger) keys on every state change, and ``Enum.__hash__`` is
    # Python code (two calls per lookup, a few per value on a reply link).
    __hash__ = object.__hash__


class Trigger(enum.Enum):
    """What moves a link from one state to another."""

    OPEN_OK = "open_ok"
    FINISH = "finish"
    REMOTE_END = "remote_end"
    FINAL_SENT = "final_sent"
    DELIVERED = "delivered"
    FAIL = "fail"

    __hash__ = object.__hash__  # as LinkState's


S = LinkState
T = Trigger

Transitions = Mapping[tuple[LinkState, Trigger], LinkState]


def _with_failure(table: dict[tuple[LinkState, Trigger], LinkState]) -> Transitions:
    """Add FAIL -> BROKEN from every state a link can fail in (all but CLOSED and BROKEN)."""
    for state in LinkState:
        if state not in (S.CLOSED, S.BROKEN):
            table[(state, T.FAIL)] = S.BROKEN
    return table


#: Importer, sending values (``import_send``): END follows the queued values.
IMPORT_SEND: Transitions = _with_failure(
    {
        (S.OPENING, T.OPEN_OK): S.OPEN,
        (S.OPENING, T.FINISH): S.FINISHING,  # closed while opening: END once open
        (S.FINISHING, T.OPEN_OK): S.FINISHING,
        (S.OPEN, T.FINISH): S.FINISHING,
        (S.FINISHING, T.FINAL_SENT): S.CLOSED,
        (S.BROKEN, T.FINISH): S.CLOSED,  # the last clone of a broken channel closed
    }
)

#: Importer, receiving values (``import_receive``): CLOSE, then the owner's END, then ours.
IMPORT_RECEIVE: Transitions = _with_failure(
    {
        (S.OPENING, T.OPEN_OK): S.OPEN,
        (S.OPENING, T.REMOTE_END): S.ENDED,  # END (data stream) overtook OPEN_OK (stream 0)
        (S.ENDED, T.OPEN_OK): S.ENDED,
        (S.OPENING, T.FINISH): S.FINISHING,  # closed while opening: CLOSE once open
        (S.FINISHING, T.OPEN_OK): S.FINISHING,
        (S.OPEN, T.REMOTE_END): S.ENDED,
        (S.OPEN, T.FINISH): S.FINISHING,  # unread values RETURNed, CLOSE sent
        (S.ENDED, T.FINISH): S.CLOSED,  # unread values RETURNed, final END sent
        (S.FINISHING, T.REMOTE_END): S.CLOSED,  # the owner's END: final END sent
        (S.BROKEN, T.FINISH): S.CLOSED,
    }
)

#: Exporter of a SendChannel: values are pushed into it until the importer's END.
EXPORT_SEND: Transitions = _with_failure(
    {
        (S.OPEN, T.REMOTE_END): S.ENDED,
        (S.ENDED, T.DELIVERED): S.CLOSED,
    }
)

#: Exporter of a ReceiveChannel (work queue): our END after the values, then the importer's.
EXPORT_RECEIVE: Transitions = _with_failure(
    {
        (S.OPEN, T.FINISH): S.FINISHING,
        (S.FINISHING, T.FINAL_SENT): S.FINISHED,
        (S.OPEN, T.REMOTE_END): S.CLOSED,
        (S.FINISHING, T.REMOTE_END): S.CLOSED,
        (S.FINISHED, T.REMOTE_END): S.CLOSED,
    }
)


class Lifecycle:
    """A link's state, moved only through its kind's transition table."""

    __slots__ = ("_table", "state")

    def __init__(self, table: Transitions, initial: LinkState) -> None:
        self._table = table
        self.state = initial

    def can(self, trigger: Trigger) -> bool:
        """Whether ``trigger`` is legal now."""
        return (self.state, trigger) in self._table

    def fire(self, trigger: Trigger) -> LinkState:
        """Move on ``trigger``; returns the new state.

        Raises:
            P.ProtocolError: ``trigger`` is not legal in the current state.
        """
        try:
            self.state = self._table[(self.state, trigger)]
        except KeyError:
            raise P.ProtocolError(
                f"unexpected_{trigger.value}", f"{trigger.value} in state {self.state.value}"
            ) from None
        return self.state
