#!/usr/bin/env bash
# Installs the system tools the tests call, once (idempotent, non-interactive, Debian/Ubuntu):
#   xmllint    validates JUnit reports against tests/schemas/junit.xsd (report::junit tests)
#   tinyproxy  a real HTTP proxy on loopback, with and without Basic credentials (tests/transport.rs)
#   ssh-keygen checks archive signatures as an auditor would (snapshot_e2e: ssh-keygen -Y verify)
#   chromium   renders the HTML report headless, as a reviewer's browser would (explain_e2e)
#   redis-server  Argo CD's cache (tests/cluster/argocd-lib.sh starts its own on loopback)
#   git        with git-daemon, serves the Argo CD fixture repository on loopback
# tests/run-all.sh runs it; tests that need a tool run it themselves when the tool is missing.
set -euo pipefail
missing=()
command -v xmllint >/dev/null || missing+=(libxml2-utils)
command -v tinyproxy >/dev/null || [ -x /usr/bin/tinyproxy ] || [ -x /usr/sbin/tinyproxy ] || missing+=(tinyproxy)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v chromium >/dev/null || missing+=(chromium)
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
{ command -v git >/dev/null && [ -x "$(git --exec-path 2>/dev/null)/git-daemon" ]; } || missing+=(git)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Only the binaries: no service is started or enabled by the tests (each test runs its own
# tinyproxy on a free loopback port; the Argo CD scripts their own redis-server). Where the
# machine has no policy-rc.d, one is put in place for the install so that the packages' services
# (redis-server's, tinyproxy's) are not started, and removed again.
guard=false
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  guard=true
fi
trap '$guard && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
