#!/usr/bin/env bash
# Shared by the node bootstrap scripts of the Heat driver; installed as
# /usr/local/lib/magnum/common.sh and sourced by /usr/local/bin/magnum-bootstrap.
#
# The node's configuration comes from two files Ignition writes:
#   /etc/magnum/cluster.env  MAGNUM_URL CLUSTER_UUID COE ROLE NODEGROUP NODEGROUP_LABELS
#                            MASTER_COUNT BOOTSTRAP_TOKEN KUBEADM_TOKEN CERTIFICATE_KEY KUBE_TAG
#                            POD_CIDR SERVICE_CIDR NETWORK_DRIVER DNS_DOMAIN CONTAINER_RUNTIME
#                            DOCKER_VOLUME_SIZE TLS_DISABLED (optional: API_EXTRA_SANS,
#                            CALICO_TAG, FLANNEL_TAG)
#   /etc/magnum/heat.env     WAIT_ENDPOINT WAIT_TOKEN API_ADDRESS NODE_NAME NODE_INDEX
#                            (optional: VOLUME_ID), filled in per server by Heat
# and the CA certificates /etc/magnum/{ca,etcd-ca,front-proxy-ca}.crt (never a CA key).
#
# BOOTSTRAP_TOKEN (a short-lived Keystone token scoped to the cluster's trust) is the only
# credential the node receives; it only serves to have Magnum sign the certificate requests of
# keys generated here. Nothing long-lived is written besides the node's own keys/certificates.
#
# Needs curl, jq, openssl (all in Fedora CoreOS).

MAGNUM_STAMP=/var/lib/magnum/bootstrap.done
MAGNUM_PKI=/etc/magnum/pki

# MAGNUM_LOG_TAG: the program logging (magnum-agent, and the deployments it runs, set it).
log() { echo "${MAGNUM_LOG_TAG:-magnum-bootstrap}: $*" >&2; }

# Escapes a string into a JSON string literal (with the quotes).
json_string() { printf '%s' "$1" | jq -Rs .; }

# Signals the node's Heat wait condition. STATUS is SUCCESS or FAILURE.
signal_heat() { # STATUS REASON [DATA]
    local body
    body="{\"status\": \"$1\", \"reason\": $(json_string "$2"), \"data\": $(json_string "${3:-}"), \"id\": $(json_string "$NODE_NAME")}"
    curl -fsS --retry 10 --retry-delay 5 --retry-all-errors --max-time 30 -X POST \
        -H "X-Auth-Token: $WAIT_TOKEN" -H 'Content-Type: application/json' \
        -d "$body" "$WAIT_ENDPOINT" >/dev/null
}

on_error() { # EXIT-CODE LINE COMMAND
    trap - ERR
    local msg
    msg="$(basename "$0") failed at line $2 (exit $1): $3"
    log "$msg"
    signal_heat FAILURE "$msg" "" || log "could not signal the failure to Heat"
    exit "$1"
}

# The node's settings (cluster.env, heat.env).
load_settings() {
    set -a
    # shellcheck source=/dev/null
    . /etc/magnum/cluster.env
    # shellcheck source=/dev/null
    . /etc/magnum/heat.env
    set +a
    : "${API_EXTRA_SANS:=}" "${VOLUME_ID:=}"
}

# NODE_IP, and API_ADDRESS where Heat left it empty.
node_addresses() {
    NODE_IP="$(node_ip)"
    [[ -n "$NODE_IP" ]] || { log "no IPv4 address"; return 1; }
    # Without a load balancer, master 0 gets its own fixed IP as the join address (the cluster
    # stack creates its port first); an empty one is read the same way, for master 0 only.
    if [[ "$ROLE" == master && "${NODE_INDEX:-0}" == 0 && -z "${API_ADDRESS:-}" ]]; then
        API_ADDRESS="$NODE_IP"
    fi
}

