"""Property tests of the wire format: round trips of every chunk, parameter and cause, and
robustness against random and mutated bytes (only ParseError may come out).

Hypothesis runs derandomized (a fixed seed derived from each test) with bounded example
counts, so runs are reproducible and short.
"""

from __future__ import annotations

import ipaddress
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netchan.transport.sctp.packet import (
    CHUNK_CLASSES,
    AbortChunk,
    AuthChunk,
    Chunk,
    ChunkListParameter,
    CookieAckChunk,
    CookieEchoChunk,
    CookiePreservativeParameter,
    CookieReceivedWhileShuttingDownCause,
    DataChunk,
    EcnCapableParameter,
    ErrorCause,
    ErrorChunk,
    ForwardTsnChunk,
    ForwardTsnSupportedParameter,
    HeartbeatAckChunk,
    HeartbeatChunk,
    HeartbeatInfoParameter,
    HmacAlgorithmParameter,
    HostNameAddressParameter,
    IDataChunk,
    IForwardTsnChunk,
    InitAckChunk,
    InitChunk,
    InvalidMandatoryParameterCause,
    InvalidStreamIdentifierCause,
    IPv4AddressParameter,
    IPv6AddressParameter,
    MissingMandatoryParameterCause,
    NoUserDataCause,
    OutOfResourceCause,
    Packet,
    PadChunk,
    Parameter,
    ParseError,
    ProtocolViolationCause,
    RandomParameter,
    RestartWithNewAddressesCause,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    StaleCookieErrorCause,
    StateCookieParameter,
    SupportedAddressTypesParameter,
    SupportedExtensionsParameter,
    UnknownChunk,
    UnknownErrorCause,
    UnknownParameter,
    UnrecognizedChunkTypeCause,
    UnrecognizedParameter,
    UnrecognizedParametersCause,
    UnresolvableAddressCause,
    UnsupportedHmacIdentifierCause,
    UserInitiatedAbortCause,
    compute_checksum,
    parse_chunk,
    parse_error_causes,
    parse_packet,
    parse_parameters,
    serialize_packet,
    serialized_size,
)
from netchan.transport.sctp.packet.error_causes import ERROR_CAUSE_PARSERS
from netchan.transport.sctp.packet.parameters import PARAMETER_PARSERS

ROUND_TRIP = settings(max_examples=200, deadline=None, derandomize=True, database=None)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
blob = st.binary(max_size=48)

# --- parameters -----------------------------------------------------------------------------

parameters: st.SearchStrategy[Parameter] = st.one_of(
    st.builds(HeartbeatInfoParameter, blob),
    st.builds(IPv4AddressParameter, st.ip_addresses(v=4).map(ipaddress.IPv4Address)),
    st.builds(IPv6AddressParameter, st.ip_addresses(v=6).map(ipaddress.IPv6Address)),
    st.builds(StateCookieParameter, blob),
    st.builds(UnrecognizedParameter, blob),
    st.builds(CookiePreservativeParameter, u32),
    st.builds(
        HostNameAddressParameter,
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", max_size=30),
    ),
    st.builds(SupportedAddressTypesParameter, st.lists(u16, max_size=4).map(tuple)),
    st.builds(EcnCapableParameter),
    st.builds(SupportedExtensionsParameter, st.lists(u8, max_size=8).map(tuple)),
    st.builds(ForwardTsnSupportedParameter),
    # RFC 4895 §3.1-§3.3
    st.builds(RandomParameter, st.binary(min_size=1, max_size=48)),
    st.builds(ChunkListParameter, st.lists(u8, max_size=12).map(tuple)),
    st.builds(HmacAlgorithmParameter, st.lists(u16, min_size=1, max_size=4).map(tuple)),
    st.builds(UnknownParameter, u16.filter(lambda t: t not in PARAMETER_PARSERS), blob),
)

# --- error causes ---------------------------------------------------------------------------

causes: st.SearchStrategy[ErrorCause] = st.one_of(
    st.builds(InvalidStreamIdentifierCause, u16),
    st.builds(MissingMandatoryParameterCause, st.lists(u16, max_size=5).map(tuple)),
    st.builds(StaleCookieErrorCause, u32),
    st.builds(OutOfResourceCause),
    st.builds(UnresolvableAddressCause, blob),
    st.builds(UnrecognizedChunkTypeCause, blob),
    st.builds(InvalidMandatoryParameterCause),
    st.builds(UnrecognizedParametersCause, blob),
    st.builds(NoUserDataCause, u32),
    st.builds(CookieReceivedWhileShuttingDownCause),
    st.builds(RestartWithNewAddressesCause, blob),
    st.builds(UserInitiatedAbortCause, blob),
    st.builds(ProtocolViolationCause, blob),
    st.builds(UnsupportedHmacIdentifierCause, u16),  # RFC 4895 §4.1
    st.builds(UnknownErrorCause, u16.filter(lambda c: c not in ERROR_CAUSE_PARSERS), blob),
)
cause_tuples = st.lists(causes, max_size=4).map(tuple)

