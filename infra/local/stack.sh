#!/usr/bin/env bash
# The local stack: a real Apache Kafka broker (KRaft, one combined broker+controller
# node, jars from Maven Central) and a real Prometheus Pushgateway (Debian's package),
# both on 127.0.0.1, plus the service's topics; and a Prometheus (Debian's package)
# scraping the Pushgateway, with its UI on 127.0.0.1:9090, for graphs while developing.
#
#   infra/local/stack.sh start    start what is not running, wait until ready, create topics
#   infra/local/stack.sh stop     stop what this stack started (fine when nothing runs)
#   infra/local/stack.sh status   one line per component; exit 0 only when all are up
#   infra/local/stack.sh reset    stop, then delete the broker's data (topics, offsets)
#
# Idempotent: one lock serialises concurrent calls, a running component is detected
# by its pid file and command line, so a second start never makes a second broker.
# (The lock's descriptor is closed for the servers started here, or they would hold it.)
# When KAFKA_BROKERS or PUSHGATEWAY_URL is set, that component is not started here.
# Prometheus is a convenience: when it cannot be installed or its port is taken, start
# warns and goes on (LOCAL_PROMETHEUS=off skips it), and status does not count it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

KAFKA_VERSION=${KAFKA_VERSION:-3.9.2}
kafka_port=${LOCAL_KAFKA_PORT:-9092}
controller_port=${LOCAL_KAFKA_CONTROLLER_PORT:-9093}
pushgateway_port=${LOCAL_PUSHGATEWAY_PORT:-9091}
prometheus_port=${LOCAL_PROMETHEUS_PORT:-9090}
prometheus_enabled=${LOCAL_PROMETHEUS:-on}
heap_opts=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
ready_timeout=${LOCAL_STACK_READY_TIMEOUT:-120}
# State (pids, logs, broker data) and the jar cache live outside the checkout so that
# every clone on this machine shares one broker and one download.
state=${LOCAL_STACK_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/simple-time-service}
cache=${LOCAL_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simple-time-service}

kafka_home="$state/kafka-$KAFKA_VERSION"
kafka_libs="$cache/kafka-$KAFKA_VERSION/libs"
kafka_pidfile="$state/kafka.pid"
pushgateway_pidfile="$state/pushgateway.pid"
prometheus_pidfile="$state/prometheus.pid"
prometheus_home="$state/prometheus"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

who_listens() {
  ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1
}

# Prints the pid recorded in $1 when that process is alive and its command line
# contains $2 (a pid file left by a crash may name a pid reused by something else).
live_pid() {
  local pidfile=$1 pattern=$2 pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  printf '%s\n' "$pid"
}

kafka_pid() { live_pid "$kafka_pidfile" 'kafka.Kafka'; }
pushgateway_pid() { live_pid "$pushgateway_pidfile" 'pushgateway'; }
# Matched on its rendered config path, which the Pushgateway's command line never has.
prometheus_pid() { live_pid "$prometheus_pidfile" "$prometheus_home/prometheus.yml"; }

# ---------------------------------------------------------------- Kafka

ensure_kafka_jars() {
  [[ -f $kafka_libs/.complete ]] && return 0
  command -v java >/dev/null || die "java is needed to run Kafka (Java 17+): apt-get install openjdk-17-jre-headless"
  command -v mvn >/dev/null || die "Maven is needed to fetch Kafka from Maven Central: apt-get install maven"
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central (once; cached in $kafka_libs)"
  mkdir -p "$cache"
  rm -rf "$kafka_libs" "$kafka_libs.partial"
  if ! mvn -q -B -f "$here/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$kafka_libs.partial" >"$cache/mvn-$KAFKA_VERSION.log" 2>&1; then
    tail -n 20 "$cache/mvn-$KAFKA_VERSION.log" >&2
    die "Maven could not resolve Kafka $KAFKA_VERSION (full log: $cache/mvn-$KAFKA_VERSION.log)"
  fi
  mv "$kafka_libs.partial" "$kafka_libs"
  touch "$kafka_libs/.complete"
}

