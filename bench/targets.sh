#!/usr/bin/env bash
# Benchmark many roles in one run: `aws-oidc assume --config` with 20 targets vs 1 target,
# against the fake STS (tests/conformance/fake_sts.py) on 127.0.0.1, token from
# AWS_ID_TOKEN (a GitLab-style JWT minted by scripts/fake_issuer.py).
#
# Each target: AssumeRoleWithWebIdentity + a dotenv file (env={target}.env). STS calls run
# concurrently (aws-oidc's --concurrency, default 8), so 20 targets should cost far less
# than 20x one target. Measured for each STS latency in --latency-ms (default "0,100":
# 0 = aws-oidc's own cost, 100 ms = roughly a real STS round trip from a CI runner).
#
#   bench/targets.sh [--runs N] [--warmup N] [--latency-ms LIST] [--targets N]
#                    [--concurrency N] [--bin PATH] [--max-ratio R] [--keep]
#
#   --runs N          measured runs per case (default 15; env BENCH_RUNS)
#   --latency-ms L    comma list of STS latencies in ms (default 0,100)
#   --targets N       size of the large config (default 20)
#   --concurrency N   pass --concurrency N to aws-oidc (default: aws-oidc's own default)
#   --bin PATH        aws-oidc binary (default $AWS_OIDC_BIN, else target/release/aws-oidc
#                     if it knows --config, else target/debug/aws-oidc; never builds)
#   --max-ratio R     FAIL (exit 3) when a ratio reaches R (default 5)
#   --keep            keep the work directory
#   --result FILE     also write KEY=VALUE lines for bench/run.sh: one_ms_<lat>, many_ms_<lat>,
#                     inflight_<lat> per latency, and many_rss_kib (peak RSS of one run of the
#                     large config, GNU time %M, at the last latency)
#
# Wall time: hyperfine -N (median of --runs after --warmup) when installed, else a loop
# timed with date +%s%N. Every run's outputs are checked (N env files, no STS errors).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

runs="${BENCH_RUNS:-15}"
warmup=2
latencies="0,100"
ntargets=20
concurrency=""
bin="${AWS_OIDC_BIN:-}"
max_ratio=5
keep=0
result=""

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'targets.sh: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --latency-ms) latencies="$2"; shift 2 ;;
    --targets) ntargets="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --max-ratio) max_ratio="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --result) result="$2"; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

py="$repo/.venv/bin/python"
[ -x "$py" ] || py="$(command -v python3)" || die "python3 is needed (fake STS)"

has_config() { "$1" assume --help 2>/dev/null | grep -q -- '--config'; }
if [ -z "$bin" ]; then
  for b in target/release/aws-oidc target/debug/aws-oidc; do
    if [ -x "$b" ] && has_config "$b"; then bin="$repo/$b"; break; fi
  done
  [ -n "$bin" ] || die "no aws-oidc binary with \`assume --config\` (cargo build, or --bin)"
fi
[ -x "$bin" ] || die "not executable: $bin"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
has_config "$bin" || die "$bin has no \`assume --config\`"

