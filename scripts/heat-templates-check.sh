#!/usr/bin/env bash
# Static and live checks of the Heat driver's templates and node bootstrap scripts
# (Sources/HeatDriver/Templates), against the real Heat of scripts/heat.sh with the stand-ins of
# scripts/heat-standins.py (no Nova, Neutron, Octavia or Cinder needed; no server boots).
#
#   scripts/heat-templates-check.sh [STEP...]   all steps below, or only the named ones
#
# 1. bash -n and shellcheck (installed from Debian when missing) on every bootstrap script and on
#    this script; Python syntax of scripts/heat-standins.py and scripts/standin-agents.py.
# 2. Starts Heat when `scripts/heat.sh status` fails, installs the clients (scripts/clients.sh),
#    generates the stand-ins into a temporary directory.
# 3. As demo/demo (project demo): `openstack orchestration template validate` of each COE's
#    cluster.yaml and workers.yaml with -e environment.yaml -e standins.yaml.
# 4. Live stacks through the CLI: a kubernetes cluster (1 master, 2 workers, load balancer) with
#    its outputs checked, scaled to 3 workers, then to 2 removing index 0, deleted; a swarm-mode
#    cluster with the defaults, and one with 3 masters, a load balancer, a given network, docker
#    volumes and no floating IPs; a cluster whose name contains `standin-fail`, which must end
#    CREATE_FAILED naming the failing nested resource.
# 5. One raw REST create (curl): the template as a string, every file of the COE directory and
#    the stand-ins in `files` under plain names, environment_files ["environment.yaml",
#    "standins.yaml"] — the way the driver sends stacks; then, the same way, workers.yaml as the
#    top-level stack of an extra nodegroup, fed the cluster stack's outputs.
# 6. The bootstrap scripts' helpers: common.sh's signal_heat completes a real wait condition
#    (SUCCESS) and its ERR trap fails one (FAILURE, with the failed command); issue_cert has a
#    local stand-in of POST /v1/certificates sign a CSR for a key made locally; the node agent
#    (agent.sh) runs a stack update's software deployments and signals Heat (success, failure).
#
# Stacks are named htc-<pid>-…, and deleted on exit. Prints one summary line; exits non-zero on
# any failure. MAGNUM_HEAT_CHECK_BENCH=1 also times a 3-master, 10-worker create.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

TEMPLATES=Sources/HeatDriver/Templates
COES=(kubernetes swarm-mode)
HEAT_URL=http://127.0.0.1:8004/v1
PREFIX="htc-$$"
PASSED=0
FAILED=0
FAILURES=()
WORK="$(mktemp -d /tmp/heat-templates-check.XXXXXX)"
CREATED=()

