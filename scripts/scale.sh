#!/usr/bin/env bash
# `make scale`: what live changes cost the gateway at a real catalog's size (release build).
#
# Loads a generated catalog into the stack's PostgreSQL — SCALE_APIS published APIs (default
# 1,000), SCALE_APPS applications with production keys, each subscribed to one of those APIs
# (default 100,000), and SCALE_REVOKED revoked tokens (default 50,000) — then prints:
#   1. the gateway's first load of it: wall time, CPU seconds, resident memory before and after;
#   2. the latency from a change's commit to the close of a live connection it concerns: a client
#      on Echo, its subscription blocked through the publisher API, SCALE_TRIALS times (default
#      50), while other subscriptions are blocked and unblocked at SCALE_NOISE changes a second
#      (default 10); p50 and p99;
#   3. the gateway's CPU per change: its CPU over SCALE_CHANGES changes (default 1,000; a
#      subscription blocked or unblocked each, one after another) less its CPU over as long idle
#      right after (the baseline: what it does anyway), divided by the changes;
#   4. its resident memory after those changes, and after a full reload (the periodic safety net,
#      made here by a NOTIFY: the reload's own CPU too), against after the first load.
# Prints only; docs/PERFORMANCE.md records the figures by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

apis=${SCALE_APIS:-1000}
apps=${SCALE_APPS:-100000}
revoked=${SCALE_REVOKED:-50000}
trials=${SCALE_TRIALS:-50}
noise=${SCALE_NOISE:-10}
changes=${SCALE_CHANGES:-1000}

scripts/prerequisites.sh zlib1g-dev openssl
python=$(scripts/browser-prerequisites.sh)  # websocket-client, for the live connection
scripts/swift-build.sh -c release

work=$(mktemp -d)
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
trap 'stack_stop; rm -rf "$work"' EXIT
stack_start

P="http://127.0.0.1:$publisher_port/api/am/publisher/v4"
D="http://127.0.0.1:$devportal_port/api/am/devportal/v3"
cpu_seconds() { python3 -c '
import os, sys
t = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(t[11]) + int(t[12])) / os.sysconf("SC_CLK_TCK"))' "$1"; }
resident_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
loaded_at() { curl -fs "http://127.0.0.1:$admin_port/health/ready" | json '["snapshotLoadedAt"]'; }

echo "scale: generating $apis APIs, $apps applications with keys and subscriptions, $revoked revoked tokens" >&2
psql -q "$DATABASE_URL" <<SQL
BEGIN;
INSERT INTO users (username, password_hash, roles) VALUES ('bulk-owner', 'x', ARRAY['subscriber']);
INSERT INTO apis (name, context, version, provider, lifecycle_state, production_endpoint)
    SELECT 'Bulk ' || n, '/bulk-' || n, '1', 'admin', 'PUBLISHED', 'ws://127.0.0.1:$echo_port' FROM generate_series(1, $apis) n;
INSERT INTO api_business_plans (api_id, plan_id, position)
    SELECT a.id, p.id, 0 FROM apis a, business_plans p WHERE a.context LIKE '/bulk-%' AND p.name = 'Unlimited';
INSERT INTO applications (name, owner_id, plan_id)
    SELECT 'bulk-' || n, (SELECT id FROM users WHERE username = 'bulk-owner'), (SELECT id FROM application_plans WHERE name = 'Unlimited')
    FROM generate_series(1, $apps) n;
INSERT INTO application_keys (application_id, key_type, consumer_key, secret_hash, grant_types)
    SELECT id, 'PRODUCTION', 'bulk-key-' || name, 'x', ARRAY['client_credentials'] FROM applications WHERE name LIKE 'bulk-%';
WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM apis WHERE context LIKE '/bulk-%'),
     apps AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM applications WHERE name LIKE 'bulk-%')
INSERT INTO subscriptions (application_id, api_id, plan_id)
    SELECT apps.id, numbered.id, (SELECT id FROM business_plans WHERE name = 'Unlimited')
    FROM apps JOIN numbered ON numbered.n = 1 + (apps.n % $apis);
INSERT INTO revoked_tokens (jti, expires_at) SELECT 'bulk-' || n, now() + interval '1 day' FROM generate_series(1, $revoked) n;
COMMIT;
SQL

# 1. The first load of the whole catalog (a NOTIFY makes the gateway reload).
rss_before=$(resident_mb "$gateway_pid")
cpu_before=$(cpu_seconds "$gateway_pid")
before=$(loaded_at)
started=$(date +%s.%N)
psql -q "$DATABASE_URL" -c "NOTIFY portico_changes, '{}'"
while [ "$(loaded_at)" = "$before" ]; do sleep 0.05; done
load_seconds=$(python3 -c "print(round($(date +%s.%N) - $started, 2))")
load_cpu=$(python3 -c "print(round($(cpu_seconds "$gateway_pid") - $cpu_before, 2))")
sleep 2
rss_loaded=$(resident_mb "$gateway_pid")
echo "1. first load: ${load_seconds} s, ${load_cpu} s of CPU; resident ${rss_before} MB before, ${rss_loaded} MB after" >&2

