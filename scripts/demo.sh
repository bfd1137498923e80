#!/usr/bin/env bash
# One command: set up .venv with netchan and its dependencies only (scripts/setup.sh --demo:
# pip, no Debian packages, no test tools) and run the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo
exec .venv/bin/python -m netchan demo "$@"
