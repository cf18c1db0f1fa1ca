#!/usr/bin/env bash
# Install the test OpenID provider (panva's oidc-provider, pinned in tests/idp/package.json
# and tests/idp/package-lock.json) into tests/idp/node_modules with `npm ci`, when it is
# missing or another version. Fast (no npm call) when already there.
#
#   scripts/setup-idp.sh            # what scripts/test.sh and the pytest `idp` fixture run
#
# Parallel callers (several pytest runs, test.sh + a fixture) serialize on a lock file
# (flock) so that only one npm runs and nobody sees a half-written node_modules.
# Needs node (20 or newer) and npm: scripts/setup-system-deps.sh test installs them
# (nodejs, npm), or they are installed here with apt-get when missing and running as root.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/system-deps.sh
. "$repo/scripts/lib/system-deps.sh"
dir="$repo/tests/idp"

ensure_packages setup-idp node=nodejs npm=npm flock=util-linux \
  || { echo "setup-idp: node, npm and flock are needed" >&2; exit 1; }
node_ok || {
  echo "setup-idp: oidc-provider needs Node.js 20 or newer; this is $(node --version)" >&2; exit 1; }

want="$(node -p "require('$dir/package.json').dependencies['oidc-provider']")"
installed() {
  [ "$(node -p "try { require('$dir/node_modules/oidc-provider/package.json').version } catch { '' }" 2>/dev/null)" = "$want" ] \
    && [ -f "$dir/node_modules/.package-lock.json" ]
}

installed && exit 0
exec 9>"$dir/.install.lock"
flock -w 600 9 || { echo "setup-idp: timed out waiting for another install (lock $dir/.install.lock)" >&2; exit 1; }
installed && exit 0   # another caller finished it while we waited

echo "setup-idp: npm ci (oidc-provider $want) into $dir/node_modules" >&2
log="$(mktemp)"
t0=$SECONDS
if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"
  echo "setup-idp: npm ci failed" >&2
  exit 1
fi
rm -f "$log"
installed || { echo "setup-idp: oidc-provider $want is not installed after npm ci" >&2; exit 1; }
echo "setup-idp: done in $((SECONDS - t0)) s" >&2
