#!/usr/bin/env bash
# Runs the magnum-tempest-plugin API tests against the built `magnum` in Keystone mode, as
# upstream's gate does: a real Keystone (scripts/keystone.sh), Magnum registered in its catalog
# by `magnum bootstrap`, and two passes —
#   plain: pre-provisioned accounts, `^magnum_tempest_plugin\.tests\.api\.v1\.test_`
#   rbac:  dynamic credentials, [enforce_scope] magnum = true, `…\.api\.v1\.rbac\.`
# both without the `slow` tests. Exits non-zero unless every selected test passes.
#
#   scripts/tempest.sh [MAGNUM_BINARY]
#
# Environment: MAGNUM_TEMPEST_PORT (default 9521), MAGNUM_TEMPEST_DIR (default
# /tmp/magnum-tempest). Installs tempest 47.0.0 and magnum-tempest-plugin 2.12.0 into Keystone's
# venv (see scripts/keystone.sh). Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-.build/debug/magnum}"
PORT="${MAGNUM_TEMPEST_PORT:-9521}"
WORK="${MAGNUM_TEMPEST_DIR:-/tmp/magnum-tempest}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

log() { echo "tempest.sh: $*" >&2; }

KEYSTONE_URL="$(scripts/keystone.sh start | tail -n 1)"
VENV="$(scripts/keystone.sh venv)"
scripts/clients.sh install

PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

rm -rf "$WORK"
mkdir -p "$WORK"
"$BIN" bootstrap --keystone-url "$KEYSTONE_URL" --admin-user admin --admin-password admin --admin-project admin \
    --public-url "http://127.0.0.1:$PORT" >&2

# One server for both passes, its own fresh SQLite database.
MAGNUM_SERVICE_PASSWORD=magnum "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" \
    --keystone-url "$KEYSTONE_URL" --service-user magnum --service-project service \
    > "$WORK/magnum.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    kill -0 "$PID" 2>/dev/null || { log "magnum serve exited"; tail -n 20 "$WORK/magnum.log" >&2; exit 1; }
    sleep 0.1
done

"$VENV/bin/tempest" init --workspace-path "$WORK/workspaces.yaml" --name magnum "$WORK/workspace" >/dev/null 2>&1
ETC="$WORK/workspace/etc"

cat > "$ETC/accounts.yaml" <<'YAML'
- username: demo
  project_name: demo
  password: demo
  roles: [member]
- username: alt
  project_name: alt
  password: alt
  roles: [member]
- username: admin
  project_name: admin
  password: admin
  types: [admin]
YAML

# write_conf DYNAMIC ENFORCE_SCOPE
write_conf() {
    cat > "$ETC/tempest.conf" <<CONF
[DEFAULT]
log_file = $WORK/tempest.log
[auth]
admin_username = admin
admin_password = admin
admin_project_name = admin
admin_domain_name = Default
admin_system = all
use_dynamic_credentials = $1
test_accounts_file = $ETC/accounts.yaml
create_isolated_networks = false
tempest_roles = member
[identity]
uri_v3 = $KEYSTONE_URL
auth_version = v3
region = RegionOne
[identity-feature-enabled]
api_v2 = false
api_v3 = true
[service_available]
magnum = true
nova = false
glance = false
neutron = false
cinder = false
swift = false
[enforce_scope]
magnum = $2
[magnum]
catalog_type = container-infra
image_id = fedora-coreos-latest
nic_id = public
keypair_name = magnum-test
flavor_id = ds2G
master_flavor_id = ds2G
coe = kubernetes
copy_logs = false
cluster_creation_timeout = 1
cluster_delete_timeout = 1
CONF
}

status=0
# run_pass NAME DYNAMIC ENFORCE_SCOPE CONCURRENCY REGEX
run_pass() {
    local name=$1 regex=$5
    write_conf "$2" "$3"
    log "$name pass"
    if ! (cd "$WORK/workspace" && "$VENV/bin/tempest" run --concurrency "$4" --regex "$regex" --exclude-regex '\bslow\b' \
            2>&1 | tee "$WORK/$name.out" | grep -E "^\{[0-9]+\} .*(FAILED|ok)|^Totals|Passed:|Failed:|Skipped:"); then
        status=1
    fi
    local passed failed skipped
    passed=$(sed -nE 's/^ - Passed: ([0-9]+).*/\1/p' "$WORK/$name.out" | tail -n 1)
    failed=$(sed -nE 's/^ - Failed: ([0-9]+).*/\1/p' "$WORK/$name.out" | tail -n 1)
    skipped=$(sed -nE 's/^ - Skipped: ([0-9]+).*/\1/p' "$WORK/$name.out" | tail -n 1)
    if [[ -z "$passed" || "$passed" == 0 || "${failed:-1}" != 0 || "${skipped:-0}" != 0 ]]; then
        log "$name pass: passed=${passed:-?} failed=${failed:-?} skipped=${skipped:-?} (details in $WORK/$name.out, server log $WORK/magnum.log)"
        status=1
    else
        log "$name pass: $passed passed"
    fi
}

run_pass plain false false 1 '^magnum_tempest_plugin\.tests\.api\.v1\.test_'
run_pass rbac true true 2 '^magnum_tempest_plugin\.tests\.api\.v1\.rbac\.'
exit $status
