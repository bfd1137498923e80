#!/usr/bin/env bash
# Set up .venv, the virtual environment the scripts run from.
#
#   bash scripts/setup.sh          everything the checks and tests use (scripts/test.sh):
#     * as root with apt-get, Debian packages: libusrsctp-examples (usrsctp's example programs,
#       the interop peers), iproute2 (ip: the multihoming tests' namespaces and veth links),
#       nftables (nft: black holes and loss on those links), gcc (builds a small LD_PRELOAD shim for tsctp and a
#       test's C peer); on a host whose kernel lacks SCTP also the kernel tests' VM:
#       qemu-system-x86 and a Debian kernel unpacked into a cache (scripts/vm/sctp_vm.py --setup);
#     * pip: netchan (editable) with its dependencies and the dev extras: pytest, pytest-trio,
#       hypothesis, ruff, mypy, msgpack-types.
#   bash scripts/setup.sh --demo   only netchan and its dependencies (trio, msgpack, cffi,
#       crc32c), for scripts/demo.sh; no Debian packages.
#
# pip runs again only when pyproject.toml changed since the last setup (or for a new mode).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
MODE=dev
if [ "${1:-}" = --demo ]; then MODE=demo; fi
say() { echo "setup: $*"; }

if [ $MODE = dev ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    [ -x /usr/lib/usrsctp/echo_server ] || need+=(libusrsctp-examples)
    command -v ip >/dev/null || need+=(iproute2)
    command -v gcc >/dev/null || need+=(gcc)
    command -v nft >/dev/null || need+=(nftables)
    if [ ${#need[@]} -gt 0 ]; then
        say "installing Debian packages: ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
fi

if [ ! -x .venv/bin/python ]; then
    say "creating .venv ($PY -m venv)"
    "$PY" -m venv .venv
fi

# A stamp per mode records the pyproject.toml it was installed from; dev includes demo.
stamp=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat .venv/.setup-dev 2>/dev/null)" != "$stamp" ] &&
    { [ $MODE = dev ] || [ "$(cat .venv/.setup-demo 2>/dev/null)" != "$stamp" ]; }; then
    if [ $MODE = dev ]; then
        say "installing netchan with its dependencies and the test and dev tools into .venv"
        target=".[dev]"
    else
        say "installing netchan and its dependencies (trio, msgpack, cffi, crc32c) into .venv"
        target=.
    fi
    if ! out=$(PIP_ROOT_USER_ACTION=ignore .venv/bin/python -m pip install -q \
        --disable-pip-version-check -e "$target" 2>&1); then
        echo "$out" >&2
        exit 1
    fi
    echo "$out" | grep -v -e '^$' -e "^WARNING: Location" || true
    echo "$stamp" > ".venv/.setup-$MODE"
fi

# Hosts without kernel SCTP run the kernel tests in a VM: prepare it now (as root).
if [ $MODE = dev ] && [ "$(id -u)" = 0 ] && ! .venv/bin/python -c \
    'import socket; socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132).close()' 2>/dev/null
then
    .venv/bin/python scripts/vm/sctp_vm.py --setup
fi
