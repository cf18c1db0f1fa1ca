#!/usr/bin/env bash
# Benchmark the GitHub-Actions-path job end to end, aws-oidc vs. its peers:
#
#   job = GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sts.amazonaws.com (bearer token)
#         -> STS AssumeRoleWithWebIdentity on $AWS_ENDPOINT_URL_STS (127.0.0.1)
#         -> write an env file (AWS_ACCESS_KEY_ID=... lines)
#
#   aws-oidc  target/release/aws-oidc assume --role-arn ... --output env=FILE
#   awscli    bench/peer_awscli.sh: curl | jq, `aws sts assume-role-with-web-identity
#             --no-sign-request`, printf to FILE (awscli v1 from the venv)
#   boto3     bench/peer_boto3.py: urllib + boto3 unsigned client, writes FILE
#
# Each tool runs as a fresh process in a scrubbed environment (env -i, fresh
# HOME, no inherited AWS_*; only the job's variables plus
# AWS_EC2_METADATA_DISABLED=true so nothing can leave 127.0.0.1).
# Wall time: hyperfine -N (no shell), median of --runs after --warmup.
# Peak RSS: GNU time %M, median of --runs separate runs (for the awscli
# snippet that is the largest process of the pipeline, i.e. the aws python).
# Every run's env file is checked; a tool that fails its job makes the script
# exit 1.  Prints a table, the binary size(s) and PASS/FAIL vs the targets.
#
#   bench/run.sh [--runs N] [--warmup N] [--moto] [--bin PATH]
#                [--tools aws-oidc,awscli,boto3] [--strict] [--strace] [--keep]
#
#   --runs N     measured runs per tool (default 30; env BENCH_RUNS)
#   --warmup N   warm-up runs per tool (default 3)
#   --moto       STS = moto_server, token endpoint = scripts/fake_issuer.py
#                (realistic but slow servers: their time is included).  The
#                default is bench/canned_server.c: canned token JSON and canned
#                AssumeRoleWithWebIdentityResponse XML, so the numbers are the
#                clients' own cost.
#   --bin PATH   aws-oidc binary (default target/release/aws-oidc, built with
#                `cargo build --release` if missing; env AWS_OIDC_BIN)
#   --tools L    comma list; aws-oidc is always measured (it is the baseline)
#   --strict     also exit 3 when aws-oidc misses a target
#   --strace     also print `strace -f -c` of one aws-oidc run
#   --keep       keep the work directory (results, logs, env files)
#   --nice N     run everything (servers included) at nice N, e.g. -10 on a
#                box shared with builds (root only for N < 0)
#   --wait-idle S  first wait up to S seconds for the 1-minute load average
#                to drop below half the CPU count (a busy box skews timings)
#
# Targets (2-core box): aws-oidc median <= 20 ms (BENCH_TARGET_MS),
# peak RSS <= 15 MiB (BENCH_TARGET_MIB).
# Needs root+apt-get only if hyperfine, GNU time, curl or jq are missing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/moto.sh
. "$repo/scripts/lib/moto.sh"
bench="$repo/bench"
cd "$repo"

runs="${BENCH_RUNS:-30}"
warmup=3
moto=0
bin="${AWS_OIDC_BIN:-}"
tools_arg="aws-oidc,awscli,boto3"
strict=0
do_strace=0
keep=0
target_ms="${BENCH_TARGET_MS:-20}"
target_mib="${BENCH_TARGET_MIB:-15}"
role_arn="arn:aws:iam::123456789012:role/bench"
nice_n=""
wait_idle=0
orig_args=("$@")

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --runs=*) runs="${1#*=}"; shift ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --warmup=*) warmup="${1#*=}"; shift ;;
    --moto) moto=1; shift ;;
    --bin) bin="${2:?}"; shift 2 ;;
    --bin=*) bin="${1#*=}"; shift ;;
    --tools) tools_arg="${2:?}"; shift 2 ;;
    --tools=*) tools_arg="${1#*=}"; shift ;;
    --strict) strict=1; shift ;;
    --strace) do_strace=1; shift ;;
    --keep) keep=1; shift ;;
    --nice) nice_n="${2:?}"; shift 2 ;;
    --nice=*) nice_n="${1#*=}"; shift ;;
    --wait-idle) wait_idle="${2:?}"; shift 2 ;;
    --wait-idle=*) wait_idle="${1#*=}"; shift ;;
    -h|--help) sed -n '2,44p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) die "--runs must be a positive integer" ;; esac
