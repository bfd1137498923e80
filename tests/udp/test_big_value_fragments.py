"""A big value's pieces are kept as the chunks they came in (``Message.fragments``).

Over ``udp://`` the endpoint hands a fragmented message to the node as its chunks' payloads;
the router gives a VALUE or MORE frame's fragments to the link as they are (the first without
the frame header), so a 256 KiB piece is neither joined into one object by the SCTP layer nor
copied again without its header (docs/benchmarks.md, "Big values: fragments kept as they
came"). Values of every size still arrive intact both ways.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from netchan import _protocol as P
from netchan.node import _frames
from netchan.node._frames import Oversize, Reassembly
from tests.support.echo import echo_nodes

MiB = 1 << 20


def _blob(n: int, seed: int) -> bytes:
    return bytes((i * seed) & 0xFF for i in range(251)) * (n // 251) + b"!" * (n % 251)


def test_reassembly_keeps_fragments_by_reference() -> None:
    r = Reassembly(limit=10_000)
    a, b, c, d = b"a" * 100, b"b" * 100, b"c" * 100, b"d" * 7
    assert r.add(P.Frame.MORE, [a, b]) is None
    assert r.partial
    whole = r.add(P.Frame.VALUE, [c, d])
    assert isinstance(whole, _frames.Scattered)
    assert all(x is y for x, y in zip(whole.pieces, [a, b, c, d], strict=True))
    assert not r.partial
    # A value in one frame that SCTP fragmented: joined once, decoded at once.
    assert r.add(P.Frame.VALUE, [a, d]) == a + d
    # Over the limit: the partial value is dropped.
    r.add(P.Frame.MORE, [a] * 50)
    with pytest.raises(Oversize):
        r.add(P.Frame.MORE, [a] * 60)
    assert not r.partial


def test_piece_fragments_keeps_only_value_pieces_of_real_size() -> None:
    more = P.frame_header(P.Frame.MORE, 9)
    body = [b"x" * 1000, b"y" * 1000]
    frame = _frames.piece_fragments([more + b"a" * 995, *body], 2995)
    assert frame is not None
    kind, link, pieces = frame
    assert (kind, link) == (P.Frame.MORE, 9)
    assert pieces[0] == b"a" * 995 and pieces[1] is body[0] and pieces[2] is body[1]
    # A first fragment of the header alone: no empty piece.
    frame = _frames.piece_fragments([more, *body], 2005)
    assert frame is not None and frame[2] == body
    # Not a piece of a value, a first fragment shorter than a header, tiny fragments: the
    # router takes the joined message.
    end = P.frame_header(P.Frame.END, 9)
    assert _frames.piece_fragments([end + b"\0" * 600, b"z" * 600], 1205) is None
    assert _frames.piece_fragments([more[:3], more[3:] + b"a" * 600], 605) is None
    tiny = [more] + [b"t"] * 2000
    assert _frames.piece_fragments(tiny, 2005) is None


async def test_big_values_travel_as_their_fragments_both_ways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[P.Frame, int]] = []
    original = Reassembly.add

    def spy(self: Reassembly, kind: P.Frame, payload: Any) -> Any:
        if type(payload) is list:
            seen.append((kind, len(payload)))
        return original(self, kind, payload)

    monkeypatch.setattr(Reassembly, "add", spy)
    sizes = [100_000, MiB, 3 * MiB + 17, 5 * MiB]  # one frame; pieces; a worker thread's
    async with echo_nodes() as (_client, to_server, from_server, _requests):
        with trio.fail_after(60):
            for n, size in enumerate(sizes):
                value = {"n": n, "data": _blob(size, n + 3)}
                await to_server.send(value)
                assert await from_server.receive() == value
    kinds = {kind for kind, _count in seen}
    assert kinds == {P.Frame.MORE, P.Frame.VALUE}
    # 256 KiB pieces in 64 KiB packets on loopback: several fragments each.
    assert all(count >= 2 for _kind, count in seen)
