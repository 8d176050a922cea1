#!/usr/bin/env bash
# Install (first run only) and launch the censorscope app on the embedded default model.
#   bash scripts/app.sh [app.py flags, e.g. --port 7861]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
exec .venv/bin/python app.py "$@"
