#!/usr/bin/env bash
# slugplan's main job, on the embedded local platform (on disk, no account, no network):
# plan and apply the seed's three example apps, then list what runs where.
#
#   ./examples/demo.sh
#
# Running it again shows "No changes": every app already runs its declared slug.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
slugplan="$PWD/target/debug/slugplan"

examples/runtimes/prepare.sh
for example in node ruby go; do
  manifest="examples/$example/slug.toml"
  echo
  echo "== $manifest"
  "$slugplan" -f "$manifest" lock --quiet
  "$slugplan" -f "$manifest" apply --yes
done

echo
echo "== releases"
"$slugplan" -f examples/node/slug.toml releases node-example
"$slugplan" -f examples/ruby/slug.toml releases ruby-example
"$slugplan" -f examples/go/slug.toml releases go-example-eu
