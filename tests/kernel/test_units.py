"""Unit tests of the kernel backend's pure parts (run on any host, no SCTP needed).

Notification decoding and ABORT causes (peer bytes: never raise), and the reader's
reassembly of pieces per (association, stream), fed with scripted ``recvmsg`` results.
"""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netchan.transport import AssociationClosed, AssociationEstablished
from netchan.transport.kernel import KernelOptions, _notify
from netchan.transport.kernel._endpoint import KernelEndpoint
from netchan.transport.kernel._ffi import ffi
from netchan.transport.kernel._platform import LINUX
from netchan.transport.kernel._socket import Received

C = LINUX


def _struct_bytes(ctype: str, **fields: int) -> bytes:
    v = ffi.new(ctype + " *")
    for k, val in fields.items():
        setattr(v, k, val)
    return bytes(ffi.buffer(v))


def test_decode_assoc_change_with_abort_causes() -> None:
    causes = struct.pack("!HH", 12, 4 + 5) + b"hello" + b"\0\0\0"
    head = _struct_bytes(
        "struct sctp_assoc_change",
        sac_type=C.sctp_assoc_change,
        sac_state=C.sctp_comm_lost,
        sac_error=12,
        sac_assoc_id=7,
        sac_length=20 + len(causes),
    )
    note = _notify.decode(head + causes, C)
    assert isinstance(note, _notify.AssocChange)
    assert (note.assoc_id, note.state, note.error) == (7, C.sctp_comm_lost, 12)
    assert note.abort_causes == causes
    assert _notify.abort_reason(causes) == "peer sent ABORT: user-initiated abort: hello"


def test_decode_comm_up_and_shutdown() -> None:
    up = _struct_bytes(
        "struct sctp_assoc_change",
        sac_type=C.sctp_assoc_change,
        sac_state=C.sctp_comm_up,
        sac_outbound_streams=10,
        sac_inbound_streams=20,
        sac_assoc_id=3,
        sac_length=20,
    )
    note = _notify.decode(up, C)
    assert isinstance(note, _notify.AssocChange)
    assert (note.outbound_streams, note.inbound_streams, note.abort_causes) == (10, 20, None)
    shut = _struct_bytes(
        "struct sctp_shutdown_event", sse_type=C.sctp_shutdown_event, sse_assoc_id=4
    )
    assert _notify.decode(shut, C) == _notify.ShutdownEvent(4)


def test_decode_rejects_short_and_unknown() -> None:
    assert _notify.decode(b"", C) is None
    assert _notify.decode(struct.pack("=HHI", C.sctp_assoc_change, 0, 8), C) is None
    assert _notify.decode(struct.pack("=HHI", 0x1234, 0, 8) + b"\0" * 40, C) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([0, 0x8001, 0x8002, 0x8005, 0x800D, 0x8004]))
def test_decode_never_raises_on_peer_bytes(data: bytes, kind: int) -> None:
    framed = struct.pack("=H", kind) + data
    note = _notify.decode(framed, C)
    assert note is None or isinstance(
        note,
        _notify.AssocChange
        | _notify.PeerAddrChange
        | _notify.ShutdownEvent
        | _notify.SendFailed
        | _notify.Other,
    )
    assert _notify.abort_reason(data).startswith("peer sent ABORT")


class _FakeSocket:
    """Just enough of SctpSocket for KernelEndpoint's bookkeeping (no system calls)."""

    fd = -1

    def local_port(self) -> int:
        return 5000

    def status(self, kid: int) -> None:
        return None

    def peer_addresses(self, kid: int) -> list[tuple[str, int]]:
        return [("127.0.0.1", 6000 + kid)]

    def assoc_id_for(self, addr: Any) -> int | None:
        return None


def _endpoint(**options: Any) -> KernelEndpoint:
    return KernelEndpoint(_FakeSocket(), ["127.0.0.1"], KernelOptions(**options), C)  # type: ignore[arg-type]


def _comm_up(ep: KernelEndpoint, kid: int) -> None:
    ep._on_notification(_notify.AssocChange(kid, C.sctp_comm_up, 0, 16, 16, None))


def _piece(data: bytes, kid: int, stream: int, eor: bool) -> Received:
    return Received(data, eor, False, stream=stream, ppid=stream + 100, assoc_id=kid)


def test_pieces_interleaved_across_associations_and_streams() -> None:
    ep = _endpoint()
    _comm_up(ep, 1)
    _comm_up(ep, 2)
    events = list(ep._events.pending)
    assert [type(e) for e in events] == [AssociationEstablished, AssociationEstablished]
    a1, a2 = (e.association for e in events)
    for got in [
        _piece(b"A1", 1, 0, False),
        _piece(b"B1", 2, 0, False),
        _piece(b"C1", 1, 3, False),
        _piece(b"A2", 1, 0, False),
        _piece(b"B2", 2, 0, True),
        _piece(b"A3", 1, 0, True),
        _piece(b"C2", 1, 3, True),
        _piece(b"whole", 2, 5, True),
    ]:
        ep._handle(got)
    q1 = [(m.data, m.stream, m.ppid) for m in a1.inbox]  # type: ignore[attr-defined]
    q2 = [(m.data, m.stream, m.ppid) for m in a2.inbox]  # type: ignore[attr-defined]
    assert q1 == [(b"A1A2A3", 0, 100), (b"C1C2", 3, 103)]
    assert q2 == [(b"B1B2", 0, 100), (b"whole", 5, 105)]
    assert ep._queued_bytes == 6 + 4 + 4 + 5


def test_oversize_message_is_dropped_to_its_end_and_counted() -> None:
    ep = _endpoint(max_message_size=10)
    _comm_up(ep, 1)
    assoc = ep._events.pending[0].association
    for got in [
        _piece(b"x" * 8, 1, 0, False),
        _piece(b"x" * 8, 1, 0, False),  # 16 > 10: dropped from here on
        _piece(b"x" * 8, 1, 0, True),
        _piece(b"ok", 1, 0, True),
    ]:
        ep._handle(got)
    assert [m.data for m in assoc.inbox] == [b"ok"]  # type: ignore[attr-defined]
    assert ep.drops == {"oversize_message": 1}


def test_partial_delivery_abort_discards_the_piece_and_shutdown_completes() -> None:
    ep = _endpoint()
    _comm_up(ep, 1)
    assoc = ep._events.pending[0].association
    ep._handle(_piece(b"half", 1, 2, False))
    ep._on_notification(_notify.Other(1, C.sctp_partial_delivery_event))
    ep._handle(_piece(b"next", 1, 2, True))
    assert [m.data for m in assoc.inbox] == [b"next"]  # type: ignore[attr-defined]
    ep._on_notification(_notify.AssocChange(1, C.sctp_shutdown_comp, 0, 0, 0, None))
    assert isinstance(ep._events.pending[-1], AssociationClosed)
    assert ep.associations == ()


def test_receive_window_accounting_and_unknown_association() -> None:
    ep = _endpoint(receive_window=4096)
    ep._handle(_piece(b"lost", 99, 0, True))  # no association 99 and the kernel knows none
    assert ep.drops == {"unknown_association": 1}
    _comm_up(ep, 1)
    assoc = ep._events.pending[0].association
    ep._handle(_piece(b"y" * 5000, 1, 0, True))
    assert ep._queued_bytes == 5000 >= ep._opts.receive_window  # the reader would pause
    ep._consumed(assoc, 5000)  # type: ignore[arg-type]
    assert ep._queued_bytes == 0 and ep._reader_resume.is_set()
