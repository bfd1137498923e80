"""Value size limits, node close while tasks wait, and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from netchan._cli import build_parser
from tests.channels.conftest import Env

ROOT = Path(__file__).resolve().parents[2]
SCHEME = os.environ.get("NETCHAN_TEST_SCHEME", "memory")
WIRE = "udp" if SCHEME == "memory" else SCHEME


async def test_oversize_value_fails_at_send_and_is_refused_on_receipt(
    env: Env, clock: object
) -> None:
    async with env.node(max_value_size=1000) as server, env.node(listen=False) as client:
        send, recv = trio.open_memory_channel[bytes](4)
        server.export("small", send)
        assert server.address is not None
        ch = await client.import_send(server.address, "small")
        await ch.send(b"x" * 2000)  # the client's limit is larger: the server refuses it
        await ch.send(b"ok")
        with trio.fail_after(5):
            assert await recv.receive() == b"ok"
        assert server.statistics().errors["undecodable"] == 1
    async with env.node() as server, env.node(listen=False, max_value_size=1000) as client:
        send, recv = trio.open_memory_channel[bytes](4)
        server.export("small", send)
        assert server.address is not None
        ch = await client.import_send(server.address, "small")
        with pytest.raises(TypeError, match="max_size"):
            await ch.send(b"x" * 2000)
        assert ch.statistics().values_sent == 0


async def test_closing_the_node_wakes_blocked_tasks(env: Env, clock: object) -> None:
    async with env.node() as server:
        send, _recv = trio.open_memory_channel[int](0)
        out_send, out_recv = trio.open_memory_channel[int](0)
        server.export("in", send)
        server.export("out", out_recv)
        assert server.address is not None
        errors: list[BaseException] = []
        async with env.node(listen=False) as client:
            to_server = await client.import_send(server.address, "in")
            from_server = await client.import_receive(server.address, "out")
            with trio.fail_after(5):
                await to_server.send(1)  # window 1 (a rendezvous export): no credit after this

            async def blocked(fn: object) -> None:
                try:
                    await fn()  # type: ignore[operator]
                except (trio.ClosedResourceError, trio.BrokenResourceError) as exc:
                    errors.append(exc)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(blocked, lambda: to_server.send(3))
                nursery.start_soon(blocked, from_server.receive)
                await trio.sleep(1)
                assert errors == []
                with trio.fail_after(5):
                    await client._core.shutdown(linger=0.1)  # what leaving the block does
        assert len(errors) == 2 and all(isinstance(e, trio.ClosedResourceError) for e in errors)
        del out_send


def test_cli_parser_has_the_commands() -> None:
    parser = build_parser()
    for argv in (
        ["serve", "udp://127.0.0.1:9000", "--print", "a", "--echo", "b"],
        ["send", "udp://127.0.0.1:9000", "a", "1", '{"x": 2}'],
        ["recv", "udp://127.0.0.1:9000", "b.out", "--count", "3"],
        ["demo", "--workers", "2"],
        ["bench", "--count", "10"],
    ):
        assert parser.parse_args(argv).command == argv[0]


@pytest.mark.slow
def test_cli_serve_send_recv() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["serve", f"{WIRE}://127.0.0.1:0", "--print", "log", "--echo", "e", "--count", "4"]
    serve = subprocess.Popen(
        [sys.executable, "-m", "netchan", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        assert line.startswith("serving on "), line
        address = line.split()[-1]

        def cli(*args: str) -> str:
            result = subprocess.run(
                [sys.executable, "-m", "netchan", *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        cli("send", address, "log", '{"a": [1, 2]}', "word")
        cli("send", address, "e", '"echoed"')
        assert cli("recv", address, "e.out", "--count", "1").strip() == '"echoed"'
        cli("send", address, "log", "last")  # the 4th value: serve exits
        out, _ = serve.communicate(timeout=30)
        assert 'log: {"a": [1, 2]}' in out and 'log: "word"' in out
    finally:
        if serve.poll() is None:
            serve.kill()
        serve.wait(timeout=10)


async def test_import_across_schemes_is_a_clear_error(env: Env, clock: object) -> None:
    async with env.node(listen=False) as client:
        other = "sctp" if client._ep.address.startswith("udp") else "udp"
        with pytest.raises(ValueError, match="client_address"):
            await client.import_send(f"{other}://127.0.0.1:9", "x")
