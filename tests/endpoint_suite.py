"""The conformance suite of the endpoint API (``netchan.transport``), one for every backend.

Both backends (``udp://`` userspace SCTP, ``sctp://`` kernel SCTP) must pass exactly these
tests. To run them against a backend, a ``conftest.py`` next to the test module provides:

* ``endpoint_scheme`` (required): ``"udp"`` or ``"sctp"``;
* ``endpoint_options`` (optional): a dict of keyword options for every ``open_endpoint`` call
  (default ``{}``);
* ``small_buffer_options`` (optional): options that make the send and receive buffers small
  for the backpressure test (default ``{"send_buffer": 65536, "receive_window": 65536}``,
  names both backends understand);

and a test module does ``from tests.endpoint_suite import *  # noqa: F403``. A transport not
opened by ``open_endpoint`` (the in-memory one, tests/memory/test_suite.py) redefines the
``open_ep`` fixture in that module, after the import: the module's own fixtures win.

Every test runs on loopback (127.0.0.1) with ephemeral ports and is bounded by
``trio.fail_after``. Real sockets run in real time, so the bounds are generous (the kernel
suite runs inside an emulated VM); none of the assertions depends on timing except the
backpressure test's "no progress for BLOCKED_AFTER seconds", which is what blocking means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import pytest
import trio

from netchan.transport import (
    Association,
    AssociationAborted,
    AssociationAbortedError,
    AssociationClosed,
    AssociationEstablished,
    AssociationEvent,
    Endpoint,
    open_endpoint,
)

__all__ = [
    "endpoint_options",
    "open_ep",
    "small_buffer_options",
    "test_abort_by_peer",
    "test_aclose_is_idempotent_and_blocks_use",
    "test_address_is_bound_with_ephemeral_port",
    "test_backpressure_blocks_sender_and_loses_nothing",
    "test_endpoint_close_aborts_peers",
    "test_errors_bad_stream_and_use_after_close",
    "test_exceptions_come_out_as_themselves",
    "test_explicit_connect",
    "test_graceful_shutdown_by_peer_ends_receive",
    "test_graceful_shutdown_delivers_everything",
    "test_implicit_association_by_send_to",
    "test_large_messages",
    "test_many_associations_on_one_endpoint",
    "test_multihomed_primary_path",
    "test_ordering_per_stream",
    "test_statistics_fields",
    "test_streams_and_ppid",
    "test_unordered_messages",
    "test_unread_events_are_bounded_and_counted",
]

TIMEOUT = 60.0  # per test; generous for the emulated VM
BLOCKED_AFTER = 2.0  # a send that makes no progress this long is blocked

E = TypeVar("E", bound=AssociationEvent)
OpenEp = Callable[..., AbstractAsyncContextManager[Endpoint]]


@pytest.fixture
def endpoint_options() -> dict[str, Any]:
    """Options for every endpoint; a backend's conftest may override this fixture."""
    return {}


@pytest.fixture
def small_buffer_options() -> dict[str, Any]:
    """Options with small buffers (backpressure test); a conftest may override it."""
    return {"send_buffer": 65536, "receive_window": 65536}


@pytest.fixture
def open_ep(endpoint_scheme: str, endpoint_options: dict[str, Any]) -> OpenEp:
    """``open_ep(**extra)``: an endpoint on 127.0.0.1, ephemeral port, of the scheme under test."""

    @asynccontextmanager
    async def opener(**extra: Any) -> AsyncIterator[Endpoint]:
        async with open_endpoint(
            f"{endpoint_scheme}://127.0.0.1:0", **{**endpoint_options, **extra}
        ) as ep:
            yield ep

    return opener


async def wait_event(ep: Endpoint, kind: type[E], assoc: Association | None = None) -> E:
    """Read events until one of ``kind`` (for ``assoc`` if given) comes; others are skipped."""
    for _ in range(1000):
        ev = await ep.next_event()
        if isinstance(ev, kind) and (assoc is None or ev.association is assoc):
            return ev
    raise AssertionError(f"no {kind.__name__} in 1000 events")


def payload(i: int, size: int) -> bytes:
    """A message whose content identifies it: index, then a pattern depending on it."""
    head = i.to_bytes(4, "big")
    if size <= 4:
        return head[:size]
    body = bytes((i + k) & 0xFF for k in range(min(size - 4, 251)))
    reps = (size - 4) // max(len(body), 1) + 1
    return head + (body * reps)[: size - 4]


