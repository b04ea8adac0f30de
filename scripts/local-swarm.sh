#!/usr/bin/env bash
# The local_swarm driver's host prerequisites and leftovers.
#
#   scripts/local-swarm.sh prepare        install Debian's docker.io (dockerd, containerd, runc,
#                                         iptables) and busybox-static when missing; starts no
#                                         daemon (each node runs its own)
#   scripts/local-swarm.sh leftovers K…   print what is left on the host of cluster indexes K
#                                         (namespaces, links, FORWARD rules, cgroups, daemons);
#                                         exit 1 when anything is
#   scripts/local-swarm.sh sweep K…       remove all of that by name (what a test harness does
#                                         when a run died before the driver could delete)
set -euo pipefail

case "${1:-}" in
prepare)
    missing=()
    [[ -x /usr/sbin/dockerd ]] || missing+=(docker.io)
    dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
    command -v iptables >/dev/null 2>&1 || missing+=(iptables)
    if (( ${#missing[@]} )); then
        echo "local-swarm.sh: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    [[ -x /usr/sbin/dockerd && -x /bin/busybox ]] || { echo "local-swarm.sh: dockerd or busybox still missing" >&2; exit 1; }
    echo "local-swarm.sh: $(/usr/sbin/dockerd --version)"
    ;;
leftovers)
    shift
    found=0
    for k in "$@"; do
        report() { echo "left of cluster index $k: $*"; found=1; }
        for ns in /run/netns/msw"$k"-*; do [[ -e "$ns" ]] && report "namespace ${ns##*/}"; done
        for link in /sys/class/net/msw"$k" /sys/class/net/msw"$k"n*; do [[ -e "$link" ]] && report "link ${link##*/}"; done
        iptables -S FORWARD 2>/dev/null | grep -qE -- "-i msw$k -o msw$k " && report "iptables FORWARD rule"
        for cg in /sys/fs/cgroup/*/magnum-local-swarm/msw"$k"-* /sys/fs/cgroup/magnum-local-swarm/msw"$k"-*; do
            [[ -e "$cg" ]] && report "cgroup $cg"
        done
        pgrep -f "tcp://198\.18\.$k\.[0-9]+:2376" >/dev/null && report "dockerd processes: $(pgrep -f "tcp://198\.18\.$k\.[0-9]+:2376" | tr '\n' ' ')"
    done
    exit $found
    ;;
sweep)
    shift
    for k in "$@"; do
        for _ in $(seq 1 50); do
            pids="$(cat /sys/fs/cgroup/pids/magnum-local-swarm/msw"$k"-*/cgroup.procs /sys/fs/cgroup/pids/magnum-local-swarm/msw"$k"-*/*/cgroup.procs \
                /sys/fs/cgroup/pids/magnum-local-swarm/msw"$k"-*/*/*/cgroup.procs /sys/fs/cgroup/magnum-local-swarm/msw"$k"-*/*/cgroup.procs 2>/dev/null || true)"
            pids+=" $(pgrep -f "tcp://198\.18\.$k\.[0-9]+:2376" || true)"
            [[ -z "${pids// /}" ]] && break
            kill -KILL $pids 2>/dev/null || true
            sleep 0.1
        done
        for ns in /run/netns/msw"$k"-*; do [[ -e "$ns" ]] && ip netns del "${ns##*/}"; done
        for link in /sys/class/net/msw"$k"n* /sys/class/net/msw"$k"; do [[ -e "$link" ]] && ip link del "${link##*/}" 2>/dev/null; done
        while iptables -D FORWARD -i "msw$k" -o "msw$k" -j ACCEPT 2>/dev/null; do :; done
        for cg in /sys/fs/cgroup/*/magnum-local-swarm/msw"$k"-* /sys/fs/cgroup/magnum-local-swarm/msw"$k"-*; do
            [[ -d "$cg" ]] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    done
    true
    ;;
*) echo "usage: $0 prepare | leftovers K… | sweep K…" >&2; exit 2 ;;
esac
