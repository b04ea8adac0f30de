#!/usr/bin/env bash
# The node's agent for Heat software deployments (what os-collect-config and heat-config do
# elsewhere), installed as /usr/local/bin/magnum-agent and run every 30 s by magnum-agent.timer
# once the node is bootstrapped. One run:
#   1. reads the server's credentials from Heat's cfn-init-data (Heat writes them into the
#      Ignition config of a server with user_data_format SOFTWARE_CONFIG and
#      software_config_transport POLL_SERVER_HEAT: a user of Heat's stack domain that can read
#      this server's metadata and nothing of the cluster's owner);
#   2. reads the server resource's metadata from Heat (the orchestration endpoint of that
#      user's token) and takes its `deployments`;
#   3. runs every `script` deployment it has not run yet (by the derived config's id), with the
#      deployment's inputs as environment variables, and signals Heat with the deployment's own
#      credentials (deploy_signal_transport HEAT_SIGNAL): stdout, stderr and the exit status,
#      which completes or fails the deployment resource and with it the stack update.
#
# Environment, for tests: MAGNUM_AGENT_CREDENTIALS (cfn-init-data), MAGNUM_AGENT_STATE (the
# record of deployments run), MAGNUM_AGENT_RUN (the command given a deployment's script file;
# default bash), MAGNUM_COMMON (common.sh). Needs curl, jq (both in Fedora CoreOS).
set -Eeuo pipefail
# The agent's log lines, and those of the deployments it runs, are tagged as its own.
export MAGNUM_LOG_TAG=magnum-agent
# shellcheck source=common.sh
. "${MAGNUM_COMMON:-/usr/local/lib/magnum/common.sh}"

CREDENTIALS="${MAGNUM_AGENT_CREDENTIALS:-/var/lib/heat-cfntools/cfn-init-data}"
STATE="${MAGNUM_AGENT_STATE:-/var/lib/magnum/deployments}"
WORKDIR=""

# Password authentication by user ID; sets TOKEN and HEAT_ENDPOINT (the public orchestration
# endpoint of the token's catalog, in REGION when one is given).
keystone_login() { # AUTH_URL USER_ID PASSWORD PROJECT_ID [REGION]
    local url="${1%/}" body code
    [[ "$url" == */v3 ]] || url+=/v3
    body="$(jq -n --arg u "$2" --arg p "$3" --arg project "$4" \
        '{auth: {identity: {methods: ["password"], password: {user: {id: $u, password: $p}}}, scope: {project: {id: $project}}}}')"
    code="$(curl -sS --max-time 30 -D "$WORKDIR/headers" -o "$WORKDIR/token.json" -w '%{http_code}' \
        -H 'Content-Type: application/json' -d "$body" "$url/auth/tokens")" || code=000
    [[ "$code" == 201 ]] || { log "Keystone at $url answered $code"; return 1; }
    TOKEN="$(awk 'tolower($1) == "x-subject-token:" {print $2}' "$WORKDIR/headers" | tr -d '\r')"
    HEAT_ENDPOINT="$(jq -er --arg region "${5:-}" '[.token.catalog[] | select(.type == "orchestration") | .endpoints[]
        | select(.interface == "public" and ($region == "" or .region_id == $region or .region == $region)) | .url][0]' \
        "$WORKDIR/token.json")" || { log "the token's catalog has no orchestration endpoint"; return 1; }
    HEAT_ENDPOINT="${HEAT_ENDPOINT%/}"
}

# The value of input NAME of the deployment in file DEPLOYMENT (empty when absent).
input() { jq -r --arg n "$2" '[.inputs[]? | select(.name == $n) | .value][0] // "" | if type == "string" then . else tojson end' "$1"; }

