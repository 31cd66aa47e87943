#!/usr/bin/env bash
# Makes every server the test suites use run on this machine, on loopback only.
#
#   scripts/services.sh [start] [NAME...]   start what is down, wait until it answers (default: all)
#   scripts/services.sh stop NAME...        stop servers (for restart tests)
#   scripts/services.sh status              say which servers answer
#
# NAME is one of: postgres mariadb redis rabbitmq nats memcached kafka mongodb
# redis-cluster redis-durable kafka-durable. Idempotent: a server that already answers is left alone.
# Exits non-zero, naming the server, when one does not come up in time.
#
# redis-cluster is three masters on 127.0.0.1:7000-7002 (no replicas, no
# persistence). A cluster that does not answer is rebuilt from nothing, so
# start recovers from any half-stopped state; its data does not survive.
#
# redis-durable (127.0.0.1:6380) and kafka-durable (127.0.0.1:9094) keep what
# they acknowledged across a restart: Redis with its append-only file synced
# on every write, nisshi with its libSQL storage engine (an SQLite file in
# the state directory). The restart tests that promise "nothing lost" run on them.
#
# Tools that are not on the machine are installed once, outside the clone:
#   CORE_TOOLS_DIR  (default /opt/core-sdk/tools)  nisshi binary, SecantusDB venv
#   CORE_STATE_DIR  (default /tmp/core-sdk-services) logs, pid files, working dirs
set -euo pipefail

TOOLS_DIR="${CORE_TOOLS_DIR:-/opt/core-sdk/tools}"
STATE_DIR="${CORE_STATE_DIR:-/tmp/core-sdk-services}"
NISSHI_VERSION="0.7.0-pre.2"
SECANTUS_VERSION="0.7.0b3"
ALL_SERVICES=(postgres mariadb redis rabbitmq nats memcached kafka mongodb redis-cluster redis-durable kafka-durable)
# nisshi's memory engine serves kafka; its libSQL (SQLite file) engine serves kafka-durable.
NISSHI_FEATURES="dynostore,libsql"
REDIS_CLUSTER_PORTS=(7000 7001 7002)

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

port_of() {
  case "$1" in
    postgres) echo 5432 ;; mariadb) echo 3306 ;; redis) echo 6379 ;;
    rabbitmq) echo 5672 ;; nats) echo 4222 ;; memcached) echo 11211 ;;
    kafka) echo 9092 ;; mongodb) echo 27017 ;;
    redis-durable) echo 6380 ;; kafka-durable) echo 9094 ;;
    redis-cluster) echo "${REDIS_CLUSTER_PORTS[0]}" ;; # the first node; the others follow it
    *) die "unknown server '$1' (known: ${ALL_SERVICES[*]})" ;;
  esac
}

# How long a server may take to answer after being started, in seconds.
patience_of() {
  case "$1" in rabbitmq) echo 120 ;; kafka | kafka-durable | mongodb) echo 90 ;; *) echo 60 ;; esac
}

listening() { timeout 2 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# A server "answers" when its own client says so, not merely when a port is open.
answers() {
  case "$1" in
    postgres) pg_isready -q -h 127.0.0.1 -p 5432 ;;
    mariadb) mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1 ;;
    redis) [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ] ;;
    redis-durable) [ "$(redis-cli -h 127.0.0.1 -p 6380 ping 2>/dev/null)" = PONG ] ;;
    redis-cluster) cluster_ok ;;
    memcached) timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211 && printf "version\r\n" >&3 &&
                 read -r line <&3 && [[ $line == VERSION* ]]' 2>/dev/null ;;
    *) listening "$(port_of "$1")" ;;
  esac
}

# Every node of the cluster serves it: each says cluster_state:ok.
cluster_ok() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

stop_cluster_nodes() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
}

