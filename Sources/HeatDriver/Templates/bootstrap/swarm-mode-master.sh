#!/usr/bin/env bash
# Bootstraps a swarm-mode manager (Fedora CoreOS, Docker). Installed as
# /usr/local/bin/magnum-bootstrap and run once by a oneshot systemd unit after network-online;
# see common.sh for its inputs.
#
# dockerd listens on tcp://0.0.0.0:2376 with --tlsverify, with a key made here and a certificate
# signed by Magnum (SANs: node IP, name, 127.0.0.1, the API address). Manager 0 (NODE_INDEX 0)
# initialises the swarm; the others fetch the manager join token from the managers' Docker API
# (https://API_ADDRESS:2376/swarm, with their own certificate) and join as managers.
set -Eeuo pipefail
# shellcheck source=common.sh
. /usr/local/lib/magnum/common.sh
magnum_init

prepare_swarm_node manager

if [[ "${NODE_INDEX:-0}" == 0 ]]; then
    if [[ "$(swarm_state)" != active ]]; then
        log "docker swarm init"
        docker swarm init --advertise-addr "$NODE_IP" --listen-addr "$NODE_IP:2377"
    fi
else
    retry 3 10 try_join_swarm manager
fi

retry 30 5 docker node ls >/dev/null
magnum_done "swarm manager $NODE_NAME ready"
