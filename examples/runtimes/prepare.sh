#!/usr/bin/env bash
# Prepares what the examples need: the go tool (slugplan compiles the Go example), and offline
# stand-ins for the runtimes the examples fetch, packed from what this machine has:
#
#   runtimes/node-linux-x64.tar.gz  this machine's `node`, laid out like nodejs.org's tarball
#                                   (a top-level folder holding bin/node)
#   runtimes/ruby.tgz               this machine's `ruby` with its library and standard library,
#                                   laid out like a Heroku Ruby tgz (no top-level folder)
#
# The examples' slug.toml files name these archives with relative `file:` URLs, so slugplan
# fetches, verifies and unpacks them exactly as it would the real downloads that
# slug.toml.example names. The archives (and so the examples' slug.lock files) depend on this
# machine's binaries, which is why neither is committed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prepare: installing $2 (for \`$1\`)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "prepare: \`$1\` is needed; install the $2 package" >&2
    exit 1
  fi
}

# GNU tar with fixed metadata, so the same binaries give the same archive.
pack() { # archive, directory, members...
  local archive="$1" dir="$2"
  shift 2
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$dir" -cf - "$@" | gzip -n -6 >"$archive.tmp"
  mv "$archive.tmp" "$archive"
}

# The Go example is compiled by slugplan itself; it needs the go tool.
need go golang-go

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

need node nodejs
if [ ! -f node-linux-x64.tar.gz ]; then
  mkdir -p "$work/node-linux-x64/bin"
  cp "$(readlink -f "$(command -v node)")" "$work/node-linux-x64/bin/node"
  pack node-linux-x64.tar.gz "$work" node-linux-x64
  echo "prepare: packed runtimes/node-linux-x64.tar.gz from $(node --version)" >&2
fi

need ruby ruby
if [ ! -f ruby.tgz ]; then
  ruby_bin="$(readlink -f "$(command -v ruby)")"
  libruby="$(ldd "$ruby_bin" | awk '/libruby/ {print $3}')"
  rubylibdir="$(ruby -e 'print RbConfig::CONFIG["rubylibdir"]')"
  archdir="$(ruby -e 'print RbConfig::CONFIG["archdir"]')"
  mkdir -p "$work/ruby/bin" "$work/ruby/lib/ruby"
  cp "$ruby_bin" "$work/ruby/bin/ruby"
  if [ -n "$libruby" ]; then cp "$libruby" "$work/ruby/lib/"; fi
  cp -r "$rubylibdir" "$work/ruby/lib/ruby/stdlib"
  if [ -d "$archdir" ]; then cp -r "$archdir" "$work/ruby/lib/ruby/arch"; fi
  (cd "$work/ruby" && pack "$here/ruby.tgz" . bin lib)
  echo "prepare: packed runtimes/ruby.tgz from ruby $(ruby -e 'print RUBY_VERSION')" >&2
fi
