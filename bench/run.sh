#!/usr/bin/env bash
# Measure every performance goal of issue 15 in one run, each as a ratio against a floor
# or a peer measured in the same run, and print one table (bench/report.py).
#
#   bench/run.sh [--quick] [--runs N] [--rounds N] [--warmup N] [--stat S] [--bin PATH]
#                [--static-bin PATH]
#                [--only LIST] [--peers] [--no-image] [--markdown FILE] [--strict]
#                [--strace] [--keep] [--nice N] [--wait-idle S]
#
#   --runs N        measured runs per command (default 20; env BENCH_RUNS)
#   --rounds N      split them into N interleaved rounds (default 4; see "timing" below)
#   --warmup N      warm-up runs per command and round (default 3)
#   --stat S        the figure of a command's runs: median (default) or min (steadier on a
#                   busy box; every *_min_ms is in the raw figures anyway)
#   --quick         smoke run: 5 runs in 1 round, 1 warm-up, 100 serve requests, no image
#   --bin PATH      the aws-oidc to measure (default $AWS_OIDC_BIN, else
#                   target/release/aws-oidc, built with `cargo build --release` if missing)
#   --static-bin P  the static build (sizes, and the action's release asset); default
#                   target/<host triple>/release/aws-oidc (scripts/build-static.sh) if it
#                   exists; else the static size is "not measured" and the asset holds --bin
#   --only LIST     comma list of sections: floor,https,cache,serve,targets,size,action
#                   (default: all; plus peers with --peers)
#   --peers         also the peer comparison: awscli (bench/peer_awscli.sh) and boto3
#                   (bench/peer_boto3.py) doing the plain-HTTP job (the "20x faster" claim)
#   --no-image      do not build the container image (its size is then "not measured")
#   --markdown F    also write the table as Markdown to F (README's Performance section)
#   --strict        exit 3 when a goal is missed
#   --strace        also print `strace -f -c` of one plain-HTTP job
#   --keep          keep the work directory
#   --nice N        run everything (servers included) at nice N
#   --wait-idle S   first wait up to S s for the load average to drop below half the CPUs
#
# Exit: 0; 1 when a tool failed its job (a wrong or missing result, a cache miss); 2 on a
# usage/setup error; 3 with --strict when a goal is missed.
#
# How (all servers on loopback; every command runs in a scrubbed environment, env -i, fresh
# HOME, AWS_EC2_METADATA_DISABLED=true; peak RSS = GNU time %M, median of min(runs,10)
# separate runs).
#  timing   hyperfine -N (no shell). The goals' commands and their references (floor, https,
#           cache) run interleaved: --rounds rounds, each a block of runs/rounds runs (after
#           --warmup) of every command in turn, so a load change on a shared box hits a goal
#           and its reference alike; a figure is the median of all its runs (user+sys: mean).
#           The canned servers' counters are checked after every block.
#  job      the GitHub path: GET $ACTIONS_ID_TOKEN_REQUEST_URL (bearer) -> STS
#           AssumeRoleWithWebIdentity -> `--output github` appending to $GITHUB_ENV; the
#           file is checked after the runs, and the canned server's /_stats must show one
#           token and one STS request per job.
#  floor    floor = t(aws-oidc --version) + t(2 round trips): process start plus the two
#           requests of the job made by bench/roundtrips.c (cc -O2) on fresh connections to
#           the same canned server, timed inside that client (200 pairs a round; the median
#           of the rounds' medians), so no process start is in it. `roundtrips 2` and
#           `roundtrips 0` as processes are in the raw figures too (their difference is the
#           same cost, but on a busy box the noise of two process starts swamps it).
#           Goal: plain-HTTP job <= 2x floor.
#  https    bench/canned_server.c built with OpenSSL, twice: token endpoint on 127.0.0.1,
#           STS on 127.0.0.2 (two hosts, two handshakes; both loopback on Linux, so no
#           /etc/hosts edit; IP SANs, so no SNI is sent). A private CA and its leaf (RSA
#           2048, SANs IP:127.0.0.1, IP:127.0.0.2) are made with the openssl CLI; the bundle
#           is that CA + /etc/ssl/certs/ca-certificates.crt. aws-oidc gets it as
#           AWS_CA_BUNDLE (and, reported too, SSL_CERT_FILE); the peer is one curl process:
#           `curl --cacert B -H 'Authorization: bearer ..' URL1 --next --cacert B -d .. URL2`
#           (both servers' handshake counters must grow by one per run).
#           Goal: HTTPS job <= 0.6x curl.
#  cache    `credential-process --token-file F --cache-dir D` (plain-HTTP STS): one run
#           fills the cache, then the hits are timed; the STS count must not move.
#           Goal: <= 1.5x `aws-oidc --version`.
#  serve    `exec --serve ... -- python3 bench/serve_client.py`: the child makes 500 SDK-style
#           requests (new connection each, Authorization header) and times each one
#           (time.perf_counter, connect to parsed JSON, Python's own cost included); the
#           server's peak RSS is its VmHWM (GNU time would count the Python child).
#           Goal: median <= 1 ms.
#  targets  bench/targets.sh --latency-ms 100: `assume --config` with 20 targets vs 1 against
#           the fake STS (tests/conformance/fake_sts.py) answering after 100 ms.
#           Goal: 20 targets <= 2x one target.
#  size     bytes of --bin, the static build, the action's release asset (tar.gz, laid out
#           as .github/workflows/release.yml does) and, with podman, the image built as
#           scripts/image-smoke.sh does (scripts/lib/image.sh; `podman image inspect
#           --format {{.Size}}`). MB = 10^6 bytes. Goals: 6.0 / 6.5 / 8 MB.
#  memory   peak RSS of each path above (job plain, job HTTPS, cache hit, 20 targets,
#           serve server). Goal: <= 8 MiB each.
#  action   a fresh runner: a copy of action.yml + action/ whose checksums.txt lists the
#           asset, a local mirror (python3 http.server, AWS_OIDC_DOWNLOAD_URL=<url>, files at
#           <url>/<version>/<asset>), an empty RUNNER_TOOL_CACHE for every run; then
#           `bash action/main.sh` with the environment action.yml's step gives it (AOI_*
#           inputs at their defaults, AO_RUNNER_OS/ARCH), plain-HTTP endpoints, until the
#           credentials are in GITHUB_ENV. Reported next to configure-aws-credentials'
#           published ~0.4 s on node (a published figure, not measured here); not a goal.
#  peers    (--peers) the plain-HTTP job with --output env=FILE vs awscli and boto3.
#
# Needs: hyperfine, GNU time, curl, openssl, cc + libssl-dev, python3 (apt-get installs the
# missing ones when run as root on Debian); podman for the image size.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$repo/bench"
# shellcheck source=scripts/lib/system-deps.sh
. "$repo/scripts/lib/system-deps.sh"
# shellcheck source=scripts/lib/image.sh
. "$repo/scripts/lib/image.sh"
cd "$repo"

