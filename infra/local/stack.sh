#!/usr/bin/env bash
# The local stack: a real Apache Kafka (KRaft, jars from Maven Central) and a real
# Prometheus Pushgateway (Debian's package), both on 127.0.0.1, plus the service's
# topics; and a Prometheus (Debian's package) scraping the Pushgateway, with its UI on
# 127.0.0.1:9090, for graphs while developing.
#
#   infra/local/stack.sh start    start what is not running, wait until ready, create topics
#   infra/local/stack.sh stop [kafka|pushgateway|prometheus|kafka-broker-N|kafka-controller ...]
#                                 stop what this stack started (all by default; fine when nothing runs)
#   infra/local/stack.sh status   one line per component; exit 0 only when broker(s) and Pushgateway are up
#   infra/local/stack.sh env [none|scram|tls|authz]
#                                 `export` lines that point a client at the running Kafka
#                                 (the listener of that authentication; default $KAFKA_AUTH or none)
#   infra/local/stack.sh reset [--yes]
#                                 stop, then delete the broker's, the Pushgateway's and Prometheus's
#                                 data and the certificates (asks first, or --yes)
#   infra/local/stack.sh help     the commands
#
# Kafka is one combined broker+controller node (the default), or with LOCAL_KAFKA_BROKERS=3
# a cluster of three brokers and one controller of its own (replication factor 3,
# min.insync.replicas=2). With LOCAL_KAFKA_SASL=on every broker also has a SASL_SSL
# listener (SCRAM-SHA-512) and an SSL listener (mutual TLS), with a CA and certificates
# made here (openssl) in the state folder. LOCAL_KAFKA_AUTHZ=on (the authorizing mode)
# adds Kafka's StandardAuthorizer: `serverless offline` then runs each function as a
# principal of its own with the ACLs of its IAM role (infra/local/authz, `env authz`).
#
# Idempotent: one lock serialises concurrent calls, and a running component is found by
# its pid file and its exact command (program, and this state folder's config or its
# listen address), so a second start never makes a second broker and nothing else is
# ever adopted or stopped. (The lock's descriptor is closed for the servers started
# here, or they would hold it.) Ready means ready for a client: every node answers a
# Kafka request, every broker is registered, the group coordinator answers and producer
# ids are handed out (and, with LOCAL_KAFKA_SASL=on, a SCRAM login and a client
# certificate are accepted).
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
kafka_brokers=$(whole_number LOCAL_KAFKA_BROKERS "${LOCAL_KAFKA_BROKERS:-1}" 1 3)
((kafka_brokers == 1 || kafka_brokers == 3)) ||
  die "LOCAL_KAFKA_BROKERS=$kafka_brokers: expected 1 (one broker+controller node) or 3 (three brokers and a controller)"
sasl_enabled=${LOCAL_KAFKA_SASL:-off}
[[ $sasl_enabled == on || $sasl_enabled == off ]] || die "LOCAL_KAFKA_SASL=$sasl_enabled: expected on or off"
# The authorizing mode: Kafka's StandardAuthorizer, the functions on the SASL_SSL listener.
authz_enabled=${LOCAL_KAFKA_AUTHZ:-off}
[[ $authz_enabled == on || $authz_enabled == off ]] || die "LOCAL_KAFKA_AUTHZ=$authz_enabled: expected on or off"
if [[ $authz_enabled == on ]]; then
  [[ ${LOCAL_KAFKA_SASL:-on} == on ]] || die "LOCAL_KAFKA_AUTHZ=on needs the SASL_SSL listener the functions log in on: leave LOCAL_KAFKA_SASL unset or on"
  sasl_enabled=on
fi
# Ports: the brokers' PLAINTEXT listeners from LOCAL_KAFKA_PORT on (one each), then the
# controller, then (LOCAL_KAFKA_SASL=on) the SASL_SSL listeners, then the SSL ones. The
# cluster's default block (9192-9201) keeps clear of the single broker's (9092-9095).
if ((kafka_brokers == 1)); then default_kafka_port=9092; else default_kafka_port=9192; fi
kafka_port=$(whole_number LOCAL_KAFKA_PORT "${LOCAL_KAFKA_PORT:-$default_kafka_port}" 1 65535)
controller_port=$(whole_number LOCAL_KAFKA_CONTROLLER_PORT "${LOCAL_KAFKA_CONTROLLER_PORT:-$((kafka_port + kafka_brokers))}" 1 65535)
sasl_port=$(whole_number LOCAL_KAFKA_SASL_PORT "${LOCAL_KAFKA_SASL_PORT:-$((kafka_port + kafka_brokers + 1))}" 1 65535)
tls_port=$(whole_number LOCAL_KAFKA_TLS_PORT "${LOCAL_KAFKA_TLS_PORT:-$((kafka_port + 2 * kafka_brokers + 1))}" 1 65535)
# Every port of a block below 65536, and no port in two places.
declare -A port_use=()
claim_ports() {
  local name=$1 first=$2 count=$3 port
  ((first + count - 1 <= 65535)) || die "$name=$first: its $count ports would pass 65535"
  for ((port = first; port < first + count; port++)); do
    [[ -z ${port_use[$port]:-} ]] || die "$name: port $port is also ${port_use[$port]}'s"
    port_use[$port]=$name
  done
}
claim_ports LOCAL_KAFKA_PORT "$kafka_port" "$kafka_brokers"
claim_ports LOCAL_KAFKA_CONTROLLER_PORT "$controller_port" 1
if [[ $sasl_enabled == on ]]; then
  claim_ports LOCAL_KAFKA_SASL_PORT "$sasl_port" "$kafka_brokers"
  claim_ports LOCAL_KAFKA_TLS_PORT "$tls_port" "$kafka_brokers"
