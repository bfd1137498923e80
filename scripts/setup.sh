#!/usr/bin/env bash
# Set up a development environment in .venv: Python deps (pip) and, when run as root, the
# Debian packages the tests use (usrsctp's example programs as interop peers, iproute2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    [ -x /usr/lib/usrsctp/echo_server ] || need+=(libusrsctp-examples)
    command -v ip >/dev/null || need+=(iproute2)
    command -v gcc >/dev/null || need+=(gcc)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 \
    | grep -v -e "^WARNING: Location" -e "Running pip as the 'root'" || true
