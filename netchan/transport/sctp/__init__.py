"""netchan's userspace SCTP stack (RFC 9260), sans-io.

Datagrams and the current time go in; datagrams, one next deadline and events come out. Nothing
here touches sockets, clocks, threads or an event loop: the trio driver in
``netchan.transport.udp`` (or a test's in-memory network) does the I/O (docs/architecture.md,
"Driver contract")::

    ep = SctpEndpoint(Options(), local_port=5000, rng=random.SystemRandom(), now=now)
    assoc = ep.connect(("192.0.2.1", 5000), 5000, now)   # INIT; or wait for a peer's
    ep.receive_datagram(data, addr, now)                 # for every datagram
    ep.handle_timeout(now)                               # at ep.next_deadline()
    for data, addr in ep.datagrams_to_send(now): ...     # after every input
    while (event := ep.next_event()) is not None: ...    # MessageReceived, ...

Modules: ``endpoint`` (demultiplexing, stateless INIT handling, out-of-the-blue packets),
``association`` (the per-association state machine), ``state`` (RFC 9260 states and the
transition table), ``cookie`` (HMAC State Cookie), ``handshake`` (INIT / INIT ACK checks),
``auth`` (SCTP-AUTH, RFC 4895: shared keys, key vectors, signing and checking packets),
``heartbeat`` (§8.3 path probing), ``txpath`` (the association's view of the send side),
``timers``, ``counters``, ``options``, ``events``; the wire format in ``packet/``, the data
path in ``rx/``, ``tx/`` and ``congestion/``.

``COMPILED`` is True when the hot-path modules were compiled with mypyc at install time
(``NETCHAN_COMPILE=1``, docs/performance.md) and False when they run as Python: the same
source either way.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES

from ..errors import AssociationAbortedError, MessageTooLargeError
from . import association as _association
from .association import Association
from .counters import AssociationCounters
from .endpoint import SctpEndpoint
from .events import (
    AssociationAborted,
    AssociationClosed,
    AssociationEstablished,
    AssociationRestarted,
    Event,
    MessageReceived,
    PeerAddressChanged,
    SendBufferAvailable,
)
from .options import Options
from .state import LocalProtocolError, State, StateError

#: Whether the mypyc-compiled core is in use (setup.py); False for a pure-Python install.
COMPILED: bool = (_association.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))

__all__ = [
    "COMPILED",
    "Association",
    "AssociationAborted",
    "AssociationAbortedError",
    "AssociationClosed",
    "AssociationCounters",
    "AssociationEstablished",
    "AssociationRestarted",
    "Event",
    "LocalProtocolError",
    "MessageReceived",
    "MessageTooLargeError",
    "Options",
    "PeerAddressChanged",
    "SctpEndpoint",
    "SendBufferAvailable",
    "State",
    "StateError",
]