# 2. and 3. Change → close, with noise.
subscription=$(curl -fs -u client:client-password "$D/subscriptions?applicationId=$app_id" | python3 -c "
import json, sys
print(next(s['subscriptionId'] for s in json.load(sys.stdin)['list'] if s['apiId'] == '$api_id'))")
bulk_subscriptions=($(psql -At "$DATABASE_URL" -c "SELECT s.id FROM subscriptions s JOIN applications a ON a.id = s.application_id WHERE a.name LIKE 'bulk-%' LIMIT 200"))
block() { curl -fs -o /dev/null -u admin:stack-admin -X POST "$P/subscriptions/block-subscription?subscriptionId=$1&blockState=BLOCKED"; }
unblock() { curl -fs -o /dev/null -u admin:stack-admin -X POST "$P/subscriptions/unblock-subscription?subscriptionId=$1"; }
interval=$(python3 -c "print(1 / $noise)")
noise_loop() {
    local i=0
    while true; do
        local id=${bulk_subscriptions[$((i % ${#bulk_subscriptions[@]}))]}
        if [ $(((i / ${#bulk_subscriptions[@]}) % 2)) -eq 0 ]; then block "$id"; else unblock "$id"; fi
        i=$((i + 1))
        sleep "$interval"
    done
}
noise_loop &
noise_pid=$!
latencies=$("$python" - "$trials" "ws://127.0.0.1:$gateway_port/echo/1" "$token" "$P" "$subscription" <<'PY'
import base64, json, sys, time, urllib.request
import websocket
trials, url, token, publisher, subscription = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
auth = "Basic " + base64.b64encode(b"admin:stack-admin").decode()
def call(action):
    path = "block-subscription?blockState=BLOCKED&" if action == "block" else "unblock-subscription?"
    request = urllib.request.Request(f"{publisher}/subscriptions/{path}subscriptionId={subscription}", method="POST", headers={"Authorization": auth})
    urllib.request.urlopen(request, timeout=10).read()
latencies = []
for _ in range(trials):
    for attempt in range(100):
        try:
            socket = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=10)
            break
        except Exception:
            time.sleep(0.1)  # the unblock has not reached the gateway yet
    socket.settimeout(10)
    committed = time.monotonic()
    call("block")  # committed when the publisher answers
    answered = time.monotonic()
    try:
        while True:
            socket.recv()
    except Exception:
        pass
    latencies.append(time.monotonic() - answered)
    socket.close()
    call("unblock")
latencies.sort()
print(json.dumps({"p50": latencies[len(latencies) // 2], "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], "n": len(latencies)}))
PY
)
kill "$noise_pid" 2>/dev/null || true
wait "$noise_pid" 2>/dev/null || true
echo "2. change → close: $latencies (seconds; $trials trials, $noise changes/s of noise)" >&2

# 3. CPU per change: SCALE_CHANGES changes, then as long idle as the baseline.
full_loads() { curl -fs "http://127.0.0.1:$admin_port/health/ready" | json '["snapshotFullLoads"]'; }
loads_before=$(full_loads)
cpu_before=$(cpu_seconds "$gateway_pid")
changes_started=$(date +%s.%N)
for i in $(seq 1 "$changes"); do
    id=${bulk_subscriptions[$((i % ${#bulk_subscriptions[@]}))]}
    if [ $((i % 2)) -eq 0 ]; then block "$id"; else unblock "$id"; fi
done
sleep 1  # the last change applied
changes_seconds=$(python3 -c "print($(date +%s.%N) - $changes_started)")
cpu_changes=$(python3 -c "print($(cpu_seconds "$gateway_pid") - $cpu_before)")
rss_after=$(resident_mb "$gateway_pid")
cpu_before=$(cpu_seconds "$gateway_pid")
sleep "$changes_seconds"
cpu_idle=$(python3 -c "print($(cpu_seconds "$gateway_pid") - $cpu_before)")
[ "$(full_loads)" = "$loads_before" ] || echo "scale: a full reload ran during the changes or the baseline; the CPU figure includes it" >&2
cpu_per_change_ms=$(python3 -c "print(round(max(0, $cpu_changes - $cpu_idle) * 1000 / $changes, 3))")
echo "3. gateway CPU: ${cpu_changes} s over $changes changes in $(python3 -c "print(round($changes_seconds, 1))") s, ${cpu_idle} s idle as long: ${cpu_per_change_ms} ms per change" >&2

# 4. Memory after those changes, and after a full reload.
cpu_before=$(cpu_seconds "$gateway_pid")
loads_before=$(full_loads)
psql -q "$DATABASE_URL" -c "NOTIFY portico_changes, '{}'"
while [ "$(full_loads)" = "$loads_before" ]; do sleep 0.05; done
reload_cpu=$(python3 -c "print(round($(cpu_seconds "$gateway_pid") - $cpu_before, 2))")
sleep 2
rss_reloaded=$(resident_mb "$gateway_pid")
echo "4. resident after $changes changes: ${rss_after} MB; after a full reload (${reload_cpu} s of CPU): ${rss_reloaded} MB (after the first load: ${rss_loaded} MB)" >&2
echo "{\"apis\": $apis, \"applications\": $apps, \"revoked\": $revoked, \"firstLoadSeconds\": $load_seconds, \"firstLoadCPUSeconds\": $load_cpu, \"residentMBBefore\": $rss_before, \"residentMBLoaded\": $rss_loaded, \"changeToClose\": $latencies, \"changes\": $changes, \"changesCPUSeconds\": $cpu_changes, \"idleCPUSeconds\": $cpu_idle, \"cpuPerChangeMs\": $cpu_per_change_ms, \"residentMBAfterChanges\": $rss_after, \"reloadCPUSeconds\": $reload_cpu, \"residentMBAfterReload\": $rss_reloaded}"
