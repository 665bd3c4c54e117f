#!/usr/bin/env bash
# The local stack: a real Apache Kafka broker (KRaft, one combined broker+controller
# node, jars from Maven Central) and a real Prometheus Pushgateway (Debian's package),
# both on 127.0.0.1, plus the service's topics; and a Prometheus (Debian's package)
# scraping the Pushgateway, with its UI on 127.0.0.1:9090, for graphs while developing.
#
#   infra/local/stack.sh start    start what is not running, wait until ready, create topics
#   infra/local/stack.sh stop [kafka|pushgateway|prometheus ...]
#                                 stop what this stack started (all by default; fine when nothing runs)
#   infra/local/stack.sh status   one line per component; exit 0 only when broker and Pushgateway are up
#   infra/local/stack.sh reset    stop, then delete the broker's and Prometheus's data
#
# Idempotent: one lock serialises concurrent calls, and a running component is found by
# its pid file and its exact command (program, and this state folder's config or its
# listen address), so a second start never makes a second broker and nothing else is
# ever adopted or stopped. (The lock's descriptor is closed for the servers started
# here, or they would hold it.) Ready means ready for a client: the broker answers a
# Kafka request, the group coordinator answers and producer ids are handed out.
# When KAFKA_BROKERS or PUSHGATEWAY_URL is set, that component is not started here.
# Prometheus is a convenience: when it cannot be installed or its port is taken, start
# warns and goes on (LOCAL_PROMETHEUS=off skips it), and status does not count it.
set -euo pipefail
# Bash 5.2 reads "&" in ${var//pattern/replacement} as the match: never wanted here.
shopt -u patsub_replacement 2>/dev/null || true

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- inputs
# Checked before anything uses them: the version goes into paths that `reset` deletes,
# the numbers into shell arithmetic (which would run code hidden in an array index).

