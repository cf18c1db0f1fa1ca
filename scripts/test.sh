#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, fault-injection
# integration tests (in-process fakes), and conformance tests against real
# components (moto's STS server, awscli, boto3), the CI files, the supply chain
# and the container image. Installs what it needs: Debian packages when missing
# (scripts/setup-system-deps.sh test, as root), Python tools into .venv, npm ones
# into .tools (gitlab-ci-local) and tests/idp/node_modules (oidc-provider).
# Each step's start is printed with the minutes since the start.
set -euo pipefail
cd "$(dirname "$0")/.."

t0=$SECONDS
step() { printf '== [%dm%02ds] %s\n' "$(((SECONDS - t0) / 60))" "$(((SECONDS - t0) % 60))" "$*"; }

step "system packages (scripts/setup-system-deps.sh test)"
scripts/setup-system-deps.sh test
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings
step "cargo build"
cargo build --locked
step "python test deps"
scripts/setup-test-deps.sh --with-fish
step "cargo test (unit + integration with fakes)"
cargo test --locked
step "test OpenID provider (scripts/setup-idp.sh: npm ci oidc-provider into tests/idp)"
scripts/setup-idp.sh
step "conformance (moto STS, awscli, boto3, oidc-provider)"
AWS_OIDC_BIN="$PWD/target/debug/aws-oidc" .venv/bin/python -m pytest -q -p no:cacheprovider tests/conformance
step "CI files against their schemas (check-jsonschema, offline)"
scripts/check-ci-files.sh
step "GitLab template under gitlab-ci-local"
AWS_OIDC_BIN="$PWD/target/debug/aws-oidc" scripts/check-gitlab.sh
step "GitHub Action under act"
AWS_OIDC_BIN="$PWD/target/debug/aws-oidc" scripts/check-action.sh
step "shellcheck: scripts/, bench/, .ci/run (warnings and errors)"
.venv/bin/shellcheck -x -S warning scripts/*.sh scripts/lib/*.sh bench/*.sh .ci/run
step "supply chain: cargo-deny (RustSec snapshot offline, licences, bans, sources)"
scripts/check-supply-chain.sh
step "container image: static build, podman build from scratch, smoke test against moto"
scripts/image-smoke.sh
step "done"
