"""The command line: ``netchan serve | send | recv | ls | demo | bench``.

Enough to poke at running nodes from a shell: ``serve`` exports channels that print or echo
what they get, ``send`` and ``recv`` talk to any node's named channels with JSON values, ``ls``
lists what a node exports, ``demo`` runs the worker fan-out across processes, ``bench`` a quick
throughput measurement. Expected failures print one or two lines on stderr and exit with a
status of their own (:data:`EXIT_STATUSES`); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import socket
import sys
import textwrap
import time
import traceback
from typing import Any

import trio

from ._errors import AccessDeniedError, ChannelNotFoundError, PeerUnreachableError, RemoteError
from .node import open_node
from .node._keys import MIN_KEY_SIZE
from .transport import InvalidAddressError, parse_address
from .transport._nursery import open_internal_nursery
from .transport.errors import SCTPUnavailableError
from .transport.udp._socket import dual_stack_available

DEMO_TIMEOUT = 60.0

EXIT_USAGE = 2
EXIT_UNKNOWN_CHANNEL = 3
EXIT_UNREACHABLE = 4
EXIT_UNKNOWN_HOST = 5
EXIT_CANNOT_BIND = 6
EXIT_BROKEN = 7
EXIT_INTERRUPTED = 130

EXIT_STATUSES = {
    0: "done",
    1: "an unexpected error (a bug: the traceback is printed)",
    EXIT_USAGE: "bad usage: unknown option, bad address, a VALUE that is not valid JSON",
    EXIT_UNKNOWN_CHANNEL: "the node exports no such channel (or not in that direction)",
    EXIT_UNREACHABLE: "no node answers at that address",
    EXIT_UNKNOWN_HOST: "the host name does not resolve",
    EXIT_CANNOT_BIND: "cannot listen there: address in use or not local, or no kernel SCTP",
    EXIT_BROKEN: "the channel broke: the node failed or closed it",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
"""Exit status of ``python -m netchan`` -> what it means (shown by ``--help``)."""

_LOOKS_LIKE_JSON = re.compile(r"\s*(?:[\[{\"]|-?\d)")


class Failure(Exception):
    """An expected failure of a command: what to print (one or two lines) and the status."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.hint = hint


def _json_arg(text: str) -> Any:
    """A VALUE argument: JSON, or a bare word (sent as a string).

    Text that starts like JSON (``{``, ``[``, ``"``, a digit or ``-`` and a digit) must parse:
    ``'{"a": 1'`` is a mistake, not a string to send.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if _LOOKS_LIKE_JSON.match(text):
            raise Failure(
                EXIT_USAGE,
                f"VALUE {text!r} is not valid JSON: {exc}",
                "to send it as a string, quote it as JSON: '\"...\"'",
            ) from None
        return text  # a bare word is sent as a string


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _check_address(address: str) -> str:
    """The user's address, parsed once so a mistake is reported as they typed it."""
    try:
        parse_address(address)
    except InvalidAddressError as exc:
        hint = None
        if "://" not in address:
            hint = f"addresses start with udp:// or sctp://, e.g. udp://{address}"
        what = "bad address" if repr(address) in str(exc) else f"bad address {address!r}"
        raise Failure(EXIT_USAGE, f"{what}: {exc}", hint) from None
    return address


def _key(args: argparse.Namespace) -> bytes | None:
    """The node key: ``--key-file``, else ``NETCHAN_KEY``, else None (no key).

    Never an argument: command lines are visible to every user of the machine (ps).
    """
    path = getattr(args, "key_file", None)
    if path:
        try:
            with open(path, "rb") as f:
                key = f.read()
        except OSError as exc:
            raise Failure(EXIT_USAGE, f"cannot read the key file {path}: {exc.strerror}") from None
        if key.endswith(b"\r\n"):
            key = key[:-2]
        elif key.endswith(b"\n"):
            key = key[:-1]
        where = f"the key file {path}"
    else:
        text = os.environ.get("NETCHAN_KEY")
        if not text:
            return None
        key = text.encode()
        where = "NETCHAN_KEY"
    if len(key) < MIN_KEY_SIZE:
        raise Failure(
            EXIT_USAGE,
            f"{where} holds {len(key)} bytes; a key has at least {MIN_KEY_SIZE}",
            "e.g. python -c 'import secrets; print(secrets.token_hex(32))' > netchan.key",
        )
    return key