# --- addresses and association setup ----------------------------------------------------------


async def test_address_is_bound_with_ephemeral_port(open_ep: OpenEp, endpoint_scheme: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_ep() as a, open_ep() as b:
            for ep in (a, b):
                assert ep.address.startswith(f"{endpoint_scheme}://127.0.0.1:")
                port = int(ep.address.rsplit(":", 1)[1].split("?")[0])
                assert 0 < port < 65536
            assert a.address != b.address
            assert a.associations == ()


async def test_multihomed_primary_path(endpoint_scheme: str) -> None:
    """Two loopback addresses each side: both listed to the peer, the first one primary;
    ``set_primary`` moves it and is reported as a ``PeerAddressChanged`` "primary" event."""
    if endpoint_scheme not in ("udp", "sctp"):
        pytest.skip(f"{endpoint_scheme} endpoints have one address")
    from netchan.transport import InvalidAddressError, PeerAddressChanged

    with trio.fail_after(TIMEOUT):
        async with (
            open_endpoint(f"{endpoint_scheme}://127.0.0.1,127.0.0.2:0") as srv,
            open_endpoint(f"{endpoint_scheme}://127.0.0.1,127.0.0.2:0") as cli,
        ):
            port = int(srv.address.rsplit(":", 1)[1])
            first = f"{endpoint_scheme}://127.0.0.1:{port}"
            second = f"{endpoint_scheme}://127.0.0.2:{port}"
            assoc = await cli.connect(srv.address)
            assert set(assoc.peer_addresses) == {first, second}
            assert assoc.primary_path == first
            assoc.set_primary(second)
            while True:
                ev = await wait_event(cli, PeerAddressChanged, assoc)
                if ev.state == "primary":
                    break
            assert ev.address == second
            assert assoc.primary_path == second
            assert assoc.peer_addresses[0] == second
            await assoc.send(b"on the new primary", stream=1)
            assert (await srv.receive()).data == b"on the new primary"
            with pytest.raises(InvalidAddressError):
                assoc.set_primary(f"{endpoint_scheme}://127.0.0.3:{port}")


async def test_implicit_association_by_send_to(open_ep: OpenEp) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.send(b"hello", to=srv.address, stream=0, ppid=42)
            msg = await srv.receive()
            assert (msg.data, msg.stream, msg.ppid, msg.unordered) == (b"hello", 0, 42, False)
            # the server's view of the association points back at the client
            assert cli.address in msg.association.peer_addresses
            assert msg.association in srv.associations
            # a second send to the same address uses the same association
            again = await cli.send(b"again", to=srv.address)
            assert again is assoc
            assert (await srv.receive()).association is msg.association
            assert srv.address in assoc.peer_addresses
            assert list(cli.associations) == [assoc]
            ev = await wait_event(srv, AssociationEstablished)
            assert ev.association is msg.association
            # reply on the association
            await msg.association.send(b"reply", stream=1, ppid=7)
            back = await assoc.receive()
            assert (back.data, back.stream, back.ppid, back.association) == (
                b"reply",
                1,
                7,
                assoc,
            )


async def test_explicit_connect(open_ep: OpenEp) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            assert assoc.outbound_streams >= 1 and assoc.inbound_streams >= 1
            assert srv.address in assoc.peer_addresses
            assert (await wait_event(cli, AssociationEstablished)).association is assoc
            server_side = (await wait_event(srv, AssociationEstablished)).association
            assert cli.address in server_side.peer_addresses
            # connecting again returns the association that exists
            assert await cli.connect(srv.address) is assoc
            await assoc.send(b"over explicit", stream=0)
            msg = await srv.receive()
            assert msg.data == b"over explicit" and msg.association is server_side
            assert await cli.send(b"x", to=srv.address) is assoc


async def test_many_associations_on_one_endpoint(open_ep: OpenEp) -> None:
    clients, per_client = 5, 10
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv:

            async def serve() -> None:
                for _ in range(clients * per_client):
                    msg = await srv.receive()
                    await msg.association.send(b"echo:" + msg.data, stream=msg.stream)

            async def client(n: int) -> None:
                async with open_ep() as cli:
                    assoc = await cli.connect(srv.address)
                    for i in range(per_client):
                        await assoc.send(f"{n}/{i}".encode(), stream=n)
                    got = [await assoc.receive() for _ in range(per_client)]
                    assert [m.data for m in got] == [
                        f"echo:{n}/{i}".encode() for i in range(per_client)
                    ]
                    assert all(m.stream == n for m in got)
                    seen.add(n)
                    done.add(n)
                    await all_done.wait()

            seen: set[int] = set()
            done: set[int] = set()
            all_done = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve)
                for n in range(clients):
                    nursery.start_soon(client, n)
                while len(done) < clients:
                    await trio.sleep(0.05)
                assert len(srv.associations) == clients
                peers = {a.peer_addresses[0] for a in srv.associations}
                assert len(peers) == clients
                all_done.set()
            assert seen == set(range(clients))


