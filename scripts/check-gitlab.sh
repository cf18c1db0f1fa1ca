#!/usr/bin/env bash
# Prove the GitLab template (ci-templates/gitlab/templates/aws-oidc.yml) works, offline,
# with gitlab-ci-local (shell executor), moto's STS and a fake GitLab ID token.
#
#   scripts/check-gitlab.sh
#   AWS_OIDC_BIN=target/release/aws-oidc scripts/check-gitlab.sh   # skip `cargo build`
#
# Two throw-away GitLab projects (git repositories in a temp dir) include the template:
#   1. `include: local:` with inputs, output=shell (default):
#      deploy            extends .aws-oidc, keeps the template's before_script with
#                        !reference; `aws sts get-caller-identity` must show
#                        arn:aws:sts::123456789012:assumed-role/gitlab-deploy/gl-<project>-<pipeline>-<job>
#      aws-credentials   extends .aws-oidc-dotenv: writes the dotenv report
#      use-credentials   needs: [aws-credentials]; no aws-oidc call, uses the inherited
#                        variables for `aws sts get-caller-identity`
#      fails-closed      extends .aws-oidc with no usable token: the job must fail in
#                        before_script (allow_failure), its script must not run
#   2. `include: component:` (the CI/CD Catalog path templates/aws-oidc.yml) with
#      output=dotenv: `.aws-oidc` itself is then the dotenv producer; a later job uses it.
# Every dotenv report is then checked strictly against GitLab's rules (gitlab-ci-local is
# laxer), and no job log may contain the ID token or a secret.
#
# gitlab-ci-local ignores `id_tokens:`, so the token is passed with
# --variable AWS_ID_TOKEN=<jwt> (minted by scripts/fake_issuer.py); GITLAB_CI=true is set
# because gitlab-ci-local sets it to false and aws-oidc derives the session name from it.
# --force-shell-executor runs the jobs on this machine although the template sets `image:`.
#
# Needs: node + npm (Node 20 is fine for gitlab-ci-local 4.70.0; newer releases need
# Node 22), git, rsync (each installed with apt-get when missing and running as root:
# scripts/lib/system-deps.sh), python3.
# gitlab-ci-local goes to <repo>/.tools/node_modules (or $AWS_OIDC_TOOLS_DIR).
# Exits non-zero on any failure.
set -euo pipefail

GLCL_VERSION=4.70.0

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/moto.sh
. "$repo/scripts/lib/moto.sh"
# shellcheck source=scripts/lib/system-deps.sh
. "$repo/scripts/lib/system-deps.sh"
cd "$repo"
template="$repo/ci-templates/gitlab/templates/aws-oidc.yml"

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'check-gitlab: FAILED: %s\n' "$*" >&2; exit 1; }
ok() { printf 'check-gitlab: ok: %s\n' "$*" >&2; }

[ -f "$template" ] || die "template not found: $template"

# --- aws-oidc binary ------------------------------------------------------------
if [ -n "${AWS_OIDC_BIN:-}" ]; then
  bin="$AWS_OIDC_BIN"
  case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
else
  say "cargo build (debug)"
  cargo build --quiet || die "cargo build failed (set AWS_OIDC_BIN to use an existing binary)"
  bin="$repo/target/debug/aws-oidc"
fi
[ -x "$bin" ] || die "aws-oidc binary not found at $bin"

# --- tools ----------------------------------------------------------------------------
# gitlab-ci-local copies the project with rsync; the fixtures are git repositories.
ensure_packages check-gitlab git=git node=nodejs npm=npm rsync=rsync \
  || die "git, node, npm and rsync are needed"
# gitlab-ci-local 4.70.0 stops at start on Node 18 (its yargs needs 20), which is what
# Debian 12's nodejs package is.
node_ok \
  || die "gitlab-ci-local $GLCL_VERSION needs Node.js 20 or newer; this is $(node --version) (Debian 12's nodejs is 18: install Node.js 20, e.g. NodeSource's nodejs package, or Debian 13's)"

say "test dependencies (.venv: moto, awscli)"
"$repo/scripts/setup-test-deps.sh"
venv_bin="$repo/.venv/bin"
py="$venv_bin/python"