def _client_address(address: str) -> str:
    """A client-only node's bind address for talking to ``address``.

    Same scheme; loopback peers are reached from the same loopback address, others from the
    wildcard of their family (IPv6, and host names, from the dual-stack ``[::]``).
    """
    addr = parse_address(address)
    host = addr.host
    if host.startswith("127.") or host == "localhost":
        bind = "127.0.0.1"
    elif host == "::1":
        bind = "[::1]"
    elif re.fullmatch(r"[0-9.]+", host) or not dual_stack_available():
        bind = "0.0.0.0"
    else:
        bind = "[::]"
    return f"{addr.scheme}://{bind}:0"


_EPILOG = (
    textwrap.fill(
        "addresses: udp://HOST:PORT (netchan's SCTP over UDP, works everywhere) or "
        "sctp://HOST:PORT (the kernel's SCTP); IPv6 hosts in brackets: udp://[::1]:9000; "
        "port 0 picks a free port.",
        78,
    )
    + "\n\nexit status:\n"
    + "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_STATUSES.items())
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m netchan``."""
    parser = argparse.ArgumentParser(
        prog="netchan",
        description="Go-style channels between trio programs, over SCTP: poke at nodes "
        "from a shell.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="print the traceback of a failure too")
    parser.add_argument(
        "--key-file",
        metavar="PATH",
        help="the node's shared key (SCTP-AUTH, docs/security.md): the file's bytes, one "
        "trailing newline removed, at least 16 bytes; without it the NETCHAN_KEY environment "
        "variable is the key (its UTF-8 bytes); never give a key on the command line",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=textwrap.fill(description, 78),
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command(
        "serve",
        "run a node exporting channels that print or echo what they get",
        "Run a node at ADDRESS exporting the channels named by --print and --echo; it lists "
        "them at start and runs until Ctrl-C (or --count values).",
    )
    p.add_argument("address", metavar="ADDRESS", help="where to listen, e.g. udp://127.0.0.1:9000")
    p.add_argument(
        "--print",
        dest="prints",
        action="append",
        default=[],
        metavar="NAME",
        help="export a channel NAME to send into; every value is printed (repeatable)",
    )
    p.add_argument(
        "--echo",
        dest="echoes",
        action="append",
        default=[],
        metavar="NAME",
        help="export NAME (send into it) and NAME.out (receive from it): values sent to NAME "
        "come back on NAME.out; a dict value with a 'reply' channel end gets the rest of the "
        "dict sent there instead (repeatable)",
    )
    p.add_argument(
        "--count", type=int, default=None, metavar="N", help="exit after N values (default: run on)"
    )

    name_help = "the channel's name (netchan ls ADDRESS lists them)"
    value_help = (
        "values are JSON: 42, 1.5, true, null, '\"text\"', '[1, 2]', '{\"a\": 1}'; a bare "
        'word such as hello is sent as the string "hello"; text that starts like JSON '
        '({ [ " or a number) and does not parse is an error'
    )
    p = command(
        "send",
        "send JSON values to a channel a node exports",
        "Send each VALUE, in order, to the channel NAME exported by the node at ADDRESS. "
        + value_help[0].upper()
        + value_help[1:]
        + ".",
    )
    p.add_argument("address", metavar="ADDRESS", help="the node, e.g. udp://127.0.0.1:9000")
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument("values", nargs="+", metavar="VALUE", help="a value to send (see above)")

    p = command(
        "recv",
        "receive values from a work queue a node exports",
        "Receive values from the channel NAME (an exported ReceiveChannel, a work queue) of "
        "the node at ADDRESS and print each as JSON, one per line, until it ends.",
    )
    p.add_argument("address", metavar="ADDRESS", help="the node, e.g. udp://127.0.0.1:9000")
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument("--count", type=int, default=None, metavar="N", help="stop after N values")

    p = command(
        "ls",
        "list the channels a node exports",
        "List the channels the node at ADDRESS exports, one per line: name, direction (send: "
        "use netchan send; receive: a work queue, use netchan recv) and type, if declared.",
    )
    p.add_argument("address", metavar="ADDRESS", help="the node, e.g. udp://127.0.0.1:9000")

    p = command(
        "demo",
        "worker fan-out across processes on loopback",
        "A coordinator exports a job queue; worker processes import it and answer each job on "
        "the reply channel it carries.",
    )
    p.add_argument("--workers", type=int, default=3, metavar="N", help="worker processes (3)")
    p.add_argument("--jobs", type=int, default=12, metavar="N", help="jobs to hand out (12)")
    p.add_argument("--scheme", default="udp", choices=["udp", "sctp"], help="transport (udp)")

    p = command(
        "bench",
        "a quick one-channel throughput measurement (one process)",
        "Two nodes in this process on loopback; one channel; values/s and MB/s at 64 B, 1 KiB "
        "and 16 KiB. benchmarks/channel_bench.py is the full benchmark (two processes, "
        "against trio TCP; docs/benchmarks.md).",
    )
    p.add_argument(
        "--count",
        type=int,
        default=20000,
        metavar="N",
        help="values per size (20000; fewer for 16 KiB)",
    )
    p.add_argument("--scheme", default="udp", choices=["udp", "sctp"], help="transport (udp)")

    p = sub.add_parser("_worker")  # a demo worker process (no help: not listed)
    p.add_argument("address")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    exports: list[tuple[str, str, str]] = [
        (n, "send", "values sent to it are printed") for n in args.prints
    ]
    for name in args.echoes:
        exports.append((name, "send", f"values sent to it come back on {name}.out"))
        exports.append((name + ".out", "receive", f"the values sent to {name}"))
    names = [n for n, _, _ in exports]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise Failure(EXIT_USAGE, f"channel name(s) given twice: {', '.join(duplicates)}")
    async with open_node(_check_address(args.address), key=_key(args)) as node:
        seen = 0
        done = trio.Event()
        async with open_internal_nursery() as nursery:

            def count() -> None:
                nonlocal seen
                seen += 1
                if args.count is not None and seen >= args.count:
                    done.set()

            for name in args.prints:
                send, recv = trio.open_memory_channel[Any](16)
                node.export(name, send)

                async def printer(name: str, recv: trio.MemoryReceiveChannel[Any]) -> None:
                    async for value in recv:
                        print(f"{name}: {_show(value)}", flush=True)
                        count()

                nursery.start_soon(printer, name, recv)
            for name in args.echoes:
                send, recv = trio.open_memory_channel[Any](16)
                out_send, out_recv = trio.open_memory_channel[Any](16)
                node.export(name, send)
                node.export(name + ".out", out_recv)

                async def echo(
                    recv: trio.MemoryReceiveChannel[Any], out: trio.MemorySendChannel[Any]
                ) -> None:
                    async for value in recv:
                        reply = value.get("reply") if isinstance(value, dict) else None
                        if isinstance(reply, trio.abc.SendChannel):
                            async with reply:
                                await reply.send({k: v for k, v in value.items() if k != "reply"})
                        else:
                            await out.send(value)
                        count()

                nursery.start_soon(echo, recv, out_send)
            print(f"serving on {node.address}", flush=True)
            if exports:
                width = max(len(n) for n in names)
                print("exports:", flush=True)
                for name, direction, what in exports:
                    print(f"  {name:<{width}}  {direction:<7}  {what}", flush=True)
            else:
                print("exports nothing (add --print NAME or --echo NAME)", flush=True)
            print("Ctrl-C stops", flush=True)
            await done.wait()
            nursery.cancel_scope.cancel()


async def _send(args: argparse.Namespace) -> None:
    address = _check_address(args.address)
    values = [_json_arg(text) for text in args.values]  # all checked before any is sent
    async with open_node(client_address=_client_address(address), key=_key(args)) as node:
        channel = await node.import_send(address, args.name)
        async with channel:
            for value in values:
                await channel.send(value)


async def _recv(args: argparse.Namespace) -> None:
    address = _check_address(args.address)
    async with open_node(client_address=_client_address(address), key=_key(args)) as node:
        channel = await node.import_receive(address, args.name, max_buffer=1)
        async with channel:
            n = 0
            async for value in channel:
                print(_show(value), flush=True)
                n += 1
                if args.count is not None and n >= args.count:
                    break


async def _ls(args: argparse.Namespace) -> None:
    address = _check_address(args.address)
    async with open_node(client_address=_client_address(address), key=_key(args)) as node:
        exports = await node.list_exports(address)
    if not exports:
        print(f"{address} exports no channels", file=sys.stderr)
        return
    width = max(len(e.name) for e in exports)
    for e in exports:
        print(f"{e.name:<{width}}  {e.direction:<7}  {e.type_name or ''}".rstrip(), flush=True)


def _work(n: int) -> int:
    """The demo's job: the number of primes below n (a little CPU, deterministic)."""
    sieve = bytearray([1]) * max(n, 2)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, n, i)))
    return sum(sieve[:n])