# Loads the configuration, installs the failure trap, computes NODE_IP.
magnum_init() {
    load_settings
    trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
    local v
    for v in MAGNUM_URL CLUSTER_UUID COE ROLE BOOTSTRAP_TOKEN WAIT_ENDPOINT WAIT_TOKEN NODE_NAME; do
        [[ -n "${!v:-}" ]] || { log "$v is not set"; false; }
    done
    if [[ -f "$MAGNUM_STAMP" ]]; then
        log "already bootstrapped ($MAGNUM_STAMP)"
        exit 0
    fi
    node_addresses
    mkdir -p "$MAGNUM_PKI" /var/lib/magnum
    chmod 700 "$MAGNUM_PKI"
}

# The start of a CA rotation, which magnum-agent runs with the deployment's inputs in the
# environment (rotation_id, kubernetes_ca, etcd_ca, front_proxy_ca, bootstrap_token: a fresh
# token of the cluster's trust): loads the node's settings, takes the token for the certificate
# requests and installs the new CA certificates under /etc/magnum. A failure ends the script
# with a non-zero status, which the agent signals to Heat (no wait condition is involved).
rotation_init() {
    load_settings
    [[ -f "$MAGNUM_STAMP" ]] || { log "this node was never bootstrapped"; return 1; }
    [[ -n "${bootstrap_token:-}" && -n "${kubernetes_ca:-}" ]] || { log "the rotation lacks bootstrap_token or kubernetes_ca"; return 1; }
    BOOTSTRAP_TOKEN="$bootstrap_token"
    node_addresses
    install_ca /etc/magnum/ca.crt "$kubernetes_ca"
    if [[ -n "${etcd_ca:-}" ]]; then install_ca /etc/magnum/etcd-ca.crt "$etcd_ca"; fi
    if [[ -n "${front_proxy_ca:-}" ]]; then install_ca /etc/magnum/front-proxy-ca.crt "$front_proxy_ca"; fi
    log "rotating $NODE_NAME onto CA ${rotation_id:-?}"
}

# Writes a CA certificate (PEM text) atomically; fails when it is not one.
install_ca() { # FILE PEM
    printf '%s\n' "$2" >"$1.tmp"
    openssl x509 -noout -in "$1.tmp" || { rm -f "$1.tmp"; log "not a certificate for $1"; return 1; }
    chmod 644 "$1.tmp"
    mv "$1.tmp" "$1"
}

# Success: the stamp that keeps the unit from running again, then the credentials handed to the
# node for its bootstrap are blanked (they expire anyway), then Heat hears of it.
magnum_done() { # REASON
    touch "$MAGNUM_STAMP"
    sed -i -E 's/^(BOOTSTRAP_TOKEN|KUBEADM_TOKEN|CERTIFICATE_KEY)=.*/\1=/' /etc/magnum/cluster.env
    signal_heat SUCCESS "$1" "$NODE_IP"
    log "done: $1"
}

# The source address of the default route.
node_ip() {
    ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") {print $(i + 1); exit}}'
}

# The floating IP from the metadata service, when there is one (empty otherwise).
public_ip() {
    local ip
    ip="$(curl -sf --max-time 5 http://169.254.169.254/latest/meta-data/public-ipv4 2>/dev/null || true)"
    [[ "$ip" =~ ^[0-9]+(\.[0-9]+){3}$ ]] && echo "$ip"
    return 0
}

retry() { # ATTEMPTS DELAY COMMAND...
    local attempts="$1" delay="$2" i
    shift 2
    for ((i = 1; ; i++)); do
        "$@" && return 0
        ((i >= attempts)) && return 1
        log "retrying ($i/$attempts): $*"
        sleep "$delay"
    done
}

# Has Magnum sign CSR with the cluster's CA of CA_TYPE (kubernetes, etcd, front-proxy); writes
# the certificate to OUT. Fails (for retry) on any answer but 201 with a PEM.
post_csr() { # CSR CA_TYPE OUT
    local body code resp
    resp="$(mktemp)"
    body="$(jq -n --arg uuid "$CLUSTER_UUID" --rawfile csr "$1" --arg type "$2" \
        '{cluster_uuid: $uuid, csr: $csr, ca_cert_type: $type}')"
    code="$(curl -sS --max-time 60 -o "$resp" -w '%{http_code}' -X POST \
        -H "X-Auth-Token: $BOOTSTRAP_TOKEN" -H 'OpenStack-API-Version: container-infra latest' \
        -H 'Content-Type: application/json' -d "$body" "$MAGNUM_URL/v1/certificates")" || code=000
    if [[ "$code" != 201 ]] || ! jq -er .pem "$resp" >"$3.tmp" || ! grep -q 'BEGIN CERTIFICATE' "$3.tmp"; then
        log "certificate request ($2) answered $code: $(head -c 300 "$resp")"
        rm -f "$resp" "$3.tmp"
        return 1
    fi
    rm -f "$resp"
    mv "$3.tmp" "$3"
}

