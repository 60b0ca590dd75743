#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, bound to 127.0.0.1 only.
#
#   scripts/postgres.sh start DIR PORT [--throwaway]   create (first time) and start; prints the URL
#   scripts/postgres.sh stop DIR                       stop it cleanly
#
# Installs Debian's `postgresql` package when its server binaries are missing. PostgreSQL refuses to
# run as root, so when invoked as root the server runs as the `postgres` system user. --throwaway
# turns off fsync (tests only: a crash may lose the data, which a test cluster does not keep).
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

ensure_installed() {
    if [ -n "$(find_bin)" ]; then return; fi
    echo "postgres.sh: installing the postgresql package (its server binaries are missing)" >&2
    "$(dirname "$0")/prerequisites.sh" postgresql
    # Debian's package starts a system cluster on 5432; Portico does not use it.
    [ -n "$(find_bin)" ] || die "postgresql was installed but initdb was not found under /usr/lib/postgresql"
}

# Runs a command as the user that owns the cluster.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# As root, the cluster must live where the postgres user can reach it; when DIR is not (a checkout
# under /root, say), the data goes to /var/tmp and DIR becomes a link to it.
prepare_dir() {
    local dir=$1
    mkdir -p "$(dirname "$dir")"
    if [ "$(id -u)" != 0 ]; then mkdir -p "$dir"; return; fi
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
    if [ -L "$dir" ]; then mkdir -p "$(readlink -f "$dir")"; chown postgres "$(readlink -f "$dir")"; return; fi
    mkdir -p "$dir"
    chown postgres "$dir"
    chmod 700 "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
        local elsewhere
        elsewhere="/var/tmp/portico-$(echo -n "$(readlink -f "$dir")" | sha256sum | cut -c1-12)"
        rmdir "$dir"
        mkdir -p "$elsewhere"
        chown postgres "$elsewhere"
        chmod 700 "$elsewhere"
        ln -s "$elsewhere" "$dir"
        echo "postgres.sh: $dir is not reachable by the postgres user; the cluster lives in $elsewhere" >&2
    fi
}

start() {
    local dir=$1 port=$2 throwaway=${3:-}
    ensure_installed
    local bin
    bin=$(find_bin)
    prepare_dir "$dir"
    local data
    data=$(readlink -f "$dir")
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$data" -U portico --auth=trust -E UTF8 --locale=C >/dev/null
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$data'"
            if [ "$throwaway" = "--throwaway" ]; then
                # `make test` runs every test at once: 150 databases and near 300 connections at
                # its peak; past max_connections PostgreSQL refuses the next, and a stack starting
                # then never becomes ready.
                echo "max_connections = 1000"
                echo "fsync = off"
                echo "synchronous_commit = off"
                echo "full_page_writes = off"
            else
                echo "max_connections = 300"
            fi
        } | as_owner tee -a "$data/postgresql.conf" >/dev/null
    fi
    if as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "postgres.sh: already running in $dir" >&2
    else
        as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $port" -w -t 60 start >/dev/null \
            || { cat "$data/server.log" >&2; die "PostgreSQL did not start (log above)"; }
    fi
    if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U portico -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'portico'" | grep -q 1; then
        as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U portico portico
    fi
    echo "postgres://portico@127.0.0.1:$port/portico"
}

stop() {
    local dir=$1
    local bin
    bin=$(find_bin) || exit 0
    [ -f "$dir/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$(readlink -f "$dir")" -m fast -w stop >/dev/null
}

case "${1:-}" in
    start) [ $# -ge 3 ] || die "usage: $0 start DIR PORT [--throwaway]"; start "$2" "$3" "${4:-}" ;;
    stop) [ $# -ge 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR PORT [--throwaway] | stop DIR" ;;
esac
