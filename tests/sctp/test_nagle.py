"""Nagle's rule in the association (``Options.nodelay`` off, the default).

Once two DATA packets await their SACK (or the last one left more data queued), new DATA
that would not fill a packet waits for more data, for the acknowledgement of what is in
flight, or at most ``NAGLE_HOLD`` (RFC 896; RFC 9260 §6.1 leaves the bundling policy to the
sender). A message on an idle association leaves at once.
"""

from __future__ import annotations

import pytest

from netchan.transport.sctp import datapath as datapath_module
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.packet import DataChunk, parse_packet
from tests.sctp.conftest import A_ADDR, Pair, make_pair

DATA = 0


def _data_packets(p: Pair, since: float) -> list[tuple[float, list[bytes]]]:
    """(time, user payloads) of every DATA-carrying datagram ``a`` sent at or after ``since``."""
    out = []
    for t, src, _, raw in p.net.sent:
        if src != A_ADDR or t < since:
            continue
        payloads = [c.user_data for c in parse_packet(raw).chunks if isinstance(c, DataChunk)]
        if payloads:
            out.append((t, payloads))
    return out


def _pair(**overrides: object) -> Pair:
    # DATA chunks (not I-DATA) so the test reads payloads through one chunk class.
    options = Options(heartbeat_interval=0, interleaving=False, **overrides)  # type: ignore[arg-type]
    return make_pair(seed=71, options=options)


def _send(p: Pair, assoc: object, data: bytes) -> None:
    assoc.send(data, stream=0, ppid=0, unordered=False, now=p.net.now)  # type: ignore[attr-defined]


def test_lone_message_on_idle_association_leaves_at_once() -> None:
    p = _pair()
    assoc, _ = p.connect()
    t = p.net.now
    _send(p, assoc, b"ping")
    p.net.flush()
    assert _data_packets(p, t) == [(t, [b"ping"])]


def test_second_message_with_one_packet_in_flight_leaves_at_once() -> None:
    # The peer delays its SACK for a lone packet (§6.2): holding would cost the hold bound
    # on every request that is followed by a second small message.
    p = _pair(delayed_ack_timeout=0.05)
    p.net.link.delay = 0.01
    assoc, _ = p.connect()
    t = p.net.now
    _send(p, assoc, b"first")
    p.net.flush()
    _send(p, assoc, b"second")
    p.net.flush()
    assert _data_packets(p, t) == [(t, [b"first"]), (t, [b"second"])]


def test_small_messages_wait_while_two_packets_are_in_flight_then_share_a_packet() -> None:
    p = _pair(delayed_ack_timeout=0.05)
    p.net.link.delay = 0.01
    assoc, _ = p.connect()
    t = p.net.now
    for first in (b"first", b"second"):
        _send(p, assoc, first)
        p.net.flush()
    for i in range(5):
        _send(p, assoc, b"m%d" % i)
    p.net.flush()
    # Held: two packets await their SACK and five small messages do not fill a packet.
    assert _data_packets(p, t) == [(t, [b"first"]), (t, [b"second"])]
    p.net.run_until(lambda: len(p.received()) == 7, 1.0)
    # Released by the hold bound (the SACK is 20 ms away), all five in one packet.
    assert _data_packets(p, t) == [
        (t, [b"first"]),
        (t, [b"second"]),
        (pytest.approx(t + datapath_module.NAGLE_HOLD), [b"m0", b"m1", b"m2", b"m3", b"m4"]),
    ]
    expected = [b"first", b"second", b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert [m.data for m in p.received()] == expected


def test_held_data_leaves_when_everything_in_flight_is_acknowledged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A long hold bound, so only the SACK can release the held message.
    monkeypatch.setattr(datapath_module, "NAGLE_HOLD", 0.5)
    p = _pair(delayed_ack_timeout=0.05)
    p.net.link.delay = 0.001
    assoc, _ = p.connect()
    t = p.net.now
    for first in (b"first", b"second"):
        _send(p, assoc, first)
        p.net.flush()
    _send(p, assoc, b"third")
    p.net.run_until(lambda: len(p.received()) == 3, 1.0)
    # The second packet is acknowledged at once (§6.2): the SACK is back after 2 ms.
    assert _data_packets(p, t) == [
        (t, [b"first"]),
        (t, [b"second"]),
        (pytest.approx(t + 0.002), [b"third"]),
    ]


def test_tail_behind_a_packet_that_left_data_queued_waits() -> None:
    # The sender is outpacing the packets: the tail waits for more data even with a single
    # packet in flight (here the hold bound releases it; the SACK is 50 ms away).
    p = _pair(delayed_ack_timeout=0.05)
    p.net.link.delay = 0.01
    assoc, _ = p.connect()
    t = p.net.now
    messages = [b"%04d" % i + bytes(60) for i in range(20)]  # 96 bytes per chunk
    for m in messages:
        _send(p, assoc, m)
    p.net.flush()
    (first,) = _data_packets(p, t)
    assert first[0] == t and 1 < len(first[1]) < len(messages)
    p.net.run_until(lambda: len(p.received()) == 20, 1.0)
    packets = _data_packets(p, t)
    assert len(packets) == 2
    assert packets[1][0] == pytest.approx(t + datapath_module.NAGLE_HOLD)
    assert [m.data for m in p.received()] == messages


def test_a_full_packet_is_not_held() -> None:
    p = _pair(delayed_ack_timeout=0.05)
    p.net.link.delay = 0.01
    assoc, _ = p.connect()
    t = p.net.now
    for first in (b"first", b"second"):
        _send(p, assoc, first)
        p.net.flush()
    messages = [b"%04d" % i + bytes(60) for i in range(40)]  # 80 bytes per chunk: > 1 packet
    for m in messages:
        _send(p, assoc, m)
    p.net.flush()
    packets = _data_packets(p, t)[2:]
    # 40 chunks of 96 bytes fill two 1200-byte packets, which leave at once; the partial
    # rest waits.
    assert len(packets) == 2
    for sent_at, chunks in packets:
        assert sent_at == t
        assert sum(len(m) + 16 for m in chunks) > p.options.pmtu - 12 - 96
    assert sum(len(chunks) for _, chunks in packets) < len(messages)
    p.net.run_until(lambda: len(p.received()) == 42, 1.0)
    assert [m.data for m in p.received()][2:] == messages


def test_nodelay_sends_each_flush_at_once() -> None:
    p = _pair(delayed_ack_timeout=0.05, nodelay=True)
    p.net.link.delay = 0.01
    assoc, _ = p.connect()
    t = p.net.now
    for m in (b"first", b"second", b"third"):
        _send(p, assoc, m)
        p.net.flush()
    assert _data_packets(p, t) == [(t, [b"first"]), (t, [b"second"]), (t, [b"third"])]