async def _worker(args: argparse.Namespace) -> None:
    """A demo worker process: takes jobs from the coordinator, replies on each job's channel."""
    async with open_node(client_address=_client_address(args.address)) as node:
        jobs = await node.import_receive(args.address, "jobs", max_buffer=2)
        async with jobs:
            async for job in jobs:
                async with job["reply"] as reply:
                    await reply.send(
                        {"job": job["id"], "primes": _work(job["n"]), "pid": os.getpid()}
                    )


async def _demo(args: argparse.Namespace) -> int:
    """Coordinator: exports a job queue, starts worker processes, gathers replies."""
    if args.workers < 1 or args.jobs < 1:
        raise SystemExit("--workers and --jobs must be at least 1")
    async with open_node(f"{args.scheme}://127.0.0.1:0") as node:
        assert node.address is not None
        jobs_send, jobs_recv = trio.open_memory_channel[Any](0)
        node.export("jobs", jobs_recv)
        results_send, results_recv = trio.open_memory_channel[Any](args.jobs)
        print(f"coordinator on {node.address}; starting {args.workers} workers", flush=True)
        procs = [
            await trio.lowlevel.open_process(
                [sys.executable, "-m", "netchan", "_worker", node.address]
            )
            for _ in range(args.workers)
        ]
        started = time.monotonic()
        try:
            with trio.move_on_after(DEMO_TIMEOUT) as scope:
                # Jobs are short: submitted before every worker has imported the queue, they
                # would all go to the first one up. Wait (bounded by the timeout) until each
                # worker's link on "jobs" is open, so the fan-out is shown.
                while sum(p.links > 0 for p in node.statistics().peers) < args.workers:
                    await trio.sleep(0.02)
                async with trio.open_nursery() as nursery:

                    async def submit() -> None:
                        async with jobs_send, results_send:
                            for i in range(args.jobs):
                                # Each job carries a reply channel (a clone, handed over to
                                # the node with the job): a channel end inside a value.
                                job = {"id": i, "n": 20_000 + 5_000 * i}
                                await jobs_send.send(job | {"reply": results_send.clone()})

                    nursery.start_soon(submit)
                    results = []
                    async for result in results_recv:
                        results.append(result)
                        print(
                            f"job {result['job']:>3}: {result['primes']:>6} primes "
                            f"(worker pid {result['pid']})",
                            flush=True,
                        )
                    # The loop ends with EndOfChannel: the coordinator closed its own end and
                    # every worker closed the reply channel it was given.
            if scope.cancelled_caught:
                print("demo timed out", file=sys.stderr)
                return 1
        finally:
            # Workers leave once the job queue ends (EndOfChannel); bounded, then killed.
            with trio.move_on_after(10), trio.CancelScope(shield=True):
                for proc in procs:
                    await proc.wait()
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    with trio.CancelScope(shield=True):
                        await proc.wait()
        pids = {r["pid"] for r in results}
        stats = node.statistics()
        print(
            f"{len(results)} jobs done by {len(pids)} worker processes in "
            f"{time.monotonic() - started:.2f}s; values in/out "
            f"{stats.values_in}/{stats.values_out}, errors {dict(stats.errors) or 'none'}",
            flush=True,
        )
        ok = sorted(r["job"] for r in results) == list(range(args.jobs))
        return 0 if ok else 1