tools="${AWS_OIDC_TOOLS_DIR:-$repo/.tools}"
glcl="$tools/node_modules/.bin/gitlab-ci-local"
if [ ! -x "$glcl" ] || [ "$("$glcl" --version 2>/dev/null)" != "$GLCL_VERSION" ]; then
  say "npm install gitlab-ci-local@$GLCL_VERSION into $tools"
  mkdir -p "$tools"
  log="$(mktemp)"
  if ! npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error \
        "gitlab-ci-local@$GLCL_VERSION" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; die "npm install gitlab-ci-local@$GLCL_VERSION failed"
  fi
  rm -f "$log"
fi
[ "$("$glcl" --version)" = "$GLCL_VERSION" ] || die "gitlab-ci-local is not version $GLCL_VERSION"

# --- moto STS ----------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/aws-oidc-check-gitlab.XXXXXX")"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "check-gitlab: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



say "starting moto STS server"
mkdir -p "$work/home" "$work/bin"
if start_moto "$py" "$venv_bin/moto_server" "$work/moto.log" "$work/home"; then pids+=("$moto_pid"); else moto_port=""; fi
[ -n "$moto_port" ] || { cat "$work/moto.log" >&2; die "moto_server did not start"; }
sts_url="http://127.0.0.1:$moto_port"
echo "moto STS: $sts_url" >&2

id_token="$("$py" "$repo/scripts/fake_issuer.py" gitlab-token)"

# aws-oidc and aws (awscli from .venv) on the jobs' PATH, like an image that has both.
ln -s "$bin" "$work/bin/aws-oidc"
printf '[user]\n\tname = check-gitlab\n\temail = check-gitlab@example.invalid\n[init]\n\tdefaultBranch = main\n' \
  >"$work/home/.gitconfig"

# Clean environment for gitlab-ci-local and its shell-executor jobs: no AWS_* or CI
# variables of this machine, loopback only.
run_env=(
  env -i
  "HOME=$work/home"
  "PATH=$work/bin:$venv_bin:/usr/local/bin:/usr/bin:/bin"
  "LANG=C.UTF-8"
  "NO_PROXY=127.0.0.1,localhost" "no_proxy=127.0.0.1,localhost"
)
glcl_args=(
  --shell-executor-no-image --force-shell-executor
  --no-color --max-job-name-padding 0
  --variable "AWS_ID_TOKEN=$id_token"
  --variable "AWS_ENDPOINT_URL_STS=$sts_url"
  --variable "AWS_EC2_METADATA_DISABLED=true"
  --variable "GITLAB_CI=true" --ignore-predefined-vars GITLAB_CI
)

# new_project DIR: a git repository with the template at templates/aws-oidc.yml (the
# component layout; `include: local:` uses the same path) and a fake GitLab remote, so
# that CI_SERVER_FQDN/CI_PROJECT_PATH resolve to gitlab.example.com/acme/aws-oidc.
new_project() {
  local dir="$1"
  mkdir -p "$dir/templates"
  cp "$template" "$dir/templates/aws-oidc.yml"
  cat >"$dir/.gitlab-ci.yml"
  (
    cd "$dir"
    export HOME="$work/home"
    git init -q
    git add -A
    git commit -q -m "check-gitlab fixture"
    git remote add origin https://gitlab.example.com/acme/aws-oidc.git
    git update-ref refs/remotes/origin/main HEAD
    git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main
  )
}

# run_pipeline DIR NAME: run gitlab-ci-local, keep its output in $work/NAME.log.
run_pipeline() {
  local dir="$1" name="$2" rc=0
  ( cd "$dir" && "${run_env[@]}" "$glcl" "${glcl_args[@]}" ) >"$work/$name.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    cat "$work/$name.log" >&2
    die "gitlab-ci-local pipeline '$name' failed (exit $rc)"
  fi
}

# job_log DIR JOB: the job's output as gitlab-ci-local recorded it.
job_log() { cat "$1/.gitlab-ci-local/output/$2.log"; }

