#!/usr/bin/env bash
# Makes every server the test suites use run on this machine, on loopback only.
#
#   scripts/services.sh [start] [NAME...]   start what is down, wait until it answers (default: all)
#   scripts/services.sh stop NAME...        stop servers (for restart tests)
#   scripts/services.sh status              say which servers answer
#
# NAME is one of: postgres mariadb redis rabbitmq nats memcached kafka mongodb
# redis-cluster redis-cluster-tls redis-durable kafka-durable etcd etcd-tls
# redis-tls redis-tls-mtls mariadb-tls postgres-tls mongodb-tls rabbitmq-tls
# rabbitmq-mtls expired-tls kafka-tls kafka-sasl kafka-sasl-tls nats-tls mongodb-mtls
# memcached-tls memcached-mtls.
# Idempotent: a
# server that already answers is left alone.
# Exits non-zero, naming the server, when one does not come up in time.
#
# redis-cluster is three masters on 127.0.0.1:7000-7002 (no replicas, no
# persistence). A cluster that does not answer is rebuilt from nothing, so
# start recovers from any half-stopped state; its data does not survive.
# redis-cluster-tls is the same on 127.0.0.1:7100-7102 (bus ports 17100-17102),
# over TLS only: no plaintext port; clients, the cluster bus and replication
# all speak TLS. Each node serves server.pem, makes its own connections to
# the others with client.pem (server.pem is for serverAuth only, so a node
# would refuse it from a peer) and, like redis-tls, asks a client for no
# certificate (one given must chain to ca.pem). No users or passwords. Its
# nodes announce their TLS ports, so a client that follows MOVED and ASK
# redirects reaches TLS ports; e.g. redis-cli --tls --cacert ca.pem -c -p 7100.
#
# redis-durable (127.0.0.1:6380) and kafka-durable (127.0.0.1:9094) keep what
# they acknowledged across a restart: Redis with its append-only file synced
# on every write, nisshi with its libSQL storage engine (an SQLite file in
# the state directory). The restart tests that promise "nothing lost" run on them.
#
# etcd and etcd-tls are single-member etcd 3.4 servers (Debian's etcd-server;
# etcdctl from etcd-client). Each keeps its keys across a stop and start, in
# the state directory's etcd/ and etcd-tls/. Tests find them in
#   ETCD_URL      (default http://127.0.0.1:2379)   etcd: plaintext, no auth; peer port 2380
#   ETCD_TLS_URL  (default https://127.0.0.1:2381)  etcd-tls: peer port 2382
# etcd-tls serves server.pem (below) and asks for no client certificate. Auth
# is on: user root, password core-sdk-root; user app, password core-sdk-app-pw,
# with role config-rw (readwrite on the key prefix /config/). It also listens
# on https://127.0.0.2:2381, an address its certificate does not name.
#
# redis-tls and redis-tls-mtls are Redis servers (Debian's, built with
# OpenSSL) that speak TLS only (no plaintext port) and keep nothing (no
# snapshot, no append-only file). Both serve server.pem and know two users:
# default, with no password, and app, password core-sdk-redis-pw; both may
# run every command on every key and channel.
#   rediss://127.0.0.1:6390  redis-tls: a client certificate is optional (one
#                            given must be valid and chain to ca.pem). Also on
#                            127.0.0.2:6390, an address its certificate does
#                            not name.
#   rediss://127.0.0.1:6391  redis-tls-mtls: a client certificate from ca.pem
#                            (client.pem) is required; without one the TLS
#                            handshake fails. Redis has one TLS port per
#                            server, hence a second one.
#
# nats-tls is a second nats-server (Debian's; nats keeps 4222) on
# 127.0.0.1:4223 with JetStream (state directory's nats-tls/jetstream) that
# speaks TLS only: it serves server.pem and requires a client certificate from
# ca.pem (client.pem); a client without one fails its handshake. NATS sends
# its INFO line in plaintext before the TLS upgrade, so it answers when that
# line says tls_required. Its configuration is nats-tls/nats.conf.
#
# memcached-tls and memcached-mtls are more memcached servers (Debian's, built
# with OpenSSL: -Z) that speak TLS only and serve server.pem:
#   127.0.0.1:11212  memcached-tls: a client certificate is optional (one given
#                    must chain to ca.pem). Also on 127.0.0.2:11212, an address
#                    its certificate does not name.
#   127.0.0.1:11213  memcached-mtls: a client certificate from ca.pem
#                    (client.pem) is required; without one the handshake fails.
# Each answers when a handshake checked against ca.pem is followed by its
# VERSION line.
#
# mariadb-tls is a second MariaDB server (Debian's mariadbd; the machine's own,
# mariadb, keeps 3306) on 127.0.0.1:3307, also on 127.0.0.2:3307, that serves
# server.pem and trusts client certificates from ca.pem. Its data directory is
# the state directory's mariadb-tls/data (made once with mariadb-install-db; its
# socket is mariadb-tls/mariadbd.sock). Users, each allowed everything on the
# database test:
#   app@%       password core-sdk-maria-pw, only over TLS (REQUIRE SSL)
#   app_x509@%  password core-sdk-maria-pw, only over TLS with a client
#               certificate from ca.pem (REQUIRE X509)
#   root        through the socket only, for the system user root (unix_socket)
# e.g. mysql://app:core-sdk-maria-pw@127.0.0.1:3307/test, over TLS.
# The users and the database are made (again, if changed) on every start.
#
# postgres-tls is a second PostgreSQL 15 server (Debian's binaries in
# /usr/lib/postgresql/15/bin; the machine's own cluster, postgres, keeps 5432)
# on 127.0.0.1:5433, also on 127.0.0.2:5433, that speaks TLS only (plaintext
# TCP is rejected), serves server.pem and checks client certificates against
# ca.pem. Its data directory is the state directory's postgres-tls/data (made
# once with initdb); its socket, and the copies of server.pem, server.key and
# ca.pem it reads (made on every start), are in postgres-tls/. Run as root,
# the script runs it as the system user postgres. Users, in the database test
# (owned by app; core-sdk-client may do everything in it and its schema public):
#   app              password core-sdk-pg-pw (scram-sha-256), over TLS
#   core-sdk-client  no password: over TLS with a client certificate from
#                    ca.pem whose CN is the user name (client.pem); without
#                    one it is refused
#   postgres         through the socket only, for the server's system user (peer)
# e.g. postgresql://app:core-sdk-pg-pw@127.0.0.1:5433/test?sslmode=verify-full
# with sslrootcert=ca.pem. The users and the database are made (again, if
# changed) on every start.
#
# mongodb-tls, mongodb-mtls, rabbitmq-tls, rabbitmq-mtls and expired-tls are TLS terminators
# (stunnel, from Debian's stunnel4) in front of the plaintext servers above:
# each takes TLS on its port and passes the bytes on, in the clear, to its
# server on loopback, which it starts first. One stunnel each, in the
# background, from the state directory's NAME.conf (written anew on each
# start), pid file NAME.pid, log logs/NAME.log; stopping one leaves its server
# running. One that runs but does not answer (say, with certificates made
# since) is started anew.
#   127.0.0.1:27018  mongodb-tls: server.pem, to mongodb (27017). Asks for no
#                    client certificate. Also on 127.0.0.2:27018, an address
#                    its certificate does not name.
#   127.0.0.1:27019  mongodb-mtls: server.pem, to mongodb (27017); a client
#                    certificate from ca.pem (client.pem) is required, as on
#                    rabbitmq-mtls.
#   127.0.0.1:5671   rabbitmq-tls (amqps): server.pem, to rabbitmq (5672).
#                    Asks for no client certificate. Also on 127.0.0.2:5671.
#   127.0.0.1:5673   rabbitmq-mtls: server.pem, to rabbitmq (5672); a client
#                    certificate from ca.pem (client.pem) is required. Without
#                    one the connection is refused with a TLS alert (under TLS
#                    1.3 a client meets it at its first read, not in its
#                    handshake).
#   127.0.0.1:6392   expired-tls: expired.pem (expired on 2020-01-02), to
#                    redis (6379): for "expired certificate" tests.
# (Not a terminator, but TLS too: 127.0.0.1:7100-7102 redis-cluster-tls, whose
# Redis nodes serve TLS themselves; see above.)
# Each answers when its server does and a TLS handshake checked against ca.pem
# succeeds (on 5673 with client.pem; on 6392 it fails with "certificate has
# expired"). What is behind the TLS is each server's own: no users or
# passwords are added.
#
# kafka-tls, kafka-sasl and kafka-sasl-tls are more nisshi brokers. nisshi
# 0.7.0-pre.2 cannot serve TLS itself (its --cert and --key exclude each
# other, and the broker never uses the TLS acceptor it builds), so the TLS
# ones are stunnel terminators as above, each in front of a nisshi of its own
# on a private port that advertises the TLS address; stopping one leaves its
# broker running. A client trusts ca.pem; the certificate names localhost and
# 127.0.0.1, so hostname checks pass for either.
#   127.0.0.1:9095   kafka-tls (SSL): server.pem, to kafka-tls-broker
#                    (127.0.0.1:19095, memory engine, no auth), which
#                    advertises 127.0.0.1:9095.
#   127.0.0.1:9096   kafka-sasl (SASL_PLAINTEXT): nisshi with --authentication,
#                    libSQL engine (kafka-sasl/nisshi.db: topics, messages and
#                    users survive a restart).
#   127.0.0.1:9097   kafka-sasl-tls (SASL_SSL): server.pem, to
#                    kafka-sasl-tls-broker (127.0.0.1:19097, like kafka-sasl,
#                    kafka-sasl-tls-broker/nisshi.db), which advertises
#                    127.0.0.1:9097.
# SASL: user app, password core-sdk-kafka-pw, with SCRAM-SHA-256 and
# SCRAM-SHA-512 credentials. nisshi offers no PLAIN (a PLAIN handshake is
# refused with NoSharedMechanism); a wrong password fails the SCRAM exchange
# ("invalid-proof"), an unknown user "unknown-user"; a client without SASL is
# cut off at its first request after ApiVersions. Its users live in the
# storage engine (the memory engine keeps none) and are made over the Kafka
# protocol (nisshi user create), which an --authentication broker refuses
# before SASL; so on every start the user is made (again) by the same nisshi
# without --authentication on a private port (19096, 19098) that is stopped
# before the real broker starts. Each answers once its broker listens (not
# before app is made), the TLS ones after a handshake checked against ca.pem.
# kafka-tls-broker and kafka-sasl-tls-broker are names this script takes too
# (start, stop), but not part of "all" or status.
#
# Before a TLS server starts, a throwaway CA and certificates (PEM, EC P-256;
# keys readable by their owner only) are made once in CORE_TLS_DIR (default
# /tmp/core-sdk-services/tls, i.e. $CORE_STATE_DIR/tls):
#   ca.pem ca.key              the project CA; it signed server, client and expired
#   server.pem server.key      for DNS:localhost and IP:127.0.0.1 only; serverAuth
#   client.pem client.key      CN=core-sdk-client; clientAuth
#   expired.pem expired.key    like server.pem, but valid only on 2020-01-01
#   other-ca.pem other-ca.key  an unrelated CA, for "wrong CA" tests
# When one of them is missing all are made anew; delete one to renew them all.
#
# Tools that are not on the machine are installed once, outside the clone:
#   CORE_TOOLS_DIR  (default /opt/core-sdk/tools)  nisshi binary, SecantusDB venv
#   CORE_STATE_DIR  (default /tmp/core-sdk-services) logs, pid files, working dirs
#   CORE_TLS_DIR    (default $CORE_STATE_DIR/tls)   the CA and certificates above
set -euo pipefail