# Creates PREFIX.key (RSA 2048, generated here, kept when present) and PREFIX.crt signed by
# Magnum's CA_TYPE CA. USAGE: server, client or both. SANS: comma-separated DNS:…/IP:… entries.
issue_cert() { # PREFIX CA_TYPE SUBJECT USAGE [SANS]
    local prefix="$1" type="$2" subject="$3" usage="$4" sans="${5:-}" eku args=()
    case "$usage" in
        server) eku=serverAuth ;;
        client) eku=clientAuth ;;
        both) eku=serverAuth,clientAuth ;;
        *) log "bad usage $usage"; return 1 ;;
    esac
    mkdir -p "$(dirname "$prefix")"
    if [[ ! -s "$prefix.key" ]]; then
        (umask 077; openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$prefix.key")
    fi
    args=(-addext "keyUsage=critical,digitalSignature,keyEncipherment" -addext "extendedKeyUsage=$eku")
    [[ -n "$sans" ]] && args+=(-addext "subjectAltName=$sans")
    openssl req -new -key "$prefix.key" -subj "$subject" "${args[@]}" -out "$prefix.csr"
    retry 30 10 post_csr "$prefix.csr" "$type" "$prefix.crt"
    rm -f "$prefix.csr"
}

# SANs every node certificate carries: its name, its addresses, loopback.
node_sans() {
    local sans="DNS:$NODE_NAME,IP:$NODE_IP,IP:127.0.0.1" pub extra
    pub="$(public_ip)"
    [[ -n "$pub" ]] && sans+=",IP:$pub"
    for extra in ${API_EXTRA_SANS//,/ }; do
        if [[ "$extra" =~ ^[0-9.]+$ ]]; then sans+=",IP:$extra"; else sans+=",DNS:$extra"; fi
    done
    echo "$sans"
}

# The block device of the attached container-storage volume: by the volume's serial (Nova
# exposes the first 20 characters of the volume id), else the first whole disk without
# partitions or file system that is not the root disk. Waits up to 5 minutes for it to appear.
find_volume_device() {
    local i dev root
    root="$(lsblk -no PKNAME "$(findmnt -no SOURCE /sysroot 2>/dev/null || findmnt -no SOURCE /)" 2>/dev/null | head -n 1)"
    for ((i = 0; i < 60; i++)); do
        if [[ -n "$VOLUME_ID" ]]; then
            for dev in /dev/disk/by-id/virtio-"${VOLUME_ID:0:20}" /dev/disk/by-id/scsi-*"${VOLUME_ID:0:20}"*; do
                [[ -b "$dev" ]] && { readlink -f "$dev"; return 0; }
            done
        fi
        while read -r dev; do
            [[ "$dev" == "$root" ]] && continue
            [[ -z "$(lsblk -no FSTYPE "/dev/$dev" | tr -d '[:space:]')" ]] || continue
            [[ "$(lsblk -no NAME "/dev/$dev" | wc -l)" == 1 ]] || continue
            echo "/dev/$dev"
            return 0
        done < <(lsblk -dno NAME,TYPE | awk '$2 == "disk" {print $1}')
        sleep 5
    done
    return 1
}

# Formats (XFS, only when blank) and mounts the container-storage volume on MOUNTPOINT, through
# a systemd mount unit so that it comes back after a reboot. Nothing when DOCKER_VOLUME_SIZE is 0.
setup_docker_volume() { # MOUNTPOINT
    [[ "${DOCKER_VOLUME_SIZE:-0}" =~ ^[1-9][0-9]*$ ]] || return 0
    local mnt="$1" dev unit uuid
    dev="$(find_volume_device)" || { log "the ${DOCKER_VOLUME_SIZE} GB volume did not appear"; return 1; }
    # Nothing may write to the directory while the volume is mounted over it.
    systemctl stop docker.service docker.socket containerd.service 2>/dev/null || true
    if [[ -z "$(blkid -o value -s TYPE "$dev" || true)" ]]; then
        log "formatting $dev"
        mkfs.xfs -q "$dev"
    fi
    uuid="$(blkid -o value -s UUID "$dev")"
    unit="$(systemd-escape -p --suffix=mount "$mnt")"
    mkdir -p "$mnt"
    cat >"/etc/systemd/system/$unit" <<UNIT
[Unit]
Description=Container storage (Magnum docker volume)
Before=containerd.service docker.service
[Mount]
What=/dev/disk/by-uuid/$uuid
Where=$mnt
Type=xfs
Options=defaults,prjquota
[Install]
WantedBy=local-fs.target
UNIT
    systemctl daemon-reload
    systemctl enable --now "$unit"
    log "mounted $dev on $mnt"
}

# --- Kubernetes (kubeadm, containerd) -------------------------------------------------------
#
# kubeadm runs in external-CA mode: /etc/kubernetes/pki/ca.crt is present, ca.key never is, and
# every certificate kubeadm would sign is requested from Magnum before kubeadm runs, together
# with the kubeconfig files built from them. The kubelet client certificate of every node
# (kubelet.conf) is made the same way, since the controller-manager cannot sign kubelet CSRs
# without the CA key; kubelet certificate rotation is therefore off.

# shellcheck disable=SC2034 # used by the Kubernetes scripts
K8S_PKI=/etc/kubernetes/pki
# shellcheck disable=SC2034
KUBEADM_API=kubeadm.k8s.io/v1beta3
CRI_SOCKET=unix:///run/containerd/containerd.sock
# Preflight errors expected in external-CA mode with pre-made node credentials (a YAML list for
# nodeRegistration.ignorePreflightErrors).
# shellcheck disable=SC2034
K8S_IGNORE_PREFLIGHT="[FileAvailable--etc-kubernetes-kubelet.conf, FileAvailable--etc-kubernetes-pki-ca.crt, FileExisting-conntrack]"

arch() {
    case "$(uname -m)" in
        x86_64) echo amd64 ;;
        aarch64) echo arm64 ;;
        *) uname -m ;;
    esac
}

