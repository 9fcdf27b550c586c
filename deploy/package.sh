#!/usr/bin/env bash
# Build origin-region-agent's wheel from this checkout into a function folder, where its requirements.txt expects it.
#
#   deploy/package.sh aws      # then: cd deploy/aws && sam build && sam deploy --guided
#   deploy/package.sh azure    # then: cd deploy/azure && func azure functionapp publish <app>
#   deploy/package.sh oci      # then: cd deploy/oci && fn deploy --app <app>
#
# No release exists on a package index: every deploy path installs the wheel built here. The version comes from
# agent/VERSION, the one place it lives (requirements.txt names the same file; a test keeps them equal).
set -euo pipefail

CLOUD=${1:?usage: package.sh aws|azure|oci}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET="$ROOT/deploy/$CLOUD"
[ -f "$TARGET/requirements.txt" ] || { echo "package.sh: no function folder deploy/$CLOUD" >&2; exit 2; }

rm -rf "$TARGET/wheels"
python3 -m pip wheel --quiet --no-deps --wheel-dir "$TARGET/wheels" "$ROOT"
wheel=$(cd "$TARGET/wheels" && ls origin_region_agent-*.whl)
grep -q "^./wheels/${wheel}\[" "$TARGET/requirements.txt" || {
  echo "package.sh: deploy/$CLOUD/requirements.txt does not name wheels/${wheel} (update it to agent/VERSION)" >&2
  exit 2
}
echo "built deploy/$CLOUD/wheels/${wheel}"