# Fresh nodes, then one cluster over them: whatever state the last run left
# (a node down, a nodes.conf from an older cluster) is discarded first, since
# a node restarted from its nodes.conf alone need not rejoin its cluster.
launch_redis_cluster() {
  local dir="$STATE_DIR/redis-cluster" port nodes=() waited=0
  stop_cluster_nodes
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    while listening "$port"; do
      ((waited >= 30)) && die "redis-cluster: 127.0.0.1:$port is still taken after 30s"
      sleep 1; waited=$((waited + 1))
    done
  done
  rm -rf "$dir" && mkdir -p "$dir" || return 1
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file "$dir/nodes-$port.conf" \
      --dir "$dir" --logfile "$STATE_DIR/logs/redis-cluster-$port.log" || return 1
    nodes+=("127.0.0.1:$port")
  done
  waited=0
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    until [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; do
      ((waited >= 30)) && die "redis-cluster: node 127.0.0.1:$port did not answer within 30s"
      sleep 1; waited=$((waited + 1))
    done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
    >"$STATE_DIR/logs/redis-cluster-create.log" 2>&1
}

run_detached() { # NAME WORKDIR COMMAND...
  local name=$1 workdir=$2; shift 2
  mkdir -p "$workdir" "$STATE_DIR/logs"
  # The server alone goes to the background, with none of this script's
  # descriptors: a shell left waiting on it would hold CI's output open.
  (
    cd "$workdir" || exit 1
    nohup setsid "$@" >"$STATE_DIR/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE_DIR/$name.pid"
  )
}

install_memcached() {
  command -v memcached >/dev/null && return
  log "installing memcached from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq memcached >/dev/null \
    || die "could not install memcached (apt-get install memcached)"
}

install_nisshi() {
  local stamp="$TOOLS_DIR/nisshi.installed"
  [ -x "$TOOLS_DIR/bin/nisshi" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$NISSHI_VERSION $NISSHI_FEATURES" ] && return
  log "installing nisshi $NISSHI_VERSION ($NISSHI_FEATURES) into $TOOLS_DIR (one time; about 15 minutes on 2 cores)"
  cargo install "nisshi@$NISSHI_VERSION" --locked --force --no-default-features --features "$NISSHI_FEATURES" \
    --root "$TOOLS_DIR" >"$STATE_DIR/logs/nisshi-install.log" 2>&1 \
    || die "could not install nisshi (see $STATE_DIR/logs/nisshi-install.log)"
  echo "$NISSHI_VERSION $NISSHI_FEATURES" >"$stamp"
}

install_secantus() {
  [ -x "$TOOLS_DIR/secantus-venv/bin/secantusd-py" ] && return
  log "installing SecantusDB $SECANTUS_VERSION into $TOOLS_DIR/secantus-venv (one time)"
  python3 -m venv "$TOOLS_DIR/secantus-venv" \
    && "$TOOLS_DIR/secantus-venv/bin/pip" install -q "SecantusDB==$SECANTUS_VERSION" \
    || die "could not install SecantusDB (pip install SecantusDB==$SECANTUS_VERSION)"
}

launch() {
  case "$1" in
    postgres) pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start ;;
    mariadb) start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd ;;
    redis) redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
             --dir /var/lib/redis --logfile /var/log/redis/ci.log ;;
    rabbitmq) rabbitmq-server -detached ;;
    nats) start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log ;;
    memcached)
      install_memcached
      local user=memcache; id "$user" >/dev/null 2>&1 || user=nobody
      run_detached memcached "$STATE_DIR" memcached -u "$user" -l 127.0.0.1 -p 11211 -m 256 ;;
    kafka)
      install_nisshi
      # nisshi reads ./.env, so it runs from a directory of its own.
      run_detached kafka "$STATE_DIR/kafka" "$TOOLS_DIR/bin/nisshi" broker \
        --listener-url tcp://127.0.0.1:9092 --advertised-listener-url tcp://127.0.0.1:9092 \
        --storage-engine memory://nisshi/ ;;
    kafka-durable)
      install_nisshi
      run_detached kafka-durable "$STATE_DIR/kafka-durable" "$TOOLS_DIR/bin/nisshi" broker \
        --listener-url tcp://127.0.0.1:9094 --advertised-listener-url tcp://127.0.0.1:9094 \
        --storage-engine sqlite://nisshi.db ;;
    redis-durable)
      mkdir -p "$STATE_DIR/redis-durable"
      redis-server --daemonize yes --bind 127.0.0.1 --port 6380 --save "" \
        --appendonly yes --appendfsync always --dir "$STATE_DIR/redis-durable" \
        --logfile "$STATE_DIR/logs/redis-durable.log" ;;
    mongodb)
      install_secantus
      run_detached mongodb "$STATE_DIR/mongodb" "$TOOLS_DIR/secantus-venv/bin/secantusd-py" \
        --host 127.0.0.1 --port 27017 --storage-path ':memory:' ;;
    redis-cluster) launch_redis_cluster ;;
  esac
}

