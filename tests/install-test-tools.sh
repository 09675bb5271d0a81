#!/usr/bin/env bash
# Installs the system tools the tests call, once (idempotent, non-interactive, Debian/Ubuntu):
#   xmllint    validates JUnit reports against tests/schemas/junit.xsd (report::junit tests)
#   tinyproxy  a real HTTP proxy on loopback, with and without Basic credentials (tests/transport.rs)
#   ssh-keygen checks archive signatures as an auditor would (snapshot_e2e: ssh-keygen -Y verify)
#   chromium   renders the HTML report headless, as a reviewer's browser would (explain_e2e)
# tests/run-all.sh runs it; tests that need a tool run it themselves when the tool is missing.
set -euo pipefail
missing=()
command -v xmllint >/dev/null || missing+=(libxml2-utils)
command -v tinyproxy >/dev/null || [ -x /usr/bin/tinyproxy ] || [ -x /usr/sbin/tinyproxy ] || missing+=(tinyproxy)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Only the binaries: no service is started or enabled by the tests (each test runs its own
# tinyproxy on a free loopback port).
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
