"""RtoEstimator: RFC 9260 §6.3.1 rules C1-C7 with known values, and §6.3.3 E2 backoff."""

from __future__ import annotations

import pytest

from netchan.transport.sctp.tx.rto import RtoEstimator


def make(**kw: float) -> RtoEstimator:
    args: dict[str, float] = {"rto_initial": 1.0, "rto_min": 0.1, "rto_max": 60.0}
    args.update(kw)
    return RtoEstimator(**args)


def test_initial_rto_before_measurement() -> None:
    r = make(rto_initial=3.0)
    assert r.rto == 3.0  # C1
    assert r.srtt is None


def test_first_measurement() -> None:
    r = make()
    r.observe(0.2)
    # C2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR = 0.2 + 0.4
    assert r.srtt == pytest.approx(0.2)
    assert r.rttvar == pytest.approx(0.1)
    assert r.rto == pytest.approx(0.6)


def test_subsequent_measurement() -> None:
    r = make()
    r.observe(0.2)
    r.observe(0.4)
    # C3: RTTVAR = 3/4*0.1 + 1/4*|0.2-0.4| = 0.125 ; SRTT = 7/8*0.2 + 1/8*0.4 = 0.225
    assert r.rttvar == pytest.approx(0.125)
    assert r.srtt == pytest.approx(0.225)
    assert r.rto == pytest.approx(0.225 + 0.5)


def test_granularity_floor() -> None:
    r = make(rto_min=0.001, rto_initial=0.5, granularity=0.01)
    for _ in range(200):
        r.observe(0.05)  # constant RTT: RTTVAR decays towards 0
    assert r.rttvar < 0.0025
    assert r.rto == pytest.approx(0.05 + 0.01)


def test_min_and_max_bounds() -> None:
    r = make(rto_min=1.0, rto_initial=1.0, rto_max=5.0)
    r.observe(0.01)
    assert r.rto == 1.0  # C6
    r.observe(10.0)
    assert r.rto == 5.0  # C7


def test_backoff_doubles_and_caps() -> None:
    r = make(rto_initial=1.0, rto_max=5.0)
    r.backoff()
    assert r.rto == 2.0
    r.backoff()
    assert r.rto == 4.0
    r.backoff()
    assert r.rto == 5.0
    r.observe(0.2)  # a new measurement recomputes from SRTT
    assert r.rto == pytest.approx(0.6)


def test_negative_sample_ignored() -> None:
    r = make()
    r.observe(-1.0)
    assert r.srtt is None and r.rto == 1.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        RtoEstimator(rto_initial=1.0, rto_min=2.0, rto_max=3.0)
    with pytest.raises(ValueError):
        RtoEstimator(rto_initial=1.0, rto_min=0.5, rto_max=3.0, alpha=1.5)
    with pytest.raises(ValueError):
        RtoEstimator(rto_initial=1.0, rto_min=0.5, rto_max=3.0, granularity=-1)