# --- data ------------------------------------------------------------------------------------


async def test_streams_and_ppid(open_ep: OpenEp) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            top = assoc.outbound_streams - 1
            sent = [
                (0, 0),
                (1, 1),
                (7, 0xFFFFFFFF),
                (min(100, top), 0x01020304),
                (top, 51),
            ]
            for i, (stream, ppid) in enumerate(sent):
                await assoc.send(payload(i, 10 + i), stream=stream, ppid=ppid)
            got = [await srv.receive() for _ in sent]
            # different streams may be delivered in any order relative to each other
            key = sorted((m.stream, m.ppid, m.data) for m in got)
            assert key == sorted((s, p, payload(i, 10 + i)) for i, (s, p) in enumerate(sent))


async def test_ordering_per_stream(open_ep: OpenEp) -> None:
    count = 200
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            for i in range(count):
                await assoc.send(payload(i, 20 + i % 300), stream=1 + i % 3)
            per_stream: dict[int, list[bytes]] = {1: [], 2: [], 3: []}
            for _ in range(count):
                msg = await srv.receive()
                assert msg.unordered is False
                per_stream[msg.stream].append(msg.data)
            for s in (1, 2, 3):
                expect = [payload(i, 20 + i % 300) for i in range(count) if 1 + i % 3 == s]
                assert per_stream[s] == expect


async def test_unordered_messages(open_ep: OpenEp) -> None:
    count = 50
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            for i in range(count):
                await assoc.send(payload(i, 100), stream=2, unordered=True, ppid=9)
            await assoc.send(b"ordered", stream=3)
            got = [await srv.receive() for _ in range(count + 1)]
            unordered = [m for m in got if m.unordered]
            assert sorted(m.data for m in unordered) == sorted(
                payload(i, 100) for i in range(count)
            )
            assert all(m.stream == 2 and m.ppid == 9 for m in unordered)
            ordered = [m for m in got if not m.unordered]
            assert [(m.data, m.stream) for m in ordered] == [(b"ordered", 3)]


async def test_large_messages(open_ep: OpenEp) -> None:
    sizes = [1, 1200, 65536 + 1, 300_000, (1 << 20) + 7]
    with trio.fail_after(TIMEOUT * 2):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)

            async def sender() -> None:
                for i, size in enumerate(sizes):
                    await assoc.send(payload(i, size), stream=i % 2, ppid=size)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                got = [await srv.receive() for _ in sizes]
            by_stream = {0: [m for m in got if m.stream == 0], 1: [m for m in got if m.stream == 1]}
            for s, msgs in by_stream.items():
                expect = [(payload(i, n), n) for i, n in enumerate(sizes) if i % 2 == s]
                assert [(m.data, m.ppid) for m in msgs] == expect
            # and the other way (reassembly on the client side)
            await got[-1].association.send(payload(99, (1 << 20) + 3), stream=0)
            back = await assoc.receive()
            assert back.data == payload(99, (1 << 20) + 3)


# --- flow control ------------------------------------------------------------------------------


async def test_backpressure_blocks_sender_and_loses_nothing(
    open_ep: OpenEp, small_buffer_options: dict[str, Any]
) -> None:
    size, limit, extra = 16 * 1024, 2000, 5
    with trio.fail_after(TIMEOUT * 2):
        async with open_ep(**small_buffer_options) as srv, open_ep(**small_buffer_options) as cli:
            assoc = await cli.connect(srv.address)
            blocked_at = None
            for i in range(limit):
                with trio.move_on_after(BLOCKED_AFTER) as scope:
                    await assoc.send(payload(i, size), stream=1)
                if scope.cancelled_caught:
                    blocked_at = i
                    break
            # nobody reads at the server: the sender must have stopped well before the end
            assert blocked_at is not None, "sender never blocked while the receiver did not read"
            assert blocked_at >= 1
            total = blocked_at + extra

            async def send_rest() -> None:
                for i in range(blocked_at, total):
                    await assoc.send(payload(i, size), stream=1)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send_rest)
                got = [await srv.receive() for _ in range(total)]
            assert [m.data for m in got] == [payload(i, size) for i in range(total)]


