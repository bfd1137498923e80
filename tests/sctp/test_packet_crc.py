"""CRC32c of SCTP packets (RFC 9260 §6.8, Appendix A): algorithm, byte order, detection."""

from __future__ import annotations

import struct

import pytest

from netchan.transport.sctp.packet import (
    ChunkListParameter,
    CookieAckChunk,
    DataChunk,
    EcnCapableParameter,
    ForwardTsnSupportedParameter,
    HmacAlgorithmParameter,
    InitChunk,
    ParseError,
    RandomParameter,
    SackChunk,
    SupportedExtensionsParameter,
    compute_checksum,
    parse_packet,
    serialize_packet,
)

# An INIT sent by usrsctp (WebRTC data channel, SCTP port 5000), as captured by Wireshark,
# which shows "Checksum: 0xaa019d33" (the four wire bytes read in network order). The
# chunk length field (90) excludes the padding of the last parameter (§3.2).
CAPTURED_INIT = bytes.fromhex(
    "13881388 00000000 aa019d33"
    "0100005a 0eddca08 00020000 03e803e8 55083637"
    "80000004 c0000004 80080009 c00fc180 82000000"
    "80020024 c5a86155 090e6f42 0050634c c8d6b908 dfd53e17 c99cb143 284eaf64 682ac297"
    "80040006 00010000 80030006 80c10000"
)

# COOKIE ACK + SACK from the same kind of capture ("Checksum: 0xc06e8b36").
CAPTURED_COOKIE_ACK_SACK = bytes.fromhex(
    "04d210e1 697e3a4e c06e8b36 0b000004 03000010 aea95252 00020000 00000000"
)

# A SACK whose checksum field was altered after capture: it must be rejected.
CAPTURED_BAD_CHECKSUM = bytes.fromhex(
    "13881388 0eddca08 2a81f531 03000010 55083640 00020000 00000000"
)


def test_crc32c_known_answers_rfc3720() -> None:
    """The CRC32c test vectors of RFC 3720 Appendix B.4 (iSCSI uses SCTP's CRC32c).

    RFC 3720 lists each CRC as the bytes that go on the wire: least significant byte first.
    """
    import crc32c

    vectors = {
        bytes(32): "aa36918a",
        b"\xff" * 32: "43aba862",
        bytes(range(32)): "4e79dd46",
        bytes(range(31, -1, -1)): "5cdb3f11",
    }
    for data, wire in vectors.items():
        assert struct.pack("<I", crc32c.crc32c(data)).hex() == wire
        # compute_checksum treats bytes 8..11 as the checksum field: they count as zero.
        with_field = data[:8] + b"\x12\x34\x56\x78" + data[12:]
        assert compute_checksum(with_field) == crc32c.crc32c(data[:8] + bytes(4) + data[12:])
    assert compute_checksum(bytes(32)) == 0x8A9136AA  # the field was already zero


def test_captured_init_checksum_is_little_endian_on_the_wire() -> None:
    # The CRC computed over the packet with a zeroed checksum field ...
    crc = compute_checksum(CAPTURED_INIT)
    assert crc == 0x339D01AA
    # ... sits on the wire least significant byte first.
    assert struct.pack("<I", crc) == CAPTURED_INIT[8:12]
    assert struct.pack("!I", crc) != CAPTURED_INIT[8:12]


