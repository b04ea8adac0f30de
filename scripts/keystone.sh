#!/usr/bin/env bash
# Provides a throw-away, real OpenStack Keystone (v3, SQLite, fernet tokens) for tests and local
# runs of `magnum serve --keystone-url …`.
#
#   scripts/keystone.sh          install (if needed), initialise, start, seed; print the auth URL last
#   scripts/keystone.sh start    same as above
#   scripts/keystone.sh stop     stop the server (the data directory is kept)
#   scripts/keystone.sh status   exit 0 when the server answers
#   scripts/keystone.sh url      print the auth URL
#   scripts/keystone.sh venv     print the path of the Python venv (the clients install there too)
#   scripts/keystone.sh destroy  stop the server and delete its directory (venv included)
#
# Environment: MAGNUM_KEYSTONE_DIR (default /tmp/magnum-keystone), MAGNUM_KEYSTONE_PORT (default
# 55000). Installs keystone==30.0.0 and uWSGI from PyPI into a venv inside the directory, serves
# on 127.0.0.1 only, and seeds (idempotently, through the REST API with curl):
#   admin/admin      admin of project `admin` (keystone-manage bootstrap)
#   magnum/magnum    service user, `admin` on project `service`
#   demo/demo        `member` on project `demo`
#   alt/alt          `member` on project `alt`
#   reader/reader    `reader` on project `demo`
# all in domain Default; admin also holds `admin` on the system scope (bootstrap) and the role
# `service` exists.
set -euo pipefail

KSDIR="${MAGNUM_KEYSTONE_DIR:-/tmp/magnum-keystone}"
PORT="${MAGNUM_KEYSTONE_PORT:-55000}"
VENV="$KSDIR/venv"
DATA="$KSDIR/data"
CONF="$DATA/keystone.conf"
PIDFILE="$DATA/keystone.pid"
LOG="$DATA/uwsgi.log"
URL="http://127.0.0.1:$PORT/v3"
# keystone-manage is noisy about eventlet's deprecation.
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

log() { echo "keystone.sh: $*" >&2; }

ensure_installed() {
    if [[ -x "$VENV/bin/keystone-manage" && -x "$VENV/bin/uwsgi" ]]; then
        return 0
    fi
    local py
    py="$(command -v python3)" || { log "python3 is required"; exit 1; }
    mkdir -p "$KSDIR"
    log "creating venv $VENV and installing keystone==30.0.0 uWSGI (PyPI)"
    "$py" -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --upgrade pip >&2 || true
    "$VENV/bin/pip" install --quiet "keystone==30.0.0" uWSGI >&2
}

# Writes keystone.conf; prints "changed" when it differs from the one on disk.
write_conf() {
    mkdir -p "$DATA/fernet-keys" "$DATA/credential-keys"
    local tmp="$CONF.new"
    cat >"$tmp" <<CONF
[DEFAULT]
log_file = $DATA/keystone.log
[database]
connection = sqlite:///$DATA/keystone.db
[token]
provider = fernet
expiration = 43200
# The memory cache is per uWSGI worker: a revocation seen by one worker would stay invisible to
# the other until the cache expires. Tokens are validated uncached so revocations apply at once.
caching = false
[revoke]
caching = false
[fernet_tokens]
key_repository = $DATA/fernet-keys
[fernet_receipts]
key_repository = $DATA/fernet-keys
[credential]
key_repository = $DATA/credential-keys
[cache]
enabled = true
backend = dogpile.cache.memory
CONF
    if [[ -f "$CONF" ]] && cmp -s "$tmp" "$CONF"; then
        rm -f "$tmp"
    else
        mv "$tmp" "$CONF"
        echo changed
    fi
}

init_data() {
    if [[ -f "$DATA/.initialised" ]]; then
        return 0
    fi
    export OS_KEYSTONE_CONFIG_FILES="$CONF"
    local user group
    user="$(id -un)"
    group="$(id -gn)"
    log "initialising Keystone in $DATA"
    "$VENV/bin/keystone-manage" --config-file "$CONF" db_sync >&2
    "$VENV/bin/keystone-manage" --config-file "$CONF" fernet_setup --keystone-user "$user" --keystone-group "$group" >&2
    "$VENV/bin/keystone-manage" --config-file "$CONF" credential_setup --keystone-user "$user" --keystone-group "$group" >&2
    "$VENV/bin/keystone-manage" --config-file "$CONF" bootstrap --bootstrap-password admin \
        --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
        --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
        --bootstrap-admin-url "$URL" --bootstrap-public-url "$URL" --bootstrap-internal-url "$URL" >&2
    "$VENV/bin/python" -c "import sqlite3; sqlite3.connect('$DATA/keystone.db').execute('PRAGMA journal_mode=WAL')"
    touch "$DATA/.initialised"
}

answers() {
    curl -fsS -m 3 -o /dev/null "$URL" 2>/dev/null
}

# True when the pid file names a live (not zombie) uWSGI process: after a machine or session
# restart the file can name a dead or reused pid.
is_running() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q uwsgi || return 1
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

