#!/usr/bin/env bash
# Creates the virtual environment at .venv/ with everything the project needs.
# Idempotent: when .venv already matches pyproject.toml, it installs nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
stamp=.venv/.llm4teach-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ -x .venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    exit 0
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "error: Python >= 3.10 is needed ($python is $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
echo "Setting up .venv (first run only: torch, habitat-lab/baselines 0.3.4, transformers, minigrid; a few minutes)..."
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# One resolver run for torch, torchvision and habitat-lab/baselines keeps them consistent
# (PyPI's torch build runs on CPU; do not mix in a separately installed CPU-only torch).
.venv/bin/python -m pip install --progress-bar off -e ".[test]"
echo "$want" > "$stamp"
echo "Environment ready: .venv/"