TOOLS_DIR="${CORE_TOOLS_DIR:-/opt/core-sdk/tools}"
STATE_DIR="${CORE_STATE_DIR:-/tmp/core-sdk-services}"
TLS_DIR="${CORE_TLS_DIR:-$STATE_DIR/tls}"
NISSHI_VERSION="0.7.0-pre.2"
SECANTUS_VERSION="0.7.0b3"
ALL_SERVICES=(postgres mariadb redis rabbitmq nats memcached kafka mongodb redis-cluster redis-cluster-tls
  redis-durable kafka-durable etcd etcd-tls redis-tls redis-tls-mtls mariadb-tls postgres-tls mongodb-tls
  rabbitmq-tls rabbitmq-mtls expired-tls kafka-tls kafka-sasl kafka-sasl-tls nats-tls mongodb-mtls
  memcached-tls memcached-mtls)
# The servers that serve the certificates in $TLS_DIR.
TLS_SERVICES=(etcd-tls redis-cluster-tls redis-tls redis-tls-mtls mariadb-tls postgres-tls mongodb-tls rabbitmq-tls
  rabbitmq-mtls expired-tls kafka-tls kafka-sasl-tls nats-tls mongodb-mtls memcached-tls memcached-mtls)
# nisshi's memory engine serves kafka and kafka-tls; its libSQL (SQLite file)
# engine serves kafka-durable, kafka-sasl and kafka-sasl-tls (users need it).
NISSHI_FEATURES="dynostore,libsql"
REDIS_CLUSTER_PORTS=(7000 7001 7002)
REDIS_CLUSTER_TLS_PORTS=(7100 7101 7102)
# Throwaway credentials of etcd-tls, documented above for the tests.
ETCD_ROOT_PASSWORD=core-sdk-root
ETCD_APP_PASSWORD=core-sdk-app-pw
# ... and of redis-tls, redis-tls-mtls, mariadb-tls and postgres-tls.
REDIS_TLS_APP_PASSWORD=core-sdk-redis-pw
MARIADB_TLS_APP_PASSWORD=core-sdk-maria-pw
PG_TLS_APP_PASSWORD=core-sdk-pg-pw
# ... and of kafka-sasl and kafka-sasl-tls.
KAFKA_SASL_APP_PASSWORD=core-sdk-kafka-pw
# postgres-tls runs Debian's PostgreSQL 15 binaries.
PG_TLS_BIN=/usr/lib/postgresql/15/bin

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

