#!/usr/bin/env bash
# End to end through the Heat driver against a real OpenStack Heat (scripts/heat.sh) and the
# real Keystone (scripts/keystone.sh), as a user does: `magnum serve` in Keystone mode on a fresh
# data directory, the real `openstack coe` client as the member `demo`. No Nova, Neutron,
# Octavia or Cinder exist here: an operator environment (`--heat-environment`) maps their
# resource types onto stand-ins generated from Heat's own resource schemas
# (scripts/heat-standins.py); a server whose name contains `standin-fail` fails, one containing
# `standin-slow` takes `standin_slow_seconds`.
#
#   scripts/heat-e2e.sh [MAGNUM_BINARY]
#
# MAGNUM_HEAT_E2E_ARGS: more `magnum serve` options (e.g. `--heat-templates DIR` to try templates).
#
# Kubernetes 1 master + 2 workers → CREATE_COMPLETE with addresses from the stack's outputs
# (all on loopback); health UNKNOWN while nothing answers on the API address, HEALTHY once a
# test double of the Kubernetes API (scripts/kube-api-double.py, with a certificate signed by
# `coe ca sign`) does; resize to 3 (a join token registered through that API), then to 2
# removing a named node; a nodegroup added (another join token); a CA rotation of the
# cluster's and the nodegroup's stacks (the stand-in servers' agents run by this script) →
# UPDATE_COMPLETE once each server's deployment signalled; the nodegroup deleted (its own
# stack); a nested failure → CREATE_FAILED with the failing resource in `faults`; a create past
# its timeout → CREATE_FAILED; `magnum` SIGKILLed mid-create and restarted → the conductor
# re-attaches to the stack → CREATE_COMPLETE with one stack; a Swarm-mode cluster; delete of
# everything → no stack, trust or trustee user left.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:-.build/debug/magnum}")"
PORT="${MAGNUM_HEAT_E2E_PORT:-$(( 30000 + RANDOM % 10000 ))}"
WORK="$(mktemp -d /tmp/magnum-heat-e2e.XXXXXX)"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}" SHELL="${SHELL:-/bin/bash}"
PID=""
KUBE_PID=""

