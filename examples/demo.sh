#!/usr/bin/env bash
# slugplan's main job, on the embedded local platform (on disk, no account, no network):
# plan and apply the seed's three example apps, promote Node's staging to production, list what
# runs where, then ask each app on its URL: `slugplan up` runs each example's dynos meanwhile
# (and is stopped when the demo ends), so every apply ends by saying each app's URL came up.
#
#   ./examples/demo.sh
#
# Running it again shows "No changes": every app already runs its declared slug. The Node
# slug's checksum is compared with the one the README prints, which is the same on every
# machine; the last lines are what each app answers: "Hello World", "Hello, world!", "hello,
# world".
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
# The binary cargo just built, wherever CARGO_TARGET_DIR or .cargo/config puts it.
slugplan="$(cargo metadata --format-version 1 --no-deps | sed -E 's/.*"target_directory":"([^"]*)".*/\1/')/debug/slugplan"

examples/runtimes/prepare.sh
# prepare.sh writes this manifest only when it had to fall back to this machine's own node.
node_manifest=examples/node/slug.toml
fallback=examples/runtimes/node-fallback/slug.toml
if [ -f "$fallback" ]; then
  node_manifest="$fallback"
fi

# Each example's own platform runs its dynos while the demo runs, and stops with it.
ups=()
stop_ups() {
  for pid in "${ups[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${ups[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_ups EXIT
for manifest in "$node_manifest" examples/ruby/slug.toml examples/go/slug.toml; do
  "$slugplan" -f "$manifest" --quiet up >/dev/null &
  ups+=("$!")
done

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

echo
echo "== what the apps answer"
curl_errors="$(mktemp)"
for app in "$node_manifest node-example" "examples/ruby/slug.toml ruby-example" \
  "examples/go/slug.toml go-example-eu"; do
  set -- $app
  url="$("$slugplan" -f "$1" open "$2" --print)"
  # The promotion released node-example a moment ago: until the supervisor has read that
  # release the app has no web dyno (H14, a 503), so ask again for up to 20 s; say why only
  # if it never answers.
  if ! answer="$(curl --silent --show-error --max-time 30 --retry 20 --retry-connrefused \
    --retry-delay 1 --retry-all-errors --fail "$url" 2>"$curl_errors")"; then
    cat "$curl_errors" >&2
    echo "$2 at $url did not answer" >&2
    exit 1
  fi
  echo "$2 at $url: $answer"
done
rm -f "$curl_errors"
