#!/usr/bin/env bash
# One command: set up everything (scripts/setup.sh: Debian packages, the kernel tests' VM, the
# dev tools) and run every check and test: ruff, mypy, pytest on the host (userspace stack,
# usrsctp interop; the channel suite again over udp://; the sans-io, udp:// and channel suites
# again with the core compiled by mypyc), and the kernel-SCTP suite with the channel suite over
# sctp:// (in a QEMU VM on hosts without SCTP).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
echo "== ruff"; $PY -m ruff check . && $PY -m ruff format --check .
echo "== mypy"; $PY -m mypy
# As root, setup.sh installed the usrsctp peers: a skipped interop test is then a failure.
if [ "$(id -u)" = 0 ]; then export NETCHAN_REQUIRE_INTEROP=1; fi
echo "== pytest"; $PY -m pytest -q "$@"
echo "== channel suite over udp:// (userspace SCTP on loopback)"
NETCHAN_TEST_SCHEME=udp timeout 900 $PY -m pytest -q tests/channels
echo "== compiled core (mypyc, NETCHAN_COMPILE=1): the same suites, built in a temporary copy"
bash scripts/test-compiled.sh
echo "== kernel SCTP (sctp:// suite, cross-stack, channel suite over sctp://; in a VM on hosts without SCTP)"; bash scripts/kernel-tests.sh