# Minor version of KUBE_TAG (v1.30.4 → 30).
kube_minor() { local m="${KUBE_TAG#v1.}"; echo "${m%%.*}"; }

# Downloads URL to DEST and checks it against the published SHA-256 at URL.sha256.
fetch_verified() { # URL DEST
    local sum
    retry 10 10 curl -fsSL --max-time 300 -o "$2.tmp" "$1"
    sum="$(retry 10 10 curl -fsSL --max-time 60 "$1.sha256" | awk '{print $1}')"
    echo "$sum  $2.tmp" | sha256sum -c --quiet -
    mv "$2.tmp" "$2"
}

install_kubernetes_binaries() {
    local a bin crictl
    a="$(arch)"
    for bin in kubeadm kubelet kubectl; do
        fetch_verified "https://dl.k8s.io/release/$KUBE_TAG/bin/linux/$a/$bin" "/usr/local/bin/$bin"
        chmod 755 "/usr/local/bin/$bin"
    done
    # kubeadm's preflight needs crictl; cri-tools releases v1.N.0 for every Kubernetes minor.
    crictl="v1.$(kube_minor).0"
    retry 10 10 curl -fsSL --max-time 300 -o /tmp/crictl.tgz \
        "https://github.com/kubernetes-sigs/cri-tools/releases/download/$crictl/crictl-$crictl-linux-$a.tar.gz"
    tar -C /usr/local/bin -xzf /tmp/crictl.tgz crictl
    rm -f /tmp/crictl.tgz
    printf 'runtime-endpoint: %s\nimage-endpoint: %s\n' "$CRI_SOCKET" "$CRI_SOCKET" >/etc/crictl.yaml
}

