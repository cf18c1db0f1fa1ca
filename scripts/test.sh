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
scripts/setup-test-deps.sh --with-fish
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
echo "== supply chain: cargo-deny (RustSec snapshot offline, licences, bans, sources)"
scripts/check-supply-chain.sh
echo "== container image: static build, podman build from scratch, smoke test against moto"
scripts/image-smoke.sh
