"""INIT / INIT ACK processing shared by the endpoint (stateless) and the association.

RFC 9260 §5.1 (setup), §3.3.2 / §3.3.3 (mandatory fields), §3.2.1 (unknown parameters),
§5.1.3 (State Cookie generation), §5.2.1 / §5.2.2 (INIT ACKs answering collisions and
unexpected INITs), RFC 8260 §2.2.1 (I-DATA negotiation through the Supported Extensions
parameter of RFC 5061 §4.2.7). These are pure functions: the caller decides what to send
and where.
"""

from __future__ import annotations

from dataclasses import dataclass

from .auth import AssociationAuth, AuthParams
from .cookie import CookieContents, CookieFactory
from .options import Options
from .packet import (
    CookiePreservativeParameter,
    ErrorCause,
    HostNameAddressParameter,
    InitAckChunk,
    InitChunk,
    InvalidMandatoryParameterCause,
    IPv4AddressParameter,
    IPv6AddressParameter,
    MissingMandatoryParameterCause,
    Parameter,
    StateCookieParameter,
    SupportedExtensionsParameter,
    UnknownParameter,
    UnrecognizedParameter,
    UnresolvableAddressCause,
)

#: Longest extra cookie lifetime we grant a Cookie Preservative (§5.2.6 3 suggests RTT + 1 s).
MAX_COOKIE_PRESERVATIVE = 5.0
_STATE_COOKIE_TYPE = 7
#: The I-DATA chunk type (RFC 8260 §2.1), listed in Supported Extensions to offer it.
IDATA_CHUNK_TYPE = 64
#: The AUTH chunk type (RFC 4895 §4.2), listed in Supported Extensions by a keyed endpoint.
AUTH_CHUNK_TYPE = 0x0F


@dataclass(frozen=True, slots=True)
class InitCheck:
    """What the checks of an INIT or INIT ACK found.

    Attributes:
        discard: drop the packet silently (e.g. Initiate Tag 0 in an INIT, §3.3.2).
        abort_causes: not None when the chunk must be answered with ABORT (§3.3.2/§3.3.3);
            the ABORT carries the chunk's Initiate Tag as verification tag.
        reason: readable text for counters and events.
        unrecognized: raw TLVs of unknown parameters whose type asks for a report
            (§3.2.1): Unrecognized Parameter in the INIT ACK, or an ERROR with an
            Unrecognized Parameters cause bundled with COOKIE ECHO.
        cookie: the State Cookie of an INIT ACK (None for INIT or when absent).
        preservative: extra cookie lifetime asked for by a Cookie Preservative (seconds).
        peer_interleaving: the chunk lists I-DATA in a Supported Extensions parameter
            (RFC 8260 §2.2.1): the sender can receive interleaved messages.
    """

    discard: bool = False
    abort_causes: tuple[ErrorCause, ...] | None = None
    reason: str = ""
    unrecognized: tuple[bytes, ...] = ()
    cookie: bytes | None = None
    preservative: float = 0.0
    peer_interleaving: bool = False


def check_init(chunk: InitChunk | InitAckChunk) -> InitCheck:
    """Validate an INIT or INIT ACK's mandatory fields and scan its parameters.

    §3.3.2: an INIT with Initiate Tag 0 is silently discarded; OS or MIS of 0 is answered
    with ABORT. §3.3.3: an INIT ACK with a zero tag, zero stream counts or a_rwnd < 1500 is
    answered with ABORT (the caller destroys the TCB). The Host Name Address parameter
    (§3.3.2.1, deprecated) is answered with ABORT and an Unresolvable Address cause.
    """
    is_ack = isinstance(chunk, InitAckChunk)
    name = "INIT ACK" if is_ack else "INIT"
    if chunk.initiate_tag == 0:
        if not is_ack:
            return InitCheck(discard=True, reason="INIT with Initiate Tag 0")
        return InitCheck(
            abort_causes=(InvalidMandatoryParameterCause(),),
            reason="INIT ACK with Initiate Tag 0",
        )
    if chunk.outbound_streams == 0 or chunk.inbound_streams == 0:
        return InitCheck(
            abort_causes=(InvalidMandatoryParameterCause(),),
            reason=f"{name} with zero stream count",
        )
    if chunk.a_rwnd < 1500:
        return InitCheck(
            abort_causes=(InvalidMandatoryParameterCause(),),
            reason=f"{name} with a_rwnd {chunk.a_rwnd} < 1500",
        )
    unrecognized: list[bytes] = []
    cookie: bytes | None = None
    preservative = 0.0
    interleaving = False
    for param in chunk.parameters:
        if isinstance(param, UnknownParameter):
            # §3.2.1: the upper two bits of the type say whether to go on and to report.
            action = param.action
            if action.report:
                unrecognized.append(param.serialize())
            if not action.skip:
                break
        elif isinstance(param, StateCookieParameter):
            if is_ack:
                cookie = param.cookie
        elif isinstance(param, HostNameAddressParameter):
            return InitCheck(
                abort_causes=(UnresolvableAddressCause(param.serialize()),),
                reason=f"{name} with a Host Name Address (not supported, §3.3.2.1)",
            )
        elif isinstance(param, CookiePreservativeParameter) and not is_ack:
            preservative = min(param.lifespan_increment / 1000.0, MAX_COOKIE_PRESERVATIVE)
        elif isinstance(param, SupportedExtensionsParameter):
            # RFC 5061 §4.2.7: the chunk types the sender supports; RFC 8260 §2.2.1: I-DATA
            # listed there offers user message interleaving.
            interleaving = interleaving or IDATA_CHUNK_TYPE in param.chunk_types
        # Everything else (addresses, Supported Address Types, ECN, Forward-TSN-Supported)
        # is recognized and ignored: we offer none of those features.
    if is_ack and cookie is None:
        return InitCheck(
            abort_causes=(MissingMandatoryParameterCause((_STATE_COOKIE_TYPE,)),),
            reason="INIT ACK without a State Cookie",
        )
    return InitCheck(
        unrecognized=tuple(unrecognized),
        cookie=cookie,
        preservative=preservative,
        peer_interleaving=interleaving,
    )


