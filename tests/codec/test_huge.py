"""Big fields on transparent huge pages (netchan/codec/_huge.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import msgpack
import pytest

from netchan.codec import Scattered, _huge
from netchan.codec._huge import HUGE_MIN, address, join_huge

THP = Path("/sys/kernel/mm/transparent_hugepage")
LINUX_THP = sys.platform.startswith("linux") and THP.exists()


def _vm_flags(at: int) -> list[str]:
    """The VmFlags of the mapping of this process that holds address ``at``."""
    flags: list[str] = []
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(x, 16) for x in head.split("-"))
            inside = low <= at < high
        elif inside and line.startswith("VmFlags:"):
            flags = line.split()[1:]
    return flags


@pytest.mark.parametrize(
    "sizes",
    [
        [HUGE_MIN],
        [HUGE_MIN - 1],
        [0, 1, 3 << 20, 0, (1 << 20) + 7, 12345],
        [(2 << 20) + 1] * 5,
    ],
)
def test_join_huge_is_the_join(sizes: list[int]) -> None:
    parts = [os.urandom(n) if n < 4096 else bytes([n % 251]) * n for n in sizes]
    out = join_huge(parts)
    assert type(out) is bytes
    assert out == b"".join(parts)
    assert hash(out) == hash(b"".join(parts))
    if sum(sizes) >= HUGE_MIN:
        # A new object that only this test holds (the C API's new reference not leaked).
        assert sys.getrefcount(out) == 2


def test_address_is_the_objects_own_buffer() -> None:
    data = b"x" * 100
    # CPython's bytes object: its bytes follow a header of getsizeof(b"") - 1 bytes.
    assert address(data) == id(data) + sys.getsizeof(b"") - 1


@pytest.mark.skipif(not LINUX_THP, reason="transparent huge pages are a Linux kernel feature")
def test_a_big_field_is_advised_onto_huge_pages() -> None:
    """The field's pages carry the kernel's ``hg`` flag (MADV_HUGEPAGE); a small one not."""
    big = join_huge([b"a" * (HUGE_MIN // 2), b"b" * (HUGE_MIN // 2 + 4096 * 3 + 5)])
    middle = address(big) + len(big) // 2
    assert "hg" in _vm_flags(middle), _vm_flags(middle)
    small = join_huge([b"a" * (HUGE_MIN // 4)] * 2)
    assert "hg" not in _vm_flags(address(small) + len(small) // 2)


def test_without_libc_it_is_the_plain_join(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_huge, "_libc", None)
    parts = [b"q" * HUGE_MIN, b"r" * 10]
    assert join_huge(parts) == b"".join(parts)


def test_a_scattered_values_big_field_comes_out_whole() -> None:
    data = bytes(range(256)) * (HUGE_MIN // 256 + 17)
    encoded = msgpack.packb({"data": data, "n": 1}, use_bin_type=True)
    step = 256 * 1024
    value = Scattered([encoded[i : i + step] for i in range(0, len(encoded), step)])
    skeleton, fields = value.parts()
    (field,) = fields.values()
    assert type(field) is bytes and field == data
    assert len(skeleton) < 100