# dotenv_report DIR JOB: the dotenv report as uploaded by JOB.
dotenv_report() {
  local f
  f="$(find "$1/.gitlab-ci-local/artifacts/$2/.gitlab-ci-reports/dotenv" -type f | head -n 1)"
  [ -n "$f" ] || die "job $2 produced no dotenv report"
  printf '%s\n' "$f"
}

# check_dotenv FILE: GitLab's dotenv report rules, strictly (Ci::ParseDotenvArtifactService
# and the job-variable key format): UTF-8; smaller than 5 KB; at most 20 variables (the
# self-managed default); every line KEY=VALUE with KEY in [A-Za-z0-9_]; no blank lines,
# comments or `export`; no quotes (GitLab keeps them literally); no multi-line values;
# no surrounding whitespace (GitLab strips it silently); no duplicate keys. Also: exactly
# the six variables aws-oidc writes, none empty.
check_dotenv() {
  "$py" - "$1" <<'PY'
import re, sys
path = sys.argv[1]
data = open(path, "rb").read()
errors = []
try:
    text = data.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit(f"{path}: not UTF-8: {e}")
if len(data) >= 5 * 1024:
    errors.append(f"{len(data)} bytes; GitLab accepts less than 5 KB (5120 bytes)")
if "\r" in text:
    errors.append("contains a carriage return (CRLF line ends or a multi-line value)")
if not text.endswith("\n"):
    errors.append("last line has no newline")
keys = []
for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
    where = f"line {n}"
    if line.strip() == "":
        errors.append(f"{where}: blank line"); continue
    if line.lstrip().startswith("#"):
        errors.append(f"{where}: comment line"); continue
    if "=" not in line:
        errors.append(f"{where}: no '=' (a multi-line value or stray text)"); continue
    key, value = line.split("=", 1)
    if not re.fullmatch(r"[A-Za-z0-9_]+", key):
        errors.append(f"{where}: variable name {key!r} is not [A-Za-z0-9_]+"); continue
    if value != value.strip():
        errors.append(f"{where}: {key}: value has surrounding whitespace (GitLab strips it)")
    if '"' in value or "'" in value:
        errors.append(f"{where}: {key}: value contains a quote (GitLab keeps quotes literally)")
    if value == "":
        errors.append(f"{where}: {key}: empty value")
    if key in keys:
        errors.append(f"{where}: {key}: duplicate (the last one would win)")
    keys.append(key)
if len(keys) > 20:
    errors.append(f"{len(keys)} variables; GitLab's default limit is 20")
want = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
        "AWS_DEFAULT_REGION", "AWS_CREDENTIAL_EXPIRATION"}
if set(keys) != want:
    errors.append(f"variables {sorted(keys)}, expected {sorted(want)}")
if errors:
    sys.exit(f"{path}: not a valid GitLab dotenv report:\n  " + "\n  ".join(errors))
print(f"{len(keys)} variables, {len(data)} bytes: {' '.join(keys)}")
PY
}

# no_secrets_in_logs DIR DOTENV: neither the ID token nor a secret from DOTENV appears in
# any job log of the project.
no_secrets_in_logs() {
  local dir="$1" dotenv="$2" secret
  for secret in "$id_token" \
      "$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$dotenv")" \
      "$(sed -n 's/^AWS_SESSION_TOKEN=//p' "$dotenv")"; do
    [ -n "$secret" ] || die "no secret to look for in $dotenv"
    if grep -rqF -- "$secret" "$dir/.gitlab-ci-local/output"; then
      die "a secret (ID token, secret key or session token) appears in a job log of $dir"
    fi
  done
}

# The strict checker must reject what GitLab rejects (or silently changes).
printf 'A=1\n\nB=2\n' >"$work/bad.env"
printf '# c\nA=1\n' >"$work/bad2.env"
printf 'A="1"\n' >"$work/bad3.env"
printf 'export A=1\n' >"$work/bad4.env"
printf 'A=1\nline two\n' >"$work/bad5.env"
for f in bad bad2 bad3 bad4 bad5; do
  if check_dotenv "$work/$f.env" >/dev/null 2>&1; then die "the dotenv checker accepts $f.env"; fi
