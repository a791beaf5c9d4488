#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image.
#
# The autograder zip holds this file, run_autograder, and source/: a copy of the workbook
# (pyproject.toml and grader/; hidden_checks/ with your check_*.py files, if any). See
# docs/instructors.md. Paths can be overridden by environment variables (the tests do).
# DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail

AUTOGRADER_DIR="${AUTOGRADER_DIR:-/autograder}"
SOURCE_DIR="${DOCCHAT_SOURCE:-$AUTOGRADER_DIR/source}"
VENV="${DOCCHAT_VENV:-$AUTOGRADER_DIR/venv}"

run() {
  if [ -n "${DRY_RUN:-}" ]; then echo "+ $*"; else "$@"; fi
}

python=""
for candidate in python3.13 python3.12 python3.11; do
  if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
done
if [ -z "$python" ]; then
  # Gradescope's Ubuntu 22.04 base image has Python 3.10; docchat-grade needs 3.11 or later.
  run apt-get update
  run apt-get install -y --no-install-recommends python3.11 python3.11-venv
  python=python3.11
fi
run "$python" -m venv "$VENV"
run "$VENV/bin/python" -m pip install --upgrade pip
run "$VENV/bin/python" -m pip install "$SOURCE_DIR"
run "$VENV/bin/docchat-grade" --list
