"""Congestion control: RFC 9260 §7.2 Reno and the by-name registry."""

from __future__ import annotations

import pytest

from netchan.transport.sctp.congestion import (
    CongestionControl,
    RenoCongestionControl,
    create_congestion_control,
    register_congestion_control,
    rfc_initial_cwnd,
)

MTU = 1200


def ack(cc: CongestionControl, nbytes: int, **kw: object) -> None:
    args: dict[str, object] = {
        "cum_advanced": True,
        "fully_utilized": True,
        "in_fast_recovery": False,
        "flight_size": 10 * MTU,
        "now": 0.0,
    }
    args.update(kw)
    cc.on_acked(nbytes, **args)  # type: ignore[arg-type]


def test_initial_cwnd() -> None:
    assert rfc_initial_cwnd(1200) == 4404  # min(4800, max(2400, 4404))
    assert rfc_initial_cwnd(1500) == 4404
    assert rfc_initial_cwnd(9000) == 18000  # max(2*MTU, 4404) = 18000 < 36000
    assert rfc_initial_cwnd(1000) == 4000
    cc = create_congestion_control("reno", mtu=MTU)
    assert cc.cwnd == 4404
    assert cc.ssthresh > 1 << 40
    cc2 = create_congestion_control("reno", mtu=MTU, initial_cwnd_mtus=10)
    assert cc2.cwnd == 12000


def test_slow_start_growth_bounded_by_mtu() -> None:
    cc = RenoCongestionControl(mtu=MTU, initial_cwnd=4 * MTU)
    ack(cc, 500)
    assert cc.cwnd == 4 * MTU + 500  # min(acked, MTU)
    ack(cc, 3000)
    assert cc.cwnd == 4 * MTU + 500 + MTU  # at most L*MTU per SACK (ACK splitting)


def test_slow_start_needs_full_use_and_no_recovery() -> None:
    cc = RenoCongestionControl(mtu=MTU, initial_cwnd=4 * MTU)
    ack(cc, 1000, fully_utilized=False)
    ack(cc, 1000, in_fast_recovery=True)
    assert cc.cwnd == 4 * MTU
    # RFC 9260 §7.2.1 no longer requires the cumulative ack to advance (gap acks count).
    ack(cc, 1000, cum_advanced=False)
    assert cc.cwnd == 4 * MTU + 1000


def test_congestion_avoidance_partial_bytes_acked() -> None:
    cc = RenoCongestionControl(mtu=MTU, initial_cwnd=10 * MTU)
    cc.ssthresh = 5 * MTU  # cwnd > ssthresh: congestion avoidance
    cwnd = cc.cwnd
    ack(cc, 6 * MTU)
    assert cc.cwnd == cwnd and cc.partial_bytes_acked == 6 * MTU
    ack(cc, 5 * MTU)  # pba = 11 MTU >= cwnd (10 MTU): +1 MTU, pba -= cwnd
    assert cc.cwnd == cwnd + MTU
    assert cc.partial_bytes_acked == MTU
    # Not fully utilized: pba capped at cwnd, no growth.
    ack(cc, 20 * MTU, fully_utilized=False)
    assert cc.cwnd == cwnd + MTU
    assert cc.partial_bytes_acked == cc.cwnd
    # Everything acknowledged: pba reset.
    ack(cc, 10, flight_size=0)
    assert cc.partial_bytes_acked == 0


def test_one_mtu_per_rtt_in_congestion_avoidance() -> None:
    cc = RenoCongestionControl(mtu=MTU, initial_cwnd=20 * MTU)
    cc.ssthresh = 10 * MTU
    # One RTT = acks for cwnd bytes, one MTU at a time.
    start = cc.cwnd
    for _ in range(20):
        ack(cc, MTU)
    assert cc.cwnd == start + MTU


def test_loss_halves() -> None:
    cc = RenoCongestionControl(mtu=MTU, initial_cwnd=20 * MTU)
    cc.on_fast_retransmit(1.0)
    assert cc.ssthresh == 10 * MTU
    assert cc.cwnd == 10 * MTU
    cc.on_fast_retransmit(2.0)
    cc.on_fast_retransmit(3.0)
    assert cc.cwnd == 4 * MTU  # floor of 4 MTU


def test_t3_collapses_to_one_mtu() -> None:
    cc = RenoCongestionControl(mtu=MTU, initial_cwnd=20 * MTU)
    cc.partial_bytes_acked = 5
    cc.on_t3_expiry(1.0)
    assert cc.cwnd == MTU
    assert cc.ssthresh == 10 * MTU
    assert cc.partial_bytes_acked == 0
    # Slow start again from one MTU.
    ack(cc, MTU)
    assert cc.cwnd == 2 * MTU


def test_idle_decay_once_per_rto() -> None:
    cc = RenoCongestionControl(mtu=MTU, initial_cwnd=32 * MTU)
    cc.on_packet_sent(MTU, now=10.0)
    cc.on_idle(10.5, rto=1.0)
    assert cc.cwnd == 32 * MTU  # less than one RTO idle
    cc.on_idle(12.5, rto=1.0)  # two RTOs: 32 -> 16 -> 8 MTU
    assert cc.cwnd == 8 * MTU
    assert cc.ssthresh == 32 * MTU  # §7.2.1: ssthresh = cwnd before the first adjustment
    cc.on_idle(100.0, rto=1.0)
    assert cc.cwnd == 4 * MTU  # floor
    small = RenoCongestionControl(mtu=MTU, initial_cwnd=MTU)
    small.on_packet_sent(MTU, now=0.0)
    small.on_idle(10.0, rto=1.0)
    assert small.cwnd == MTU  # never grows on idle


def test_registry() -> None:
    class Fixed(RenoCongestionControl):
        pass

    register_congestion_control("fixed-test", Fixed)
    assert isinstance(create_congestion_control("fixed-test", mtu=MTU), Fixed)
    with pytest.raises(ValueError, match="unknown congestion control"):
        create_congestion_control("nope", mtu=MTU)
    with pytest.raises(ValueError):
        create_congestion_control("reno", mtu=MTU, initial_cwnd_mtus=0)
    with pytest.raises(ValueError):
        register_congestion_control("", Fixed)
    with pytest.raises(ValueError):
        RenoCongestionControl(mtu=0)
    with pytest.raises(ValueError):
        RenoCongestionControl(mtu=MTU, initial_cwnd=10)


def test_the_send_path_uses_the_algorithm_named_in_the_options() -> None:
    from netchan.transport.sctp.options import Options
    from tests.sctp.conftest import make_pair

    made: list[CongestionControl] = []

    def counting(**kw: object) -> CongestionControl:
        cc = RenoCongestionControl(**kw)  # type: ignore[arg-type]
        made.append(cc)
        return cc

    register_congestion_control("test-counting", counting)
    pair = make_pair(options=Options(congestion_control="test-counting"))
    pair.connect()
    assert len(made) == 2  # one per side of the association
