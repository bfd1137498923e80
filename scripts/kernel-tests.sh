#!/usr/bin/env bash
# Run the kernel-SCTP tests (tests/kernel: the endpoint conformance suite against sctp://,
# kernel-specific tests, the cross-stack test) and the channel suite over sctp:// (tests/channels
# with NETCHAN_TEST_SCHEME=sctp), in one pytest run, where the operating system's SCTP exists:
#   * directly, if this host's kernel has SCTP (NETCHAN_KERNEL_SCTP=1 is set for pytest);
#   * otherwise inside one throw-away QEMU VM with Linux's SCTP (sctp-vm; one VM per run).
# Extra arguments go to pytest, e.g. scripts/kernel-tests.sh -k backpressure -x
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(readlink -f .venv/bin/python)
SCTP_VM_TOOL=${SCTP_VM_TOOL:-/work/shared/tools/sctp-vm}
PYTEST=(env NETCHAN_TEST_SCHEME=sctp PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
    "$PY" -m pytest -p pytest_trio.plugin -q tests/kernel tests/channels "$@")

if "$PY" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132).close()' \
    2>/dev/null; then
    echo "kernel-tests: this host has kernel SCTP; running directly"
    exec env NETCHAN_KERNEL_SCTP=1 "${PYTEST[@]}"
fi
if [ ! -x "$SCTP_VM_TOOL" ]; then
    echo "kernel-tests: FAILED: no kernel SCTP here and no sctp-vm at $SCTP_VM_TOOL" >&2
    exit 1
fi
echo "kernel-tests: no kernel SCTP on this host; running inside sctp-vm"
# pytest runs as root in the guest (SO_SNDBUFFORCE lets the send buffer hold 1 MiB messages).
# sctp-vm sets SCTP_VM=1, which makes tests/kernel/conftest.py collect the kernel tests.
exec "$SCTP_VM_TOOL" --timeout "${KERNEL_TESTS_TIMEOUT:-1200}" -- "${PYTEST[@]}"
