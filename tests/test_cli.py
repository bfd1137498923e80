"""The command line: short messages and distinct exit statuses, ``ls``, IPv6, Ctrl-C.

Most commands run in-process through ``netchan._cli.run``; a node to talk to, and Ctrl-C, need
a ``serve`` process. Loopback only, ephemeral ports, every wait bounded.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import netchan
from netchan import _cli
from netchan._cli import build_parser, run

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TIMEOUT = 60


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def _dead_port(host: str = "127.0.0.1") -> int:
    """A UDP port nobody listens on (bound and released: ICMP answers it at once)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


class Serve:
    """A ``netchan serve`` process; ``header`` holds what it printed before any value."""

    def __init__(self, address: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netchan", "serve", address, *args],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.header: list[str] = []
        while not self.header or self.header[-1] != "Ctrl-C stops":
            line = self.proc.stdout.readline()
            assert line, f"serve exited: {self.proc.communicate(timeout=TIMEOUT)}"
            self.header.append(line.rstrip("\n"))
        self.address = self.header[0].split()[-1]

    def interrupt(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, out, err

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def server() -> Iterator[Serve]:
    serve = Serve("udp://127.0.0.1:0", "--print", "log", "--echo", "e")
    try:
        yield serve
    finally:
        serve.stop()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = run(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def short_failure(err: str) -> None:
    assert "Traceback" not in err and "ExceptionGroup" not in err
    assert 1 <= len(err.strip().splitlines()) <= 2, err


# --- expected failures: one or two lines, a status of their own ------------------------------


def test_unknown_channel(server: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, "send", server.address, "nochan", "1")
    assert status == _cli.EXIT_UNKNOWN_CHANNEL
    short_failure(err)
    assert "'nochan'" in err and f"netchan ls {server.address}" in err
    status, _, err = cli(capsys, "recv", server.address, "log")  # exported the other way
    assert status == _cli.EXIT_UNKNOWN_CHANNEL
    short_failure(err)


def test_nothing_listening(capsys: pytest.CaptureFixture[str]) -> None:
    address = f"udp://127.0.0.1:{_dead_port()}"
    for argv in (["send", address, "log", "1"], ["recv", address, "q"], ["ls", address]):
        status, _, err = cli(capsys, *argv)
        assert status == _cli.EXIT_UNREACHABLE, err
        short_failure(err)
        assert address in err and "netchan serve" in err


def test_debug_adds_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, "--debug", "send", f"udp://127.0.0.1:{_dead_port()}", "x", "1")
    assert status == _cli.EXIT_UNREACHABLE
    assert "Traceback" in err and "PeerUnreachableError" in err
    assert err.rstrip().splitlines()[-1].startswith("  is a node running there?")


def test_unknown_host_is_told_apart() -> None:
    # Built by hand: resolving a made-up name would ask the network's DNS.
    try:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    except socket.gaierror as gai:
        try:
            raise netchan.transport.InvalidAddressError("cannot resolve 'nohost'") from gai
        except ValueError as invalid:
            exc = netchan.PeerUnreachableError("cannot reach udp://nohost:9")
            exc.__cause__ = invalid
    args = argparse.Namespace(address="udp://nohost:9")
    failure = _cli._classify(exc, args)
    assert failure is not None and failure.status == _cli.EXIT_UNKNOWN_HOST
    assert "unknown host 'nohost'" in str(failure)


def test_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        address = f"udp://127.0.0.1:{taken.getsockname()[1]}"
        status, _, err = cli(capsys, "serve", address, "--print", "x")
    assert status == _cli.EXIT_CANNOT_BIND
    short_failure(err)
    assert address in err and "in use" in err


@pytest.mark.parametrize("address", ["tcp://x:1", "127.0.0.1:9000", "udp://x"])
def test_a_bad_address_is_named_as_typed(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["send", address, "log", "1"], ["recv", address, "q"], ["ls", address]):
        status, _, err = cli(capsys, *argv)
        assert status == _cli.EXIT_USAGE
        short_failure(err)
        assert repr(address) in err and "0.0.0.0" not in err


@pytest.mark.parametrize("text", ['{"a": 1', "[1, 2", '"open', "12abc", "1.2.3"])
def test_malformed_json_is_an_error_not_a_string(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The address is dead: the values are checked before anything is sent.
    address = f"udp://127.0.0.1:{_dead_port()}"
    status, _, err = cli(capsys, "send", address, "log", "1", text)
    assert status == _cli.EXIT_USAGE
    short_failure(err)
    assert repr(text) in err and "not valid JSON" in err


def test_values_json_and_bare_words(server: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli._json_arg('{"a": [1, 2]}') == {"a": [1, 2]}
    assert _cli._json_arg("-1.5") == -1.5
    assert _cli._json_arg("hello") == "hello"
    assert _cli._json_arg("null") is None
    values = ["7", "word", '"quoted"']
    assert cli(capsys, "send", server.address, "e", *values)[0] == 0
    status, out, _ = cli(capsys, "recv", server.address, "e.out", "--count", "3")
    assert status == 0 and out.splitlines() == ["7", '"word"', '"quoted"']


# --- ls, serve, IPv6, Ctrl-C --------------------------------------------------------------------


def test_serve_says_what_it_exports(server: Serve) -> None:
    assert server.header[0] == f"serving on {server.address}"
    assert server.header[1] == "exports:"
    listed = [line.split()[:2] for line in server.header[2:-1]]
    assert listed == [["log", "send"], ["e", "send"], ["e.out", "receive"]]


def test_ls_lists_the_exports(server: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "ls", server.address)
    assert status == 0, err
    assert [line.split() for line in out.splitlines()] == [
        ["e", "send"],
        ["e.out", "receive"],
        ["log", "send"],
    ]


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback on this host")
def test_send_to_an_ipv6_node(capsys: pytest.CaptureFixture[str]) -> None:
    serve = Serve("udp://[::1]:0", "--print", "six", "--count", "1")
    try:
        assert serve.address.startswith("udp://[::1]:")
        status, _, err = cli(capsys, "send", serve.address, "six", '{"v": 6}')
        assert status == 0, err
        out, _ = serve.proc.communicate(timeout=TIMEOUT)
        assert 'six: {"v": 6}' in out
    finally:
        serve.stop()


def test_ctrl_c_on_serve_exits_130_quietly() -> None:
    serve = Serve("udp://127.0.0.1:0", "--print", "log")
    try:
        status, _, err = serve.interrupt()
    finally:
        serve.stop()
    assert status == _cli.EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "ExceptionGroup" not in err


# --- help and bench ----------------------------------------------------------------------------


def test_help_lists_real_commands_explains_every_argument_and_exit_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "_worker" not in text and "SUPPRESS" not in text and "``" not in text
    for code in _cli.EXIT_STATUSES:
        assert f" {code}  " in text
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        if name == "_worker":
            continue
        with pytest.raises(SystemExit):
            command.parse_args(["--help"])
        assert "``" not in capsys.readouterr().out
        for action in command._actions:
            assert action.help, f"{name} {action.dest} has no help"


def test_bench_says_what_it_measures(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "bench", "--count", "100")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("netchan bench: one channel, udp:// on loopback")
    assert "benchmarks/channel_bench.py" in out and "docs/benchmarks.md" in out
    header = next(line for line in lines if "values/s" in line)
    assert header.split() == ["size", "values", "values/s", "MB/s"]
    rows = lines[lines.index(header) + 1 :]
    assert [" ".join(r.split()[:2]) for r in rows] == ["64 B", "1 KiB", "16 KiB"]