log() { echo "heat-templates-check: $*" >&2; }
pass() { PASSED=$((PASSED + 1)); log "ok: $*"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$*"); log "FAILED: $*"; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }

cleanup() {
    local s
    for s in "${CREATED[@]}"; do
        openstack stack delete -y "$s" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- 1. static checks -------------------------------------------------------------------------

ensure_shellcheck() {
    command -v shellcheck >/dev/null 2>&1 && return 0
    if [[ "$(id -u)" != 0 ]]; then
        log "shellcheck missing and installing it needs root"
        exit 1
    fi
    log "installing shellcheck (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends shellcheck >&2
}

static_checks() {
    ensure_shellcheck
    local f scripts=("$TEMPLATES"/bootstrap/*.sh scripts/heat-templates-check.sh scripts/clients.sh)
    for f in "${scripts[@]}"; do
        if bash -n "$f"; then pass "bash -n $f"; else fail "bash -n $f"; fi
        # -x follows `source` of common.sh (resolved through the directives in the scripts).
        if shellcheck -x -P "$TEMPLATES/bootstrap" "$f"; then pass "shellcheck $f"; else fail "shellcheck $f"; fi
    done
    for f in scripts/heat-standins.py scripts/standin-agents.py; do
        if python3 -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" "$f"; then pass "python syntax of $f"
        else fail "python syntax of $f"; fi
    done
}

# --- 2. Heat, clients, credentials, stand-ins -------------------------------------------------

setup() {
    if ! scripts/heat.sh status; then
        log "Heat is not running; starting it"
        scripts/heat.sh start >/dev/null
    fi
    local bin auth_url
    bin="$(scripts/clients.sh install)"
    auth_url="$(scripts/keystone.sh start | tail -n 1)"
    export PATH="$bin:$PATH"
    export OS_AUTH_URL="$auth_url" OS_USERNAME=demo OS_PASSWORD=demo OS_PROJECT_NAME=demo \
        OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
        OS_INTERFACE=public OS_REGION_NAME=RegionOne
    # A token for the REST calls (polling, outputs, the raw create).
    local body='{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "demo", "domain": {"name": "Default"}, "password": "demo"}}}, "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}'
    curl -sS -f -D "$WORK/token.headers" -o "$WORK/token.json" -H 'Content-Type: application/json' \
        -d "$body" "$auth_url/auth/tokens"
    TOKEN="$(awk 'tolower($1) == "x-subject-token:" {print $2}' "$WORK/token.headers" | tr -d '\r')"
    PROJECT_ID="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"]["project"]["id"])' "$WORK/token.json")"
    STANDINS="$("${MAGNUM_HEAT_DIR:-/tmp/magnum-heat}/venv/bin/python" scripts/heat-standins.py "$WORK/standins")"
    [[ -f "$STANDINS" ]] || { log "no stand-ins generated"; exit 1; }
}

# --- REST helpers -----------------------------------------------------------------------------

heat_get() { # PATH → JSON on stdout
    curl -sS -f -L -H "X-Auth-Token: $TOKEN" "$HEAT_URL/$PROJECT_ID/$1"
}

# Prints STATUS<TAB>REASON of a stack.
stack_status() { # NAME
    heat_get "stacks/$1" | python3 -c 'import json,sys; s=json.load(sys.stdin)["stack"]; print(s["stack_status"] + "\t" + (s["stack_status_reason"] or ""))'
}

# Waits until the stack leaves *_IN_PROGRESS; prints STATUS<TAB>REASON.
wait_stack() { # NAME [SECONDS]
    local name="$1" secs="${2:-300}" start line
    start="$(date +%s)"
    while true; do
        line="$(stack_status "$name" 2>/dev/null || true)"
        case "$line" in
            *_IN_PROGRESS*|"") ;;
            *) echo "$line"; return 0 ;;
        esac
        if (($(date +%s) - start > secs)); then
            echo "TIMEOUT	still ${line%%	*} after ${secs}s"
            return 0
        fi
        sleep 1
    done
}

# Writes the stack's outputs as a JSON object {key: value} to FILE.
stack_outputs() { # NAME FILE
    heat_get "stacks/$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)["stack"]
json.dump({o["output_key"]: o.get("output_value") for o in s.get("outputs") or []}, open(sys.argv[1], "w"), indent=1, sort_keys=True)
' "$2"
}

# Runs a Python assertion over the outputs in FILE (bound to `o`); prints the failed expression.
check_outputs() { # FILE DESCRIPTION PYTHON-EXPRESSION...
    local file="$1" what="$2"
    shift 2
    if python3 - "$file" "$@" <<'PY'
import json, re, sys
o = json.load(open(sys.argv[1]))
bad = [e for e in sys.argv[2:] if not eval(e, {"o": o, "re": re})]
for e in bad:
    print("  not true: " + e, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    then pass "$what"; else fail "$what"; fi
}

delete_stack() { # NAME
    local t
    t="$(now)"
    if openstack stack delete -y --wait "$1" >/dev/null 2>&1; then
        pass "delete $1 ($(since "$t") s)"
    else
        fail "delete $1"
    fi
}

# --- 3. validation ----------------------------------------------------------------------------

validate_templates() {
    local coe t
    for coe in "${COES[@]}"; do
        for t in cluster workers; do
            if openstack orchestration template validate -t "$TEMPLATES/$coe/$t.yaml" \
                -e "$TEMPLATES/$coe/environment.yaml" -e "$STANDINS" >"$WORK/validate.out" 2>&1; then
                pass "template validate $coe/$t.yaml"
            else
                tail -n 5 "$WORK/validate.out" >&2
                fail "template validate $coe/$t.yaml"
            fi
        done
    done
}

# --- 4. live stacks through the CLI -----------------------------------------------------------

cli_create() { # COE NAME PARAM=VALUE...
    local coe="$1" name="$2" args=() p
    shift 2
    for p in "$@"; do args+=(--parameter "$p"); done
    CREATED+=("$name")
    openstack stack create -t "$TEMPLATES/$coe/cluster.yaml" -e "$TEMPLATES/$coe/environment.yaml" \
        -e "$STANDINS" "${args[@]}" "$name" >"$WORK/create.out" 2>&1 || {
        tail -n 5 "$WORK/create.out" >&2
        return 1
    }
}

cli_update() { # NAME PARAM=VALUE...
    local name="$1" args=() p
    shift
    for p in "$@"; do args+=(--parameter "$p"); done
    openstack stack update --existing "${args[@]}" "$name" >"$WORK/update.out" 2>&1 || {
        tail -n 5 "$WORK/update.out" >&2
        return 1
    }
}

expect_status() { # NAME EXPECTED WHAT START
    local line
    line="$(wait_stack "$1")"
    if [[ "${line%%	*}" == "$2" ]]; then
        pass "$3: $2 ($(since "$4") s)"
        return 0
    fi
    fail "$3: expected $2, got: $line"
    return 1
}

kubernetes_lifecycle() {
    local name="$PREFIX-k8s" t out="$WORK/k8s.json"
    t="$(now)"
    cli_create kubernetes "$name" cluster_name="$name" number_of_masters=1 number_of_minions=2 \
        master_lb_enabled=true master_user_data='master __NODE_NAME__ __API_ADDRESS__' \
        || { fail "create $name"; return; }
    expect_status "$name" CREATE_COMPLETE "kubernetes 1 master + 2 workers + LB create" "$t" || return
    stack_outputs "$name" "$out"
    log "outputs of $name:"
    cat "$out" >&2
    check_outputs "$out" "kubernetes outputs after create" \
        "re.fullmatch(r'https://127\.24\.\d+\.\d+:6443', o['api_address'])" \
        "re.fullmatch(r'127\.10\.\d+\.\d+', o['api_private_address'])" \
        "len(o['master_addresses']) == 1 and len(o['node_addresses']) == 2" \
        "o['master_index_names'] == {'0': '$name-default-master-0'}" \
        "sorted(o['master_index_addresses']) == ['0']" \
        "o['node_index_names'] == {'0': '$name-default-worker-0', '1': '$name-default-worker-1'}" \
        "sorted(o['node_index_addresses']) == ['0', '1']" \
        "sorted(o['node_index_addresses'].values()) == sorted(o['node_addresses'])" \
        "len(o['worker_security_groups']) == 2 and o['fixed_network_id'] and o['fixed_subnet_id']"

    t="$(now)"
    cli_update "$name" number_of_minions=3 || { fail "update $name to 3 workers"; return; }
    expect_status "$name" UPDATE_COMPLETE "kubernetes scale to 3 workers" "$t" || return
    stack_outputs "$name" "$out"
    check_outputs "$out" "kubernetes outputs after scaling to 3" \
        "sorted(o['node_index_names']) == ['0', '1', '2']" "len(o['node_addresses']) == 3"

    t="$(now)"
    cli_update "$name" number_of_minions=2 minions_to_remove=0 || { fail "update $name removing 0"; return; }
    expect_status "$name" UPDATE_COMPLETE "kubernetes scale to 2 workers removing index 0" "$t" || return
    stack_outputs "$name" "$out"
    log "node_index_names after removing 0: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["node_index_names"])' "$out")"
    check_outputs "$out" "kubernetes outputs after removing index 0" \
        "o['node_index_names'] == {'1': '$name-default-worker-1', '2': '$name-default-worker-2'}" \
        "sorted(o['node_index_addresses']) == ['1', '2']" "len(o['node_addresses']) == 2"
    delete_stack "$name"
}

swarm_defaults() {
    local name="$PREFIX-swarm" t out="$WORK/swarm.json"
    t="$(now)"
    cli_create swarm-mode "$name" cluster_name="$name" || { fail "create $name"; return; }
    expect_status "$name" CREATE_COMPLETE "swarm-mode create with the defaults" "$t" || return
    stack_outputs "$name" "$out"
    check_outputs "$out" "swarm-mode outputs" \
        "re.fullmatch(r'tcp://127\.24\.\d+\.\d+:2376', o['api_address'])" \
        "o['api_address'] == 'tcp://' + o['master_addresses'][0] + ':2376'" \
        "o['api_private_address'] == o['master_private_addresses'][0]" \
        "o['master_index_names'] == {'0': '$name-default-master-0'}" \
        "o['node_index_names'] == {'0': '$name-default-worker-0'}"
    delete_stack "$name"
}

# The other branches of the templates: an existing network and subnet, a load balancer without
# floating IPs, 3 masters, docker volumes, a key pair.
swarm_options() {
    local name="$PREFIX-swarm-opts" t out="$WORK/swarm-opts.json"
    t="$(now)"
    cli_create swarm-mode "$name" cluster_name="$name" number_of_masters=3 master_lb_enabled=true \
        floating_ip_enabled=false fixed_network=net-given fixed_subnet=subnet-given docker_volume_size=10 \
        docker_volume_type=fast ssh_key_name=key || { fail "create $name"; return; }
    expect_status "$name" CREATE_COMPLETE "swarm-mode create with LB, given network, volumes, no floating IPs" "$t" || return
    stack_outputs "$name" "$out"
    check_outputs "$out" "swarm-mode outputs with LB and given network" \
        "o['api_address'] == 'tcp://' + o['api_private_address'] + ':2376'" \
        "o['api_private_address'] not in o['master_private_addresses']" \
        "o['fixed_network_id'] == 'net-given' and o['fixed_subnet_id'] == 'subnet-given'" \
        "sorted(o['master_index_names']) == ['0', '1', '2'] and o['master_addresses'] == o['master_private_addresses']"
    delete_stack "$name"
}

injected_failure() {
    local name="$PREFIX-standin-fail" t line
    t="$(now)"
    cli_create kubernetes "$name" cluster_name="$name" || { fail "create $name"; return; }
    line="$(wait_stack "$name")"
    log "status of $name: $line"
    if [[ "${line%%	*}" == CREATE_FAILED && "$line" == *standin_fail_injected_by_name* && "$line" == *resources.* ]]; then
        pass "injected failure: CREATE_FAILED naming the nested resource ($(since "$t") s)"
    else
        fail "injected failure: expected CREATE_FAILED naming standin_fail_injected_by_name, got: $line"
    fi
    delete_stack "$name"
}

bench() {
    local name="$PREFIX-bench" t
    t="$(now)"
    cli_create kubernetes "$name" cluster_name="$name" number_of_masters=3 number_of_minions=10 \
        || { fail "create $name"; return; }
    expect_status "$name" CREATE_COMPLETE "kubernetes 3 masters + 10 workers create" "$t" || return
    delete_stack "$name"
}

# --- bootstrap helpers: the wait-condition signal (real Heat) and the CSR request --------------

WAIT_TEMPLATE='heat_template_version: 2021-04-16
resources:
  handle: {type: OS::Heat::WaitConditionHandle}
  wait:
    type: OS::Heat::WaitCondition
    properties: {handle: {get_resource: handle}, count: 1, timeout: 300}
outputs:
  endpoint: {value: {get_attr: [handle, endpoint]}}
  token: {value: {get_attr: [handle, token]}}
  data: {value: {get_attr: [wait, data]}}'

# Creates a stack with a real wait condition; sets EP and TK to its handle's endpoint and token.
wait_stack_handle() { # NAME
    echo "$WAIT_TEMPLATE" >"$WORK/wait.yaml"
    CREATED+=("$1")
    openstack stack create -t "$WORK/wait.yaml" "$1" >/dev/null
    for _ in $(seq 1 60); do
        stack_outputs "$1" "$WORK/wait-out.json"
        EP="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("endpoint") or "")' "$WORK/wait-out.json")"
        TK="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("token") or "")' "$WORK/wait-out.json")"
        [[ -n "$EP" && -n "$TK" ]] && return 0
        sleep 1
    done
    return 1
}

bootstrap_signals() {
    local common="$TEMPLATES/bootstrap/common.sh" line
    # SUCCESS through signal_heat, as magnum_done sends it.
    wait_stack_handle "$PREFIX-signal-ok" || { fail "wait condition stack"; return; }
    if bash -c 'set -Eeuo pipefail; . "$1"; WAIT_ENDPOINT="$2" WAIT_TOKEN="$3" NODE_NAME=node-0; signal_heat SUCCESS "node \"ready\"" 10.0.0.5' _ \
        "$common" "$EP" "$TK" && [[ "$(wait_stack "$PREFIX-signal-ok" 60)" == CREATE_COMPLETE* ]]; then
        stack_outputs "$PREFIX-signal-ok" "$WORK/wait-out.json"
        check_outputs "$WORK/wait-out.json" "bootstrap SUCCESS signal completes a real wait condition" \
            "o['data'] == '{\"node-0\": \"10.0.0.5\"}'"
    else
        fail "bootstrap SUCCESS signal"
    fi
    # FAILURE through the ERR trap of a script that fails.
    wait_stack_handle "$PREFIX-signal-fail" || { fail "wait condition stack"; return; }
    bash -c 'set -Eeuo pipefail; . "$1"; WAIT_ENDPOINT="$2" WAIT_TOKEN="$3" NODE_NAME=node-1
        trap '"'"'on_error $? $LINENO "$BASH_COMMAND"'"'"' ERR
        false' _ "$common" "$EP" "$TK" 2>/dev/null || true
    line="$(wait_stack "$PREFIX-signal-fail" 60)"
    if [[ "$line" == CREATE_FAILED*WaitConditionFailure*false* ]]; then
        pass "bootstrap ERR trap signals FAILURE with the failed command: ${line#*	}"
    else
        fail "bootstrap FAILURE signal: $line"
    fi
    delete_stack "$PREFIX-signal-ok"
    delete_stack "$PREFIX-signal-fail"
}

# issue_cert against a local stand-in of POST /v1/certificates that checks the request's shape
# and signs with a throw-away CA.
bootstrap_csr() {
    local d="$WORK/csr" port pid
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -subj /CN=check-ca -days 1 2>/dev/null
    python3 - "$d" >"$d/port" <<'PY' &
import json, os, subprocess, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
d = sys.argv[1]
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = (self.path == "/v1/certificates" and self.headers.get("X-Auth-Token") == "bootstrap-token"
              and self.headers.get("OpenStack-API-Version") == "container-infra latest"
              and set(body) == {"cluster_uuid", "csr", "ca_cert_type"} and body["cluster_uuid"] == "uuid"
              and body["ca_cert_type"] in ("kubernetes", "etcd", "front-proxy"))
        if not ok:
            self.send_response(400); self.end_headers(); return
        open(os.path.join(d, "req.csr"), "w").write(body["csr"])
        pem = subprocess.check_output(["openssl", "x509", "-req", "-in", os.path.join(d, "req.csr"), "-CA",
            os.path.join(d, "ca.crt"), "-CAkey", os.path.join(d, "ca.key"), "-days", "1",
            "-copy_extensions", "copy"], stderr=subprocess.DEVNULL).decode()
        self.send_response(201); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(json.dumps({"pem": pem}).encode())
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
    pid=$!
    for _ in $(seq 1 50); do [[ -s "$d/port" ]] && break; sleep 0.1; done
    port="$(cat "$d/port")"
    if bash -c 'set -Eeuo pipefail; . "$1"; MAGNUM_URL="http://127.0.0.1:$2" BOOTSTRAP_TOKEN=bootstrap-token CLUSTER_UUID=uuid
        NODE_NAME=node-0 NODE_IP=10.0.0.9 API_EXTRA_SANS=; public_ip() { :; }
        issue_cert "$3/node" etcd /CN=node-0 both "$(node_sans)"' _ "$TEMPLATES/bootstrap/common.sh" "$port" "$d" \
        && openssl verify -CAfile "$d/ca.crt" "$d/node.crt" >/dev/null \
        && openssl x509 -in "$d/node.crt" -noout -ext subjectAltName | grep -q 'DNS:node-0, IP Address:10.0.0.9, IP Address:127.0.0.1' \
        && openssl x509 -in "$d/node.crt" -noout -ext extendedKeyUsage | grep -q 'Server Authentication, TLS Web Client'; then
        pass "bootstrap issue_cert: key made locally, CSR signed through POST /v1/certificates, SANs and usages kept"
    else
        fail "bootstrap issue_cert"
    fi
    kill "$pid" 2>/dev/null || true
}

# Runs the agent of every server prepared under $WORK/agent until stack NAME settles; prints
# STATUS<TAB>REASON.
run_agents() { # NAME
    local i d line
    for ((i = 0; i < 90; i++)); do
        for d in "$WORK"/agent/*/; do
            MAGNUM_COMMON="$TEMPLATES/bootstrap/common.sh" MAGNUM_AGENT_CREDENTIALS="$d/cfn-init-data" \
                MAGNUM_AGENT_STATE="$d/state" bash "$TEMPLATES/bootstrap/agent.sh" 2>>"$d/agent.log" || true
        done
        line="$(stack_status "$1")"
        [[ "$line" == *_IN_PROGRESS* ]] || { echo "$line"; return 0; }
        sleep 1
    done
    echo "TIMEOUT	$line"
}

# The node agent (bootstrap/agent.sh) against real software deployments: a swarm-mode stack
# (1 manager, 1 worker) updated with ca_rotation inputs and a script. The agent is given each
# stand-in server's stack and the demo user's credentials, in place of those Heat writes into a
# real server's cfn-init-data; it runs the script with the inputs and signals Heat with the
# deployment's own credentials → UPDATE_COMPLETE with the script's output; run again, it runs
# nothing; a script that fails → UPDATE_FAILED with the exit status.
agent_deployments() {
    local name="$PREFIX-agent" t d line user out
    t="$(now)"
    cli_create swarm-mode "$name" cluster_name="$name" number_of_masters=1 number_of_minions=1 || { fail "create $name"; return; }
    expect_status "$name" CREATE_COMPLETE "swarm-mode stack for the agent" "$t" || return
    user="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"]["user"]["id"])' "$WORK/token.json")"
    # One directory per server (named by its id): its cfn-init-data, the agent's record and log.
    heat_get "stacks/$name/resources?nested_depth=3" | python3 scripts/standin-agents.py "$WORK/agent" "$OS_AUTH_URL" "$user" demo >/dev/null
    [[ "$(find "$WORK/agent" -name cfn-init-data | wc -l)" == 2 ]] || { fail "agent: the stack's two servers"; return; }

    t="$(now)"
    # shellcheck disable=SC2016 # the script expands them, on the node
    cli_update "$name" ca_rotation='{"rotation_id": "r1", "kubernetes_ca": "CA one"}' \
        ca_rotation_script='echo "rotated onto $rotation_id with $kubernetes_ca by $deploy_action"' || { fail "update $name"; return; }
    line="$(run_agents "$name")"
    if [[ "$line" == UPDATE_COMPLETE* ]]; then pass "agent: a deployment on each server, run and signalled: UPDATE_COMPLETE ($(since "$t") s)"
    else fail "agent deployments: $line"; fi
    for d in "$WORK"/agent/*/; do
        out="$(heat_get "software_deployments?server_id=$(basename "$d")" \
            | python3 -c 'import json,sys; print(json.dumps([(s["status"], s["output_values"]) for s in json.load(sys.stdin)["software_deployments"]]))')"
        if [[ "$out" == '[["COMPLETE", {"deploy_stdout": "rotated onto r1 with CA one by UPDATE\n", "deploy_stderr": "", "deploy_status_code": 0}]]' ]]; then
            pass "agent: server $(basename "$d") ran the script with the inputs"
        else
            fail "agent: server $(basename "$d") deployments: $out"
        fi
    done
    : >"$WORK/agent-again.log"
    for d in "$WORK"/agent/*/; do
        MAGNUM_COMMON="$TEMPLATES/bootstrap/common.sh" MAGNUM_AGENT_CREDENTIALS="$d/cfn-init-data" \
            MAGNUM_AGENT_STATE="$d/state" bash "$TEMPLATES/bootstrap/agent.sh" 2>>"$WORK/agent-again.log"
    done
    if grep -q "running deployment" "$WORK/agent-again.log"; then fail "agent: ran a deployment twice: $(cat "$WORK/agent-again.log")"
    else pass "agent: a deployment runs once"; fi

    t="$(now)"
    cli_update "$name" ca_rotation='{"rotation_id": "r2"}' ca_rotation_script='echo broken >&2 && exit 3' || { fail "update $name"; return; }
    line="$(run_agents "$name")"
    if [[ "$line" == UPDATE_FAILED*"Deployment to server failed"*"status code: 3"* ]]; then
        pass "agent: a failing script fails the update: ${line#*	}"
    else
        fail "agent: failing deployment: $line"
    fi
    delete_stack "$name"
}

# --- 5. the driver's request shape, by REST ---------------------------------------------------

raw_rest_create() {
    local coe=kubernetes name="$PREFIX-rest" t code
    python3 - "$TEMPLATES/$coe" "$(dirname "$STANDINS")" "$name" >"$WORK/rest-body.json" <<'PY'
import json, os, sys
coe_dir, standin_dir, name = sys.argv[1:4]
files = {}
for d in (coe_dir, standin_dir):
    for f in sorted(os.listdir(d)):
        if f.endswith(".yaml"):
            files[f] = open(os.path.join(d, f)).read()
json.dump({
    "stack_name": name,
    "template": files["cluster.yaml"],
    "files": files,
    "environment_files": ["environment.yaml", "standins.yaml"],
    "parameters": {"cluster_name": name, "number_of_minions": 2, "floating_ip_enabled": False},
    "timeout_mins": 10,
    "disable_rollback": True,
}, sys.stdout)
PY
    t="$(now)"
    CREATED+=("$name")
    code="$(curl -sS -o "$WORK/rest-create.json" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" \
        -H 'Content-Type: application/json' -d @"$WORK/rest-body.json" "$HEAT_URL/$PROJECT_ID/stacks")"
    if [[ "$code" != 201 ]]; then
        cat "$WORK/rest-create.json" >&2
        fail "raw REST create: HTTP $code"
        return
    fi
    pass "raw REST create (plain-key files map): 201"
    expect_status "$name" CREATE_COMPLETE "raw REST create" "$t" || return
    stack_outputs "$name" "$WORK/rest.json"
    check_outputs "$WORK/rest.json" "raw REST outputs (no floating IPs)" \
        "re.fullmatch(r'https://127\.10\.\d+\.\d+:6443', o['api_address'])" \
        "o['api_address'] == 'https://' + o['api_private_address'] + ':6443'" \
        "o['node_index_names'] == {'0': '$name-default-worker-0', '1': '$name-default-worker-1'}" \
        "all(re.fullmatch(r'127\.10\.\d+\.\d+', a) for a in o['node_addresses'])"
    extra_nodegroup_rest "$name" "$WORK/rest.json"
    delete_stack "$name"
}