case "$warmup" in ''|*[!0-9]*) die "--warmup must be a non-negative integer" ;; esac
case "$wait_idle" in ''|*[!0-9]*) die "--wait-idle must be a number of seconds" ;; esac
if [ -n "$nice_n" ] && [ -z "${_BENCH_NICED:-}" ]; then
  case "$nice_n" in ''|*[!0-9-]*) die "--nice must be an integer" ;; esac
  _BENCH_NICED=1 exec nice -n "$nice_n" "$0" "${orig_args[@]}"
fi

tools=(aws-oidc)
IFS=',' read -r -a _req <<<"$tools_arg"
for t in "${_req[@]}"; do
  case "$t" in
    aws-oidc|'') ;;
    awscli|boto3) tools+=("$t") ;;
    *) die "unknown tool '$t' (aws-oidc, awscli, boto3)" ;;
  esac
done

# --- system tools (apt-get only what is missing) ------------------------------
missing=()
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
{ [ -x /usr/bin/time ] && /usr/bin/time --version 2>&1 | grep -q GNU; } || missing+=(time)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v jq >/dev/null 2>&1 || missing+=(jq)
[ "$do_strace" = 0 ] || command -v strace >/dev/null 2>&1 || missing+=(strace)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "apt-get install ${missing[*]}"
    aptlog="$(mktemp)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$aptlog" 2>&1; then
      tail -n 20 "$aptlog" >&2; rm -f "$aptlog"; die "apt-get install ${missing[*]} failed"
    fi
    rm -f "$aptlog"
  else
    die "missing ${missing[*]} and cannot apt-get them (not root or no apt-get)"
  fi
fi

# --- python tools ---------------------------------------------------------------
if [ -x "$repo/scripts/setup-test-deps.sh" ] || [ -f "$repo/scripts/setup-test-deps.sh" ]; then
  say "python tools: scripts/setup-test-deps.sh (.venv)"
  bash "$repo/scripts/setup-test-deps.sh"
  venv="${VENV_DIR:-$repo/.venv}"
else
  venv="${BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/aws-oidc-bench/venv}"
  say "python tools: own venv at $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  pkgs=(awscli boto3)
  [ "$moto" = 0 ] || pkgs+=("moto[server]")
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${pkgs[@]}" \
    || die "pip install ${pkgs[*]} failed"
fi
venv_bin="$venv/bin"
py="$venv_bin/python"
[ -x "$venv_bin/aws" ] || die "awscli not found in $venv_bin"
[ "$moto" = 0 ] || [ -x "$venv_bin/moto_server" ] || die "moto_server not found in $venv_bin"

# --- aws-oidc binary -------------------------------------------------------------
if [ -z "$bin" ]; then
  bin="$repo/target/release/aws-oidc"
  if [ ! -x "$bin" ]; then
    say "cargo build --release (target/release/aws-oidc is missing)"
    cargo build --release --quiet
  fi
fi
case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
[ -x "$bin" ] || die "aws-oidc binary not found at $bin"

# --- work dir, cleanup -------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/aws-oidc-bench.XXXXXX")"
case "$work$repo$venv$bin" in *[[:space:]]*) die "paths with spaces are not supported (hyperfine -N)" ;; esac
mkdir -p "$work/home" "$work/tmp" "$work/out" "$work/res"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "bench: work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- canned bodies -------------------------------------------------------------------
request_token="bench-request-token-$RANDOM$RANDOM"
"$py" - "$work" "$repo" <<'PY'
import base64, json, os, secrets, sys, time, uuid
work, repo = sys.argv[1], sys.argv[2]
now = int(time.time())
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
seg = lambda o: b64(json.dumps(o, separators=(",", ":")).encode())
claims = {  # GitHub Actions-shaped claims; 256-byte "signature" like RS256
    "jti": str(uuid.uuid4()), "sub": "repo:octo-org/demo:ref:refs/heads/main",
    "aud": "sts.amazonaws.com", "ref": "refs/heads/main",
    "sha": "2b0c4b5f1e3c7d2a9e8f6a5b4c3d2e1f0a9b8c7d", "repository": "octo-org/demo",
    "repository_owner": "octo-org", "repository_owner_id": "1342004", "run_id": "9876543210",
    "run_number": "42", "run_attempt": "1", "repository_visibility": "private",
    "repository_id": "583231002", "actor_id": "5432100", "actor": "octocat",
    "workflow": "deploy", "head_ref": "", "base_ref": "", "event_name": "push",
    "ref_protected": "true", "ref_type": "branch",
    "workflow_ref": "octo-org/demo/.github/workflows/deploy.yml@refs/heads/main",
    "job_workflow_ref": "octo-org/demo/.github/workflows/deploy.yml@refs/heads/main",
    "runner_environment": "github-hosted",
    "iss": "https://token.actions.githubusercontent.com",
    "nbf": now, "exp": now + 6 * 3600, "iat": now,  # valid for the whole run
}
jwt = f"{seg({'alg': 'RS256', 'kid': 'bench', 'typ': 'JWT'})}.{seg(claims)}.{b64(secrets.token_bytes(256))}"
with open(os.path.join(work, "token.json"), "w") as f:
    json.dump({"count": 1, "value": jwt}, f)
