#!/usr/bin/env bash
# Bootstraps a Kubernetes master (Fedora CoreOS, containerd, kubeadm in external-CA mode).
# Installed as /usr/local/bin/magnum-bootstrap and run once by a oneshot systemd unit after
# network-online; see common.sh for its inputs.
#
# Every master makes its own keys and has Magnum sign its certificates (API server, kubelet
# client of the API server, front-proxy client, etcd server/peer/health-check, API server's etcd
# client) and its kubeconfigs (admin, controller-manager, scheduler, kubelet). Master 0
# (NODE_INDEX 0) also makes the service-account key pair, runs `kubeadm init --upload-certs`
# (which shares that pair, encrypted with CERTIFICATE_KEY, for 2 hours) and installs the CNI;
# the others `kubeadm join --control-plane` with the same CERTIFICATE_KEY.
set -Eeuo pipefail
# shellcheck source=common.sh
. /usr/local/lib/magnum/common.sh
magnum_init

[[ -n "${KUBEADM_TOKEN:-}" && -n "${CERTIFICATE_KEY:-}" && -n "${KUBE_TAG:-}" ]] \
    || { log "KUBEADM_TOKEN, CERTIFICATE_KEY and KUBE_TAG are required"; false; }
: "${POD_CIDR:=10.100.0.0/16}" "${SERVICE_CIDR:=10.254.0.0/16}" "${DNS_DOMAIN:=cluster.local}"
: "${NETWORK_DRIVER:=calico}" "${CALICO_TAG:=v3.28.1}" "${FLANNEL_TAG:=v0.25.6}"
FIRST=false
[[ "${NODE_INDEX:-0}" == 0 ]] && FIRST=true
prepare_kubernetes_node
issue_master_certificates "$(admin_org)"

# --- kubeadm ---------------------------------------------------------------------------------
kubelet_config="---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
rotateCertificates: false"

if [[ "$FIRST" == true ]]; then
    (umask 077; openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K8S_PKI/sa.key")
    openssl pkey -in "$K8S_PKI/sa.key" -pubout -out "$K8S_PKI/sa.pub"
    if (($(kube_minor) >= 29)); then
        make_kubeconfig /etc/kubernetes/super-admin.conf "https://$API_ADDRESS:6443" kubernetes-super-admin system:masters
    fi
    cat >/etc/magnum/kubeadm.yaml <<CONFIG
apiVersion: $KUBEADM_API
kind: InitConfiguration
bootstrapTokens:
- token: "$KUBEADM_TOKEN"
  ttl: 2h0m0s
  usages: [signing, authentication]
  groups: [system:bootstrappers:kubeadm:default-node-token]
certificateKey: "$CERTIFICATE_KEY"
localAPIEndpoint:
  advertiseAddress: $NODE_IP
  bindPort: 6443
nodeRegistration:
  name: $NODE_NAME
  criSocket: $CRI_SOCKET
  kubeletExtraArgs:
    node-ip: $NODE_IP
    node-labels: "$(node_labels master)"
  ignorePreflightErrors: $K8S_IGNORE_PREFLIGHT
---
apiVersion: $KUBEADM_API
kind: ClusterConfiguration
clusterName: $CLUSTER_UUID
kubernetesVersion: $KUBE_TAG
controlPlaneEndpoint: "$API_ADDRESS:6443"
networking:
  podSubnet: $POD_CIDR
  serviceSubnet: $SERVICE_CIDR
  dnsDomain: $DNS_DOMAIN
$kubelet_config
CONFIG
    log "kubeadm init"
    kubeadm init --config /etc/magnum/kubeadm.yaml --upload-certs
else
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
    node-labels: "$(node_labels master)"
  ignorePreflightErrors: $K8S_IGNORE_PREFLIGHT
controlPlane:
  localAPIEndpoint:
    advertiseAddress: $NODE_IP
    bindPort: 6443
  certificateKey: "$CERTIFICATE_KEY"
CONFIG
    log "kubeadm join --control-plane"
    kubeadm join --config /etc/magnum/kubeadm.yaml
fi
# The bootstrap token and the certificate key are useless after the join, and expire anyway.
scrub_kubeadm_config
export KUBECONFIG=/etc/kubernetes/admin.conf

# --- network (from master 0) ------------------------------------------------------------------
install_cni() {
    local manifest=/etc/magnum/cni.yaml
    case "$NETWORK_DRIVER" in
        calico)
            retry 10 10 curl -fsSL --max-time 120 -o "$manifest" \
                "https://raw.githubusercontent.com/projectcalico/calico/$CALICO_TAG/manifests/calico.yaml"
            sed -i -e 's|# - name: CALICO_IPV4POOL_CIDR|- name: CALICO_IPV4POOL_CIDR|' \
                -e "s|#   value: \"192.168.0.0/16\"|  value: \"$POD_CIDR\"|" "$manifest"
            ;;
        flannel)
            retry 10 10 curl -fsSL --max-time 120 -o "$manifest" \
                "https://github.com/flannel-io/flannel/releases/download/$FLANNEL_TAG/kube-flannel.yml"
            sed -i "s|\"Network\": \"10.244.0.0/16\"|\"Network\": \"$POD_CIDR\"|" "$manifest"
            ;;
        *) log "unknown NETWORK_DRIVER $NETWORK_DRIVER"; return 1 ;;
    esac
    retry 10 10 kubectl apply -f "$manifest"
}

if [[ "$FIRST" == true ]]; then
    install_cni
fi

log "waiting for node $NODE_NAME to be Ready"
retry 90 10 node_ready /etc/kubernetes/admin.conf
magnum_done "Kubernetes master $NODE_NAME ready"