# The java command line shared by the storage tool and the broker. The classpath
# wildcard is expanded by java itself, not by the shell.
kafka_java() {
  local heap
  read -ra heap <<<"$heap_opts"
  kafka_java=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    -Dlog4j.configuration="file:$here/log4j.properties" -Dkafka.log.dir="$kafka_home/logs"
    -cp "$kafka_libs/*")
}

render_kafka_config() {
  mkdir -p "$kafka_home/data" "$kafka_home/logs"
  sed -e "s#@@KAFKA_PORT@@#$kafka_port#g" \
    -e "s#@@CONTROLLER_PORT@@#$controller_port#g" \
    -e "s#@@DATA_DIR@@#$kafka_home/data#g" \
    "$here/server.properties.template" >"$kafka_home/server.properties"
}

format_kafka_storage() {
  [[ -f $kafka_home/data/meta.properties ]] && return 0
  local cluster_id
  # A cluster id is 16 random bytes in URL-safe base64 without padding.
  cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  # One in 32 ids starts with "-", which the storage tool would read as an option.
  while [[ $cluster_id == -* ]]; do cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'); done
  log "formatting KRaft storage in $kafka_home/data (cluster id $cluster_id)"
  kafka_java
  if ! "${kafka_java[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$kafka_home/server.properties" >"$kafka_home/logs/format.log" 2>&1; then
    cat "$kafka_home/logs/format.log" >&2
    die "kafka storage format failed"
  fi
}

wait_kafka_ready() {
  local pid=$1 deadline=$(($(date +%s) + ready_timeout))
  # Ready means the broker logged that it started *in this run*: the log is rotated
  # before each start, so an old "started" line cannot count.
  until grep -q 'Kafka Server started' "$kafka_home/logs/server.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 25 "$kafka_home/logs/server.log" "$kafka_home/logs/stdout.log" >&2 2>/dev/null || true
      die "the Kafka broker exited while starting (logs in $kafka_home/logs)"
    fi
    (($(date +%s) < deadline)) || die "the Kafka broker was not ready after ${ready_timeout}s (logs in $kafka_home/logs)"
    sleep 0.2
  done
}

start_kafka() {
  if [[ -n ${KAFKA_BROKERS:-} ]]; then
    log "KAFKA_BROKERS=$KAFKA_BROKERS is set: using it, no local broker started"
    return 0
  fi
  local pid
  if pid=$(kafka_pid); then
    log "kafka already running (pid $pid)"
    wait_kafka_ready "$pid"
    return 0
  fi
  if port_open "$kafka_port"; then
    die "127.0.0.1:$kafka_port is taken by a process this stack did not start ($(who_listens "$kafka_port")); stop it, or set KAFKA_BROKERS to use it"
  fi
  ensure_kafka_jars
  render_kafka_config
  format_kafka_storage
  [[ -f $kafka_home/logs/server.log ]] && mv "$kafka_home/logs/server.log" "$kafka_home/logs/server.log.previous"
  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$kafka_port (heap: $heap_opts)"
  # setsid: the broker outlives `npm start` being interrupted; `stop` ends it.
  kafka_java
  nohup setsid "${kafka_java[@]}" kafka.Kafka "$kafka_home/server.properties" \
    >"$kafka_home/logs/stdout.log" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$kafka_pidfile"
  wait_kafka_ready "$pid"
  log "kafka ready (pid $pid)"
}

# ---------------------------------------------------------------- Pushgateway