port_of() {
  case "$1" in
    postgres) echo 5432 ;; mariadb) echo 3306 ;; redis) echo 6379 ;;
    rabbitmq) echo 5672 ;; nats) echo 4222 ;; memcached) echo 11211 ;;
    kafka) echo 9092 ;; mongodb) echo 27017 ;;
    redis-durable) echo 6380 ;; kafka-durable) echo 9094 ;;
    # The first node; the others follow it.
    redis-cluster) echo "${REDIS_CLUSTER_PORTS[0]}" ;; redis-cluster-tls) echo "${REDIS_CLUSTER_TLS_PORTS[0]}" ;;
    etcd) echo 2379 ;; etcd-tls) echo 2381 ;; # their peer ports are 2380 and 2382
    redis-tls) echo 6390 ;; redis-tls-mtls) echo 6391 ;; mariadb-tls) echo 3307 ;;
    postgres-tls) echo 5433 ;;
    mongodb-tls) echo 27018 ;; mongodb-mtls) echo 27019 ;; rabbitmq-tls) echo 5671 ;; rabbitmq-mtls) echo 5673 ;; expired-tls) echo 6392 ;;
    kafka-tls) echo 9095 ;; kafka-sasl) echo 9096 ;; kafka-sasl-tls) echo 9097 ;;
    nats-tls) echo 4223 ;; memcached-tls) echo 11212 ;; memcached-mtls) echo 11213 ;;
    # The brokers behind kafka-tls and kafka-sasl-tls, started with them.
    kafka-tls-broker) echo 19095 ;; kafka-sasl-tls-broker) echo 19097 ;;
    *) die "unknown server '$1' (known: ${ALL_SERVICES[*]})" ;;
  esac
}

# How long a server may take to answer after being started, in seconds.
patience_of() {
  case "$1" in
    rabbitmq) echo 120 ;;
    kafka | kafka-durable | kafka-tls-broker | kafka-sasl | kafka-sasl-tls-broker | mongodb) echo 90 ;;
    *) echo 60 ;;
  esac
}

listening() { timeout 2 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# A server "answers" when its own client says so, not merely when a port is open.
answers() {
  case "$1" in
    postgres) pg_isready -q -h 127.0.0.1 -p 5432 ;;
    mariadb) mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1 ;;
    redis) [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ] ;;
    redis-durable) [ "$(redis-cli -h 127.0.0.1 -p 6380 ping 2>/dev/null)" = PONG ] ;;
    redis-cluster | redis-cluster-tls) cluster_ok "$1" ;;
    memcached) timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211 && printf "version\r\n" >&3 &&
                 read -r line <&3 && [[ $line == VERSION* ]]' 2>/dev/null ;;
    # Port first: etcdctl takes its full timeout to give up on a closed port.
    etcd) listening 2379 && etcdctl_at etcd endpoint health >/dev/null 2>&1 ;;
    # Not before its users are made and auth is on. Once it is, only a user's
    # health check passes (denied a read, it still went through raft).
    etcd-tls) listening 2381 && etcd_auth_on && etcdctl_at etcd-tls --user "app:$ETCD_APP_PASSWORD" endpoint health >/dev/null 2>&1 ;;
    redis-tls | redis-tls-mtls) [ "$(redis_tls_cli "$1" ping 2>/dev/null)" = PONG ] ;;
    # As app, over TLS: not before the users are made.
    mariadb-tls) listening 3307 && mariadb_tls_client -uapp -e 'select 1' >/dev/null 2>&1 ;;
    # As app, over TLS checked against ca.pem: not before the users are made.
    postgres-tls) listening 5433 && pg_tls_psql -c 'select 1' >/dev/null 2>&1 ;;
    # Our stunnel, the server behind it, and a handshake (with stunnel only:
    # it connects to the server after the handshake).
    mongodb-tls | rabbitmq-tls | kafka-tls | kafka-sasl-tls)
      stunnel_alive "$1" && answers "$(tls_proxy_backend "$1")" && tls_probe "$1" -verify_return_error >/dev/null ;;
    # TLS 1.2: under 1.3 a client's handshake is over before the server has
    # judged its certificate.
    rabbitmq-mtls | mongodb-mtls) stunnel_alive "$1" && answers "$(tls_proxy_backend "$1")" && tls_probe "$1" -verify_return_error -tls1_2 \
                     -cert "$TLS_DIR/client.pem" -key "$TLS_DIR/client.key" >/dev/null ;;
    nats-tls) timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4223 && read -r line <&3 &&
                [[ $line == INFO* && $line == *"\"tls_required\":true"* ]]' 2>/dev/null ;;
    memcached-tls) memcached_tls_version "$1" | grep -q '^VERSION ' ;;
    memcached-mtls) memcached_tls_version "$1" -cert "$TLS_DIR/client.pem" -key "$TLS_DIR/client.key" | grep -q '^VERSION ' ;;
    expired-tls) stunnel_alive "$1" && answers redis \
                   && tls_probe "$1" | grep -q '^Verify return code: 10 (certificate has expired)' ;;
    *) listening "$(port_of "$1")" ;;
  esac
}

# The ports of the nodes of redis-cluster or redis-cluster-tls.
cluster_ports() {
  case "$1" in
    redis-cluster) echo "${REDIS_CLUSTER_PORTS[@]}" ;;
    redis-cluster-tls) echo "${REDIS_CLUSTER_TLS_PORTS[@]}" ;;
  esac
}

# How redis-cli reaches NAME's nodes: over TLS for redis-cluster-tls,
# trusting the project CA only, with no client certificate.
cluster_cli_flags() {
  case "$1" in
    redis-cluster-tls) echo --tls --cacert "$TLS_DIR/ca.pem" ;;
  esac
}

# cluster_cli NAME ARGS...: redis-cli for NAME's nodes (ARGS say which).
cluster_cli() {
  local name=$1; shift
  # Paths under $TLS_DIR have no spaces, as everywhere in this script.
  # shellcheck disable=SC2046
  redis-cli $(cluster_cli_flags "$name") "$@"
}

# Every node of the cluster serves it: each says cluster_state:ok.
cluster_ok() {
  local name=$1 port
  for port in $(cluster_ports "$name"); do
    cluster_cli "$name" -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

stop_cluster_nodes() {
  local name=$1 port
  for port in $(cluster_ports "$name"); do
    cluster_cli "$name" -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
}

# cluster_node_flags NAME PORT: how NAME's node on PORT listens. With
# --tls-cluster its cluster bus (PORT + 10000) speaks TLS and it announces its
# TLS port. Outgoing, to its peers, a node would show its serving certificate
# unless given another: client.pem, since server.pem (serverAuth only) fails
# a peer's check of a client certificate.
cluster_node_flags() {
  case "$1" in
    redis-cluster) echo --port "$2" ;;
    redis-cluster-tls)
      echo --port 0 --tls-port "$2" --tls-cert-file "$TLS_DIR/server.pem" --tls-key-file "$TLS_DIR/server.key" \
        --tls-client-cert-file "$TLS_DIR/client.pem" --tls-client-key-file "$TLS_DIR/client.key" \
        --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients optional --tls-cluster yes --tls-replication yes ;;
  esac
}

