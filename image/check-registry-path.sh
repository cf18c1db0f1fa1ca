#!/usr/bin/env bash
# Check the Dockerfile's registry path (all three stages: Rust build, Debian rootfs, final
# image) on a machine that cannot pull rust:1-bookworm or debian:bookworm-slim, then
# smoke-test the result with scripts/image-smoke.sh --no-build.
#
#   image/check-registry-path.sh        # root; podman (scripts/image-smoke.sh installs it)
#
# Local stand-ins are passed as the Dockerfile's RUST_IMAGE / DEBIAN_IMAGE build args:
#   localhost/aws-oidc-standin/debian:bookworm-slim  debootstrap --variant=minbase bookworm
#                                                    from the Debian archive, `podman import`
#   localhost/aws-oidc-standin/rust:1-bookworm       that + gcc libc6-dev ca-certificates and
#       the host's CA bundle; the host's Rust toolchain ($RUSTUP_HOME, $CARGO_HOME/bin) is
#       bind-mounted at the official image's paths (/usr/local/rustup, /usr/local/cargo/bin)
#       during the build.
# They are kept for the next run (delete with `podman rmi`). The build downloads crates
# from crates.io and Debian packages (network: host) like a normal build; podman keeps the
# Dockerfile's cache mounts (cargo registry, target/) under /var/tmp/buildah-cache*.
#
# What this cannot show: the real rust:1-bookworm / debian:bookworm-slim images, BuildKit
# (docker build / buildx) instead of buildah, and the arm64 cross build (needs the
# aarch64 Rust std, which only rustup's server provides).
#
# Environment: IMAGE (default localhost/aws-oidc:registry-path), CONTAINERS_CONF as in
# scripts/image-smoke.sh.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${IMAGE:-localhost/aws-oidc:registry-path}"
debian_img=localhost/aws-oidc-standin/debian:bookworm-slim
rust_img=localhost/aws-oidc-standin/rust:1-bookworm
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'check-registry-path: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, rootful podman)"
command -v podman >/dev/null 2>&1 || die "podman missing (scripts/image-smoke.sh installs it)"
if [ ! -d "$rustup_home/toolchains" ] || [ ! -x "$cargo_bin/cargo" ]; then
  die "no rustup toolchain in $rustup_home / $cargo_bin"
fi
if [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$repo/../shared/containers/containers.conf" ]; then
  CONTAINERS_CONF="$(cd "$repo/../shared/containers" && pwd)/containers.conf"
  export CONTAINERS_CONF
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/aws-oidc-registry-path.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if ! podman image exists "$debian_img"; then
  say "stand-in $debian_img (debootstrap)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  debootstrap --variant=minbase bookworm "$work/rootfs" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap"; }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" -c . | podman import --change 'CMD ["bash"]' - "$debian_img" >/dev/null
  rm -rf "$work/rootfs"
fi

say "stand-in $rust_img"
mkdir "$work/rust"
cp /etc/ssl/certs/ca-certificates.crt "$work/rust/host-ca.crt"
cat >"$work/rust/Containerfile" <<EOF
FROM $debian_img
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      gcc libc6-dev ca-certificates && rm -rf /var/lib/apt/lists/*
# Whatever the host trusts (e.g. a TLS-intercepting proxy's CA) for cargo's downloads.
COPY host-ca.crt /etc/ssl/certs/ca-certificates.crt
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
podman build --network host --pull=never -q -t "$rust_img" "$work/rust" >/dev/null \
  || die "building $rust_img"

say "podman build (all stages) -> $image"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)"
start=$SECONDS
if ! podman build --network host --pull=never --layers=false \
       --build-arg "RUST_IMAGE=$rust_img" --build-arg "DEBIAN_IMAGE=$debian_img" \
       --build-arg "VERSION=$version" \
       --build-arg "REVISION=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)" \
       -v "$rustup_home:/usr/local/rustup:ro" -v "$cargo_bin:/usr/local/cargo/bin:ro" \
       -t "$image" -f "$repo/Dockerfile" "$repo" >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log" >&2
  die "podman build"
fi
echo "built in $((SECONDS - start))s" >&2
grep -E '^\[[0-9]/[0-9]\] STEP [0-9]+/[0-9]+: FROM' "$work/build.log" >&2 || true

say "smoke test"
IMAGE="$image" EXPECT_VERSION="$version" "$repo/scripts/image-smoke.sh" --no-build
