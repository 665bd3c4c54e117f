#!/usr/bin/env bash
# Installs Debian packages for the local stack and CI (as root):
#
#   infra/local/apt-install.sh <package>...
#
# - only what is asked for: --no-install-recommends (prometheus would bring
#   prometheus-node-exporter along, and more);
# - without starting the packages' own services: Debian starts prometheus and
#   prometheus-pushgateway on every interface as soon as they are installed. A
#   policy-rc.d that answers 101 ("action forbidden", invoke-rc.d(8); deb-systemd-invoke
#   honours it too) is in force while apt runs, then removed. One that was there before
#   is put back as it was.
# The package lists are refreshed only when the install fails without a refresh.
set -euo pipefail

(($# > 0)) || { echo "usage: $0 <package>..." >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "apt-install: needs root (sudo $0 $*)" >&2; exit 1; }

policy=/usr/sbin/policy-rc.d
# A policy that already forbids starting services (as in most containers) stays as it is.
if ! { [[ -x $policy ]] && { "$policy" simple-time-service start >/dev/null 2>&1; (($? == 101)); }; }; then
  saved=""
  if [[ -e $policy ]]; then
    saved=$(mktemp "$policy.saved.XXXXXX")
    cp -p "$policy" "$saved"
  fi
  restore() { if [[ -n $saved ]]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi; }
  trap restore EXIT
  trap 'exit 130' INT TERM
  printf '#!/bin/sh\n# simple-time-service: no service starts while its packages install.\nexit 101\n' >"$policy.new.$$"
  chmod 0755 "$policy.new.$$"
  mv -f "$policy.new.$$" "$policy"
fi

export DEBIAN_FRONTEND=noninteractive
install=(apt-get install -y -qq --no-install-recommends)
"${install[@]}" "$@" || { apt-get update -qq && "${install[@]}" "$@"; }
