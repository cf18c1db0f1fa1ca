#!/usr/bin/env bash
# Build the fully static aws-oidc binary (glibc, crt-static, no dynamic loader)
# for Linux x86_64 or aarch64, with the release profile from Cargo.toml.
#
#   scripts/build-static.sh                   # host architecture
#   scripts/build-static.sh --arch arm64      # amd64 | arm64 (Docker's TARGETARCH names;
#                                             # x86_64 | aarch64 are accepted too)
#   scripts/build-static.sh --copy-to DEST    # also install the binary at DEST
#
# Prints the binary's path on stdout (last line; handy for bin="$(scripts/build-static.sh)")
# and its size on stderr. Cargo skips the build when nothing changed. The Dockerfile's
# build stage runs this same script.
#
# Cross-building (e.g. arm64 on an amd64 host) needs the target's Rust std
# (`rustup target add aarch64-unknown-linux-gnu`) and a cross gcc with the target's static
# glibc (Debian: gcc-aarch64-linux-gnu libc6-dev-arm64-cross); the linker and C compiler
# (ring builds C and assembly) are set from the gcc prefix unless already set in the environment.
#
# Environment: TARGETARCH (default for --arch), CARGO (default cargo), CARGO_TARGET_DIR,
# RUSTFLAGS (kept; +crt-static is appended).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo="${CARGO:-cargo}"
arch="${TARGETARCH:-}"
copy_to=""

while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
    --arch=*) arch="${1#*=}"; shift ;;
    --copy-to) copy_to="${2:?--copy-to needs a path}"; shift 2 ;;
    --copy-to=*) copy_to="${1#*=}"; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "build-static: unknown argument: $1" >&2; exit 2 ;;
  esac
done

[ -n "$arch" ] || arch="$(uname -m)"
case "$arch" in
  amd64|x86_64)  triple=x86_64-unknown-linux-gnu;  gnu=x86_64-linux-gnu;  debarch=amd64 ;;
  arm64|aarch64) triple=aarch64-unknown-linux-gnu; gnu=aarch64-linux-gnu; debarch=arm64 ;;
  *) echo "build-static: unsupported architecture '$arch' (amd64 or arm64)" >&2; exit 2 ;;
esac

case "$(uname -m)" in
  x86_64) host_triple=x86_64-unknown-linux-gnu ;;
  aarch64|arm64) host_triple=aarch64-unknown-linux-gnu ;;
  *) host_triple=unknown ;;
esac

if [ "$triple" != "$host_triple" ]; then
  # Cross build: point cargo and the cc crate at the cross gcc unless told otherwise.
  upper="$(printf '%s' "$triple" | tr 'a-z-' 'A-Z_')"
  lower="$(printf '%s' "$triple" | tr '-' '_')"
  linker_var="CARGO_TARGET_${upper}_LINKER"
  cc_var="CC_${lower}"
  if [ -z "${!linker_var:-}" ]; then
    command -v "$gnu-gcc" >/dev/null 2>&1 || {
      echo "build-static: cross-building $triple needs $gnu-gcc (Debian: gcc-$gnu libc6-dev-$debarch-cross) or $linker_var" >&2
      exit 1
    }
    export "$linker_var=$gnu-gcc"
  fi
  [ -n "${!cc_var:-}" ] || export "$cc_var=$gnu-gcc"
fi

# --target keeps RUSTFLAGS away from build scripts and proc macros (which must stay
# dynamic); the release profile (opt-level, fat LTO, strip, panic=abort) is in Cargo.toml.
# pack-relative-relocs (DT_RELR): the static-pie's ~16,500 relative relocations take 4.7 KB
# instead of 400 KB (and less work at start). A static binary carries the glibc that applies
# them, so unlike a dynamic one it does not need glibc >= 2.36 where it runs; where it is
# built, the static glibc must know DT_RELR (>= 2.36: Debian 12, Ubuntu 24.04) and ld must
# be binutils >= 2.38. With an older glibc the flag is left out (a bigger binary, no
# relocations its start-up code would skip).
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static"
glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null || true)" # "glibc 2.36"
glibc="${glibc#glibc }"
minor="${glibc#*.}"
minor="${minor%%.*}"
if [ "${glibc%%.*}" = 2 ] && [ "$minor" -ge 36 ] 2>/dev/null; then
  RUSTFLAGS="$RUSTFLAGS -C link-arg=-Wl,-z,pack-relative-relocs"
else
  echo "build-static: glibc ${glibc:-unknown} < 2.36: building without DT_RELR relocations" >&2
fi
(cd "$repo" && "$cargo" build --release --locked --target "$triple")

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
bin="$target_dir/$triple/release/aws-oidc"
[ -x "$bin" ] || { echo "build-static: $bin was not produced" >&2; exit 1; }

# A static(-pie) executable has no program interpreter (no /lib64/ld-linux-*.so).
if command -v readelf >/dev/null 2>&1 && readelf -lW "$bin" | grep -q 'Requesting program interpreter'; then
  echo "build-static: $bin is dynamically linked (crt-static did not take effect)" >&2
  exit 1
fi

if [ -n "$copy_to" ]; then
  mkdir -p "$(dirname "$copy_to")"
  cp -f "$bin" "$copy_to"
  chmod 0755 "$copy_to"
fi

size="$(stat -c %s "$bin")"
awk -v p="$bin" -v s="$size" -v t="$triple" \
  'BEGIN { printf "build-static: %s (%s): %d bytes (%.2f MiB)\n", p, t, s, s / 1048576 }' >&2
printf '%s\n' "$bin"