# launch_redis_cluster NAME: fresh nodes, then one cluster over them:
# whatever state the last run left (a node down, a nodes.conf from an older
# cluster) is discarded first, since a node restarted from its nodes.conf
# alone need not rejoin its cluster.
launch_redis_cluster() {
  local name=$1 dir="$STATE_DIR/$1" port nodes=() waited=0
  [ "$name" = redis-cluster-tls ] && make_tls_material
  stop_cluster_nodes "$name"
  for port in $(cluster_ports "$name"); do
    while listening "$port"; do
      ((waited >= 30)) && die "$name: 127.0.0.1:$port is still taken after 30s"
      sleep 1; waited=$((waited + 1))
    done
  done
  rm -rf "$dir" && mkdir -p "$dir" || return 1
  for port in $(cluster_ports "$name"); do
    # shellcheck disable=SC2046
    redis-server $(cluster_node_flags "$name" "$port") --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file "$dir/nodes-$port.conf" \
      --dir "$dir" --logfile "$STATE_DIR/logs/$name-$port.log" || return 1
    nodes+=("127.0.0.1:$port")
  done
  waited=0
  for port in $(cluster_ports "$name"); do
    until [ "$(cluster_cli "$name" -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; do
      ((waited >= 30)) && die "$name: node 127.0.0.1:$port did not answer within 30s"
      sleep 1; waited=$((waited + 1))
    done
  done
  # create waits without end for nodes that never meet (as over a cluster bus
  # whose TLS handshakes fail): bounded, so start fails instead of hanging.
  # shellcheck disable=SC2046
  timeout 60 redis-cli $(cluster_cli_flags "$name") --cluster create "${nodes[@]}" --cluster-replicas 0 \
    --cluster-yes >"$STATE_DIR/logs/$name-create.log" 2>&1
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

# apt-get ARGS..., quietly; while another apt run holds its locks (dpkg's, or
# the package lists'), it is waited for, up to 10 minutes.
apt_get() {
  local waited=0 err
  until err=$(DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=60 "$@" 2>&1 >/dev/null); do
    case "$err" in
      *"Could not get lock"* | *"Unable to lock"* | *"Unable to acquire"*) ((waited < 600)) || { printf '%s\n' "$err" >&2; return 1; } ;;
      *) printf '%s\n' "$err" >&2; return 1 ;;
    esac
    ((waited % 60 == 0)) && log "waiting for another apt-get or dpkg to finish"
    sleep 5; waited=$((waited + 5))
  done
}

install_memcached() {
  command -v memcached >/dev/null && return
  log "installing memcached from Debian's packages"
  apt_get update && apt_get install -y memcached || die "could not install memcached (apt-get install memcached)"
}

# What the workspace's own build links: librdkafka is built with OpenSSL
# (rdkafka's "ssl" feature) for Kafka's ssl, sasl_ssl and SCRAM. Checked here
# because .ci/run and scripts/test.sh start the servers before building.
install_build_deps() {
  dpkg -s libssl-dev pkg-config >/dev/null 2>&1 && return
  log "installing libssl-dev and pkg-config from Debian's packages (librdkafka's TLS)"
  apt_get update && apt_get install -y libssl-dev pkg-config \
    || die "could not install libssl-dev and pkg-config (apt-get install libssl-dev pkg-config)"
}

install_etcd() {
  command -v etcd >/dev/null && command -v etcdctl >/dev/null && return
  log "installing etcd-server and etcd-client from Debian's packages"
  apt_get update && apt_get install -y etcd-server etcd-client \
    || die "could not install etcd (apt-get install etcd-server etcd-client)"
  # Where nothing keeps it from starting, the package starts its own etcd as a
  # system service, on 127.0.0.1:2379 too; ours is started in its place.
  invoke-rc.d etcd stop >/dev/null 2>&1 || true
}

# etcdctl NAME ARGS...: etcdctl (API v3) against etcd or etcd-tls, the latter
# trusting the project CA and no other.
etcdctl_at() {
  local name=$1; shift
  case "$name" in
    etcd) ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=2s --command-timeout=10s "$@" ;;
    etcd-tls) ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2381 --cacert="$TLS_DIR/ca.pem" \
                --dial-timeout=2s --command-timeout=10s "$@" ;;
  esac
}

# Auth is on when a client with no user is turned away.
etcd_auth_on() {
  local out
  out=$(etcdctl_at etcd-tls get --keys-only /config/ 2>&1) || true
  [[ $out == *"user name is empty"* ]]
}

# etcd-tls's users and role, then auth on. Each step is skipped or harmless
# when done before, so a start that stopped half-way is finished by the next.
etcd_tls_auth() {
  etcd_auth_on && return
  log "etcd-tls: making users root and app, role config-rw, and turning auth on"
  local ctl=(etcdctl_at etcd-tls)
  { { "${ctl[@]}" role get root >/dev/null 2>&1 || "${ctl[@]}" role add root; } \
    && { "${ctl[@]}" user get root >/dev/null 2>&1 \
           || printf '%s\n' "$ETCD_ROOT_PASSWORD" | "${ctl[@]}" user add root --interactive=false; } \
    && "${ctl[@]}" user grant-role root root \
    && { "${ctl[@]}" role get config-rw >/dev/null 2>&1 || "${ctl[@]}" role add config-rw; } \
    && "${ctl[@]}" role grant-permission config-rw --prefix=true readwrite /config/ \
    && { "${ctl[@]}" user get app >/dev/null 2>&1 \
           || printf '%s\n' "$ETCD_APP_PASSWORD" | "${ctl[@]}" user add app --interactive=false; } \
    && "${ctl[@]}" user grant-role app config-rw \
    && "${ctl[@]}" auth enable
  } >>"$STATE_DIR/logs/etcd-tls-auth.log" 2>&1 \
    || die "etcd-tls: could not make its users or turn auth on (see $STATE_DIR/logs/etcd-tls-auth.log)"
}

# launch_etcd NAME CLIENT_URLS PEER_PORT [ETCD FLAG...]: one single-member
# etcd whose data directory, $STATE_DIR/NAME, outlives it. On a restart the
# --initial-* flags are ignored: the member and its keys come from that directory.
launch_etcd() {
  local name=$1 clients=$2 peer=http://127.0.0.1:$3 dir="$STATE_DIR/$1"; shift 3
  mkdir -p "$dir" && chmod 700 "$dir" || return 1
  run_detached "$name" "$dir" etcd --name "core-sdk-$name" --data-dir "$dir" \
    --listen-client-urls "$clients" --advertise-client-urls "${clients%%,*}" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "core-sdk-$name=$peer" --initial-cluster-state new \
    --initial-cluster-token "core-sdk-$name" --logger zap --log-outputs stderr "$@"
}

# etcd-tls, then (once it answers) its users and auth.
launch_etcd_tls() {
  local waited=0
  make_tls_material
  if ! listening 2381; then
    launch_etcd etcd-tls https://127.0.0.1:2381,https://127.0.0.2:2381 2382 \
      --cert-file "$TLS_DIR/server.pem" --key-file "$TLS_DIR/server.key" --client-cert-auth=false || return 1
  fi
  until etcdctl_at etcd-tls endpoint health >/dev/null 2>&1 || etcd_auth_on; do
    ((waited >= 60)) && die "etcd-tls did not answer on 127.0.0.1:2381 within 60s (log: $STATE_DIR/logs/etcd-tls.log)"
    sleep 1; waited=$((waited + 1))
  done
  etcd_tls_auth
}

# redis-cli NAME ARGS...: redis-cli over TLS against redis-tls or
# redis-tls-mtls (the latter with client.pem), trusting the project CA only.
redis_tls_cli() {
  local name=$1; shift
  case "$name" in
    redis-tls) redis-cli --tls --cacert "$TLS_DIR/ca.pem" -h 127.0.0.1 -p 6390 "$@" ;;
    redis-tls-mtls) redis-cli --tls --cacert "$TLS_DIR/ca.pem" --cert "$TLS_DIR/client.pem" \
                      --key "$TLS_DIR/client.key" -h 127.0.0.1 -p 6391 "$@" ;;
  esac
}

