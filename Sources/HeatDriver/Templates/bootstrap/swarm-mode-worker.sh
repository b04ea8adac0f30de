#!/usr/bin/env bash
# Bootstraps a swarm-mode worker (Fedora CoreOS, Docker). Installed as
# /usr/local/bin/magnum-bootstrap and run once by a oneshot systemd unit after network-online;
# see common.sh for its inputs.
#
# dockerd listens on tcp://0.0.0.0:2376 with --tlsverify (key made here, certificate signed by
# Magnum); the worker join token comes from the managers' Docker API
# (https://API_ADDRESS:2376/swarm, with the node's own certificate).
set -Eeuo pipefail
# shellcheck source=common.sh
. /usr/local/lib/magnum/common.sh
magnum_init

[[ -n "${API_ADDRESS:-}" ]] || { log "API_ADDRESS is required"; false; }
prepare_swarm_node worker

retry 3 10 try_join_swarm worker
[[ "$(swarm_state)" == active ]]
magnum_done "swarm worker $NODE_NAME ready"