configure_containerd() {
    mkdir -p /etc/containerd /opt/cni/bin /etc/cni/net.d
    # Fedora CoreOS ships the reference CNI plugins in /usr/libexec/cni; CNI installers add theirs
    # to /opt/cni/bin.
    if [[ -d /usr/libexec/cni ]]; then cp -n /usr/libexec/cni/* /opt/cni/bin/ || true; fi
    containerd config default \
        | sed -e 's/SystemdCgroup = false/SystemdCgroup = true/' \
              -e 's#bin_dir = .*#bin_dir = "/opt/cni/bin"#' >/etc/containerd/config.toml
    systemctl daemon-reload
    systemctl enable containerd
    systemctl restart containerd
}

install_kubelet_unit() {
    mkdir -p /etc/systemd/system/kubelet.service.d /var/lib/kubelet /etc/kubernetes/manifests
    cat >/etc/systemd/system/kubelet.service <<'UNIT'
[Unit]
Description=Kubernetes node agent
Wants=network-online.target containerd.service
After=network-online.target containerd.service
[Service]
ExecStart=/usr/local/bin/kubelet
Restart=always
RestartSec=5
[Install]
WantedBy=multi-user.target
UNIT
    # The arguments kubeadm expects the kubelet to be started with.
    cat >/etc/systemd/system/kubelet.service.d/10-kubeadm.conf <<'UNIT'
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart=
ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS
UNIT
    systemctl daemon-reload
    systemctl enable kubelet
}

# Everything a Kubernetes node needs before kubeadm runs.
prepare_kubernetes_node() {
    [[ "$COE" == kubernetes && "${CONTAINER_RUNTIME:-containerd}" == containerd ]] \
        || { log "COE $COE with runtime ${CONTAINER_RUNTIME:-} is not what this script bootstraps"; false; }
    hostnamectl set-hostname "$NODE_NAME" || true
    modprobe overlay
    modprobe br_netfilter
    printf 'overlay\nbr_netfilter\n' >/etc/modules-load.d/magnum-kubernetes.conf
    cat >/etc/sysctl.d/90-magnum-kubernetes.conf <<'SYSCTL'
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
SYSCTL
    sysctl --system >/dev/null
    swapoff -a || true
    # The static pods' hostPath volumes are not labelled for containers.
    setenforce 0 || true
    sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config || true
    setup_docker_volume /var/lib/containerd
    configure_containerd
    install_kubernetes_binaries
    install_kubelet_unit
    mkdir -p "$K8S_PKI/etcd"
    install -m 644 /etc/magnum/ca.crt "$K8S_PKI/ca.crt"
}

# A kubeconfig with a client certificate of the cluster CA; the key is made here and embedded.
make_kubeconfig() { # FILE SERVER-URL CN [ORG]
    local file="$1" server="$2" cn="$3" org="${4:-}" subject prefix user
    subject="/CN=$cn"
    [[ -n "$org" ]] && subject="/O=$org$subject"
    prefix="$MAGNUM_PKI/$(basename "$file" .conf)"
    issue_cert "$prefix" kubernetes "$subject" client
    user="$cn"
    (
        umask 077
        cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    certificate-authority-data: $(base64 -w0 "$K8S_PKI/ca.crt")
    server: $server
contexts:
- name: $user@kubernetes
  context:
    cluster: kubernetes
    user: $user
current-context: $user@kubernetes
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$prefix.crt")
    client-key-data: $(base64 -w0 "$prefix.key")
KUBECONFIG
    )
    rm -f "$prefix.crt" "$prefix.key"
}

# The first address of an IPv4 CIDR (the kubernetes service's ClusterIP).
first_service_ip() {
    local net="${SERVICE_CIDR%/*}" a b c d
    IFS=. read -r a b c d <<<"$net"
    local n=$(((a << 24 | b << 16 | c << 8 | d) + 1))
    echo "$((n >> 24 & 255)).$((n >> 16 & 255)).$((n >> 8 & 255)).$((n & 255))"
}

# The kubelet credential of every node: CN system:node:<name>, group system:nodes.
make_kubelet_kubeconfig() {
    make_kubeconfig /etc/kubernetes/kubelet.conf "https://$API_ADDRESS:6443" "system:node:$NODE_NAME" system:nodes
}

# The kubelet's --node-labels: role, nodegroup and the nodegroup's labels (k=v,…).
node_labels() { # ROLE
    echo "magnum.openstack.org/role=$1,magnum.openstack.org/nodegroup=${NODEGROUP:-}${NODEGROUP_LABELS:+,$NODEGROUP_LABELS}"
}

# Everything kubeadm would sign for a master, signed by Magnum instead (keys made here, kept
# when present): API server, its kubelet and etcd clients, front-proxy client, etcd
# server/peer/health check; then the kubeconfigs (admin, controller-manager, scheduler,
# kubelet). ADMIN_ORG: the admin credential's group.
issue_master_certificates() { # ADMIN_ORG
    local sans etcd_sans
    install -m 644 /etc/magnum/ca.crt "$K8S_PKI/ca.crt"
    install -m 644 /etc/magnum/front-proxy-ca.crt "$K8S_PKI/front-proxy-ca.crt"
    install -m 644 /etc/magnum/etcd-ca.crt "$K8S_PKI/etcd/ca.crt"
    sans="$(node_sans),IP:$API_ADDRESS,IP:$(first_service_ip),DNS:kubernetes,DNS:kubernetes.default"
    sans+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$DNS_DOMAIN"
    issue_cert "$K8S_PKI/apiserver" kubernetes /CN=kube-apiserver server "$sans"
    issue_cert "$K8S_PKI/apiserver-kubelet-client" kubernetes /O=system:masters/CN=kube-apiserver-kubelet-client client
    issue_cert "$K8S_PKI/front-proxy-client" front-proxy /CN=front-proxy-client client
    etcd_sans="DNS:$NODE_NAME,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1"
    issue_cert "$K8S_PKI/etcd/server" etcd "/CN=$NODE_NAME" both "$etcd_sans"
    issue_cert "$K8S_PKI/etcd/peer" etcd "/CN=$NODE_NAME" both "$etcd_sans"
    issue_cert "$K8S_PKI/etcd/healthcheck-client" etcd /CN=kube-etcd-healthcheck-client client
    issue_cert "$K8S_PKI/apiserver-etcd-client" etcd /CN=kube-apiserver-etcd-client client
    # kubeadm's expectations: admin and kubelet talk to the control-plane endpoint, the
    # controller-manager and the scheduler to the local API server.
    make_kubeconfig /etc/kubernetes/admin.conf "https://$API_ADDRESS:6443" kubernetes-admin "$1"
    make_kubeconfig /etc/kubernetes/controller-manager.conf "https://$NODE_IP:6443" system:kube-controller-manager
    make_kubeconfig /etc/kubernetes/scheduler.conf "https://$NODE_IP:6443" system:kube-scheduler
    make_kubelet_kubeconfig
}

# The admin credential's group: Kubernetes 1.29 split it, admin.conf is bound to
# kubeadm:cluster-admins by kubeadm itself (through super-admin.conf, in system:masters).
admin_org() { if (($(kube_minor) >= 29)); then echo kubeadm:cluster-admins; else echo system:masters; fi; }

# The bootstrap token and the certificate key are useless after the join, and expire anyway.
scrub_kubeadm_config() {
    sed -i -E 's/^([ -]*(token|certificateKey): ).*/\1"<removed>"/' /etc/magnum/kubeadm.yaml
}

