#!/usr/bin/env bash
# Provides a throw-away, real OpenStack Heat (orchestration API v1) next to the project's real
# Keystone (scripts/keystone.sh), for the tests of a Heat driver.
#
#   scripts/heat.sh          install (if needed), configure, start; print the orchestration URL last
#   scripts/heat.sh start    same as above
#   scripts/heat.sh stop     stop heat-api, heat-engine, RabbitMQ and MariaDB (not Keystone)
#   scripts/heat.sh status   exit 0 when heat-api answers and an engine is up
#   scripts/heat.sh url      print the orchestration endpoint URL (with %(tenant_id)s)
#   scripts/heat.sh destroy  stop everything above and delete the directory (venv included)
#
# Environment: MAGNUM_HEAT_DIR (default /tmp/magnum-heat), MAGNUM_HEAT_MYSQL_PORT (default
# 53306), MAGNUM_HEAT_RABBIT_PORT (default 55672); MAGNUM_KEYSTONE_* as scripts/keystone.sh.
# heat-api listens on 127.0.0.1:8004 (the port Heat's catalogs name). Everything listens on
# 127.0.0.1 only.
#
# Installs when missing: Debian `mariadb-server` and `rabbitmq-server` (started by hand here with
# their data under the directory; nothing is started through init scripts), and
# openstack-heat==27.0.1, PyMySQL and uWSGI (pinned below) from PyPI into a venv of its own.
# Runs `scripts/keystone.sh start` and creates in that Keystone, idempotently: user heat/heat
# (`admin` and `service` on project `service`), roles heat_stack_owner and heat_stack_user, domain
# `heat` with user heat_domain_admin/heat (admin of that domain), service `heat` of type
# `orchestration` with public/internal/admin endpoints in RegionOne. Heat runs with the new
# default policies, under which a project `member` (the seeded demo/demo) may manage stacks.
set -euo pipefail
cd "$(dirname "$0")/.."

HEATDIR="${MAGNUM_HEAT_DIR:-/tmp/magnum-heat}"
MYSQL_PORT="${MAGNUM_HEAT_MYSQL_PORT:-53306}"
RABBIT_PORT="${MAGNUM_HEAT_RABBIT_PORT:-55672}"
RABBIT_DIST_PORT=$((RABBIT_PORT + 1))
API_PORT=8004
VENV="$HEATDIR/venv"
CONF="$HEATDIR/heat.conf"
MYDIR="$HEATDIR/mariadb"
MYSOCK="$MYDIR/mysqld.sock"
MYPID="$MYDIR/mysqld.pid"
RBDIR="$HEATDIR/rabbitmq"
RBPID="$RBDIR/rabbitmq.pid"
API_PID="$HEATDIR/heat-api.pid"
ENGINE_PID="$HEATDIR/heat-engine.pid"
URL="http://127.0.0.1:$API_PORT/v1/%(tenant_id)s"
PASSWORD=heat
# Heat encrypts stored credentials with this; it must be exactly 32 characters.
AUTH_KEY=magnum-heat-throwaway-key-32char
HEAT_PACKAGES=(openstack-heat==27.0.1 PyMySQL==1.2.4 uWSGI==2.0.31)
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

log() { echo "heat.sh: $*" >&2; }

