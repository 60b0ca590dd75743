#!/usr/bin/env bash
# `make conformance`: the Autobahn|Testsuite fuzzing client against the echo backend alone, then
# through the gateway (with a real token and subscription), and the tally of both. Exits 1 when
# the gateway run has a FAILED case. Not part of `make test` (it takes minutes).
#
# The suite runs on CPython 2.7 (pyenv's 2.7.18 here); it is installed with pip when missing.
# CASES (default "*", comma-separated patterns such as "12.*,13.1.*") picks cases. The sample echo
# backend does not speak permessage-deflate, so 12.* and 13.* are UNIMPLEMENTED against it alone;
# through the gateway they exercise the gateway's own compression towards the client.
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
swift build -c release
bin="$(swift build -c release --show-bin-path)"
work="$(mktemp -d /tmp/portico-conformance.XXXXXX)"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_port=$(free_port); publisher_port=$(free_port); devportal_port=$(free_port); gateway_port=$(free_port)
admin_port=$(free_port); echo_port=$(free_port)
cluster=".data/conformance-postgres-$$"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/postgres.sh stop "$cluster" || true
    rm -rf "$cluster" "$(readlink -f "$cluster" 2>/dev/null || true)"
}
trap cleanup EXIT

export DATABASE_URL
DATABASE_URL=$(scripts/postgres.sh start "$cluster" "$pg_port" --throwaway)
export PORTICO_ADMIN_PASSWORD=conformance-admin PORTICO_SECRET_KEY="$(openssl rand -base64 32)" PORTICO_LOG_LEVEL=warning
export PUBLISHER_PORT=$publisher_port DEVPORTAL_PORT=$devportal_port GATEWAY_PORT=$gateway_port GATEWAY_ADMIN_PORT=$admin_port
export GATEWAY_BIND_ADDRESS=127.0.0.1 GATEWAY_MAX_FRAME_BYTES=67108864 PORTICO_BCRYPT_COST=4
"$bin/publisher" serve > "$work/publisher.log" 2>&1 & pids+=($!)
"$bin/devportal" serve > "$work/devportal.log" 2>&1 & pids+=($!)
"$bin/gateway" serve > "$work/gateway.log" 2>&1 & pids+=($!)
"$bin/echo-backend" --port "$echo_port" > "$work/echo.log" 2>&1 & pids+=($!)
for url in "http://127.0.0.1:$publisher_port/health/ready" "http://127.0.0.1:$devportal_port/health/ready" "http://127.0.0.1:$admin_port/health/ready"; do
    for _ in $(seq 1 150); do curl -fs "$url" >/dev/null && break; sleep 0.2; done
done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
P="http://127.0.0.1:$publisher_port/api/am/publisher/v4"
D="http://127.0.0.1:$devportal_port/api/am/devportal/v3"
api=$(curl -fs -u admin:conformance-admin -H 'Content-Type: application/json' "$P/apis" -d "{\"name\":\"Echo\",\"context\":\"/echo\",\"version\":\"1\",\"policies\":[\"Unlimited\"],\"endpointConfig\":{\"production_endpoints\":{\"url\":\"ws://127.0.0.1:$echo_port\"}}}" | json '["id"]')
curl -fs -o /dev/null -u admin:conformance-admin -X POST "$P/apis/change-lifecycle?apiId=$api&action=Publish"
curl -fs -o /dev/null -H 'Content-Type: application/json' "$D/signup" -d '{"username":"autobahn","password":"autobahn-pw"}'
app=$(curl -fs -u autobahn:autobahn-pw -H 'Content-Type: application/json' "$D/applications" -d '{"name":"Autobahn"}' | json '["applicationId"]')
curl -fs -o /dev/null -u autobahn:autobahn-pw -H 'Content-Type: application/json' "$D/subscriptions" -d "{\"applicationId\":\"$app\",\"apiId\":\"$api\",\"throttlingPolicy\":\"Unlimited\"}"
token=$(curl -fs -u autobahn:autobahn-pw -H 'Content-Type: application/json' "$D/applications/$app/generate-keys" -d '{"keyType":"PRODUCTION","validityTime":86400}' | json '["token"]["accessToken"]')
sleep 1

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
