"""One endpoint serving many associations; per-input work independent of their number."""

from __future__ import annotations

import random

from netchan.transport.sctp import events as ev
from netchan.transport.sctp.endpoint import SctpEndpoint
from netchan.transport.sctp.options import Options
from netchan.transport.sctp.state import State
from tests.sctp.netsim import Link, NetSim

SERVER = ("10.1.0.1", 9000)


def test_many_clients_one_server() -> None:
    options = Options(heartbeat_interval=2.0)
    net = NetSim(random.Random(81), Link(loss=0.05, delay=0.004, jitter=0.002))
    server = SctpEndpoint(options, local_port=9000, rng=random.Random(82), now=0.0)
    net.add(SERVER, server)
    clients = []
    for i in range(60):
        addr = (f"10.1.1.{i + 1}", 20000 + i)
        ep = SctpEndpoint(options, local_port=20000 + i, rng=random.Random(1000 + i), now=0.0)
        net.add(addr, ep)
        clients.append((addr, ep, ep.connect(SERVER, 9000, 0.0)))
    net.run_until(lambda: all(a.state is State.ESTABLISHED for _, _, a in clients), 30.0)
    for n, (_, _, assoc) in enumerate(clients):
        for k in range(5):
            assoc.send(b"client %d msg %d" % (n, k), stream=k, ppid=n, unordered=False, now=net.now)
    net.run_until(lambda: len(net.events_of(SERVER, ev.MessageReceived)) == 300, 60.0)
    got = net.events_of(SERVER, ev.MessageReceived)
    by_assoc: dict[int, list[bytes]] = {}
    for message in got:
        by_assoc.setdefault(message.association_id, []).append(message.data)
    assert len(by_assoc) == 60
    for messages in by_assoc.values():
        n = int(messages[0].split()[1])
        assert sorted(messages) == sorted(b"client %d msg %d" % (n, k) for k in range(5))
    assert len(server.associations) == 60
    # An input touches only its own association: nothing else is visited afterwards.
    (_, _ep0, assoc0) = clients[0]
    assoc0.send(b"one more", stream=0, ppid=0, unordered=False, now=net.now)
    net.flush()
    net.step(net.now + 1.0)
    assert len(server._dirty) <= 1
    # Heartbeats keep every association alive; the deadline heap holds no stale pile-up.
    net.run(20.0)
    assert all(a.state is State.ESTABLISHED for _, _, a in clients)
    assert len(server._heap) <= 4 * len(server.associations) + 64
    # Everyone leaves gracefully.
    for _, _, assoc in clients:
        assoc.shutdown(net.now)
    net.run_until(lambda: len(net.events_of(SERVER, ev.AssociationClosed)) == 60, 60.0)
    assert server.associations == {}
    assert server.next_deadline() is None