fi
pushgateway_port=$(whole_number LOCAL_PUSHGATEWAY_PORT "${LOCAL_PUSHGATEWAY_PORT:-9091}" 1 65535)
prometheus_port=$(whole_number LOCAL_PROMETHEUS_PORT "${LOCAL_PROMETHEUS_PORT:-9090}" 1 65535)
ready_timeout=$(whole_number LOCAL_STACK_READY_TIMEOUT "${LOCAL_STACK_READY_TIMEOUT:-120}" 1 3600)
download_timeout=$(whole_number LOCAL_STACK_DOWNLOAD_TIMEOUT "${LOCAL_STACK_DOWNLOAD_TIMEOUT:-900}" 1 86400)
prometheus_enabled=${LOCAL_PROMETHEUS:-on}
[[ $prometheus_enabled == on || $prometheus_enabled == off ]] || die "LOCAL_PROMETHEUS=$prometheus_enabled: expected on or off"
# Per broker, and for the cluster's controller (its metadata is a few MB). Three brokers
# and a controller take at most 1.8 GB; on two cores the number of JVMs is what counts.
heap_opts=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
controller_heap_opts=${KAFKA_CONTROLLER_HEAP_OPTS:--Xms64m -Xmx256m}
# The collector and compiler flags of every Kafka JVM (nodes and tools). The tests' own
# brokers use a lighter pair (test/helpers/private-broker.ts): the serial collector and the
# quick compiler alone spend less CPU while several files run side by side.
jvm_opts=${LOCAL_KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20}
# State (pids, logs, broker data) and the jar cache live outside the checkout so that
# every clone on this machine shares one broker and one download.
state=${LOCAL_STACK_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/simple-time-service}
cache=${LOCAL_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simple-time-service}
# Kafka splits log.dirs on commas and the class path on colons.
[[ $state != *[$',\n']* ]] || die "LOCAL_STACK_DIR=$state: a comma or a line break in it cannot be a Kafka log.dirs entry"
[[ $cache != *[$':\n']* ]] || die "LOCAL_STACK_CACHE=$cache: a colon or a line break in it cannot be on a Java class path"

kafka_libs="$cache/kafka-$KAFKA_VERSION/libs"
pushgateway_pidfile="$state/pushgateway.pid"
prometheus_pidfile="$state/prometheus.pid"
prometheus_home="$state/prometheus"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

who_listens() {
  ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1
}

# Writes $1 from the templates $2... (one after the other) with every @@NAME@@ replaced
# by the value of the variable render_NAME, literally (no sed: "&", "#" or "\" in a path
# stay what they are).
render() {
  local out=$1
  shift
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
    END { exit failed }' "$@" >"$out.new" || { rm -f "$out.new"; die "could not render $out from $*"; }
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
    kafka | kafka-controller | kafka-broker-[1-3])
      # Any Kafka version of this state folder (KAFKA_VERSION may have changed since):
      # kafka-<version>/server.properties for the single node, or
      # kafka-<version>-cluster/<node>/server.properties for a node of the cluster.
      local config
      [[ $program == java ]] && ((${#args[@]} >= 2)) && [[ ${args[-2]} == kafka.Kafka ]] || return 1
      config=${args[-1]}
      [[ $config == "$state/kafka-"*/server.properties ]] || return 1
      config=${config#"$state/kafka-"}
      config=${config%/server.properties}
      if [[ $component == kafka ]]; then
        [[ $config =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]
      else
        [[ $config =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}-cluster/(.*)$ && ${BASH_REMATCH[1]} == "${component#kafka-}" ]]
      fi
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

# The nodes: one combined broker+controller node "kafka" (state in kafka-<version>), or
# with LOCAL_KAFKA_BROKERS=3 "kafka-controller" and "kafka-broker-1..3" (state in
# kafka-<version>-cluster/<node>). Each has its pid file <name>.pid; stop and status
# know the nodes of both, start starts those of the chosen one.
single_home="$state/kafka-$KAFKA_VERSION"
cluster_home="$state/kafka-$KAFKA_VERSION-cluster"
security="$state/security"
scram_user=simple-time-service
controller_node_id=0
all_kafka_nodes=(kafka kafka-controller kafka-broker-1 kafka-broker-2 kafka-broker-3)
if ((kafka_brokers == 1)); then
  mode_nodes=(kafka)
  mode_home=$single_home
else
  mode_nodes=(kafka-controller kafka-broker-1 kafka-broker-2 kafka-broker-3)
  mode_home=$cluster_home
fi

node_home() {
  case $1 in
    kafka) printf '%s\n' "$single_home" ;;
    *) printf '%s\n' "$cluster_home/${1#kafka-}" ;;
  esac
}

# The broker number of a node (1 for the single node), or 0 for the controller.
node_index() {
  case $1 in
    kafka) echo 1 ;;
    kafka-broker-*) echo "${1#kafka-broker-}" ;;
    *) echo 0 ;;
  esac
}

# The port of listener $2 (PLAINTEXT, CONTROLLER, SASL_SSL, SSL) in the config $1, or nothing.
listener_port() {
  awk -v name="$2" -F'[=,]' '/^listeners=/ {
      for (i = 2; i <= NF; i++) if (index($i, name "://") == 1) { n = split($i, parts, ":"); print parts[n]; exit }
    }' "$1" 2>/dev/null
}

# Whether the node config $1 has the authorizer on (LOCAL_KAFKA_AUTHZ=on).
authorizes() { grep -q '^authorizer\.class\.name=' "$1" 2>/dev/null; }

# Whether every running node of this mode authorizes.
mode_authorizes() {
  local node pid
  for node in "${mode_nodes[@]}"; do
    pid=$(component_pid "$node") || return 1
    authorizes "$(node_config "$pid")" || return 1
  done
}

# The config a running node was started with (its last argument).
node_config() {
  local -a args
  proc_args "$1" args && printf '%s\n' "${args[-1]}"
}

# The port a node answers Kafka requests on: the controller's, or the broker's PLAINTEXT.
node_main_port() {
  local config=$1
  if grep -q '^process.roles=controller$' "$config" 2>/dev/null; then
    listener_port "$config" CONTROLLER
  else
    listener_port "$config" PLAINTEXT
  fi
}

# The ports node $1 will listen on when started now.
node_ports() {
  local i
  i=$(node_index "$1")
  case $1 in
    kafka-controller) echo "$controller_port" ;;
    kafka) echo "$kafka_port $controller_port" ;;
    *) echo "$((kafka_port + i - 1))" ;;
  esac
  if [[ $sasl_enabled == on && $1 != kafka-controller ]]; then
    echo "$((sasl_port + i - 1)) $((tls_port + i - 1))"
  fi
}

# The java command line shared by the storage tool, the config tool and the nodes: heap
# $1, logs in $2. The classpath wildcard is expanded by java itself, not by the shell.
kafka_java() {
  local heap flags
  read -ra heap <<<"$1"
  read -ra flags <<<"$jvm_opts"
  kafka_java=(java "${heap[@]}" "${flags[@]}" -Djava.awt.headless=true
    -Dlog4j.configuration="$(file_url "$here/log4j.properties")" -Dkafka.log.dir="$2"
    -cp "$kafka_libs/*")
}

