#!/usr/bin/env bash
# README command 2: the test suite (sets up .venv/ first when it is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
