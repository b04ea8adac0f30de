#!/usr/bin/env bash
# End to end through the local_swarm driver, as a user does: `magnum serve` on a fresh data
# directory (built-in identity), the real `openstack coe` client and the real `docker` client.
#
#   scripts/local-swarm-e2e.sh [MAGNUM_BINARY]
#
# Creates a 1 master + 2 worker Swarm-mode cluster, runs a 3-replica service on three nodes
# and reaches each task, resizes to 4 and to 1 with nodes_to_remove, adds and deletes a
# nodegroup (its labels on the Swarm nodes), rotates the CA (the old client certificate is
# refused, the new one works), kills a worker's daemon and sees it replaced
# (auto_healing_enabled=true), SIGKILLs `magnum` mid-create and sees that cluster complete after
# a restart, deletes both and asserts nothing of them is left on the host. Needs root
# (scripts/local-swarm.sh prepare installs docker.io and busybox-static).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:-.build/debug/magnum}")"
PORT="${MAGNUM_E2E_PORT:-$(( 40000 + RANDOM % 10000 ))}"
INDEXES="${MAGNUM_E2E_INDEXES:-201-250}"
WORK="$(mktemp -d /tmp/magnum-e2e.XXXXXX)"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}" SHELL="${SHELL:-/bin/bash}"
PID=""
INDEXES_USED=()

log() { echo "local-swarm-e2e.sh: $*" >&2; }
fail() {
    log "FAIL: $*"
    [[ -f "$WORK/magnum.log" ]] && grep -vE " (debug|trace) " "$WORK/magnum.log" | tail -n 25 >&2
    exit 1
}
# start_server [fixed] — a first start may move to another random port when its own is taken
# (the range overlaps the ephemeral ports of outgoing connections); a restart keeps the port
# the clouds.yaml of the first start names.
start_server() {
    local attempts=3
    [[ "${1:-}" == fixed ]] && attempts=1
    for _ in $(seq 1 "$attempts"); do
        "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" --clouds-file none --monitor-interval 1 \
            --local-swarm-indexes "$INDEXES" >> "$WORK/magnum.log" 2>&1 &
        PID=$!
        for _ in $(seq 1 100); do
            curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$PID" 2>/dev/null && fail "magnum serve did not answer on 127.0.0.1:$PORT"
        log "magnum serve exited on port $PORT: $(tail -n 2 "$WORK/magnum.log" | tr '\n' ' ')"
        PID=""
        PORT=$(( 40000 + RANDOM % 10000 ))
    done
    fail "magnum serve exited"
}
cleanup() {
    # Whatever the outcome, delete what the scenario built (the driver's own teardown, through
    # the API), then stop the server.
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        for c in $(os_quiet coe cluster list -f value -c name 2>/dev/null); do os_quiet coe cluster delete "$c" >/dev/null 2>&1 || true; done
        for _ in $(seq 1 60); do [[ -z "$(os_quiet coe cluster list -f value -c name 2>/dev/null)" ]] && break; sleep 0.5; done
        kill "$PID" 2>/dev/null
    fi
    wait 2>/dev/null || true
    # Anything a failed run left behind the driver's back (by name, in this run's index range).
    scripts/local-swarm.sh sweep $(seq "${INDEXES%-*}" "${INDEXES#*-}") || true
    rm -rf "$WORK"
}
trap cleanup EXIT

