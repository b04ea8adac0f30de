#!/usr/bin/env bash
# A CA rotation of a Kubernetes node. Magnum replaced the cluster's CAs and updates its stacks;
# each node's agent (agent.sh) runs this script for the node's ca_rotation deployment, with the
# new CA certificates and a fresh trust token in its environment (see rotation_init). The driver
# sends it after common.sh, so it does not depend on the common.sh the node booted with.
#
# Every certificate the node holds is signed again by the new CAs (its keys are kept), the
# kubeconfigs are rebuilt, the control plane's containers (masters) and the kubelet restart on
# them; master 0 then restarts the kube-system daemon sets and deployments, whose pods read the
# old CA when they started. The node is done when the API answers under the new CA and the node
# is Ready. Masters are updated together, so etcd's peers agree again once all have rotated.
set -Eeuo pipefail
if [[ "$(type -t rotation_init)" != function ]]; then
    # shellcheck source=common.sh
    . /usr/local/lib/magnum/common.sh
fi
rotation_init
: "${SERVICE_CIDR:=10.254.0.0/16}" "${DNS_DOMAIN:=cluster.local}"
kubeconfig=/etc/kubernetes/kubelet.conf

if [[ "$ROLE" == master ]]; then
    issue_master_certificates "$(admin_org)"
    if [[ -f /etc/kubernetes/super-admin.conf ]]; then
        make_kubeconfig /etc/kubernetes/super-admin.conf "https://$API_ADDRESS:6443" kubernetes-super-admin system:masters
    fi
    log "restarting the control plane"
    mapfile -t containers < <(crictl ps -q --name '^(etcd|kube-apiserver|kube-controller-manager|kube-scheduler)$')
    if ((${#containers[@]})); then crictl stop "${containers[@]}" >/dev/null; fi
    kubeconfig=/etc/kubernetes/admin.conf
else
    install -m 644 /etc/magnum/ca.crt "$K8S_PKI/ca.crt"
    make_kubelet_kubeconfig
fi
systemctl restart kubelet
wait_for_api "$API_ADDRESS"
if [[ "$ROLE" == master && "${NODE_INDEX:-0}" == 0 ]]; then
    log "restarting the kube-system workloads onto the new CA"
    retry 10 10 kubectl --kubeconfig "$kubeconfig" -n kube-system rollout restart daemonset,deployment
fi
log "waiting for node $NODE_NAME to be Ready"
retry 90 10 node_ready "$kubeconfig"
echo "Kubernetes $ROLE $NODE_NAME rotated onto CA ${rotation_id:-?}"
