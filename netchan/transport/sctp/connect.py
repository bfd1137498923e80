"""Association setup (RFC 9260 §5.1) and the unexpected cases of §5.2.

The four-way handshake from either side (INIT, INIT ACK, COOKIE ECHO, COOKIE ACK), T1-init and
T1-cookie, messages queued before the association is established, INIT collisions and
COOKIE ECHOes for an existing association (§5.2.1-§5.2.5: restart, collision, duplicate and
late cookies) and the Stale Cookie error (§5.2.6). Functions of the
:class:`~.association.Association` they are given, which owns the state and dispatches chunks
and timers to them; every state change still goes through :func:`~.state.next_state`.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from . import liveness, paths, shutdown
from .auth import AssociationAuth, AuthKeys, AuthParams, auth_refusal
from .cookie import CookieContents, ForgedCookieError, StaleCookieError
from .events import AssociationEstablished, AssociationRestarted
from .handshake import check_init, make_init, make_init_ack, negotiate_interleaving
from .packet import (
    AbortChunk,
    AuthChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    CookieReceivedWhileShuttingDownCause,
    ErrorChunk,
    InitAckChunk,
    InitChunk,
    IPv4AddressParameter,
    IPv6AddressParameter,
    Parameter,
    ShutdownAckChunk,
    StaleCookieErrorCause,
    UnrecognizedParametersCause,
)
from .rx.data_tracker import DataTracker
from .rx.reassembly import ReassemblyQueue
from .state import State, Trigger
from .txpath import TxPath

if TYPE_CHECKING:
    from .association import Association

#: Packets the peer's initial receive window (a_rwnd of INIT / INIT ACK) must hold at the
#: largest path MTU probed for: MAX_PLPMTU is at most a_rwnd / this (RFC 8899 §3 item 5: what
#: the receiver can accept bounds the search; TCP bounds its segments to a fraction of the
#: window alike). A receiver drops a packet that overruns its buffer, and a few large packets
#: fill a small one: usrsctp (128 KiB buffer, its window counts buffer overhead) lost 1 to 4
#: packets of 32 KiB per 20 MB sent, none of 24 KiB or 16 KiB. netchan's 4 MiB window is not
#: limited by it.
PEER_WINDOW_PACKETS = 8


def pre_queued_bytes(assoc: Association) -> int:
    return sum(len(m[0]) for m in assoc._pre_queue)


def send_init(assoc: Association, now: float) -> None:
    host = assoc._host
    if host.auth_keys is not None and assoc._local_auth is None:
        # RFC 4895 §6.1: our RANDOM, CHUNKS and HMAC-ALGO, the same in every retransmission.
        assoc._local_auth = AuthParams.local(host._random_bytes)
    assoc._init_chunk = make_init(
        assoc._options,
        assoc.local_tag,
        assoc.local_initial_tsn,
        assoc._preservative,
        assoc._host.address_parameters,
        assoc._local_auth,
    )
    # §8.5.1 A: the packet carrying INIT has verification tag 0.
    assoc._send_raw(0, [assoc._init_chunk])
    assoc._t1.start(now, assoc._rto.rto)


def adopt_cookie(assoc: Association, contents: CookieContents, now: float) -> None:
    keys = assoc._host.auth_keys
    # RFC 4895 §6.1: the key vectors travelled in the cookie (the INIT ACK's sender keeps no
    # state); our endpoint refuses unauthenticated peers, so a keyed cookie always has them.
    assoc._auth = (
        AssociationAuth.from_cookie(keys, contents.auth)
        if keys is not None and contents.auth
        else None
    )
    if contents.peer_addresses:
        # §5.1.2: the addresses the peer's INIT listed; §5.4 rule 2: only the one the
        # INIT ACK went to (the COOKIE ECHO's source) is confirmed.
        params: list[Parameter] = []
        for packed in contents.peer_addresses:
            ip = ipaddress.ip_address(packed)
            if isinstance(ip, ipaddress.IPv4Address):
                params.append(IPv4AddressParameter(ip))
            else:
                params.append(IPv6AddressParameter(ip))
        addrs = paths.addresses_from_parameters(params, assoc._path.addr)
        paths.add_peer_addresses(assoc, addrs, confirmed=False, now=now)
    assoc.local_tag = contents.local_tag
    assoc.peer_tag = contents.peer_tag
    assoc.local_initial_tsn = contents.local_initial_tsn
    setup_datapath(
        assoc,
        contents.peer_initial_tsn,
        contents.peer_a_rwnd,
        contents.outbound_streams,
        contents.inbound_streams,
        contents.interleaving,
    )


def setup_datapath(
    assoc: Association,
    peer_initial_tsn: int,
    peer_a_rwnd: int,
    outbound: int,
    inbound: int,
    interleaving: bool,
) -> None:
    options = assoc._options
    assoc._interleaving = interleaving
    assoc.peer_initial_tsn = peer_initial_tsn
    assoc._peer_a_rwnd = peer_a_rwnd
    assoc.outbound_streams = outbound
    assoc.inbound_streams = inbound
    assoc._tracker = DataTracker(
        peer_initial_tsn,
        delayed_ack_packets=options.delayed_ack_packets,
        delayed_ack_timeout=options.delayed_ack_timeout,
        pmtu=options.pmtu,
    )
    assoc._reassembly = ReassemblyQueue(
        max_message_size=options.max_message_size,
        interleaved=interleaving,
        keep_fragments=options.deliver_fragments,
    )
    assoc._unread = 0
    assoc._advertised_rwnd = options.receive_window
    assoc._tx = TxPath(
        options, assoc.local_initial_tsn, peer_a_rwnd, assoc._rto, interleaving=interleaving
    )
    for path in assoc._paths:
        path.congestion = None  # a new send side: every destination starts afresh (§7.2.1)
    assoc._tx_open = False
    assoc._peer_window_closed = False
    assoc._pmtu = options.pmtu  # a new send side is cut for BASE_PLPMTU


def flush_pre_queue(assoc: Association, now: float) -> None:
    """ESTABLISHED: messages queued during setup go to the send side, in order."""
    tx = assoc._tx
    if tx is None:
        return
    assoc._tx_open = True
    pre = assoc._pre_queue
    assoc._pre_queue = []
    for data, stream, ppid, unordered in pre:
        if stream < assoc.outbound_streams:
            tx.send_queue.add(stream, ppid, data, unordered=unordered, outstanding_bytes=0)
        else:
            # The peer allowed fewer streams than we offered (§5.1.1).
            assoc.drops.add("message_on_unnegotiated_stream")


def on_established(assoc: Association, now: float) -> None:
    assoc._established_once = True
    for path in assoc._paths:
        if path is not assoc._path:
            paths.start_probing(assoc, path, now)
    flush_pre_queue(assoc, now)
    assoc._t1.reset()
    assoc._init_chunk = None
    assoc._cookie_echo = None
    assoc._error_count = 0
    assoc._host._emit(
        AssociationEstablished(
            assoc.id,
            outbound_streams=assoc.outbound_streams,
            inbound_streams=assoc.inbound_streams,
        )
    )
    liveness.restart_heartbeat(assoc, now)
    # RFC 8899 §5.2: connectivity confirmed: DISABLED -> BASE, probing starts.
    assoc._pmtud.limit_max(assoc._peer_a_rwnd // PEER_WINDOW_PACKETS)
    assoc._pmtud.start(now)
    if assoc._shutdown_requested and assoc.state is State.ESTABLISHED:
        assoc._transition(Trigger.SHUTDOWN)
        shutdown.check_shutdown_progress(assoc, now)


def handle_init_ack(assoc: Association, chunk: InitAckChunk, now: float) -> None:
    if assoc.state is not State.COOKIE_WAIT:
        # §5.2.3: an INIT ACK in any other state is discarded.
        assoc.drops.add("unexpected_init_ack")
        return
    check = check_init(chunk)
    if check.abort_causes is not None or check.discard:
        # §3.3.3: destroy the TCB and send ABORT (T bit: we have no peer tag yet,
        # so we reflect our own tag; the peer identifies it by the INIT ACK's tag).
        assoc._send_raw(chunk.initiate_tag, [AbortChunk(causes=check.abort_causes or ())])
        assoc._close_aborted(f"invalid INIT ACK: {check.reason}", False)
        return
    if check.cookie is None:  # check_init reports a missing cookie; defensive
        assoc.drops.add("invalid_init_ack")
        return
    keys = assoc._host.auth_keys
    if keys is not None and assoc._local_auth is not None:
        # RFC 4895: a keyed endpoint does not associate with a peer that cannot authenticate.
        peer_auth, refusal = auth_refusal(chunk)
        if refusal is not None or peer_auth is None:
            reason = str(refusal.causes[0]) if refusal is not None else "no SCTP-AUTH"
            assoc._send_raw(chunk.initiate_tag, [refusal or AbortChunk()])
            assoc._close_aborted(f"INIT ACK refused: {reason}", False)
            return
        assoc._auth = AssociationAuth(keys, assoc._local_auth, peer_auth)
    if assoc._multihomed or chunk.parameters:
        # §5.1.2: the peer's addresses (its INIT ACK's list and the packet's source);
        # §5.4 rule 1: those we were given are confirmed, the others get probed. DATA
        # goes where the answer came from.
        src = assoc._src
        learned = paths.addresses_from_parameters(chunk.parameters, src)
        paths.add_peer_addresses(assoc, [src, *learned], confirmed=False, now=now)
        answered = paths.find(assoc, src)
        if answered is not None and answered.confirmed:
            paths.use_path(assoc, answered, now)
    assoc.peer_tag = chunk.initiate_tag
    outbound = min(assoc._options.outbound_streams, chunk.inbound_streams)
    inbound = min(assoc._options.inbound_streams, chunk.outbound_streams)
    # RFC 8260 §2.2.1: I-DATA is used when our INIT and this INIT ACK both list it.
    interleaving = negotiate_interleaving(assoc._options, check)
    setup_datapath(assoc, chunk.initial_tsn, chunk.a_rwnd, outbound, inbound, interleaving)
    assoc._cookie_echo = CookieEchoChunk(check.cookie)
    if check.unrecognized:
        # §3.2.1: report unknown parameters of the INIT ACK in an ERROR bundled with the
        # COOKIE ECHO (COOKIE ECHO first, §5.1 C).
        assoc._error_after_cookie = ErrorChunk(
            causes=(UnrecognizedParametersCause(b"".join(_pad4(r) for r in check.unrecognized)),)
        )
    else:
        assoc._error_after_cookie = None
    assoc._transition(Trigger.INIT_ACK_RECEIVED)
    assoc._t1.reset()
    assoc._init_retries = 0
    send_cookie_echo(assoc, now)


def send_cookie_echo(assoc: Association, now: float) -> None:
    if assoc._cookie_echo is None:
        return
    chunks: list[Chunk] = [assoc._cookie_echo]
    if assoc._error_after_cookie is not None:
        chunks.append(assoc._error_after_cookie)
    assoc._send_raw(assoc.peer_tag, chunks)
    assoc._cookie_sent_at = now
    assoc._t1.start(now, assoc._rto.rto)


def handle_cookie_ack(assoc: Association, now: float) -> None:
    if assoc.state is not State.COOKIE_ECHOED:
        # §5.2.5: a COOKIE ACK in any other state is discarded.
        return
    if assoc._t1.expirations == 0:
        # Karn: only a COOKIE ECHO sent once gives an RTT sample.
        assoc._rto.observe(now - assoc._cookie_sent_at)
    assoc._transition(Trigger.COOKIE_ACK_RECEIVED)
    on_established(assoc, now)


def handle_init(assoc: Association, chunk: InitChunk, now: float) -> None:
    """An INIT for this existing association (§5.2.1, §5.2.2, §9.2)."""
    options = assoc._options
    check = check_init(chunk)
    if check.discard:
        assoc.drops.add("invalid_init")
        return
    if check.abort_causes is not None:
        # §3.3.2: answer with ABORT carrying the INIT's Initiate Tag; keep our state.
        assoc._send_raw(chunk.initiate_tag, [AbortChunk(causes=check.abort_causes)])
        return
    keys = assoc._host.auth_keys
    auth: AssociationAuth | None = None
    if keys is not None:
        # RFC 4895: refuse a peer that cannot authenticate, as the endpoint does.
        peer_auth, refusal = auth_refusal(chunk)
        if refusal is not None or peer_auth is None:
            assoc.drops.add("auth_refused")
            if refusal is not None:
                assoc._send_raw(chunk.initiate_tag, [refusal])
            return
        in_setup = assoc.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED)
        local_auth = assoc._local_auth if in_setup else None
        if local_auth is None:
            local_auth = AuthParams.local(assoc._host._random_bytes)
        auth = AssociationAuth(keys, local_auth, peer_auth)
    state = assoc.state
    if state is State.SHUTDOWN_ACK_SENT:
        # §9.2: discard the INIT and retransmit SHUTDOWN ACK.
        assoc._queue_control(ShutdownAckChunk())
        return
    if state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
        # §5.2.1: INIT ACK with the parameters of our own INIT (same tag, same TSN);
        # Tie-Tags only once we have a peer tag (COOKIE-ECHOED).
        local_tag = assoc.local_tag
        local_tsn = assoc.local_initial_tsn
        tie = state is State.COOKIE_ECHOED
    else:
        # §5.2.2: a new Initiate Tag, our Tie-Tags in the cookie; nothing changes here.
        local_tag = assoc._host._new_tag()
        local_tsn = assoc._rng.getrandbits(32)
        tie = True
    ack = make_init_ack(
        options,
        assoc._host.cookies,
        chunk,
        check,
        local_tag=local_tag,
        local_initial_tsn=local_tsn,
        local_port=assoc._host.local_port,
        peer_port=assoc.remote_port,
        now=now,
        local_tie_tag=assoc._local_tie_tag if tie else 0,
        peer_tie_tag=assoc._peer_tie_tag if tie else 0,
        addresses=assoc._host.address_parameters,
        auth=auth,
    )
    assoc._send_raw(chunk.initiate_tag, [ack])


def authenticated_cookie_echo(
    assoc: Association, keys: AuthKeys, chunks: list[Chunk], vtag: int, now: float
) -> int:
    """A keyed endpoint's association got a packet starting with AUTH or COOKIE ECHO.

    RFC 4895 §6.2/§6.3: we ask for COOKIE ECHO to be authenticated, so it must follow an
    AUTH chunk, which is checked with the key vectors the cookie carries before the cookie
    is acted upon. Returns where processing goes on: 2 after an accepted AUTH + COOKIE ECHO,
    0 for a packet not carrying a COOKIE ECHO second (the usual checks apply), -1 to drop.
    """
    first = chunks[0]
    if isinstance(first, CookieEchoChunk):
        assoc.drops.add("auth_missing")
        return -1
    if len(chunks) < 2 or not isinstance(first, AuthChunk):
        return 0
    echo = chunks[1]
    if not isinstance(echo, CookieEchoChunk):
        return 0
    try:
        contents = assoc._host.cookies.open(echo.cookie, now)
    except ForgedCookieError:
        assoc.drops.add("bad_cookie")
        return -1
    except StaleCookieError as stale:
        contents = stale.contents  # handle_cookie_echo decides (§5.2.4 step 3)
    auth = AssociationAuth.from_cookie(keys, contents.auth)
    if auth is None:
        assoc.drops.add("auth_missing")
        return -1
    reason = auth.verify(first)
    if reason is not None:
        assoc.drops.add(reason)
        return -1
    if not handle_cookie_echo(assoc, echo, vtag, now):
        return -1
    if assoc._auth is not None:
        assoc._auth.peer_authenticated(first.shared_key_id)
    return 2


def handle_cookie_echo(assoc: Association, chunk: CookieEchoChunk, vtag: int, now: float) -> bool:
    """A COOKIE ECHO for this existing association (§5.2.4).

    Returns True when the rest of the packet is to be processed (the cookie was
    accepted), False when the packet is to be dropped.
    """
    cookies = assoc._host.cookies
    try:
        contents = cookies.open(chunk.cookie, now)
    except ForgedCookieError:
        assoc.drops.add("bad_cookie")
        return False
    except StaleCookieError as stale:
        contents = stale.contents
        if not (contents.local_tag == assoc.local_tag and contents.peer_tag == assoc.peer_tag):
            # §5.2.4 step 3: stale and not ours: Stale Cookie error.
            assoc.drops.add("stale_cookie")
            assoc._send_raw(
                contents.peer_tag,
                [ErrorChunk(causes=(StaleCookieErrorCause(stale.staleness_us),))],
            )
            return False
    if vtag != contents.local_tag or contents.peer_port != assoc.remote_port:
        assoc.drops.add("wrong_vtag")
        return False
    local_match = contents.local_tag == assoc.local_tag
    peer_match = contents.peer_tag == assoc.peer_tag
    ties_match = (
        contents.local_tie_tag == assoc._local_tie_tag
        and contents.peer_tie_tag == assoc._peer_tie_tag
    )
    if not local_match and not peer_match and ties_match:
        return cookie_restart(assoc, contents, now)  # action A
    if local_match and not peer_match:
        # Action B: the peer chose a new tag after answering our INIT (collision).
        if assoc.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            adopt_cookie(assoc, contents, now)
            assoc._transition(Trigger.COLLISION_ESTABLISHED)
            assoc._queue_control(CookieAckChunk())
            on_established(assoc, now)
        else:
            assoc.peer_tag = contents.peer_tag
            assoc._queue_control(CookieAckChunk())
        return True
    if not local_match and peer_match and contents.local_tie_tag == 0:
        # Action C: our own old cookie arrived late; silently discard.
        assoc.drops.add("late_cookie")
        return False
    if local_match and peer_match:
        # Action D: a duplicate (our COOKIE ACK may have been lost).
        if assoc.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            assoc._transition(Trigger.COLLISION_ESTABLISHED)
            assoc._queue_control(CookieAckChunk())
            on_established(assoc, now)
        else:
            assoc._queue_control(CookieAckChunk())
        return True
    assoc.drops.add("unmatched_cookie")
    return False


def cookie_restart(assoc: Association, contents: CookieContents, now: float) -> bool:
    if assoc.state is State.SHUTDOWN_ACK_SENT:
        # §5.2.4 A: no restart while shutting down: resend SHUTDOWN ACK plus an ERROR.
        assoc._queue_control(ShutdownAckChunk())
        assoc._queue_control(ErrorChunk(causes=(CookieReceivedWhileShuttingDownCause(),)))
        return False
    if assoc.state is State.COOKIE_WAIT:
        assoc.drops.add("unmatched_cookie")
        return False
    # Restart: everything is reset as after an ABORT followed by a new COOKIE ECHO
    # (data already handed to the send side is not retained), congestion state
    # included (§5.2.4 A). Messages still waiting for setup are kept.
    was_established = assoc.state is not State.COOKIE_ECHOED
    for timer in assoc._timers:
        timer.reset()
    assoc._pmtud.stop()  # its timer was just reset; probing starts over below
    assoc._control.clear()
    assoc._error_count = 0
    assoc._t3_streak = 0
    if was_established:
        assoc._shutdown_requested = False
    adopt_cookie(assoc, contents, now)
    assoc._transition(Trigger.RESTART)
    assoc._queue_control(CookieAckChunk())
    if was_established:
        flush_pre_queue(assoc, now)
        assoc._host._emit(AssociationRestarted(assoc.id))
        liveness.restart_heartbeat(assoc, now)
        for path in assoc._paths:
            if path is not assoc._path:
                paths.start_probing(assoc, path, now)  # their timers were reset too
        assoc._pmtud.limit_max(assoc._peer_a_rwnd // PEER_WINDOW_PACKETS)
        assoc._pmtud.start(now)
    else:
        on_established(assoc, now)
    return True


def handle_stale_cookie(assoc: Association, cause: StaleCookieErrorCause, now: float) -> None:
    # §5.2.6 alternative 3: a new INIT with a Cookie Preservative covering the delay.
    if assoc.state is not State.COOKIE_ECHOED:
        return
    assoc._init_retries += 1
    if assoc._init_retries > assoc._options.max_init_retransmits:
        assoc._close_aborted("peer keeps rejecting our State Cookie as stale", False)
        return
    rtt = max(0.0, now - assoc._cookie_sent_at)
    assoc._preservative = cause.staleness / 1_000_000 + min(rtt, 1.0)
    assoc.peer_tag = 0
    assoc._auth = None  # the new INIT ACK brings new key vectors
    assoc._tx = None
    assoc._tracker = None
    assoc._reassembly = None
    assoc._transition(Trigger.STALE_COOKIE)
    assoc._t1.reset()
    send_init(assoc, now)


def t1_expired(assoc: Association, now: float) -> None:
    # §5.1 C/D, §6.3.3: retransmit INIT / COOKIE ECHO with backoff, up to
    # Max.Init.Retransmits.
    assoc._init_retries += 1
    if assoc._init_retries > assoc._options.max_init_retransmits:
        what = "INIT" if assoc.state is State.COOKIE_WAIT else "COOKIE ECHO"
        assoc._close_aborted(
            f"association setup failed: {what} unanswered after "
            f"{assoc._options.max_init_retransmits} retransmissions",
            False,
        )
        return
    assoc._rto.backoff()
    if assoc._multihomed:
        paths.setup_failed_once(assoc, assoc._path)
        # §5.1, §6.4: INIT and COOKIE ECHO of a multihomed peer may be retransmitted to
        # another of its addresses: the next confirmed one (§5.4: a COOKIE ECHO alone never
        # goes to an unconfirmed address), in turn, with that destination's RTO (§6.3).
        count = len(assoc._paths)
        index = assoc._paths.index(assoc._path)
        for step in range(1, count):
            following = assoc._paths[(index + step) % count]
            if following.confirmed:
                paths.use_path(assoc, following, now)
                break
    if assoc.state is State.COOKIE_WAIT and assoc._init_chunk is not None:
        assoc._send_raw(0, [assoc._init_chunk])
        assoc._t1.start(now, assoc._rto.rto)
    elif assoc.state is State.COOKIE_ECHOED and assoc._cookie_echo is not None:
        send_cookie_echo(assoc, now)


def _pad4(raw: bytes) -> bytes:
    return raw + b"\x00" * (-len(raw) & 3)
