"""Serial-number arithmetic for TSNs (32 bit) and SSNs (16 bit), and unwrappers.

RFC 9260 §1.6 says TSNs and SSNs compare with serial number arithmetic (RFC 1982) with
``SERIAL_BITS`` = 32 and 16: ``a < b`` when ``(a < b and b - a < 2**(bits-1))`` or
``(a > b and a - b > 2**(bits-1))``. Values exactly half the space apart are undefined; here
they compare as "not less" in both directions, which callers treat as "old" and drop.

The data path does not compare wire values with these functions on every chunk: an
:class:`Unwrapper` maps each wire TSN to a monotonically increasing Python ``int`` (the value
it would have had if the counter never wrapped, the way dcSCTP's UnwrappedSequenceNumber
does), so queues and dicts key on plain ints and compare them with ``<``. Python ints do not
overflow, so unwrapped values never wrap.
"""

from __future__ import annotations

TSN_BITS = 32
SSN_BITS = 16
TSN_MODULUS = 1 << TSN_BITS
SSN_MODULUS = 1 << SSN_BITS
TSN_MASK = TSN_MODULUS - 1
SSN_MASK = SSN_MODULUS - 1
_TSN_HALF = 1 << (TSN_BITS - 1)
_SSN_HALF = 1 << (SSN_BITS - 1)

__all__ = [
    "SSN_MASK",
    "SSN_MODULUS",
    "TSN_MASK",
    "TSN_MODULUS",
    "Unwrapper",
    "ssn_add",
    "ssn_lt",
    "tsn_add",
    "tsn_ge",
    "tsn_gt",
    "tsn_le",
    "tsn_lt",
]


def tsn_lt(a: int, b: int) -> bool:
    """``a < b`` in 32-bit serial arithmetic (RFC 1982 §3.2, as RFC 9260 §1.6 uses it)."""
    d = (b - a) & TSN_MASK
    return 0 < d < _TSN_HALF


def tsn_le(a: int, b: int) -> bool:
    """``a <= b`` in 32-bit serial arithmetic."""
    return a == b or tsn_lt(a, b)


def tsn_gt(a: int, b: int) -> bool:
    """``a > b`` in 32-bit serial arithmetic."""
    return tsn_lt(b, a)


def tsn_ge(a: int, b: int) -> bool:
    """``a >= b`` in 32-bit serial arithmetic."""
    return a == b or tsn_lt(b, a)


def tsn_add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32 (RFC 1982 §3.1 addition; ``n`` may be negative here)."""
    return (a + n) & TSN_MASK


def ssn_lt(a: int, b: int) -> bool:
    """``a < b`` in 16-bit serial arithmetic (SSNs, RFC 9260 §1.6)."""
    d = (b - a) & SSN_MASK
    return 0 < d < _SSN_HALF


def ssn_add(a: int, n: int) -> int:
    """``a + n`` modulo 2**16."""
    return (a + n) & SSN_MASK


class Unwrapper:
    """Maps wrapping wire sequence numbers to monotonically increasing Python ints.

    The unwrapped value of a wire number is the int closest to the largest value unwrapped
    so far that is congruent to it modulo ``2**bits``. Numbers up to half the space behind
    the largest come out as smaller ints (old or duplicate data); numbers ahead advance the
    reference. As long as the live window stays well under half the space (it does: the
    receive window and the TSNs in flight are tiny compared with 2**31), the mapping is
    exact and consistent.

    The first unwrapped value equals the wire value, so unwrapped values start in
    ``[0, 2**bits)`` and grow from there; :meth:`wrap` gives the wire value back.

    Args:
        initial: a wire value known to be current (e.g. the peer's Initial TSN minus one).
        bits: 32 for TSNs, 16 for SSNs.
    """

    __slots__ = ("_half", "_largest", "_mask")

    def __init__(self, initial: int, *, bits: int = TSN_BITS) -> None:
        if bits < 2:
            raise ValueError("bits must be at least 2")
        self._mask = (1 << bits) - 1
        self._half = 1 << (bits - 1)
        if not 0 <= initial <= self._mask:
            raise ValueError(f"initial value {initial} out of range for {bits} bits")
        self._largest = initial

    @property
    def largest(self) -> int:
        """The largest unwrapped value seen so far."""
        return self._largest

    def peek(self, wire: int) -> int:
        """Unwrap ``wire`` without moving the reference (for values that may be dropped)."""
        largest = self._largest
        delta = (wire - largest) & self._mask
        if delta >= self._half:
            delta -= self._mask + 1
        return largest + delta

    def unwrap(self, wire: int) -> int:
        """Unwrap ``wire`` and advance the reference if it is ahead of everything seen."""
        largest = self._largest
        delta = (wire - largest) & self._mask
        if delta >= self._half:
            return largest + delta - self._mask - 1
        value = largest + delta
        self._largest = value
        return value

    def wrap(self, value: int) -> int:
        """The wire value of an unwrapped ``value``."""
        return value & self._mask
