#!/usr/bin/env bash
# Build the aws-oidc container image offline from a locally built static binary and
# smoke-test it against a local STS (moto) on 127.0.0.1. No base image is pulled: the
# Dockerfile's final stage (`image`, FROM scratch) is built with its two sources, `build`
# and `rootfs`, replaced by a local directory (podman build --build-context); see the
# comment at the top of the Dockerfile.
#
#   scripts/image-smoke.sh
#   IMAGE=aws-oidc:0.1.0 scripts/image-smoke.sh --no-build   # only test an existing image
#                                     # (e.g. one built by `docker build` from the Dockerfile)
#
# Steps: apt-get install podman runc busybox-static if missing (root) -> .venv
# (scripts/setup-test-deps.sh) -> scripts/build-static.sh -> image/mkrootfs.sh into a
# staging dir -> podman build -> checks:
#   1. docker-run style: `assume --output env=/out/aws.env` into a mounted dir; file mode 0600
#   2. GitLab style: --entrypoint "" + /bin/sh script: eval "$(aws-oidc … --output sh)",
#      `--output profile=` into $HOME, SSL_CERT_FILE present
#   3. runs as a non-root user     4. image <= 8 MB, static binary <= 6.5 MB (issue 15's goals)
#   5. OCI labels                  6. awscli on the host uses the env file's credentials
# Exits non-zero on any failure; prints a PASS summary.
#
# Environment: IMAGE (default localhost/aws-oidc:smoke; kept afterwards),
# CONTAINERS_CONF (default <repo>/../shared/containers/containers.conf when it exists:
# runc instead of crun, ulimits podman can set in this sandbox), MAX_IMAGE_BYTES (8000000),
# MAX_BINARY_BYTES (6500000),
# EXPECT_VERSION (the version label to expect; default: Cargo.toml's version).
set -euo pipefail

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "image-smoke: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/moto.sh
. "$repo/scripts/lib/moto.sh"
# shellcheck source=scripts/lib/system-deps.sh
. "$repo/scripts/lib/system-deps.sh"
# shellcheck source=scripts/lib/image.sh
. "$repo/scripts/lib/image.sh"
cd "$repo"

image="${IMAGE:-localhost/aws-oidc:smoke}"
max_bytes="${MAX_IMAGE_BYTES:-8000000}"
max_bin_bytes="${MAX_BINARY_BYTES:-6500000}"
role_arn="arn:aws:iam::123456789012:role/demo"
runtime_uid=10001

t0=$SECONDS
phase_start=$SECONDS
timings=()
say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'image-smoke: FAILED: %s\n' "$*" >&2; exit 1; }
phase_done() { timings+=("$1 $((SECONDS - phase_start))s"); phase_start=$SECONDS; }

# --- tools -------------------------------------------------------------------------
say "tools: podman, runc, busybox-static"
needs=(podman=podman runc=runc)
[ "$build" = 0 ] || needs+=(/bin/busybox=busybox-static /etc/ssl/certs/ca-certificates.crt=ca-certificates)
ensure_packages image-smoke "${needs[@]}" || die "podman and runc are needed (and busybox-static, ca-certificates to build)"
image_containers_conf
podman --version >&2
phase_done tools

say "test dependencies (.venv)"
"$repo/scripts/setup-test-deps.sh"
venv_bin="$repo/.venv/bin"
phase_done venv

version="$("$venv_bin/python" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["package"]["version"])' "$repo/Cargo.toml")"

# --- static binary -------------------------------------------------------------------
if [ "$build" = 1 ]; then
  say "static binary (scripts/build-static.sh)"
  bin="$("$repo/scripts/build-static.sh" | tail -n 1)"
  [ -x "$bin" ] || die "build-static.sh produced no binary"
  bin_bytes="$(stat -c %s "$bin")"
  phase_done static-build
fi

