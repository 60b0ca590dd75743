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
scripts/swift-build.sh --build-tests
built=$SECONDS
url=$(scripts/postgres.sh start "$cluster" "$port" --throwaway)
export PORTICO_TEST_DATABASE_URL="$url"
PORTICO_BIN_DIR="$(swift build --show-bin-path)"
export PORTICO_BIN_DIR
status=0
# A test that waits forever (a lost continuation, a stuck peer) must not hold CI for its whole
# limit: each phase has PORTICO_TEST_TIMEOUT seconds (default 1200), then it is killed and fails.
# A test process that stops making progress altogether — every test in flight waiting, every
# thread idle, no output: libdispatch losing its timer, README, Tests — is told apart from a
# slow test by its silence: after PORTICO_TEST_STALL seconds (default 240) without a line, the
# phase is stopped, says so with the tests still running, and runs once more; a second stall
# fails.
limit=${PORTICO_TEST_TIMEOUT:-1200}
stall=${PORTICO_TEST_STALL:-240}
kill_tree() {
    local child
    for child in $(ps -o pid= --ppid "$1"); do kill_tree "$child"; done
    kill -KILL "$1" 2>/dev/null || true
}
swift() {
    [ "$1" = test ] || { command swift "$@"; return; }
    local attempt log code
    log=$(mktemp)
    for attempt in 1 2; do
        : >"$log"
        timeout --kill-after=10 "$limit" swift "$@" >"$log" 2>&1 &
        local runner=$!
        tail -n +1 -f --pid="$runner" "$log" &
        local printer=$! size=-1 quiet=0
        while kill -0 "$runner" 2>/dev/null; do
            sleep 5
            if [ "$(stat -c %s "$log")" = "$size" ]; then quiet=$((quiet + 5)); else quiet=0; size=$(stat -c %s "$log"); fi
            if [ "$quiet" -ge "$stall" ]; then
                echo "make test: no test output for $stall s (PORTICO_TEST_STALL); stopping the phase. Tests still running:" >&2
                grep -oE '◇ Test [A-Za-z0-9_]+' "$log" | sed 's/◇ Test //' | sort >"$log.started"
                grep -oE '[✔✘] Test [A-Za-z0-9_]+' "$log" | sed -E 's/[✔✘] Test //' | sort >"$log.ended"
                comm -23 "$log.started" "$log.ended" | sed 's/^/  /' >&2
                kill_tree "$runner"
                break
            fi
        done
        code=0
        wait "$runner" || code=$?
        wait "$printer" 2>/dev/null
        if [ "$quiet" -ge "$stall" ] && [ "$attempt" = 1 ]; then
            echo "make test: running the phase once more after the stall" >&2
            continue
        fi
        [ $code -eq 124 ] || [ $code -eq 137 ] && echo "make test: the tests did not finish within $limit s (PORTICO_TEST_TIMEOUT), or stalled twice; see the last tests started above" >&2
        rm -f "$log" "$log.started" "$log.ended"
        return $code
    done
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