def negotiate_streams(options: Options, peer_outbound: int, peer_inbound: int) -> tuple[int, int]:
    """(outbound, inbound) stream counts: the minimum of what each side offers (§5.1.1)."""
    return min(options.outbound_streams, peer_inbound), min(options.inbound_streams, peer_outbound)


def negotiate_interleaving(options: Options, check: InitCheck) -> bool:
    """Whether the association uses I-DATA: both sides listed it (RFC 8260 §2.2.1)."""
    return options.interleaving and check.peer_interleaving


def _extension_parameters(options: Options, auth: AuthParams | None = None) -> list[Parameter]:
    """Supported Extensions (RFC 5061 §4.2.7) listing what we offer: I-DATA, AUTH, or
    nothing; with ``auth``, our RANDOM, CHUNKS and HMAC-ALGO follow (RFC 4895 §3).

    FORWARD-TSN / I-FORWARD-TSN are not listed: PR-SCTP (RFC 3758) is not implemented.
    """
    offered: tuple[int, ...] = (IDATA_CHUNK_TYPE,) if options.interleaving else ()
    if auth is not None:
        offered += (AUTH_CHUNK_TYPE,)
    params: list[Parameter] = [SupportedExtensionsParameter(offered)] if offered else []
    if auth is not None:
        params.extend(auth.parameters())
    return params


def make_init(
    options: Options,
    local_tag: int,
    initial_tsn: int,
    preservative: float = 0.0,
    addresses: tuple[Parameter, ...] = (),
    auth: AuthParams | None = None,
) -> InitChunk:
    """Our INIT (§5.1 A): I-DATA offered when ``Options.interleaving`` is on (RFC 8260
    §2.2.1), our SCTP-AUTH parameters when keyed (RFC 4895 §6.1), a Cookie Preservative
    when retrying after a Stale Cookie error (§5.2.6 3), and the IPv4 / IPv6 Address
    parameters of a multihomed endpoint (§5.1.2)."""
    params: list[Parameter] = list(addresses)
    params.extend(_extension_parameters(options, auth))
    if preservative > 0:
        params.append(CookiePreservativeParameter(int(preservative * 1000)))
    return InitChunk(
        initiate_tag=local_tag,
        a_rwnd=options.receive_window,
        outbound_streams=options.outbound_streams,
        inbound_streams=options.inbound_streams,
        initial_tsn=initial_tsn,
        parameters=tuple(params),
    )


def make_init_ack(
    options: Options,
    factory: CookieFactory,
    init: InitChunk,
    check: InitCheck,
    *,
    local_tag: int,
    local_initial_tsn: int,
    local_port: int,
    peer_port: int,
    now: float,
    local_tie_tag: int = 0,
    peer_tie_tag: int = 0,
    addresses: tuple[Parameter, ...] = (),
    auth: AssociationAuth | None = None,
) -> InitAckChunk:
    """An INIT ACK carrying a signed State Cookie (§5.1 B, §5.1.3), no state kept.

    The cookie holds the negotiated stream counts, both tags and initial TSNs, the peer's
    a_rwnd, the Tie-Tags (§5.2.2; zero for a normal setup) and whether I-DATA was negotiated
    (RFC 8260 §2.2.1: the INIT listed it and so do we), and the addresses the INIT listed
    (§5.1.2: the association built from the cookie knows all the peer's destinations).
    Unknown parameters of the INIT that ask for a report come back as Unrecognized Parameter
    parameters (§3.2.1). ``addresses``: our own Address parameters, for a multihomed
    endpoint. With ``auth`` (a keyed endpoint, RFC 4895 §6.1) our AUTH parameters go in the
    INIT ACK and both key vectors in the cookie.
    """
    outbound, inbound = negotiate_streams(options, init.outbound_streams, init.inbound_streams)
    contents = CookieContents(
        local_tag=local_tag,
        peer_tag=init.initiate_tag,
        local_initial_tsn=local_initial_tsn,
        peer_initial_tsn=init.initial_tsn,
        outbound_streams=outbound,
        inbound_streams=inbound,
        peer_a_rwnd=init.a_rwnd,
        local_port=local_port,
        peer_port=peer_port,
        local_tie_tag=local_tie_tag,
        peer_tie_tag=peer_tie_tag,
        created=now,
        lifetime=options.valid_cookie_life + check.preservative,
        interleaving=negotiate_interleaving(options, check),
        peer_addresses=tuple(
            p.address.packed
            for p in init.parameters
            if isinstance(p, (IPv4AddressParameter, IPv6AddressParameter))
        ),
        auth=auth.cookie_bytes() if auth is not None else b"",
    )
    params: list[Parameter] = [StateCookieParameter(factory.make(contents, now))]
    params.extend(addresses)
    params.extend(_extension_parameters(options, auth.local if auth is not None else None))
    params.extend(UnrecognizedParameter(raw) for raw in check.unrecognized)
    return InitAckChunk(
        initiate_tag=local_tag,
        a_rwnd=options.receive_window,
        # §3.3.3: OS must not exceed the MIS of the INIT.
        outbound_streams=outbound,
        inbound_streams=options.inbound_streams,
        initial_tsn=local_initial_tsn,
        parameters=tuple(params),
    )
