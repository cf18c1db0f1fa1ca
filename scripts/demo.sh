#!/usr/bin/env bash
# End-to-end demo of aws-oidc with no AWS account and no network:
#   moto's STS server + a fake CI OIDC issuer, both on 127.0.0.1.
#
#   scripts/demo.sh                       # builds target/release/aws-oidc
#   AWS_OIDC_BIN=target/debug/aws-oidc scripts/demo.sh   # use an existing binary
#
# 1. GitHub Actions style: token from the fake ACTIONS_ID_TOKEN_REQUEST_URL,
#    `aws-oidc assume --output sh`, eval, `aws sts get-caller-identity`.
# 2. GitLab CI style: AWS_ID_TOKEN=<jwt>, `--output env=FILE`, load the
#    dotenv file, `aws sts get-caller-identity`.
# Exits non-zero on any failure.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/moto.sh
. "$repo/scripts/lib/moto.sh"
cd "$repo"

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

# --- binary -----------------------------------------------------------------
if [ -n "${AWS_OIDC_BIN:-}" ]; then
  bin="$AWS_OIDC_BIN"
  case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
else
  say "cargo build --release"
  cargo build --release --quiet
  bin="$repo/target/release/aws-oidc"
fi
[ -x "$bin" ] || die "aws-oidc binary not found at $bin"

# --- python tools -------------------------------------------------------------
say "test dependencies (.venv)"
"$repo/scripts/setup-test-deps.sh"
venv_bin="$repo/.venv/bin"

# --- local services -----------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/aws-oidc-demo.XXXXXX")"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



say "starting moto STS server"
if start_moto "$venv_bin/python" "$venv_bin/moto_server" "$work/moto.log"; then pids+=("$moto_pid"); else moto_port=""; fi
[ -n "$moto_port" ] || { cat "$work/moto.log" >&2; die "moto_server did not start"; }
sts_url="http://127.0.0.1:$moto_port"
echo "moto STS: $sts_url" >&2

say "starting fake GitHub OIDC token endpoint"
request_token="demo-request-token-$RANDOM$RANDOM"
"$venv_bin/python" "$repo/scripts/fake_issuer.py" serve --port 0 \
  --port-file "$work/issuer.port" --request-token "$request_token" \
  >"$work/issuer.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do [ -s "$work/issuer.port" ] && break; sleep 0.05; done
[ -s "$work/issuer.port" ] || { cat "$work/issuer.log" >&2; die "fake issuer did not start"; }
issuer_port="$(cat "$work/issuer.port")"
issuer_ok=0
for _ in $(seq 1 50); do
  if "$venv_bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$issuer_port/healthz', timeout=1)" 2>/dev/null; then
    issuer_ok=1; break
  fi
  sleep 0.05
done
[ "$issuer_ok" = 1 ] || die "fake issuer does not answer"
echo "fake issuer: http://127.0.0.1:$issuer_port/token" >&2

# Clean environment for each "CI job": fresh HOME, no inherited AWS_*/CI vars,
# only loopback traffic (no proxies, no instance metadata).
base_env=(
  env -i
  "PATH=$venv_bin:/usr/local/bin:/usr/bin:/bin"
  "LANG=C.UTF-8"
  "NO_PROXY=127.0.0.1,localhost" "no_proxy=127.0.0.1,localhost"
  "AWS_EC2_METADATA_DISABLED=true"
  "AWS_ENDPOINT_URL_STS=$sts_url"
)

# --- 1. GitHub Actions path ---------------------------------------------------
say "GitHub Actions path: aws-oidc assume --output sh; eval; aws sts get-caller-identity"
mkdir -p "$work/home-gh"
"${base_env[@]}" \
  "HOME=$work/home-gh" \
  "CI=true" "GITHUB_ACTIONS=true" \
  "GITHUB_REPOSITORY=octo-org/demo" "GITHUB_RUN_ID=9876543210" "GITHUB_RUN_ATTEMPT=1" \
  "ACTIONS_ID_TOKEN_REQUEST_URL=http://127.0.0.1:$issuer_port/token?api-version=2.0" \
  "ACTIONS_ID_TOKEN_REQUEST_TOKEN=$request_token" \
  "AWS_OIDC_BIN=$bin" \
  bash -c '
    set -euo pipefail
    creds="$("$AWS_OIDC_BIN" assume --role-arn arn:aws:iam::123456789012:role/demo --output sh)"
    eval "$creds"
    aws sts get-caller-identity --output json
  ' >"$work/gh-identity.json" || die "GitHub path"
cat "$work/gh-identity.json"
grep -q '"arn:aws:sts::123456789012:assumed-role/demo/' "$work/gh-identity.json" \
  || die "GitHub path: unexpected caller identity"

# --- 2. GitLab CI path --------------------------------------------------------
say "GitLab CI path: AWS_ID_TOKEN=<jwt> aws-oidc assume --output env=FILE; load dotenv; aws sts get-caller-identity"
mkdir -p "$work/home-gl"
gitlab_jwt="$("$venv_bin/python" "$repo/scripts/fake_issuer.py" gitlab-token)"
"${base_env[@]}" \
  "HOME=$work/home-gl" \
  "CI=true" "GITLAB_CI=true" "CI_PROJECT_PATH=group/project" "CI_JOB_ID=8812345" \
  "CI_PIPELINE_ID=574301" \
  "AWS_ID_TOKEN=$gitlab_jwt" \
  "$bin" assume --role-arn arn:aws:iam::123456789012:role/demo \
    --output "env=$work/aws-oidc.env" || die "GitLab path: aws-oidc assume"
[ -s "$work/aws-oidc.env" ] || die "GitLab path: no dotenv file written"
# Load it the way a later GitLab job receives dotenv variables: plain NAME=value.
gl_vars=()
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    [A-Za-z0-9_]*=*) gl_vars+=("$line") ;;
    *) die "GitLab path: invalid dotenv line: ${line%%=*}=..." ;;
  esac
done <"$work/aws-oidc.env"
"${base_env[@]}" "HOME=$work/home-gl" "${gl_vars[@]}" \
  aws sts get-caller-identity --output json >"$work/gl-identity.json" \
  || die "GitLab path: aws sts get-caller-identity"
cat "$work/gl-identity.json"
grep -q '"arn:aws:sts::123456789012:assumed-role/demo/' "$work/gl-identity.json" \
  || die "GitLab path: unexpected caller identity"

say "demo OK: both paths produced working credentials against local STS"
