"""Big values decoded from their pieces (``Scattered``): big binary fields are cut out of the
pieces by ``prepare`` (meant for a worker thread; joins of exact ``bytes`` run without the
GIL) and put back after the small rest is decoded, so the receiving node's loop never copies
them."""

from __future__ import annotations

import pytest

from netchan.codec import Codec, CodecLimits, DecodeError, Scattered
from netchan.codec._gather import GATHER_MIN

MiB = 1 << 20


def codec(max_size: int = 64 * MiB) -> Codec:
    return Codec(limits=CodecLimits(max_size=max_size))


def blob(n: int, seed: int = 1) -> bytes:
    return bytes((i * seed) & 0xFF for i in range(256)) * (n // 256) + b"x" * (n % 256)


def scatter(data: bytes, size: int = 256 * 1024 + 7) -> Scattered:
    return Scattered([data[i : i + size] for i in range(0, len(data), size)])


VALUES = [
    blob(GATHER_MIN),
    {"data": blob(2 * MiB), "n": 7},
    [1, blob(MiB + 3), {"inner": blob(GATHER_MIN, 3), "s": "text"}, blob(10)],
    {"a": blob(MiB, 5), "b": [blob(MiB, 7), None], "t": (1, 2, blob(MiB, 9))},
    {blob(MiB, 11): 1, "v": blob(MiB, 13)},  # a big key stays in the skeleton
    {"deep": [[[[[blob(MiB, 15)]]]]]},  # deeper than the walk: stays in the skeleton
    [blob(100)] * 3000 + [blob(MiB)],  # too many items: decoded whole
    {str(i): i for i in range(100)} | {"data": blob(2 * MiB)},
    "s" * (2 * MiB),
]


@pytest.mark.parametrize("value", VALUES, ids=[str(i) for i in range(len(VALUES))])
@pytest.mark.parametrize("piece", [256 * 1024, 1000, 3 * MiB])
def test_scattered_decodes_to_the_value(value: object, piece: int) -> None:
    c = codec()
    data = c.encode(value)
    s = scatter(data, piece)
    assert bytes(s) == data and len(s) == len(data)
    assert c.decode(s) == value
    s.prepare()  # idempotent
    assert c.decode(s) == value


def test_big_fields_are_cut_out_of_the_skeleton() -> None:
    c = codec()
    s = scatter(c.encode({"data": blob(4 * MiB), "more": [blob(2 * MiB, 3)], "n": 1}))
    skeleton, fields = s.parts()
    assert len(skeleton) < 100
    assert sorted(len(f) for f in fields.values()) == [2 * MiB, 4 * MiB]


def test_a_duplicate_key_keeps_the_last_value() -> None:
    # msgpack map {"k": <blob>, "k": 5}: the dict keeps 5, as the plain decode does.
    body = b"\x82\xa1k\xc6" + (MiB).to_bytes(4, "big") + blob(MiB) + b"\xa1k\x05"
    c = codec()
    assert c.decode(scatter(body)) == c.decode(body) == {"k": 5}


@pytest.mark.parametrize(
    "body",
    [
        b"\xc6\x00\x20\x00\x00" + b"x" * 100,  # truncated
        b"\x81\xa1k\xc6" + (MiB).to_bytes(4, "big") + blob(MiB) + b"\xc1",  # trailing junk
        b"\xc1" * (2 * MiB),
    ],
)
def test_malformed_pieces_raise_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        codec().decode(scatter(body))


def test_over_max_size_is_refused() -> None:
    c = codec(max_size=2 * MiB)
    with pytest.raises(DecodeError, match="max_size"):
        c.decode(scatter(codec().encode({"data": blob(3 * MiB)})))
