#!/usr/bin/env bash
# End-to-end demo of aws-oidc with no AWS account and no network:
#   moto's STS server + a fake CI OIDC issuer, both on 127.0.0.1.
#
#   scripts/demo.sh                       # builds target/release/aws-oidc
#   AWS_OIDC_BIN=target/debug/aws-oidc scripts/demo.sh   # use an existing binary
#
# 0. Installs what is missing: python3 + python3-venv, gcc + libc6-dev, ca-certificates
#    from Debian (scripts/setup-system-deps.sh demo; as root), moto, awscli and boto3
#    into .venv (scripts/setup-test-deps.sh).
# 1. GitHub Actions style: token from the fake ACTIONS_ID_TOKEN_REQUEST_URL,
#    `aws-oidc assume --output sh`, eval, `aws sts get-caller-identity`.
# 2. GitLab CI style: AWS_ID_TOKEN=<jwt>, `--output env=FILE`, load the
#    dotenv file, `aws sts get-caller-identity`.
# 3. `aws-oidc exec -- aws sts get-caller-identity` (GitLab style), as printed at the end
#    under "Try it yourself".
# Exits non-zero on any failure.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/moto.sh
. "$repo/scripts/lib/moto.sh"
cd "$repo"

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

# --- system packages ------------------------------------------------------------
say "system packages (scripts/setup-system-deps.sh demo)"
"$repo/scripts/setup-system-deps.sh" demo || die "missing system packages (see above)"

# --- binary -----------------------------------------------------------------
if [ -n "${AWS_OIDC_BIN:-}" ]; then
  bin="$AWS_OIDC_BIN"
  case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
else
  say "cargo build --release (a few minutes on a cold machine: optimised, fat LTO; cargo shows its progress)"
  cargo build --release --locked
  target_dir="${CARGO_TARGET_DIR:-target}"
  case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
  bin="$target_dir/release/aws-oidc"
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
# shellcheck disable=SC2016  # the script is expanded by the inner bash
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
grep -q '"arn:aws:sts::123456789012:assumed-role/demo/gh-9876543210-1"' "$work/gh-identity.json" \
  || die "GitHub path: unexpected caller identity (session name gh-<run id>-<attempt>)"

# --- 2. GitLab CI path --------------------------------------------------------
say "GitLab CI path: AWS_ID_TOKEN=<jwt> aws-oidc assume --output env=FILE; load dotenv; aws sts get-caller-identity"
mkdir -p "$work/home-gl"
gitlab_jwt="$("$venv_bin/python" "$repo/scripts/fake_issuer.py" gitlab-token)"
# The job's predefined variables, as in the token's claims (project_id, pipeline_id, job_id):
# aws-oidc names the session gl-<project>-<pipeline>-<job>.
gitlab_job=(
  "CI=true" "GITLAB_CI=true" "CI_PROJECT_ID=2031" "CI_PROJECT_PATH=group/project"
  "CI_PIPELINE_ID=574301" "CI_JOB_ID=8812345"
)
gitlab_arn="arn:aws:sts::123456789012:assumed-role/demo/gl-2031-574301-8812345"
"${base_env[@]}" \
  "HOME=$work/home-gl" \
  "${gitlab_job[@]}" \
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
grep -q "\"$gitlab_arn\"" "$work/gl-identity.json" \
  || die "GitLab path: unexpected caller identity (want $gitlab_arn)"

# --- 3. exec ---------------------------------------------------------------------
say "exec: aws-oidc exec -- aws sts get-caller-identity (GitLab style)"
"${base_env[@]}" "HOME=$work/home-gl" "${gitlab_job[@]}" "AWS_ID_TOKEN=$gitlab_jwt" \
  "$bin" exec --role-arn arn:aws:iam::123456789012:role/demo -- \
  aws sts get-caller-identity --output json >"$work/exec-identity.json" || die "exec path"
grep -q "\"$gitlab_arn\"" "$work/exec-identity.json" || { cat "$work/exec-identity.json" >&2; die "exec path: unexpected caller identity"; }
echo "exec: $gitlab_arn" >&2

say "demo OK: GitHub path, GitLab path and exec produced working credentials against local STS"

# Relative to the repository when the binary is inside it.
shown_bin="${bin#"$repo"/}"
cat >&2 <<EOF

Try it yourself, from $repo (each server in a terminal of its own, or with & at the end):

  .venv/bin/moto_server -H 127.0.0.1 -p 5000                  # local STS
  .venv/bin/python scripts/fake_issuer.py serve --port 8099 --request-token demo   # token endpoint

  export AWS_ENDPOINT_URL_STS=http://127.0.0.1:5000 AWS_EC2_METADATA_DISABLED=true

  # GitHub Actions style: the token comes from the (fake) token endpoint
  GITHUB_ACTIONS=true GITHUB_RUN_ID=42 \\
  ACTIONS_ID_TOKEN_REQUEST_URL='http://127.0.0.1:8099/token?api-version=2.0' \\
  ACTIONS_ID_TOKEN_REQUEST_TOKEN=demo \\
    $shown_bin assume --role-arn arn:aws:iam::123456789012:role/demo --output sh

  # GitLab CI style: the token in AWS_ID_TOKEN; run a command with the credentials
  export AWS_ID_TOKEN="\$(.venv/bin/python scripts/fake_issuer.py gitlab-token)"
  GITLAB_CI=true CI_PROJECT_ID=2031 CI_PIPELINE_ID=574301 CI_JOB_ID=8812345 \\
    $shown_bin exec --role-arn arn:aws:iam::123456789012:role/demo -- .venv/bin/aws sts get-caller-identity
  $shown_bin token --token-env AWS_ID_TOKEN                 # what the token says (no secret shown)

Other outputs (dotenv, fish, profile, credential_process, ...): $shown_bin assume --help
EOF
