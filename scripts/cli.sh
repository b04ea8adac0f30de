#!/usr/bin/env bash
# Drives the built `magnum` with the real `openstack` client (python-openstackclient +
# python-magnumclient), as a user does: templates, clusters, nodegroups, quotas, stats and
# `coe service list`, plus the local catalog's flavors, images and keypairs.
#
#   scripts/cli.sh keystone [MAGNUM_BINARY]   against a real Keystone (scripts/keystone.sh),
#                                             Magnum registered by `magnum bootstrap`, and a
#                                             real Heat (scripts/heat.sh)
#   scripts/cli.sh builtin  [MAGNUM_BINARY]   against the all-in-one's built-in identity, using
#                                             the clouds.yaml `magnum serve` writes on first start
#
# Each run starts its own server on a fresh data directory (127.0.0.1 only), stops it at the end
# and exits non-zero at the first command that fails or answers something unexpected.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:?usage: $0 keystone|builtin [MAGNUM_BINARY]}"
BIN="$(realpath "${2:-.build/debug/magnum}")"
PORT="${MAGNUM_CLI_PORT:-$(( 30000 + RANDOM % 10000 ))}"
WORK="$(mktemp -d /tmp/magnum-cli.XXXXXX)"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"
# `coe cluster config` reads $SHELL to choose its export syntax (python-magnumclient indexes
# os.environ["SHELL"]); CI runners may start us without one.
export SHELL="${SHELL:-/bin/bash}"
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

log() { echo "cli.sh[$MODE]: $*" >&2; }
fail() { log "FAIL: $*"; [[ -f "$WORK/magnum.log" ]] && tail -n 20 "$WORK/magnum.log" >&2; exit 1; }

start_server() { # ARGS…
    "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" "$@" > "$WORK/magnum.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
        kill -0 "$PID" 2>/dev/null || fail "magnum serve exited"
        sleep 0.1
    done
    fail "magnum serve did not answer on 127.0.0.1:$PORT"
}

# os CLOUD ARGS… — one `openstack` command as CLOUD; output on stdout.
os() {
    local cloud=$1; shift
    OS_CLIENT_CONFIG_FILE="$WORK/clouds.yaml" OS_CLOUD="$cloud" "$OSBIN/openstack" "$@" 2>"$WORK/err" \
        || fail "openstack $* (as $cloud): $(cat "$WORK/err")"
}
# os_fails CLOUD PATTERN ARGS… — the command must report an error matching PATTERN. (Some
# commands, `coe quotas create` among them, print the server's error and still exit 0.)
os_fails() {
    local cloud=$1 pattern=$2; shift 2
    local rc=0
    OS_CLIENT_CONFIG_FILE="$WORK/clouds.yaml" OS_CLOUD="$cloud" "$OSBIN/openstack" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    grep -qiE "$pattern" "$WORK/out" "$WORK/err" \
        || fail "openstack $* (as $cloud) exited $rc; its output '$(cat "$WORK/out" "$WORK/err")' does not match '$pattern'"
}
# os_quiet CLOUD ARGS… — one `openstack` command whose failure is the caller's to judge.
os_quiet() { local cloud=$1; shift; OS_CLIENT_CONFIG_FILE="$WORK/clouds.yaml" OS_CLOUD="$cloud" "$OSBIN/openstack" "$@"; }
# field JSON EXPR — a value from JSON on stdin.
field() { "$OSBIN/python" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }
# expect_settled CLOUD CLUSTER STATUS WHAT REASON — waits (60 s at most) until the cluster leaves
# *_IN_PROGRESS; it must then be in STATUS with REASON in its status_reason.
expect_settled() {
    local status reason
    for _ in $(seq 1 120); do
        status="$(os "$1" coe cluster show "$2" -f value -c status)"
        [[ "$status" == *_IN_PROGRESS ]] || break
        sleep 0.5
    done
    expect_eq "$status" "$3" "$4"
    reason="$(os "$1" coe cluster show "$2" -f value -c status_reason)"
    [[ "$reason" == *"$5"* ]] || fail "$4: the status_reason does not say '$5': $reason"
}

