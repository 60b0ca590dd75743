#!/usr/bin/env bash
# `make test`: build, start a throwaway PostgreSQL cluster, run every test against it, remove it.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=".data/test-postgres-$$"
port=$(scripts/free-port.sh)
cleanup() {
    scripts/postgres.sh stop "$cluster" || true
    local target
    target=$(readlink -f "$cluster" 2>/dev/null || true)
    rm -rf "$cluster"
    [ -n "$target" ] && rm -rf "$target"
}
trap cleanup EXIT

started=$SECONDS
scripts/prerequisites.sh zlib1g-dev openssl
PORTICO_BROWSER_PYTHON=$(scripts/browser-prerequisites.sh)
export PORTICO_BROWSER_PYTHON
PORTICO_DEPLOY_VALIDATOR=$(scripts/deploy-prerequisites.sh)
export PORTICO_DEPLOY_VALIDATOR
swift build --build-tests
built=$SECONDS
url=$(scripts/postgres.sh start "$cluster" "$port" --throwaway)
export PORTICO_TEST_DATABASE_URL="$url"
PORTICO_BIN_DIR="$(swift build --show-bin-path)"
export PORTICO_BIN_DIR
status=0
# A test that waits forever (a lost continuation, a stuck peer) must not hold CI for its whole
# limit: each phase has PORTICO_TEST_TIMEOUT seconds (default 1200), then it is killed and fails.
limit=${PORTICO_TEST_TIMEOUT:-1200}
swift() {
    if [ "$1" = test ]; then
        timeout --kill-after=10 "$limit" swift "$@" || {
            local code=$?
            [ $code -eq 124 ] || [ $code -eq 137 ] && echo "make test: the tests did not finish within $limit s (PORTICO_TEST_TIMEOUT); see the last tests started above" >&2
            return $code
        }
    else
        command swift "$@"
    fi
}
if [ $# -gt 0 ]; then
    swift test --skip-build "$@" || status=$?
    echo "make test: build $((built - started)) s, tests $((SECONDS - built)) s"
    exit "$status"
fi
# Every test; the browser's and the rolling restart's last and alone: Chromium, or 1,000 clients
# and three gateways, on the two cores would slow the timing-bound process tests running beside them.
swift test --skip-build --skip BrowserTutorialTests --skip RollingRestartTests || status=$?
tested=$SECONDS
swift test --skip-build --filter BrowserTutorialTests || status=$?
browsed=$SECONDS
swift test --skip-build --filter RollingRestartTests || status=$?
# The phases' times, so that a change that slows the tests (not the build) shows.
echo "make test: build $((built - started)) s, tests $((tested - built)) s, browser $((browsed - tested)) s, rolling restart $((SECONDS - browsed)) s"
exit "$status"