# launch_redis_tls NAME PORT AUTH_CLIENTS ADDRESS...: a TLS-only Redis that
# keeps nothing; its pid file is $STATE_DIR/NAME.pid. (On redis-server's
# command line an option's words are separate arguments: one quoted string
# would be one word, here a user name with spaces.)
# nats-tls: its configuration (TLS with client certificates required), then
# the server, in the background with its pid file.
launch_nats_tls() {
  make_tls_material
  local dir="$STATE_DIR/nats-tls"
  mkdir -p "$dir/jetstream" || return 1
  cat >"$dir/nats.conf" <<CONF
listen: 127.0.0.1:4223
jetstream { store_dir: "$dir/jetstream" }
tls {
  cert_file: "$TLS_DIR/server.pem"
  key_file: "$TLS_DIR/server.key"
  ca_file: "$TLS_DIR/ca.pem"
  verify: true
  timeout: 3
}
CONF
  run_detached nats-tls "$dir" /usr/sbin/nats-server -c "$dir/nats.conf"
}

launch_redis_tls() {
  local name=$1 port=$2 auth=$3; shift 3
  make_tls_material
  mkdir -p "$STATE_DIR/$name" || return 1
  redis-server --daemonize yes --bind "$@" --port 0 --tls-port "$port" \
    --tls-cert-file "$TLS_DIR/server.pem" --tls-key-file "$TLS_DIR/server.key" \
    --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients "$auth" \
    --user app on ">$REDIS_TLS_APP_PASSWORD" '~*' '&*' +@all \
    --save "" --appendonly no --dir "$STATE_DIR/$name" \
    --pidfile "$STATE_DIR/$name.pid" --logfile "$STATE_DIR/logs/$name.log"
}

# mariadb ARGS...: the MariaDB client at mariadb-tls over TLS, checking its
# certificate against the project CA (and its name, 127.0.0.1).
mariadb_tls_client() {
  mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P 3307 --connect-timeout=3 \
    --ssl-ca="$TLS_DIR/ca.pem" --ssl-verify-server-cert -p"$MARIADB_TLS_APP_PASSWORD" "$@"
}

# mariadb-tls: its data directory the first time (made aside, then moved in,
# so a half-made one is never used), then the server. Its users and database
# come from an init file the server runs on every start.
launch_mariadb_tls() {
  local dir="$STATE_DIR/mariadb-tls" as_root=() innodb=(--innodb-buffer-pool-size=32M --innodb-log-file-size=8M)
  # mariadbd runs as root only when told to; as anyone else it runs as them.
  [ "$(id -u)" = 0 ] && as_root=(--user=root)
  make_tls_material
  mkdir -p "$dir" && chmod 700 "$dir" || return 1
  if [ ! -d "$dir/data/mysql" ]; then
    log "mariadb-tls: making its data directory $dir/data"
    # No --user here: mariadb-install-db would chown the system's PAM plugin directory to it.
    rm -rf "$dir/data.new" "$dir/data"
    mariadb-install-db --no-defaults --datadir="$dir/data.new" --skip-test-db \
      --auth-root-authentication-method=socket --auth-root-socket-user=root "${innodb[@]}" \
      >"$STATE_DIR/logs/mariadb-tls-install.log" 2>&1 && mv "$dir/data.new" "$dir/data" \
      || die "mariadb-tls: mariadb-install-db failed (see $STATE_DIR/logs/mariadb-tls-install.log)"
  fi
  local user sql=""
  for user in app app_x509; do
    local require=SSL; [ "$user" = app_x509 ] && require=X509
    sql+="CREATE USER IF NOT EXISTS '$user'@'%';
ALTER USER '$user'@'%' IDENTIFIED BY '$MARIADB_TLS_APP_PASSWORD' REQUIRE $require;
GRANT ALL PRIVILEGES ON test.* TO '$user'@'%';
"
  done
  (umask 077 && printf 'CREATE DATABASE IF NOT EXISTS test;\n%s' "$sql" >"$dir/init.sql") || return 1
  run_detached mariadb-tls "$dir" mariadbd --no-defaults "${as_root[@]}" --datadir="$dir/data" \
    --port=3307 --bind-address=127.0.0.1,127.0.0.2 --skip-name-resolve --socket="$dir/mariadbd.sock" \
    --pid-file="$dir/mariadbd.pid" --ssl-cert="$TLS_DIR/server.pem" --ssl-key="$TLS_DIR/server.key" \
    --ssl-ca="$TLS_DIR/ca.pem" --init-file="$dir/init.sql" --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_general_ci "${innodb[@]}"
}

# pg_tls_as COMMAND...: COMMAND as postgres-tls's server user, from / (which
# that user may enter): postgres when this script runs as root (the server
# refuses to run as root), else whoever runs it.
pg_tls_as() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}

# psql ARGS...: psql at postgres-tls as app over TLS, checking its certificate
# against the project CA (and its name, 127.0.0.1); database test.
pg_tls_psql() {
  PGSSLMODE=verify-full PGSSLROOTCERT="$TLS_DIR/ca.pem" PGCONNECT_TIMEOUT=3 PGPASSWORD="$PG_TLS_APP_PASSWORD" \
    psql -X -w -q -At -h 127.0.0.1 -p 5433 -U app -d test "$@"
}

# postgres-tls: its data directory the first time (made aside, then moved in,
# so a half-made one is never used); on every start its settings, pg_hba.conf
# and copies of the certificates (the key must belong to the server's user);
# then the server, or, when it runs already, a reload (which reads the
# certificates anew); then its users and database, made again if changed.
launch_postgres_tls() {
  local dir="$STATE_DIR/postgres-tls" user owner=() waited=0
  local ctl=(pg_tls_as "$PG_TLS_BIN/pg_ctl" -D "$dir/data")
  user=$(id -un)
  [ "$(id -u)" = 0 ] && { user=postgres; owner=(-o postgres -g postgres); }
  make_tls_material
  mkdir -p "$dir" && chmod 700 "$dir" || return 1
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir" || return 1; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "postgres-tls: making its data directory $dir/data"
    rm -rf "$dir/data.new" "$dir/data"
    pg_tls_as "$PG_TLS_BIN/initdb" -D "$dir/data.new" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=scram-sha-256 --no-instructions >"$STATE_DIR/logs/postgres-tls-initdb.log" 2>&1 \
      && printf "include = 'core-sdk.conf'\n" >>"$dir/data.new/postgresql.conf" && mv "$dir/data.new" "$dir/data" \
      || die "postgres-tls: initdb failed (see $STATE_DIR/logs/postgres-tls-initdb.log)"
  fi
  local name
  for name in server.pem server.key ca.pem; do install -m 600 "${owner[@]}" "$TLS_DIR/$name" "$dir/$name" || return 1; done
  {
    printf '# Written by scripts/services.sh on each start of postgres-tls.\n'
    printf "listen_addresses = '127.0.0.1,127.0.0.2'\nport = 5433\n"
    printf "unix_socket_directories = '%s'\nunix_socket_permissions = 0700\n" "$dir"
    printf "ssl = on\nssl_cert_file = '%s/server.pem'\nssl_key_file = '%s/server.key'\nssl_ca_file = '%s/ca.pem'\n" \
      "$dir" "$dir" "$dir"
    printf 'password_encryption = scram-sha-256\nshared_buffers = 32MB\n'
  } >"$dir/data/core-sdk.conf" || return 1
  # No plaintext TCP at all; over TLS, core-sdk-client by a client certificate
  # whose CN is its name, app by password; postgres by the socket only.
  {
    printf '# Written by scripts/services.sh on each start of postgres-tls.\n'
    printf 'local      all  postgres           peer map=owner\n'
    printf 'hostnossl  all  all                %s  reject\n' 0.0.0.0/0 ::/0
    printf 'hostssl    all  core-sdk-client    %s  cert\n' 127.0.0.1/32 127.0.0.2/32
    printf 'hostssl    all  app                %s  scram-sha-256\n' 127.0.0.1/32 127.0.0.2/32
  } >"$dir/data/pg_hba.conf" && printf 'owner  %s  postgres\n' "$user" >"$dir/data/pg_ident.conf" || return 1
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$dir/data/core-sdk.conf" "$dir/data/pg_hba.conf" "$dir/data/pg_ident.conf" || return 1
  fi
  if "${ctl[@]}" status >/dev/null 2>&1; then
    "${ctl[@]}" reload >/dev/null || return 1
  else
    touch "$STATE_DIR/logs/postgres-tls.log" && chown "$user" "$STATE_DIR/logs/postgres-tls.log" || return 1
    # In a session of its own, like the servers run_detached starts.
    pg_tls_as setsid -w "$PG_TLS_BIN/pg_ctl" -D "$dir/data" start -w -t 60 -l "$STATE_DIR/logs/postgres-tls.log" \
      >/dev/null || die "postgres-tls: pg_ctl start failed (see $STATE_DIR/logs/postgres-tls.log)"
  fi
  until pg_tls_as "$PG_TLS_BIN/pg_isready" -q -h "$dir" -p 5433; do
    ((waited >= 60)) && die "postgres-tls did not answer on its socket within 60s (log: $STATE_DIR/logs/postgres-tls.log)"
    sleep 1; waited=$((waited + 1))
  done
  pg_tls_as "$PG_TLS_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p 5433 -U postgres -d postgres \
    >>"$STATE_DIR/logs/postgres-tls-setup.log" 2>&1 <<SQL \
    || die "postgres-tls: could not make its users or database (see $STATE_DIR/logs/postgres-tls-setup.log)"
SELECT 'CREATE ROLE app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app')\gexec
SELECT 'CREATE ROLE "core-sdk-client"' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'core-sdk-client')\gexec
ALTER ROLE app LOGIN PASSWORD '$PG_TLS_APP_PASSWORD';
ALTER ROLE "core-sdk-client" LOGIN PASSWORD NULL;
SELECT 'CREATE DATABASE test OWNER app' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'test')\gexec
ALTER DATABASE test OWNER TO app;
GRANT ALL ON DATABASE test TO "core-sdk-client";
\connect test
GRANT ALL ON SCHEMA public TO "core-sdk-client";
SQL
}

