#!/usr/bin/env bash
# slugplan's main job, on the embedded local platform (on disk, no account, no network):
# plan and apply the seed's three example apps, promote Node's staging to production, then list
# what runs where.
#
#   ./examples/demo.sh
#
# Running it again shows "No changes": every app already runs its declared slug. The last line
# compares the Node slug's checksum with the one the README prints, which is the same on every
# machine.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
slugplan="$PWD/target/debug/slugplan"

examples/runtimes/prepare.sh
# prepare.sh writes this manifest only when it had to fall back to this machine's own node.
node_manifest=examples/node/slug.toml
fallback=examples/runtimes/node-fallback/slug.toml
if [ -f "$fallback" ]; then
  node_manifest="$fallback"
fi

for manifest in "$node_manifest" examples/ruby/slug.toml examples/go/slug.toml; do
  echo
  echo "== $manifest"
  "$slugplan" -f "$manifest" lock --quiet
  "$slugplan" -f "$manifest" apply --yes
done

# Node's production app is promoted by hand (promote = "manual"): apply released staging and
# said production is behind it; this is the hand that promotes.
echo
echo "== promote node-example-staging"
"$slugplan" -f "$node_manifest" promote node-example-staging --yes

echo
echo "== releases"
"$slugplan" -f "$node_manifest" releases node-example
"$slugplan" -f examples/ruby/slug.toml releases ruby-example
"$slugplan" -f examples/go/slug.toml releases go-example-eu

echo
echo "== the Node slug"
checksum="$("$slugplan" -f "$node_manifest" releases node-example --limit 1 --json |
  sed -n 's/^ *"checksum": "\(SHA256:[0-9a-f]\{64\}\)",\{0,1\}$/\1/p')"
readme="$(sed -n 's/^ *node-example runs \(SHA256:[0-9a-f]\{64\}\)$/\1/p' README.md)"
echo "node-example runs ${checksum:?the releases of node-example name no checksum}"
if [ "$node_manifest" = "$fallback" ]; then
  echo "The README's is $readme: this one differs, as it must, since the Node runtime is this"
  echo "machine's own node (prepare.sh could not reach the npm registry; see its FALLBACK note)."
elif [ "$checksum" = "$readme" ]; then
  echo "The checksum the README prints: the same slug as on every other machine."
else
  echo "The README prints $readme: this slug differs (are examples/node or slugplan changed?)."
fi