# Prints $2 (the value of variable $1) as a number in [$3, $4], or dies naming the variable.
whole_number() {
  local name=$1 value=$2 min=$3 max=$4
  [[ $value =~ ^[0-9]{1,6}$ ]] && ((10#$value >= min && 10#$value <= max)) ||
    die "$name=$value: expected a whole number from $min to $max"
  printf '%d\n' "$((10#$value))"
}

KAFKA_VERSION=${KAFKA_VERSION:-3.9.2}
[[ $KAFKA_VERSION =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
  die "KAFKA_VERSION=$KAFKA_VERSION: expected a Kafka release such as 3.9.2"
kafka_port=$(whole_number LOCAL_KAFKA_PORT "${LOCAL_KAFKA_PORT:-9092}" 1 65535)
controller_port=$(whole_number LOCAL_KAFKA_CONTROLLER_PORT "${LOCAL_KAFKA_CONTROLLER_PORT:-9093}" 1 65535)
pushgateway_port=$(whole_number LOCAL_PUSHGATEWAY_PORT "${LOCAL_PUSHGATEWAY_PORT:-9091}" 1 65535)
prometheus_port=$(whole_number LOCAL_PROMETHEUS_PORT "${LOCAL_PROMETHEUS_PORT:-9090}" 1 65535)
ready_timeout=$(whole_number LOCAL_STACK_READY_TIMEOUT "${LOCAL_STACK_READY_TIMEOUT:-120}" 1 3600)
download_timeout=$(whole_number LOCAL_STACK_DOWNLOAD_TIMEOUT "${LOCAL_STACK_DOWNLOAD_TIMEOUT:-900}" 1 86400)
prometheus_enabled=${LOCAL_PROMETHEUS:-on}
[[ $prometheus_enabled == on || $prometheus_enabled == off ]] || die "LOCAL_PROMETHEUS=$prometheus_enabled: expected on or off"
heap_opts=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
# State (pids, logs, broker data) and the jar cache live outside the checkout so that
# every clone on this machine shares one broker and one download.
state=${LOCAL_STACK_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/simple-time-service}
cache=${LOCAL_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simple-time-service}
# Kafka splits log.dirs on commas and the class path on colons.
[[ $state != *[$',\n']* ]] || die "LOCAL_STACK_DIR=$state: a comma or a line break in it cannot be a Kafka log.dirs entry"
[[ $cache != *[$':\n']* ]] || die "LOCAL_STACK_CACHE=$cache: a colon or a line break in it cannot be on a Java class path"

kafka_home="$state/kafka-$KAFKA_VERSION"
kafka_libs="$cache/kafka-$KAFKA_VERSION/libs"
kafka_pidfile="$state/kafka.pid"
pushgateway_pidfile="$state/pushgateway.pid"
prometheus_pidfile="$state/prometheus.pid"
prometheus_home="$state/prometheus"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

who_listens() {
  ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1
}

# Writes $1 from the template $2 with every @@NAME@@ replaced by the value of the
# variable render_NAME, literally (no sed: "&", "#" or "\" in a path stay what they are).
render() {
  local out=$1 template=$2
  awk 'BEGIN { failed = 0 }
    {
      line = $0; result = ""
      while (match(line, /@@[A-Z_]+@@/)) {
        name = "render_" substr(line, RSTART + 2, RLENGTH - 4)
        if (!(name in ENVIRON)) { print "no value for " substr(line, RSTART, RLENGTH) > "/dev/stderr"; failed = 1; exit 1 }
        result = result substr(line, 1, RSTART - 1) ENVIRON[name]
        line = substr(line, RSTART + RLENGTH)
      }
      print result line
    }
    END { exit failed }' "$template" >"$out.new" || { rm -f "$out.new"; die "could not render $out from $template"; }
  mv "$out.new" "$out"
}

# The arguments of process $1, one per array element (they may hold spaces).
proc_args() {
  local -n args_out=$2
  args_out=()
  [[ -r /proc/$1/cmdline ]] && mapfile -d '' -t args_out <"/proc/$1/cmdline" 2>/dev/null
  ((${#args_out[@]} > 0))
}

# Whether process $1 is exactly what this stack starts for component $2: the program,
# and the argument that ties it to this stack (its config in this state folder, or its
# listen address). A substring of the command line is not enough: `tail -f
# .../pushgateway.log` is no Pushgateway.
is_component() {
  local pid=$1 component=$2 arg program
  local -a args
  proc_args "$pid" args || return 1
  program=${args[0]##*/}
  case $component in
    kafka)
      # Any Kafka version of this state folder (KAFKA_VERSION may have changed since).
      local config
      [[ $program == java ]] && ((${#args[@]} >= 2)) && [[ ${args[-2]} == kafka.Kafka ]] || return 1
      config=${args[-1]}
      [[ $config == "$state/kafka-"*/server.properties ]] || return 1
      config=${config#"$state/kafka-"}
      [[ ${config%/server.properties} =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]
      return
      ;;
    pushgateway)
      [[ $program == prometheus-pushgateway || $program == pushgateway ]] || return 1
      for arg in "${args[@]:1}"; do [[ $arg == "--web.listen-address=127.0.0.1:$pushgateway_port" ]] && return 0; done
      return 1
      ;;
    prometheus)
      [[ $program == prometheus ]] || return 1
      for arg in "${args[@]:1}"; do [[ $arg == "--config.file=$prometheus_home/prometheus.yml" ]] && return 0; done
      return 1
      ;;
  esac
  return 1
}

# Prints the pid recorded in component $1's pid file when that process is alive and is
# exactly the component (a pid file left by a crash may name a pid reused by anything).
component_pid() {
  local component=$1 pidfile="$state/$1.pid" pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]{1,10}$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  is_component "$pid" "$component" || return 1
  printf '%s\n' "$pid"
}

kafka_pid() { component_pid kafka; }
pushgateway_pid() { component_pid pushgateway; }
prometheus_pid() { component_pid prometheus; }

# Debian packages (infra/local/apt-install.sh: no recommends, no services started);
# only as root on a machine with apt. Output goes to $state/apt-<name>.log.
apt_install() {
  local name=$1
  [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || return 1
  log "installing Debian's $name with apt-get"
  bash "$here/apt-install.sh" "$name" >"$state/apt-$name.log" 2>&1 || { tail -n 20 "$state/apt-$name.log" >&2; return 1; }
}

# ---------------------------------------------------------------- Kafka

ensure_kafka_jars() {
  [[ -f $kafka_libs/.complete ]] && return 0
  command -v java >/dev/null || die "java is needed to run Kafka (Java 17+): apt-get install openjdk-17-jre-headless"
  command -v mvn >/dev/null || die "Maven is needed to fetch Kafka from Maven Central: apt-get install maven"
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central (once; cached in $kafka_libs; at most ${download_timeout}s)"
  mkdir -p "$cache"
  rm -rf "$kafka_libs" "$kafka_libs.partial"
  # Bounded twice: a read that stalls fails after 60 s (both of Maven's HTTP transports),
  # and the whole download after LOCAL_STACK_DOWNLOAD_TIMEOUT, so a registry that accepts
  # and never answers cannot hold the lock for ever.
  local code=0
  timeout --kill-after=10 "$download_timeout" \
    mvn -q -B -f "$here/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    -Dmaven.wagon.rto=60000 -Daether.connector.requestTimeout=60000 -Daether.connector.connectTimeout=20000 \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$kafka_libs.partial" >"$cache/mvn-$KAFKA_VERSION.log" 2>&1 </dev/null || code=$?
  if ((code != 0)); then
    rm -rf "$kafka_libs.partial"
    tail -n 20 "$cache/mvn-$KAFKA_VERSION.log" >&2
    ((code == 124 || code == 137)) &&
      die "Maven did not finish within ${download_timeout} s (LOCAL_STACK_DOWNLOAD_TIMEOUT): is the registry answering? (full log: $cache/mvn-$KAFKA_VERSION.log)"
    die "Maven could not resolve Kafka $KAFKA_VERSION (full log: $cache/mvn-$KAFKA_VERSION.log)"
  fi
  mv "$kafka_libs.partial" "$kafka_libs"
  touch "$kafka_libs/.complete"
}

# A file: URL for a path ("#" would start a fragment, "%" an escape, " " is not allowed).
file_url() {
  local p=$1
  p=${p//'%'/'%25'}
  p=${p//'#'/'%23'}
  p=${p//' '/'%20'}
  p=${p//'?'/'%3F'}
  printf 'file:%s\n' "$p"
}

# The java command line shared by the storage tool and the broker. The classpath
# wildcard is expanded by java itself, not by the shell.
kafka_java() {
  local heap
  read -ra heap <<<"$heap_opts"
  kafka_java=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    -Dlog4j.configuration="$(file_url "$here/log4j.properties")" -Dkafka.log.dir="$kafka_home/logs"
    -cp "$kafka_libs/*")
}

render_kafka_config() {
  mkdir -p "$kafka_home/data" "$kafka_home/logs"
  # Java properties: a backslash starts an escape.
  local data=$kafka_home/data
  render_KAFKA_PORT=$kafka_port render_CONTROLLER_PORT=$controller_port render_DATA_DIR=${data//'\'/'\\'} \
    render "$kafka_home/server.properties" "$here/server.properties.template"
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

# Whether the broker on the port answers a Kafka request: an ApiVersions (v0) request,
# answered with our correlation id and no error. A connection, not a log line: the log
# rolls over, a connection does not.
kafka_answers() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x53\x54\x00\x05stack" >&3
    [[ $(head -c 10 <&3 | od -An -tx1 | tr -d " \n") == ????????000053540000 ]]
  ' _ "$kafka_port" 2>/dev/null
}

wait_kafka_ready() {
  local pid=$1 deadline=$(($(date +%s) + ready_timeout))
  until kafka_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 25 "$kafka_home/logs/server.log" "$kafka_home/logs/stdout.log" >&2 2>/dev/null || true
      die "the Kafka broker exited while starting (logs in $kafka_home/logs)"
    fi
    (($(date +%s) < deadline)) || die "the Kafka broker did not answer on 127.0.0.1:$kafka_port within ${ready_timeout}s (logs in $kafka_home/logs)"
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
  if [[ -z $bin ]] && apt_install prometheus-pushgateway; then
    bin=$(command -v prometheus-pushgateway || true)
  fi
  [[ -n $bin ]] || die "no Prometheus Pushgateway found: install Debian's package (sudo infra/local/apt-install.sh prometheus-pushgateway), or set PUSHGATEWAY_URL to one you run"
  printf '%s\n' "$bin"
}

# Something only a Pushgateway answers: its status API with its build information (any
# HTTP server may answer 2xx on /-/ready).
pushgateway_ready() {
  curl -fsS -m 2 "http://127.0.0.1:$pushgateway_port/api/v1/status" 2>/dev/null | grep -q '"build_information"'
}

start_pushgateway() {
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    log "PUSHGATEWAY_URL=$PUSHGATEWAY_URL is set: using it, no local Pushgateway started"
    return 0
  fi
  local pid bin
  if pid=$(pushgateway_pid); then
    log "pushgateway already running (pid $pid)"
  elif port_open "$pushgateway_port"; then
    # Never adopted (nor stopped): Debian's own service listens on every interface and
    # keeps its data elsewhere; a stray server would swallow every push.
    if pushgateway_ready; then
      die "127.0.0.1:$pushgateway_port is taken by a Pushgateway not started by this stack ($(who_listens "$pushgateway_port"); Debian's service? sudo systemctl disable --now prometheus-pushgateway). Stop it, choose LOCAL_PUSHGATEWAY_PORT, or set PUSHGATEWAY_URL=http://127.0.0.1:$pushgateway_port to use it"
    fi
    die "127.0.0.1:$pushgateway_port is taken by a process that is not a Pushgateway ($(who_listens "$pushgateway_port")); choose LOCAL_PUSHGATEWAY_PORT"
  else
    bin=$(pushgateway_bin)
    mkdir -p "$state/pushgateway"
    # Its own persistence file: Debian's build defaults to /var/lib/prometheus, shared by
    # every Pushgateway on the machine.
    nohup setsid "$bin" --web.listen-address="127.0.0.1:$pushgateway_port" --web.enable-admin-api \
      --persistence.file="$state/pushgateway/metrics.store" --push.disable-consistency-check \
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
  if [[ -z $bin ]] && apt_install prometheus; then
    bin=$(command -v prometheus || true)
  fi
  [[ -n $bin ]] || return 1
  printf '%s\n' "$bin"
}

prometheus_ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$prometheus_port/-/ready" 2>/dev/null; }

# The host:port of a URL (userinfo, path, query and fragment dropped), or nothing.
url_target() {
  local rest=${1#*://}
  rest=${rest%%[/?#]*}
  rest=${rest##*@}
  [[ $rest =~ ^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$ ]] && printf '%s\n' "$rest"
}

# The config scrapes the Pushgateway this stack uses: the local one, or PUSHGATEWAY_URL's.
# Values go into single-quoted YAML scalars, where a quote is written twice.
render_prometheus_config() {
  local target scheme=http rules="$here/prometheus/rules.yml"
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    [[ $PUSHGATEWAY_URL == https://* ]] && scheme=https
    target=$(url_target "$PUSHGATEWAY_URL") || {
      log "warning: PUSHGATEWAY_URL=$PUSHGATEWAY_URL has no host[:port] Prometheus could scrape; no local Prometheus"
      return 1
    }
  else
    target="127.0.0.1:$pushgateway_port"
  fi
  mkdir -p "$prometheus_home/data"
  local token=${METRICS_TOKEN:-}
  render_PUSHGATEWAY_TARGET=$target render_PUSHGATEWAY_SCHEME=$scheme render_RULES_FILE=${rules//"'"/"''"} \
    render_METRICS_TOKEN=${token//"'"/"''"} render_SERVICE_TARGET="127.0.0.1:${HTTP_PORT:-3000}" \
    render "$prometheus_home/prometheus.yml" "$here/prometheus/prometheus.yml.template"
}

start_prometheus() {
  if [[ $prometheus_enabled == off ]]; then
    log "LOCAL_PROMETHEUS=off: no local Prometheus"
    return 0
  fi
  local pid bin
  if ! bin=$(prometheus_bin); then
    log "warning: no Prometheus (install Debian's package: sudo infra/local/apt-install.sh prometheus); going on without graphs"
    return 0
  fi
  render_prometheus_config || return 0
  if pid=$(prometheus_pid); then
    # Running already: it re-reads the freshly rendered config and rules (SIGHUP).
    kill -HUP "$pid" 2>/dev/null || true
    log "prometheus already running (pid $pid), config reloaded"
  elif port_open "$prometheus_port"; then
    # Not ours (Debian's own service, say): neither adopted nor stopped.
    log "warning: 127.0.0.1:$prometheus_port is taken by a process this stack did not start ($(who_listens "$prometheus_port")): no local Prometheus (set LOCAL_PROMETHEUS_PORT)"
    return 0
  else
    local -a args=(
      --config.file="$prometheus_home/prometheus.yml"
      --storage.tsdb.path="$prometheus_home/data" --storage.tsdb.retention.time=2d
      --web.listen-address="127.0.0.1:$prometheus_port"
      --web.console.templates="$here/prometheus/consoles"
      --web.console.libraries=/usr/share/doc/prometheus/examples/console_libraries
    )
    nohup setsid "$bin" "${args[@]}" >"$prometheus_home/prometheus.log" 2>&1 </dev/null 9>&- &
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

# ---------------------------------------------------------------- topics, coordinators

# The service's topics (idempotent, infra/topics.ts), then readiness as a client sees
# it: the group coordinator answers for every partition of the offsets topic, and the
# broker hands out producer ids (infra/local/ready.ts). Until then a consumer's first
# join fails with "the coordinator is loading".
create_topics() {
  [[ -d $repo/node_modules/kafkajs ]] || die "node_modules is missing: run npm ci first"
  local brokers=${KAFKA_BROKERS:-127.0.0.1:$kafka_port}
  (cd "$repo" && KAFKA_BROKERS=$brokers LOCAL_STACK_READY_TIMEOUT=$ready_timeout node --import tsx infra/local/ready.ts) ||
    die "the broker on $brokers is not ready for the service (topics, consumer groups, producers)"
}

# ---------------------------------------------------------------- stop / status

stop_component() {
  local name=$1 pid
  if ! pid=$(component_pid "$name"); then
    log "$name is not running"
    rm -f "$state/$name.pid"
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
  rm -f "$state/$name.pid"
}

# Components named on the command line (stop and reset), all three by default.
components() {
  local c
  (($# > 0)) || set -- prometheus pushgateway kafka
  for c in "$@"; do
    [[ $c == kafka || $c == pushgateway || $c == prometheus ]] || die "unknown component $c: expected kafka, pushgateway or prometheus"
  done
  # Stopped in this order whatever the order given: Prometheus, Pushgateway, broker.
  for c in prometheus pushgateway kafka; do
    [[ " $* " == *" $c "* ]] && printf '%s\n' "$c"
  done
  return 0
}

status() {
  local ok=0 pid version
  if [[ -n ${KAFKA_BROKERS:-} ]]; then
    echo "kafka        external: $KAFKA_BROKERS"
  elif pid=$(kafka_pid) && kafka_answers; then
    version=$(tr '\0' '\n' </proc/"$pid"/cmdline | tail -n 1)
    version=${version#"$state/kafka-"}
    echo "kafka        running  pid $pid  127.0.0.1:$kafka_port  version ${version%/server.properties}"
  elif port_open "$kafka_port"; then
    echo "kafka        stopped  (127.0.0.1:$kafka_port is taken by a process this stack did not start)"
    ok=3
  else
    echo "kafka        stopped"
    ok=3
  fi
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    echo "pushgateway  external: $PUSHGATEWAY_URL"
  elif pid=$(pushgateway_pid) && pushgateway_ready; then
    echo "pushgateway  running  pid $pid  127.0.0.1:$pushgateway_port"
  elif port_open "$pushgateway_port"; then
    echo "pushgateway  stopped  (127.0.0.1:$pushgateway_port is taken by a process this stack did not start)"
    ok=3
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
  shift || true
  mkdir -p "$state"
  if [[ $cmd == status ]]; then
    status
    return
  fi
  # One caller at a time: two concurrent starts must not race to launch two brokers.
  exec 9>"$state/.lock"
  flock -w 300 9 || die "another stack.sh has held $state/.lock for 300s"
  local c
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
      for c in $(components "$@"); do stop_component "$c"; done
      ;;
    reset)
      for c in $(components); do stop_component "$c"; done
      log "deleting $kafka_home, $prometheus_home/data and $state/pushgateway"
      rm -rf -- "$kafka_home" "$prometheus_home/data" "$state/pushgateway"
      ;;
    *)
      echo "usage: $0 start | stop [kafka|pushgateway|prometheus ...] | status | reset" >&2
      exit 2
      ;;
  esac
}

main "$@"