done

role_arn="arn:aws:iam::123456789012:role/gitlab-deploy"
arn_prefix="arn:aws:sts::123456789012:assumed-role/gitlab-deploy"

# --- project 1: include local, output=shell ----------------------------------------
say "project 1: include: local (output: shell) — .aws-oidc, .aws-oidc-dotenv, needs"
p1="$work/project-local"
new_project "$p1" <<EOF
include:
  - local: /templates/aws-oidc.yml
    inputs:
      role_arn: $role_arn
      region: eu-west-1

stages: [auth, deploy]

# (a) credentials in the job's own shell; the job adds its own before_script lines.
deploy:
  extends: .aws-oidc
  stage: deploy
  before_script:
    - !reference [.aws-oidc, before_script]
    - echo "own before_script line ran after aws-oidc"
  script:
    - aws sts get-caller-identity | tee caller.json
    - |
      expected="$arn_prefix/gl-\${CI_PROJECT_ID}-\${CI_PIPELINE_ID}-\${CI_JOB_ID}"
      grep -q "\"Arn\": \"\$expected\"" caller.json || { echo "ASSERT: Arn is not \$expected" >&2; exit 1; }
      test "\$AWS_REGION" = eu-west-1 || { echo "ASSERT: AWS_REGION=\$AWS_REGION" >&2; exit 1; }
      test ! -e aws-oidc.env || { echo "ASSERT: shell mode wrote a file" >&2; exit 1; }
      echo "CHECK-OK deploy \$expected"

# (b) opt-in hand-off: A writes the dotenv report ...
aws-credentials:
  extends: .aws-oidc-dotenv
  stage: auth

# ... B inherits the variables and never runs aws-oidc.
use-credentials:
  stage: deploy
  needs: [aws-credentials]
  script:
    - |
      test -n "\${AWS_ACCESS_KEY_ID:-}" || { echo "ASSERT: no AWS_ACCESS_KEY_ID from the dotenv report" >&2; exit 1; }
      test "\$AWS_REGION" = eu-west-1 || { echo "ASSERT: AWS_REGION=\$AWS_REGION" >&2; exit 1; }
    - aws sts get-caller-identity | tee caller-b.json
    - |
      grep -Eq "\"Arn\": \"$arn_prefix/gl-\${CI_PROJECT_ID}-\${CI_PIPELINE_ID}-[0-9]+\"" caller-b.json || { echo "ASSERT: unexpected Arn" >&2; exit 1; }
      if grep -q -- "-\${CI_JOB_ID}\"" caller-b.json; then echo "ASSERT: session of this job, not of aws-credentials" >&2; exit 1; fi
      echo "CHECK-OK use-credentials"

# A failing aws-oidc must stop the job in before_script (no silent eval of nothing).
fails-closed:
  extends: .aws-oidc
  stage: deploy
  allow_failure: true
  variables:
    AWS_OIDC_TOKEN_ENV: NO_SUCH_TOKEN_VARIABLE
  script:
    - echo "MUST-NOT-RUN"
EOF
t0=$SECONDS
run_pipeline "$p1" project-local
echo "gitlab-ci-local pipeline (include: local) passed in $((SECONDS - t0)) s" >&2

log="$(job_log "$p1" deploy)"
grep -q "CHECK-OK deploy $arn_prefix/gl-" <<<"$log" || { echo "$log" >&2; die "deploy: no CHECK-OK"; }
grep -q "own before_script line ran after aws-oidc" <<<"$log" || die "deploy: own before_script line missing"
grep -m1 '"Arn"' <<<"$log" >&2
ok "(a) job extending .aws-oidc: aws sts get-caller-identity shows $(grep -o "$arn_prefix/gl-[0-9-]*" <<<"$log" | head -n 1)"

