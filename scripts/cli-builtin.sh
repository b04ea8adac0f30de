#!/usr/bin/env bash
# End-to-end check of the built-in identity with the REAL python-openstackclient and
# python-magnumclient: starts the built `magnum serve` (no --keystone-url) on a free loopback
# port with a temporary data directory and MAGNUM_ADMIN_PASSWORD, then, with the clouds.yaml the
# server writes on first start:
#   as admin: token issue, catalog list, project create demo, user create --project demo
#             --password demo demo, role add --project demo --user demo member,
#             coe cluster template list, flavor list, image list, keypair create k1
#   as demo:  coe cluster template create, coe cluster template list
# Exits non-zero on the first failure (printing the server log), stops the server at the end.
#
# Environment: MAGNUM_CLI_VENV (default: the venv scripts/keystone.sh creates,
# ${MAGNUM_KEYSTONE_DIR:-/tmp/magnum-keystone}/venv, with python-openstackclient and
# python-magnumclient installed into it), MAGNUM_BIN (default .build/debug/magnum),
# MAGNUM_CLI_PORT (default: a free port).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${MAGNUM_CLI_VENV:-${MAGNUM_KEYSTONE_DIR:-/tmp/magnum-keystone}/venv}"
OPENSTACK="$VENV/bin/openstack"
BIN="${MAGNUM_BIN:-.build/debug/magnum}"

log() { echo "cli-builtin: $*" >&2; }

if [[ ! -x "$OPENSTACK" ]] || ! "$VENV/bin/python" -c 'import magnumclient' 2>/dev/null; then
    log "needs the openstack CLI with python-magnumclient in $VENV:"
    log "  scripts/keystone.sh start && $VENV/bin/pip install python-openstackclient python-magnumclient"
    exit 2
fi
if [[ ! -x "$BIN" ]]; then
    log "building $BIN"
    swift build >&2
fi

WORK="$(mktemp -d /tmp/magnum-cli-builtin.XXXXXX)"
DATA="$WORK/data"
PID=""
cleanup() {
    if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    log "FAIL: $*"
    [[ -f "$WORK/server.log" ]] && { log "server log (tail):"; tail -n 30 "$WORK/server.log" >&2; }
    exit 1
}

PORT="${MAGNUM_CLI_PORT:-$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
case "$PORT" in 9511|55000|55432) fail "port $PORT is reserved for other services" ;; esac
URL="http://127.0.0.1:$PORT"
export MAGNUM_ADMIN_PASSWORD="admin-$RANDOM-$RANDOM"

log "starting $BIN serve on $URL (data $DATA)"
env -u MAGNUM_KEYSTONE_URL -u MAGNUM_DATABASE_URL -u MAGNUM_PUBLIC_URL \
    "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA" > "$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 150); do
    curl -fsS -m 2 -o /dev/null "$URL/identity/v3" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || fail "magnum serve exited"
    sleep 0.2
done
curl -fsS -m 2 -o /dev/null "$URL/identity/v3" || fail "the identity did not answer at $URL/identity/v3"

CLOUDS="$DATA/clouds.yaml"
[[ -f "$CLOUDS" ]] || fail "no clouds.yaml written on first start"
[[ "$(stat -c %a "$CLOUDS")" == "600" ]] || fail "clouds.yaml has mode $(stat -c %a "$CLOUDS"), want 600"
grep -q "$MAGNUM_ADMIN_PASSWORD" "$CLOUDS" || fail "clouds.yaml does not carry MAGNUM_ADMIN_PASSWORD"
grep -q "$MAGNUM_ADMIN_PASSWORD" "$WORK/server.log" && fail "the admin password appears in the server log"

# Everything below talks to this server only.
unset OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_TOKEN OS_AUTH_TYPE OS_CLOUD OS_CLIENT_CONFIG_FILE
export PYTHONWARNINGS=ignore

# run LABEL CLOUD-ARGS... -- COMMAND...: runs `openstack`, keeps its output in $WORK/out.
run() {
    local label=$1; shift
    log "$label: openstack $*"
    if ! "$OPENSTACK" "$@" > "$WORK/out" 2> "$WORK/err"; then
        cat "$WORK/out" "$WORK/err" >&2
        fail "$label: openstack $* failed"
    fi
}
expect_out() { grep -q -- "$1" "$WORK/out" || { cat "$WORK/out" >&2; fail "expected '$1' in the output"; }; }

export OS_CLIENT_CONFIG_FILE="$CLOUDS" OS_CLOUD=magnum-admin
run admin token issue -f value -c id
[[ -s "$WORK/out" ]] || fail "token issue printed no token"
run admin catalog list -f value -c Type
for type in identity container-infra compute image network; do expect_out "$type"; done
run admin project create demo -f value -c name
expect_out demo
run admin user create --project demo --password demo demo -f value -c name
expect_out demo
run admin role add --project demo --user demo member
run admin role assignment list --user demo --project demo --names -f value -c Role
expect_out member
run admin coe cluster template list
run admin flavor list -f value -c Name
expect_out m1.small
run admin image list -f value -c Name
expect_out fedora-coreos-latest
run admin keypair create k1
expect_out "BEGIN OPENSSH PRIVATE KEY"
run admin keypair list -f value -c Name
expect_out k1

# The demo user, with its own clouds.yaml entry.
cat > "$WORK/clouds-demo.yaml" <<YAML
clouds:
  magnum-demo:
    auth:
      auth_url: "$URL/identity/v3"
      username: "demo"
      password: "demo"
      project_name: "demo"
      user_domain_name: "Default"
      project_domain_name: "Default"
    region_name: "RegionOne"
    interface: "public"
    identity_api_version: 3
YAML
export OS_CLIENT_CONFIG_FILE="$WORK/clouds-demo.yaml" OS_CLOUD=magnum-demo
run demo coe cluster template list
run demo coe cluster template create --coe kubernetes --image fedora-coreos-latest --external-network public \
    --flavor m1.small --master-flavor m1.small demo-template
run demo coe cluster template list -f value -c name
expect_out demo-template
# The demo user is not an identity administrator.
if "$OPENSTACK" project create not-allowed > "$WORK/out" 2>&1; then fail "demo could create a project"; fi
expect_out "403"

log "OK: the built-in identity works with the openstack CLI ($("$OPENSTACK" --version 2>&1))"
