#!/usr/bin/env bash
# Provides a throw-away PostgreSQL server for tests and local multi-process runs.
#
#   scripts/postgres.sh          install (if needed), initialise, start; print the URL last
#   scripts/postgres.sh start    same as above
#   scripts/postgres.sh stop     stop the server (the data directory is kept)
#   scripts/postgres.sh status   exit 0 when the server is running
#   scripts/postgres.sh url      print the URL
#   scripts/postgres.sh destroy  stop the server and delete its data directory
#
# Environment: MAGNUM_PG_DIR (default /tmp/magnum-pg), MAGNUM_PG_PORT (default 55432).
# The server listens on 127.0.0.1 only, its unix socket lives inside the data directory, and a
# superuser `magnum` with password `magnum` is created. Idempotent: running it again with the
# server up just prints the URL. Uses `runuser -u postgres` because PostgreSQL refuses root.
set -euo pipefail

PGDIR="${MAGNUM_PG_DIR:-/tmp/magnum-pg}"
PORT="${MAGNUM_PG_PORT:-55432}"
DATA="$PGDIR/data"
SOCK="$PGDIR/socket"
LOG="$PGDIR/server.log"
PGUSER_NAME=magnum
PGPASSWORD_VALUE=magnum
URL="postgres://$PGUSER_NAME:$PGPASSWORD_VALUE@127.0.0.1:$PORT/postgres"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

ensure_installed() {
    if BIN="$(find_bin)"; then
        return 0
    fi
    if [[ "$(id -u)" != 0 ]]; then
        log "PostgreSQL server binaries are missing and installing them needs root"
        exit 1
    fi
    log "installing PostgreSQL (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
    BIN="$(find_bin)" || { log "initdb/pg_ctl still not found after installing postgresql"; exit 1; }
}

# Runs a command as the postgres user (or directly when not root).
as_pg() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

is_running() {
    [[ -n "${BIN:-}" && -f "$DATA/PG_VERSION" ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

init_cluster() {
    if [[ -f "$DATA/PG_VERSION" ]]; then
        return 0
    fi
    if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
        log "creating the postgres system user"
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    mkdir -p "$PGDIR" "$SOCK"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$PGDIR" "$SOCK"
        chmod 700 "$PGDIR"
    fi
    local pwfile="$PGDIR/.pw"
    echo "$PGPASSWORD_VALUE" >"$pwfile"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$pwfile"
    log "initialising a cluster in $DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U "$PGUSER_NAME" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >&2
    rm -f "$pwfile"
    cat >>"$DATA/postgresql.conf" <<CONF
# magnum scripts/postgres.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
}

# Removes a postmaster.pid left by a server that no longer runs (after a machine or session
# restart its pid may be dead, a zombie, or reused by another process).
clear_stale_pidfile() {
    local pidfile="$DATA/postmaster.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(head -n 1 "$pidfile")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q postgres \
        && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; then
        return 0
    fi
    log "removing a stale $pidfile"
    rm -f "$pidfile"
}

start() {
    ensure_installed
    init_cluster
    clear_stale_pidfile
    if ! is_running; then
        "$(dirname "$0")/reserve-ports.sh" "$PORT"
        log "starting PostgreSQL on 127.0.0.1:$PORT"
        as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >&2 || {
            log "start failed; last lines of $LOG:"
            tail -n 20 "$LOG" >&2 || true
            exit 1
        }
    fi
    local i
    for i in $(seq 1 60); do
        if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; then
            echo "$URL"
            return 0
        fi
        sleep 0.5
    done
    log "server did not become ready; see $LOG"
    exit 1
}

stop() {
    BIN="$(find_bin)" || return 0
    if is_running; then
        log "stopping PostgreSQL in $DATA"
        as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) BIN="$(find_bin)" || exit 1; is_running ;;
    url) echo "$URL" ;;
    destroy) stop; rm -rf "$PGDIR" ;;
    *) echo "usage: $0 [start|stop|status|url|destroy]" >&2; exit 2 ;;
esac