install_stunnel() {
  command -v stunnel4 >/dev/null && return
  log "installing stunnel4 from Debian's packages"
  apt_get update && apt_get install -y stunnel4 || die "could not install stunnel (apt-get install stunnel4)"
}

# The plaintext server a TLS terminator passes its connections to.
tls_proxy_backend() {
  case "$1" in
    mongodb-tls | mongodb-mtls) echo mongodb ;; rabbitmq-tls | rabbitmq-mtls) echo rabbitmq ;; expired-tls) echo redis ;;
    kafka-tls) echo kafka-tls-broker ;; kafka-sasl-tls) echo kafka-sasl-tls-broker ;;
  esac
}

# Is the stunnel that $STATE_DIR/NAME.pid names running?
stunnel_alive() {
  local pid=""
  [ -f "$STATE_DIR/$1.pid" ] && pid=$(cat "$STATE_DIR/$1.pid" 2>/dev/null)
  [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = stunnel4 ]
}

# tls_probe NAME [S_CLIENT ARG...]: one TLS handshake with NAME on 127.0.0.1,
# checking its certificate against the project CA (and that it names
# 127.0.0.1); what openssl s_client says goes to stdout, its status is the
# status. It sends nothing and hangs up at once.
tls_probe() {
  local name=$1; shift
  timeout 10 openssl s_client -connect "127.0.0.1:$(port_of "$name")" -CAfile "$TLS_DIR/ca.pem" \
    -verify_ip 127.0.0.1 "$@" </dev/null 2>&1
}

# memcached_tls_version NAME [OPENSSL-ARGS...]: what NAME answers to
# "version" over a TLS connection checked against ca.pem (nothing if the
# handshake fails). s_client ends when its input does (-no_ign_eof: -quiet
# would wait for the server, which keeps the connection open), a second
# after the command; the output is kept whatever its exit status.
memcached_tls_version() {
  local name=$1 out; shift
  out=$( (printf 'version\r\n'; sleep 1) | timeout 5 openssl s_client -quiet -no_ign_eof \
          -connect "127.0.0.1:$(port_of "$name")" \
          -CAfile "$TLS_DIR/ca.pem" -verify_ip 127.0.0.1 -verify_return_error "$@" 2>/dev/null) || true
  printf '%s\n' "$out"
}

# launch_memcached_tls NAME PORT VERIFY_MODE ADDRESS...: a TLS-only memcached
# serving server.pem; VERIFY_MODE 1 checks a client certificate if one is
# sent, 2 requires one (memcached's ssl_verify_mode).
launch_memcached_tls() {
  local name=$1 port=$2 verify=$3; shift 3
  local addresses user=memcache owner=()
  addresses=$(IFS=,; echo "$*")
  install_memcached
  id "$user" >/dev/null 2>&1 || user=nobody
  # One that runs but does not answer (say, with certificates made since)
  # still holds the port.
  stop_pid_file "$name" memcached
  # As root, memcached drops to its user before it reads the key: give it
  # a copy of its own.
  [ "$(id -u)" = 0 ] && owner=(-o "$user")
  mkdir -p "$STATE_DIR/$name" || return 1
  install -m 0600 "${owner[@]}" "$TLS_DIR/server.key" "$STATE_DIR/$name/server.key" || return 1
  install -m 0644 "$TLS_DIR/server.pem" "$STATE_DIR/$name/server.pem" || return 1
  install -m 0644 "$TLS_DIR/ca.pem" "$STATE_DIR/$name/ca.pem" || return 1
  run_detached "$name" "$STATE_DIR/$name" memcached -u "$user" -l "$addresses" -p "$port" -m 64 -Z \
    -o "ssl_chain_cert=$STATE_DIR/$name/server.pem,ssl_key=$STATE_DIR/$name/server.key,ssl_ca_cert=$STATE_DIR/$name/ca.pem,ssl_verify_mode=$verify"
}

