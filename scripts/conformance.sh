#!/usr/bin/env bash
# `make conformance`: the Autobahn|Testsuite fuzzing client against the echo backend alone, then
# through the gateway (with a real token and subscription), and the tally of both. Exits 1 when
# the gateway run has a FAILED case. Not part of `make test` (it takes minutes).
#
# The suite runs on CPython 2.7 (pyenv's 2.7.18 here); it is installed with pip when missing.
# CASES (default "*", comma-separated patterns such as "12.*,13.1.*") picks cases. The echo backend
# runs with --permessage-deflate, so the compression cases (12.*, 13.*) have a verdict against it
# alone too; through the gateway, client and backend each negotiate with the gateway on their own.
set -euo pipefail
cd "$(dirname "$0")/.."

python2="${PYTHON2:-$HOME/.pyenv/versions/2.7.18/bin/python2.7}"
[ -x "$python2" ] || { echo "conformance: CPython 2.7 not found at $python2 (set PYTHON2)" >&2; exit 2; }
wstest="$(dirname "$python2")/wstest"
if [ ! -x "$wstest" ]; then
    echo "conformance: installing autobahntestsuite for $python2"
    "$python2" -m pip install -q autobahntestsuite
fi

# Release binaries: the suite sends messages of up to 16 MiB and thousands of compressed ones, which
# a debug build of the strict echo backend would take an hour over.
scripts/prerequisites.sh zlib1g-dev openssl
scripts/swift-build.sh -c release
work="$(mktemp -d /tmp/portico-conformance.XXXXXX)"
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
trap stack_stop EXIT
export GATEWAY_MAX_MESSAGE_BYTES=67108864
STACK_BACKEND_ARGS=--permessage-deflate stack_start

cases=$(python3 -c 'import json, sys; print(json.dumps([c.strip() for c in sys.argv[1].split(",")]))' "${CASES:-*}")
cat > "$work/spec.json" <<JSON
{"outdir": "$work/reports", "cases": $cases, "exclude-cases": [], "exclude-agent-cases": {},
 "servers": [{"agent": "backend-alone", "url": "ws://127.0.0.1:$echo_port"},
             {"agent": "through-gateway", "url": "ws://127.0.0.1:$gateway_port/echo/1?access_token=$token"}]}
JSON
(cd "$work" && "$wstest" -m fuzzingclient -s spec.json > wstest.log 2>&1)

python3 - "$work/reports/index.json" <<'PY'
import collections, json, sys
index = json.load(open(sys.argv[1]))
failed_through_gateway = 0
for agent in ("backend-alone", "through-gateway"):
    tally = collections.Counter(case["behavior"] for case in index[agent].values())
    failed = sorted((k for k, v in index[agent].items() if v["behavior"] == "FAILED"), key=lambda s: [int(x) for x in s.split(".")])
    print(f"{agent:16} " + ", ".join(f"{n} {b}" for b, n in sorted(tally.items())) + (f"; FAILED: {' '.join(failed[:30])}" if failed else ""))
    if agent == "through-gateway":
        failed_through_gateway = len(failed)
differ = [k for k in index["backend-alone"] if index["backend-alone"][k]["behavior"] != index["through-gateway"].get(k, {}).get("behavior")]
print(f"cases whose verdict differs between the two: {len(differ)}" + (f" ({' '.join(sorted(differ)[:30])})" if differ else ""))
sys.exit(1 if failed_through_gateway else 0)
PY
echo "reports: $work/reports/index.html"