runs="${BENCH_RUNS:-20}"
rounds=4
stat=median
warmup=3
quick=0
bin="${AWS_OIDC_BIN:-}"
static_bin=""
only="floor,https,cache,serve,targets,size,action"
peers=0
image=1
markdown=""
strict=0
do_strace=0
keep=0
nice_n=""
wait_idle=0
serve_n=500
role_arn="arn:aws:iam::123456789012:role/bench"
orig_args=("$@")

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --runs=*) runs="${1#*=}"; shift ;;
    --stat) stat="${2:?}"; shift 2 ;;
    --stat=*) stat="${1#*=}"; shift ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --rounds=*) rounds="${1#*=}"; shift ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --warmup=*) warmup="${1#*=}"; shift ;;
    --quick) quick=1; shift ;;
    --bin) bin="${2:?}"; shift 2 ;;
    --bin=*) bin="${1#*=}"; shift ;;
    --static-bin) static_bin="${2:?}"; shift 2 ;;
    --static-bin=*) static_bin="${1#*=}"; shift ;;
    --only) only="${2:?}"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --peers) peers=1; shift ;;
    --no-image) image=0; shift ;;
    --markdown) markdown="${2:?}"; shift 2 ;;
    --markdown=*) markdown="${1#*=}"; shift ;;
    --strict) strict=1; shift ;;
    --strace) do_strace=1; shift ;;
    --keep) keep=1; shift ;;
    --nice) nice_n="${2:?}"; shift 2 ;;
    --nice=*) nice_n="${1#*=}"; shift ;;
    --wait-idle) wait_idle="${2:?}"; shift 2 ;;
    --wait-idle=*) wait_idle="${1#*=}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
if [ "$quick" = 1 ]; then runs=5; rounds=1; warmup=1; serve_n=100; image=0; fi
case "$runs" in ''|*[!0-9]*|0) die "--runs must be a positive integer" ;; esac
case "$rounds" in ''|*[!0-9]*|0) die "--rounds must be a positive integer" ;; esac
case "$stat" in median|min) ;; *) die "--stat must be median or min" ;; esac
case "$warmup" in ''|*[!0-9]*) die "--warmup must be a non-negative integer" ;; esac
case "$wait_idle" in ''|*[!0-9]*) die "--wait-idle must be a number of seconds" ;; esac
[ "$peers" = 0 ] || only="$only,peers"
for s in ${only//,/ }; do
  case "$s" in floor|https|cache|serve|targets|size|action|peers) ;; *) die "unknown section '$s'" ;; esac
done
want() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
if [ -n "$nice_n" ] && [ -z "${_BENCH_NICED:-}" ]; then
  case "$nice_n" in ''|*[!0-9-]*) die "--nice must be an integer" ;; esac
  _BENCH_NICED=1 exec nice -n "$nice_n" "$0" "${orig_args[@]}"
fi
rss_runs=$((runs < 10 ? runs : 10))
runs_per_round=$(((runs + rounds - 1) / rounds))

# --- tools ------------------------------------------------------------------------------
needs=(hyperfine=hyperfine /usr/bin/time=time curl=curl openssl=openssl cc=gcc
  /usr/include/openssl/ssl.h=libssl-dev python3=python3)
[ "$peers" = 0 ] || needs+=(jq=jq)
[ "$do_strace" = 0 ] || needs+=(strace=strace)
ensure_packages bench "${needs[@]}" || die "missing tools (see above)"
/usr/bin/time --version 2>&1 | grep -q GNU || die "/usr/bin/time is not GNU time"
py=python3

