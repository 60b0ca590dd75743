#!/usr/bin/env bash
# What the browser tests need: Debian's chromium and chromium-driver, and Selenium from PyPI in a
# virtual environment under .build/ (never the system's Python). Prints the Python to run them with.
#
#   PORTICO_BROWSER_PYTHON=$(scripts/browser-prerequisites.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/prerequisites.sh chromium chromium-driver fonts-dejavu-core >&2
venv=".build/browser-venv"
if ! "$venv/bin/python" -c "import selenium, websocket" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "selenium>=4.20,<5" "websocket-client>=1.6,<2" >&2
fi
echo "$PWD/$venv/bin/python"
