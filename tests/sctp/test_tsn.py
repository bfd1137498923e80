"""Serial-number arithmetic (RFC 1982 as used by RFC 9260 §1.6) and the unwrapper."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netchan.transport.sctp.tsn import (
    SSN_MASK,
    TSN_MASK,
    Unwrapper,
    ssn_add,
    ssn_lt,
    tsn_add,
    tsn_ge,
    tsn_gt,
    tsn_le,
    tsn_lt,
)

u32 = st.integers(min_value=0, max_value=TSN_MASK)


def test_tsn_compare_plain() -> None:
    assert tsn_lt(1, 2)
    assert not tsn_lt(2, 1)
    assert not tsn_lt(5, 5)
    assert tsn_le(5, 5)
    assert tsn_ge(5, 5)
    assert tsn_gt(3, 2)


def test_tsn_compare_across_wrap() -> None:
    assert tsn_lt(TSN_MASK, 0)
    assert tsn_lt(TSN_MASK - 10, 5)
    assert tsn_gt(0, TSN_MASK)
    assert not tsn_lt(0, TSN_MASK)
    assert tsn_add(TSN_MASK, 1) == 0
    assert tsn_add(0, -1) == TSN_MASK


def test_tsn_half_space_is_undefined_and_not_less() -> None:
    # RFC 1982 §3.2: values 2**31 apart are not comparable; neither is "less".
    assert not tsn_lt(0, 1 << 31)
    assert not tsn_lt(1 << 31, 0)


def test_ssn_compare_across_wrap() -> None:
    assert ssn_lt(SSN_MASK, 0)
    assert ssn_lt(65000, 100)
    assert not ssn_lt(100, 65000)
    assert ssn_add(SSN_MASK, 1) == 0


@settings(max_examples=200, deadline=None)
@given(a=u32, d=st.integers(min_value=1, max_value=(1 << 31) - 1))
def test_tsn_lt_matches_offset(a: int, d: int) -> None:
    b = tsn_add(a, d)
    assert tsn_lt(a, b)
    assert tsn_gt(b, a)
    assert not tsn_lt(b, a)


def test_unwrapper_monotonic_across_wrap() -> None:
    u = Unwrapper(TSN_MASK - 2)
    values = [u.unwrap((TSN_MASK - 2 + i) & TSN_MASK) for i in range(6)]
    assert values == [TSN_MASK - 2 + i for i in range(6)]
    assert u.wrap(values[-1]) == 2  # 2**32 + 2


def test_unwrapper_old_values_come_out_smaller() -> None:
    u = Unwrapper(5)
    assert u.unwrap(10) == 10
    # Old value behind the reference (across the wrap backwards) unwraps below it.
    assert u.unwrap(TSN_MASK) == -1
    assert u.largest == 10
    assert u.peek(11) == 11
    assert u.largest == 10


def test_unwrapper_ssn_bits() -> None:
    u = Unwrapper(SSN_MASK, bits=16)
    assert u.unwrap(0) == SSN_MASK + 1
    assert u.unwrap(1) == SSN_MASK + 2
    assert u.unwrap(SSN_MASK) == SSN_MASK


def test_unwrapper_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Unwrapper(-1)
    with pytest.raises(ValueError):
        Unwrapper(1 << 32)
    with pytest.raises(ValueError):
        Unwrapper(0, bits=1)


def test_unwrapper_random_walk_matches_true_counter() -> None:
    rng = random.Random(1234)
    start = rng.randrange(1 << 32)
    u = Unwrapper(start)
    true = start
    for _ in range(2000):
        true += rng.randrange(0, 1 << 20)
        # A value slightly behind (reordered) must also unwrap exactly.
        behind = true - rng.randrange(0, 1 << 20)
        assert u.unwrap(true & TSN_MASK) == true
        assert u.peek(behind & TSN_MASK) == behind