pushgateway_bin() {
  local bin
  bin=$(command -v prometheus-pushgateway || command -v pushgateway || true)
  if [[ -z $bin && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing Debian's prometheus-pushgateway with apt-get"
    { apt-get install -y -qq prometheus-pushgateway || { apt-get update -qq && apt-get install -y -qq prometheus-pushgateway; }; } \
      >"$state/apt-pushgateway.log" 2>&1 || { tail -n 20 "$state/apt-pushgateway.log" >&2; die "apt-get install prometheus-pushgateway failed"; }
    bin=$(command -v prometheus-pushgateway || true)
  fi
  [[ -n $bin ]] || die "no Prometheus Pushgateway found: install Debian's package (sudo apt-get install prometheus-pushgateway), or set PUSHGATEWAY_URL to one you run"
  printf '%s\n' "$bin"
}

pushgateway_ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$pushgateway_port/-/ready" 2>/dev/null; }

start_pushgateway() {
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    log "PUSHGATEWAY_URL=$PUSHGATEWAY_URL is set: using it, no local Pushgateway started"
    return 0
  fi
  local pid bin
  if pid=$(pushgateway_pid); then
    log "pushgateway already running (pid $pid)"
  elif port_open "$pushgateway_port"; then
    if pushgateway_ready; then
      log "a Pushgateway this stack did not start answers on 127.0.0.1:$pushgateway_port: using it"
      return 0
    fi
    die "127.0.0.1:$pushgateway_port is taken by a process that is not a Pushgateway ($(who_listens "$pushgateway_port"))"
  else
    bin=$(pushgateway_bin)
    mkdir -p "$state/pushgateway"
    nohup setsid "$bin" --web.listen-address="127.0.0.1:$pushgateway_port" --web.enable-admin-api \
      >"$state/pushgateway/pushgateway.log" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$pushgateway_pidfile"
  fi
  local deadline=$(($(date +%s) + 30))
  until pushgateway_ready; do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$state/pushgateway/pushgateway.log" >&2; die "the Pushgateway exited while starting"; }
    (($(date +%s) < deadline)) || die "the Pushgateway was not ready after 30s"
    sleep 0.1
  done
  log "pushgateway ready on 127.0.0.1:$pushgateway_port (pid $pid)"
}

# ---------------------------------------------------------------- Prometheus

prometheus_bin() {
  local bin
  bin=$(command -v prometheus || true)
  if [[ -z $bin && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing Debian's prometheus with apt-get"
    { apt-get install -y -qq prometheus || { apt-get update -qq && apt-get install -y -qq prometheus; }; } \
      >"$state/apt-prometheus.log" 2>&1 || { tail -n 20 "$state/apt-prometheus.log" >&2; return 1; }
    bin=$(command -v prometheus || true)
  fi
  [[ -n $bin ]] || return 1
  printf '%s\n' "$bin"
}

prometheus_ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$prometheus_port/-/ready" 2>/dev/null; }

# The config scrapes the Pushgateway this stack uses: the local one, or PUSHGATEWAY_URL's.
render_prometheus_config() {
  local target scheme=http
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    [[ $PUSHGATEWAY_URL == https://* ]] && scheme=https
    target=${PUSHGATEWAY_URL#*://}
    target=${target%%/*}
  else
    target="127.0.0.1:$pushgateway_port"
  fi
  mkdir -p "$prometheus_home/data"
  sed -e "s#@@PUSHGATEWAY_TARGET@@#$target#g" \
    -e "s#@@PUSHGATEWAY_SCHEME@@#$scheme#g" \
    -e "s#@@RULES_FILE@@#$here/prometheus/rules.yml#g" \
    "$here/prometheus/prometheus.yml.template" >"$prometheus_home/prometheus.yml.new"
  mv "$prometheus_home/prometheus.yml.new" "$prometheus_home/prometheus.yml"
}

start_prometheus() {
  if [[ $prometheus_enabled == off ]]; then
    log "LOCAL_PROMETHEUS=off: no local Prometheus"
    return 0
  fi
  local pid bin
  if ! bin=$(prometheus_bin); then
    log "warning: no Prometheus (install Debian's package: sudo apt-get install prometheus); going on without graphs"
    return 0
  fi
  render_prometheus_config
  if pid=$(prometheus_pid); then
    # Running already: it re-reads the freshly rendered config and rules (SIGHUP).
    kill -HUP "$pid" 2>/dev/null || true
    log "prometheus already running (pid $pid), config reloaded"
  elif port_open "$prometheus_port"; then
    log "warning: 127.0.0.1:$prometheus_port is taken ($(who_listens "$prometheus_port")): no local Prometheus (set LOCAL_PROMETHEUS_PORT)"
    return 0
  else
    nohup setsid "$bin" --config.file="$prometheus_home/prometheus.yml" \
      --storage.tsdb.path="$prometheus_home/data" --storage.tsdb.retention.time=2d \
      --web.listen-address="127.0.0.1:$prometheus_port" \
      >"$prometheus_home/prometheus.log" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$prometheus_pidfile"
  fi
  local deadline=$(($(date +%s) + 30))
  until prometheus_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$prometheus_home/prometheus.log" >&2
      log "warning: Prometheus exited while starting (log: $prometheus_home/prometheus.log); going on without graphs"
      rm -f "$prometheus_pidfile"
      return 0
    fi
    (($(date +%s) < deadline)) || { log "warning: Prometheus was not ready after 30s (log: $prometheus_home/prometheus.log)"; return 0; }
    sleep 0.1
  done
  log "prometheus ready: UI on http://127.0.0.1:$prometheus_port (pid $pid)"
}

# ---------------------------------------------------------------- topics

create_topics() {
  [[ -d $repo/node_modules/kafkajs ]] || die "node_modules is missing: run npm ci first"
  (cd "$repo" && KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:$kafka_port} node --import tsx infra/topics.ts)
}

# ---------------------------------------------------------------- stop / status

stop_process() {
  local name=$1 pidfile=$2 pattern=$3 pid
  if ! pid=$(live_pid "$pidfile" "$pattern"); then
    log "$name is not running"
    rm -f "$pidfile"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  # A broker's controlled shutdown takes a few seconds; it gets 30 before SIGKILL.
  local deadline=$(($(date +%s) + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if (($(date +%s) >= deadline)); then
      log "$name did not stop within 30s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

status() {
  local ok=0 pid
  if [[ -n ${KAFKA_BROKERS:-} ]]; then
    echo "kafka        external: $KAFKA_BROKERS"
  elif pid=$(kafka_pid) && port_open "$kafka_port"; then
    echo "kafka        running  pid $pid  127.0.0.1:$kafka_port  version $(tr '\0' ' ' </proc/"$pid"/cmdline | grep -o 'kafka-[0-9][^/]*/libs' | head -n 1 | sed 's#kafka-##; s#/libs##')"
  else
    echo "kafka        stopped"
    ok=3
  fi
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    echo "pushgateway  external: $PUSHGATEWAY_URL"
  elif pushgateway_ready; then
    pid=$(pushgateway_pid || echo "not ours")
    echo "pushgateway  running  pid $pid  127.0.0.1:$pushgateway_port"
  else
    echo "pushgateway  stopped"
    ok=3
  fi
  # Not counted in the exit status: nothing the service or its tests do needs it.
  if pid=$(prometheus_pid) && prometheus_ready; then
    echo "prometheus   running  pid $pid  http://127.0.0.1:$prometheus_port"
  else
    echo "prometheus   stopped"
  fi
  return $ok
}

main() {
  local cmd=${1:-}
  mkdir -p "$state"
  if [[ $cmd == status ]]; then
    status
    return
  fi
  # One caller at a time: two concurrent starts must not race to launch two brokers.
  exec 9>"$state/.lock"
  flock -w 300 9 || die "another stack.sh has held $state/.lock for 300s"
  case $cmd in
    start)
      local t0
      t0=$(now)
      start_kafka
      start_pushgateway
      start_prometheus
      create_topics
      log "local stack ready in $(elapsed "$t0") s"
      ;;
    stop)
      stop_process prometheus "$prometheus_pidfile" "$prometheus_home/prometheus.yml"
      stop_process pushgateway "$pushgateway_pidfile" pushgateway
      stop_process kafka "$kafka_pidfile" kafka.Kafka
      ;;
    status) status ;;
    reset)
      stop_process prometheus "$prometheus_pidfile" "$prometheus_home/prometheus.yml"
      stop_process pushgateway "$pushgateway_pidfile" pushgateway
      stop_process kafka "$kafka_pidfile" kafka.Kafka
      log "deleting $kafka_home and $prometheus_home/data"
      rm -rf "$kafka_home" "$prometheus_home/data"
      ;;
    *)
      echo "usage: $0 start|stop|status|reset" >&2
      exit 2
      ;;
  esac
}

main "$@"