if ! command -v hyperfine >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing hyperfine"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1 || true
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/aws-oidc-targets-bench.XXXXXX")"
sts_pid=""
cleanup() {
  if [ -n "$sts_pid" ]; then kill "$sts_pid" 2>/dev/null || true; wait "$sts_pid" 2>/dev/null || true; fi
  if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- fake STS (stdlib server), credentials valid 1 h.
"$py" tests/conformance/fake_sts.py serve --port 0 --port-file "$work/sts.port" --lifetime 3600 \
  >"$work/sts.log" 2>&1 &
sts_pid=$!
for _ in $(seq 100); do [ -s "$work/sts.port" ] && break; sleep 0.05; done
[ -s "$work/sts.port" ] || { cat "$work/sts.log" >&2; die "fake STS did not start"; }
sts="http://127.0.0.1:$(cat "$work/sts.port")"

admin() {  # admin PATH [JSON]: GET, or POST the JSON body
  "$py" - "$sts$1" "${2:-}" <<'EOF'
import sys, urllib.request
url, body = sys.argv[1], sys.argv[2]
req = urllib.request.Request(url, data=body.encode() if body else None)
print(urllib.request.urlopen(req, timeout=10).read().decode())
EOF
}

# --- configs: 1 target and N targets, all writing {target}.env into the cwd.
make_config() {  # make_config N FILE
  {
    printf 'defaults:\n  region: us-east-1\n  session_name: bench\ntargets:\n'
    for i in $(seq 1 "$1"); do
      printf '  t%02d:\n    role_arn: arn:aws:iam::123456789012:role/bench-%02d\n' "$i" "$i"
      printf '    outputs: ["env={target}.env"]\n'
    done
  } >"$2"
}
make_config 1 "$work/one.yml"
make_config "$ntargets" "$work/many.yml"
mkdir -p "$work/out" "$work/home"

token="$("$py" scripts/fake_issuer.py gitlab-token --ttl 3600)"
jobenv=(env -i "PATH=/usr/bin:/bin" "HOME=$work/home" "LANG=C.UTF-8"
  "AWS_ID_TOKEN=$token" "AWS_ENDPOINT_URL_STS=$sts" "AWS_EC2_METADATA_DISABLED=true"
  "NO_PROXY=127.0.0.1" "AWS_OIDC_QUIET=true")
extra=()
[ -n "$concurrency" ] && extra=(--concurrency "$concurrency")

# One checked run of a config: exit 0, every env file written, no STS error.
check_run() {  # check_run CONFIG N
  rm -f "$work/out"/*.env
  (cd "$work/out" && "${jobenv[@]}" "$bin" assume --config "$1" "${extra[@]}") \
    || die "aws-oidc assume --config $1 failed"
  local n; n="$(find "$work/out" -name '*.env' | wc -l)"
  [ "$n" = "$2" ] || die "$1: $n env files, want $2"
}

# median_ms CONFIG -> prints the median wall time in ms
median_ms() {
  local cfg="$1" json="$work/hf.json"
  if command -v hyperfine >/dev/null 2>&1; then
    (cd "$work/out" && "${jobenv[@]}" "$(command -v hyperfine)" -N --style none \
        --warmup "$warmup" --runs "$runs" --export-json "$json" \
        "$bin assume --config $cfg ${extra[*]}") >/dev/null
    "$py" -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$json"
  else
    local i t0 t1
    : >"$work/times"
    for i in $(seq 1 $((warmup + runs))); do
      t0=$(date +%s%N)
      (cd "$work/out" && "${jobenv[@]}" "$bin" assume --config "$cfg" "${extra[@]}") >/dev/null
      t1=$(date +%s%N)
      [ "$i" -gt "$warmup" ] && echo $(( (t1 - t0) / 1000 )) >>"$work/times"
    done
    "$py" -c 'import statistics,sys; print("%.1f" % (statistics.median(float(l) for l in open(sys.argv[1]))/1000))' "$work/times"
  fi
}

tool="loop with date +%s%N"; command -v hyperfine >/dev/null 2>&1 && tool="hyperfine -N"
say "binary $bin"
say "STS $sts; $runs runs after $warmup warm-up per case ($tool)"

status=0
rows=()
IFS=',' read -r -a lats <<<"$latencies"
for lat in "${lats[@]}"; do
  admin /_config "{\"latency_ms\": $lat}" >/dev/null
  admin /_reset '{}' >/dev/null
  check_run "$work/one.yml" 1
  check_run "$work/many.yml" "$ntargets"
  one="$(median_ms "$work/one.yml")"
  many="$(median_ms "$work/many.yml")"
  stats="$(admin /_stats)"
  "$py" -c 'import json,sys; sys.exit(1 if json.loads(sys.argv[1])["errors"] else 0)' "$stats" \
    || die "STS answered with errors at latency $lat ms: $stats"
  inflight="$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["max_inflight"])' "$stats")"
  ratio="$("$py" -c 'import sys; print("%.2f" % (float(sys.argv[2]) / float(sys.argv[1])))' "$one" "$many")"
  verdict="PASS"
  "$py" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$ratio" "$max_ratio" \
    || { verdict="FAIL"; status=3; }
  if [ -n "$result" ]; then
    printf 'one_ms_%s=%s\nmany_ms_%s=%s\ninflight_%s=%s\n' "$lat" "$one" "$lat" "$many" "$lat" "$inflight" >>"$result"
  fi
  rows+=("$(printf '%-12s %12s %14s %8sx %10s  %s' "${lat} ms" "$one" "$many" "$ratio" "$inflight" "$verdict")")
done

if [ -n "$result" ] && [ -x /usr/bin/time ]; then
  rm -f "$work/out"/*.env
  (cd "$work/out" && "${jobenv[@]}" /usr/bin/time -f %M -o "$work/rss" "$bin" assume --config "$work/many.yml" "${extra[@]}") \
    || die "aws-oidc assume --config (RSS run) failed"
  echo "many_rss_kib=$(tail -n1 "$work/rss")" >>"$result"
fi

printf '\n%-12s %12s %14s %9s %10s  %s\n' "STS latency" "1 target ms" "$ntargets targets ms" "ratio" "in flight" "(ratio < ${max_ratio}x)"
printf '%s\n' "${rows[@]}"
printf '\n(medians of %s runs; a naive sequential tool would be ~%sx)\n' "$runs" "$ntargets"
exit "$status"