# --- binaries ---------------------------------------------------------------------------
if [ -z "$bin" ]; then
  bin="$repo/target/release/aws-oidc"
  if [ ! -x "$bin" ]; then
    say "cargo build --release (target/release/aws-oidc is missing)"
    cargo build --release --locked --quiet
  fi
fi
case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
[ -x "$bin" ] || die "aws-oidc binary not found at $bin"
triple="$(uname -m)-unknown-linux-gnu"
if [ -z "$static_bin" ]; then
  static_bin="${CARGO_TARGET_DIR:-$repo/target}/$triple/release/aws-oidc"
  [ -x "$static_bin" ] || static_bin=""
fi
if [ -n "$static_bin" ]; then
  case "$static_bin" in /*) ;; *) static_bin="$repo/$static_bin" ;; esac
  [ -x "$static_bin" ] || die "--static-bin $static_bin is not executable"
fi

# --- work dir, cleanup ------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/aws-oidc-bench.XXXXXX")"
case "$work$repo$bin$static_bin" in *[[:space:]]*) die "paths with spaces are not supported (hyperfine -N)" ;; esac
res="$work/res"
mkdir -p "$work/home" "$work/tmp" "$work/out" "$work/log" "$res"
results="$res/results"
: >"$results"
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

put() { printf '%s=%s\n' "$1" "$2" >>"$results"; }  # a result for report.py
failed=0
fail() { printf 'bench: FAILED: %s\n' "$*" >&2; put "failed" "$*"; failed=1; }

# --- canned bodies: a GitHub-shaped JWT, its token JSON, STS's XML ----------------------
request_token="bench-request-token-$RANDOM$RANDOM"
"$py" - "$work" <<'PY'
import base64, json, os, secrets, sys, time, uuid
work = sys.argv[1]
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
with open(os.path.join(work, "jwt"), "w") as f:
    f.write(jwt)
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
jwt="$(cat "$work/jwt")"
expect_akid="$(cat "$work/akid")"

# --- C programs and servers -------------------------------------------------------------
say "building bench/canned_server.c (OpenSSL) and bench/roundtrips.c (cc -O2)"
cc -O2 -pthread -DCANNED_TLS -o "$work/canned_server" "$bench/canned_server.c" -lssl -lcrypto \
  2>"$work/log/cc.log" || { cat "$work/log/cc.log" >&2; die "cannot build canned_server.c"; }
cc -O2 -o "$work/roundtrips" "$bench/roundtrips.c" 2>"$work/log/cc.log" \
  || { cat "$work/log/cc.log" >&2; die "cannot build roundtrips.c"; }

wait_port_file() {  # FILE PID -> prints port
  local i
  for i in $(seq 1 200); do
    [ -s "$1" ] && { head -n1 "$1"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# start_canned NAME [--bind ADDR] [--tls CERT KEY]: sets port_NAME
start_canned() {
  local name="$1" pid port
  shift
  "$work/canned_server" "$@" "$work/$name.port" "$work/token.json" "$work/sts.xml" "$request_token" \
    >"$work/log/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  port="$(wait_port_file "$work/$name.port" "$pid")" \
    || { cat "$work/log/$name.log" >&2; die "canned server $name did not start"; }
  printf -v "port_$name" '%s' "$port"
}
# stats NAME HOST -> the server's counters as "token=N sts=N bad=N tls=N"
stats() {
  local scheme=http extra=()
  [ "$1" = plain ] || { scheme=https; extra=(--cacert "$work/bundle.pem"); }
  local p="port_$1"
  curl -sf --max-time 2 "${extra[@]}" "$scheme://$2:${!p}/_stats"
}
stat_of() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }  # "k=v k=v" KEY

say "private CA + leaf for 127.0.0.1 and 127.0.0.2 (openssl)"
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=aws-oidc bench CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=aws-oidc bench"
  printf 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >leaf.ext
  openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile leaf.ext -out leaf.pem
  cat ca.pem /etc/ssl/certs/ca-certificates.crt >bundle.pem
) >"$work/log/openssl.log" 2>&1 || { cat "$work/log/openssl.log" >&2; die "openssl could not make the certificates"; }
bundle_certs="$(grep -c 'BEGIN CERTIFICATE' "$work/bundle.pem")"
put bundle_certs "$bundle_certs"

say "starting the canned servers (plain 127.0.0.1; TLS 127.0.0.1 token, 127.0.0.2 STS)"
start_canned plain
start_canned tlstok --tls "$work/leaf.pem" "$work/leaf.key" --bind 127.0.0.1
start_canned tlssts --tls "$work/leaf.pem" "$work/leaf.key" --bind 127.0.0.2
stats plain 127.0.0.1 >/dev/null || die "the plain canned server does not answer"
stats tlssts 127.0.0.2 >/dev/null || die "the TLS canned server on 127.0.0.2 does not answer"
# shellcheck disable=SC2154 # set by start_canned
{
  plain_base="http://127.0.0.1:$port_plain"
  tok_https="https://127.0.0.1:$port_tlstok/token?api-version=2.0"
  sts_https="https://127.0.0.2:$port_tlssts"
}

# --- environments -----------------------------------------------------------------------
base_env=(env -i "HOME=$work/home" "TMPDIR=$work/tmp" "PATH=/usr/local/bin:/usr/bin:/bin"
  "LANG=C.UTF-8" "NO_PROXY=127.0.0.1,127.0.0.2,localhost" "no_proxy=127.0.0.1,127.0.0.2,localhost"
  "AWS_EC2_METADATA_DISABLED=true" "AWS_OIDC_QUIET=true")
gh_vars=("ACTIONS_ID_TOKEN_REQUEST_TOKEN=$request_token" "GITHUB_ACTIONS=true" "CI=true"
  "GITHUB_RUN_ID=9876543210" "GITHUB_RUN_ATTEMPT=1" "GITHUB_REPOSITORY=octo-org/demo")
github_env="$work/out/github_env"
env_plain=("${base_env[@]}" "${gh_vars[@]}" "GITHUB_ENV=$github_env"
  "ACTIONS_ID_TOKEN_REQUEST_URL=$plain_base/token?api-version=2.0" "AWS_ENDPOINT_URL_STS=$plain_base")
env_https=("${base_env[@]}" "${gh_vars[@]}" "GITHUB_ENV=$github_env"
  "ACTIONS_ID_TOKEN_REQUEST_URL=$tok_https" "AWS_ENDPOINT_URL_STS=$sts_https")
# shellcheck disable=SC2034 # used through a nameref
env_tokfile=("${base_env[@]}" "AWS_ENDPOINT_URL_STS=$plain_base")
job_cmd="$bin assume --role-arn $role_arn --output github"

# check_creds FILE: the file holds the canned credentials (env-file or GITHUB_ENV format)
check_creds() {
  [ -s "$1" ] || { echo "no credentials written to $1"; return 1; }
  grep -q "$expect_akid" "$1" || { echo "$1 lacks the canned AWS_ACCESS_KEY_ID"; return 1; }
  grep -q 'AWS_SECRET_ACCESS_KEY' "$1" || { echo "$1 lacks AWS_SECRET_ACCESS_KEY"; return 1; }
  grep -q 'AWS_SESSION_TOKEN' "$1" || { echo "$1 lacks AWS_SESSION_TOKEN"; return 1; }
}

# hf NAME ENV_ARRAY CMD [HYPERFINE_ARGS...]: one hyperfine -N block of --runs R (default:
# runs_per_round) after --warmup; its JSON goes to $res/hf/NAME.<n>.json. hf_summary later
# pools every block of a NAME: NAME_ms (median of all runs), NAME_cpu_ms (mean user+sys).
mkdir -p "$res/hf"
hf() {
  local name="$1" cmd="$3" n=1 r="$runs_per_round" args=()
  local -n _env="$2"
  shift 3
  while [ $# -gt 0 ]; do
    case "$1" in --runs) r="$2"; shift 2 ;; *) args+=("$1"); shift ;; esac
  done
  while [ -e "$res/hf/$name.$n.json" ]; do n=$((n + 1)); done
  last_runs=$((r + warmup))
  if ! "${_env[@]}" hyperfine -N --style none --warmup "$warmup" --runs "$r" "${args[@]}" \
        --export-json "$res/hf/$name.$n.json" "$cmd" >"$work/log/$name.hf" 2>&1; then
    tail -n 20 "$work/log/$name.hf" >&2
    rm -f "$res/hf/$name.$n.json"
    fail "$name: a run of \`$cmd\` failed"
    return 1
  fi
}
hf_summary() {
  "$py" - "$res/hf" "$stat" >>"$results" <<'PY'
import glob, json, os, statistics, sys
stat = sys.argv[2]
pooled = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    name = os.path.basename(path).rsplit(".", 2)[0]
    r = json.load(open(path))["results"][0]
    p = pooled.setdefault(name, {"times": [], "cpu": []})
    p["times"] += r["times"]
    p["cpu"].append((r["user"] + r["system"], len(r["times"])))
for name, p in pooled.items():
    cpu = sum(c * n for c, n in p["cpu"]) / sum(n for _, n in p["cpu"])
    print(f"{name}_ms={(min if stat == 'min' else statistics.median)(p['times']) * 1e3:.3f}")
    print(f"{name}_min_ms={min(p['times']) * 1e3:.3f}")
    print(f"{name}_cpu_ms={cpu * 1e3:.3f}")
    print(f"{name}_n={len(p['times'])}")
PY
}

# rss NAME ENV_ARRAY CMD...: peak RSS (GNU time %M, KiB), median of rss_runs runs -> NAME_rss_kib
rss() {
  local name="$1" i
  local -n _renv="$2"
  shift 2
  : >"$work/rss.$name"
  for i in $(seq 1 "$rss_runs"); do
    if ! "${_renv[@]}" /usr/bin/time -f %M -o "$work/rss.one" "$@" >/dev/null 2>"$work/log/$name.rss.err"; then
      tail -n 20 "$work/log/$name.rss.err" >&2
      fail "$name: run $i of the RSS pass failed"
      return 1
    fi
    tail -n1 "$work/rss.one" >>"$work/rss.$name"
  done
  put "${name}_rss_kib" "$(sort -n "$work/rss.$name" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
}

# once NAME ENV_ARRAY CMD...: one checked run (exit 0), output in $work/log/NAME.once.*
once() {
  local name="$1"
  local -n _oenv="$2"
  shift 2
  if ! "${_oenv[@]}" "$@" >"$work/log/$name.once.out" 2>"$work/log/$name.once.err"; then
    tail -n 20 "$work/log/$name.once.err" >&2
    fail "$name: \`$*\` failed"
    return 1
  fi
}

# snapshot: every canned server's counters, prefixed p_ (plain), t_ (TLS token), s_ (TLS STS)
snapshot() {
  local p t s
  p="$(stats plain 127.0.0.1)"; t="$(stats tlstok 127.0.0.1)"; s="$(stats tlssts 127.0.0.2)"
  printf 'p_%s t_%s s_%s' "${p// / p_}" "${t// / t_}" "${s// / s_}"
}
# per_run BEFORE AFTER KEY RUNS: the counter's growth divided by RUNS (for *_tls: minus the
# handshake of the /_stats request that read AFTER)
per_run() {
  awk -v a="$(stat_of "$1" "$3")" -v b="$(stat_of "$2" "$3")" -v n="$4" -v k="$3" \
    'BEGIN { if (k ~ /_tls$/) b -= 1; printf "%.2f", (b - a) / n }'
}
# expect NAME BEFORE AFTER RUNS KEY=WANT...: each counter grew by WANT per run, else fail
expect() {
  local name="$1" before="$2" after="$3" n="$4" kv got ok=0
  shift 4
  for kv in "$@"; do
    got="$(per_run "$before" "$after" "${kv%=*}" "$n")"
    awk -v g="$got" -v w="${kv#*=}" 'BEGIN { exit !(g == w) }' \
      || { fail "$name: ${kv%=*} grew by $got per run, want ${kv#*=} (server counters)"; ok=1; }
  done
  return "$ok"
}

# The interleaved timings: commands registered with `timed` run in `rounds` rounds of
# runs_per_round runs each (A B C, A B C, ...), so a load change on a shared box hits the
# goal and its reference alike; the checks run after every block.
#   timed NAME ENV_ARRAY CMD CHECK_FN [PREPARE_CMD]   (PREPARE_CMD: hyperfine --prepare)
#   CHECK_FN NAME BEFORE AFTER RUNS   (BEFORE/AFTER: snapshots around the block)
timed_names=()
declare -A t_env t_cmd t_check t_prep
timed() {
  timed_names+=("$1"); t_env[$1]="$2"; t_cmd[$1]="$3"; t_check[$1]="$4"; t_prep[$1]="${5:-}"
}
no_check() { :; }
check_job_plain() {  # one token and one STS request per run; GITHUB_ENV filled
  expect "$1" "$2" "$3" "$4" p_token=1 p_sts=1 && { why="$(check_creds "$github_env")" || fail "$1: $why"; }
}
check_https() {  # one handshake + request on each host per run
  expect "$1" "$2" "$3" "$4" t_tls=1 s_tls=1 t_token=1 s_sts=1
  [ "$1" = curl_https ] || { why="$(check_creds "$github_env")" || fail "$1: $why"; }
}
check_cache_hit() { expect "$1" "$2" "$3" "$4" p_sts=0 p_token=0; }

# --- meta ---------------------------------------------------------------------------------
cpus="$(nproc 2>/dev/null || echo '?')"
model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1)"
if [ "$wait_idle" -gt 0 ]; then
  say "waiting up to ${wait_idle}s for the load average to drop below $cpus/2"
  deadline=$((SECONDS + wait_idle))
  while [ "$SECONDS" -lt "$deadline" ] \
        && awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v c="$cpus" 'BEGIN { exit !(l+0 > c * 0.5) }'; do
    sleep 5
  done
fi
load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
if awk -v l="${load%% *}" -v c="$cpus" 'BEGIN { exit !(c+0 > 0 && l+0 > c * 0.5) }'; then
  say "warning: load average $load on $cpus CPUs (another build running?); timings will be noisy"
fi
rel() { case "$1" in "$repo"/*) echo "${1#"$repo"/}" ;; *) echo "$1" ;; esac; }
put host "${cpus} CPUs${model:+, $model}"
put cpus "$cpus"
put load "$load"
put runs "$runs"
put rounds "$rounds"
put stat "$stat"
put warmup "$warmup"
put rss_runs "$rss_runs"
put bin "$(rel "$bin")"
put bin_version "$("$bin" --version 2>/dev/null | head -n1)"
put static_bin "${static_bin:+$(rel "$static_bin")}"
put nice "$nice_n"

# --- the interleaved sections: what they time, after one checked run each ---------------
# floor: the plain-HTTP job vs process start + two round trips
if want floor || want cache; then timed version base_env "$bin --version" no_check; fi
if want floor; then
  # the two round trips are also timed inside bench/roundtrips.c: see the rounds below.
  # And as a process, for the raw figures: roundtrips 2 - roundtrips 0 is the same cost
  # plus noise of two process starts
  timed rt0 base_env "$work/roundtrips $port_plain $request_token $work/jwt 0" no_check
  timed rt2 base_env "$work/roundtrips $port_plain $request_token $work/jwt 2" no_check
  rm -f "$github_env"
  # shellcheck disable=SC2086 # job_cmd holds no spaces inside its words
  if once job_plain env_plain $job_cmd; then
    if why="$(check_creds "$github_env")"; then
      timed job_plain env_plain "$job_cmd" check_job_plain "rm -f $github_env"
    else
      fail "job_plain: $why"
    fi
  fi
fi

# https: the job over TLS (two hosts) vs curl doing the same two requests in one process
if want https; then
  curl_cmd="curl -sSf -o /dev/null --cacert $work/bundle.pem -H 'Authorization: bearer $request_token' '$tok_https&audience=sts.amazonaws.com' --next -sSf -o /dev/null --cacert $work/bundle.pem -d 'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=$role_arn&RoleSessionName=bench&WebIdentityToken=$jwt' $sts_https/"
  timed curl_https base_env "$curl_cmd" check_https
  # shellcheck disable=SC2034 # used through a nameref
  env_https_bundle=("${env_https[@]}" "AWS_CA_BUNDLE=$work/bundle.pem")
  # shellcheck disable=SC2034 # used through a nameref
  env_https_certfile=("${env_https[@]}" "SSL_CERT_FILE=$work/bundle.pem")
  for name in job_https job_https_sslcertfile; do
    e=env_https_bundle; [ "$name" = job_https ] || e=env_https_certfile
    rm -f "$github_env"
    # shellcheck disable=SC2086
    once "$name" "$e" $job_cmd || continue
    why="$(check_creds "$github_env")" || { fail "$name: $why"; continue; }
    timed "$name" "$e" "$job_cmd" check_https "rm -f $github_env"
  done
fi

# cache: credential-process served from its cache (the first run fills it)
cp_cmd="$bin credential-process --role-arn $role_arn --token-file $work/jwt --cache-dir $work/cpcache"
if want cache; then
  # shellcheck disable=SC2086
  if once cache_fill env_tokfile $cp_cmd; then
    if grep -q "\"AccessKeyId\": *\"$expect_akid\"" "$work/log/cache_fill.once.out"; then
      timed cache_hit env_tokfile "$cp_cmd" check_cache_hit
    else
      fail "cache_hit: credential-process printed no AccessKeyId"
    fi
  fi
fi

if [ "${#timed_names[@]}" -gt 0 ]; then
  say "timing ${timed_names[*]}: $rounds rounds of $runs_per_round runs (+$warmup warm-up) each"
  for round in $(seq 1 "$rounds"); do
    for name in "${timed_names[@]}"; do
      before="$(snapshot)"
      prep=()
      [ -z "${t_prep[$name]}" ] || prep=(--prepare "${t_prep[$name]}")
      if hf "$name" "${t_env[$name]}" "${t_cmd[$name]}" "${prep[@]}"; then
        after="$(snapshot)"
        "${t_check[$name]}" "$name" "$before" "$after" "$last_runs" || true
      fi
    done
    if want floor; then  # the floor's round trips: median of 200 pairs, inside the client
      "$work/roundtrips" "$port_plain" "$request_token" "$work/jwt" 2 200 >>"$work/rt_inproc" \
        || fail "roundtrips: the two requests to the canned server failed"
    fi
    say "round $round of $rounds done"
  done
  if [ -s "$work/rt_inproc" ]; then  # median of the rounds' medians, in ms
    put rt2_inproc_ms "$(sort -n "$work/rt_inproc" | awk '{a[NR]=$1} END {printf "%.3f", (a[int((NR+1)/2)] + a[int(NR/2)+1]) / 2000}')"
  fi
  say "peak RSS of the jobs and the cache hit (GNU time, $rss_runs runs each)"
  for name in job_plain job_https cache_hit; do
    case " ${timed_names[*]} " in *" $name "*) ;; *) continue ;; esac
    before="$(snapshot)"
    # shellcheck disable=SC2086
    rss "$name" "${t_env[$name]}" ${t_cmd[$name]} || true
    [ "$name" != cache_hit ] || check_cache_hit cache_hit "$before" "$(snapshot)" 1 || true
  done
fi

# --- serve: exec --serve answering an SDK's credential requests ---------------------------
if want serve; then
  say "serve: exec --serve, $serve_n SDK-style requests from the child"
  if once serve env_tokfile "$bin" exec --serve --role-arn "$role_arn" --token-file "$work/jwt" \
       -- "$py" "$bench/serve_client.py" "$serve_n" "$res/serve"; then
    cat "$res/serve" >>"$results"
  fi
fi

# --- targets: 20 roles vs 1 at 100 ms STS latency ---------------------------------------
if want targets; then
  say "targets: bench/targets.sh --latency-ms 100 (20 targets vs 1)"
  if bash "$bench/targets.sh" --bin "$bin" --latency-ms 100 --runs "$runs" --warmup "$warmup" \
       --max-ratio 1000 --result "$res/targets" >"$work/log/targets.log" 2>&1; then
    sed -e 's/^one_ms_100=/targets_one_ms=/' -e 's/^many_ms_100=/targets_many_ms=/' \
      -e 's/^inflight_100=/targets_inflight=/' -e 's/^many_rss_kib=/targets_rss_kib=/' \
      "$res/targets" >>"$results"
  else
    tail -n 20 "$work/log/targets.log" >&2
    fail "targets: bench/targets.sh failed"
  fi
fi

# --- size (and the release asset the action downloads) ---------------------------------
asset_bin="${static_bin:-$bin}"
asset_version="v$("$asset_bin" --version | awk '{print $2; exit}')"
asset_name="aws-oidc-$asset_version-$triple"
make_asset() {  # as .github/workflows/release.yml packages it
  mkdir -p "$work/dist/$asset_name" "$work/mirror/$asset_version"
  cp "$asset_bin" "$work/dist/$asset_name/aws-oidc"
  cp "$repo/LICENSE" "$repo/README.md" "$work/dist/$asset_name/"
  tar -C "$work/dist" -czf "$work/mirror/$asset_version/$asset_name.tar.gz" "$asset_name"
}
if want size || want action; then make_asset; fi
if want size; then
  say "size: binaries, release asset${image:+, image}"
  put size_bin "$(stat -c %s "$bin")"
  if command -v readelf >/dev/null 2>&1 && readelf -SW "$bin" 2>/dev/null | grep -Eq ' \.(symtab|debug_info) '; then
    put size_bin_note "not stripped: has a symbol table or debug info"
  fi
  [ -z "$static_bin" ] || put size_static "$(stat -c %s "$static_bin")"
  put size_asset "$(stat -c %s "$work/mirror/$asset_version/$asset_name.tar.gz")"
  put size_asset_of "$( [ -n "$static_bin" ] && echo static || echo bin)"
  if [ "$image" = 1 ] && command -v podman >/dev/null 2>&1; then
    if [ -z "$static_bin" ]; then
      put size_image_note "no static build (scripts/build-static.sh or --static-bin)"
    elif mkdir -p "$work/image" && image_containers_conf 2>/dev/null \
         && image_build "$static_bin" localhost/aws-oidc:bench "$work/image" "${asset_version#v}" \
              >"$work/log/image.log" 2>&1; then
      put size_image "$(podman image inspect --format '{{.Size}}' localhost/aws-oidc:bench)"
      podman rmi localhost/aws-oidc:bench >/dev/null 2>&1 || true
    else
      tail -n 20 "$work/log/image.log" >&2
      put size_image_note "podman build failed"
    fi
  else
    put size_image_note "$([ "$image" = 0 ] && echo "--no-image/--quick" || echo "no podman")"
  fi
fi

# --- action: install.sh downloading the asset on a fresh runner, then the job ----------
if want action; then
  say "action: action/main.sh on a fresh runner (download from a local mirror, SHA-256, run)"
  act="$work/action-copy"
  mkdir -p "$act/action" "$work/runner_temp" "$work/mirror-log"
  cp "$repo/action.yml" "$act/"
  cp "$repo/action/main.sh" "$repo/action/install.sh" "$act/action/"
  { grep '^#' "$repo/action/checksums.txt" || true
    (cd "$work/mirror/$asset_version" && sha256sum "$asset_name.tar.gz")
  } >"$act/action/checksums.txt"
  "$py" -c '
import functools, http.server, os, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(H, directory=sys.argv[1]))
with open(sys.argv[2] + ".tmp", "w") as f: f.write("%d\n" % srv.server_address[1])
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()' "$work/mirror" "$work/mirror.port" >"$work/log/mirror.log" 2>&1 &
  mirror_pid=$!
  pids+=("$mirror_pid")
  mirror_port="$(wait_port_file "$work/mirror.port" "$mirror_pid")" || die "the mirror did not start"
  toolcache="$work/toolcache"
  # The step's environment: action.yml's env: block with the inputs at their defaults.
  # shellcheck disable=SC2034 # used through a nameref
  env_action=("${env_plain[@]}" "GITHUB_ACTION_PATH=$act" "RUNNER_TOOL_CACHE=$toolcache"
    "RUNNER_TEMP=$work/runner_temp" "GITHUB_OUTPUT=$work/out/github_output"
    "AWS_OIDC_DOWNLOAD_URL=http://127.0.0.1:$mirror_port"
    "AO_ACTION_REF=" "AO_ACTION_REPOSITORY=octo-org/aws-oidc" "AO_RUNNER_OS=Linux"
    "AO_RUNNER_ARCH=$(case "$(uname -m)" in aarch64) echo ARM64 ;; *) echo X64 ;; esac)"
    "AO_VERSION=" "AO_REPOSITORY_VISIBILITY=private"
    "AOI_AWS_REGION=us-east-1" "AOI_ROLE_TO_ASSUME=$role_arn" "AOI_AUDIENCE=sts.amazonaws.com"
    "AOI_ROLE_CHAINING=false" "AOI_MASK_AWS_ACCOUNT_ID=false" "AOI_OUTPUT_CREDENTIALS=false"
    "AOI_RETRY_MAX_ATTEMPTS=12" "AOI_DISABLE_RETRY=false" "AOI_OVERWRITE_AWS_PROFILE=false"
    "AOI_UNSET_CURRENT_CREDENTIALS=false" "AOI_CONSOLE_URL=false"
    "AOI_ROLE_SKIP_SESSION_TAGGING=false" "AOI_SPECIAL_CHARACTERS_WORKAROUND=false"
    "AOI_USE_EXISTING_CREDENTIALS=false" "AOI_FORCE_SKIP_OIDC=false")
  rm -rf "$toolcache" "$github_env"
  if once action env_action bash "$act/action/main.sh"; then
    if ! grep -q "downloading http://127.0.0.1:$mirror_port/" "$work/log/action.once.err"; then
      fail "action: install.sh did not download the asset from the mirror"
    elif why="$(check_creds "$github_env")"; then
      hf action env_action "bash $act/action/main.sh" --runs "$runs" --prepare "rm -rf $toolcache $github_env" || true
      why="$(check_creds "$github_env")" || fail "action: $why"
      hf action_install env_action "bash $act/action/install.sh install" --runs "$runs" --prepare "rm -rf $toolcache" || true
      # where install.sh's time goes: its three programs that touch the asset, alone
      asset_path="$work/mirror/$asset_version/$asset_name.tar.gz"
      mkdir -p "$work/untar"
      hf action_part_download base_env "curl -sSf -o /dev/null http://127.0.0.1:$mirror_port/$asset_version/$asset_name.tar.gz" --runs "$runs" || true
      hf action_part_sha256 base_env "sha256sum $asset_path" --runs "$runs" || true
      hf action_part_untar base_env "tar -xzf $asset_path -C $work/untar" --runs "$runs" || true
    else
      fail "action: $why"
    fi
  fi
  # processes the step starts, from one run's trace (when strace is present)
  if command -v strace >/dev/null 2>&1; then
    rm -rf "$toolcache"
    "${env_action[@]}" strace -f -qq -tt -e trace=execve -o "$work/action.strace" bash "$act/action/main.sh" \
      >/dev/null 2>&1 || true
    grep 'execve(' "$work/action.strace" | grep -v ' = -1 ' >"$work/action.execs" || true
    put action_execs "$(wc -l <"$work/action.execs")"
    put action_children "$(grep -c 'SIGCHLD' "$work/action.strace" || true)"
    put action_exec_list "$(grep -o 'execve("[^"]*"' "$work/action.execs" | sed 's/.*\///; s/"$//' | sort | uniq -c | sort -rn | awk '{printf "%s%s x%s", (NR>1?", ":""), $2, $1}')"
  fi
  rm -rf "$work/runner_temp"
fi

# --- peers: the same plain-HTTP job by awscli and boto3 ----------------------------------
if want peers; then
  say "peers: awscli and boto3 (scripts/setup-test-deps.sh .venv)"
  bash "$repo/scripts/setup-test-deps.sh" >"$work/log/venv.log" 2>&1 \
    || { tail -n 20 "$work/log/venv.log" >&2; die "scripts/setup-test-deps.sh failed"; }
  venv_bin="${VENV_DIR:-$repo/.venv}/bin"
  # shellcheck disable=SC2034 # used through a nameref
  env_peer=("${env_plain[@]}" "PATH=$venv_bin:/usr/local/bin:/usr/bin:/bin")
  for t in aws-oidc awscli boto3; do
    out="$work/out/$t.env"
    case "$t" in
      aws-oidc) cmd="$bin assume --role-arn $role_arn --output env=$out" ;;
      awscli) cmd="$bench/peer_awscli.sh $role_arn $out" ;;
      boto3) cmd="$venv_bin/python $bench/peer_boto3.py $role_arn $out" ;;
    esac
    name="peer_${t//-/_}"
    rm -f "$out"
    # shellcheck disable=SC2086
    once "$name" env_peer $cmd || continue
    why="$(check_creds "$out")" || { fail "$name: $why"; continue; }
    hf "$name" env_peer "$cmd" --runs "$runs" --prepare "rm -f $out" || continue
    why="$(check_creds "$out")" || { fail "$name: $why"; continue; }
    # shellcheck disable=SC2086
    rss "$name" env_peer $cmd || true
  done
fi

if [ "$do_strace" = 1 ]; then
  rm -f "$github_env"
  # shellcheck disable=SC2086
  "${env_plain[@]}" strace -f -c -o "$work/strace.txt" $job_cmd >/dev/null 2>&1 || true
  put strace_file "$work/strace.txt"
fi

hf_summary
put load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report -------------------------------------------------------------------------------
report_rc=0
"$py" "$bench/report.py" "$results" ${markdown:+--markdown "$markdown"} || report_rc=$?
[ "$report_rc" = 0 ] || [ "$report_rc" = 3 ] || die "report.py failed ($report_rc)"
if [ "$do_strace" = 1 ]; then
  echo
  echo "strace -f -c of one plain-HTTP job (syscall counts/time; excludes user-space CPU):"
  head -n 25 "$work/strace.txt"
fi
if [ "$failed" = 1 ]; then
  echo "bench: FAILED: a tool did not complete its job (see above)" >&2
  exit 1
fi
if [ "$strict" = 1 ] && [ "$report_rc" = 3 ]; then
  echo "bench: a goal was missed (--strict)" >&2
  exit 3
fi
exit 0
