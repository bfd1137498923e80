#!/usr/bin/env bash
# One command: set up (scripts/setup.sh) and run the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m netchan demo "$@"
