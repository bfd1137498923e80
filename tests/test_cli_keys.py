"""The command line with a node key: from ``--key-file`` or ``NETCHAN_KEY``, never argv."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netchan._cli import EXIT_UNREACHABLE, EXIT_USAGE, build_parser, run

ROOT = Path(__file__).resolve().parents[1]
KEY = "a-key-of-more-than-16-bytes-0123456789"
TIMEOUT = 60


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[str]:
    """A ``netchan serve`` process whose key comes from NETCHAN_KEY; yields its address."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NETCHAN_KEY": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netchan", "serve", "udp://127.0.0.1:0", "--print", "log"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first, proc.communicate(timeout=TIMEOUT)
    address = first.split()[-1]
    while proc.stdout.readline().rstrip("\n") != "Ctrl-C stops":
        pass
    try:
        yield address
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=TIMEOUT)


def _short(err: str) -> None:
    assert "Traceback" not in err
    assert 1 <= len(err.strip().splitlines()) <= 2, err


def test_key_file_opens_a_keyed_node(
    keyed_server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NETCHAN_KEY", raising=False)
    key_file = tmp_path / "netchan.key"
    key_file.write_text(KEY + "\n")
    assert run(["--key-file", str(key_file), "send", keyed_server, "log", "1"]) == 0
    assert run(["--key-file", str(key_file), "ls", keyed_server]) == 0
    assert "log" in capsys.readouterr().out


def test_environment_key_opens_a_keyed_node(
    keyed_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETCHAN_KEY", KEY)
    assert run(["send", keyed_server, "log", "2"]) == 0


@pytest.mark.parametrize("key", [None, "another-key-of-more-than-16-bytes"])
def test_missing_or_wrong_key_is_a_short_failure(
    keyed_server: str,
    key: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if key is None:
        monkeypatch.delenv("NETCHAN_KEY", raising=False)
    else:
        monkeypatch.setenv("NETCHAN_KEY", key)
    assert run(["send", keyed_server, "log", "3"]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    _short(err)
    assert "SCTP-AUTH" in err and "--key-file" in err


def test_a_short_or_missing_key_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"tiny\n")
    assert run(["--key-file", str(short), "ls", "udp://127.0.0.1:9"]) == EXIT_USAGE
    err = capsys.readouterr().err
    _short(err)
    assert "at least 16" in err
    assert run(["--key-file", str(tmp_path / "none"), "ls", "udp://127.0.0.1:9"]) == EXIT_USAGE
    _short(capsys.readouterr().err)


def test_no_option_takes_the_key_itself() -> None:
    parser = build_parser()
    options = {opt for action in parser._actions for opt in action.option_strings}
    assert "--key-file" in options
    assert not {o for o in options if o in ("--key", "-k", "--secret")}
