#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image, from /autograder/source: the
# autograder zip extracted (build it with `docchat-grade gradescope-zip`, see docs/instructors.md).
# The zip's top level is the installable workbook (pyproject.toml, grader/) beside this file.
#
# AUTOGRADER_DIR relocates /autograder (the tests run this under a temporary folder);
# DOCCHAT_SKIP_APT=1 leaves the system packages alone (Python 3.11+ and Chromium must then be there).
set -euo pipefail

AUTOGRADER_DIR="${AUTOGRADER_DIR:-/autograder}"
SOURCE_DIR="$AUTOGRADER_DIR/source"
VENV="$AUTOGRADER_DIR/venv"

if [ ! -f "$SOURCE_DIR/pyproject.toml" ]; then
  echo "setup.sh: no pyproject.toml in $SOURCE_DIR: build the zip with docchat-grade gradescope-zip" >&2
  exit 1
fi

apt_install() {
  if [ -z "${DOCCHAT_SKIP_APT:-}" ]; then apt-get install -y --no-install-recommends "$@"; else return 1; fi
}

if [ -z "${DOCCHAT_SKIP_APT:-}" ]; then apt-get update; fi

python=""
for candidate in python3.13 python3.12 python3.11; do
  if "$candidate" -c "import sys, venv" >/dev/null 2>&1; then python="$candidate"; break; fi
done
if [ -z "$python" ]; then
  # Gradescope's Ubuntu 22.04 base image has Python 3.10; docchat-grade needs 3.11 or later.
  apt_install python3.11 python3.11-venv
  python=python3.11
fi

# The streaming drill's browser check drives a real headless Chromium (a Debian package; Ubuntu's
# chromium-browser is a snap and does not run in Gradescope's container: use a Debian base image).
chromium_runs() {
  chromium --version >/dev/null 2>&1 || chromium-browser --version >/dev/null 2>&1
}
if ! chromium_runs; then
  apt_install chromium || apt_install chromium-browser || true
fi
if ! chromium_runs; then
  echo "setup.sh: WARNING: no working Chromium: the streaming drill's browser check will be skipped (0 points)" >&2
fi

# The learner's code runs in bubblewrap's sandbox where it works, else in Landlock's; as root,
# it also runs as the unprivileged user nobody. The hidden checks are never mounted into it.
command -v bwrap >/dev/null 2>&1 || apt_install bubblewrap || true

"$python" -m venv "$VENV"
"$VENV/bin/python" -m pip install "$SOURCE_DIR"
"$VENV/bin/docchat-grade" --list
