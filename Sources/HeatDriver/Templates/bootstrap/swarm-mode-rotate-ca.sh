#!/usr/bin/env bash
# A CA rotation of a swarm-mode node. Magnum replaced the cluster's CA and updates its stacks;
# each node's agent (agent.sh) runs this script for the node's ca_rotation deployment, with the
# new CA certificate and a fresh trust token in its environment (see rotation_init). The driver
# sends it after common.sh, so it does not depend on the common.sh the node booted with.
#
# The engine's certificate is signed again by the new CA (its key is kept) and dockerd restarts
# trusting only the new CA, so clients with a certificate of the old CA are refused. The swarm
# keeps its own state (and its own CA for the swarm's mutual TLS); the node rejoins it.
set -Eeuo pipefail
if [[ "$(type -t rotation_init)" != function ]]; then
    # shellcheck source=common.sh
    . /usr/local/lib/magnum/common.sh
fi
rotation_init
role=worker
[[ "$ROLE" == master ]] && role=manager
issue_engine_certificate "$role"
log "restarting dockerd"
systemctl restart docker
retry 30 2 docker info >/dev/null
[[ "$role" == worker ]] || retry 30 5 docker node ls >/dev/null
echo "swarm $role $NODE_NAME rotated onto CA ${rotation_id:-?}"