# launch_stunnel NAME: the server behind NAME, then (unless one that answers
# runs already) a stunnel for NAME from $STATE_DIR/NAME.conf. stunnel binds
# its ports before it goes to the background, so a port that is taken fails
# this start.
# Service options in the global part are every section's defaults; a section
# per listening address.
launch_stunnel() {
  local name=$1 backend port cert=server addr addrs=(127.0.0.1) conf="$STATE_DIR/$1.conf"
  backend=$(tls_proxy_backend "$name"); port=$(port_of "$name")
  install_stunnel
  make_tls_material
  start_one "$backend"
  if stunnel_alive "$name"; then
    answers "$name" && return
    # Its server answers, so its configuration or certificates are not the
    # current ones.
    log "$name: its stunnel does not answer; starting it anew"
    stop_pid_file "$name" stunnel4
  fi
  case "$name" in
    mongodb-tls | rabbitmq-tls) addrs+=(127.0.0.2) ;;
    expired-tls) cert=expired ;;
  esac
  {
    printf '; Written by scripts/services.sh on each start of %s.\n' "$name"
    printf 'foreground = no\npid = %s\noutput = %s\nsyslog = no\n' \
      "$STATE_DIR/$name.pid" "$STATE_DIR/logs/$name.log"
    printf 'connect = 127.0.0.1:%s\ncert = %s\nkey = %s\n' \
      "$(port_of "$backend")" "$TLS_DIR/$cert.pem" "$TLS_DIR/$cert.key"
    # CAfile checks client certificates only where verifyChain asks for one;
    # without it, stunnel logs "No trusted certificates found" as an error.
    printf 'CAfile = %s\n' "$TLS_DIR/ca.pem"
    case "$name" in rabbitmq-mtls | mongodb-mtls) printf 'verifyChain = yes\nrequireCert = yes\n' ;; esac
    for addr in "${addrs[@]}"; do printf '[%s-%s]\naccept = %s:%s\n' "$name" "$addr" "$addr" "$port"; done
  } >"$conf" || return 1
  rm -f "$STATE_DIR/$name.pid"
  mkdir -p "$STATE_DIR/logs"
  # Before it detaches, stunnel reports on stderr: into its log too.
  stunnel4 "$conf" </dev/null >>"$STATE_DIR/logs/$name.log" 2>&1 \
    || die "$name: stunnel did not start (see $STATE_DIR/logs/$name.log)"
}

