#!/usr/bin/env bash
# `make bench`: the gateway against the backend alone, nginx and HAProxy, in one run, on the same
# echo backend, with the same load generator (portico-bench). Prints one table and writes it into
# docs/PERFORMANCE.md (between its bench markers; the text around them is kept). Not part of
# `make test`.
#
# Pinning (2 CPUs or more): load generator and echo backend on CPU 0, the proxy under test on
# CPU 1, so the proxy's CPU time is its own. Each proxy's CPU time is read from /proc/PID/stat
# before and after each run; its memory from /proc/PID/status.
#
# BENCH_SECONDS (10) per throughput run, BENCH_HANDSHAKES (3000), BENCH_IDLE (9000 connections),
# BENCH_RATE (10000 messages/s) change the load; BENCH_WRITE=0 leaves docs/PERFORMANCE.md alone.
# BENCH_SECTIONS ("proxy rest push routes") picks what runs: `proxy` is the gateway against the peers
# (1–6), `rest` the REST services' sign-in cost (7), `push` the connection management API's pushes
# to a client on the same and on a second gateway (8), `routes` routed messages to an HTTP
# integration beside proxied ones (9); a run of some sections only prints (never
# writes).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-10}
handshakes=${BENCH_HANDSHAKES:-3000}
idle=${BENCH_IDLE:-9000}
rate=${BENCH_RATE:-10000}
sections=" ${BENCH_SECTIONS:-proxy rest push routes} "
section() { [[ "$sections" == *" $1 "* ]]; }
write=${BENCH_WRITE:-1}
if [ "$sections" != " proxy rest push routes " ]; then write=0; fi

if section proxy; then scripts/prerequisites.sh zlib1g-dev openssl nginx-light haproxy; else scripts/prerequisites.sh zlib1g-dev openssl; fi
scripts/swift-build.sh -c release
ulimit -n 20000 2>/dev/null || echo "bench: cannot raise the open-file limit to 20000 (it is $(ulimit -n)); the idle run may fail" >&2

if [ "$(nproc)" -ge 2 ]; then generator_cpus=0; backend_cpus=0; proxy_cpus=1; else generator_cpus=0; backend_cpus=0; proxy_cpus=0; fi
work="$(mktemp -d /tmp/portico-bench.XXXXXX)"
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
trap stack_stop EXIT
# Sign-ins at the production bcrypt cost (10), so that section 7 measures what users pay.
STACK_GATEWAY_CPUS=$proxy_cpus STACK_BACKEND_CPUS=$backend_cpus STACK_DEVPORTAL_CPUS=$proxy_cpus STACK_BCRYPT_COST=10 stack_start

# What every nginx of the bench keeps under its own folder: its pid, its error log, its temp files.
nginx_files() { printf 'pid %s/nginx.pid;\nerror_log %s/error.log warn;\n' "$1" "$1"; }
nginx_temp_paths() {
    local kind
    for kind in client_body proxy fastcgi uwsgi scgi; do printf '    %s_temp_path %s/%s;\n' "$kind" "$1" "${kind%_body}"; done
}

