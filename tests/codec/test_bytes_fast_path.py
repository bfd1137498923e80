"""A value that is one bytes object skips msgpack and the structure checks on both sides:
the encoding must stay msgpack's, byte for byte, and bad input must still be refused."""

from __future__ import annotations

import msgpack
import pytest

from netchan.codec import Codec, CodecLimits, DecodeError, EncodeLimitError

SIZES = [0, 1, 255, 256, 1024, 65535, 65536, 70000]


@pytest.mark.parametrize("n", SIZES)
def test_encoding_is_msgpacks_bin(n: int) -> None:
    value = bytes(range(256)) * (n // 256) + bytes(n % 256)
    encoded = Codec().encode(value)
    assert encoded == msgpack.packb(value, use_bin_type=True)
    for data in (encoded, bytearray(encoded), memoryview(bytearray(b"pad" + encoded))[3:]):
        decoded = Codec().decode(data)
        assert type(decoded) is bytes and decoded == value


@pytest.mark.parametrize(
    "data",
    [
        b"\xc4\x05abc",  # truncated
        b"\xc4\x02abc",  # trailing byte
        b"\xc5\x00",  # header cut short
        b"\xc6\x00\x00\x00\x01",  # length without data
    ],
)
def test_bad_bin_values_are_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Codec().decode(data)


def test_size_limit_on_both_sides() -> None:
    codec = Codec(limits=CodecLimits(max_size=100))
    assert len(codec.encode(b"x" * 98)) == 100
    with pytest.raises(EncodeLimitError, match="101 bytes"):
        codec.encode(b"x" * 99)
    with pytest.raises(DecodeError, match="over max_size"):
        codec.decode(Codec().encode(b"x" * 99))