# --- chunks ---------------------------------------------------------------------------------

payload = st.binary(min_size=1, max_size=64)
booleans = st.booleans()


@st.composite
def idata_chunks(draw: st.DrawFn) -> IDataChunk:
    beginning = draw(booleans)
    return IDataChunk(
        draw(u32),
        draw(u16),
        draw(u32),
        0 if beginning else draw(u32),  # the FSN of a first fragment is 0 (RFC 8260)
        draw(u32) if beginning else 0,  # the PPID travels only in the first fragment
        draw(payload),
        draw(booleans),
        beginning,
        draw(booleans),
        draw(booleans),
    )


chunks: st.SearchStrategy[Chunk] = st.one_of(
    st.builds(DataChunk, u32, u16, u16, u32, payload, booleans, booleans, booleans, booleans),
    st.builds(InitChunk, u32, u32, u16, u16, u32, st.lists(parameters, max_size=5).map(tuple)),
    st.builds(InitAckChunk, u32, u32, u16, u16, u32, st.lists(parameters, max_size=5).map(tuple)),
    st.builds(
        SackChunk,
        u32,
        u32,
        st.lists(st.tuples(u16, u16), max_size=6).map(tuple),
        st.lists(u32, max_size=6).map(tuple),
    ),
    st.builds(HeartbeatChunk, blob),
    st.builds(HeartbeatAckChunk, blob),
    st.builds(AbortChunk, cause_tuples, booleans),
    st.builds(ShutdownChunk, u32),
    st.builds(ShutdownAckChunk),
    st.builds(ErrorChunk, cause_tuples),
    st.builds(CookieEchoChunk, blob),
    st.builds(CookieAckChunk),
    st.builds(ShutdownCompleteChunk, booleans),
    idata_chunks(),
    st.builds(ForwardTsnChunk, u32, st.lists(st.tuples(u16, u16), max_size=5).map(tuple)),
    st.builds(
        IForwardTsnChunk, u32, st.lists(st.tuples(u16, booleans, u32), max_size=5).map(tuple)
    ),
    st.builds(PadChunk, st.integers(0, 0xFFFB)),
    st.builds(AuthChunk, u16, u16, blob),  # RFC 4895 §4.2
    st.builds(UnknownChunk, u8.filter(lambda t: t not in CHUNK_CLASSES), u8, blob),
)

packets = st.builds(Packet, u16, u16, u32, st.lists(chunks, min_size=1, max_size=6))


# --- round trips ----------------------------------------------------------------------------


@ROUND_TRIP
@given(parameters)
def test_parameter_round_trip(parameter: Parameter) -> None:
    tlv = parameter.serialize()
    assert struct.unpack_from("!HH", tlv) == (parameter.parameter_type, len(tlv))
    assert parameter.serialized_size() == (len(tlv) + 3) & ~3
    assert parse_parameters(tlv) == [parameter]


@ROUND_TRIP
@given(st.lists(parameters, max_size=6))
def test_parameter_list_round_trip(items: list[Parameter]) -> None:
    wire = b"".join(p.serialize() + bytes(-len(p.serialize()) % 4) for p in items)
    assert parse_parameters(wire) == items


@ROUND_TRIP
@given(causes)
def test_error_cause_round_trip(cause: ErrorCause) -> None:
    tlv = cause.serialize()
    assert struct.unpack_from("!HH", tlv) == (cause.cause_code, len(tlv))
    assert parse_error_causes(tlv) == [cause]
    assert isinstance(str(cause), str) and str(cause)


@ROUND_TRIP
@given(chunks)
def test_chunk_round_trip(chunk: Chunk) -> None:
    wire = chunk.serialize()
    assert len(wire) == chunk.serialized_size()
    assert len(wire) % 4 == 0
    assert wire[0] == chunk.chunk_type
    (length,) = struct.unpack_from("!H", wire, 2)
    assert len(wire) - 3 <= length <= len(wire)  # the length excludes at most 3 padding bytes
    assert parse_chunk(wire) == chunk


@ROUND_TRIP
@given(packets)
def test_packet_round_trip(packet: Packet) -> None:
    wire = serialize_packet(
        packet.src_port, packet.dst_port, packet.verification_tag, packet.chunks
    )
    assert len(wire) == serialized_size(packet.chunks)
    assert parse_packet(wire) == packet


# --- hostile input --------------------------------------------------------------------------


def _with_valid_checksum(data: bytes) -> bytes:
    if len(data) < 12:
        return data
    return data[:8] + struct.pack("<I", compute_checksum(data)) + data[12:]


