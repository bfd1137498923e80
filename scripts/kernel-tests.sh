#!/usr/bin/env bash
# Run the kernel-SCTP tests (tests/kernel: the endpoint conformance suite against sctp://,
# kernel-specific tests, the cross-stack test), the channel suite over sctp:// (tests/channels
# with NETCHAN_TEST_SCHEME=sctp) and the failover tests between namespaces (tests/netns), in one
# pytest run, where the operating system's SCTP exists:
#   * directly, if this host's kernel has SCTP (NETCHAN_KERNEL_SCTP=1 is set for pytest);
#   * otherwise inside one throw-away QEMU VM booting Debian's kernel (scripts/vm/sctp_vm.py;
#     the first run, as root, installs QEMU and downloads the kernel; one VM per run).
# Extra arguments go to pytest, e.g. scripts/kernel-tests.sh -k backpressure -x
# Environment: KERNEL_TESTS_TIMEOUT (seconds for the VM, default 1200); KERNEL_TESTS_IN_VM=1
# uses the VM even where the host has SCTP; KERNEL_TESTS_VM_RUNNER replaces the VM runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh  # nothing to do when already set up
# The venv's interpreter by its path inside the venv, never resolved through its symlink
# (readlink -f): the interpreter it points to does not see the venv's packages.
PY=$PWD/.venv/bin/python
RUNNER=${KERNEL_TESTS_VM_RUNNER:-$PWD/scripts/vm/sctp_vm.py}
# Plugin autoload off: importing every installed plugin costs seconds under emulation.
PYTEST=(env NETCHAN_TEST_SCHEME=sctp PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
    "$PY" -m pytest -p pytest_trio.plugin -q tests/kernel tests/channels tests/netns "$@")

if [ "${KERNEL_TESTS_IN_VM:-0}" != 1 ] && "$PY" -c \
    'import socket; socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132).close()' 2>/dev/null
then
    echo "kernel-tests: this host has kernel SCTP; running directly"
    exec env NETCHAN_KERNEL_SCTP=1 "${PYTEST[@]}"
fi
echo "kernel-tests: running inside a VM with Linux's SCTP (${RUNNER#"$PWD"/})"
# pytest runs as root in the guest (SO_SNDBUFFORCE lets the send buffer hold 1 MiB messages).
# The runner sets SCTP_VM=1, which makes tests/kernel/conftest.py collect the kernel tests.
exec "$PY" "$RUNNER" --timeout "${KERNEL_TESTS_TIMEOUT:-1200}" -- "${PYTEST[@]}"
