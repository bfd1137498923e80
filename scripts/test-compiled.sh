#!/usr/bin/env bash
# The compiled core (setup.py, NETCHAN_COMPILE=1): build it with mypyc in a throw-away copy of
# the checkout's files, then run the sans-io suite, the udp:// endpoint tests and the channel
# suite over udp:// against it (about 75 s on 2 cores, 30 s of it the compiler). The checkout
# itself stays pure Python. NETCHAN_EXPECT_COMPILED=1 makes tests/conftest.py fail the run if
# the compiled modules are not the ones imported.
# Usage: scripts/test-compiled.sh [pytest args]   (default: the suites below)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$PWD/.venv/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{ git ls-files; git ls-files --others --exclude-standard; } | while read -r f; do
    [ -e "$f" ] && printf '%s\n' "$f"
done | tar -cf - -T - | tar -xf - -C "$work"
cd "$work"
echo "== compiling the sans-io core with mypyc"
NETCHAN_COMPILE=1 "$PY" setup.py -q build_ext --inplace >build.log 2>&1 || {
    cat build.log
    exit 1
}
export NETCHAN_EXPECT_COMPILED=1
if [ $# -gt 0 ]; then
    "$PY" -m pytest -q -p no:cacheprovider "$@"
    exit
fi
echo "== pytest, compiled core: tests/sctp tests/udp"
"$PY" -m pytest -q -p no:cacheprovider tests/sctp tests/udp
echo "== pytest, compiled core: channel suite over udp://"
NETCHAN_TEST_SCHEME=udp timeout 900 "$PY" -m pytest -q -p no:cacheprovider tests/channels
