#!/usr/bin/env bash
# Benchmark of the local_swarm driver: API create → CREATE_COMPLETE and API delete → gone
# (404), for 1 master + 2 workers and 3 masters + 5 workers, against `magnum serve` on a fresh
# data directory (plain HTTP with a token table, the status polled every 50 ms); and, when the
# reference recipe is at hand (REFERENCE=path/to/local-swarm-recipe.sh), the raw recipe's
# create and delete of the same shapes on the same machine.
#
#   scripts/bench-local-swarm.sh [MAGNUM_BINARY] [RUNS]        (root; results on stdout)
#
# MAGNUM_ARGS adds options to `magnum serve` (e.g. `--certificate-key-type ecdsa-p256`: the
# create request issues the cluster's three CAs and Magnum's client certificate, RSA 2048 by
# default).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:-.build/release/magnum}")"
RUNS="${2:-5}"
REFERENCE="${REFERENCE:-}"
PORT=$(( 40000 + RANDOM % 10000 ))
WORK="$(mktemp -d /tmp/magnum-bench-swarm.XXXXXX)"
PID=""
cleanup() {
    [[ -n "$PID" ]] && kill "$PID" 2>/dev/null
    wait 2>/dev/null || true
    scripts/local-swarm.sh sweep $(seq 240 250) || true
    rm -rf "$WORK"
}
trap cleanup EXIT
scripts/local-swarm.sh prepare >/dev/null

cat > "$WORK/tokens.yaml" <<'YAML'
tokens:
  bench: {user_id: bench, project_id: bench, roles: [admin, member]}
YAML
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" --token-table "$WORK/tokens.yaml" \
    --local-swarm-indexes 240-250 --log-level info ${MAGNUM_ARGS:-} > "$WORK/magnum.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

api() { # METHOD PATH [BODY] → body on stdout
    local args=(-s -X "$1" -H 'X-Auth-Token: bench' -H 'OpenStack-API-Version: container-infra latest' "http://127.0.0.1:$PORT$2")
    [[ -n "${3:-}" ]] && args+=(-H 'Content-Type: application/json' -d "$3")
    curl "${args[@]}"
}
code() { curl -s -o /dev/null -w '%{http_code}' -H 'X-Auth-Token: bench' "http://127.0.0.1:$PORT$1"; }
now() { date +%s.%N; }
api POST /v1/clustertemplates '{"name":"bench","coe":"swarm-mode","image_id":"local-swarm","external_network_id":"public","flavor_id":"local.small","master_flavor_id":"local.small","master_lb_enabled":true}' >/dev/null
# Warm-up: the first cluster also builds and caches the test image.
uuid="$(api POST /v1/clusters '{"name":"warm","cluster_template_id":"bench","node_count":1}' | sed -E 's/.*"uuid": *"([^"]+)".*/\1/')"
until api GET "/v1/clusters/$uuid" | grep -q '"status": "CREATE_COMPLETE"'; do sleep 0.1; done
api DELETE "/v1/clusters/$uuid" >/dev/null
until [[ "$(code "/v1/clusters/$uuid")" == 404 ]]; do sleep 0.1; done

stats() { sort -n | awk '{a[NR]=$1} END {printf "median %.2f s (min %.2f, max %.2f, n=%d)", a[int((NR+1)/2)], a[1], a[NR], NR}'; }
for shape in "1 2" "3 5"; do
    read -r masters workers <<<"$shape"
    : > "$WORK/create"; : > "$WORK/delete"
    for run in $(seq 1 "$RUNS"); do
        t0=$(now)
        body="{\"name\":\"b$run\",\"cluster_template_id\":\"bench\",\"master_count\":$masters,\"node_count\":$workers}"
        uuid="$(api POST /v1/clusters "$body" | sed -E 's/.*"uuid": *"([^"]+)".*/\1/')"
        while true; do
            status="$(api GET "/v1/clusters/$uuid" | sed -E 's/.*"status": *"([A-Z_]+)".*/\1/')"
            [[ "$status" == CREATE_COMPLETE ]] && break
            [[ "$status" == *FAILED ]] && { echo "create failed" >&2; tail -5 "$WORK/magnum.log" >&2; exit 1; }
            sleep 0.05
        done
        t1=$(now)
        api DELETE "/v1/clusters/$uuid" >/dev/null
        until [[ "$(code "/v1/clusters/$uuid")" == 404 ]]; do sleep 0.05; done
        t2=$(now)
        awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}' >> "$WORK/create"
        awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}' >> "$WORK/delete"
    done
    echo "magnum API ${masters}+${workers}${MAGNUM_ARGS:+ ($MAGNUM_ARGS)}: create → CREATE_COMPLETE $(stats < "$WORK/create"); delete → 404 $(stats < "$WORK/delete")"
done

if [[ -n "$REFERENCE" ]]; then
    export SWARMLAB_ROOT="$WORK/recipe"
    for shape in "1 2" "3 5"; do
        read -r masters workers <<<"$shape"
        : > "$WORK/create"; : > "$WORK/delete"
        for run in $(seq 1 "$RUNS"); do
            t0=$(now)
            "$REFERENCE" create 249 "$workers" 2>/dev/null
            for _ in $(seq 2 "$masters"); do "$REFERENCE" add-master 249 >/dev/null 2>&1; done
            t1=$(now)
            "$REFERENCE" delete 249 2>/dev/null
            t2=$(now)
            awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}' >> "$WORK/create"
            awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}' >> "$WORK/delete"
        done
        echo "raw recipe ${masters}+${workers}: create $(stats < "$WORK/create"); delete $(stats < "$WORK/delete")"
    done
fi
