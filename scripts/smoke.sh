#!/usr/bin/env bash
# End-to-end smoke test of the built `magnum` executable, as a user runs it: `magnum serve` on
# its embedded SQLite, and `magnum db upgrade` + `magnum serve` on PostgreSQL, configured by a
# config file (--config-file), when MAGNUM_TEST_DATABASE_URL is set. Traffic stays on 127.0.0.1.
set -euo pipefail
BIN="${1:-.build/debug/magnum}"
WORK="$(mktemp -d /tmp/magnum-smoke.XXXXXX)"
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/tokens.yaml" <<'YAML'
tokens:
  smoke-token: {user_id: smoke, project_id: smoke-project, roles: [member]}
YAML

fail() { echo "smoke: FAIL: $*" >&2; [[ -f "$WORK/log" ]] && tail -n 20 "$WORK/log" >&2; exit 1; }

# expect METHOD PATH STATUS [BODY] — prints the response body
expect() {
    local method=$1 path=$2 want=$3 body=${4:-}
    local args=(-s -o "$WORK/out" -w '%{http_code}' -X "$method" -H 'X-Auth-Token: smoke-token'
                -H 'OpenStack-API-Version: container-infra latest' "http://127.0.0.1:$PORT$path")
    [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' -d "$body")
    local got
    got=$(curl "${args[@]}") || fail "$method $path: curl failed"
    [[ "$got" == "$want" ]] || fail "$method $path: want $want, got $got: $(cat "$WORK/out")"
    cat "$WORK/out"
}

run_against() {
    local label=$1; shift
    PORT=$(( 20000 + RANDOM % 20000 ))
    "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data-$label" --token-table "$WORK/tokens.yaml" "$@" > "$WORK/log" 2>&1 &
    PID=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
        kill -0 "$PID" 2>/dev/null || fail "magnum serve exited"
        sleep 0.1
    done
    curl -s "http://127.0.0.1:$PORT/" | grep -q '"max_version": "1.14"' || fail "GET / has no version document"
    curl -s "http://127.0.0.1:$PORT/v1" | grep -q '"id": "v1"' || fail "GET /v1"
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/clusters")" == 401 ]] || fail "unauthenticated request not 401"
    expect POST /v1/clustertemplates 201 '{"name":"smoke-ct","coe":"swarm-mode","image_id":"local-swarm","external_network_id":"public","flavor_id":"local.small"}' | grep -q '"driver": "local_swarm"' || fail "template driver"
    local uuid
    uuid=$(expect POST /v1/clusters 202 '{"name":"smoke","cluster_template_id":"smoke-ct","node_count":2}' | sed -E 's/.*"uuid": "([^"]+)".*/\1/')
    expect GET "/v1/clusters/$uuid" 200 | grep -q '"status": "CREATE_IN_PROGRESS"' || fail "cluster status"
    expect GET "/v1/clusters/$uuid/nodegroups" 200 | grep -q 'default-worker' || fail "default nodegroups"
    expect GET /v1/clusters 200 | grep -q "$uuid" || fail "cluster list"
    expect DELETE "/v1/clusters/$uuid" 204 >/dev/null
    expect GET "/v1/clusters/$uuid" 200 | grep -q '"status": "DELETE_IN_PROGRESS"' || fail "delete status"
    expect DELETE /v1/clustertemplates/smoke-ct 400 | grep -q 'is referenced by one or multiple clusters' || fail "in-use template delete"
    # The local driver builds the cluster for real: wait until its delete has torn it down.
    for _ in $(seq 1 120); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: smoke-token" "http://127.0.0.1:$PORT/v1/clusters/$uuid")" == 404 ]] && break
        sleep 0.5
    done
    expect GET "/v1/clusters/$uuid" 404 >/dev/null
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    echo "smoke: $label ok"
}

run_against sqlite
if [[ -n "${MAGNUM_TEST_DATABASE_URL:-}" ]]; then
    db="magnum_smoke_$RANDOM"
    admin="$MAGNUM_TEST_DATABASE_URL"
    psql "$admin" -qc "DROP DATABASE IF EXISTS $db" && psql "$admin" -qc "CREATE DATABASE $db"
    url="${admin%/*}/$db"
    # The settings from a config file (--config-file), shared by `db upgrade` and `serve`: an
    # option the command lacks is skipped with a note, the command line wins over the file.
    printf 'database-url: %s\nmonitor-interval: 7\ndata-dir: /nonexistent/overridden\n' "$url" > "$WORK/magnum.yaml"
    "$BIN" db upgrade --config-file "$WORK/magnum.yaml" 2> "$WORK/config.err" | grep -q "Applied migrations" || fail "db upgrade"
    grep -q "'monitor-interval' does not apply to this command" "$WORK/config.err" || fail "config file note: $(cat "$WORK/config.err")"
    MAGNUM_CONFIG_FILE="$WORK/magnum.yaml" "$BIN" db upgrade 2>/dev/null | grep -q "up to date" || fail "second db upgrade"
    printf 'database-url: [a, {b: c}]\n' > "$WORK/bad.yaml"
    if "$BIN" db upgrade --config-file "$WORK/bad.yaml" 2> "$WORK/config.err"; then fail "a broken config file was accepted"; fi
    grep -q "'database-url' lists something that is not a value" "$WORK/config.err" || fail "broken config file: $(cat "$WORK/config.err")"
    run_against postgres --config-file "$WORK/magnum.yaml"
    psql "$admin" -qc "DROP DATABASE IF EXISTS $db" || true
fi