# set_cluster_state NAME STATUS API_ADDRESS — what a driver reports through the conductor, written
# straight into the server's SQLite database (for a Kubernetes cluster, which no driver of the
# all-in-one builds yet).
set_cluster_state() {
    "$OSBIN/python" - "$WORK/data/magnum.sqlite" "$1" "$2" "$3" <<'PY'
import sqlite3, sys
db, name, status, address = sys.argv[1:]
c = sqlite3.connect(db, timeout=30)
with c:
    n = c.execute("UPDATE cluster SET status = ?, api_address = ? WHERE name = ?", (status, address, name)).rowcount
    c.execute("UPDATE nodegroup SET status = ? WHERE cluster_id IN (SELECT uuid FROM cluster WHERE name = ?)", (status, name))
sys.exit(0 if n == 1 else 1)
PY
}

# certificates MEMBER_CLOUD OTHER_CLOUD — on the cluster cli-cluster (template cli-ct, TLS on).
certificates() {
    local member=$1 other=$2 dir="$WORK/certs"
    mkdir -p "$dir"
    os "$member" coe ca show cli-cluster > "$dir/ca.out"
    sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$dir/ca.out" > "$dir/ca.pem"
    openssl x509 -in "$dir/ca.pem" -noout -text > "$dir/ca.txt" || fail "coe ca show printed no certificate: $(cat "$dir/ca.out")"
    grep -q "CA:TRUE" "$dir/ca.txt" || fail "the cluster CA is not a CA"
    grep -q "Subject: CN *= *cli-cluster" "$dir/ca.txt" || fail "the cluster CA is not named after the cluster: $(grep Subject: "$dir/ca.txt")"
    os_fails "$other" "could not be found" coe ca show cli-cluster

    openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/user.key" -subj "/CN=cli-user/O=developers" -out "$dir/user.csr" 2>/dev/null
    os "$member" coe ca sign cli-cluster "$dir/user.csr" > "$dir/sign.out"
    sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$dir/sign.out" > "$dir/user.pem"
    openssl verify -CAfile "$dir/ca.pem" "$dir/user.pem" >/dev/null 2>&1 || fail "coe ca sign: the certificate does not verify against the cluster CA"
    openssl x509 -in "$dir/user.pem" -noout -subject | grep -q "CN *= *cli-user" || fail "coe ca sign: subject not copied from the CSR"

    # `coe cluster config` needs a running cluster: what a driver reports when creation completes.
    set_cluster_state cli-cluster CREATE_COMPLETE "https://127.0.0.1:6443" || fail "could not mark cli-cluster complete"
    mkdir -p "$dir/kube"
    (cd "$dir" && os "$member" coe cluster config cli-cluster --dir "$dir/kube" --output-certs) > "$dir/config.out"
    grep -q "export KUBECONFIG=$dir/kube/config" "$dir/config.out" || fail "coe cluster config: $(cat "$dir/config.out")"
    for f in config ca.pem cert.pem key.pem; do [[ -s "$dir/kube/$f" ]] || fail "coe cluster config wrote no $f"; done
    openssl verify -CAfile "$dir/kube/ca.pem" "$dir/kube/cert.pem" >/dev/null 2>&1 || fail "coe cluster config: cert.pem does not verify against ca.pem"
    cmp -s "$dir/kube/ca.pem" "$dir/ca.pem" || diff <(openssl x509 -in "$dir/kube/ca.pem" -noout -fingerprint) <(openssl x509 -in "$dir/ca.pem" -noout -fingerprint) >/dev/null \
        || fail "coe cluster config: ca.pem is not the cluster CA"
    openssl x509 -in "$dir/kube/cert.pem" -noout -subject | grep -q "CN *= *admin" || fail "coe cluster config: the client certificate is not for admin"
    [[ "$(openssl x509 -in "$dir/kube/cert.pem" -noout -pubkey)" == "$(openssl pkey -in "$dir/kube/key.pem" -pubout)" ]] \
        || fail "coe cluster config: key.pem does not match cert.pem"
    "$OSBIN/python" - "$dir/kube/config" <<'PY' || fail "coe cluster config: the kubeconfig is not what kubectl expects"
import base64, sys, yaml
k = yaml.safe_load(open(sys.argv[1]))
assert k["kind"] == "Config" and k["current-context"] == "default", k
cluster = k["clusters"][0]["cluster"]
assert cluster["server"] == "https://127.0.0.1:6443", cluster
assert b"BEGIN CERTIFICATE" in base64.b64decode(cluster["certificate-authority-data"])
user = k["users"][0]["user"]
assert b"BEGIN CERTIFICATE" in base64.b64decode(user["client-certificate-data"])
assert b"PRIVATE KEY" in base64.b64decode(user["client-key-data"])
PY

    # A Swarm-mode cluster, built for real by the local driver: its configuration is a Docker
    # environment over TLS that the docker client uses as it is.
    os "$member" coe cluster template create cli-swarm-ct --coe swarm-mode --image local-swarm \
        --external-network public --flavor local.small --master-flavor local.small --server-type vm >/dev/null
    os "$member" coe cluster create cli-swarm --cluster-template cli-swarm-ct --node-count 1 >/dev/null
    for _ in $(seq 1 240); do
        status="$(os "$member" coe cluster show cli-swarm -f value -c status)"
        [[ "$status" == *_IN_PROGRESS ]] || break
        sleep 0.5
    done
    expect_eq "$status" CREATE_COMPLETE "cli-swarm created by the local driver"
    api="$(os "$member" coe cluster show cli-swarm -f value -c api_address)"
    [[ "$api" =~ ^tcp://198\.18\.[0-9]+\.10:2376$ ]] || fail "cli-swarm api_address: $api"
    mkdir -p "$dir/swarm"
    (cd "$dir" && os "$member" coe cluster config cli-swarm --dir "$dir/swarm" --output-certs) > "$dir/swarm.out"
    grep -q "export DOCKER_HOST=$api" "$dir/swarm.out" || fail "swarm config: $(cat "$dir/swarm.out")"
    grep -q "export DOCKER_CERT_PATH=$dir/swarm" "$dir/swarm.out" || fail "swarm config: $(cat "$dir/swarm.out")"
    grep -qi "export DOCKER_TLS_VERIFY=" "$dir/swarm.out" || fail "swarm config: $(cat "$dir/swarm.out")"
    for f in ca.pem cert.pem key.pem; do [[ -s "$dir/swarm/$f" ]] || fail "swarm config wrote no $f"; done
    openssl verify -CAfile "$dir/swarm/ca.pem" "$dir/swarm/cert.pem" >/dev/null 2>&1 || fail "swarm config: cert.pem does not verify against ca.pem"
    expect_eq "$(DOCKER_HOST="$api" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$dir/swarm" docker node ls --format '{{.Status}}' | tr '\n' ' ')" \
        "Ready Ready " "docker node ls with the files of coe cluster config"

    # CA rotation. The Heat driver's cli-cluster (marked complete above, though no cloud built
    # it) is accepted, and in Keystone mode the driver then fails it, as it has no stack to
    # update (built-in mode runs no Heat driver). The local driver rotates cli-swarm: a new CA,
    # under which the old signatures no longer verify.
    if [[ "$MODE" == keystone ]]; then
        os "$member" coe ca rotate cli-cluster >/dev/null
        expect_settled "$member" cli-cluster UPDATE_FAILED "CA rotation of a Heat cluster without a stack" \
            "has no Heat stack to rotate the CA of"
    fi
    os "$member" coe ca sign cli-swarm "$dir/user.csr" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' > "$dir/swarm-user.pem"
    openssl verify -CAfile "$dir/swarm/ca.pem" "$dir/swarm-user.pem" >/dev/null 2>&1 || fail "coe ca sign cli-swarm: does not verify against its CA"
    os "$member" coe ca rotate cli-swarm >/dev/null
    for _ in $(seq 1 240); do
        status="$(os "$member" coe cluster show cli-swarm -f value -c status)"
        [[ "$status" == *_IN_PROGRESS ]] || break
        sleep 0.5
    done
    expect_eq "$status" UPDATE_COMPLETE "cli-swarm after CA rotation"
    os "$member" coe ca show cli-swarm | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' > "$dir/ca2.pem"
    cmp -s "$dir/swarm/ca.pem" "$dir/ca2.pem" && fail "coe ca rotate: the CA did not change"
    openssl verify -CAfile "$dir/ca2.pem" "$dir/swarm-user.pem" >/dev/null 2>&1 && fail "a certificate signed by the old CA verifies against the new one"
    os "$member" coe ca sign cli-swarm "$dir/user.csr" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' > "$dir/user2.pem"
    openssl verify -CAfile "$dir/ca2.pem" "$dir/user2.pem" >/dev/null 2>&1 || fail "after rotation, a new signature does not verify against the new CA"

    os "$member" coe cluster delete cli-swarm >/dev/null
    for _ in $(seq 1 120); do os_quiet "$member" coe cluster show cli-swarm >/dev/null 2>&1 || break; sleep 0.5; done
    if os_quiet "$member" coe cluster show cli-swarm >/dev/null 2>&1; then fail "cli-swarm was not deleted"; fi
}

scenario() { # ADMIN_CLOUD MEMBER_CLOUD MEMBER_PROJECT_ID OTHER_CLOUD
    local admin=$1 member=$2 member_project=$3 other=$4
    log "local catalog: flavors, images, networks, keypairs"
    os "$member" flavor list -f json | field "sorted(f['Name'] for f in d)" | grep -q "'m1.small'" || fail "flavor list lacks m1.small"
    os "$member" image list -f json | field "[i['Name'] for i in d]" | grep -q "fedora-coreos-latest" || fail "image list lacks fedora-coreos-latest"
    os "$member" keypair create cli-key > "$WORK/cli-key.pem"
    grep -q "PRIVATE KEY" "$WORK/cli-key.pem" || fail "keypair create printed no private key"
    expect_eq "$(os "$member" keypair show cli-key -f json | field "d['name']")" cli-key "keypair show"

    log "cluster templates"
    os "$member" coe cluster template create cli-ct --coe kubernetes --image fedora-coreos-latest \
        --external-network public --flavor m1.small --master-flavor m1.small --keypair cli-key \
        --labels kube_tag=v1.30.1 --docker-volume-size 10 > "$WORK/ct-create.out"
    grep -q "Request to create cluster template cli-ct accepted" "$WORK/ct-create.out" || fail "template create: $(cat "$WORK/ct-create.out")"
    os "$member" coe cluster template show cli-ct -f json > "$WORK/ct.json"
    local ct
    ct="$(field "d['uuid']" < "$WORK/ct.json")"
    expect_eq "$(field "d['cluster_distro']" < "$WORK/ct.json")" fedora-coreos "template cluster_distro"
    expect_eq "$(os "$member" coe cluster template list -f json | field "[t['name'] for t in d]")" "['cli-ct']" "template list"
    os "$member" coe cluster template update cli-ct --docker-volume-size 20 --label extra=yes >/dev/null
    expect_eq "$(os "$member" coe cluster template show cli-ct -f json | field "(d['docker_volume_size'], d['labels']['extra'])")" "(20, 'yes')" "template update"
    os_fails "$other" "could not be found" coe cluster template show "$ct"
    os_fails "$member" "(is|are) invalid|could not be found|not found" coe cluster template create bad-ct --coe kubernetes \
        --image no-such-image --external-network public

    log "clusters"
    os "$member" coe cluster create cli-cluster --cluster-template cli-ct --node-count 2 --keypair cli-key > "$WORK/create.out"
    grep -q "Request to create cluster .* accepted" "$WORK/create.out" || fail "cluster create: $(cat "$WORK/create.out")"
    os "$member" coe cluster show cli-cluster -f json > "$WORK/cluster.json"
    local cluster
    cluster="$(field "d['uuid']" < "$WORK/cluster.json")"
    # In Keystone mode the Heat driver takes the cluster on, and Heat refuses the stack: this run
    # has no stand-ins for the cloud (scripts/heat-e2e.sh has). On the built-in identity no
    # conductor runs that driver and the cluster stays in progress.
    local status
    status="$(field "d['status']" < "$WORK/cluster.json")"
    [[ "$status" == CREATE_IN_PROGRESS || ("$MODE" == keystone && "$status" == CREATE_FAILED) ]] || fail "cluster status: $status"
    expect_eq "$(field "d['node_count']" < "$WORK/cluster.json")" 2 "cluster node_count"
    expect_eq "$(os "$member" coe cluster list -f json | field "[(c['name'], c['node_count']) for c in d]")" "[('cli-cluster', 2)]" "cluster list"
    os_fails "$other" "could not be found" coe cluster show "$cluster"
    os_fails "$member" "in progress|IN_PROGRESS|FAILED|invalid|not allowed" coe cluster resize cli-cluster 3

    log "nodegroups"
    expect_eq "$(os "$member" coe nodegroup list cli-cluster -f json | field "sorted(n['role'] for n in d)")" "['master', 'worker']" "default nodegroups"
    os_fails "$member" "API address is not available yet" coe nodegroup create cli-cluster extra --node-count 1

    if [[ "$MODE" == keystone ]]; then
        expect_settled "$member" cli-cluster CREATE_FAILED "cli-cluster without a cloud for the Heat driver" "Heat refused"
    fi

    log "certificates: coe ca show / sign / rotate, coe cluster config"
    certificates "$member" "$other"

    log "quotas, stats, services"
    os "$admin" coe quotas create --project-id "$member_project" --resource Cluster --hard-limit 5 >/dev/null
    os "$admin" coe quotas show --project-id "$member_project" --resource Cluster > "$WORK/quota.out"
    grep -qE "hard_limit.*\b5\b" "$WORK/quota.out" || fail "quota show: $(cat "$WORK/quota.out")"
    os "$admin" coe quotas update --project-id "$member_project" --resource Cluster --hard-limit 7 >/dev/null
    os "$admin" coe quotas list --all-tenants > "$WORK/quotas.out"
    grep -qE "$member_project.*Cluster.*\b7\b" "$WORK/quotas.out" || fail "quota list: $(cat "$WORK/quotas.out")"
    os_fails "$member" "not allowed|forbidden|403" coe quotas create --project-id "$member_project" --resource Cluster --hard-limit 50
    os "$member" coe stats list "$member_project" > "$WORK/stats.out"
    # cli-cluster (no driver builds Kubernetes clusters yet); cli-swarm was built and deleted.
    grep -qE "clusters.*\b1\b" "$WORK/stats.out" || fail "stats list: $(cat "$WORK/stats.out")"
    os "$admin" coe service list -f json | field "[(s['binary'], s['state']) for s in d]" | grep -q "('magnum-conductor', 'up')" \
        || fail "service list has no live conductor"
    os_fails "$member" "not allowed|forbidden|403" coe service list
    os "$admin" coe quotas delete --project-id "$member_project" --resource Cluster >/dev/null

    log "deletes"
    os "$member" coe cluster delete cli-cluster >/dev/null
    # Keystone mode: the Heat driver removes the cluster's trust and trustee and it is gone;
    # built-in: no conductor runs that driver and the delete stays in progress.
    if [[ "$MODE" == keystone ]]; then
        for _ in $(seq 1 120); do os_quiet "$member" coe cluster show cli-cluster >/dev/null 2>&1 || break; sleep 0.5; done
        if os_quiet "$member" coe cluster show cli-cluster >/dev/null 2>&1; then fail "cli-cluster was not deleted"; fi
    else
        expect_eq "$(os "$member" coe cluster show cli-cluster -f json | field "d['status']")" DELETE_IN_PROGRESS "cluster delete"
    fi
    if [[ "$MODE" == keystone ]]; then
        os "$member" coe cluster template delete cli-ct >/dev/null   # its cluster is gone
    else
        os_fails "$member" "in use|referenced|being used" coe cluster template delete cli-ct
    fi
    os "$member" keypair delete cli-key
    log "passed"
}

KS_URL=""
case "$MODE" in
    keystone)
        KS_URL="$(scripts/keystone.sh start | tail -n 1)"
        # The Heat driver takes the Kubernetes cluster on: with Heat running (and no stand-ins for
        # the cloud's servers) Heat itself refuses the stack, whatever an earlier run left in the
        # Keystone catalog.
        scripts/heat.sh start >/dev/null
        OSBIN="$(scripts/clients.sh install | tail -n 1)"
        "$BIN" bootstrap --keystone-url "$KS_URL" --admin-password admin --public-url "http://127.0.0.1:$PORT" >&2
        MAGNUM_SERVICE_PASSWORD=magnum start_server --keystone-url "$KS_URL" --service-user magnum --service-project service
        {
            echo "clouds:"
            for user in admin demo alt; do
                cat <<YAML
  $user:
    auth: {auth_url: "$KS_URL", username: $user, password: $user, project_name: $user, user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
YAML
            done
        } > "$WORK/clouds.yaml"
        demo_project="$(os demo token issue -f json | field "d['project_id']")"
        scenario admin demo "$demo_project" alt
        ;;
    builtin)
        OSBIN="$(scripts/clients.sh install | tail -n 1)"
        # A home of its own: the first start installs ~/.config/openstack/clouds.yaml there.
        mkdir -p "$WORK/home"
        HOME="$WORK/home" MAGNUM_ADMIN_PASSWORD=cli-admin start_server
        [[ -f "$WORK/data/clouds.yaml" ]] || fail "magnum serve wrote no clouds.yaml into its data directory"
        [[ "$(stat -c %a "$WORK/data/clouds.yaml")" == 600 ]] || fail "clouds.yaml is not private (mode $(stat -c %a "$WORK/data/clouds.yaml"))"
        log "first start: OS_CLOUD=magnum-admin works at once"
        (
            cd "$WORK"
            export HOME="$WORK/home" OS_CLOUD=magnum-admin
            unset OS_CLIENT_CONFIG_FILE
            "$OSBIN/openstack" coe cluster template create first-ct --coe kubernetes --image fedora-coreos-latest \
                --external-network public --flavor m1.small >/dev/null 2>"$WORK/err" \
                && "$OSBIN/openstack" coe cluster template list -f value -c name 2>>"$WORK/err" | grep -qx first-ct \
                && "$OSBIN/openstack" coe cluster template delete first-ct >/dev/null 2>>"$WORK/err"
        ) || fail "OS_CLOUD=magnum-admin with the installed clouds.yaml: $(cat "$WORK/err")"
        cp "$WORK/data/clouds.yaml" "$WORK/clouds.yaml"
        log "built-in identity: tokens, projects, users, roles"
        token="$(os magnum-admin token issue -f value -c id)"
        curl -fsS -o /dev/null -H "X-Auth-Token: $token" "http://127.0.0.1:$PORT/v1/clustertemplates" || fail "a fresh token is refused"
        os magnum-admin token revoke "$token"
        [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $token" "http://127.0.0.1:$PORT/v1/clustertemplates")" == 401 ]] \
            || fail "a revoked token is still accepted"
        os magnum-admin catalog list -f json | field "sorted(s['Type'] for s in d)" | grep -q "'container-infra'" || fail "catalog lacks container-infra"
        demo_project="$(os magnum-admin project create demo -f json | field "d['id']")"
        os magnum-admin project create alt >/dev/null
        os magnum-admin user create --project demo --password demo demo >/dev/null
        os magnum-admin user create --project alt --password alt alt >/dev/null
        os magnum-admin role add --project demo --user demo member
        os magnum-admin role add --project alt --user alt member
        expect_eq "$(os magnum-admin role assignment list --user demo --project demo --names -f value -c Role)" member "role assignment list"
        auth_url="$("$OSBIN/python" -c "import yaml; print(yaml.safe_load(open('$WORK/clouds.yaml'))['clouds']['magnum-admin']['auth']['auth_url'])")"
        for user in demo alt; do
            cat >> "$WORK/clouds.yaml" <<YAML
  $user:
    auth: {auth_url: "$auth_url", username: $user, password: $user, project_name: $user, user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
YAML
        done
        os_fails demo "not allowed|forbidden|403" project create sneaky
        scenario magnum-admin demo "$demo_project" alt
        ;;
    *) echo "usage: $0 keystone|builtin [MAGNUM_BINARY]" >&2; exit 2 ;;
esac