# Runs one deployment and signals its outcome; records it as run only once Heat has the signal.
run_deployment() { # DEPLOYMENT
    local d="$1" id status=0 name value env=()
    id="$(jq -r .id "$d")"
    jq -r '.config // ""' "$d" >"$WORKDIR/$id.script"
    while IFS= read -r name; do
        value="$(input "$d" "$name")"
        env+=("$name=$value")
    done < <(jq -r '.inputs[]?.name | select(test("^[A-Za-z_][A-Za-z0-9_]*$"))' "$d")
    log "running deployment $id ($(jq -r '.name // ""' "$d"), action $(input "$d" deploy_action))"
    env "${env[@]}" "${MAGNUM_AGENT_RUN:-bash}" "$WORKDIR/$id.script" >"$WORKDIR/$id.out" 2>"$WORKDIR/$id.err" || status=$?
    log "deployment $id exited with $status"
    signal_deployment "$d" "$status" "$WORKDIR/$id.out" "$WORKDIR/$id.err"
    mkdir -p "$STATE"
    touch "$STATE/$id"
}

# HEAT_SIGNAL: the deployment resource's signal, with the deployment's own credentials.
signal_deployment() { # DEPLOYMENT STATUS STDOUT STDERR
    local d="$1" transport body code
    transport="$(input "$d" deploy_signal_transport)"
    [[ "$transport" == HEAT_SIGNAL ]] || { log "signal transport '$transport' is not HEAT_SIGNAL"; return 1; }
    keystone_login "$(input "$d" deploy_auth_url)" "$(input "$d" deploy_user_id)" "$(input "$d" deploy_password)" \
        "$(input "$d" deploy_project_id)" "$(input "$d" deploy_region_name)"
    body="$(jq -n --rawfile out "$3" --rawfile err "$4" --argjson code "$2" \
        '{deploy_stdout: ($out | .[-30000:]), deploy_stderr: ($err | .[-30000:]), deploy_status_code: $code}')"
    code="$(curl -sS --max-time 60 -o "$WORKDIR/signal.out" -w '%{http_code}' -X POST -H "X-Auth-Token: $TOKEN" \
        -H 'Content-Type: application/json' -d "$body" \
        "$HEAT_ENDPOINT/stacks/$(input "$d" deploy_stack_id)/resources/$(input "$d" deploy_resource_name)/signal")" || code=000
    [[ "$code" == 200 ]] || { log "Heat answered $code to the signal: $(head -c 300 "$WORKDIR/signal.out")"; return 1; }
}

# One poll: every script deployment of the server not run yet.
poll() {
    local heat d i count
    [[ -s "$CREDENTIALS" ]] || { log "no credentials in $CREDENTIALS (not a software-config server)"; return 0; }
    heat="$(jq -c '."os-collect-config".heat // empty' "$CREDENTIALS")"
    [[ -n "$heat" ]] || { log "$CREDENTIALS has no os-collect-config.heat"; return 0; }
    keystone_login "$(jq -r .auth_url <<<"$heat")" "$(jq -r .user_id <<<"$heat")" "$(jq -r .password <<<"$heat")" \
        "$(jq -r .project_id <<<"$heat")" "$(jq -r '.region_name // ""' <<<"$heat")"
    curl -fsS --max-time 60 -H "X-Auth-Token: $TOKEN" -o "$WORKDIR/metadata.json" \
        "$HEAT_ENDPOINT/stacks/$(jq -r .stack_id <<<"$heat")/resources/$(jq -r .resource_name <<<"$heat")/metadata"
    count="$(jq '.metadata.deployments // [] | length' "$WORKDIR/metadata.json")"
    for ((i = 0; i < count; i++)); do
        d="$WORKDIR/deployment-$i.json"
        jq ".metadata.deployments[$i]" "$WORKDIR/metadata.json" >"$d"
        [[ "$(jq -r .group "$d")" == script ]] || continue
        [[ -e "$STATE/$(jq -r .id "$d")" ]] && continue
        run_deployment "$d"
    done
}

main() {
    WORKDIR="$(mktemp -d)"
    trap 'rm -rf "$WORKDIR"' EXIT
    poll
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
