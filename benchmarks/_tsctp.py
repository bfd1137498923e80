"""Helpers to run usrsctp's example programs (Debian package libusrsctp-examples).

Shared by ``benchmarks/endpoint_bench.py`` and the interoperability tests in
``tests/interop/``. The programs speak SCTP over UDP (RFC 6951) on loopback:

* ``echo_server LOCAL_UDP REMOTE_UDP`` - SCTP port 7; echoes every complete message on the
  stream it came on, with its PPID and unordered flag (it reads 10240 bytes at a time and
  echoes only the read that ends a message).
* ``discard_server LOCAL_UDP REMOTE_UDP`` - SCTP port 9; prints one line per read
  ("Msg of length N received ... complete 1" at the end of each message).
* ``client ADDR SCTP_PORT LOCAL_SCTP_PORT LOCAL_UDP REMOTE_UDP`` - one-to-one client: sends
  each line of its stdin as a message on stream 0, writes what it receives to stdout, shuts
  the association down at end of input and exits when it is closed.
* ``tsctp`` - throughput tool. Receiver: ``tsctp -E LOCAL_UDP [-p SCTP_PORT]`` (default SCTP
  port 5001; the remote UDP port is learned from the first packet); it prints
  ``length, messages, recv_calls, bytes, seconds, bytes_per_second, notifications`` when an
  association ends. Sender: ``tsctp -E LOCAL_UDP -U REMOTE_UDP -p SCTP_PORT -l LENGTH
  (-n COUNT | -T SECONDS) [-u] ADDR``; the last message carries SCTP_EOF (graceful SHUTDOWN).

Debian's libusrsctp is built with SCTP_DEBUG and tsctp switches all debug output on, so
every packet is logged to stdout; :func:`quiet_shim` builds an LD_PRELOAD library that turns
that off (needed for honest throughput numbers).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

USRSCTP_DIR = Path(os.environ.get("NETCHAN_USRSCTP_DIR", "/usr/lib/usrsctp"))
SHIM_SOURCE = Path(__file__).with_name("_tsctp_quiet.c")


def program(name: str) -> Path:
    """Path of one usrsctp example program (may not exist)."""
    return USRSCTP_DIR / name


def available(*names: str) -> bool:
    """True if every named program is installed and executable."""
    return all(os.access(program(n), os.X_OK) for n in names)


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port that was free a moment ago (the kernel's choice for port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


def udp_port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """True once some process has bound ``port`` (usrsctp binds the wildcard address).

    On Linux this reads /proc/net/udp and /proc/net/udp6 instead of trying to bind the port:
    a probing bind, polled while usrsctp starts, can take the port for the instant usrsctp
    binds its IPv4 socket, which then fails while its IPv6 socket succeeds; the program looks
    started but never answers on IPv4. Elsewhere it falls back to a probing bind.
    """
    tables = [Path("/proc/net/udp"), Path("/proc/net/udp6")]
    if tables[0].exists():
        wanted = f":{port:04X}"
        for table in tables:
            with contextlib.suppress(OSError):
                for line in table.read_text().splitlines()[1:]:
                    fields = line.split()
                    if len(fields) > 1 and fields[1].endswith(wanted):
                        return True
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def quiet_shim(cache_dir: Path | None = None) -> Path | None:
    """Build (once) the LD_PRELOAD shim that silences tsctp's debug output.

    Returns None when no C compiler is available; callers then run tsctp noisy and say so.
    """
    cache = cache_dir or Path(tempfile.gettempdir()) / "netchan-bench"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / "tsctp-quiet.so"
    if target.exists() and target.stat().st_mtime >= SHIM_SOURCE.stat().st_mtime:
        return target
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        return None
    tmp = cache / f"tsctp-quiet.{os.getpid()}.so"
    result = subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(tmp), str(SHIM_SOURCE), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    tmp.replace(target)
    return target


@dataclass(frozen=True)
class ReceiverReport:
    """One line tsctp's receiver prints when an association ends."""

    length: int
    messages: int
    recv_calls: int
    bytes: int
    seconds: float
    bytes_per_second: float
    notifications: int


def parse_receiver_reports(text: str) -> list[ReceiverReport]:
    """Every ``length, messages, recv_calls, bytes, seconds, Bps, notifications`` line."""
    reports = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 7:
            continue
        try:
            reports.append(
                ReceiverReport(
                    int(parts[0]),
                    int(parts[1]),
                    int(parts[2]),
                    int(parts[3]),
                    float(parts[4]),
                    float(parts[5]),
                    int(parts[6]),
                )
            )
        except ValueError:
            continue
    return reports


class Program:
    """A running usrsctp program whose stdout goes to a file (read it with :meth:`output`)."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        workdir: Path,
        stdin: int | None = subprocess.DEVNULL,
        quiet: Path | None = None,
        name: str = "usrsctp",
    ) -> None:
        self.stdout_path = workdir / f"{name}.{os.getpid()}.{id(self)}.out"
        env = dict(os.environ)
        if quiet is not None:
            env["LD_PRELOAD"] = str(quiet)
        command = list(args)
        stdbuf = shutil.which("stdbuf")
        if stdbuf is not None:
            # Line-buffered stdout, so what the program printed survives a kill.
            command = [stdbuf, "-oL", *command]
        self._out = open(self.stdout_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdin=stdin, stdout=self._out, stderr=subprocess.STDOUT, env=env
        )

    def output(self) -> str:
        """Everything the program wrote so far."""
        if not self._out.closed:
            self._out.flush()
        return self.stdout_path.read_text(errors="replace")

    def stop(self) -> None:
        """Kill the program (if still running) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self._out.close()
        if self.process.stdin is not None:
            self.process.stdin.close()


@contextlib.contextmanager
def running(
    args: Sequence[str],
    *,
    workdir: Path,
    stdin: int | None = subprocess.DEVNULL,
    quiet: Path | None = None,
    name: str = "usrsctp",
) -> Iterator[Program]:
    """Run a program for the duration of a ``with`` block; it is killed at the end."""
    prog = Program(args, workdir=workdir, stdin=stdin, quiet=quiet, name=name)
    try:
        yield prog
    finally:
        prog.stop()
