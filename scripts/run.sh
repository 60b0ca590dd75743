#!/usr/bin/env bash
# `make run`: build and start everything. Without DATABASE_URL, a private PostgreSQL cluster under
# .data/postgres is created (first time) and started; Ctrl-C stops the services and the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/prerequisites.sh zlib1g-dev openssl
scripts/swift-build.sh
bin="$(swift build --show-bin-path)"

pids=()
own_cluster=""
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "stopping Portico..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$own_cluster" ]; then scripts/postgres.sh stop "$own_cluster" && echo "PostgreSQL stopped"; fi
}
trap cleanup INT TERM EXIT

if [ -z "${DATABASE_URL:-}" ]; then
    own_cluster=".data/postgres"
    DATABASE_URL=$(scripts/postgres.sh start "$own_cluster" "${PORTICO_PG_PORT:-54329}")
    export DATABASE_URL
    echo "PostgreSQL: $DATABASE_URL (private cluster in $own_cluster)"
fi

if [ -z "${PORTICO_ADMIN_PASSWORD:-}" ]; then
    export PORTICO_DEV_MODE=true
    echo "Development mode: the first start creates user 'admin' with password 'admin';"
    echo "the key that encrypts token signing keys is kept in .data/secret.key."
fi

# A self-signed development certificate for wss://localhost:8099 (wscat -n skips its check).
if [ -z "${GATEWAY_TLS_CERT_FILE:-}" ] && command -v openssl >/dev/null; then
    mkdir -p .data/tls
    if [ ! -f .data/tls/cert.pem ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout .data/tls/key.pem -out .data/tls/cert.pem 2>/dev/null
        echo "Generated a self-signed development certificate in .data/tls/"
    fi
    export GATEWAY_TLS_CERT_FILE=.data/tls/cert.pem GATEWAY_TLS_KEY_FILE=.data/tls/key.pem
fi

# Both services apply pending migrations at start; the migrator's advisory lock makes that safe.
"$bin/publisher" serve &
pids+=($!)
"$bin/devportal" serve &
pids+=($!)
# The gateway reads what they write; it retries until the schema is there.
"$bin/gateway" serve &
pids+=($!)
"$bin/echo-backend" --port "${ECHO_BACKEND_PORT:-9100}" &
pids+=($!)

host="${PORTICO_BIND_ADDRESS:-127.0.0.1}"
echo "publisher console: http://$host:${PUBLISHER_PORT:-9080}/publisher  (REST: /api/am/publisher/v4)"
echo "developer portal:  http://$host:${DEVPORTAL_PORT:-9081}/devportal  (REST: /api/am/devportal/v3, OAuth2: /oauth2/token)"
echo "gateway:   ws://localhost:${GATEWAY_PORT:-9099}/{context}/{version}${GATEWAY_TLS_CERT_FILE:+ and wss://localhost:${GATEWAY_TLS_PORT:-8099}}; admin http://127.0.0.1:${GATEWAY_ADMIN_PORT:-9098}/health/ready; connection management http://127.0.0.1:${GATEWAY_MANAGEMENT_PORT:-9097}"
echo "echo backend: ws://127.0.0.1:${ECHO_BACKEND_PORT:-9100}"
echo "(Ctrl-C stops everything)"
# Exit as soon as any service exits; the trap stops the rest.
wait -n "${pids[@]}"
