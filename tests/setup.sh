#!/usr/bin/env bash
# Installs the real tools the test suite drives, when they are missing: GNU tar and gzip read
# our slugs, pigz and python3 too, xz makes .tar.xz runtimes, go builds the Go example,
# setpriv (util-linux) drops root's file-reading privilege for the unreadable-file test and
# runs the tests' PostgreSQL as nobody; PostgreSQL itself (Debian's postgresql: initdb, postgres,
# pg_ctl) backs the PostgreSQL state tests, which start a throwaway cluster, and openssl makes
# the certificates of its TLS test.
# Debian's apt is used when running as root; otherwise it says what to install.
# Then it installs Heroku's own CLI from the npm registry (pinned: tests/it/server/heroku_cli.rs
# and tests/it/config/heroku_cli.rs drive it against `slugplan server`, and require it when CI
# is set), and prepares the examples' runtimes (examples/runtimes/prepare.sh: Node from the npm
# registry, a Ruby with webrick packed from this machine's), which tests/it/examples.rs runs.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
want() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
want tar tar
want gzip gzip
want pigz pigz
want xz xz-utils
want python3 python3
want go golang-go
want setpriv util-linux
want npm npm
want openssl openssl

# The server binaries are off PATH on Debian (/usr/lib/postgresql/<version>/bin); the tests
# look in the same places as this.
postgres_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then return 0; fi
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then return 0; fi
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
postgres_bin || missing+=(postgresql)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/setup.sh: installing ${missing[*]}" >&2
    if [[ " ${missing[*]} " == *" postgresql "* ]]; then
      # The tests run clusters of their own: the package's default one is not wanted.
      mkdir -p /etc/postgresql-common/createcluster.d
      echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/slugplan-tests.conf
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "tests/setup.sh: the tests need these packages: ${missing[*]}" >&2
    exit 1
  fi
fi

# The version tests/it/server/heroku_cli.rs snapshots the output of. npm installs it from the
# registry alone (about a minute; its optional native add-ons' install scripts are not run).
HEROKU_CLI_VERSION=11.10.0
heroku_version() {
  HEROKU_SKIP_NEW_VERSION_CHECK=true HEROKU_DISABLE_AUTOUPDATE=1 DISABLE_TELEMETRY=true \
    heroku --version 2>/dev/null
}
if ! heroku_version | grep -q "^heroku/$HEROKU_CLI_VERSION "; then
  if [ "$(id -u)" = 0 ]; then
    echo "tests/setup.sh: installing the Heroku CLI $HEROKU_CLI_VERSION with npm" >&2
    npm install --global --no-fund --no-audit --loglevel=error "heroku@$HEROKU_CLI_VERSION" >/dev/null
  else
    echo "tests/setup.sh: the tests need the Heroku CLI: npm install -g heroku@$HEROKU_CLI_VERSION" >&2
    exit 1
  fi
fi

if ! postgres_bin; then
  echo "tests/setup.sh: PostgreSQL's initdb and pg_ctl are still missing after installing postgresql" >&2
  exit 1
fi

examples/runtimes/prepare.sh
