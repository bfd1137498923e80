"""Big binary fields by reference (``Codec.encode_gathered``) and big values decoded in one
pass: the sending and receiving node loops never copy a big value more than they must."""

from __future__ import annotations

import pytest

from netchan.codec import Codec, CodecLimits, EncodeLimitError, Gathered
from netchan.codec._gather import GATHER_MIN

MiB = 1 << 20


def codec(max_size: int = 64 * MiB) -> Codec:
    return Codec(limits=CodecLimits(max_size=max_size))


def blob(n: int, seed: int = 1) -> bytes:
    return bytes((i * seed) & 0xFF for i in range(256)) * (n // 256) + b"x" * (n % 256)


@pytest.mark.parametrize(
    "value",
    [
        blob(GATHER_MIN),
        {"data": blob(2 * MiB), "n": 7},
        [1, blob(MiB + 3), {"inner": blob(GATHER_MIN, 3), "s": "text"}, blob(10)],
        {"a": blob(MiB, 5), "b": [blob(MiB, 7), None], "t": (1, 2)},
    ],
    ids=["top", "dict", "nested", "several"],
)
def test_gathered_is_byte_for_byte_the_encoding(value: object) -> None:
    c = codec()
    gathered = c.encode_gathered(value)
    assert isinstance(gathered, Gathered)
    assert bytes(gathered) == c.encode(value)
    assert len(gathered) == len(c.encode(value))
    assert c.decode(bytes(gathered)) == value


def test_big_bytes_are_held_by_reference_not_copied() -> None:
    data = blob(4 * MiB)
    gathered = codec().encode_gathered({"data": data})
    assert isinstance(gathered, Gathered)
    assert any(part is data for part in gathered.parts)
    assert sum(len(p) for p in gathered.parts if p is not data) < 64


@pytest.mark.parametrize(
    "value",
    [
        b"small",
        {"data": blob(GATHER_MIN - 1)},
        (blob(2 * MiB),),  # a tuple is an ext type: its length header would change
        bytearray(blob(2 * MiB)),  # mutable: copied, as before
        {str(i): i for i in range(100)} | {"data": blob(2 * MiB)},  # too many items to walk
    ],
    ids=["small", "under-threshold", "tuple", "bytearray", "wide-dict"],
)
def test_other_values_come_back_as_bytes(value: object) -> None:
    c = codec()
    encoded = c.encode_gathered(value)
    assert type(encoded) is bytes
    assert encoded == c.encode(value)


def test_the_size_limit_counts_the_whole_gathered_value() -> None:
    with pytest.raises(EncodeLimitError, match="over max_size"):
        codec(max_size=2 * MiB).encode_gathered({"a": blob(MiB), "b": blob(MiB + 10)})


@pytest.mark.parametrize("size", [1, 255, 256, 257, 1000])
def test_pieces_cover_the_value_in_order(size: int) -> None:
    gathered = Gathered([b"head", blob(1000), b"", b"middle", blob(600, 3), b"tail"])
    pieces = [b"".join(p) for p in gathered.pieces(size)]
    assert b"".join(pieces) == bytes(gathered)
    assert all(len(p) == size for p in pieces[:-1])
    assert 0 < len(pieces[-1]) <= size


def test_a_big_value_with_a_marker_after_its_blob_is_decoded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The header walk of a big value sees the tuple's marker: the decode starts with the
    # marker hooks instead of copying the blob, meeting the marker and starting over.
    c = codec()
    value = {"data": blob(2 * MiB), "later": (1, 2)}
    encoded = c.encode(value)
    calls: list[int] = []
    unpack = c._unpack

    def counting(data: bytes | memoryview, mode: int) -> object:
        calls.append(mode)
        return unpack(data, mode)

    monkeypatch.setattr(c, "_unpack", counting)
    assert c.decode(memoryview(bytearray(encoded))) == value
    assert calls == [1]
    calls.clear()
    plain = {"data": blob(2 * MiB)}
    assert c.decode(c.encode(plain)) == plain
    assert calls == [0]


def test_gathered_values_of_any_shape_decode_to_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # With a tiny threshold every bytes field of 8 bytes or more is cut out and spliced back
    # (as bin 32: valid msgpack, not the canonical header msgpack picks for short data).
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from netchan.codec import _gather

    monkeypatch.setattr(_gather, "GATHER_MIN", 8)
    leaves = st.one_of(st.binary(max_size=40), st.integers(), st.text(max_size=5), st.none())
    values = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(st.text(max_size=4), inner, max_size=5),
            st.tuples(inner, inner),
        ),
        max_leaves=20,
    )
    c = codec()

    @settings(max_examples=300, deadline=None)
    @given(values)
    def check(value: object) -> None:
        encoded = c.encode_gathered(value)
        data = bytes(encoded) if isinstance(encoded, Gathered) else encoded
        assert c.decode(data) == value
        if isinstance(encoded, Gathered):
            assert sum(len(b"".join(p)) for p in encoded.pieces(7)) == len(encoded)

    check()
