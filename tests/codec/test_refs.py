"""Channel ends inside values travel as references through the codec's hooks."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from netchan.codec import Codec, DecodeError, EncodeError, ExtCode
from tests.codec.helpers import Box
from tests.codec.wire import array, i, marker, s

END_TYPES = (trio.MemorySendChannel, trio.MemoryReceiveChannel)


class Table:
    """A stand-in for the channel layer: ids out, the same objects back in."""

    def __init__(self) -> None:
        self.objects: dict[int, object] = {}
        self.encoded: list[object] = []

    def encode_ref(self, obj: object) -> object:
        self.encoded.append(obj)
        self.objects[id(obj)] = obj
        kind = "send" if isinstance(obj, trio.MemorySendChannel) else "recv"
        return [kind, id(obj), ("node", 7)]

    def decode_ref(self, description: Any) -> object:
        kind, ref_id, node = description
        if node != ("node", 7):
            raise LookupError(f"unknown node {node!r}")
        obj = self.objects[ref_id]
        expected = trio.MemorySendChannel if kind == "send" else trio.MemoryReceiveChannel
        if not isinstance(obj, expected):
            raise TypeError("kind mismatch")
        return obj


def make_codec(table: Table) -> Codec:
    return Codec(ref_types=END_TYPES, encode_ref=table.encode_ref, decode_ref=table.decode_ref)


async def test_reply_channel_inside_a_value_works() -> None:
    table = Table()
    codec = make_codec(table)
    reply_send, reply_recv = trio.open_memory_channel[int](1)
    data = codec.encode({"n": 4, "reply": reply_send})
    job = codec.decode(data)
    assert job["reply"] is reply_send
    await job["reply"].send(job["n"] * 2)
    assert await reply_recv.receive() == 8


def test_refs_anywhere_in_a_value() -> None:
    table = Table()
    codec = make_codec(table)
    send, recv = trio.open_memory_channel[Any](0)
    value = {"t": (send, recv), "box": Box([recv]), send: "as a key", "l": [[send]]}
    back = codec.decode(codec.encode(value))
    assert back["t"] == (send, recv) and type(back["t"]) is tuple
    assert back["box"].content[0] is recv
    assert back[send] == "as a key"
    assert back["l"][0][0] is send
    assert len(table.encoded) == 5


def test_description_is_a_value_with_ext_types() -> None:
    table = Table()
    codec = make_codec(table)
    send, _ = trio.open_memory_channel[Any](0)
    data = codec.encode(send)
    # [REF marker, description]; the description's tuple is itself a marker array.
    assert data.startswith(b"\x92" + marker(ExtCode.REF) + b"\x93\xa4send")
    assert codec.decode(data) is send


def test_subclasses_of_ref_types_are_refs() -> None:
    class Base:
        pass

    class Child(Base):
        pass

    child = Child()
    codec = Codec(ref_types=(Base,), encode_ref=lambda o: "ref", decode_ref=lambda d: child)
    assert codec.decode(codec.encode([child])) == [child]


def test_encode_ref_exception_propagates_unchanged() -> None:
    send, _ = trio.open_memory_channel[Any](0)
    send.close()

    def refuse(obj: object) -> object:
        raise trio.ClosedResourceError("that channel end is closed")

    codec = Codec(ref_types=END_TYPES, encode_ref=refuse)
    with pytest.raises(trio.ClosedResourceError, match="closed"):
        codec.encode({"reply": send})
    # The codec is still usable afterwards.
    assert codec.decode(codec.encode([1, (2,)])) == [1, (2,)]


def test_decode_ref_exception_becomes_decode_error() -> None:
    table = Table()
    codec = make_codec(table)
    bad = array(marker(ExtCode.REF), array(s("send"), i(1), i(2)))
    with pytest.raises(DecodeError, match="bad channel reference") as info:
        codec.decode(bad)
    assert isinstance(info.value.__cause__, LookupError)


def test_no_decode_ref_means_refs_are_refused() -> None:
    table = Table()
    send, _ = trio.open_memory_channel[Any](0)
    data = make_codec(table).encode(send)
    with pytest.raises(DecodeError, match="no decode_ref"):
        Codec().decode(data)


def test_channel_end_without_ref_types_is_an_encode_error() -> None:
    send, _ = trio.open_memory_channel[Any](0)
    with pytest.raises(EncodeError, match="MemorySendChannel"):
        Codec().encode({"reply": send})


def test_encode_ref_may_encode_with_the_same_codec() -> None:
    # The packer is not re-entrant; a hook that encodes gets a packer of its own.
    holder: dict[str, Codec] = {}

    def nested(obj: object) -> object:
        return holder["codec"].encode({"inner": (1, 2)})

    def unnest(description: Any) -> object:
        return ("decoded", holder["codec"].decode(description))

    holder["codec"] = Codec(ref_types=(Box,), encode_ref=nested, decode_ref=unnest)
    codec = holder["codec"]
    back = codec.decode(codec.encode([Box(1), (3, 4)]))
    assert back == [("decoded", {"inner": (1, 2)}), (3, 4)]