# The discovery hash of the cluster CA for `kubeadm join`.
ca_cert_hash() {
    echo "sha256:$(openssl x509 -pubkey -noout -in /etc/magnum/ca.crt | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)"
}

# True when this node's Ready condition is True (seen with KUBECONFIG).
node_ready() { # KUBECONFIG
    [[ "$(kubectl --kubeconfig "$1" get node "$NODE_NAME" \
        -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

wait_for_api() { # ADDRESS
    log "waiting for the Kubernetes API at $1:6443"
    retry 180 10 curl -sf --max-time 5 --cacert /etc/magnum/ca.crt "https://$1:6443/readyz" -o /dev/null
}

# --- Swarm mode (dockerd) -----------------------------------------------------------------------
#
# Every node's dockerd listens on tcp://0.0.0.0:2376 with --tlsverify: its key is made here and
# its certificate (server and client) signed by the cluster CA through Magnum, so that nodes and
# the cluster's users (certificates from Magnum too) authenticate each other. With
# TLS_DISABLED=true the same port serves plain HTTP.

DOCKER_TLS_DIR=/etc/docker/magnum

tls_enabled() { [[ "${TLS_DISABLED:-false}" != true ]]; }

# The engine labels: role, nodegroup and the nodegroup's labels (k=v,…), as a JSON array.
engine_labels() { # ROLE
    local labels=("magnum.role=$1" "magnum.nodegroup=${NODEGROUP:-}") l
    for l in ${NODEGROUP_LABELS//,/ }; do labels+=("$l"); done
    printf '%s\n' "${labels[@]}" | jq -R . | jq -cs .
}

# The engine's certificate (server and client), signed by the cluster CA through Magnum; the
# key is made here once. Managers' carry the API address too.
issue_engine_certificate() { # ROLE
    local extra=""
    [[ "$1" == manager ]] && extra=",IP:$API_ADDRESS"
    issue_cert "$DOCKER_TLS_DIR/node" kubernetes "/CN=$NODE_NAME" both "$(node_sans)$extra"
}

# Docker volume, node certificate, dockerd on 2376.
prepare_swarm_node() { # ROLE (manager or worker)
    [[ "$COE" == swarm-mode ]] || { log "COE $COE is not what this script bootstraps"; false; }
    hostnamectl set-hostname "$NODE_NAME" || true
    setup_docker_volume /var/lib/docker
    mkdir -p /etc/docker /etc/systemd/system/docker.service.d
    local tls='"tls": false'
    if tls_enabled; then
        issue_engine_certificate "$1"
        tls="\"tls\": true, \"tlsverify\": true, \"tlscacert\": \"/etc/magnum/ca.crt\",
  \"tlscert\": \"$DOCKER_TLS_DIR/node.crt\", \"tlskey\": \"$DOCKER_TLS_DIR/node.key\""
    fi
    cat >/etc/docker/daemon.json <<JSON
{
  "hosts": ["fd://", "tcp://0.0.0.0:2376"],
  $tls,
  "exec-opts": ["native.cgroupdriver=systemd"],
  "labels": $(engine_labels "$1"),
  "log-driver": "journald"
}
JSON
    # The packaged unit passes --host=fd:// (which would conflict with "hosts" above).
    cat >/etc/systemd/system/docker.service.d/10-magnum.conf <<'UNIT'
[Service]
ExecStart=
ExecStart=/usr/bin/dockerd --config-file /etc/docker/daemon.json
UNIT
    systemctl daemon-reload
    systemctl enable docker.socket docker.service
    systemctl restart docker
    retry 30 2 docker info >/dev/null
}

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

# GET on the Docker API of the cluster's managers (API_ADDRESS:2376), with this node's cert.
manager_api() { # PATH
    if tls_enabled; then
        curl -sf --max-time 10 --cacert /etc/magnum/ca.crt --cert "$DOCKER_TLS_DIR/node.crt" \
            --key "$DOCKER_TLS_DIR/node.key" "https://$API_ADDRESS:2376$1"
    else
        curl -sf --max-time 10 "http://$API_ADDRESS:2376$1"
    fi
}

# Joins the swarm as ROLE (manager or worker): the join token and the managers' swarm addresses
# come from the managers' Docker API (it answers 503 until the first manager has initialised the
# swarm, hence the retries).
join_swarm() { # manager|worker
    local kind token addr
    kind="$(tr '[:lower:]' '[:upper:]' <<<"${1:0:1}")${1:1}"
    [[ "$(swarm_state)" == active ]] && return 0
    log "waiting for the swarm at $API_ADDRESS:2376"
    retry 180 10 manager_api /swarm >/dev/null
    token="$(manager_api /swarm | jq -er ".JoinTokens.$kind")"
    for addr in $(manager_api /info | jq -r '.Swarm.RemoteManagers[]?.Addr'); do
        log "joining the swarm as a $1 through $addr"
        if docker swarm join --token "$token" --advertise-addr "$NODE_IP" --listen-addr "$NODE_IP:2377" "$addr"; then
            return 0
        fi
    done
    log "could not join the swarm through any manager"
    return 1
}

# One attempt of join_swarm, for retry: a join can race with another manager's.
try_join_swarm() { join_swarm "$1" || { sleep 5; false; }; }