start_one() {
  local name=$1 patience waited=0
  if answers "$name"; then log "$name answers on 127.0.0.1:$(port_of "$name")"; return; fi
  log "starting $name"
  launch "$name" || die "$name: its start command failed"
  patience=$(patience_of "$name")
  until answers "$name"; do
    ((waited >= patience)) && die "$name did not answer on 127.0.0.1:$(port_of "$name") within ${patience}s (logs: $STATE_DIR/logs, /var/log)"
    sleep 1; waited=$((waited + 1))
  done
  log "$name answers on 127.0.0.1:$(port_of "$name") after ${waited}s"
}

stop_one() {
  local name=$1
  case "$name" in
    postgres) pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main stop || true ;;
    mariadb) mariadb-admin --protocol=tcp -h 127.0.0.1 -uroot shutdown || true ;;
    redis) redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true ;;
    # nosave skips a snapshot; the append-only file holds every acknowledged write.
    redis-durable) redis-cli -h 127.0.0.1 -p 6380 shutdown nosave >/dev/null 2>&1 || true ;;
    redis-cluster) stop_cluster_nodes ;;
    rabbitmq) rabbitmqctl shutdown >/dev/null 2>&1 || true ;;
    nats) pkill -f '/usr/sbin/nats-server' || true ;;
    memcached | kafka | kafka-durable | mongodb)
      if [ -f "$STATE_DIR/$name.pid" ]; then kill "$(cat "$STATE_DIR/$name.pid")" 2>/dev/null || true; fi
      rm -f "$STATE_DIR/$name.pid"
      # Also one started before this script kept pid files.
      case "$name" in
        memcached) pkill -f 'memcached .*-p 11211' || true ;;
        kafka) pkill -f 'nisshi broker .*tcp://127.0.0.1:9092' || true ;;
        kafka-durable) pkill -f 'nisshi broker .*tcp://127.0.0.1:9094' || true ;;
        mongodb) pkill -f 'secantusd-py .*--port 27017' || true ;;
      esac ;;
  esac
  local waited=0 port ports=("$(port_of "$name")")
  [ "$name" = redis-cluster ] && ports=("${REDIS_CLUSTER_PORTS[@]}")
  for port in "${ports[@]}"; do
    while listening "$port"; do
      ((waited >= 30)) && die "$name still listens on 127.0.0.1:$port after 30s"
      sleep 1; waited=$((waited + 1))
    done
  done
  log "$name stopped"
}

main() {
  local action=${1:-start}
  [ $# -gt 0 ] && shift
  local names=("$@")
  [ ${#names[@]} -eq 0 ] && names=("${ALL_SERVICES[@]}")
  mkdir -p "$TOOLS_DIR" "$STATE_DIR/logs"
  case "$action" in
    start | up) for name in "${names[@]}"; do port_of "$name" >/dev/null; start_one "$name"; done ;;
    stop | down) [ $# -gt 0 ] || die "say which servers to stop: ${ALL_SERVICES[*]}"
                 for name in "${names[@]}"; do port_of "$name" >/dev/null; stop_one "$name"; done ;;
    status) local down=0
            for name in "${names[@]}"; do
              if answers "$name"; then echo "up    $name 127.0.0.1:$(port_of "$name")"; else echo "DOWN  $name"; down=1; fi
            done
            return $down ;;
    -h | --help | help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown action '$action' (start, stop, status)" ;;
  esac
}

main "$@"