BENCH_SIZES = ((64, "64 B"), (1024, "1 KiB"), (16384, "16 KiB"))


async def _bench(args: argparse.Namespace) -> None:
    """Two nodes in one process over loopback: values/s and MB/s at a few sizes."""
    print(
        f"netchan bench: one channel, {args.scheme}:// on loopback, both nodes in this process.\n"
        "A task sends bytes values with import_send into a SendChannel the other node exports\n"
        "(buffer 64), another task drains it; time from the first send to the last value\n"
        "received. MB/s counts the values' bytes. Full benchmark, two processes against\n"
        "trio TCP + msgpack (docs/benchmarks.md): python benchmarks/channel_bench.py",
        flush=True,
    )
    if args.scheme == "udp":
        from .transport.sctp import COMPILED

        core = "compiled with mypyc" if COMPILED else "pure Python"
        print(f"udp:// (userspace SCTP, sans-io core {core})", flush=True)
    async with (
        open_node(f"{args.scheme}://127.0.0.1:0") as server,
        open_node(client_address=f"{args.scheme}://127.0.0.1:0") as client,
    ):
        assert server.address is not None
        send, recv = trio.open_memory_channel[Any](64)
        server.export("bench", send)
        channel = await client.import_send(server.address, "bench")
        print(f"{'size':>8}  {'values':>7}  {'values/s':>10}  {'MB/s':>8}", flush=True)
        for size, label in BENCH_SIZES:
            payload = b"x" * size
            count = max(100, args.count * 64 // max(size, 64)) if size > 1024 else args.count
            start = time.perf_counter()
            async with open_internal_nursery() as nursery:

                async def drain(n: int = count) -> None:
                    for _ in range(n):
                        await recv.receive()

                nursery.start_soon(drain)
                for _ in range(count):
                    await channel.send(payload)
            elapsed = time.perf_counter() - start
            print(
                f"{label:>8}  {count:>7}  {count / elapsed:>10.0f}  "
                f"{count * size / elapsed / 1e6:>8.1f}",
                flush=True,
            )


def _root(exc: BaseException) -> BaseException:
    """The deepest ``__cause__`` of ``exc`` (what the failure came from)."""
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


def _unknown_host(exc: BaseException) -> str | None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return str(cause.strerror or cause)
        cause = cause.__cause__
    return None


def _classify(exc: BaseException, args: argparse.Namespace) -> Failure | None:
    """The expected failure ``exc`` stands for, or ``None`` (a bug: show the traceback)."""
    address = getattr(args, "address", None)
    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, AccessDeniedError):
        return Failure(EXIT_UNKNOWN_CHANNEL, str(exc), "the node's key does not open it")
    if isinstance(exc, ChannelNotFoundError):
        return Failure(
            EXIT_UNKNOWN_CHANNEL, str(exc), f"netchan ls {address} lists the channels it exports"
        )
    if isinstance(exc, PeerUnreachableError):
        reason = _unknown_host(exc)
        if reason is not None:
            host = parse_address(address).host if address else "?"
            return Failure(
                EXIT_UNKNOWN_HOST,
                f"unknown host {host!r} in {address}: {reason}",
                "check the name, or give the node's IP address",
            )
        hint: str | None
        if "SCTP-AUTH" in str(exc):
            hint = "the node and this command need the same key (--key-file PATH or NETCHAN_KEY)"
        else:
            hint = "is a node running there? (netchan serve ADDRESS starts one)"
        return Failure(EXIT_UNREACHABLE, str(exc), hint)
    if isinstance(exc, trio.BrokenResourceError):
        cause = _root(exc)
        why = f": {cause}" if cause is not exc else ""
        return Failure(EXIT_BROKEN, f"the channel broke{why}")
    if isinstance(exc, RemoteError):
        return Failure(EXIT_BROKEN, f"the node reported a failure: {exc}")
    if isinstance(exc, SCTPUnavailableError):
        return Failure(EXIT_CANNOT_BIND, str(exc))
    if isinstance(exc, OSError) and exc.errno in (
        errno.EADDRINUSE,
        errno.EADDRNOTAVAIL,
        errno.EACCES,
        errno.EAFNOSUPPORT,
    ):
        hint = {
            errno.EADDRINUSE: "another process listens there: pick another port (0: any free one)",
            errno.EADDRNOTAVAIL: "the host is not an address of this machine",
        }.get(exc.errno)
        return Failure(EXIT_CANNOT_BIND, f"cannot listen on {address}: {exc.strerror}", hint)
    return None


def run(argv: list[str]) -> int:
    """Run the command line with ``argv``; returns the exit status (see ``EXIT_STATUSES``)."""
    args = build_parser().parse_args(argv)
    commands = {
        "serve": _serve,
        "send": _send,
        "recv": _recv,
        "ls": _ls,
        "demo": _demo,
        "bench": _bench,
        "_worker": _worker,
    }
    try:
        status = trio.run(commands[args.command], args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        failure = _classify(exc, args)
        if failure is None or args.debug:
            traceback.print_exc()
        if failure is None:
            return 1
        print(f"netchan {args.command}: {failure}", file=sys.stderr)
        if failure.hint:
            print(f"  {failure.hint}", file=sys.stderr)
        return failure.status
    return status if isinstance(status, int) else 0
