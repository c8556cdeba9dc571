#!/usr/bin/env bash
# Installs the system packages the tests and benchmarks run for real (Debian), when they are missing.
# Services are installed, never started: the tests start their own instances on free ports.
set -euo pipefail

need=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || need+=(haproxy)
command -v caddy >/dev/null 2>&1 || [[ -x /usr/bin/caddy ]] || need+=(caddy)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v dnsmasq >/dev/null 2>&1 || [[ -x /usr/sbin/dnsmasq ]] || need+=(dnsmasq-base)
# The console's browser tests: headless Chromium, driven by playwright-core.
[[ -x /usr/bin/chromium ]] || need+=(chromium)

((${#need[@]})) || exit 0
echo "test setup: installing ${need[*]} (Debian packages)"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "test setup: run as root or install: apt-get install ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
# Keep the packages' own services from starting (ports 80 and the like are not ours to take).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  made_policy=1
fi
trap '[[ $made_policy -eq 1 ]] && $sudo rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