log="$(job_log "$p1" use-credentials)"
grep -q "CHECK-OK use-credentials" <<<"$log" || { echo "$log" >&2; die "use-credentials: no CHECK-OK"; }
producer_arn="$(job_log "$p1" aws-credentials | grep -o "assumed $arn_prefix/[^ ]*" | head -n 1 | cut -d' ' -f2)"
[ -n "$producer_arn" ] || die "aws-credentials: no 'assumed <arn>' line"
grep -q "\"Arn\": \"$producer_arn\"" <<<"$log" || die "use-credentials: Arn differs from the one aws-credentials assumed ($producer_arn)"
ok "(b) needs: [aws-credentials] job used the dotenv variables: $producer_arn"

log="$(job_log "$p1" fails-closed)"
if grep -q "MUST-NOT-RUN" <<<"$log"; then die "fails-closed: script ran although aws-oidc failed"; fi
grep -q "aws-oidc: error:" <<<"$log" || { echo "$log" >&2; die "fails-closed: no aws-oidc error"; }
# gitlab-ci-local marks an allowed failure as "<job> finished in <t>  WARN <exit code>";
# 3 is aws-oidc's "no usable ID token".
grep -Eq "^fails-closed finished in .* WARN 3 *\$" "$work/project-local.log" \
  || die "fails-closed: gitlab-ci-local does not report the job as failed with exit code 3"
ok "failing aws-oidc stops the job in before_script: $(grep -m1 'aws-oidc: error:' <<<"$log" | sed 's/^.*aws-oidc: error:/aws-oidc: error:/')"

dotenv1="$(dotenv_report "$p1" aws-credentials)"
summary="$(check_dotenv "$dotenv1")" || die "dotenv report of project 1 breaks GitLab's rules"
ok "dotenv report (.aws-oidc-dotenv) follows GitLab's rules: $summary"
no_secrets_in_logs "$p1" "$dotenv1"
ok "no ID token, secret key or session token in any job log (project 1)"

# --- project 2: include component, output=dotenv ------------------------------------
say "project 2: include: component (output: dotenv) — .aws-oidc as the dotenv producer"
p2="$work/project-component"
new_project "$p2" <<EOF
include:
  # The way GitLab documents testing a component in its own project.
  - component: \$CI_SERVER_FQDN/\$CI_PROJECT_PATH/aws-oidc@\$CI_COMMIT_SHA
    inputs:
      role_arn: $role_arn
      output: dotenv
      duration: 900
      dotenv_file: aws-credentials.env

stages: [auth, deploy]

aws-credentials:
  extends: .aws-oidc
  stage: auth

deploy:
  stage: deploy
  needs: [aws-credentials]
  script:
    - |
      test "\$AWS_REGION" = us-east-1 || { echo "ASSERT: AWS_REGION=\$AWS_REGION (no region input: the partition default)" >&2; exit 1; }
    - aws sts get-caller-identity | tee caller.json
    - |
      grep -Eq "\"Arn\": \"$arn_prefix/gl-\${CI_PROJECT_ID}-\${CI_PIPELINE_ID}-[0-9]+\"" caller.json || { echo "ASSERT: unexpected Arn" >&2; exit 1; }
      echo "CHECK-OK component-deploy"
EOF
t0=$SECONDS
run_pipeline "$p2" project-component
echo "gitlab-ci-local pipeline (include: component) passed in $((SECONDS - t0)) s" >&2
grep -q "CHECK-OK component-deploy" <<<"$(job_log "$p2" deploy)" || { job_log "$p2" deploy >&2; die "component deploy: no CHECK-OK"; }
grep -q "valid until .* (15m 0s)" <<<"$(job_log "$p2" aws-credentials)" \
  || { job_log "$p2" aws-credentials >&2; die "duration input (900 s) not applied"; }
dotenv2="$(dotenv_report "$p2" aws-credentials)"
[ "$(basename "$dotenv2")" = aws-credentials.env ] || die "dotenv_file input not applied: $dotenv2"
summary="$(check_dotenv "$dotenv2")" || die "dotenv report of project 2 breaks GitLab's rules"
ok "component include, output=dotenv, duration=900, dotenv_file: later job authenticated; report: $summary"
no_secrets_in_logs "$p2" "$dotenv2"
ok "no ID token, secret key or session token in any job log (project 2)"

printf '\ncheck-gitlab: all GitLab template checks passed\n' >&2