# True when PIDFILE names a live (not zombie) process whose command line contains WORD.
pid_alive() { # PIDFILE WORD
    [[ -f "$1" ]] || return 1
    local pid
    pid="$(cat "$1" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$2" || return 1
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

# Sends SIGNAL to the process in PIDFILE, waits up to SECONDS for it to end, then kills its
# process group (the daemons below are started as group leaders with setsid). Waits on the pid,
# not the file: RabbitMQ deletes its pid file as soon as it begins to shut down.
stop_pid() { # PIDFILE WORD NAME SECONDS [SIGNAL]
    local pidfile="$1" word="$2" name="$3" secs="$4" sig="${5:-TERM}" pid i
    if pid_alive "$pidfile" "$word"; then
        pid="$(cat "$pidfile")"
        log "stopping $name"
        kill -"$sig" "$pid" 2>/dev/null || true
        for i in $(seq 1 $((secs * 4))); do
            proc_alive "$pid" || break
            sleep 0.25
        done
        if proc_alive "$pid"; then
            log "$name did not stop in ${secs}s; killing it"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

proc_alive() { # PID
    [[ -d "/proc/$1" && "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

port_open() { # PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for() { # SECONDS DESCRIPTION COMMAND...
    local secs="$1" what="$2" i
    shift 2
    for i in $(seq 1 $((secs * 2))); do
        "$@" && return 0
        sleep 0.5
    done
    log "$what did not come up in ${secs}s"
    return 1
}

# --- installation ---------------------------------------------------------------------------

ensure_debian_packages() {
    local missing=()
    command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]] || missing+=(mariadb-server)
    [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || missing+=(rabbitmq-server)
    # The node scripts' tools, which the tests run next to Heat (the node agent, the bootstrap helpers).
    command -v jq >/dev/null 2>&1 || missing+=(jq)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ "$(id -u)" != 0 ]]; then
        log "${missing[*]} missing and installing needs root"
        exit 1
    fi
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends "${missing[@]}" >&2
}

ensure_venv() {
    if [[ -x "$VENV/bin/heat-engine" && -x "$VENV/bin/uwsgi" && -f "$VENV/.magnum-packages" ]] \
        && [[ "$(cat "$VENV/.magnum-packages")" == "${HEAT_PACKAGES[*]}" ]]; then
        return 0
    fi
    local py
    py="$(command -v python3)" || { log "python3 is required"; exit 1; }
    mkdir -p "$HEATDIR"
    log "creating venv $VENV and installing ${HEAT_PACKAGES[*]} (PyPI)"
    "$py" -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --upgrade pip >&2 || true
    "$VENV/bin/pip" install --quiet "${HEAT_PACKAGES[@]}" >&2
    echo "${HEAT_PACKAGES[*]}" >"$VENV/.magnum-packages"
}

# --- MariaDB --------------------------------------------------------------------------------

mysql_cli() { mariadb --no-defaults --protocol=socket -S "$MYSOCK" -u root "$@"; }

mysql_up() { mysql_cli -N -e 'SELECT 1' >/dev/null 2>&1; }

start_mariadb() {
    mkdir -p "$MYDIR"
    chmod 755 "$HEATDIR" "$MYDIR"
    if [[ "$(id -u)" == 0 ]]; then
        id mysql >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mysql
        chown mysql: "$MYDIR"
    fi
    if [[ ! -d "$MYDIR/data/mysql" ]]; then
        log "initialising MariaDB in $MYDIR/data"
        rm -rf "$MYDIR/data"
        mariadb-install-db --no-defaults --user=mysql --datadir="$MYDIR/data" --skip-test-db \
            --auth-root-authentication-method=socket >"$MYDIR/install.log" 2>&1 || {
            log "mariadb-install-db failed; see $MYDIR/install.log"
            tail -n 20 "$MYDIR/install.log" >&2
            exit 1
        }
    fi
    if pid_alive "$MYPID" mariadbd && mysql_up; then
        return 0
    fi
    stop_pid "$MYPID" mariadbd MariaDB 30
    # A port still held by another socket (e.g. the local end of an outgoing connection, before
    # scripts/reserve-ports.sh took it out of the ephemeral range) makes MariaDB abort at once:
    # try again a little later instead of waiting out the minute.
    local attempt seen
    for attempt in 1 2 3; do
        seen="$(wc -l <"$MYDIR/mariadb.log" 2>/dev/null || echo 0)"
        log "starting MariaDB on 127.0.0.1:$MYSQL_PORT"
        setsid mariadbd --no-defaults --user=mysql --datadir="$MYDIR/data" --socket="$MYSOCK" \
            --pid-file="$MYPID" --log-error="$MYDIR/mariadb.log" --bind-address=127.0.0.1 \
            --port="$MYSQL_PORT" --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=128M \
            --innodb-flush-log-at-trx-commit=0 --character-set-server=utf8mb4 --max-connections=500 \
            </dev/null >/dev/null 2>&1 &
        for _ in $(seq 1 120); do
            mysql_up && return 0
            if tail -n +"$((seen + 1))" "$MYDIR/mariadb.log" 2>/dev/null | grep -q "Bind on TCP/IP port"; then
                log "MariaDB could not bind 127.0.0.1:$MYSQL_PORT (attempt $attempt); trying again"
                sleep 5
                continue 2
            fi
            sleep 0.5
        done
        break
    done
    log "MariaDB did not come up"
    tail -n 20 "$MYDIR/mariadb.log" >&2 || true
    exit 1
}

ensure_database() {
    mysql_cli -e "CREATE DATABASE IF NOT EXISTS heat CHARACTER SET utf8mb4;
        CREATE USER IF NOT EXISTS 'heat'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
        GRANT ALL PRIVILEGES ON heat.* TO 'heat'@'127.0.0.1';"
}

# --- RabbitMQ -------------------------------------------------------------------------------

# The broker runs as root with its own HOME (Erlang cookie), node name, data and log
# directories; epmd and the Erlang distribution listen on loopback only. Heat uses the default
# guest user, which RabbitMQ accepts from loopback only.
rabbit_env() {
    export HOME="$RBDIR/home" RABBITMQ_NODENAME=magnum-heat@localhost RABBITMQ_USE_LONGNAME=false
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBIT_PORT"
    export RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_MNESIA_BASE="$RBDIR/mnesia" RABBITMQ_LOG_BASE="$RBDIR/log"
    export RABBITMQ_PID_FILE="$RBPID" RABBITMQ_CONFIG_FILE="$RBDIR/rabbitmq"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$RBDIR/enabled_plugins" RABBITMQ_ENABLED_PLUGINS=
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_CONF_ENV_FILE="$RBDIR/rabbitmq-env.conf"
}

rabbit_up() { port_open "$RABBIT_PORT"; }

start_rabbitmq() {
    mkdir -p "$RBDIR/home" "$RBDIR/mnesia" "$RBDIR/log"
    : >"$RBDIR/rabbitmq-env.conf"
    echo '[].' >"$RBDIR/enabled_plugins"
    cat >"$RBDIR/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$RABBIT_PORT
loopback_users.guest = true
log.file.level = warning
CONF
    if pid_alive "$RBPID" beam && rabbit_up; then
        return 0
    fi
    stop_pid "$RBPID" beam RabbitMQ 30
    (
        rabbit_env
        # Erlang starts epmd on the first node; remember to stop it if this script caused that.
        epmd -names >/dev/null 2>&1 || touch "$RBDIR/.epmd-ours"
        log "starting RabbitMQ on 127.0.0.1:$RABBIT_PORT"
        setsid /usr/lib/rabbitmq/bin/rabbitmq-server </dev/null >"$RBDIR/console.log" 2>&1 &
    )
    wait_for 90 RabbitMQ rabbit_up || { tail -n 20 "$RBDIR/console.log" >&2 || true; exit 1; }
}

# --- Keystone entities ----------------------------------------------------------------------

ensure_keystone_entities() { # AUTH_URL
    "$VENV/bin/python" - "$1" "$PASSWORD" <<'PY'
import sys
from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

auth_url, password = sys.argv[1], sys.argv[2]
sess = session.Session(auth=v3.Password(
    auth_url=auth_url, username="admin", password="admin", project_name="admin",
    user_domain_id="default", project_domain_id="default"))
ks = client.Client(session=sess, interface="public")

def log(msg):
    print("heat.sh: " + msg, file=sys.stderr)

def one(items):
    return items[0] if items else None

def role(name):
    return one(ks.roles.list(name=name)) or (log("created role " + name) or ks.roles.create(name))

admin, service_role, member = role("admin"), role("service"), role("member")
role("heat_stack_owner")
role("heat_stack_user")

def project(name):
    p = one(ks.projects.list(name=name, domain="default"))
    if p is None:
        log("created project " + name)
        p = ks.projects.create(name, "default")
    return p

service = project("service")
heat = one(ks.users.list(name="heat", domain="default"))
if heat is None:
    log("created user heat")
    heat = ks.users.create("heat", domain="default", password=password, default_project=service)
for r in (admin, service_role):
    ks.roles.grant(r, user=heat, project=service)

domain = one(ks.domains.list(name="heat"))
if domain is None:
    log("created domain heat")
    domain = ks.domains.create("heat", description="Owns the users and projects created by heat")
dadmin = one(ks.users.list(name="heat_domain_admin", domain=domain))
if dadmin is None:
    log("created user heat_domain_admin")
    dadmin = ks.users.create("heat_domain_admin", domain=domain, password=password)
ks.roles.grant(admin, user=dadmin, domain=domain)

svc = one(ks.services.list(type="orchestration"))
if svc is None:
    log("created service heat (orchestration)")
    svc = ks.services.create("heat", type="orchestration", description="Orchestration")
url = "http://127.0.0.1:8004/v1/%(tenant_id)s"
existing = ks.endpoints.list(service=svc)
for iface in ("public", "internal", "admin"):
    mine = [e for e in existing if e.interface == iface]
    if any(e.url == url and e.region == "RegionOne" for e in mine):
        continue
    for e in mine:
        ks.endpoints.delete(e)
    log("created %s orchestration endpoint" % iface)
    ks.endpoints.create(svc, url, interface=iface, region="RegionOne")

PY
}

# --- Heat -----------------------------------------------------------------------------------

# Writes heat.conf; prints "changed" when it differs from the one on disk.
write_conf() { # AUTH_URL
    local auth_url="$1" tmp="$CONF.new" etc="$VENV/etc/heat"
    cat >"$tmp" <<CONF
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
auth_encryption_key = $AUTH_KEY
stack_user_domain_name = heat
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = $PASSWORD
region_name_for_services = RegionOne
num_engine_workers = 2
environment_dir = $etc/environment.d
template_dir = $etc/templates
heat_metadata_server_url = http://127.0.0.1:8000
heat_waitcondition_server_url = http://127.0.0.1:8000/v1/waitcondition
[database]
connection = mysql+pymysql://heat:$PASSWORD@127.0.0.1:$MYSQL_PORT/heat?charset=utf8
[paste_deploy]
api_paste_config = $etc/api-paste.ini
[keystone_authtoken]
www_authenticate_uri = $auth_url
auth_url = $auth_url
auth_type = password
username = heat
password = $PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
[trustee]
auth_type = password
auth_url = $auth_url
username = heat
password = $PASSWORD
user_domain_name = Default
[clients]
endpoint_type = public
[clients_keystone]
auth_uri = ${auth_url%/v3}
[oslo_messaging_notifications]
driver = noop
[oslo_policy]
enforce_new_defaults = true
enforce_scope = true
CONF
    if [[ -f "$CONF" ]] && cmp -s "$tmp" "$CONF"; then
        rm -f "$tmp"
    else
        mv "$tmp" "$CONF"
        echo changed
    fi
}

api_answers() {
    curl -sS -m 5 -o /dev/null "http://127.0.0.1:$API_PORT/" 2>/dev/null
}

# True when an engine has reported to the service table since SINCE (UTC, "YYYY-MM-DD hh:mm:ss"),
# or within the last 150 s (engines report every 60 s) when SINCE is empty.
engine_reported() { # [SINCE]
    local since="${1:-}" cond n
    if [[ -n "$since" ]]; then
        cond="created_at >= '$since'"
    else
        cond="updated_at > UTC_TIMESTAMP() - INTERVAL 150 SECOND"
    fi
    n="$(mysql_cli -N heat -e "SELECT COUNT(*) FROM service WHERE deleted_at IS NULL AND \`binary\`='heat-engine' AND $cond" 2>/dev/null)" || return 1
    [[ "${n:-0}" -gt 0 ]]
}

start_heat() {
    if [[ ! -f "$HEATDIR/.db-synced" || "$CONF" -nt "$HEATDIR/.db-synced" ]]; then
        log "heat-manage db_sync"
        "$VENV/bin/heat-manage" --config-file "$CONF" db_sync >"$HEATDIR/db_sync.log" 2>&1 || {
            log "db_sync failed; see $HEATDIR/db_sync.log"
            tail -n 20 "$HEATDIR/db_sync.log" >&2
            exit 1
        }
        touch "$HEATDIR/.db-synced"
    fi
    local since=""
    if ! pid_alive "$ENGINE_PID" heat-engine; then
        since="$(mysql_cli -N -e 'SELECT UTC_TIMESTAMP()')"
        log "starting heat-engine (2 workers)"
        (
            cd "$HEATDIR"
            setsid "$VENV/bin/heat-engine" --config-file "$CONF" --log-file "$HEATDIR/heat-engine.log" \
                </dev/null >"$HEATDIR/heat-engine.out" 2>&1 &
            echo $! >"$ENGINE_PID"
        )
    fi
    if ! pid_alive "$API_PID" uwsgi || ! api_answers; then
        stop_pid "$API_PID" uwsgi heat-api 20 INT
        log "starting heat-api (uWSGI) on 127.0.0.1:$API_PORT"
        (
            cd "$HEATDIR"
            "$VENV/bin/uwsgi" --master --die-on-term --lazy-apps --processes 2 --threads 1 --buffer-size 65535 \
                --add-header Connection:close --http-socket "127.0.0.1:$API_PORT" \
                --module heat.wsgi.api:application \
                --pyargv "--config-file $CONF --log-file $HEATDIR/heat-api.log" \
                --pidfile "$API_PID" --daemonize "$HEATDIR/heat-api-uwsgi.log"
        ) >&2
    fi
    wait_for 90 heat-api api_answers || { tail -n 20 "$HEATDIR/heat-api-uwsgi.log" "$HEATDIR/heat-api.log" >&2 || true; exit 1; }
    wait_for 90 heat-engine engine_reported "$since" || { tail -n 20 "$HEATDIR/heat-engine.log" "$HEATDIR/heat-engine.out" >&2 || true; exit 1; }
}

stop_heat() {
    stop_pid "$API_PID" uwsgi heat-api 20 INT
    # heat-engine needs 7–12 s to stop on SIGTERM.
    stop_pid "$ENGINE_PID" heat-engine heat-engine 30
}

start() {
    ensure_debian_packages
    ensure_venv
    local auth_url
    auth_url="$(scripts/keystone.sh start | tail -n 1)"
    scripts/reserve-ports.sh "$MYSQL_PORT" "$RABBIT_PORT" "$RABBIT_DIST_PORT" "$API_PORT"
    start_mariadb
    ensure_database
    start_rabbitmq
    ensure_keystone_entities "$auth_url"
    if [[ "$(write_conf "$auth_url")" == changed ]]; then
        log "heat.conf changed"
        stop_heat
    fi
    start_heat
    echo "$URL"
}

stop() {
    stop_heat
    (rabbit_env; stop_pid "$RBPID" beam RabbitMQ 30)
    if [[ -f "$RBDIR/.epmd-ours" ]]; then
        ERL_EPMD_ADDRESS=127.0.0.1 epmd -kill >/dev/null 2>&1 || true
        rm -f "$RBDIR/.epmd-ours"
    fi
    stop_pid "$MYPID" mariadbd MariaDB 30
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) api_answers && engine_reported ;;
    url) echo "$URL" ;;
    destroy) stop; rm -rf "$HEATDIR" ;;
    *) echo "usage: $0 [start|stop|status|url|destroy]" >&2; exit 2 ;;
esac