def test_captured_init_parses_and_reserializes_byte_exact() -> None:
    packet = parse_packet(CAPTURED_INIT)
    assert (packet.src_port, packet.dst_port, packet.verification_tag) == (5000, 5000, 0)
    assert len(packet.chunks) == 1
    init = packet.chunks[0]
    assert isinstance(init, InitChunk)
    assert init.initiate_tag == 0x0EDDCA08
    assert init.a_rwnd == 131072
    assert (init.outbound_streams, init.inbound_streams) == (1000, 1000)
    assert init.initial_tsn == 1426601527
    assert init.parameters[0] == EcnCapableParameter()
    assert init.parameters[1] == ForwardTsnSupportedParameter()
    assert init.parameters[2] == SupportedExtensionsParameter((192, 15, 193, 128, 130))
    # usrsctp's RFC 4895 AUTH parameters: RANDOM, HMAC-ALGO (SHA-1), CHUNKS (ASCONF, -ACK).
    assert init.parameters[3] == RandomParameter(CAPTURED_INIT[56:88])
    assert init.parameters[4] == HmacAlgorithmParameter((1,))
    assert init.parameters[5] == ChunkListParameter((0x80, 0xC1))
    assert init.problem() is None
    assert serialize_packet(5000, 5000, 0, packet.chunks) == CAPTURED_INIT
    assert packet.serialize() == CAPTURED_INIT


def test_captured_two_chunk_packet() -> None:
    packet = parse_packet(CAPTURED_COOKIE_ACK_SACK)
    assert (packet.src_port, packet.dst_port, packet.verification_tag) == (1234, 4321, 0x697E3A4E)
    assert packet.chunks == [CookieAckChunk(), SackChunk(2930332242, 131072, (), ())]
    assert packet.serialize() == CAPTURED_COOKIE_ACK_SACK


def test_bad_checksum_rejected_unless_verification_disabled() -> None:
    with pytest.raises(ParseError, match="checksum"):
        parse_packet(CAPTURED_BAD_CHECKSUM)
    packet = parse_packet(CAPTURED_BAD_CHECKSUM, verify_checksum=False)
    assert packet.verification_tag == 0x0EDDCA08
    assert packet.chunks == [SackChunk(1426601536, 131072)]


def test_every_single_bit_flip_is_detected() -> None:
    wire = serialize_packet(
        9899, 7, 0xDEADBEEF, [DataChunk(17, 3, 9, 51, b"payload bytes"), SackChunk(4, 65536)]
    )
    parse_packet(wire)
    for bit in range(len(wire) * 8):
        mutated = bytearray(wire)
        mutated[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ParseError):
            parse_packet(bytes(mutated))


def test_serialized_checksum_matches_compute_checksum() -> None:
    wire = serialize_packet(1, 2, 3, [CookieAckChunk()])
    assert struct.unpack_from("<I", wire, 8)[0] == compute_checksum(wire)
    assert wire[:8] == b"\x00\x01\x00\x02\x00\x00\x00\x03"
    assert wire[12:] == b"\x0b\x00\x00\x04"


def test_parse_accepts_bytearray_and_memoryview() -> None:
    assert parse_packet(bytearray(CAPTURED_INIT)) == parse_packet(CAPTURED_INIT)
    assert parse_packet(memoryview(CAPTURED_INIT)) == parse_packet(CAPTURED_INIT)


@pytest.mark.parametrize("count", [1, 3, 5, 6, 40])
def test_checksum_over_parts_or_over_the_joined_body(count: int) -> None:
    """``serialize_packet`` computes the CRC over the chunks' parts one by one when they are
    few (a big message's fragments, whose user data is copied only into the packet) and over
    the joined body when there are many (small chunks): both give the checksum of the bytes
    as sent, and a bit flip anywhere is still caught."""
    chunks = [
        DataChunk(tsn=n, stream_id=1, ssn=n, ppid=0, user_data=bytes([n]) * (n % 7 + 1))
        for n in range(count)
    ]
    wire = serialize_packet(5000, 5001, 0xDEADBEEF, chunks)
    assert struct.unpack_from("<I", wire, 8)[0] == compute_checksum(wire)
    assert [c.user_data for c in parse_packet(wire).chunks] == [c.user_data for c in chunks]  # type: ignore[attr-defined]
    flipped = bytearray(wire)
    flipped[-1] ^= 1
    with pytest.raises(ParseError):
        parse_packet(bytes(flipped))