OSBIN="$(scripts/clients.sh install | tail -n 1)"
os_quiet() { OS_CLIENT_CONFIG_FILE="$WORK/data/clouds.yaml" OS_CLOUD=magnum-admin "$OSBIN/openstack" "$@"; }
os() { os_quiet "$@" 2>"$WORK/err" || fail "openstack $*: $(cat "$WORK/err")"; }
field() { "$OSBIN/python" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }
# settle NAME — waits (at most 120 s) until the cluster leaves *_IN_PROGRESS; prints its status.
settle() {
    local s
    for _ in $(seq 1 240); do
        s="$(os coe cluster show "$1" -f value -c status)"
        [[ "$s" == *_IN_PROGRESS ]] || { echo "$s"; return 0; }
        sleep 0.5
    done
    fail "cluster $1 still $s after 120 s"
}
gone() { # gone NAME — waits (at most 60 s) until the cluster is deleted
    for _ in $(seq 1 120); do
        os_quiet coe cluster show "$1" >/dev/null 2>&1 || return 0
        sleep 0.5
    done
    fail "cluster $1 was not deleted within 60 s"
}
# dk DIR ARGS… — the real docker client with the files `coe cluster config` wrote into DIR.
dk() { local dir=$1; shift; DOCKER_HOST="$API" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$dir" docker "$@"; }
nodes() { dk "$WORK/cfg" node ls --format '{{.Hostname}} {{.Status}}' | sort; }
ready_nodes() { nodes | awk '$2 == "Ready" {print $1}' | tr '\n' ' '; }

scripts/local-swarm.sh prepare >/dev/null
start_server
log "magnum serve on 127.0.0.1:$PORT, local_swarm indexes $INDEXES"

os coe cluster template create e2e-swarm --coe swarm-mode --image local-swarm --external-network public \
    --flavor local.small --master-flavor local.small --server-type vm >/dev/null
start=$(date +%s.%N)
os coe cluster create e2e --cluster-template e2e-swarm --master-count 1 --node-count 2 --labels auto_healing_enabled=true >/dev/null
expect_eq "$(settle e2e)" CREATE_COMPLETE "create"
log "1+2 cluster CREATE_COMPLETE in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s (through the client)"
os coe cluster show e2e -f json > "$WORK/e2e.json"
K="$(field "d['cluster_id'].removeprefix('msw')" < "$WORK/e2e.json")"
INDEXES_USED+=("$K")
API="tcp://198.18.$K.10:2376"
expect_eq "$(field "d['api_address']" < "$WORK/e2e.json")" "$API" "api_address"
expect_eq "$(field "d['master_addresses']" < "$WORK/e2e.json")" "['198.18.$K.10']" "master_addresses"
expect_eq "$(field "sorted(d['node_addresses'])" < "$WORK/e2e.json")" "['198.18.$K.20', '198.18.$K.21']" "node_addresses"
expect_eq "$(field "d['health_status']" < "$WORK/e2e.json")" HEALTHY "health_status"
version="$(field "d['coe_version']" < "$WORK/e2e.json")"
[[ "$version" == "$(/usr/sbin/dockerd --version | sed -E 's/Docker version ([^,]+),.*/\1/')" ]] || fail "coe_version $version is not the engine's"

log "coe cluster config → the docker client"
mkdir -p "$WORK/cfg"
os coe cluster config e2e --dir "$WORK/cfg" --output-certs > "$WORK/config.out"
grep -q "export DOCKER_HOST=$API" "$WORK/config.out" || fail "cluster config: $(cat "$WORK/config.out")"
expect_eq "$(ready_nodes)" "master-0 node-0 node-1 " "docker node ls"
dk "$WORK/cfg" service create --name web --replicas 3 --endpoint-mode dnsrr --no-resolve-image --init --detach \
    --publish mode=host,target=8080,published=18080 busybox:local \
    sh -c 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null
for _ in $(seq 1 100); do
    [[ "$(dk "$WORK/cfg" service ps web --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | grep -c ' Running')" == 3 ]] && break
    sleep 0.2
done
expect_eq "$(dk "$WORK/cfg" service ps web --filter desired-state=running --format '{{.Node}}' | sort | tr '\n' ' ')" "master-0 node-0 node-1 " "tasks on three nodes"
for ip in 10 20 21; do
    answer="$(curl -s --max-time 5 "http://198.18.$K.$ip:18080/")" || fail "task on 198.18.$K.$ip does not answer"
    [[ -n "$answer" ]] || fail "task on 198.18.$K.$ip answered nothing"
done

log "resize to 4, then to 1 removing node-0 and node-2"
os coe cluster resize e2e 4 >/dev/null
expect_eq "$(settle e2e)" UPDATE_COMPLETE "resize up"
expect_eq "$(ready_nodes)" "master-0 node-0 node-1 node-2 node-3 " "nodes after resize to 4"
os coe cluster resize e2e 1 --nodes-to-remove node-0 --nodes-to-remove node-2 >/dev/null
expect_eq "$(settle e2e)" UPDATE_COMPLETE "resize down"
remaining="$(ready_nodes)"
[[ "$remaining" == "master-0 node-1 " || "$remaining" == "master-0 node-3 " ]] || fail "nodes after resize to 1 removing node-0, node-2: $remaining"
expect_eq "$(nodes | wc -l)" 2 "swarm nodes after resize down"
expect_eq "$(os coe cluster show e2e -f json | field "(d['node_count'], len(d['node_addresses']))")" "(1, 1)" "node_count after resize"

log "nodegroup create and delete"
os coe nodegroup create e2e extra --node-count 1 --labels zone=lab >/dev/null
for _ in $(seq 1 120); do
    s="$(os coe nodegroup show e2e extra -f value -c status)"; [[ "$s" == *_IN_PROGRESS ]] || break; sleep 0.5
done
expect_eq "$s" CREATE_COMPLETE "nodegroup create"
extra="$(nodes | awk '$1 ~ /^extra-/ {print $1}')"
[[ -n "$extra" ]] || fail "no node of nodegroup extra in the swarm: $(nodes)"
expect_eq "$(dk "$WORK/cfg" node inspect "$extra" --format '{{index .Spec.Labels "zone"}} {{index .Spec.Labels "magnum.nodegroup"}}')" "lab extra" "nodegroup labels on the node"
os coe nodegroup delete e2e extra >/dev/null
for _ in $(seq 1 120); do os_quiet coe nodegroup show e2e extra >/dev/null 2>&1 || break; sleep 0.5; done
os_quiet coe nodegroup show e2e extra >/dev/null 2>&1 && fail "nodegroup extra was not deleted"
nodes | grep -q "^extra-" && fail "nodegroup extra's node is still in the swarm"

log "CA rotation"
cp -r "$WORK/cfg" "$WORK/old"
os coe ca rotate e2e >/dev/null
expect_eq "$(settle e2e)" UPDATE_COMPLETE "CA rotation"
os coe cluster config e2e --dir "$WORK/cfg" --output-certs --force >/dev/null
cmp -s "$WORK/old/ca.pem" "$WORK/cfg/ca.pem" && fail "the CA did not change"
dk "$WORK/cfg" node ls >/dev/null || fail "the new client certificate is refused"
# The old client certificate, presented to a daemon now trusting only the new CA.
if DOCKER_HOST="$API" docker --tlsverify --tlscacert "$WORK/cfg/ca.pem" --tlscert "$WORK/old/cert.pem" --tlskey "$WORK/old/key.pem" \
    node ls > "$WORK/old.out" 2>&1; then
    fail "the old client certificate is still accepted"
fi
grep -qiE "bad certificate|certificate required|unknown certificate|remote error" "$WORK/old.out" || fail "old certificate: $(cat "$WORK/old.out")"

log "auto-healing: a worker's daemon is killed"
victim="$(nodes | awk '$1 ~ /^node-/ {print $1; exit}')"
victim_ip="$(os coe cluster show e2e -f json | field "d['node_addresses'][0]")"
pkill -KILL -f -- "-H tcp://$victim_ip:2376" || fail "no daemon of $victim at $victim_ip"
# Replaced: the dead node's entry is gone from the swarm and a new worker is Ready.
for _ in $(seq 1 120); do
    healed="$(nodes | tr '\n' ' ')"
    [[ "$healed" != *"$victim "* && "$(ready_nodes | wc -w)" == 2 && "$(nodes | wc -l)" == 2 ]] && break
    sleep 0.5
done
[[ "$healed" != *"$victim "* && "$(ready_nodes | wc -w)" == 2 && "$(nodes | wc -l)" == 2 ]] || fail "$victim was not replaced: $(nodes)"
for _ in $(seq 1 20); do
    [[ "$(os coe cluster show e2e -f value -c health_status)" == HEALTHY ]] && break; sleep 0.5
done
expect_eq "$(os coe cluster show e2e -f json | field "(d['status'], d['health_status'], d['node_count'])")" "('UPDATE_COMPLETE', 'HEALTHY', 1)" "after the repair"

log "SIGKILL magnum mid-create, restart"
os coe cluster create e2e-crash --cluster-template e2e-swarm --node-count 1 >/dev/null
# Killed once the driver has claimed the second cluster's subnet, while it starts the nodes.
for _ in $(seq 1 100); do
    [[ "$(ls -d "$WORK"/data/local-swarm/c* 2>/dev/null | wc -l)" == 2 ]] && break
    sleep 0.05
done
sleep 0.3
kill -KILL "$PID"; wait "$PID" 2>/dev/null || true; PID=""
start_server fixed
expect_eq "$(settle e2e-crash)" CREATE_COMPLETE "create after the restart"
K2="$(os coe cluster show e2e-crash -f value -c cluster_id)"; K2="${K2#msw}"
INDEXES_USED+=("$K2")
mkdir -p "$WORK/crash"
os coe cluster config e2e-crash --dir "$WORK/crash" --output-certs >/dev/null
expect_eq "$(DOCKER_HOST="tcp://198.18.$K2.10:2376" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$WORK/crash" docker node ls --format '{{.Status}}' | sort | uniq -c | tr -s ' ')" " 2 Ready" "nodes of the cluster created across the crash"

log "delete"
os coe cluster delete e2e e2e-crash >/dev/null
gone e2e
gone e2e-crash
scripts/local-swarm.sh leftovers "${INDEXES_USED[@]}" || fail "the deleted clusters left something on the host"
leftover="$(ls "$WORK/data/local-swarm")"
expect_eq "$leftover" images "the driver's state directory after deleting every cluster"
log "passed (cluster indexes ${INDEXES_USED[*]})"
