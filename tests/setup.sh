#!/usr/bin/env bash
# Installs the real tools the test suite drives, when they are missing: GNU tar and gzip read
# our slugs, pigz and python3 too, xz makes .tar.xz runtimes, go builds the Go example,
# setpriv (util-linux) drops root's file-reading privilege for the unreadable-file test.
# Debian's apt is used when running as root; otherwise it says what to install.
# Then it prepares the examples' runtimes (examples/runtimes/prepare.sh: Node from the npm
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

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/setup.sh: installing ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "tests/setup.sh: the tests need these packages: ${missing[*]}" >&2
    exit 1
  fi
fi

examples/runtimes/prepare.sh
