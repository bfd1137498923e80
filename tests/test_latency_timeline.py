"""benchmarks/latency_timeline.py: the cut of a round trip into phases, and one short run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks import latency_timeline as tl

ROOT = Path(__file__).resolve().parents[1]


def test_a_round_trip_is_cut_at_the_request_the_servers_reply_and_the_clients_last_read() -> None:
    client = [
        (0.0, "start"),
        (1.0, "tx"),  # the request leaves
        (5.0, "rx"),  # an early packet of the server (a CREDIT): not the reply's
        (9.0, "rx"),  # the reply is read
        (12.0, "end"),
    ]
    server = [
        (2.0, "rx"),  # the request arrives
        (4.0, "tx"),  # something before the reply
        (7.0, "tx"),  # the reply
        (10.0, "rx"),  # after the client's last read: not part of the server's phase
    ]
    result = tl.phases(client, server)
    assert result["skipped"] == 0
    assert [result["phases"][name] for name in tl.PHASES] == [[1.0], [1.0], [5.0], [2.0], [3.0]]
    assert result["totals"] == [12.0]


def test_a_round_trip_without_the_servers_stamps_is_skipped_not_guessed() -> None:
    result = tl.phases([(0.0, "start"), (1.0, "tx"), (3.0, "rx"), (4.0, "end")], [])
    assert result == {"phases": {name: [] for name in tl.PHASES}, "totals": [], "skipped": 1}


def test_a_short_run_prints_every_phase_of_each_workload() -> None:
    out = subprocess.run(
        [sys.executable, "benchmarks/latency_timeline.py", "--count", "30"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    ).stdout
    for name in (*tl.PHASES, "total"):
        assert any(line.startswith(name) for line in out.splitlines()), out
    assert "pingpong:" in out and "request:" in out, out
