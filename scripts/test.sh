#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, fault-injection
# integration tests (in-process fakes), and conformance tests against real
# components (moto's STS server, awscli, boto3). Installs its Python deps into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo build"
cargo build --locked
echo "== python test deps"
scripts/setup-test-deps.sh --with-fish --with-strace
# `man -l` renders `aws-oidc man` in tests/it/completions.rs (skipped there without man).
command -v man >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq man-db >/dev/null; } || echo "man-db not installed: the man page is checked without man -l" >&2
echo "== cargo test (unit + integration with fakes)"
cargo test --locked
echo "== conformance (moto STS, awscli, boto3)"
AWS_OIDC_BIN="$PWD/target/debug/aws-oidc" .venv/bin/python -m pytest -q -p no:cacheprovider tests/conformance
echo "== CI files against their schemas (check-jsonschema, offline)"
scripts/check-ci-files.sh
echo "== GitLab template under gitlab-ci-local"
AWS_OIDC_BIN="$PWD/target/debug/aws-oidc" scripts/check-gitlab.sh
echo "== GitHub Action under act"
AWS_OIDC_BIN="$PWD/target/debug/aws-oidc" scripts/check-action.sh
echo "== cargo audit (RustSec advisory snapshot, offline)"
if [ -d ../shared/advisory-db ]; then
  command -v cargo-audit >/dev/null 2>&1 || cargo install cargo-audit --locked --quiet
  cargo audit --db ../shared/advisory-db --no-fetch --stale
else
  echo "skipped: ../shared/advisory-db not found"
fi
echo "== container image: static build, podman build from scratch, smoke test against moto"
scripts/image-smoke.sh