log() { echo "heat-e2e.sh: $*" >&2; }
fail() {
    log "FAIL: $*"
    [[ -f "$WORK/magnum.log" ]] && grep -vE " (debug|trace) " "$WORK/magnum.log" | tail -n 30 >&2
    exit 1
}
start_server() { # start_server [fixed] — a first start moves to another port when its own is taken
    local attempts=3
    [[ "${1:-}" == fixed ]] && attempts=1
    for _ in $(seq 1 "$attempts"); do
        MAGNUM_SERVICE_PASSWORD=magnum "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" --clouds-file none \
            --keystone-url "$KS_URL" --service-user magnum --service-project service --monitor-interval 2 \
            --heat-environment "$WORK/standins/standins.yaml" --heat-environment "$WORK/knobs.yaml" ${MAGNUM_HEAT_E2E_ARGS:-} >> "$WORK/magnum.log" 2>&1 &
        PID=$!
        for _ in $(seq 1 100); do
            curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$PID" 2>/dev/null && fail "magnum serve did not answer on 127.0.0.1:$PORT"
        log "magnum serve exited on port $PORT: $(tail -n 2 "$WORK/magnum.log" | tr '\n' ' ')"
        PID=""
        PORT=$(( 30000 + RANDOM % 10000 ))
        "$BIN" bootstrap --keystone-url "$KS_URL" --admin-user admin --admin-password admin --admin-project admin --public-url "http://127.0.0.1:$PORT" >/dev/null
    done
    fail "magnum serve exited"
}
cleanup() {
    [[ -n "$KUBE_PID" ]] && kill "$KUBE_PID" 2>/dev/null
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        for c in $(os_quiet coe cluster list -f value -c name 2>/dev/null); do os_quiet coe cluster delete "$c" >/dev/null 2>&1 || true; done
        for _ in $(seq 1 120); do [[ -z "$(os_quiet coe cluster list -f value -c name 2>/dev/null)" ]] && break; sleep 1; done
        kill "$PID" 2>/dev/null
    fi
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

KS_URL="$(scripts/keystone.sh start | tail -n 1)"
scripts/heat.sh start >/dev/null
OSBIN="$(scripts/clients.sh install | tail -n 1)"
export OS_AUTH_URL="$KS_URL" OS_USERNAME=demo OS_PASSWORD=demo OS_PROJECT_NAME=demo OS_USER_DOMAIN_NAME=Default \
    OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne
os_quiet() { "$OSBIN/openstack" "$@"; }
os() { os_quiet "$@" 2>"$WORK/err" || fail "openstack $*: $(cat "$WORK/err")"; }
field() { "$OSBIN/python" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }
# settle NAME [SECONDS] — waits until the cluster leaves *_IN_PROGRESS; prints its status.
settle() {
    local s deadline=$(( $(date +%s) + ${2:-120} ))
    while (( $(date +%s) < deadline )); do
        s="$(os coe cluster show "$1" -f value -c status)"
        if [[ "$s" == *_FAILED ]]; then log "$1 is $s: $(os coe cluster show "$1" -f value -c status_reason)"; fi
        [[ "$s" == *_IN_PROGRESS ]] || { echo "$s"; return 0; }
        sleep 1
    done
    fail "cluster $1 still $s after ${2:-120} s"
}
gone() { # gone NAME — waits (at most 120 s) until the cluster is deleted
    for _ in $(seq 1 120); do
        os_quiet coe cluster show "$1" >/dev/null 2>&1 || return 0
        sleep 1
    done
    fail "cluster $1 was not deleted within 120 s"
}
# Heat's and Keystone's own view, with the demo user's and the admin's tokens.
token() { "$OSBIN/openstack" --os-username "$1" --os-password "$1" --os-project-name "$1" token issue -f value -c id; }
DEMO_TOKEN="$(token demo)"
DEMO_PROJECT="$(os token issue -f value -c project_id)"
HEAT="http://127.0.0.1:8004/v1/$DEMO_PROJECT"
# stacks — this scenario's stacks in project demo (its clusters' names start them).
stacks() {
    curl -fsS -H "X-Auth-Token: $DEMO_TOKEN" "$HEAT/stacks" \
        | field "' '.join(sorted(n for n in (s['stack_name'] for s in d['stacks']) if n.split('-')[0] in ('k8s', 'swarm') or n.startswith(('standin-fail-k8s-', 'standin-slow-'))))"
}
admin_get() { curl -fsS -H "X-Auth-Token: $(token admin)" "$KS_URL$1"; }
trustee_ids() { admin_get "/users?domain_id=$(admin_get "/domains?name=magnum" | field "d['domains'][0]['id']")" | field "' '.join(u['id'] for u in d['users'])"; }

"${MAGNUM_HEAT_DIR:-/tmp/magnum-heat}/venv/bin/python" scripts/heat-standins.py "$WORK/standins" >/dev/null
cat > "$WORK/knobs.yaml" <<'YAML'
parameter_defaults:
  standin_slow_seconds: 75
YAML
"$BIN" bootstrap --keystone-url "$KS_URL" --admin-user admin --admin-password admin --admin-project admin --public-url "http://127.0.0.1:$PORT" >/dev/null
TRUSTEES_BEFORE="$(trustee_ids)"
start_server
log "magnum serve on 127.0.0.1:$PORT (Keystone $KS_URL, Heat $HEAT)"
[[ -z "$(stacks)" ]] || fail "project demo already has this scenario's stacks: $(stacks)"

os coe cluster template create heat-k8s --coe kubernetes --image fedora-coreos-latest --external-network public \
    --flavor m1.small --master-flavor m1.small --server-type vm --master-lb-enabled >/dev/null

# Through Keystone, templates are checked against the services of the token's catalog (here
# the Glance-, Nova- and Neutron-compatible endpoints `magnum bootstrap` registered).
os_fails() { # os_fails PATTERN ARGS… — the command fails with PATTERN in its error
    local pattern=$1; shift
    if os_quiet "$@" >/dev/null 2>"$WORK/err"; then fail "openstack $* succeeded"; fi
    grep -qE "$pattern" "$WORK/err" || fail "openstack $*: expected /$pattern/, got: $(cat "$WORK/err")"
}
os_fails "Image no-such-image could not be found" coe cluster template create bad --coe kubernetes --image no-such-image \
    --external-network public --flavor m1.small --server-type vm
os_fails "Unable to find flavor no-such-flavor" coe cluster template create bad --coe kubernetes --image fedora-coreos-latest \
    --external-network public --flavor no-such-flavor --server-type vm
os_fails "Unable to find external network private" coe cluster template create bad --coe kubernetes --image fedora-coreos-latest \
    --external-network private --flavor m1.small --server-type vm
os_fails "Unable to find keypair no-such-key" coe cluster create bad --cluster-template heat-k8s --keypair no-such-key

log "kubernetes 1+2, a failing one and two slow ones at once"
start=$(date +%s.%N)
os coe cluster create k8s --cluster-template heat-k8s --master-count 1 --node-count 2 >/dev/null
os coe cluster create standin-fail-k8s --cluster-template heat-k8s --node-count 1 >/dev/null
os coe cluster create standin-slow-timeout --cluster-template heat-k8s --node-count 1 --timeout 1 >/dev/null
os coe cluster create standin-slow-crash --cluster-template heat-k8s --node-count 1 >/dev/null
expect_eq "$(settle k8s)" CREATE_COMPLETE "create"
log "1+2 cluster CREATE_COMPLETE in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s (through the client, 4 creates at once)"
os coe cluster show k8s -f json > "$WORK/k8s.json"
api="$(field "d['api_address']" < "$WORK/k8s.json")"
[[ "$api" =~ ^https://[0-9.]+:6443$ ]] || fail "api_address $api"
expect_eq "$(field "len(d['master_addresses'])" < "$WORK/k8s.json")" 1 "master_addresses"
expect_eq "$(field "len(d['node_addresses'])" < "$WORK/k8s.json")" 2 "node_addresses"
# The stand-ins' addresses are on loopback, so Magnum's health check (the Kubernetes API with
# Magnum's client certificate) stays on this machine: nothing listens there, so it is UNKNOWN
# and says why.
expect_eq "$(field "all(a.startswith('127.') for a in [d['api_address'].split('/')[2].split(':')[0]] + d['master_addresses'] + d['node_addresses'])" < "$WORK/k8s.json")" True "loopback addresses"
expect_eq "$(field "d['health_status']" < "$WORK/k8s.json")" UNKNOWN "health of a cluster whose API does not answer"
[[ "$(field "str(d['health_status_reason'])" < "$WORK/k8s.json")" == *"could not be reached"* ]] \
    || fail "health_status_reason: $(field "d['health_status_reason']" < "$WORK/k8s.json")"

log "the cluster's own API (a test double on its loopback API address, with a certificate of the cluster CA)"
kube="$WORK/kube"
mkdir -p "$kube"
host="${api#https://}"
host="${host%:6443}"
os coe ca show k8s | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' > "$kube/ca.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$kube/api.key" -subj "/CN=kube-apiserver" \
    -addext "subjectAltName=IP:$host" -addext "extendedKeyUsage=serverAuth" -out "$kube/api.csr" 2>/dev/null
os coe ca sign k8s "$kube/api.csr" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' > "$kube/api.crt"
python3 scripts/kube-api-double.py --bind "$host:6443" --cert "$kube/api.crt" --key "$kube/api.key" --ca "$kube/ca.pem" \
    --nodes k8s-master-0,k8s-node-0,k8s-node-1 --record "$kube/secrets.jsonl" > "$kube/double.log" 2>&1 &
KUBE_PID=$!
for _ in $(seq 1 50); do grep -q listening "$kube/double.log" && break; sleep 0.1; done
grep -q listening "$kube/double.log" || fail "the Kubernetes API double did not start: $(cat "$kube/double.log")"
for _ in $(seq 1 60); do
    [[ "$(os coe cluster show k8s -f value -c health_status)" == HEALTHY ]] && break
    sleep 1
done
os coe cluster show k8s -f json > "$WORK/k8s.json"
expect_eq "$(field "d['health_status']" < "$WORK/k8s.json")" HEALTHY "health once the API answers"
expect_eq "$(field "sorted(d['health_status_reason'].items())" < "$WORK/k8s.json")" \
    "[('api', 'ok'), ('k8s-master-0.Ready', 'True'), ('k8s-node-0.Ready', 'True'), ('k8s-node-1.Ready', 'True')]" "health_status_reason"
# joined N — type, token id and authentication usage of the Nth bootstrap-token Secret the
# driver registered through the API (nodes added to a running cluster join with it)
joined() { sed -n "${1}p" "$kube/secrets.jsonl" | field "d['type'] + ' ' + d['stringData']['token-id'] + ' ' + d['stringData']['usage-bootstrap-authentication']"; }
stack_id="$(field "d['cluster_id']" < "$WORK/k8s.json")"   # stack_id below µv 1.13
[[ -n "$stack_id" && "$stack_id" != None ]] || fail "no stack_id"
curl -fsS -H "X-Auth-Token: $DEMO_TOKEN" "$HEAT/stacks/$stack_id" -L | field "d['stack']['stack_status']" | grep -qx CREATE_COMPLETE \
    || fail "Heat does not show stack $stack_id CREATE_COMPLETE"

log "the injected nested failure"
expect_eq "$(settle standin-fail-k8s)" CREATE_FAILED "failing create"
faults="$(os coe cluster show standin-fail-k8s -f json | field "d['faults']")"
[[ "$faults" == *"standin-fail"* || "$faults" == *OS::Nova::Server* ]] || fail "faults do not name the failing server: $faults"
log "faults: $faults"

log "SIGKILL magnum while standin-slow-crash and standin-slow-timeout are in CREATE_IN_PROGRESS"
expect_eq "$(os coe cluster show standin-slow-crash -f value -c status)" CREATE_IN_PROGRESS "slow create"
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
sleep 2
start_server fixed
expect_eq "$(settle standin-slow-timeout 150)" CREATE_FAILED "create past its timeout"
reason="$(os coe cluster show standin-slow-timeout -f value -c status_reason)"
[[ "$reason" == *[Tt]imed\ out* || "$reason" == *create_timeout* ]] || fail "timeout reason: $reason"
expect_eq "$(settle standin-slow-crash 150)" CREATE_COMPLETE "create across a conductor crash"
[[ "$(stacks | tr ' ' '\n' | grep -c '^standin-slow-crash-')" == 1 ]] || fail "one stack for the re-attached cluster: $(stacks)"

log "resize to 3, then to 2 removing one worker by its address"
os coe cluster resize k8s 3 >/dev/null
expect_eq "$(settle k8s)" UPDATE_COMPLETE "resize up"
[[ "$(joined 1)" =~ ^bootstrap.kubernetes.io/token\ [a-z0-9]{6}\ true$ ]] || fail "resize up registered no join token: $(cat "$kube/secrets.jsonl")"
expect_eq "$(os coe cluster show k8s -f json | field "len(d['node_addresses'])")" 3 "node_addresses after resize to 3"
# A worker address no other node of the cluster has (stand-in addresses are drawn at random).
first="$(os coe cluster show k8s -f json | field "[a for a in d['node_addresses'] if (d['node_addresses'] + d['master_addresses']).count(a) == 1][0]")"
os coe cluster resize k8s 2 --nodes-to-remove "$first" >/dev/null
expect_eq "$(settle k8s)" UPDATE_COMPLETE "resize down"
after="$(os coe cluster show k8s -f json | field "' '.join(d['node_addresses'])")"
[[ " $after " != *" $first "* ]] || fail "$first is still a node: $after"
expect_eq "$(wc -w <<<"$after" | tr -d ' ')" 2 "node count after removing $first"

log "a nodegroup of its own stack"
os coe nodegroup create k8s extra --node-count 1 >/dev/null
for _ in $(seq 1 120); do
    s="$(os coe nodegroup show k8s extra -f value -c status)"
    [[ "$s" == *_IN_PROGRESS ]] || break
    sleep 1
done
expect_eq "$s" CREATE_COMPLETE "nodegroup create"
[[ "$(wc -l < "$kube/secrets.jsonl")" == 2 ]] || fail "resize down or the new nodegroup: $(cat "$kube/secrets.jsonl")"
[[ "$(joined 2)" =~ ^bootstrap.kubernetes.io/token ]] || fail "the new nodegroup registered no join token"
expect_eq "$(os coe nodegroup show k8s extra -f json | field "len(d['node_addresses'])")" 1 "nodegroup node_addresses"
[[ "$(stacks)" == *"-extra-"* ]] || fail "no nodegroup stack: $(stacks)"

log "CA rotation through a stack update of the cluster's and the nodegroup's stacks"
# No server boots here, so each stand-in server's agent (the real bootstrap/agent.sh) is run by
# this script with the demo user's credentials in place of those Heat writes into a real
# server's Ignition config. Instead of the rotation script (which rewrites a node's
# certificates and restarts its services) it runs a check of what a node is handed: the new CA,
# and a trust token with which Magnum signs the node's CSR under the new CA.
os coe ca show k8s | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' > "$WORK/ca-old.pem"
os coe ca rotate k8s >/dev/null
expect_eq "$(os coe cluster show k8s -f value -c status)" UPDATE_IN_PROGRESS "status of a rotating cluster"
os coe ca show k8s | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' > "$WORK/ca-new.pem"
cmp -s "$WORK/ca-old.pem" "$WORK/ca-new.pem" && fail "coe ca rotate: the CA did not change"
cat > "$WORK/rotation-check.sh" <<'CHECK'
#!/usr/bin/env bash
# The node's side of a rotation, checked: $1 is the script Heat handed over, the inputs are in
# the environment.
set -euo pipefail
grep -q '^rotation_init$' "$1"
[[ -n "$rotation_id" && -n "$bootstrap_token" && -n "$etcd_ca" && -n "$front_proxy_ca" ]]
[[ "$(openssl x509 -noout -fingerprint <<<"$kubernetes_ca")" == "$(openssl x509 -noout -fingerprint -in "$CHECK_DIR/ca-new.pem")" ]]
# shellcheck source=/dev/null
. "$CHECK_COMMON"
BOOTSTRAP_TOKEN="$bootstrap_token"
d="$(mktemp -d)"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/node.key" -subj "/CN=$deploy_server_id" -out "$d/node.csr" 2>/dev/null
post_csr "$d/node.csr" kubernetes "$d/node.crt"
openssl verify -CAfile "$CHECK_DIR/ca-new.pem" "$d/node.crt" >/dev/null
echo "$deploy_server_id" >> "$CHECK_DIR/rotated"
echo "rotated $deploy_server_id onto $rotation_id"
CHECK
chmod 755 "$WORK/rotation-check.sh"
demo_user="$(os token issue -f value -c user_id)"
mkdir -p "$WORK/agents"
for stack in $(stacks); do
    [[ "$stack" == k8s-* ]] || continue
    curl -fsS -L -H "X-Auth-Token: $DEMO_TOKEN" "$HEAT/stacks/$stack/resources?nested_depth=3&type=OS::Nova::Server" | "$OSBIN/python" -c '
import json, os, sys
work, auth_url, user, project = sys.argv[1:]
for r in (r for r in json.load(sys.stdin)["resources"] if r["resource_type"] == "OS::Nova::Server"):
    stack = next(l["href"] for l in r["links"] if l["rel"] == "stack").split("/stacks/")[1]
    d = os.path.join(work, r["physical_resource_id"])
    os.makedirs(d)
    json.dump({"os-collect-config": {"heat": {"auth_url": auth_url, "user_id": user, "password": "demo",
               "project_id": project, "stack_id": stack, "resource_name": r["resource_name"]}}},
              open(os.path.join(d, "cfn-init-data"), "w"))
' "$WORK/agents" "$KS_URL" "$demo_user" "$DEMO_PROJECT"
done
expect_eq "$(find "$WORK/agents" -name cfn-init-data | wc -l)" 4 "servers of k8s and its nodegroup (1 master, 2 workers, 1 extra)"
cluster_uuid="$(os coe cluster show k8s -f value -c uuid)"
agents_run() {
    local d
    for d in "$WORK"/agents/*/; do
        CHECK_DIR="$WORK" CHECK_COMMON="$PWD/Sources/HeatDriver/Templates/bootstrap/common.sh" MAGNUM_URL="http://127.0.0.1:$PORT" \
            CLUSTER_UUID="$cluster_uuid" MAGNUM_AGENT_RUN="$WORK/rotation-check.sh" \
            MAGNUM_COMMON="$PWD/Sources/HeatDriver/Templates/bootstrap/common.sh" MAGNUM_AGENT_CREDENTIALS="$d/cfn-init-data" \
            MAGNUM_AGENT_STATE="$d/state" bash Sources/HeatDriver/Templates/bootstrap/agent.sh 2>>"$d/agent.log" || true
    done
}
for _ in $(seq 1 120); do
    agents_run
    s="$(os coe cluster show k8s -f value -c status)"
    [[ "$s" == *_IN_PROGRESS ]] || break
    sleep 1
done
[[ "$s" == UPDATE_COMPLETE ]] || fail "CA rotation: cluster $s ($(os coe cluster show k8s -f value -c status_reason)); agents: $(cat "$WORK"/agents/*/agent.log | tail -n 20)"
expect_eq "$(sort -u "$WORK/rotated" | wc -l)" 4 "servers rotated (each checked its inputs and had its CSR signed under the new CA)"
expect_eq "$(wc -l < "$WORK/rotated")" 4 "rotations run (once per server)"
expect_eq "$(os coe nodegroup show k8s extra -f value -c status)" UPDATE_COMPLETE "the nodegroup after the rotation"
os coe nodegroup delete k8s extra >/dev/null
for _ in $(seq 1 120); do os_quiet coe nodegroup show k8s extra >/dev/null 2>&1 || break; sleep 1; done
os_quiet coe nodegroup show k8s extra >/dev/null 2>&1 && fail "nodegroup extra not deleted"
[[ "$(stacks)" != *"-extra-"* ]] || fail "nodegroup stack left: $(stacks)"

log "swarm-mode"
os coe cluster template create heat-swarm --coe swarm-mode --image fedora-coreos-latest --external-network public \
    --flavor m1.small --master-flavor m1.small --server-type vm >/dev/null
os coe cluster create swarm --cluster-template heat-swarm --node-count 1 >/dev/null
expect_eq "$(settle swarm)" CREATE_COMPLETE "swarm-mode create"
[[ "$(os coe cluster show swarm -f value -c api_address)" =~ ^tcp://127\.[0-9.]+:2376$ ]] || fail "swarm api_address"
expect_eq "$(os coe cluster show swarm -f value -c health_status)" UNKNOWN "health of a swarm whose engine does not answer"

log "delete everything"
# This run's trustees: those not there before it started.
trustees="$(comm -13 <(tr ' ' '\n' <<<"$TRUSTEES_BEFORE" | sort) <(trustee_ids | tr ' ' '\n' | sort) | tr '\n' ' ')"
expect_eq "$(wc -w <<<"$trustees" | tr -d ' ')" 5 "trustee users (one per cluster)"
for c in k8s standin-fail-k8s standin-slow-timeout standin-slow-crash swarm; do os coe cluster delete "$c" >/dev/null; done
for c in k8s standin-fail-k8s standin-slow-timeout standin-slow-crash swarm; do gone "$c"; done
expect_eq "$(stacks)" "" "stacks left in project demo"
for t in $trustees; do
    [[ " $(trustee_ids) " != *" $t "* ]] || fail "trustee user $t left"
done
for t in $trustees; do
    expect_eq "$(admin_get "/OS-TRUST/trusts?trustee_user_id=$t" | field "len(d['trusts'])")" 0 "trusts of trustee $t"
done
log "passed"
