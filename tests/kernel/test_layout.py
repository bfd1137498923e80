"""The cffi declarations against sizes measured with a C compiler (runs on any host)."""

from __future__ import annotations

import platform
import sys

import pytest

from netchan.transport.kernel import _platform
from netchan.transport.kernel._ffi import EXPECTED_SIZES_LINUX_X86_64, check_layouts, ffi


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
    reason="sizes were measured on Linux x86_64",
)
def test_struct_sizes_match_the_kernel_headers() -> None:
    assert check_layouts() == {}
    assert len(EXPECTED_SIZES_LINUX_X86_64) >= 15


def test_offsets_of_packed_kernel_structs() -> None:
    # sctp_status embeds a packed sctp_paddrinfo right after 24 bytes of header
    assert ffi.offsetof("struct sctp_status", "sstat_primary") == 24
    # packed: the sockaddr_storage follows the 4-byte assoc id directly
    assert ffi.offsetof("struct sctp_paddrinfo", "spinfo_address") == 4
    assert ffi.offsetof("struct sctp_paddr_change", "spc_aaddr") == 8
    # not packed: sockaddr_storage is 8-aligned
    assert ffi.offsetof("struct sctp_udpencaps", "sue_port") == 136


def test_platform_table() -> None:
    linux = _platform.LINUX
    assert linux.ipproto_sctp == 132
    assert (linux.sctp_initmsg, linux.sctp_status, linux.sctp_event) == (2, 14, 127)
    assert (linux.cmsg_sndinfo, linux.cmsg_rcvinfo) == (2, 3)
    assert (linux.msg_notification, linux.msg_eor) == (0x8000, 0x80)
    assert linux.sctp_remote_udp_encaps_port == 132
    # FreeBSD's numbers differ; they are prepared, not used
    assert _platform.FREEBSD.sctp_event != linux.sctp_event
    if sys.platform.startswith("linux"):
        assert _platform.current() is linux
