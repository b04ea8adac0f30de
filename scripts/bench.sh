#!/usr/bin/env bash
# API throughput benchmark (see docs/benchmarks.md): a release build of `magnum serve` on its
# embedded SQLite, 5 cluster templates, then wrk with 8 connections against
# GET /v1/clustertemplates and POST /v1/clustertemplates. Traffic stays on 127.0.0.1.
#   scripts/bench.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
swift build -c release --scratch-path .build-release --product magnum >/dev/null
BIN=.build-release/release/magnum
WORK="$(mktemp -d /tmp/magnum-bench.XXXXXX)"
PORT=$(( 20000 + RANDOM % 20000 ))
cat > "$WORK/tokens.yaml" <<'YAML'
tokens:
  bench-token: {user_id: bench, project_id: bench-project, roles: [member]}
YAML
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" --token-table "$WORK/tokens.yaml" --log-level warning &
PID=$!
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
BODY='{"name":"bench-ct","coe":"kubernetes","image_id":"fedora-coreos-latest","external_network_id":"public","flavor_id":"m1.small","master_flavor_id":"m1.small","keypair_id":"kp","labels":{"kube_tag":"v1.30"},"dns_nameserver":"8.8.8.8"}'
for i in 1 2 3 4 5; do
    curl -s -o /dev/null -X POST -H 'X-Auth-Token: bench-token' -H 'Content-Type: application/json' \
        -d "$BODY" "http://127.0.0.1:$PORT/v1/clustertemplates"
done
cat > "$WORK/get.lua" <<'LUA'
wrk.headers["X-Auth-Token"] = "bench-token"
LUA
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["X-Auth-Token"] = "bench-token"
wrk.headers["Content-Type"] = "application/json"
LUA
echo "== GET /v1/clustertemplates (5 templates), 8 connections, ${DURATION}s"
wrk -t2 -c8 -d"${DURATION}s" --latency -s "$WORK/get.lua" "http://127.0.0.1:$PORT/v1/clustertemplates"
echo "== POST /v1/clustertemplates, 8 connections, ${DURATION}s"
wrk -t2 -c8 -d"${DURATION}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/clustertemplates"