# --- teardown ----------------------------------------------------------------------------------


async def test_graceful_shutdown_delivers_everything(open_ep: OpenEp) -> None:
    count, size = 50, 10_000
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            for i in range(count):
                await assoc.send(payload(i, size), stream=0)
            await assoc.aclose()
            # aclose returned: everything was delivered and the association is closed
            assert assoc not in cli.associations
            assert isinstance(await wait_event(cli, AssociationClosed, assoc), AssociationClosed)
            ev = await wait_event(srv, AssociationClosed)
            got = [await srv.receive() for _ in range(count)]
            assert [m.data for m in got] == [payload(i, size) for i in range(count)]
            assert all(m.association is ev.association for m in got)
            assert ev.association not in srv.associations
            with pytest.raises(trio.ClosedResourceError):
                await assoc.send(b"late")
            # a new association to the same peer can be set up afterwards
            fresh = await cli.connect(srv.address)
            assert fresh is not assoc
            await fresh.send(b"new")
            assert (await srv.receive()).data == b"new"


async def test_graceful_shutdown_by_peer_ends_receive(open_ep: OpenEp) -> None:
    """A graceful SHUTDOWN by the peer is a clean end, as trio's channels know it.

    ``receive`` returns what the peer sent before the end and then raises ``EndOfChannel``
    (every time), the rule ``_api.py`` states; ``send`` raises ``BrokenResourceError`` (the
    other side is gone, like a trio channel whose receivers all closed).
    """
    count = 3
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            await assoc.send(b"ping")
            server_side = (await srv.receive()).association
            for i in range(count):
                await server_side.send(payload(i, 100), stream=0)
            await server_side.aclose()
            await wait_event(cli, AssociationClosed, assoc)
            got = [await assoc.receive() for _ in range(count)]
            assert [m.data for m in got] == [payload(i, 100) for i in range(count)]
            for _ in range(2):
                with pytest.raises(trio.EndOfChannel):
                    await assoc.receive()
            with pytest.raises(trio.BrokenResourceError) as info:
                await assoc.send(b"after shutdown")
            assert isinstance(info.value.__cause__, AssociationAbortedError)
            # the side that shut down: our own close, so ClosedResourceError
            with pytest.raises(trio.ClosedResourceError):
                await server_side.receive()


async def test_abort_by_peer(open_ep: OpenEp) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            await assoc.send(b"ping")
            msg = await srv.receive()
            server_side = msg.association
            server_side.abort("test says stop")
            ev = await wait_event(cli, AssociationAborted, assoc)
            assert isinstance(ev.error, AssociationAbortedError)
            assert ev.error.by_peer is True
            assert assoc not in cli.associations
            with pytest.raises(trio.BrokenResourceError) as info:
                await assoc.send(b"after abort")
            assert isinstance(info.value.__cause__, AssociationAbortedError)
            with pytest.raises(trio.BrokenResourceError) as info:
                await assoc.receive()
            assert isinstance(info.value.__cause__, AssociationAbortedError)
            # the aborting side: our own close, so ClosedResourceError
            with pytest.raises(trio.ClosedResourceError):
                await server_side.send(b"x")
            local = await wait_event(srv, AssociationAborted, server_side)
            assert local.error.by_peer is False


async def test_endpoint_close_aborts_peers(open_ep: OpenEp) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv:
            async with open_ep() as cli:
                assoc = await cli.connect(srv.address)
                await assoc.send(b"hi")
                server_side = (await srv.receive()).association
            ev = await wait_event(srv, AssociationAborted, server_side)
            assert ev.error.by_peer is True
            with pytest.raises(trio.ClosedResourceError):
                await assoc.send(b"after endpoint close")
            with pytest.raises(trio.ClosedResourceError):
                await cli.send(b"x", to=srv.address)