# --- work area and cleanup -----------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/aws-oidc-image-smoke.XXXXXX")"
pids=()
containers=()
cleanup() {
  local pid c
  for c in "${containers[@]}"; do podman rm -f -i "$c" >/dev/null 2>&1 || true; done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- image ---------------------------------------------------------------------------
if [ "$build" = 1 ]; then
  say "image $image (final stage of Dockerfile, sources from a local directory)"
  image_build "$bin" "$image" "$work" "$version" || die "podman build"
  phase_done image-build
else
  podman image exists "$image" || die "--no-build: no image $image"
  # the binary inside the image, for the summary
  bin="$image:/usr/local/bin/aws-oidc"
  bin_bytes="$(podman run --rm --pull=never --entrypoint "" "$image" stat -c %s /usr/local/bin/aws-oidc)" \
    || die "--no-build: cannot stat /usr/local/bin/aws-oidc in $image"
fi

# --- local STS (moto) and a GitLab-style token ---------------------------------------
say "moto STS on 127.0.0.1"
if start_moto "$venv_bin/python" "$venv_bin/moto_server" "$work/moto.log" "$work"; then pids+=("$moto_pid"); else moto_port=""; fi
[ -n "$moto_port" ] || { cat "$work/moto.log" >&2; die "moto_server did not start"; }
sts_url="http://127.0.0.1:$moto_port"
echo "moto STS: $sts_url" >&2
jwt="$("$venv_bin/python" "$repo/scripts/fake_issuer.py" gitlab-token)"
phase_done moto

# Every container: host network (STS is on the host's 127.0.0.1), no pulls, no proxy
# variables from the host, the token passed by name (not on the command line).
run_n=0
run() {
  run_n=$((run_n + 1))
  local name="aws-oidc-smoke-$$-$run_n"
  containers+=("$name")
  AWS_ID_TOKEN="$jwt" podman run --rm --name "$name" --pull=never --network host \
    --http-proxy=false -e AWS_ID_TOKEN -e "AWS_ENDPOINT_URL_STS=$sts_url" "$@"
}

# --- 1. any CI: docker run … assume --output env=/out/aws.env ---------------------------
say "1. docker-run style: assume --output env=/out/aws.env (mounted /out)"
out="$work/out"
mkdir "$out"
chown "$runtime_uid:$runtime_uid" "$out"   # the image's user must be able to write there
chmod 0700 "$out"
run -v "$out:/out" "$image" \
  assume --role-arn "$role_arn" --output env=/out/aws.env \
  || die "1: podman run … assume --output env=/out/aws.env"
envfile="$out/aws.env"
[ -s "$envfile" ] || die "1: /out/aws.env not written"
for k in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN; do
  grep -q "^$k=." "$envfile" || die "1: $k missing from aws.env"
done
mode="$(stat -c %a "$envfile")"
[ "$mode" = 600 ] || die "1: aws.env has mode $mode, want 600"
owner="$(stat -c %u "$envfile")"
echo "aws.env: $(grep -c . "$envfile") variables, mode $mode, owner uid $owner" >&2

# 1b. an arbitrary --user (docker run --user "$(id -u):$(id -g)") on a dir it owns
out_b="$work/out-b"
mkdir "$out_b"
chown 4242:4242 "$out_b"
run --user 4242:4242 -v "$out_b:/out" "$image" \
  assume --role-arn "$role_arn" --output env=/out/aws.env \
  || die "1b: podman run --user 4242:4242 … assume"
[ "$(stat -c %u:%a "$out_b/aws.env")" = 4242:600 ] || die "1b: aws.env owner/mode $(stat -c %u:%a "$out_b/aws.env")"
phase_done check-1

# --- 2. GitLab: image with entrypoint: [""], script lines through /bin/sh ---------------
say "2. GitLab style: --entrypoint \"\" /bin/sh -c 'eval \"\$(aws-oidc assume … --output sh)\"'"
# shellcheck disable=SC2016  # expanded by the container's sh, not here
gitlab_script='
set -e
eval "$(aws-oidc assume --role-arn '"$role_arn"' --output sh)"
test -n "$AWS_ACCESS_KEY_ID" && test -n "$AWS_SECRET_ACCESS_KEY" && test -n "$AWS_SESSION_TOKEN"
aws-oidc assume --role-arn '"$role_arn"' --output profile=smoke
grep -q "^\[smoke\]" "$HOME/.aws/credentials"
test -s "$SSL_CERT_FILE"
echo "uid=$(id -u) home=$HOME cwd=$(pwd)"
'
gl_out="$(run --entrypoint "" \
  -e CI=true -e GITLAB_CI=true -e CI_PROJECT_ID=42 -e CI_PIPELINE_ID=574301 -e CI_JOB_ID=8812345 \
  "$image" /bin/sh -c "$gitlab_script")" || die "2: GitLab-style job script"
echo "$gl_out" >&2
phase_done check-2

# --- 3. non-root -----------------------------------------------------------------------
say "3. runs as non-root"
uid="$(run --entrypoint "" "$image" id -u)" || die "3: id -u"
[ "$uid" != 0 ] || die "3: container runs as root"
[ "$uid" = "$runtime_uid" ] || die "3: container uid $uid, want $runtime_uid"
cfg_user="$(podman image inspect --format '{{.Config.User}}' "$image")"
echo "id -u: $uid; image User: $cfg_user" >&2

# --- 4. size ------------------------------------------------------------------------------
say "4. image size"
img_bytes="$(podman image inspect --format '{{.Size}}' "$image")"
awk -v s="$img_bytes" -v b="$bin_bytes" 'BEGIN { printf "image %d bytes (%.2f MB); binary %d bytes (%.2f MB)\n", s, s/1e6, b, b/1e6 }' >&2
[ "$img_bytes" -le "$max_bytes" ] || die "4: image is $img_bytes bytes, limit $max_bytes"
[ "$bin_bytes" -le "$max_bin_bytes" ] || die "4: static binary is $bin_bytes bytes, limit $max_bin_bytes"

# --- 5. OCI labels --------------------------------------------------------------------------
say "5. OCI labels"
podman image inspect --format '{{json .Labels}}' "$image" >"$work/labels.json"
"$venv_bin/python" - "$work/labels.json" "${EXPECT_VERSION:-$version}" <<'PY' || die "5: OCI labels"
import json, sys
labels = json.load(open(sys.argv[1])) or {}
want = {"org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.version": sys.argv[2],
        "org.opencontainers.image.title": "aws-oidc"}
bad = [k for k, v in want.items() if labels.get(k) != v]
bad += [k for k in ("org.opencontainers.image.description", "org.opencontainers.image.source")
        if not labels.get(k)]
for k in sorted(labels):
    if k.startswith("org.opencontainers."):
        print(f"  {k}={labels[k]}", file=sys.stderr)
if bad:
    print(f"missing or wrong: {bad}", file=sys.stderr)
    sys.exit(1)
PY
entrypoint="$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")"
[ "$entrypoint" = '["aws-oidc"]' ] || die "5: entrypoint is $entrypoint"
phase_done checks-3-5