# An extra nodegroup: workers.yaml as a top-level stack, fed the cluster stack's outputs.
extra_nodegroup_rest() { # CLUSTER-STACK OUTPUTS-FILE
    local coe=kubernetes name="$1-ng2" t code
    python3 - "$TEMPLATES/$coe" "$(dirname "$STANDINS")" "$name" "$2" >"$WORK/ng-body.json" <<'PY'
import json, os, sys
coe_dir, standin_dir, name, outputs = sys.argv[1:5]
o = json.load(open(outputs))
files = {}
for d in (coe_dir, standin_dir):
    for f in sorted(os.listdir(d)):
        if f.endswith(".yaml"):
            files[f] = open(os.path.join(d, f)).read()
json.dump({
    "stack_name": name,
    "template": files["workers.yaml"],
    "files": files,
    "environment_files": ["environment.yaml", "standins.yaml"],
    "parameters": {"name_prefix": name, "node_count": 2, "fixed_network": o["fixed_network_id"],
                   "fixed_subnet": o["fixed_subnet_id"], "security_groups": o["worker_security_groups"],
                   "api_address": o["api_private_address"], "floating_ip_enabled": False},
    "disable_rollback": True,
}, sys.stdout)
PY
    t="$(now)"
    CREATED+=("$name")
    code="$(curl -sS -o "$WORK/ng-create.json" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" \
        -H 'Content-Type: application/json' -d @"$WORK/ng-body.json" "$HEAT_URL/$PROJECT_ID/stacks")"
    if [[ "$code" != 201 ]]; then
        cat "$WORK/ng-create.json" >&2
        fail "extra nodegroup (workers.yaml) REST create: HTTP $code"
        return
    fi
    expect_status "$name" CREATE_COMPLETE "extra nodegroup (workers.yaml top-level) create" "$t" || return
    stack_outputs "$name" "$WORK/ng.json"
    check_outputs "$WORK/ng.json" "extra nodegroup outputs" \
        "o['node_index_names'] == {'0': '$name-0', '1': '$name-1'}" \
        "sorted(o['node_index_addresses']) == ['0', '1'] and len(o['node_addresses']) == 2"
    delete_stack "$name"
}

STEPS=(static_checks validate_templates kubernetes_lifecycle swarm_defaults swarm_options injected_failure raw_rest_create
    bootstrap_signals bootstrap_csr agent_deployments)
if [[ "${MAGNUM_HEAT_CHECK_BENCH:-0}" == 1 ]]; then STEPS+=(bench); fi
if (($# > 0)); then
    for step in "$@"; do
        [[ " ${STEPS[*]} bench " == *" $step "* ]] || { echo "usage: $0 [${STEPS[*]} bench]..." >&2; exit 2; }
    done
    STEPS=("$@")
fi
for step in "${STEPS[@]}"; do
    if [[ "$step" != static_checks && -z "${TOKEN:-}" ]]; then setup; fi
    "$step"
done

if ((FAILED > 0)); then
    echo "heat-templates-check: FAILED $FAILED of $((PASSED + FAILED)) checks: ${FAILURES[*]}"
    exit 1
fi
echo "heat-templates-check: all $PASSED checks passed"
