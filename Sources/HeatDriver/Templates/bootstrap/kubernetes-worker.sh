#!/usr/bin/env bash
# Bootstraps a Kubernetes worker (Fedora CoreOS, containerd, kubeadm). Installed as
# /usr/local/bin/magnum-bootstrap and run once by a oneshot systemd unit after network-online;
# see common.sh for its inputs.
#
# The worker makes its kubelet key, has Magnum sign its kubelet client certificate
# (system:node:<name>, the controller-manager cannot sign without the CA key), then
# `kubeadm join`s API_ADDRESS with KUBEADM_TOKEN, authenticating the API server by the hash of
# /etc/magnum/ca.crt.
set -Eeuo pipefail
# shellcheck source=common.sh
. /usr/local/lib/magnum/common.sh
magnum_init

[[ -n "${KUBEADM_TOKEN:-}" && -n "${KUBE_TAG:-}" && -n "${API_ADDRESS:-}" ]] \
    || { log "KUBEADM_TOKEN, KUBE_TAG and API_ADDRESS are required"; false; }

prepare_kubernetes_node
make_kubelet_kubeconfig

wait_for_api "$API_ADDRESS"
cat >/etc/magnum/kubeadm.yaml <<CONFIG
apiVersion: $KUBEADM_API
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "$API_ADDRESS:6443"
    token: "$KUBEADM_TOKEN"
    caCertHashes: ["$(ca_cert_hash)"]
nodeRegistration:
  name: $NODE_NAME
  criSocket: $CRI_SOCKET
  kubeletExtraArgs:
    node-ip: $NODE_IP
    node-labels: "$(node_labels worker)"
  ignorePreflightErrors: $K8S_IGNORE_PREFLIGHT
CONFIG
log "kubeadm join"
kubeadm join --config /etc/magnum/kubeadm.yaml
scrub_kubeadm_config

# The node is Ready once the CNI (installed from master 0) runs on it.
log "waiting for node $NODE_NAME to be Ready"
retry 90 10 node_ready /etc/kubernetes/kubelet.conf
magnum_done "Kubernetes worker $NODE_NAME ready"
