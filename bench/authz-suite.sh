#!/usr/bin/env bash
# The integration files that run serverless offline, timed with and without the local
# authorizing mode (BENCHMARKS.md, "The local authorizing mode"), against a stack of this
# script's own (ports 27400-27411, state in a temporary folder) that authorizes: "plain"
# runs every function on its PLAINTEXT listener (the super user), "authz" each as its own
# principal. Each file runs once per mode per round, alternately.
#
#   ROUNDS="1 2" bash bench/authz-suite.sh test/integration/http.test.ts test/integration/e2e.test.ts
#
# (kcat and `npm run dlq` calls in some files name 127.0.0.1:9092 and fail here in both modes.)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files=("$@")
dir=$(mktemp -d /tmp/sts-authz-suite-XXXXXX)
export LOCAL_STACK_DIR=$dir LOCAL_KAFKA_PORT=27400 LOCAL_PUSHGATEWAY_PORT=27410 LOCAL_PROMETHEUS=off LOCAL_KAFKA_AUTHZ=on KEEP_STACK=1
unset KAFKA_BROKERS PUSHGATEWAY_URL
stop() {
  unset KAFKA_BROKERS PUSHGATEWAY_URL
  bash infra/local/stack.sh stop
  rm -rf "$dir"
}
trap stop EXIT
bash infra/local/stack.sh start || exit 1
plain=$(bash infra/local/stack.sh env none)
authz=$(bash infra/local/stack.sh env authz | sed -n 's/^export \([A-Z_]*\)=\(.*\)$/"\1":"\2"/p' | paste -sd, -)
eval "$plain"
export KAFKA_BROKERS PUSHGATEWAY_URL
unset KAFKA_AUTH LOCAL_KAFKA_AUTHZ
for round in ${ROUNDS:-1}; do
  for mode in plain authz; do
    if [[ $mode == authz ]]; then env="{$authz}"; else env="{\"KAFKA_BROKERS\":\"$KAFKA_BROKERS\"}"; fi
    for f in "${files[@]}"; do
      t0=$(date +%s.%N)
      TEST_AUTHZ_ENV=$env npx vitest run --project integration "$f" >"$dir/$mode-$round-$(basename "$f").log" 2>&1
      rc=$?
      printf 'round %s %-6s %-28s exit %s %6.1f s\n' "$round" "$mode" "$(basename "$f")" "$rc" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
    done
  done
done
