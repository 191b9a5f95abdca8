#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real (a switch, a SIP tester, Redis,
# PostgreSQL, h2load as a C gRPC client) when they are missing. Idempotent and quiet when
# everything is there already.
# Usage: tools/system-deps.sh [package...]   (no argument: the suite's whole list)
set -euo pipefail
packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
    packages=(kamailio kamailio-utils-modules kamailio-extra-modules sip-tester
              redis-server postgresql openssl fonts-wqy-microhei nghttp2-client)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing Debian packages: ${missing[*]}" >&2
# Services the packages would start at install are not wanted: the tests start their own
# instances on free loopback ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
fi
trap '[ $created_policy -eq 1 ] && $sudo rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