def _parse_only_parse_error(data: bytes, verify: bool = True) -> Packet | None:
    """Parse; ParseError is fine, any other exception fails the test by propagating."""
    try:
        packet = parse_packet(data, verify_checksum=verify)
    except ParseError as exc:
        # A parser bug (IndexError, struct.error...) would be wrapped as a ParseError by the
        # last-resort guard in parse_chunks (with the original as __cause__); that guard must
        # never be what caught it.
        assert exc.__cause__ is None, repr(exc.__cause__)
        return None
    # Whatever parses must re-serialize into something that parses to the same packet.
    again = parse_packet(packet.serialize())
    assert again == packet
    return packet


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_parse_error(data: bytes) -> None:
    _parse_only_parse_error(data, verify=False)
    _parse_only_parse_error(_with_valid_checksum(data))


@FUZZ
@given(
    st.lists(st.tuples(u8, u8, st.binary(max_size=40)), min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 3), u16), max_size=3),
)
def test_chunk_shaped_bytes_only_raise_parse_error(
    raw_chunks: list[tuple[int, int, bytes]], length_edits: list[tuple[int, int]]
) -> None:
    """Chunks with real type codes and plausible framing, and randomly edited length fields:
    reaches the per-chunk parsers far more often than uniformly random bytes."""
    body = bytearray()
    starts = []
    for chunk_type, flags, value in raw_chunks:
        # Bias toward known types so the specific parsers run.
        t = (
            sorted(CHUNK_CLASSES)[chunk_type % len(CHUNK_CLASSES)]
            if chunk_type < 200
            else chunk_type
        )
        starts.append(len(body))
        body += struct.pack("!BBH", t, flags, 4 + len(value)) + value + bytes(-len(value) % 4)
    for which, new_length in length_edits:
        start = starts[which % len(starts)]
        struct.pack_into("!H", body, start + 2, new_length % (len(body) + 8))
    data = _with_valid_checksum(struct.pack("!HHI", 1, 2, 3) + bytes(4) + bytes(body))
    _parse_only_parse_error(data)


@FUZZ
@given(
    packets,
    st.lists(st.tuples(st.integers(0, 10_000), u8), min_size=1, max_size=4),
    st.integers(0, 3),
    st.integers(0, 10_000),
)
def test_mutated_packets_only_raise_parse_error(
    packet: Packet, edits: list[tuple[int, int]], mode: int, cut: int
) -> None:
    wire = bytearray(packet.serialize())
    if mode == 0:  # overwrite bytes
        for position, value in edits:
            wire[position % len(wire)] = value
    elif mode == 1:  # truncate
        del wire[12 + cut % (len(wire) - 11) :]
    elif mode == 2:  # insert bytes
        for position, value in edits:
            wire.insert(12 + position % (len(wire) - 11), value)
    else:  # bump 16-bit words (length fields live there) by small amounts
        for position, value in edits:
            at = 12 + (position % max(1, (len(wire) - 14) // 2)) * 2
            (word,) = struct.unpack_from("!H", wire, at)
            struct.pack_into("!H", wire, at, (word + value - 128) & 0xFFFF)
    data = bytes(wire)
    _parse_only_parse_error(data, verify=False)
    _parse_only_parse_error(_with_valid_checksum(data))


def _tlvs(items: list[tuple[int, bytes]], known: list[int]) -> bytes:
    out = bytearray()
    for selector, value in items:
        # Half the TLVs get a known type so that its decoder sees arbitrary values.
        tlv_type = known[selector % len(known)] if selector & 0x10000 else selector & 0xFFFF
        out += struct.pack("!HH", tlv_type, 4 + len(value)) + value + bytes(-len(value) % 4)
    return bytes(out)


tlv_items = st.lists(st.tuples(st.integers(0, 0x1FFFF), st.binary(max_size=24)), max_size=6)


@FUZZ
@given(st.sampled_from([1, 2, 4, 5]), tlv_items)
def test_arbitrary_parameter_values_only_raise_parse_error(
    chunk_type: int, items: list[tuple[int, bytes]]
) -> None:
    """INIT, INIT ACK, HEARTBEAT and HEARTBEAT ACK with arbitrary parameter TLVs."""
    body = _tlvs(items, sorted(PARAMETER_PARSERS))
    fixed = bytes(16) if chunk_type in (1, 2) else b""
    chunk = struct.pack("!BBH", chunk_type, 0, 4 + len(fixed) + len(body)) + fixed + body
    data = _with_valid_checksum(struct.pack("!HHI", 1, 2, 3) + bytes(4) + chunk)
    _parse_only_parse_error(data)


@FUZZ
@given(st.sampled_from([6, 9]), tlv_items)
def test_arbitrary_error_cause_values_only_raise_parse_error(
    chunk_type: int, items: list[tuple[int, bytes]]
) -> None:
    """ABORT and ERROR with arbitrary cause TLVs."""
    body = _tlvs(items, sorted(ERROR_CAUSE_PARSERS))
    chunk = struct.pack("!BBH", chunk_type, 0, 4 + len(body)) + body
    data = _with_valid_checksum(struct.pack("!HHI", 1, 2, 3) + bytes(4) + chunk)
    _parse_only_parse_error(data)