# The peers, configured as plain WebSocket reverse proxies to the same echo backend.
if section proxy; then
nginx_port=$(stack_free_port)
haproxy_port=$(stack_free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 20000;
events { worker_connections 19500; }
$(nginx_files "$work/nginx")
http {
    access_log off;
$(nginx_temp_paths "$work/nginx")
    server {
        listen 127.0.0.1:$nginx_port backlog=4096;
        location / {
            proxy_pass http://127.0.0.1:$echo_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
CONF
cat > "$work/haproxy.cfg" <<CONF
global
    maxconn 9600
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
frontend websocket
    bind 127.0.0.1:$haproxy_port
    default_backend echo
backend echo
    server echo 127.0.0.1:$echo_port
CONF
stack_spawn "$proxy_cpus" "$work/nginx.log" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;'
nginx_pid=${stack_pids[-1]}
stack_spawn "$proxy_cpus" "$work/haproxy.log" haproxy -f "$work/haproxy.cfg" -db
haproxy_pid=${stack_pids[-1]}
sleep 1
fi

generator=(taskset -c "$generator_cpus" "$bin/portico-bench")
targets=(backend nginx haproxy portico)
declare -A url headers
url[backend]="ws://127.0.0.1:$echo_port/"
url[nginx]="ws://127.0.0.1:${nginx_port:-0}/"
url[haproxy]="ws://127.0.0.1:${haproxy_port:-0}/"
url[portico]="ws://127.0.0.1:$gateway_port/echo/1"
headers[portico]="Authorization: Bearer $token"
# The same gateway on an API whose plan and ceiling put two rate-limit buckets on every message.
url[portico-limits]="ws://127.0.0.1:$gateway_port/metered/1"
headers[portico-limits]="Authorization: Bearer $token"
process_ids() {
    case $1 in
        backend) echo "$echo_pid" ;;
        nginx) echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')" ;;  # only in the proxy section
        haproxy) echo "$haproxy_pid" ;;
        portico|portico-limits|portico-routes) echo "$gateway_pid" ;;
        push-same|push-other) echo "$gateway_pid $second_pid" ;;  # only in the push section
        devportal) echo "$devportal_pid" ;;
    esac
}
# CPU seconds (user + system) and resident kB of a set of processes.
cpu_seconds() { python3 -c '
import os, sys
ticks = sum(sum(int(x) for x in open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[11:13]) for p in sys.argv[1:])
print(ticks / os.sysconf("SC_CLK_TCK"))' "$@"; }
resident_kb() { awk '/^VmRSS:/ { total += $2 } END { print total }' $(for p in "$@"; do echo "/proc/$p/status"; done); }

results="$work/results.jsonl"
: > "$results"
# run SCENARIO TARGET portico-bench-arguments…: one measured run, one JSON line in $results.
run() {
    local scenario=$1 target=$2
    shift 2
    local ids before after output
    ids=$(process_ids "$target")
    before=$(cpu_seconds $ids)
    output=$("${generator[@]}" "$@" --url "${url[$target]}" ${headers[$target]:+--header "${headers[$target]}"})
    after=$(cpu_seconds $ids)
    echo "{\"scenario\": \"$scenario\", \"target\": \"$target\", \"proxyCPUSeconds\": $(python3 -c "print($after - $before)"), \"generator\": $output}" >> "$results"
    echo "  $scenario / $target: $output" >&2
}

if section proxy; then
echo "bench: warming up" >&2
for target in "${targets[@]}"; do "${generator[@]}" echo --url "${url[$target]}" ${headers[$target]:+--header "${headers[$target]}"} --seconds 2 > /dev/null; done
for target in "${targets[@]}"; do
    echo "bench: $target" >&2
    run echo64 "$target" echo --connections 50 --size 64 --seconds "$seconds"
    run echo16k "$target" echo --connections 50 --size 16384 --seconds "$seconds"
    run rate "$target" echo --connections 50 --size 64 --seconds "$seconds" --rate "$rate"
    run handshakes "$target" handshakes --count "$handshakes" --concurrency 50
    # Idle: open the connections, read the proxy's memory, then let them go.
    ids=$(process_ids "$target")
    rss_before=$(resident_kb $ids)
    rm -f "$work/hold"; mkfifo "$work/hold"
    "${generator[@]}" idle --connections "$idle" --url "${url[$target]}" ${headers[$target]:+--header "${headers[$target]}"} \
        < "$work/hold" > "$work/idle.out" 2>&1 &
    idle_pid=$!
    exec 9> "$work/hold"
    for _ in $(seq 1 600); do grep -q '^open' "$work/idle.out" && break; kill -0 "$idle_pid" 2>/dev/null || break; sleep 0.2; done
    sleep 1
    rss_after=$(resident_kb $(process_ids "$target"))
    opened=$(sed -n 's/^open //p' "$work/idle.out")
    exec 9>&-
    wait "$idle_pid" || true
    echo "{\"scenario\": \"idle\", \"target\": \"$target\", \"connections\": ${opened:-0}, \"residentKBBefore\": $rss_before, \"residentKBAfter\": $rss_after}" >> "$results"
    echo "  idle / $target: ${opened:-0} connections, resident $rss_before kB -> $rss_after kB" >&2
    sleep 2
done

# The fixed-rate latency of the three proxies, in three interleaved rounds: its p99 moves between
# runs more than the proxies differ, so the report takes each proxy's median round.
echo "bench: fixed-rate rounds" >&2
for round in 1 2 3; do
    for target in nginx haproxy portico; do
        run "rate-round-r$round" "$target" echo --connections 50 --size 64 --seconds "$seconds" --rate "$rate"
    done
done

# CPU per handshake in three interleaved rounds, the order turned each round: one burst per proxy
# (scenario 4) moves between runs more than the proxies differ, so the target takes each proxy's
# median round.
echo "bench: handshake rounds" >&2
round=0
for order in "nginx haproxy portico" "haproxy portico nginx" "portico nginx haproxy"; do
    round=$((round + 1))
    for target in $order; do
        run "handshakes-round-r$round" "$target" handshakes --count "$handshakes" --concurrency 50
    done
done

# Enforcement's cost: the gateway's CPU per message with limits on (two buckets per message and
# the cluster sync) against off, at the same loads, runs interleaved so that drift hits both.
echo "bench: enforcement on and off" >&2
"${generator[@]}" echo --url "${url[portico-limits]}" --header "${headers[portico-limits]}" --seconds 2 > /dev/null
for round in 1 2; do
    run "echo64-r$round" portico echo --connections 50 --size 64 --seconds "$seconds"
    run "echo64-r$round" portico-limits echo --connections 50 --size 64 --seconds "$seconds"
    run "rate-r$round" portico echo --connections 50 --size 64 --seconds "$seconds" --rate "$rate"
    run "rate-r$round" portico-limits echo --connections 50 --size 64 --seconds "$seconds" --rate "$rate"
done
fi

# 7. The REST services' sign-in cost, on the devportal's catalog (one route that answers anonymous
# and signed-in callers alike, on the devportal's own CPU): anonymous calls are the baseline; then
# the same calls signed in as a developer (remembered credentials: one bcrypt, then none); then
# signed in while as many other connections send wrong passwords (each a bcrypt until the limits
# answer them 429).
if section rest; then
    echo "bench: REST sign-in" >&2
    catalog="http://127.0.0.1:$devportal_port/api/am/devportal/v3/apis"
    developer="Authorization: Basic $(printf client:client-password | base64)"
    guesser="Authorization: Basic $(printf client2:wrong-password | base64)"
    curl -fs -o /dev/null -H 'Content-Type: application/json' "http://127.0.0.1:$devportal_port/api/am/devportal/v3/signup" \
        -d '{"username":"client2","password":"client2-password"}'
    url[devportal]="$catalog"
    "${generator[@]}" rest --url "$catalog" --seconds 2 > /dev/null
    for round in 1 2; do
        run "rest-anonymous-r$round" devportal rest --connections 16 --seconds "$seconds"
        headers[devportal]="$developer"
        run "rest-signed-in-r$round" devportal rest --connections 16 --seconds "$seconds"
        run "rest-under-guessing-r$round" devportal rest --connections 16 --seconds "$seconds" \
            --noise-connections 16 --noise-header "$guesser"
        unset 'headers[devportal]'
        sleep 61  # the guessing's lock-outs last a minute: the next round starts clean
    done
fi

# 8. The connection management API: a backend's pushes (POST …/@connections/{id}, 64 B, 4 callers
# in a closed loop) to one client, through the first gateway's management listener, the client on
# that gateway, then on a second gateway (the call carried through PostgreSQL). CPU: both gateways.
if section push; then
    echo "bench: connection management pushes" >&2
    second_port=$(stack_free_port); second_admin=$(stack_free_port); second_management=$(stack_free_port)
    stack_spawn "$proxy_cpus" "$work/gateway2.log" env GATEWAY_PORT="$second_port" GATEWAY_ADMIN_PORT="$second_admin" \
        GATEWAY_MANAGEMENT_PORT="$second_management" GATEWAY_NODE_ID=second "$bin/gateway" serve
    second_pid=${stack_pids[-1]}
    for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$second_admin/health/ready" >/dev/null && break; sleep 0.2; done
    key=$(curl -fs -u admin:stack-admin -X POST "http://127.0.0.1:$publisher_port/api/am/publisher/v4/apis/$api_id/connection-keys" | json '["secret"]')
    sleep 1  # the key reaches both gateways with the change notification
    url[push-same]="ws://127.0.0.1:$gateway_port/echo/1"
    url[push-other]="ws://127.0.0.1:$second_port/echo/1"
    headers[push-same]="Authorization: Bearer $token"
    headers[push-other]="Authorization: Bearer $token"
    management="http://127.0.0.1:$management_port/echo/1"
    "${generator[@]}" push --url "${url[push-same]}" --header "${headers[push-same]}" --management "$management" --key "$key" --seconds 2 > /dev/null
    for round in 1 2; do
        run "push-r$round" push-same push --management "$management" --key "$key" --seconds "$seconds"
        run "push-r$round" push-other push --management "$management" --key "$key" --seconds "$seconds"
    done
fi

# 9. Routes: an API whose `$default` route is a two-way HTTP integration (POST to a local nginx that
# answers "ok", keep-alive, on the generator's CPU) against the proxied Echo, 50 connections sending
# 64 B in a closed loop, two interleaved rounds; CPU: the gateway's.
if section routes; then
    echo "bench: routed messages" >&2
    scripts/prerequisites.sh nginx-light
    integration_port=$(stack_free_port)
    mkdir -p "$work/integration"
    cat > "$work/integration/nginx.conf" <<CONF
worker_processes 1;
events { worker_connections 4096; }
$(nginx_files "$work/integration")
http {
    access_log off;
$(nginx_temp_paths "$work/integration")
    keepalive_requests 10000000;
    server { listen 127.0.0.1:$integration_port; location / { return 200 "ok"; } }
}
CONF
    stack_spawn "$generator_cpus" "$work/integration.log" nginx -c "$work/integration/nginx.conf" -p "$work/integration" -g 'daemon off;'
    routes="[{\"routeKey\":\"\$default\",\"twoWay\":true,\"integration\":{\"type\":\"HTTP\",\"url\":\"http://127.0.0.1:$integration_port/\"}}]"
    routed=$(curl -fs -u admin:stack-admin -H 'Content-Type: application/json' "http://127.0.0.1:$publisher_port/api/am/publisher/v4/apis" \
        -d "{\"name\":\"Routed\",\"context\":\"/routed\",\"version\":\"1\",\"policies\":[\"Unlimited\"],\"routes\":$routes}" | json '["id"]')
    curl -fs -o /dev/null -u admin:stack-admin -X POST "http://127.0.0.1:$publisher_port/api/am/publisher/v4/apis/change-lifecycle?apiId=$routed&action=Publish"
    "$bin/portico" subscribe "$routed" "$app_id" --plan Unlimited -o json > /dev/null
    sleep 1  # the subscription reaches the gateway with the change notification
    url[portico-routes]="ws://127.0.0.1:$gateway_port/routed/1"
    headers[portico-routes]="Authorization: Bearer $token"
    for target in portico portico-routes; do
        "${generator[@]}" echo --url "${url[$target]}" --header "${headers[$target]}" --seconds 2 > /dev/null
    done
    for round in 1 2; do
        run "routed-r$round" portico echo --connections 50 --size 64 --seconds "$seconds"
        run "routed-r$round" portico-routes echo --connections 50 --size 64 --seconds "$seconds"
    done
fi

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
versions="Portico $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(swift --version 2>/dev/null | awk 'NR == 1 { sub(/ \(.*/, ""); print }'), nginx $( (nginx -v 2>&1 || echo "not run") | sed 's|.*/||'), HAProxy $( (haproxy -v 2>&1 || echo "HAProxy version not-run") | awk 'NR == 1 { print $3 }')"
pinning="load generator and echo backend on CPU $generator_cpus, the proxy under test on CPU $proxy_cpus (taskset); nginx 1 worker, HAProxy 1 thread, the gateway one event loop (as many as the CPUs it may run on)"
python3 scripts/bench-report.py "$results" "$machine" "$versions" "$pinning" \
    "BENCH_SECONDS=$seconds BENCH_HANDSHAKES=$handshakes BENCH_IDLE=$idle BENCH_RATE=$rate make bench" \
    "$write" docs/PERFORMANCE.md
