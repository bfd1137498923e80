"""Chunk, parameter and error cause layouts (RFC 9260 §3), padding and length validation."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from netchan.transport.sctp.packet import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    CookiePreservativeParameter,
    CookieReceivedWhileShuttingDownCause,
    DataChunk,
    ErrorCause,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
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
    ParseError,
    ProtocolViolationCause,
    RestartWithNewAddressesCause,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    StaleCookieErrorCause,
    StateCookieParameter,
    SupportedAddressTypesParameter,
    UnknownChunk,
    UnknownErrorCause,
    UnknownParameter,
    UnrecognizedAction,
    UnrecognizedChunkTypeCause,
    UnrecognizedParameter,
    UnrecognizedParametersCause,
    UnresolvableAddressCause,
    UserInitiatedAbortCause,
    parse_chunk,
    parse_packet,
    peek_header,
    serialize_packet,
    serialized_size,
    unrecognized_chunk_action,
    unrecognized_parameter_action,
)
from netchan.transport.sctp.packet.sctp_packet import compute_checksum


def _packet(body: bytes, vtag: int = 1) -> bytes:
    """Wrap raw chunk bytes in a common header with a valid checksum."""
    header = struct.pack("!HHI", 10, 20, vtag) + bytes(4)
    crc = compute_checksum(header + body)
    return header[:8] + struct.pack("<I", crc) + body


# --- DATA and I-DATA --------------------------------------------------------------------


def test_data_chunk_layout_flags_and_padding() -> None:
    chunk = DataChunk(0x01020304, 5, 6, 7, b"abcde", unordered=True, beginning=True, ending=False)
    wire = chunk.serialize()
    assert wire == (
        b"\x00\x06\x00\x15"  # type 0, flags U|B, length 16 + 5
        b"\x01\x02\x03\x04\x00\x05\x00\x06\x00\x00\x00\x07abcde\x00\x00\x00"
    )
    assert chunk.serialized_size() == len(wire) == 24
    assert parse_chunk(wire) == chunk


def test_data_chunk_all_flag_bits() -> None:
    for flags in range(16):
        chunk = DataChunk(
            1,
            2,
            3,
            4,
            b"x",
            unordered=bool(flags & 4),
            beginning=bool(flags & 2),
            ending=bool(flags & 1),
            immediate=bool(flags & 8),
        )
        wire = chunk.serialize()
        assert wire[1] == flags
        assert parse_chunk(wire) == chunk


def test_data_chunk_reserved_flag_bits_are_ignored() -> None:
    wire = bytearray(DataChunk(1, 2, 3, 4, b"zz").serialize())
    wire[1] |= 0xF0
    assert parse_chunk(bytes(wire)) == DataChunk(1, 2, 3, 4, b"zz")


def test_data_chunk_without_user_data_parses_for_the_association_to_reject() -> None:
    # §6.2: the association answers with ABORT / No User Data; the parser reports the chunk.
    chunk = parse_chunk(b"\x00\x03\x00\x10" + bytes(12))
    assert isinstance(chunk, DataChunk)
    assert chunk.user_data == b""


def test_data_chunk_too_short() -> None:
    with pytest.raises(ParseError):
        parse_chunk(b"\x00\x03\x00\x0c" + bytes(8))


def test_idata_first_and_middle_fragments() -> None:
    first = IDataChunk(10, 1, 99, 0, 0xABCD, b"head", beginning=True, ending=False)
    middle = IDataChunk(11, 1, 99, 1, 0, b"mid", beginning=False, ending=False)
    wire = first.serialize()
    assert wire[:4] == b"\x40\x02\x00\x18"
    assert wire[16:20] == struct.pack("!I", 0xABCD)  # PPID on the first fragment
    assert parse_chunk(wire) == first
    wire = middle.serialize()
    assert wire[16:20] == struct.pack("!I", 1)  # FSN otherwise
    assert parse_chunk(wire) == middle
    assert middle.serialized_size() == len(wire) == 24


@pytest.mark.parametrize("flags", range(16))
@pytest.mark.parametrize("payload", [b"", b"a", b"abcd", b"abcdefg"])
def test_inlined_data_and_idata_parsing_matches_the_chunk_parsers(
    flags: int, payload: bytes
) -> None:
    """parse_chunks decodes DATA and I-DATA inline (hot path); it must agree with .parse."""
    body = struct.pack("!IHHI", 0xFFFFFFFE, 7, 0xBEEF, 0x01020304) + payload
    wire = struct.pack("!BBH", 0, flags, 4 + len(body)) + body + bytes(-len(body) & 3)
    assert parse_chunk(wire) == DataChunk.parse(wire, flags, 4, 4 + len(body))
    body = struct.pack("!IHHII", 0x80000000, 9, 0, 0xCAFEBABE, 0x0A0B0C0D) + payload
    wire = struct.pack("!BBH", 64, flags, 4 + len(body)) + body + bytes(-len(body) & 3)
    assert parse_chunk(wire) == IDataChunk.parse(wire, flags, 4, 4 + len(body))


def test_idata_chunk_too_short() -> None:
    with pytest.raises(ParseError):
        parse_chunk(b"\x40\x03\x00\x10" + bytes(12))


# --- INIT / INIT ACK ----------------------------------------------------------------------


def test_init_with_parameters_roundtrip_and_chunk_length_excludes_last_padding() -> None:
    init = InitChunk(
        0x11223344,
        65536,
        10,
        20,
        0x55667788,
        (
            IPv4AddressParameter(ipaddress.IPv4Address("192.0.2.1")),
            IPv6AddressParameter(ipaddress.IPv6Address("2001:db8::1")),
            CookiePreservativeParameter(5000),
            SupportedAddressTypesParameter((5, 6, 11)),  # length 10: padded inside the chunk
            HostNameAddressParameter("example"),  # length 12
            UnknownParameter(0x4001, b"abc"),  # last, length 7: its padding is outside
        ),
    )
    wire = init.serialize()
    (length,) = struct.unpack_from("!H", wire, 2)
    assert length == 20 + 8 + 20 + 8 + 12 + 12 + 7
    assert len(wire) == init.serialized_size() == length + 1
    assert parse_chunk(wire) == init


def test_init_chunk_length_including_final_padding_is_accepted() -> None:
    # §3.2 note: accept the chunk whether or not the final padding is in the Chunk Length.
    init = InitChunk(1, 2000, 1, 1, 0, (UnknownParameter(0x8123, b"a"),))
    wire = bytearray(init.serialize())
    struct.pack_into("!H", wire, 2, len(wire))
    assert parse_chunk(bytes(wire)) == init


def test_init_problem_reports_value_rules() -> None:
    good = InitChunk(1, 1500, 1, 1, 0)
    assert good.problem() is None
    assert InitChunk(0, 1500, 1, 1, 0).problem() == "initiate tag is 0"
    assert "outbound" in (InitChunk(1, 1500, 0, 1, 0).problem() or "")
    assert "inbound" in (InitChunk(1, 1500, 1, 0, 0).problem() or "")
    assert "a_rwnd" in (InitAckChunk(1, 1499, 1, 1, 0).problem() or "")


def test_init_ack_state_cookie_lookup() -> None:
    ack = InitAckChunk(
        1, 4000, 2, 2, 3, (UnknownParameter(0x8000 | 99, b""), StateCookieParameter(b"C"))
    )
    assert parse_chunk(ack.serialize()) == ack
    assert ack.state_cookie == b"C"
    assert InitAckChunk(1, 4000, 2, 2, 3).state_cookie is None


def test_init_too_short_and_bad_parameter_lengths() -> None:
    with pytest.raises(ParseError):
        parse_chunk(b"\x01\x00\x00\x10" + bytes(12))
    fixed = bytes(16)
    # parameter length 3 (< 4)
    with pytest.raises(ParseError):
        parse_chunk(b"\x01\x00\x00\x18" + fixed + b"\x00\x07\x00\x03")
    # parameter length overruns the chunk
    with pytest.raises(ParseError):
        parse_chunk(b"\x01\x00\x00\x18" + fixed + b"\x00\x07\x00\x09")
    # stray bytes that cannot hold a parameter header
    with pytest.raises(ParseError):
        parse_chunk(b"\x01\x00\x00\x16" + fixed + b"\x00\x07\x00\x00")
    # known parameters with wrong sizes
    for bad in (b"\x00\x05\x00\x07abc", b"\x00\x06\x00\x08abcd", b"\x00\x09\x00\x06ab"):
        wire = InitChunk(1, 2, 3, 4, 5).serialize()[4:20] + bad
        with pytest.raises(ParseError):
            parse_chunk(struct.pack("!BBH", 1, 0, 4 + len(wire)) + wire)


def test_unknown_parameter_preserved_and_reported_as_unrecognized() -> None:
    raw = b"\xc1\x23\x00\x06\xaa\xbb"
    wire = struct.pack("!BBH", 1, 0, 20 + len(raw)) + bytes(16) + raw
    init = parse_chunk(wire)
    assert isinstance(init, InitChunk)
    (unknown,) = init.parameters
    assert unknown == UnknownParameter(0xC123, b"\xaa\xbb")
    assert unknown.action is UnrecognizedAction.SKIP_AND_REPORT
    # Echoed byte for byte in an INIT ACK's Unrecognized Parameter (§3.2.2).
    echo = UnrecognizedParameter(unknown.serialize())
    assert echo.parameter == raw
    assert echo.serialize() == b"\x00\x08\x00\x0a" + raw


# --- SACK ------------------------------------------------------------------------------


def test_sack_layout() -> None:
    sack = SackChunk(0x0A0B0C0D, 0x10000, ((2, 3), (5, 9)), (0xFFFFFFFF,))
    wire = sack.serialize()
    assert wire == (
        b"\x03\x00\x00\x1c\x0a\x0b\x0c\x0d\x00\x01\x00\x00\x00\x02\x00\x01"
        b"\x00\x02\x00\x03\x00\x05\x00\x09\xff\xff\xff\xff"
    )
    assert sack.serialized_size() == len(wire)
    assert parse_chunk(wire) == sack


def test_sack_counts_must_match_length() -> None:
    wire = SackChunk(1, 2, ((1, 1),), ()).serialize()
    with pytest.raises(ParseError):
        parse_chunk(wire[:2] + b"\x00\x18" + wire[4:] + bytes(4))  # one extra word
    with pytest.raises(ParseError):
        parse_chunk(wire[:2] + b"\x00\x10" + wire[4:16])  # claims a block it lacks
    with pytest.raises(ParseError):
        parse_chunk(b"\x03\x00\x00\x0c" + bytes(8))


# --- small control chunks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk", "wire"),
    [
        (ShutdownChunk(0x01020304), b"\x07\x00\x00\x08\x01\x02\x03\x04"),
        (ShutdownAckChunk(), b"\x08\x00\x00\x04"),
        (CookieAckChunk(), b"\x0b\x00\x00\x04"),
        (ShutdownCompleteChunk(), b"\x0e\x00\x00\x04"),
        (ShutdownCompleteChunk(tag_reflected=True), b"\x0e\x01\x00\x04"),
        (AbortChunk(), b"\x06\x00\x00\x04"),
        (AbortChunk(tag_reflected=True), b"\x06\x01\x00\x04"),
        (CookieEchoChunk(b"12345"), b"\x0a\x00\x00\x09" + b"12345" + bytes(3)),
        (HeartbeatChunk(b"abc"), b"\x04\x00\x00\x0b\x00\x01\x00\x07abc\x00"),
        (HeartbeatAckChunk(b"abcd"), b"\x05\x00\x00\x0c\x00\x01\x00\x08abcd"),
        (
            ForwardTsnChunk(7, ((1, 2), (3, 4))),
            b"\xc0\x00\x00\x10" + bytes.fromhex("00000007 00010002 00030004"),
        ),
        (
            IForwardTsnChunk(7, ((1, True, 2),)),
            b"\xc2\x00\x00\x10" + bytes.fromhex("00000007 00010001 00000002"),
        ),
        (UnknownChunk(0x55, 0xA5, b"xy"), b"\x55\xa5\x00\x06xy\x00\x00"),
    ],
)
def test_fixed_layouts(chunk: object, wire: bytes) -> None:
    assert isinstance(chunk, Chunk)
    assert chunk.serialize() == wire
    assert chunk.serialized_size() == len(wire)
    assert parse_chunk(wire) == chunk


@pytest.mark.parametrize(
    "wire",
    [
        b"\x07\x00\x00\x04",  # SHUTDOWN without its TSN
        b"\x07\x00\x00\x0c" + bytes(8),  # SHUTDOWN too long
        b"\x08\x00\x00\x08" + bytes(4),  # SHUTDOWN ACK with a value
        b"\x0b\x00\x00\x08" + bytes(4),  # COOKIE ACK with a value
        b"\x0e\x00\x00\x08" + bytes(4),  # SHUTDOWN COMPLETE with a value
        b"\x04\x00\x00\x04",  # HEARTBEAT without Heartbeat Info
        b"\x04\x00\x00\x08\x00\x05\x00\x04",  # HEARTBEAT with another parameter only
        b"\xc0\x00\x00\x04",  # FORWARD TSN without new cumulative TSN
        b"\xc0\x00\x00\x0a" + bytes(6),  # FORWARD TSN with half a stream entry
        b"\xc2\x00\x00\x0c" + bytes(8),  # I-FORWARD-TSN with half an entry
        b"\x40\x00\x00\x10" + bytes(12),  # I-DATA too short
    ],
)
def test_fixed_size_violations(wire: bytes) -> None:
    with pytest.raises(ParseError):
        parse_chunk(wire)


def test_heartbeat_ignores_other_parameters_next_to_info() -> None:
    wire = b"\x04\x00\x00\x10" + b"\x80\x77\x00\x04" + b"\x00\x01\x00\x06hi\x00\x00"
    assert parse_chunk(wire) == HeartbeatChunk(b"hi")


# --- error causes ---------------------------------------------------------------------------


ALL_CAUSES = [
    (InvalidStreamIdentifierCause(7), "00010008 00070000", "invalid stream identifier 7"),
    (
        MissingMandatoryParameterCause((7, 9)),
        "0002000c 00000002 00070009",
        "missing mandatory parameter(s): 7, 9",
    ),
    (StaleCookieErrorCause(1500), "00030008 000005dc", "stale cookie (1500 us past its lifetime)"),
    (OutOfResourceCause(), "00040004", "peer out of resources"),
    (
        UnresolvableAddressCause(b"\x00\x0b\x00\x05a"),
        "00050009 000b000561",
        "unresolvable address (5 bytes)",
    ),
    (
        UnrecognizedChunkTypeCause(b"\x55\x00\x00\x04"),
        "00060008 55000004",
        "unrecognized chunk type 85",
    ),
    (InvalidMandatoryParameterCause(), "00070004", "invalid mandatory parameter"),
    (
        UnrecognizedParametersCause(b"\x80\x99\x00\x04"),
        "00080008 80990004",
        "unrecognized parameters (4 bytes)",
    ),
    (NoUserDataCause(42), "00090008 0000002a", "DATA chunk with TSN 42 had no user data"),
    (CookieReceivedWhileShuttingDownCause(), "000a0004", "cookie received while shutting down"),
    (
        RestartWithNewAddressesCause(b"\x00\x05\x00\x08\x01\x02\x03\x04"),
        "000b000c 00050008 01020304",
        "restart of an association with new addresses",
    ),
    (
        UserInitiatedAbortCause(b"going away"),
        "000c000e 676f696e672061776179",
        "user-initiated abort: going away",
    ),
    (ProtocolViolationCause(b"bad TSN"), "000d000b 6261642054534e", "protocol violation: bad TSN"),
    (UnknownErrorCause(0x1234, b"?"), "12340005 3f", "error cause 4660 (1 bytes)"),
]


@pytest.mark.parametrize(("cause", "hex_tlv", "text"), ALL_CAUSES)
def test_error_cause_layout_and_text(cause: object, hex_tlv: str, text: str) -> None:
    tlv = bytes.fromhex(hex_tlv)
    assert isinstance(cause, ErrorCause)
    assert cause.serialize() == tlv
    assert str(cause) == text
    error = ErrorChunk((cause,))
    wire = error.serialize()
    assert len(wire) == error.serialized_size()
    assert parse_chunk(wire) == error
    abort = AbortChunk((cause, cause), tag_reflected=True)
    assert parse_chunk(abort.serialize()) == abort


def test_abort_text_joins_causes_and_decodes_leniently() -> None:
    abort = AbortChunk((UserInitiatedAbortCause(b"\xff\xfebye"), OutOfResourceCause()))
    assert str(abort) == "user-initiated abort: \ufffd\ufffdbye; peer out of resources"
    assert str(AbortChunk()) == "no cause given"
    assert str(UserInitiatedAbortCause()) == "user-initiated abort"
    assert str(ProtocolViolationCause()) == "protocol violation"


@pytest.mark.parametrize(
    "tlv",
    [
        "00010006 0007",  # Invalid Stream Identifier, short
        "0002000a 00000002 0007",  # Missing Mandatory Parameter, count vs length
        "00020006 0000",  # Missing Mandatory Parameter, too short
        "00030005 00",  # Stale Cookie, short
        "00040005 00",  # Out of Resource with a value
        "00090005 00",  # No User Data, short
        "00010003",  # length < 4
        "00010010 00000000",  # overrun
    ],
)
def test_malformed_error_causes(tlv: str) -> None:
    body = bytes.fromhex(tlv)
    with pytest.raises(ParseError):
        parse_chunk(struct.pack("!BBH", 9, 0, 4 + len(body)) + body)


# --- unknown chunks and the upper-two-bits rules --------------------------------------------


def test_unknown_chunk_preserved_with_action() -> None:
    for chunk_type, action in [
        (0x30, UnrecognizedAction.STOP),
        (0x45, UnrecognizedAction.STOP_AND_REPORT),
        (0x82, UnrecognizedAction.SKIP),
        (0xC1, UnrecognizedAction.SKIP_AND_REPORT),
    ]:
        raw = struct.pack("!BBH", chunk_type, 0x5A, 7) + b"abc"
        chunk = parse_chunk(raw + b"\x00")
        assert chunk == UnknownChunk(chunk_type, 0x5A, b"abc")
        assert isinstance(chunk, UnknownChunk)
        assert chunk.chunk_type == chunk_type
        assert chunk.action is action
        assert unrecognized_chunk_action(chunk_type) is action
        # §3.3.10.6: the cause carries the chunk as received (no padding).
        assert chunk.raw_bytes() == raw
        assert UnrecognizedChunkTypeCause(chunk.raw_bytes()).chunk == raw


def test_action_helpers() -> None:
    assert not UnrecognizedAction.STOP.skip and not UnrecognizedAction.STOP.report
    assert not UnrecognizedAction.STOP_AND_REPORT.skip
    assert UnrecognizedAction.STOP_AND_REPORT.report
    assert UnrecognizedAction.SKIP.skip and not UnrecognizedAction.SKIP.report
    assert UnrecognizedAction.SKIP_AND_REPORT.skip and UnrecognizedAction.SKIP_AND_REPORT.report
    assert unrecognized_parameter_action(0x0001) is UnrecognizedAction.STOP
    assert unrecognized_parameter_action(0x4001) is UnrecognizedAction.STOP_AND_REPORT
    assert unrecognized_parameter_action(0x8002) is UnrecognizedAction.SKIP
    assert unrecognized_parameter_action(0xC006) is UnrecognizedAction.SKIP_AND_REPORT
    assert UnknownParameter(0x4002, b"").action is UnrecognizedAction.STOP_AND_REPORT
    with pytest.raises(ValueError):
        unrecognized_chunk_action(256)
    with pytest.raises(ValueError):
        unrecognized_parameter_action(-1)


# --- packets: chunk framing, padding, sizes ---------------------------------------------------


def test_packet_with_several_chunks_and_padding() -> None:
    chunks = [
        SackChunk(1, 1000),
        DataChunk(2, 0, 0, 0, b"a"),  # 3 bytes of padding
        DataChunk(3, 0, 1, 0, b"bb"),  # 2 bytes
        DataChunk(4, 0, 2, 0, b"ccc"),  # 1 byte
        DataChunk(5, 0, 3, 0, b"dddd"),  # none
    ]
    wire = serialize_packet(5000, 5001, 0xCAFEBABE, chunks)
    assert len(wire) == serialized_size(chunks) == 12 + 16 + 20 * 4
    assert len(wire) % 4 == 0
    assert parse_packet(wire) == Packet(5000, 5001, 0xCAFEBABE, chunks)


def test_last_chunk_without_padding_is_accepted() -> None:
    body = DataChunk(1, 2, 3, 4, b"odd").serialize()[:-1]
    packet = parse_packet(_packet(body))
    assert packet.chunks == [DataChunk(1, 2, 3, 4, b"odd")]


def test_nonzero_padding_is_ignored() -> None:
    body = DataChunk(1, 2, 3, 4, b"odd").serialize()[:-1] + b"\xff"
    body += CookieAckChunk().serialize()
    assert parse_packet(_packet(body)).chunks == [DataChunk(1, 2, 3, 4, b"odd"), CookieAckChunk()]


def test_middle_chunk_without_padding_is_rejected() -> None:
    body = DataChunk(1, 2, 3, 4, b"odd").serialize()[:-1] + CookieAckChunk().serialize()
    with pytest.raises(ParseError):
        parse_packet(_packet(body))


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no chunk at all
        b"\x0b\x00\x00",  # 3 bytes: no room for a chunk header
        b"\x0b\x00\x00\x03",  # chunk length < 4
        b"\x0b\x00\x00\x00",  # chunk length 0 (would loop forever if not checked)
        b"\x00\x00\x00\x20" + bytes(12),  # chunk length beyond the packet
        b"\x0b\x00\x00\x04\x00\x00",  # stray bytes after the last chunk
    ],
)
def test_bad_chunk_framing(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_packet(_packet(body))


def test_short_packets() -> None:
    for n in range(12):
        with pytest.raises(ParseError):
            parse_packet(bytes(n))


def test_peek_header() -> None:
    wire = serialize_packet(1, 2, 0x01020304, [CookieAckChunk()])
    assert peek_header(wire) == (1, 2, 0x01020304)
    assert peek_header(wire[:8]) == (1, 2, 0x01020304)  # an ICMP quote may hold just 8 bytes
    with pytest.raises(ParseError):
        peek_header(wire[:7])


def test_serialize_rejects_caller_mistakes_clearly() -> None:
    with pytest.raises(ValueError, match="at least one chunk"):
        serialize_packet(1, 2, 3, [])
    with pytest.raises(ValueError, match="out of range"):
        serialize_packet(1, 2, 3, [DataChunk(2**32, 0, 0, 0, b"x")])
    with pytest.raises(ValueError, match="out of range"):
        serialize_packet(70000, 2, 3, [CookieAckChunk()])


def test_data_repr_is_short_for_large_payloads() -> None:
    small = DataChunk(1, 2, 3, 4, b"abc", unordered=True)
    assert repr(small) == (
        "DataChunk(tsn=1, stream_id=2, ssn=3, ppid=4, user_data=b'abc', flags=UBE)"
    )
    large = repr(DataChunk(1, 2, 3, 4, bytes(70000), beginning=False, ending=False))
    assert "<70000 bytes" in large and len(large) < 200 and large.endswith("flags=-)")
    assert "mid=3" in repr(IDataChunk(1, 2, 3, 0, 5, bytes(100)))


def test_pad_chunk_layout_and_probe_packet_size() -> None:
    # RFC 4820 §3: type 0x84, flags 0, length = 4 + padding, zero padding data.
    pad = PadChunk(5)
    wire = pad.serialize()
    assert wire == bytes([0x84, 0, 0, 9]) + bytes(5) + bytes(3)
    assert pad.serialized_size() == len(wire) == 12
    assert parse_chunk(wire) == pad
    # Flags and padding content are ignored on receipt.
    assert parse_chunk(bytes([0x84, 0xFF, 0, 8]) + b"abcd") == PadChunk(4)
    # A probe (RFC 8899 §6.2): HEARTBEAT + PAD make a packet of exactly the chosen size.
    heartbeat = HeartbeatChunk(bytes(20))
    size = 9000
    padding = size - 12 - heartbeat.serialized_size() - 4
    packet = serialize_packet(1, 2, 3, [heartbeat, PadChunk(padding)])
    assert len(packet) == size
    assert parse_packet(packet).chunks == [heartbeat, PadChunk(padding)]
    with pytest.raises(ValueError):
        PadChunk(-1)
    with pytest.raises(ValueError):
        PadChunk(0x10000)
