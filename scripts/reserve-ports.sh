#!/usr/bin/env bash
# Keeps fixed service ports out of the kernel's ephemeral port range by adding them to
# net.ipv4.ip_local_reserved_ports, so the local port of an outgoing connection can never be
# the port a service of the test suite is about to listen on (the default range, 32768-60999,
# holds PostgreSQL's 55432, Keystone's 55000, MariaDB's 53306 and RabbitMQ's 55672; MariaDB
# once failed to start with "Bind on TCP/IP port … Address already in use" that way).
#
#   scripts/reserve-ports.sh PORT...
#
# Needs root (as the suite does); without it, or where the setting is read-only, it does nothing.
set -euo pipefail
file=/proc/sys/net/ipv4/ip_local_reserved_ports
[[ $# -gt 0 && -w "$file" ]] || exit 0
current="$(cat "$file")"
list="$current"
for port in "$@"; do
    [[ "$port" =~ ^[0-9]+$ ]] || { echo "reserve-ports.sh: not a port: $port" >&2; exit 2; }
    list="${list:+$list,}$port"
done
echo "$list" > "$file" 2>/dev/null || true
