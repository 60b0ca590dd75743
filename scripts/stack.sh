# Sourced by conformance.sh and bench.sh: Portico's release binaries on a throwaway PostgreSQL
# cluster, the sample echo backend, API "Echo" 1 (context /echo, plan Unlimited) published and
# subscribed, and a production token for it. Also API "Metered" 1 (context /metered) with an event
# ceiling, subscribed under plan "Metered": both limits far above any load, so that every message
# goes through the rate limiter's two buckets and never trips it (the bench's enforcement row).
# The flow runs through the `portico` CLI, as a user would script it (the admin's plan and the
# sign-up, which it has no command for, through curl).
#
#   work=DIR; source scripts/stack.sh; stack_start
#
# Before stack_start: STACK_GATEWAY_CPUS / STACK_BACKEND_CPUS (taskset CPU lists, optional),
# STACK_BACKEND_ARGS (more echo-backend arguments), STACK_BCRYPT_COST (default 4: cheap sign-ups) and
# any GATEWAY_* settings to export. After it: bin, echo_port, gateway_port, admin_port, management_port, publisher_port,
# devportal_port, api_id (Echo's), app_id (the developer's application),
# token, gateway_pid, echo_pid, devportal_pid; the developer `client` (password `client-password`).
# Logs go to $work/*.log; stack_stop (run on EXIT) stops everything.

stack_free_port() { scripts/free-port.sh; }

stack_pids=()
stack_cluster=".data/stack-postgres-$$"

stack_stop() {
    for pid in "${stack_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/postgres.sh stop "$stack_cluster" || true
    rm -rf "$stack_cluster" "$(readlink -f "$stack_cluster" 2>/dev/null || true)"
}

# Runs a command on the CPUs named by $1 (all when empty), in the background, remembered for stack_stop.
stack_spawn() {
    local cpus=$1 log=$2
    shift 2
    if [ -n "$cpus" ]; then taskset -c "$cpus" "$@" > "$log" 2>&1 & else "$@" > "$log" 2>&1 & fi
    stack_pids+=($!)
}

stack_start() {
    bin="$(swift build -c release --show-bin-path)"
    local pg_port
    pg_port=$(stack_free_port); publisher_port=$(stack_free_port); devportal_port=$(stack_free_port)
    gateway_port=$(stack_free_port); admin_port=$(stack_free_port); echo_port=$(stack_free_port)
    management_port=$(stack_free_port)
    export DATABASE_URL
    DATABASE_URL=$(scripts/postgres.sh start "$stack_cluster" "$pg_port" --throwaway)
    export PORTICO_ADMIN_PASSWORD=stack-admin PORTICO_SECRET_KEY="$(openssl rand -base64 32)" PORTICO_LOG_LEVEL=warning
    export PUBLISHER_PORT=$publisher_port DEVPORTAL_PORT=$devportal_port GATEWAY_PORT=$gateway_port GATEWAY_ADMIN_PORT=$admin_port
    export GATEWAY_MANAGEMENT_PORT=$management_port
    export GATEWAY_BIND_ADDRESS=127.0.0.1 PORTICO_BCRYPT_COST=${STACK_BCRYPT_COST:-4}
    stack_spawn "" "$work/publisher.log" "$bin/publisher" serve
    stack_spawn "${STACK_DEVPORTAL_CPUS:-}" "$work/devportal.log" "$bin/devportal" serve
    devportal_pid=${stack_pids[-1]}
    stack_spawn "${STACK_GATEWAY_CPUS:-}" "$work/gateway.log" "$bin/gateway" serve
    gateway_pid=${stack_pids[-1]}
    # shellcheck disable=SC2086
    stack_spawn "${STACK_BACKEND_CPUS:-}" "$work/echo.log" "$bin/echo-backend" --port "$echo_port" ${STACK_BACKEND_ARGS:-}
    echo_pid=${stack_pids[-1]}
    local url
    for url in "http://127.0.0.1:$publisher_port/health/ready" "http://127.0.0.1:$devportal_port/health/ready" "http://127.0.0.1:$admin_port/health/ready"; do
        for _ in $(seq 1 150); do curl -fs "$url" >/dev/null && break; sleep 0.2; done
    done

    json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
    # The reference flow through the portico CLI, as a user would script it (its profiles under $work).
    export XDG_CONFIG_HOME="$work/config"
    local portico="$bin/portico" P="http://127.0.0.1:$publisher_port/api/am/publisher/v4" api app metered
    echo stack-admin | "$portico" login publisher "http://127.0.0.1:$publisher_port" --username admin --password-stdin
    api=$(echo "{\"name\":\"Echo\",\"context\":\"/echo\",\"version\":\"1\",\"policies\":[\"Unlimited\"],\"endpointConfig\":{\"production_endpoints\":{\"url\":\"ws://127.0.0.1:$echo_port\"}}}" \
        | "$portico" apis create -f - -o json | json '["id"]')
    "$portico" apis publish "$api" -o json > /dev/null
    api_id=$api
    curl -fs -o /dev/null -H 'Content-Type: application/json' "http://127.0.0.1:$devportal_port/api/am/devportal/v3/signup" \
        -d '{"username":"client","password":"client-password"}'
    echo client-password | "$portico" login devportal "http://127.0.0.1:$devportal_port" --username client --password-stdin
    app=$("$portico" apps create Client -o json | json '["applicationId"]')
    app_id=$app
    "$portico" subscribe "$api" "$app" --plan Unlimited -o json > /dev/null
    # The admin API (plans) has no CLI command: curl.
    curl -fs -o /dev/null -u admin:stack-admin -H 'Content-Type: application/json' "${P/publisher\/v4/admin\/v4}/throttling-policies/subscription" \
        -d '{"policyName":"Metered","defaultLimit":{"type":"EVENTCOUNTLIMIT","eventCount":{"eventCount":1000000000000,"timeUnit":"day"}},"subscriberCount":100000}'
    metered=$(echo "{\"name\":\"Metered\",\"context\":\"/metered\",\"version\":\"1\",\"policies\":[\"Metered\"],\"limits\":{\"eventCeiling\":{\"eventCount\":1000000000000,\"timeUnit\":\"day\"}},\"endpointConfig\":{\"production_endpoints\":{\"url\":\"ws://127.0.0.1:$echo_port\"}}}" \
        | "$portico" apis create -f - -o json | json '["id"]')
    "$portico" apis publish "$metered" -o json > /dev/null
    "$portico" subscribe "$metered" "$app" --plan Metered -o json > /dev/null
    token=$("$portico" keys generate "$app" --validity 86400 -o json | json '["token"]["accessToken"]')
    sleep 1
}