# stop_pid_file NAME COMMAND: stops the process $STATE_DIR/NAME.pid names, if
# that is COMMAND still, and waits until it is gone (a server may close its
# port before it lets go of its files, which the next start needs).
stop_pid_file() {
  local name=$1 command=$2 pid="" gone=0
  [ -f "$STATE_DIR/$name.pid" ] && pid=$(cat "$STATE_DIR/$name.pid")
  if [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$command" ]; then
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
      ((gone >= 30)) && die "$name (pid $pid) is still running after 30s"
      sleep 1; gone=$((gone + 1))
    done
  fi
  rm -f "$STATE_DIR/$name.pid"
}

# The throwaway CA and certificates described in the header, in $TLS_DIR.
# Kept while all are there; otherwise all are made anew, so that every one
# chains to the current ca.pem. Nothing secret is printed.
TLS_NAMES=(ca server client expired other-ca)
make_tls_material() {
  tls_complete && return
  mkdir -p "$TLS_DIR" && make_tls_files \
    || die "could not make the certificates in $TLS_DIR (see $STATE_DIR/logs/tls.log)"
}

tls_complete() {
  local name
  for name in "${TLS_NAMES[@]}"; do
    [ -s "$TLS_DIR/$name.pem" ] && [ -s "$TLS_DIR/$name.key" ] || return 1
  done
}

make_tls_files() {
  # One maker at a time (another may have finished while this one waited);
  # it works in a directory of its own and moves the finished files in. The
  # subshell keeps its umask and cd to itself.
  (
    flock 9
    tls_complete && exit 0
    log "making a throwaway CA and certificates in $TLS_DIR"
    umask 077
    work=$(mktemp -d "$TLS_DIR/.new.XXXXXX") && cd "$work" || exit 1
    trap 'rm -rf "$work"' EXIT
    cat >openssl.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
# "openssl ca", the one signer here that takes a notBefore in the past.
[ca]
default_ca = past
[past]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
    self_signed() { # NAME CN
      key "$1" && openssl req -new -x509 -config openssl.cnf -extensions ca_ext -key "$1.key" \
        -subj "/CN=$2" -days 3650 -sha256 -out "$1.pem"
    }
    signed() { # NAME CN EXTENSIONS
      key "$1" && openssl req -new -config openssl.cnf -key "$1.key" -subj "/CN=$2" -out "$1.csr" \
        && openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -days 3650 -sha256 \
             -extfile openssl.cnf -extensions "$3" -out "$1.pem"
    }
    {
      self_signed ca "core-sdk test CA" \
        && self_signed other-ca "core-sdk unrelated test CA" \
        && signed server "core-sdk test server" server_ext \
        && signed client core-sdk-client client_ext \
        && key expired && openssl req -new -config openssl.cnf -key expired.key \
             -subj "/CN=core-sdk expired test server" -out expired.csr \
        && : >index.txt && openssl rand -hex 16 >serial \
        && openssl ca -batch -notext -config openssl.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
             -startdate 20200101000000Z -enddate 20200102000000Z -extfile openssl.cnf \
             -extensions server_ext -out expired.pem \
        && openssl verify -CAfile ca.pem server.pem client.pem
    } >>"$STATE_DIR/logs/tls.log" 2>&1 || exit 1
    chmod 600 ./*.key && chmod 644 ./*.pem || exit 1
    for name in "${TLS_NAMES[@]}"; do mv -f "$name.key" "$name.pem" "$TLS_DIR/" || exit 1; done
  ) 9>"$TLS_DIR/.lock"
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

# launch_nisshi_sasl NAME ADVERTISED_PORT SETUP_PORT: a nisshi with
# --authentication on NAME's port, advertising 127.0.0.1:ADVERTISED_PORT, on
# the libSQL engine in $STATE_DIR/NAME. Such a broker takes no request before
# SASL, and nisshi user create has none, so the user is made first through
# the same storage by a nisshi without --authentication on SETUP_PORT, which
# is stopped before NAME starts.
launch_nisshi_sasl() {
  local name=$1 advertised=$2 setup=$3 dir="$STATE_DIR/$1" mechanism waited=0
  local nisshi="$TOOLS_DIR/bin/nisshi" storage=(--storage-engine sqlite://nisshi.db)
  install_nisshi
  # One that runs but does not answer, and a setup broker left behind.
  stop_pid_file "$name" nisshi
  stop_pid_file "$name-setup" nisshi
  listening "$setup" && die "$name: 127.0.0.1:$setup, its setup port, is taken"
  run_detached "$name-setup" "$dir" "$nisshi" broker --listener-url "tcp://127.0.0.1:$setup" \
    --advertised-listener-url "tcp://127.0.0.1:$setup" "${storage[@]}" || return 1
  until listening "$setup"; do
    ((waited >= 60)) && die "$name: its setup broker did not listen on 127.0.0.1:$setup within 60s (see $STATE_DIR/logs/$name-setup.log)"
    sleep 1; waited=$((waited + 1))
  done
  for mechanism in scram256 scram512; do
    "$nisshi" user create --broker "tcp://127.0.0.1:$setup" --mechanism "$mechanism" app "$KAFKA_SASL_APP_PASSWORD" \
      >>"$STATE_DIR/logs/$name-setup.log" 2>&1 \
      || die "$name: nisshi user create app ($mechanism) failed (see $STATE_DIR/logs/$name-setup.log)"
  done
  stop_pid_file "$name-setup" nisshi
  # user create ignores the broker's answer: see that both credentials are stored.
  python3 - "$dir/nisshi.db" <<'PY' || die "$name: app's SCRAM credentials are not in $dir/nisshi.db"
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
n = db.execute("select count(distinct mechanism) from scram_credential where username = 'app'").fetchone()[0]
sys.exit(0 if n == 2 else 1)
PY
  run_detached "$name" "$dir" "$nisshi" broker --listener-url "tcp://127.0.0.1:$(port_of "$name")" \
    --advertised-listener-url "tcp://127.0.0.1:$advertised" "${storage[@]}" --authentication
}

launch() {
  case "$1" in
    postgres) pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start ;;
    # By its pid file: matched by executable alone, mariadb-tls's mariadbd
    # would count as this one already running, and nothing would start.
    mariadb) mkdir -p /run/mysqld && { chown mysql:mysql /run/mysqld 2>/dev/null || true; } &&
      start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid \
        --exec /usr/sbin/mariadbd ;;
    redis) redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
             --dir /var/lib/redis --logfile /var/log/redis/ci.log ;;
    rabbitmq) rabbitmq-server -detached ;;
    # By its pid file, as mariadb: matched by executable alone, nats-tls's
    # nats-server would count as this one already running.
    nats) start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "$STATE_DIR/nats.pid" \
            --exec /usr/sbin/nats-server -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log ;;
    nats-tls) launch_nats_tls ;;
    memcached-tls) launch_memcached_tls memcached-tls 11212 1 127.0.0.1 127.0.0.2 ;;
    memcached-mtls) launch_memcached_tls memcached-mtls 11213 2 127.0.0.1 ;;
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
    # Behind kafka-tls's stunnel: it advertises the TLS address.
    kafka-tls-broker)
      install_nisshi
      run_detached kafka-tls-broker "$STATE_DIR/kafka-tls-broker" "$TOOLS_DIR/bin/nisshi" broker \
        --listener-url tcp://127.0.0.1:19095 --advertised-listener-url tcp://127.0.0.1:9095 \
        --storage-engine memory://nisshi/ ;;
    kafka-sasl) launch_nisshi_sasl kafka-sasl 9096 19096 ;;
    kafka-sasl-tls-broker) launch_nisshi_sasl kafka-sasl-tls-broker 9097 19098 ;;
    redis-durable)
      mkdir -p "$STATE_DIR/redis-durable"
      redis-server --daemonize yes --bind 127.0.0.1 --port 6380 --save "" \
        --appendonly yes --appendfsync always --dir "$STATE_DIR/redis-durable" \
        --logfile "$STATE_DIR/logs/redis-durable.log" ;;
    mongodb)
      install_secantus
      run_detached mongodb "$STATE_DIR/mongodb" "$TOOLS_DIR/secantus-venv/bin/secantusd-py" \
        --host 127.0.0.1 --port 27017 --storage-path ':memory:' ;;
    redis-cluster | redis-cluster-tls) launch_redis_cluster "$1" ;;
    etcd)
      install_etcd
      launch_etcd etcd http://127.0.0.1:2379 2380 ;;
    etcd-tls)
      install_etcd
      launch_etcd_tls ;;
    redis-tls) launch_redis_tls redis-tls 6390 optional 127.0.0.1 127.0.0.2 ;;
    redis-tls-mtls) launch_redis_tls redis-tls-mtls 6391 yes 127.0.0.1 ;;
    mariadb-tls) launch_mariadb_tls ;;
    postgres-tls) launch_postgres_tls ;;
    mongodb-tls | mongodb-mtls | rabbitmq-tls | rabbitmq-mtls | expired-tls | kafka-tls | kafka-sasl-tls) launch_stunnel "$1" ;;
  esac
}

start_one() {
  local name=$1 patience waited=0
  # Tests read the certificates even when the server was up before.
  [[ " ${TLS_SERVICES[*]} " == *" $name "* ]] && make_tls_material
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
    # shutdown returns before mariadbd has exited; the next start goes by its
    # pid file, so wait until the process is gone.
    mariadb)
      local pid waited=0
      pid=$(cat /run/mysqld/mysqld.pid 2>/dev/null || true)
      mariadb-admin --protocol=tcp -h 127.0.0.1 -uroot shutdown || true
      while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && ((waited < 60)); do
        sleep 0.5; waited=$((waited + 1))
      done ;;
    redis) redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true ;;
    # nosave skips a snapshot; the append-only file holds every acknowledged write.
    redis-durable) redis-cli -h 127.0.0.1 -p 6380 shutdown nosave >/dev/null 2>&1 || true ;;
    redis-cluster | redis-cluster-tls) stop_cluster_nodes "$name" ;;
    rabbitmq) rabbitmqctl shutdown >/dev/null 2>&1 || true ;;
    # Not nats-tls's server, which runs the same executable.
    nats) pkill -f '/usr/sbin/nats-server -a 127.0.0.1 -p 4222 ' || true; rm -f "$STATE_DIR/nats.pid" ;;
    nats-tls) stop_pid_file "$name" nats-server ;;
    memcached-tls | memcached-mtls) stop_pid_file "$name" memcached ;;
    redis-tls | redis-tls-mtls) stop_pid_file "$name" redis-server ;;
    mariadb-tls) stop_pid_file "$name" mariadbd ;;
    postgres-tls)
      if pg_tls_as "$PG_TLS_BIN/pg_ctl" -D "$STATE_DIR/postgres-tls/data" status >/dev/null 2>&1; then
        pg_tls_as "$PG_TLS_BIN/pg_ctl" -D "$STATE_DIR/postgres-tls/data" stop -m fast -w -t 60 >/dev/null \
          || die "postgres-tls did not stop (see $STATE_DIR/logs/postgres-tls.log)"
      fi ;;
    # Only the terminator: the server behind it stays up.
    mongodb-tls | mongodb-mtls | rabbitmq-tls | rabbitmq-mtls | expired-tls | kafka-tls | kafka-sasl-tls) stop_pid_file "$name" stunnel4 ;;
    kafka-tls-broker) stop_pid_file "$name" nisshi ;;
    kafka-sasl | kafka-sasl-tls-broker) stop_pid_file "$name-setup" nisshi; stop_pid_file "$name" nisshi ;;
    memcached | kafka | kafka-durable | mongodb | etcd | etcd-tls)
      local pid=""
      if [ -f "$STATE_DIR/$name.pid" ]; then pid=$(cat "$STATE_DIR/$name.pid"); kill "$pid" 2>/dev/null || true; fi
      rm -f "$STATE_DIR/$name.pid"
      # Also one started before this script kept pid files.
      case "$name" in
        memcached) pkill -f 'memcached .*-p 11211' || true ;;
        kafka) pkill -f 'nisshi broker .*tcp://127.0.0.1:9092' || true ;;
        kafka-durable) pkill -f 'nisshi broker .*tcp://127.0.0.1:9094' || true ;;
        mongodb) pkill -f 'secantusd-py .*--port 27017' || true ;;
        etcd | etcd-tls) pkill -f "^etcd --name core-sdk-$name --" || true
          # etcd closes its ports before it lets go of its data directory,
          # which the next start locks.
          local gone=0
          while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do
            ((gone >= 30)) && die "$name (pid $pid) is still running after 30s"
            sleep 1; gone=$((gone + 1))
          done ;;
      esac ;;
  esac
  local waited=0 port ports=("$(port_of "$name")")
  case "$name" in redis-cluster | redis-cluster-tls) read -ra ports <<<"$(cluster_ports "$name")" ;; esac
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
    start | up) install_build_deps
                for name in "${names[@]}"; do port_of "$name" >/dev/null; start_one "$name"; done ;;
    stop | down) [ $# -gt 0 ] || die "say which servers to stop: ${ALL_SERVICES[*]}"
                 for name in "${names[@]}"; do port_of "$name" >/dev/null; stop_one "$name"; done ;;
    status) local down=0
            for name in "${names[@]}"; do
              if answers "$name"; then echo "up    $name 127.0.0.1:$(port_of "$name")"; else echo "DOWN  $name"; down=1; fi
            done
            return $down ;;
    -h | --help | help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" ;;
    *) die "unknown action '$action' (start, stop, status)" ;;
  esac
}

main "$@"