# --- 6. the credentials work: awscli on the host with the env file ------------------------
say "6. host awscli: aws sts get-caller-identity with /out/aws.env"
mkdir "$work/home-aws"
file_vars=()
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    [A-Za-z_]*=*) file_vars+=("$line") ;;
    *) die "6: not a dotenv line in aws.env: ${line%%=*}…" ;;
  esac
done <"$envfile"
env -i "PATH=$venv_bin:/usr/bin:/bin" "LANG=C.UTF-8" "HOME=$work/home-aws" \
  "NO_PROXY=127.0.0.1,localhost" "no_proxy=127.0.0.1,localhost" \
  "AWS_EC2_METADATA_DISABLED=true" "AWS_ENDPOINT_URL_STS=$sts_url" \
  "${file_vars[@]}" \
  aws sts get-caller-identity --output json >"$work/identity.json" 2>"$work/aws.err" \
  || { cat "$work/aws.err" >&2; die "6: aws sts get-caller-identity"; }
grep -q '"arn:aws:sts::123456789012:assumed-role/demo/' "$work/identity.json" \
  || { cat "$work/identity.json" >&2; die "6: unexpected caller identity"; }
arn="$("$venv_bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["Arn"])' "$work/identity.json")"
echo "caller identity: $arn" >&2
phase_done check-6

total=$((SECONDS - t0))
cat <<EOF

image-smoke: PASS
  image      $image ($(podman image inspect --format '{{.Id}}' "$image" | cut -c1-12)), $img_bytes bytes ($(awk -v s="$img_bytes" 'BEGIN{printf "%.2f", s/1e6}') MB, limit $max_bytes)
  binary     $bin ($bin_bytes bytes, limit $max_bin_bytes)
  1 docker-run env=/out/aws.env: mode 600, owner uid $owner; --user 4242 too
  2 GitLab entrypoint [""] + /bin/sh: eval --output sh, --output profile= in \$HOME
  3 non-root: uid $uid ($cfg_user)
  4 size <= limit
  5 OCI labels + ENTRYPOINT ["aws-oidc"]
  6 awscli: $arn
  time       ${total}s total (${timings[*]})
EOF
