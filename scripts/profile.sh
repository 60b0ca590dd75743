#!/usr/bin/env bash
# make profile: where the gateway's CPU goes under one load of the bench, sampled by perf (the
# software clock: these machines have no hardware counters) on the release build, call graphs
# included. Prints the hottest symbols, self time first.
#
#   PROFILE_SCENARIO  echo64 (default), echo16k or handshakes
#   PROFILE_SECONDS   how long the load runs (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prerequisites.sh zlib1g-dev openssl linux-perf
scenario=${PROFILE_SCENARIO:-echo64}
seconds=${PROFILE_SECONDS:-10}
scripts/swift-build.sh -c release
work="$(mktemp -d /tmp/portico-profile.XXXXXX)"
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
trap stack_stop EXIT
if [ "$(nproc)" -ge 2 ]; then STACK_GATEWAY_CPUS=1; STACK_BACKEND_CPUS=0; generator_cpus=0; else generator_cpus=0; fi
STACK_GATEWAY_CPUS=${STACK_GATEWAY_CPUS:-} STACK_BACKEND_CPUS=${STACK_BACKEND_CPUS:-} stack_start
load=(taskset -c "$generator_cpus" "$bin/portico-bench")
target=(--url "ws://127.0.0.1:$gateway_port/echo/1" --header "Authorization: Bearer $token")
case $scenario in
    echo64) args=(echo --connections 50 --size 64 --seconds "$seconds") ;;
    echo16k) args=(echo --connections 50 --size 16384 --seconds "$seconds") ;;
    handshakes) args=(handshakes --count 20000 --concurrency 50) ;;
    *) echo "profile: PROFILE_SCENARIO is echo64, echo16k or handshakes" >&2; exit 2 ;;
esac
"${load[@]}" echo --connections 10 --size 64 --seconds 2 "${target[@]}" > /dev/null  # warm-up
perf record -e cpu-clock -F 499 -g -o "$work/perf.data" -p "$gateway_pid" > "$work/perf.log" 2>&1 &
perf_pid=$!
sleep 0.5
"${load[@]}" "${args[@]}" "${target[@]}"
kill -INT "$perf_pid"; wait "$perf_pid" || true
echo "profile: $scenario, self time per symbol (perf report --no-children)"
perf report -i "$work/perf.data" --no-children --sort symbol --percent-limit 0.7 --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | swift demangle --simplified | cut -c1-170 | head -45