# Runs a Kafka tool (heap $controller_heap_opts, logs in $2), bounded by $1 seconds: the
# main class $3 and its arguments $4... are read by java from an argument file only its
# owner can read (java @argfile), never from the command line, which every local user can
# read in the process list (the SCRAM password is one of them). Each argument is quoted as
# the argument file syntax wants (\ and " escaped).
kafka_tool() {
  local bound=$1 logs=$2 argfile arg code=0
  shift 2
  kafka_java "$controller_heap_opts" "$logs"
  argfile=$(umask 077 && mktemp "$state/.kafka-tool-args.XXXXXX") || die "could not make an argument file in $state"
  for arg in "$@"; do
    arg=${arg//'\'/'\\'}
    arg=${arg//'"'/'\"'}
    printf '"%s"\n' "$arg"
  done >"$argfile"
  timeout --kill-after=10 "$bound" "${kafka_java[@]}" "@$argfile" </dev/null || code=$?
  rm -f -- "$argfile"
  return "$code"
}

# A value for a Java properties file: a backslash starts an escape there.
properties_value() { printf '%s\n' "${1//'\'/'\\'}"; }

render_node_config() {
  local node=$1 home i listeners advertised=''
  home=$(node_home "$node")
  i=$(node_index "$node")
  mkdir -p "$home/data" "$home/logs"
  local -a templates=()
  local -x render_DATA_DIR render_NODE_ID render_VOTERS render_CONTROLLER_PORT render_ROLES render_LISTENERS
  local -x render_ADVERTISED_LISTENERS render_REPLICATION_FACTOR render_MIN_INSYNC_REPLICAS render_IO_THREADS
  local -x render_TLS_KEYSTORE render_TLS_TRUSTSTORE render_SUPER_USERS
  render_SUPER_USERS="User:ANONYMOUS;User:$scram_user;User:CN=$scram_user-client"
  render_DATA_DIR=$(properties_value "$home/data")
  render_CONTROLLER_PORT=$controller_port
  if [[ $node == kafka-controller ]]; then
    render_NODE_ID=$controller_node_id
    render_VOTERS="$controller_node_id@127.0.0.1:$controller_port"
    templates=("$here/controller.properties.template")
    [[ $authz_enabled == off ]] || templates+=("$here/authz.properties.template")
    render "$home/server.properties" "${templates[@]}"
    return
  fi
  listeners="PLAINTEXT://127.0.0.1:$((kafka_port + i - 1))"
  if [[ $sasl_enabled == on ]]; then
    listeners+=",SASL_SSL://127.0.0.1:$((sasl_port + i - 1)),SSL://127.0.0.1:$((tls_port + i - 1))"
  fi
  advertised=$listeners
  templates=("$here/server.properties.template")
  if [[ $node == kafka ]]; then
    render_ROLES=broker,controller
    render_NODE_ID=1
    render_VOTERS="1@127.0.0.1:$controller_port"
    listeners+=",CONTROLLER://127.0.0.1:$controller_port"
    render_REPLICATION_FACTOR=1 render_MIN_INSYNC_REPLICAS=1 render_IO_THREADS=4
  else
    render_ROLES=broker
    render_NODE_ID=$i
    render_VOTERS="$controller_node_id@127.0.0.1:$controller_port"
    render_REPLICATION_FACTOR=3 render_MIN_INSYNC_REPLICAS=2 render_IO_THREADS=2
  fi
  render_LISTENERS=$listeners
  render_ADVERTISED_LISTENERS=$advertised
  if [[ $sasl_enabled == on ]]; then
    render_TLS_KEYSTORE=$(properties_value "$security/broker.pem")
    render_TLS_TRUSTSTORE=$(properties_value "$security/ca.pem")
    templates+=("$here/tls.properties.template")
  fi
  [[ $authz_enabled == off ]] || templates+=("$here/authz.properties.template")
  render "$home/server.properties" "${templates[@]}"
}

random_token() { head -c "$1" /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

# The SCRAM user's password: made once per state folder (mode 600), checked before use
# because it goes into a tool's argument list.
scram_password() {
  local password
  if [[ ! -s $security/scram-password ]]; then
    mkdir -p "$security"
    chmod 700 "$security"
    (umask 077 && random_token 18 >"$security/scram-password.new") && mv "$security/scram-password.new" "$security/scram-password"
  fi
  password=$(<"$security/scram-password")
  [[ $password =~ ^[A-Za-z0-9_-]{16,64}$ ]] ||
    die "$security/scram-password: expected 16 to 64 letters, digits, '-' or '_' (delete it to have a new one made)"
  printf '%s\n' "$password"
}

password_digest() { printf '%s' "$1" | sha256sum | cut -d ' ' -f 1; }

# A cluster id: 16 random bytes in URL-safe base64 without padding. One in 32 would start
# with "-", which the storage tool would read as an option.
new_cluster_id() {
  local id
  id=$(random_token 16)
  while [[ $id == -* ]]; do id=$(random_token 16); done
  printf '%s\n' "$id"
}

# The cluster id for node $1: the single node gets a new one when its storage is
# formatted; the cluster's nodes share one, kept beside them.
cluster_id() {
  local id
  if [[ $1 == kafka ]]; then
    new_cluster_id
    return
  fi
  if [[ ! -f $cluster_home/cluster.id ]]; then
    mkdir -p "$cluster_home"
    new_cluster_id >"$cluster_home/cluster.id"
  fi
  id=$(<"$cluster_home/cluster.id")
  [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "$cluster_home/cluster.id: not a cluster id (delete the cluster's state: npm run stack:reset)"
  printf '%s\n' "$id"
}

# Formats a node's storage once. The node that holds the metadata (the single node, or
# the controller) gets the SCRAM user then (kafka-storage --add-scram); its password's
# digest is noted in $mode_home/scram-user.
format_node_storage() {
  local node=$1 home id password
  home=$(node_home "$node")
  [[ -f $home/data/meta.properties ]] && return 0
  id=$(cluster_id "$node")
  local -a scram=()
  if [[ $node == kafka || $node == kafka-controller ]]; then
    password=$(scram_password)
    scram=(--add-scram "SCRAM-SHA-512=[name=$scram_user,password=$password]")
  fi
  log "formatting KRaft storage in $home/data (cluster id $id)"
  if ! kafka_tool 300 "$home/logs" kafka.tools.StorageTool format -t "$id" \
    -c "$home/server.properties" "${scram[@]}" >"$home/logs/format.log" 2>&1; then
    cat "$home/logs/format.log" >&2
    die "kafka storage format failed ($node)"
  fi
  if ((${#scram[@]} > 0)); then password_digest "$password" >"$mode_home/scram-user"; fi
}

# LOCAL_KAFKA_SASL=on on a storage formatted without the user (or with another password):
# the user is set through the running broker (kafka-configs), once.
ensure_scram_user() {
  local password marker class
  password=$(scram_password)
  marker=$mode_home/scram-user
  [[ -f $marker && $(<"$marker") == "$(password_digest "$password")" ]] && return 0
  log "setting the SCRAM user $scram_user on the running broker (kafka-configs)"
  mkdir -p "$mode_home/tools-logs"
  for class in kafka.admin.ConfigCommand org.apache.kafka.tools.ConfigCommand; do
    if kafka_tool 120 "$mode_home/tools-logs" "$class" --bootstrap-server "127.0.0.1:$kafka_port" --alter \
      --entity-type users --entity-name "$scram_user" --add-config "SCRAM-SHA-512=[password=$password]" \
      >"$mode_home/tools-logs/configs.log" 2>&1; then
      password_digest "$password" >"$marker"
      return 0
    fi
    grep -q 'Could not find or load main class' "$mode_home/tools-logs/configs.log" || break
  done
  tail -n 20 "$mode_home/tools-logs/configs.log" >&2
  die "the SCRAM user could not be set (log: $mode_home/tools-logs/configs.log)"
}

# LOCAL_KAFKA_SASL=on: a CA, the brokers' key and certificate (for 127.0.0.1 and
# localhost) and a client key and certificate for mutual TLS, in $security (PEM, keys
# mode 600). Made when missing or when a certificate expires within a day.
ensure_tls() {
  local f valid=1
  for f in ca.pem broker.pem client.pem client.key; do [[ -s $security/$f ]] || valid=0; done
  if ((valid)); then
    for f in ca.pem broker.pem client.pem; do
      openssl x509 -checkend 86400 -noout -in "$security/$f" >/dev/null 2>&1 || valid=0
    done
  fi
  ((valid)) && return 0
  command -v openssl >/dev/null || die "openssl is needed for LOCAL_KAFKA_SASL=on (the CA and the certificates): apt-get install openssl"
  log "making a CA, the brokers' certificate and a client certificate in $security (openssl)"
  local work=$security/new
  rm -rf -- "$work"
  mkdir -p "$work"
  chmod 700 "$security" "$work"
  # Its own bash: errexit is ignored in a subshell whose status is tested.
  if ! bash -euo pipefail -c '
    umask 077
    cd "$1"
    user=$2
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
    key ca.key
    openssl req -x509 -new -key ca.key -out ca.pem -days 365 -sha256 -subj "/CN=simple-time-service local CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    sign() { # name, subject, extended key usage, more extensions
      key "$1.key"
      openssl req -new -key "$1.key" -out "$1.csr" -subj "$2"
      printf "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s" "$3" "${4:-}" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -CAserial ca.srl -days 365 -sha256 \
        -extfile "$1.ext" -out "$1.crt"
    }
    sign broker /CN=localhost serverAuth,clientAuth "subjectAltName=IP:127.0.0.1,DNS:localhost
"
    sign client "/CN=$user-client" clientAuth
    # Kafka'"'"'s PEM key store: the private key (PKCS#8), then the certificate chain.
    cat broker.key broker.crt ca.pem >broker.pem
    mv client.crt client.pem
  ' _ "$work" "$scram_user" >"$security/openssl.log" 2>&1; then
    cat "$security/openssl.log" >&2
    rm -rf -- "$work"
    die "openssl could not make the certificates (log: $security/openssl.log)"
  fi
  for f in ca.key ca.pem broker.pem client.key client.pem; do mv -f "$work/$f" "$security/$f"; done
  rm -rf -- "$work"
}

# Whether a Kafka node answers a Kafka request on 127.0.0.1:$1: an ApiVersions (v0)
# request, answered with our correlation id and no error. A connection, not a log line:
# the log rolls over, a connection does not.
kafka_answers() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x53\x54\x00\x05stack" >&3
    [[ $(head -c 10 <&3 | od -An -tx1 | tr -d " \n") == ????????000053540000 ]]
  ' _ "$1" 2>/dev/null
}

# Waits until each node $2... (whose pids are in the array named $1) answers on its port.
wait_nodes_ready() {
  local -n pids_of=$1
  shift
  local node pid port home deadline=$(($(date +%s) + ready_timeout))
  for node in "$@"; do
    pid=${pids_of[$node]}
    home=$(node_home "$node")
    # From the file (the process may not have exec'd java yet).
    port=$(node_main_port "$home/server.properties")
    [[ -n $port ]] || die "$home/server.properties names no port for $node"
    until kafka_answers "$port"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 25 "$home/logs/server.log" "$home/logs/stdout.log" >&2 2>/dev/null || true
        die "$node exited while starting (logs in $home/logs)"
      fi
      (($(date +%s) < deadline)) || die "$node did not answer on 127.0.0.1:$port within ${ready_timeout}s (logs in $home/logs)"
      sleep 0.2
    done
  done
}

start_kafka() {
  if [[ -n ${KAFKA_BROKERS:-} ]]; then
    log "KAFKA_BROKERS=$KAFKA_BROKERS is set: using it, no local broker started"
    return 0
  fi
  local node pid port config
  local -a to_start=()
  local -A pids=()
  for node in "${mode_nodes[@]}"; do
    if pid=$(component_pid "$node"); then
      config=$(node_config "$pid")
      if [[ $sasl_enabled == on && $node != kafka-controller ]] && [[ -z $(listener_port "$config" SASL_SSL) ]]; then
        die "$node (pid $pid) runs without the SASL_SSL listener: stop it (npm run stack:stop $node) and start again with LOCAL_KAFKA_SASL=on"
      fi
      if [[ $authz_enabled == on ]] && ! authorizes "$config"; then
        die "$node (pid $pid) runs without the authorizer: stop it (npm run stack:stop $node) and start again with LOCAL_KAFKA_AUTHZ=on"
      fi
      log "$node already running (pid $pid)"
      pids[$node]=$pid
      continue
    fi
    for port in $(node_ports "$node"); do
      if port_open "$port"; then
        die "127.0.0.1:$port is taken by a process this stack did not start ($(who_listens "$port")); stop it, or set KAFKA_BROKERS to use it"
      fi
    done
    to_start+=("$node")
  done
  if ((${#to_start[@]} > 0)); then
    ensure_kafka_jars
    [[ $sasl_enabled == off ]] || ensure_tls
    # Formatted together (a JVM each); what they share is made first.
    scram_password >/dev/null
    ((kafka_brokers == 1)) || cluster_id kafka-controller >/dev/null
    local -a formats=()
    for node in "${to_start[@]}"; do
      render_node_config "$node"
      format_node_storage "$node" &
      formats+=($!)
    done
    for pid in "${formats[@]}"; do wait "$pid" || die "kafka storage format failed"; done
    # The controller (listed first) and the brokers start together: the brokers wait for it.
    for node in "${to_start[@]}"; do
      local home node_heap=$heap_opts
      home=$(node_home "$node")
      [[ $node == kafka-controller ]] && node_heap=$controller_heap_opts
      [[ -f $home/logs/server.log ]] && mv "$home/logs/server.log" "$home/logs/server.log.previous"
      local -a ports
      read -ra ports <<<"$(node_ports "$node" | tr '\n' ' ')"
      log "starting $node ($KAFKA_VERSION) on 127.0.0.1, ports ${ports[*]} (heap: $node_heap)"
      kafka_java "$node_heap" "$home/logs"
      # setsid: the node outlives `npm start` being interrupted; `stop` ends it.
      nohup setsid "${kafka_java[@]}" kafka.Kafka "$home/server.properties" \
        >"$home/logs/stdout.log" 2>&1 </dev/null 9>&- &
      pid=$!
      echo "$pid" >"$state/$node.pid"
      pids[$node]=$pid
    done
  fi
  wait_nodes_ready pids "${mode_nodes[@]}"
  for node in "${to_start[@]}"; do log "$node ready (pid ${pids[$node]})"; done
  [[ $sasl_enabled == off ]] || ensure_scram_user
}

# The brokers' host:port list on listener $1 (PLAINTEXT, SASL_SSL, SSL) of the running
# nodes of this mode; fails when a node does not run or has no such listener.
mode_brokers() {
  local node pid port list=''
  for node in "${mode_nodes[@]}"; do
    [[ $node == kafka-controller ]] && continue
    pid=$(component_pid "$node") || return 1
    port=$(listener_port "$(node_config "$pid")" "$1")
    [[ -n $port ]] || return 2
    list+="${list:+,}127.0.0.1:$port"
  done
  printf '%s\n' "$list"
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

# The local Pushgateway takes requests with its credentials only (basic auth, its
# --web.config.file): a web page the developer opens can POST to 127.0.0.1 without a
# preflight, and with them it could write series. The password is made once (mode 600),
# Prometheus reads it from the file, clients get it in PUSHGATEWAY_URL (stack.sh env);
# the web config holds only its bcrypt hash.
pushgateway_user=simple-time-service
pushgateway_password_file="$state/pushgateway/password"
pushgateway_web_config="$state/pushgateway/web-config.yml"

# The Pushgateway's password (made when missing), checked before use.
pushgateway_password() {
  local password
  if [[ ! -s $pushgateway_password_file ]]; then
    mkdir -p "$state/pushgateway"
    (umask 077 && random_token 24 >"$pushgateway_password_file.new") && mv "$pushgateway_password_file.new" "$pushgateway_password_file"
  fi
  password=$(<"$pushgateway_password_file")
  [[ $password =~ ^[A-Za-z0-9_-]{16,64}$ ]] ||
    die "$pushgateway_password_file: expected 16 to 64 letters, digits, '-' or '_' (delete it to have a new one made)"
  printf '%s\n' "$password"
}

# The web config with the password's bcrypt hash (the exporter toolkit's basic_auth_users),
# made with perl's crypt (libxcrypt's $2b$), the password on its standard input. Cost 10,
# the toolkit's own example's; it caches a verified password, so a push pays it once.
ensure_pushgateway_web_config() {
  local password salt hash
  password=$(pushgateway_password)
  if [[ -s $pushgateway_web_config && -s $pushgateway_web_config.digest && $(<"$pushgateway_web_config.digest") == "$(password_digest "$password")" ]]; then
    return 0
  fi
  salt=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9./' | head -c 22)
  hash=$(printf '%s\n' "$password" | perl -e 'my $p = <STDIN>; chomp $p; print crypt($p, $ARGV[0])' "\$2b\$10\$$salt") || hash=''
  [[ $hash =~ ^\$2b\$10\$[./A-Za-z0-9]{53}$ ]] || die "perl's crypt made no bcrypt hash for the Pushgateway's password (got '${hash:0:7}…'): is libxcrypt's bcrypt there?"
  (
    umask 077
    printf '# The local Pushgateway'"'"'s credentials (infra/local/stack.sh): every request needs them.\nbasic_auth_users:\n  %s: '"'"'%s'"'"'\n' "$pushgateway_user" "$hash" >"$pushgateway_web_config.new"
    password_digest "$password" >"$pushgateway_web_config.digest"
  ) && mv "$pushgateway_web_config.new" "$pushgateway_web_config"
}

# Whether the running Pushgateway $1 (a pid) was started with this stack's web config.
pushgateway_requires_credentials() {
  local -a args
  local arg
  proc_args "$1" args || return 1
  for arg in "${args[@]:1}"; do [[ $arg == "--web.config.file=$pushgateway_web_config" ]] && return 0; done
  return 1
}

# Something only a Pushgateway answers: its status API with its build information (any
# HTTP server may answer 2xx on /-/ready). With this stack's credentials when there are
# any (a Pushgateway that needs none ignores them), given to curl on its standard input.
# The answer is read whole, never through a pipe a reader may close early (pipefail).
pushgateway_ready() {
  local url="http://127.0.0.1:$pushgateway_port/api/v1/status" answer
  if [[ -s $pushgateway_password_file ]]; then
    answer=$(printf 'user = "%s:%s"\n' "$pushgateway_user" "$(<"$pushgateway_password_file")" | curl -fsS -m 2 -K - "$url" 2>/dev/null) || return 1
  else
    answer=$(curl -fsS -m 2 "$url" 2>/dev/null) || return 1
  fi
  [[ $answer == *'"build_information"'* ]]
}

start_pushgateway() {
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    log "PUSHGATEWAY_URL=$(redacted_url "$PUSHGATEWAY_URL") is set: using it, no local Pushgateway started"
    return 0
  fi
  local pid bin
  if pid=$(pushgateway_pid); then
    log "pushgateway already running (pid $pid)"
    pushgateway_requires_credentials "$pid" ||
      log "warning: this Pushgateway (started by an older stack.sh) takes writes without credentials, from any web page too: restart it to require them (npm run stack:stop pushgateway, then npm run stack:start)"
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
    ensure_pushgateway_web_config
    # Its own persistence file: Debian's build defaults to /var/lib/prometheus, shared by
    # every Pushgateway on the machine. No admin API (nothing here wipes the store over HTTP).
    nohup setsid "$bin" --web.listen-address="127.0.0.1:$pushgateway_port" --web.config.file="$pushgateway_web_config" \
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

# A URL with its password (user info) shown as ***, for log lines.
redacted_url() {
  local url=$1
  [[ $url =~ ^([a-z]+://[^/@:]*):[^/@]*@(.*)$ ]] && url="${BASH_REMATCH[1]}:***@${BASH_REMATCH[2]}"
  printf '%s\n' "$url"
}

# A single-quoted YAML scalar: a quote is written twice.
yaml_quoted() { printf "'%s'\n" "${1//"'"/"''"}"; }

# The scrape's basic_auth line for the Pushgateway: the local one's user and password file,
# PUSHGATEWAY_URL's user info (its password put in a file of Prometheus's own), or a comment.
pushgateway_scrape_auth() {
  local rest user password
  if [[ -z ${PUSHGATEWAY_URL:-} ]]; then
    [[ -s $pushgateway_password_file ]] || { echo "# no credentials: this Pushgateway takes none"; return; }
    printf 'basic_auth: { username: %s, password_file: %s }\n' "$(yaml_quoted "$pushgateway_user")" "$(yaml_quoted "$pushgateway_password_file")"
    return
  fi
  rest=${PUSHGATEWAY_URL#*://}
  rest=${rest%%[/?#]*}
  [[ $rest == *@* ]] || { echo "# no credentials in PUSHGATEWAY_URL"; return; }
  rest=${rest%@*}
  user=${rest%%:*}
  password=''
  [[ $rest == *:* ]] && password=${rest#*:}
  (umask 077 && printf '%s' "$password" >"$prometheus_home/pushgateway-password")
  printf 'basic_auth: { username: %s, password_file: %s }\n' "$(yaml_quoted "$user")" "$(yaml_quoted "$prometheus_home/pushgateway-password")"
}

# The config scrapes the Pushgateway this stack uses: the local one, or PUSHGATEWAY_URL's.
# Values go into single-quoted YAML scalars, where a quote is written twice. It holds
# METRICS_TOKEN: written readable by its owner only.
render_prometheus_config() {
  local target scheme=http rules="$here/prometheus/rules.yml"
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    [[ $PUSHGATEWAY_URL == https://* ]] && scheme=https
    target=$(url_target "$PUSHGATEWAY_URL") || {
      log "warning: PUSHGATEWAY_URL=$(redacted_url "$PUSHGATEWAY_URL") has no host[:port] Prometheus could scrape; no local Prometheus"
      return 1
    }
  else
    target="127.0.0.1:$pushgateway_port"
  fi
  mkdir -p "$prometheus_home/data"
  local token=${METRICS_TOKEN:-}
  (
    umask 077
    render_PUSHGATEWAY_TARGET=$target render_PUSHGATEWAY_SCHEME=$scheme render_RULES_FILE=${rules//"'"/"''"} \
      render_PUSHGATEWAY_BASIC_AUTH=$(pushgateway_scrape_auth) \
      render_METRICS_TOKEN=${token//"'"/"''"} render_SERVICE_TARGET="127.0.0.1:${HTTP_PORT:-3000}" \
      render "$prometheus_home/prometheus.yml" "$here/prometheus/prometheus.yml.template"
  )
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
  local brokers=${KAFKA_BROKERS:-} list
  local -a env=("LOCAL_STACK_READY_TIMEOUT=$ready_timeout")
  if [[ -z $brokers ]]; then
    brokers=$(mode_brokers PLAINTEXT) || die "the local Kafka is not running"
    env+=("LOCAL_STACK_BROKER_COUNT=$kafka_brokers")
    # Three brokers: the topics get three replicas (min.insync.replicas=2 is the brokers' default).
    ((kafka_brokers == 1)) || env+=("KAFKA_TOPIC_REPLICATION_FACTOR=$kafka_brokers")
    if [[ $sasl_enabled == on ]]; then
      list=$(mode_brokers SASL_SSL) || die "a broker runs without the SASL_SSL listener"
      env+=("LOCAL_STACK_SASL_BROKERS=$list")
      list=$(mode_brokers SSL) || die "a broker runs without the SSL listener"
      env+=("LOCAL_STACK_TLS_BROKERS=$list" "LOCAL_STACK_SECURITY_DIR=$security")
    fi
  fi
  (cd "$repo" && env "KAFKA_BROKERS=$brokers" "${env[@]}" node --import tsx infra/local/ready.ts) ||
    die "the broker on $brokers is not ready for the service (topics, consumer groups, producers)"
}

# ---------------------------------------------------------------- stop / status / env

# Stops the components named (pid file names), those named together at once: SIGTERM,
# then SIGKILL for any still running after 30 s (a broker's controlled shutdown takes a
# few seconds).
stop_components() {
  local name pid deadline
  local -A stopping=()
  for name in "$@"; do
    if pid=$(component_pid "$name"); then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      stopping[$name]=$pid
    else
      rm -f "$state/$name.pid"
    fi
  done
  deadline=$(($(date +%s) + 30))
  for name in "${!stopping[@]}"; do
    pid=${stopping[$name]}
    while kill -0 "$pid" 2>/dev/null; do
      if (($(date +%s) >= deadline)); then
        log "$name did not stop within 30s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
    rm -f "$state/$name.pid"
  done
}

# Stops what is named (all by default), in this order whatever the order given:
# Prometheus, the Pushgateway, the brokers (together), the cluster's controller (last:
# the brokers' controlled shutdown needs it). `kafka` means every Kafka node of this
# state folder, single or cluster.
stop() {
  local c node any=0
  local -a wanted=() nodes=()
  (($# > 0)) || set -- prometheus pushgateway kafka
  for c in "$@"; do
    case $c in
      kafka) wanted+=("${all_kafka_nodes[@]}") ;;
      pushgateway | prometheus | kafka-controller | kafka-broker-[1-3]) wanted+=("$c") ;;
      *) die "unknown component $c: expected kafka, pushgateway, prometheus, kafka-controller or kafka-broker-1..3" ;;
    esac
  done
  for c in prometheus pushgateway; do
    [[ " ${wanted[*]} " == *" $c "* ]] || continue
    if component_pid "$c" >/dev/null; then stop_components "$c"; else log "$c is not running"; rm -f "$state/$c.pid"; fi
  done
  for node in kafka kafka-broker-1 kafka-broker-2 kafka-broker-3; do
    [[ " ${wanted[*]} " == *" $node "* ]] || continue
    nodes+=("$node")
    component_pid "$node" >/dev/null && any=1
  done
  if [[ " ${wanted[*]} " == *" kafka-controller "* ]] && component_pid kafka-controller >/dev/null; then any=1; fi
  if ((${#nodes[@]} > 0)) || [[ " ${wanted[*]} " == *" kafka-controller "* ]]; then
    ((any)) || log "kafka is not running"
    ((${#nodes[@]} == 0)) || stop_components "${nodes[@]}"
    [[ " ${wanted[*]} " != *" kafka-controller "* ]] || stop_components kafka-controller
  fi
}

# One status line for Kafka node $1; fails when it is not up.
node_status() {
  local node=$1 pid config port version extra='' p
  if pid=$(component_pid "$node"); then
    config=$(node_config "$pid")
    port=$(node_main_port "$config")
    version=${config#"$state/kafka-"}
    version=${version%%[-/]*}
    if [[ $node != kafka-controller ]]; then
      p=$(listener_port "$config" SASL_SSL)
      [[ -z $p ]] || extra+="  SASL_SSL 127.0.0.1:$p"
      p=$(listener_port "$config" SSL)
      [[ -z $p ]] || extra+="  SSL 127.0.0.1:$p"
    else
      extra='  (controller)'
    fi
    if [[ -n $port ]] && kafka_answers "$port"; then
      printf '%-12s running  pid %s  127.0.0.1:%s  version %s%s\n' "$node" "$pid" "$port" "$version" "$extra"
      return 0
    fi
    printf '%-12s starting  pid %s  (127.0.0.1:%s does not answer yet)\n' "$node" "$pid" "$port"
    return 1
  fi
  # Not running: its own ports, as a start now would use them.
  local other config
  for port in $(node_ports "$node"); do
    port_open "$port" || continue
    for other in "${all_kafka_nodes[@]}"; do
      pid=$(component_pid "$other") || continue
      config=$(node_config "$pid")
      if [[ $(listener_port "$config" PLAINTEXT) == "$port" || $(listener_port "$config" CONTROLLER) == "$port" ||
        $(listener_port "$config" SASL_SSL) == "$port" || $(listener_port "$config" SSL) == "$port" ]]; then
        printf '%-12s stopped  (127.0.0.1:%s is %s'"'"'s)\n' "$node" "$port" "$other"
        return 1
      fi
    done
    printf '%-12s stopped  (127.0.0.1:%s is taken by a process this stack did not start)\n' "$node" "$port"
    return 1
  done
  printf '%-12s stopped\n' "$node"
  return 1
}

status() {
  local ok=0 pid node list
  if [[ -n ${KAFKA_BROKERS:-} ]]; then
    echo "kafka        external: $KAFKA_BROKERS"
  else
    for node in "${all_kafka_nodes[@]}"; do
      if [[ " ${mode_nodes[*]} " == *" $node "* ]]; then
        node_status "$node" || ok=3
      elif component_pid "$node" >/dev/null; then
        # A node of the other mode that runs too: listed, not counted.
        node_status "$node" || true
      fi
    done
    if ((ok == 0)); then
      list=$(mode_brokers PLAINTEXT) && echo "brokers      KAFKA_BROKERS=$list"
      if list=$(mode_brokers SASL_SSL); then
        echo "sasl_ssl     KAFKA_BROKERS=$list KAFKA_AUTH=scram (all of it: eval \"\$(npm run -s stack:env -- scram)\")"
      fi
      if list=$(mode_brokers SSL); then
        echo "ssl          KAFKA_BROKERS=$list KAFKA_AUTH=tls (all of it: eval \"\$(npm run -s stack:env -- tls)\")"
      fi
      if mode_authorizes; then
        echo "authz        on: each function logs in as its own principal with its IAM role's ACLs (all of it: eval \"\$(npm run -s stack:env -- authz)\")"
      fi
    fi
  fi
  if [[ -n ${PUSHGATEWAY_URL:-} ]]; then
    echo "pushgateway  external: $(redacted_url "$PUSHGATEWAY_URL")"
  elif pid=$(pushgateway_pid) && pushgateway_ready; then
    if pushgateway_requires_credentials "$pid"; then
      echo "pushgateway  running  pid $pid  127.0.0.1:$pushgateway_port  (credentials in PUSHGATEWAY_URL: npm run -s stack:env)"
    else
      echo "pushgateway  running  pid $pid  127.0.0.1:$pushgateway_port  (takes writes without credentials: restart it to require them)"
    fi
  elif pid=$(pushgateway_pid); then
    # Ours and alive, yet no answer within 2 s (starting, or a loaded machine).
    echo "pushgateway  starting  pid $pid  (127.0.0.1:$pushgateway_port does not answer yet)"
    ok=3
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

# `export` lines for a client of the running Kafka of this mode, on the listener of
# authentication $1 (none: PLAINTEXT, scram: SASL_SSL, tls: SSL).
print_env() {
  local auth=${1:-${KAFKA_AUTH:-none}} listener list code=0
  case $auth in
    none) listener=PLAINTEXT ;;
    scram | authz) listener=SASL_SSL ;;
    tls) listener=SSL ;;
    *) die "env $auth: expected none, scram, tls or authz" ;;
  esac
  [[ -z ${KAFKA_BROKERS:-} ]] || die "KAFKA_BROKERS=$KAFKA_BROKERS is set: this stack runs no Kafka of its own"
  list=$(mode_brokers "$listener") || code=$?
  ((code != 1)) || die "the local Kafka ($kafka_brokers broker(s)) is not running: npm run stack:start"
  ((code != 2)) || die "the local Kafka runs without the $listener listener: restart it with LOCAL_KAFKA_SASL=on (npm run stack:stop kafka, then start)"
  if [[ $auth == authz ]]; then
    print_authz_env "$list"
    return
  fi
  printf 'export KAFKA_BROKERS=%q\n' "$list"
  printf 'export KAFKA_AUTH=%q\n' "$auth"
  case $auth in
    scram)
      printf 'export KAFKA_SASL_USERNAME=%q\n' "$scram_user"
      printf 'export KAFKA_SASL_PASSWORD=%q\n' "$(scram_password)"
      printf 'export KAFKA_SSL_CA_FILE=%q\n' "$security/ca.pem"
      ;;
    tls)
      printf 'export KAFKA_SSL_CA_FILE=%q\n' "$security/ca.pem"
      printf 'export KAFKA_SSL_CERT_FILE=%q\n' "$security/client.pem"
      printf 'export KAFKA_SSL_KEY_FILE=%q\n' "$security/client.key"
      ;;
  esac
  print_pushgateway_env
}

# The authorizing mode's lines (SASL_SSL brokers $1): the functions log in over SCRAM with
# the local CA, each as its own principal (infra/local/authz makes them, and their ACLs,
# through LOCAL_KAFKA_AUTHZ_ADMIN, the PLAINTEXT listener of the super user).
print_authz_env() {
  mode_authorizes || die "the local Kafka runs without the authorizer: restart it with LOCAL_KAFKA_AUTHZ=on (npm run stack:stop kafka, then LOCAL_KAFKA_AUTHZ=on npm run stack:start)"
  printf 'export KAFKA_BROKERS=%q\n' "$1"
  printf 'export KAFKA_AUTH=scram\n'
  printf 'export KAFKA_SSL_CA_FILE=%q\n' "$security/ca.pem"
  printf 'export LOCAL_KAFKA_AUTHZ_ADMIN=%q\n' "$(mode_brokers PLAINTEXT)"
  print_pushgateway_env
}

# The local Pushgateway's URL, with its credentials when it requires them (the service
# sends them as a basic Authorization header); nothing when PUSHGATEWAY_URL is set or it
# does not run.
print_pushgateway_env() {
  local pid
  [[ -z ${PUSHGATEWAY_URL:-} ]] && pid=$(pushgateway_pid) || return 0
  if pushgateway_requires_credentials "$pid"; then
    printf 'export PUSHGATEWAY_URL=%q\n' "http://$pushgateway_user:$(pushgateway_password)@127.0.0.1:$pushgateway_port"
  else
    printf 'export PUSHGATEWAY_URL=%q\n' "http://127.0.0.1:$pushgateway_port"
  fi
}

usage() {
  cat <<EOF
usage: stack.sh <command>

  stack.sh start              start what is not running, wait until it is ready, create the topics
  stack.sh stop [component ...]
                              stop what this stack started (all by default; fine when nothing runs);
                              components: kafka pushgateway prometheus kafka-controller kafka-broker-1..3
  stack.sh status             one line per component; exits 0 only when the broker(s) and the Pushgateway are up
  stack.sh env [none|scram|tls|authz]
                              export lines that point a client at the running Kafka, on the listener
                              of that authentication (default: \$KAFKA_AUTH, else none), and at the
                              Pushgateway; authz: for serverless offline in the authorizing mode
  stack.sh reset [--yes]      stop, then delete the broker's, the Pushgateway's and Prometheus's data
                              and the certificates (asks first; --yes does not)
  stack.sh help               this text

State: $state (LOCAL_STACK_DIR). Every variable is in docs/configuration.md.
npm scripts: npm run stack:start, stack:stop, stack:status, stack:env, stack:reset.
EOF
}

# What reset deletes (this Kafka version's data, single and cluster).
reset_targets=("$single_home" "$cluster_home" "$security" "$prometheus_home/data" "$state/pushgateway")

# Stops the stack and deletes its data, once confirmed: --yes, or "y" at a terminal's prompt.
reset() {
  local confirmed=0 answer
  case ${1:-} in
    --yes | -y) confirmed=1 ;;
    '') ;;
    *) die "reset $1: expected --yes or nothing" ;;
  esac
  log "reset stops the stack and deletes:"
  printf '[stack]   %s\n' "${reset_targets[@]}" >&2
  if ((!confirmed)); then
    [[ -t 0 ]] || die "not deleted: nothing to confirm it with (no terminal); run it with --yes (npm run stack:reset -- --yes)"
    read -r -p "[stack] Delete these? [y/N] " answer || answer=''
    [[ $answer == [yY] || $answer == [yY][eE][sS] ]] || die "not deleted"
  fi
  stop
  log "deleting them"
  rm -rf -- "${reset_targets[@]}"
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    help | -h | --help)
      usage
      return 0
      ;;
    start | stop | status | env | reset) ;;
    '')
      usage >&2
      exit 2
      ;;
    *)
      printf '[stack] error: unknown command %s\n' "$cmd" >&2
      usage >&2
      exit 2
      ;;
  esac
  mkdir -p "$state"
  case $cmd in
    status)
      status
      return
      ;;
    env)
      print_env "$@"
      return
      ;;
  esac
  # One caller at a time: two concurrent starts must not race to launch two brokers.
  exec 9>"$state/.lock"
  flock -w 300 9 || die "another stack.sh has held $state/.lock for 300s"
  case $cmd in
    start)
      local t0 list
      t0=$(now)
      start_kafka
      start_pushgateway
      start_prometheus
      create_topics
      log "local stack ready in $(elapsed "$t0") s"
      if [[ -z ${KAFKA_BROKERS:-} ]]; then
        list=$(mode_brokers PLAINTEXT) && log "kafka: KAFKA_BROKERS=$list"
        if [[ $sasl_enabled == on ]]; then
          list=$(mode_brokers SASL_SSL) && log "kafka, SCRAM-SHA-512 over TLS: KAFKA_BROKERS=$list (all of it: eval \"\$(npm run -s stack:env -- scram)\")"
          list=$(mode_brokers SSL) && log "kafka, mutual TLS: KAFKA_BROKERS=$list (all of it: eval \"\$(npm run -s stack:env -- tls)\")"
        fi
        if [[ $authz_enabled == on ]]; then
          log "kafka, authorizing: each function as its own principal (all of it: eval \"\$(npm run -s stack:env -- authz)\")"
        fi
      fi
      ;;
    stop)
      stop "$@"
      ;;
    reset)
      reset "$@"
      ;;
  esac
}

main "$@"