async def test_aclose_is_idempotent_and_blocks_use(open_ep: OpenEp) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            await assoc.aclose()
            await assoc.aclose()
            assoc.abort()  # after close: a no-op
            with pytest.raises(trio.ClosedResourceError):
                await assoc.receive()
            await cli.aclose()
            await cli.aclose()
            with pytest.raises(trio.ClosedResourceError):
                await cli.receive()
            with pytest.raises(trio.ClosedResourceError):
                await cli.connect(srv.address)


# --- errors and statistics ----------------------------------------------------------------------


async def test_errors_bad_stream_and_use_after_close(open_ep: OpenEp) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            with pytest.raises(ValueError):
                await assoc.send(b"x", stream=assoc.outbound_streams)
            with pytest.raises(ValueError):
                await assoc.send(b"x", stream=-1)
            with pytest.raises(ValueError):
                await cli.send(b"x", to=srv.address, stream=65536)
            # nothing bad was sent; the association still works
            await assoc.send(b"fine", stream=assoc.outbound_streams - 1)
            msg = await srv.receive()
            assert (msg.data, msg.stream) == (b"fine", assoc.outbound_streams - 1)
            with pytest.raises(ValueError):
                await cli.send(b"x", to="not a url")
        # both endpoints are closed now
        with pytest.raises(trio.ClosedResourceError):
            await assoc.send(b"x")
        with pytest.raises(trio.ClosedResourceError):
            await cli.send(b"x", to=srv.address)


async def test_exceptions_come_out_as_themselves(open_ep: OpenEp) -> None:
    # SPEC: the body's exception, and the endpoint's documented errors, are not wrapped in
    # ExceptionGroups by the endpoint's internal nursery.
    raised = KeyError("from the body")
    with trio.fail_after(TIMEOUT):
        with pytest.raises(KeyError) as info:
            async with open_ep() as srv, open_ep() as cli:
                await cli.send(b"x", to=srv.address)
                await srv.receive()
                raise raised
        assert info.value is raised
        with pytest.raises(trio.ClosedResourceError):
            async with open_ep() as ep:
                await ep.aclose()
                await ep.receive()
        with trio.move_on_after(0.2) as scope:
            async with open_ep() as ep:
                await ep.receive()  # nothing comes: the deadline cancels the wait
        assert scope.cancelled_caught


async def test_statistics_fields(open_ep: OpenEp) -> None:
    count = 20
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            assoc = await cli.connect(srv.address)
            for i in range(count):
                await assoc.send(payload(i, 1000), stream=0)
            msgs = [await srv.receive() for _ in range(count)]
            await msgs[0].association.send(b"ack")
            await assoc.receive()
            st = assoc.statistics()
            assert st.state == "ESTABLISHED"
            assert st.outbound_streams == assoc.outbound_streams
            assert st.inbound_streams == assoc.inbound_streams
            assert st.messages_sent == count and st.bytes_sent == count * 1000
            assert st.messages_received == 1 and st.bytes_received == 3
            assert st.packets_sent >= 1 and st.packets_received >= 1
            assert st.srtt is not None and 0 <= st.srtt < 5
            assert st.rto is not None and st.rto > 0
            assert st.cwnd is not None and st.cwnd > 0
            assert st.peer_rwnd is not None and st.peer_rwnd > 0
            server_st = msgs[0].association.statistics()
            assert server_st.messages_received == count
            assert server_st.bytes_received == count * 1000
            eps = srv.statistics()
            assert eps.associations == 1
            assert eps.datagrams_received >= 1
            assert eps.events_discarded == 0


async def test_unread_events_are_bounded_and_counted(open_ep: OpenEp) -> None:
    """Events nobody reads cannot pile up: the oldest are discarded, and counted."""
    with trio.fail_after(TIMEOUT):
        async with open_ep() as srv, open_ep() as cli:
            # Every backend keeps its events in the shared bounded queue (transport/_common.py):
            # its limit is made tiny here instead of setting up thousands of associations.
            srv._events.limit = 1  # type: ignore[attr-defined]
            assoc = await cli.connect(srv.address)
            await assoc.send(b"x")
            await srv.receive()  # the server has the association: AssociationEstablished
            await assoc.aclose()  # ... and then AssociationClosed, which pushes it out
            # The server's side of the SHUTDOWN may complete a moment after ours.
            for _ in range(int(TIMEOUT / 0.01)):
                if srv.statistics().events_discarded:
                    break
                await trio.sleep(0.01)
            assert srv.statistics().events_discarded >= 1
            assert isinstance(await srv.next_event(), AssociationClosed)