akid = "ASIABENCH" + secrets.token_hex(6).upper()[:11]
secret = base64.b64encode(secrets.token_bytes(30)).decode()
session = base64.b64encode(secrets.token_bytes(600)).decode()  # ~800 chars, realistic
exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))
xml = f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>repo:octo-org/demo:ref:refs/heads/main</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/bench/gh-9876543210-1</Arn>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:gh-9876543210-1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>{session}</SessionToken>
      <SecretAccessKey>{secret}</SecretAccessKey>
      <Expiration>{exp}</Expiration>
      <AccessKeyId>{akid}</AccessKeyId>
    </Credentials>
    <Provider>token.actions.githubusercontent.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>{uuid.uuid4()}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"""
with open(os.path.join(work, "sts.xml"), "w") as f:
    f.write(xml)
with open(os.path.join(work, "akid"), "w") as f:
    f.write(akid)
PY

# --- servers ---------------------------------------------------------------------------
wait_port_file() {  # FILE PID -> prints port
  local i
  for i in $(seq 1 200); do
    [ -s "$1" ] && { head -n1 "$1"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

canned_kind=""
start_canned() {
  local srv=()
  if command -v cc >/dev/null 2>&1 \
     && cc -O2 -pthread -o "$work/canned_server" "$bench/canned_server.c" 2>"$work/cc.log"; then
    srv=("$work/canned_server"); canned_kind="canned C server"
  else
    say "no working C compiler; using the slower Python canned server"
    srv=("$py" "$bench/canned_server.py"); canned_kind="canned Python server (slower)"
  fi
  "${srv[@]}" "$work/canned.port" "$work/token.json" "$work/sts.xml" "$request_token" \
    >"$work/canned.log" 2>&1 &
  canned_pid=$!
  pids+=("$canned_pid")
  canned_port="$(wait_port_file "$work/canned.port" "$canned_pid")" \
    || { cat "$work/canned.log" >&2; die "canned server did not start"; }
  curl -sf --max-time 2 "http://127.0.0.1:$canned_port/healthz" >/dev/null \
    || die "canned server does not answer"
}


if [ "$moto" = 0 ]; then
  say "starting canned STS + token endpoint"
  start_canned
  sts_url="http://127.0.0.1:$canned_port"
  token_url="http://127.0.0.1:$canned_port/token?api-version=2.0"
  servers="$canned_kind on 127.0.0.1:$canned_port (STS + token endpoint)"
  expect_akid="$(cat "$work/akid")"
else
  say "starting moto_server (STS)"
  if start_moto "$py" "$venv_bin/moto_server" "$work/moto.log"; then pids+=("$moto_pid"); else moto_port=""; fi
  [ -n "$moto_port" ] || { cat "$work/moto.log" >&2; die "moto_server did not start"; }
  sts_url="http://127.0.0.1:$moto_port"
  if [ -f "$repo/scripts/fake_issuer.py" ]; then
    say "starting scripts/fake_issuer.py (token endpoint)"
    "$py" "$repo/scripts/fake_issuer.py" serve --port 0 --port-file "$work/issuer.port" \
      --request-token "$request_token" --ttl 21600 >"$work/issuer.log" 2>&1 &
    ipid=$!
    pids+=("$ipid")
    issuer_port="$(wait_port_file "$work/issuer.port" "$ipid")" \
      || { cat "$work/issuer.log" >&2; die "fake issuer did not start"; }
    for _ in $(seq 1 50); do
      curl -sf --max-time 1 "http://127.0.0.1:$issuer_port/healthz" >/dev/null && break
      sleep 0.05
    done
    token_url="http://127.0.0.1:$issuer_port/token?api-version=2.0"
    servers="moto_server STS on 127.0.0.1:$moto_port; scripts/fake_issuer.py token endpoint on 127.0.0.1:$issuer_port"
  else
    start_canned
    token_url="http://127.0.0.1:$canned_port/token?api-version=2.0"
    servers="moto_server STS on 127.0.0.1:$moto_port; $canned_kind token endpoint on 127.0.0.1:$canned_port"
  fi
  expect_akid=""
fi

# --- the job's environment ------------------------------------------------------------
job_env=(
  env -i
  "HOME=$work/home" "TMPDIR=$work/tmp"
  "PATH=$venv_bin:/usr/local/bin:/usr/bin:/bin"
  "LANG=C.UTF-8"
  "NO_PROXY=127.0.0.1,localhost" "no_proxy=127.0.0.1,localhost"
  "AWS_EC2_METADATA_DISABLED=true"
  "AWS_ENDPOINT_URL_STS=$sts_url"
  "ACTIONS_ID_TOKEN_REQUEST_URL=$token_url"
  "ACTIONS_ID_TOKEN_REQUEST_TOKEN=$request_token"
  "GITHUB_ACTIONS=true" "CI=true"
  "GITHUB_RUN_ID=9876543210" "GITHUB_RUN_ATTEMPT=1" "GITHUB_REPOSITORY=octo-org/demo"
)

out_file() { echo "$work/out/$1.env"; }
tool_cmd() {  # TOOL -> one command line (no shell; hyperfine -N splits on spaces)
  local out; out="$(out_file "$1")"
  case "$1" in
    aws-oidc) echo "$bin assume --role-arn $role_arn --output env=$out" ;;
    awscli)   echo "$bench/peer_awscli.sh $role_arn $out" ;;
    boto3)    echo "$py $bench/peer_boto3.py $role_arn $out" ;;
  esac
}

check_env_file() {  # FILE -> 0 if it holds a usable set of credentials
  local f="$1"
  [ -s "$f" ] || { echo "no env file written"; return 1; }
  grep -Eq '^AWS_ACCESS_KEY_ID=[A-Z0-9]{16,128}$' "$f" || { echo "no valid AWS_ACCESS_KEY_ID in env file"; return 1; }
  grep -Eq '^AWS_SECRET_ACCESS_KEY=.+' "$f" || { echo "no AWS_SECRET_ACCESS_KEY in env file"; return 1; }
  grep -Eq '^AWS_SESSION_TOKEN=.+' "$f" || { echo "no AWS_SESSION_TOKEN in env file"; return 1; }
  if [ -n "$expect_akid" ] && ! grep -qx "AWS_ACCESS_KEY_ID=$expect_akid" "$f"; then
    echo "AWS_ACCESS_KEY_ID does not match the canned STS response"; return 1
  fi
  return 0
}

# --- meta for the report ----------------------------------------------------------------
cpus="$(nproc 2>/dev/null || echo '?')"
model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1)"
load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
static_bin="$repo/target/x86_64-unknown-linux-gnu/release/aws-oidc"
rel() { case "$1" in "$repo"/*) echo "${1#"$repo"/}" ;; *) echo "$1" ;; esac; }
{
  echo "servers=$servers"
  echo "runs=$runs"
  echo "warmup=$warmup"
  echo "host=${cpus} CPUs${model:+, $model}"
  echo "cpus=$cpus"
  echo "load=$load"
  echo "bin=$bin"
  echo "bin_rel=$(rel "$bin")"
  [ "$bin" = "$repo/target/release/aws-oidc" ] && echo "bin_label=release binary" || echo "bin_label=measured binary"
  echo "static_bin=$static_bin"
  echo "static_bin_rel=$(rel "$static_bin")"
  echo "target_ms=$target_ms"
  echo "target_mib=$target_mib"
} >"$work/res/meta"

server_stats() {  # canned server's request counters (only when it serves both endpoints)
  [ "$moto" = 0 ] || return 0
  curl -sf --max-time 2 "http://127.0.0.1:$canned_port/_stats" || true
}

if [ "$wait_idle" -gt 0 ]; then
  say "waiting up to ${wait_idle}s for the load average to drop below $cpus/2"
  deadline=$((SECONDS + wait_idle))
  while [ "$SECONDS" -lt "$deadline" ] \
        && awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v c="$cpus" 'BEGIN { exit !(l+0 > c * 0.5) }'; do
    sleep 5
  done
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  sed -i "s/^load=.*/load=$load/" "$work/res/meta"
fi
[ -z "$nice_n" ] || echo "servers=$servers; everything at nice $nice_n" >>"$work/res/meta"
if awk -v l="${load%% *}" -v c="$cpus" 'BEGIN { exit !(c+0 > 0 && l+0 > c * 0.5) }'; then
  say "warning: load average $load on $cpus CPUs (another build running?); timings will be noisy"
fi

# --- measure ------------------------------------------------------------------------------
failed=0
for t in "${tools[@]}"; do
  res="$work/res/$t"
  out="$(out_file "$t")"
  cmd="$(tool_cmd "$t")"
  # shellcheck disable=SC2206
  argv=($cmd)

  stats_before="$(server_stats)"
  say "$t: checking the job once"
  rm -f "$out"
  rc=0
  "${job_env[@]}" "${argv[@]}" >"$work/$t.check.out" 2>"$work/$t.check.err" || rc=$?
  if [ "$rc" != 0 ]; then
    echo "exit status $rc on the check run" >"$res.status"
    echo "bench: $t failed its job; stderr:" >&2; tail -n 20 "$work/$t.check.err" >&2
    failed=1; continue
  fi
  if ! why="$(check_env_file "$out")"; then
    echo "$why" >"$res.status"; echo "bench: $t: $why" >&2; failed=1; continue
  fi

  say "$t: wall time, hyperfine -N --warmup $warmup --runs $runs"
  if ! "${job_env[@]}" hyperfine -N --style basic --warmup "$warmup" --runs "$runs" \
        --prepare "rm -f $out" --export-json "$res.hf.json" "$cmd" >"$work/$t.hyperfine.log" 2>&1; then
    echo "hyperfine failed (a run exited non-zero)" >"$res.status"
    tail -n 20 "$work/$t.hyperfine.log" >&2; failed=1; continue
  fi
  if ! why="$(check_env_file "$out")"; then
    echo "after hyperfine: $why" >"$res.status"; echo "bench: $t: $why" >&2; failed=1; continue
  fi

  say "$t: peak RSS, /usr/bin/time -f %M x $runs"
  : >"$res.rss"
  ok=1
  for i in $(seq 1 "$runs"); do
    rm -f "$out"
    if ! "${job_env[@]}" /usr/bin/time -f %M -o "$work/rss.one" "${argv[@]}" \
          >/dev/null 2>"$work/$t.rss.err"; then
      echo "run $i of the RSS pass failed" >"$res.status"; tail -n 20 "$work/$t.rss.err" >&2; ok=0; break
    fi
    if ! why="$(check_env_file "$out")"; then
      echo "run $i of the RSS pass: $why" >"$res.status"; ok=0; break
    fi
    tail -n1 "$work/rss.one" >>"$res.rss"
  done
  [ "$ok" = 1 ] || { failed=1; continue; }
  echo ok >"$res.status"
  stats_after="$(server_stats)"
  if [ -n "$stats_before" ] && [ -n "$stats_after" ]; then
    echo "$stats_before $stats_after jobs=$((1 + warmup + 2 * runs))" >"$res.reqs"
  fi
done

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/res/meta"

# --- report ----------------------------------------------------------------------------------
report_rc=0
"$py" "$bench/report.py" "$work/res" "${tools[@]}" || report_rc=$?
[ "$report_rc" = 0 ] || [ "$report_rc" = 3 ] || die "report.py failed ($report_rc)"

if [ "$do_strace" = 1 ]; then
  echo
  echo "strace -f -c of one aws-oidc run (syscall counts/time; excludes user-space CPU):"
  rm -f "$(out_file aws-oidc)"
  # shellcheck disable=SC2046
  "${job_env[@]}" strace -f -c -o "$work/strace.txt" $(tool_cmd aws-oidc) >/dev/null 2>&1 || true
  head -n 25 "$work/strace.txt"
fi

if [ "$failed" = 1 ]; then
  echo "bench: FAILED: at least one tool did not complete its job (see above)" >&2
  exit 1
fi
if [ "$strict" = 1 ] && [ "$report_rc" = 3 ]; then
  echo "bench: aws-oidc missed a target (--strict)" >&2
  exit 3
fi
exit 0
