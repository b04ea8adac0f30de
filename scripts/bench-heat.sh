#!/usr/bin/env bash
# Benchmark of the Heat driver against the real Heat of scripts/heat.sh, with the stand-ins of
# scripts/heat-standins.py (no server boots, so this measures Magnum's and Heat's own work):
# for 1 master + 2 workers and 3 masters + 10 workers, the time from Magnum's API create to
# CREATE_COMPLETE (polling GET /v1/clusters every 0.2 s; master load balancer on, as several masters need), next to Heat's own create time of the
# same templates sent straight to Heat the way the driver sends them (polling the stack every
# 0.2 s). Medians of RUNS runs; each cluster and stack is deleted before the next run.
#
#   scripts/bench-heat.sh [MAGNUM_BINARY] [RUNS]     (default .build/debug/magnum, 3)
#
# BENCH_SHAPES: the shapes to measure, MASTERS+WORKERS (default "1+2 3+10").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:-.build/debug/magnum}")"
RUNS="${2:-3}"
PORT="${MAGNUM_BENCH_PORT:-$(( 30000 + RANDOM % 10000 ))}"
WORK="$(mktemp -d /tmp/magnum-bench-heat.XXXXXX)"
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
log() { echo "bench-heat.sh: $*" >&2; }

KS_URL="$(scripts/keystone.sh start | tail -n 1)"
scripts/heat.sh start >/dev/null
OSBIN="$(scripts/clients.sh install | tail -n 1)"
PY="$OSBIN/python"
"${MAGNUM_HEAT_DIR:-/tmp/magnum-heat}/venv/bin/python" scripts/heat-standins.py "$WORK/standins" >/dev/null
"$BIN" bootstrap --keystone-url "$KS_URL" --admin-user admin --admin-password admin --admin-project admin \
    --public-url "http://127.0.0.1:$PORT" >/dev/null
MAGNUM_SERVICE_PASSWORD=magnum "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" --clouds-file none \
    --keystone-url "$KS_URL" --service-user magnum --service-project service --log-level warning \
    --heat-environment "$WORK/standins/standins.yaml" > "$WORK/magnum.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

# Everything else in Python: timing loops with a demo token, straight over HTTP.
"$PY" - "$KS_URL" "http://127.0.0.1:$PORT" "$WORK/standins" "$RUNS" Sources/HeatDriver/Templates/kubernetes <<'PY'
import json, os, statistics, sys, time, urllib.error, urllib.request

ks, magnum, standins, runs, templates = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

def call(method, url, token=None, body=None, headers=None):
    h = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    if token: h["X-Auth-Token"] = token
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            text = r.read().decode()
            return r.status, r.headers, (json.loads(text) if text.startswith("{") else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, e.headers, (json.loads(text) if text.startswith("{") else {"error": text})

auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "demo", "domain": {"id": "default"}, "password": "demo"}}},
                 "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
_, headers, body = call("POST", ks + "/auth/tokens", body=auth)
token, project = headers["X-Subject-Token"], body["token"]["project"]["id"]
heat = "http://127.0.0.1:8004/v1/" + project
mv = {"OpenStack-API-Version": "container-infra latest"}

status, _, t = call("POST", magnum + "/v1/clustertemplates", token, {
    "name": "bench-k8s", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
    "flavor_id": "m1.small", "master_flavor_id": "m1.small", "server_type": "vm", "master_lb_enabled": True}, mv)
assert status == 201, status

def wait(url, key, done, timeout=600):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status, _, body = call("GET", url, token, headers=mv)
        value = body[key] if key == "status" else body["stack"]["stack_status"]
        if value in done: return value
        if value.endswith("FAILED"):
            reason = body.get("status_reason") if key == "status" else body["stack"].get("stack_status_reason")
            raise SystemExit(f"{url}: {value}: {reason}")
        time.sleep(0.2)
    raise SystemExit(f"{url}: not {done} within {timeout} s")

def gone(url):
    for _ in range(3000):
        status, _, body = call("GET", url, token, headers=mv)
        if status == 404 or (body and body.get("stack", {}).get("stack_status") == "DELETE_COMPLETE"): return
        time.sleep(0.2)
    raise SystemExit(f"{url} not deleted")

def magnum_create(masters, workers, i):
    start = time.monotonic()
    status, _, c = call("POST", magnum + "/v1/clusters", token, {
        "name": f"bench-{masters}-{workers}-{i}", "cluster_template_id": "bench-k8s", "master_count": masters, "node_count": workers}, mv)
    assert status == 202, (status, c)
    url = magnum + "/v1/clusters/" + c["uuid"]
    wait(url, "status", {"CREATE_COMPLETE"})
    took = time.monotonic() - start
    call("DELETE", url, token, headers=mv)
    gone(url)
    return took

files = {}
for d in (templates, standins):
    for name in os.listdir(d):
        if name.endswith(".yaml"): files[name] = open(os.path.join(d, name)).read()

def heat_create(masters, workers, i):
    start = time.monotonic()
    status, _, s = call("POST", heat + "/stacks", token, {
        "stack_name": f"bench-raw-{masters}-{workers}-{i}", "template": files["cluster.yaml"], "files": files,
        "environment_files": ["environment.yaml", "standins.yaml"], "disable_rollback": True,
        "parameters": {"number_of_masters": masters, "number_of_minions": workers, "master_lb_enabled": True}})
    assert status == 201, (status, s)
    url = f"{heat}/stacks/bench-raw-{masters}-{workers}-{i}/{s['stack']['id']}"
    wait(url, "stack", {"CREATE_COMPLETE"})
    took = time.monotonic() - start
    call("DELETE", url, token)
    gone(url)
    return took

for masters, workers in [tuple(map(int, shape.split("+"))) for shape in os.environ.get("BENCH_SHAPES", "1+2 3+10").split()]:
    m = [magnum_create(masters, workers, i) for i in range(runs)]
    h = [heat_create(masters, workers, i) for i in range(runs)]
    print(f"{masters}+{workers}: Magnum API create -> CREATE_COMPLETE median {statistics.median(m):.1f} s "
          f"(runs {', '.join(f'{x:.1f}' for x in m)}); Heat stack create alone median {statistics.median(h):.1f} s "
          f"(runs {', '.join(f'{x:.1f}' for x in h)}); ratio {statistics.median(m) / statistics.median(h):.2f}")
PY