# A JSON field of stdin, by a Python expression over `d`.
jget() { "$VENV/bin/python" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

ADMIN_TOKEN=""
api() { # METHOD PATH [BODY] → body on stdout
    local method="$1" path="$2" body="${3:-}"
    if [[ -n "$body" ]]; then
        curl -fsS -m 10 -X "$method" -H "X-Auth-Token: $ADMIN_TOKEN" -H "Content-Type: application/json" -d "$body" "$URL$path"
    else
        curl -fsS -m 10 -X "$method" -H "X-Auth-Token: $ADMIN_TOKEN" "$URL$path"
    fi
}

# Prints the id of the named entity (projects/users/roles), creating it with BODY when missing.
ensure() { # COLLECTION NAME CREATE_BODY
    local coll="$1" name="$2" body="$3" id
    id="$(api GET "/$coll?name=$name" | jget "d['$coll'][0]['id'] if d['$coll'] else ''")"
    if [[ -z "$id" ]]; then
        local key="${coll%s}"
        id="$(api POST "/$coll" "$body" | jget "d['$key']['id']")"
        log "created $key $name"
    fi
    echo "$id"
}

seed() {
    ADMIN_TOKEN="$(curl -fsS -m 10 -D - -o /dev/null -H "Content-Type: application/json" -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"admin"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
        "$URL/auth/tokens" | tr -d '\r' | awk 'tolower($1)=="x-subject-token:" {print $2}')"
    [[ -n "$ADMIN_TOKEN" ]] || { log "could not get an admin token"; exit 1; }
    local service demo alt magnum_user demo_user alt_user reader_user admin_role member_role reader_role
    service="$(ensure projects service '{"project":{"name":"service","domain_id":"default","description":"Service project"}}')"
    demo="$(ensure projects demo '{"project":{"name":"demo","domain_id":"default","description":"Demo project"}}')"
    alt="$(ensure projects alt '{"project":{"name":"alt","domain_id":"default","description":"Alternate project"}}')"
    magnum_user="$(ensure users magnum '{"user":{"name":"magnum","domain_id":"default","password":"magnum","default_project_id":"'"$service"'"}}')"
    demo_user="$(ensure users demo '{"user":{"name":"demo","domain_id":"default","password":"demo","default_project_id":"'"$demo"'"}}')"
    alt_user="$(ensure users alt '{"user":{"name":"alt","domain_id":"default","password":"alt","default_project_id":"'"$alt"'"}}')"
    reader_user="$(ensure users reader '{"user":{"name":"reader","domain_id":"default","password":"reader","default_project_id":"'"$demo"'"}}')"
    admin_role="$(ensure roles admin '{"role":{"name":"admin"}}')"
    member_role="$(ensure roles member '{"role":{"name":"member"}}')"
    reader_role="$(ensure roles reader '{"role":{"name":"reader"}}')"
    ensure roles service '{"role":{"name":"service"}}' >/dev/null
    api PUT "/projects/$service/users/$magnum_user/roles/$admin_role" >/dev/null
    api PUT "/projects/$demo/users/$demo_user/roles/$member_role" >/dev/null
    api PUT "/projects/$alt/users/$alt_user/roles/$member_role" >/dev/null
    api PUT "/projects/$demo/users/$reader_user/roles/$reader_role" >/dev/null
}

start() {
    ensure_installed
    if [[ "$(write_conf)" == changed ]] && is_running; then
        log "keystone.conf changed; restarting"
        stop
    fi
    init_data
    if ! answers; then
        if is_running; then
            log "Keystone's uWSGI does not answer; restarting it"
            stop
        fi
        rm -f "$PIDFILE"
        if ! is_running; then
            "$(dirname "$0")/reserve-ports.sh" "$PORT"
            log "starting Keystone (uWSGI) on 127.0.0.1:$PORT"
            (
                cd "$DATA"
                export OS_KEYSTONE_CONFIG_FILES="$CONF"
                "$VENV/bin/uwsgi" --master --die-on-term --lazy-apps --processes 1 --threads 1 --buffer-size 65535 \
                    --add-header Connection:close --http-socket "127.0.0.1:$PORT" \
                    --module keystone.wsgi.api:application --pidfile "$PIDFILE" \
                    --daemonize "$LOG"
            ) >&2
        fi
        local i
        for i in $(seq 1 120); do
            answers && break
            sleep 0.5
        done
        answers || { log "Keystone did not answer; last lines of $LOG:"; tail -n 20 "$LOG" >&2 || true; exit 1; }
    fi
    seed
    echo "$URL"
}

stop() {
    if is_running; then
        log "stopping Keystone"
        local pid
        pid="$(cat "$PIDFILE")"
        kill -INT "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        rm -f "$PIDFILE"
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) answers ;;
    url) echo "$URL" ;;
    venv) echo "$VENV" ;;
    destroy) stop; rm -rf "$KSDIR" ;;
    *) echo "usage: $0 [start|stop|status|url|venv|destroy]" >&2; exit 2 ;;
esac
