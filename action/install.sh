#!/usr/bin/env bash
# Find or install the aws-oidc binary for the GitHub Action (action.yml).
#
# Sourced by action/main.sh (functions prefixed ao_), or run on its own:
#
#   action/install.sh                # print the path of a usable aws-oidc
#   action/install.sh verify FILE ASSET CHECKSUMS   # exit 0 iff FILE's SHA-256 is listed
#
# Order, first that applies:
#   1. $AWS_OIDC_BINARY: that file, nothing installed (self-hosted, air-gapped, tests);
#   2. the version to use (the `version` input, else the action's own ref when it is a
#      release tag, else the newest version in action/checksums.txt) has its release asset
#      aws-oidc-<version>-<target>.tar.gz (.zip on Windows) listed in action/checksums.txt,
#      and the tool cache ($RUNNER_TOOL_CACHE/aws-oidc/<version>/<arch>/<asset>) holds that
#      asset with that SHA-256: it is unpacked into a directory of this run;
#   3. otherwise the asset is downloaded from the release (or $AWS_OIDC_DOWNLOAD_URL, a
#      mirror laid out as <url>/<version>/<asset>), its SHA-256 checked against that list
#      (a mismatch is fatal, never a reason to fall back), unpacked into a directory of this
#      run, and the verified archive kept in the tool cache;
#   4. otherwise (no asset listed for this version/platform, the release has no such
#      asset, or `version: source`): `cargo install --locked --path <action dir>` into
#      $RUNNER_TEMP (kept for this job only, under a key derived from the source files).
#
# The tool cache is writable by every job of a persistent self-hosted runner, so nothing
# in it vouches for itself: what runs is always unpacked from an archive whose hash is in
# action/checksums.txt at the action's ref, and a source build is never reused by another
# job (nothing outside the cache could vouch for it; a rebuild is the price).
#
# Environment (set by action.yml): AO_VERSION (input), AO_ACTION_REF, AO_ACTION_REPOSITORY,
# AO_RUNNER_OS, AO_RUNNER_ARCH, plus GITHUB_ACTION_PATH, RUNNER_TOOL_CACHE, RUNNER_TEMP,
# GITHUB_SERVER_URL, GITHUB_REPOSITORY from the runner.
#
# Portable across GitHub's Linux, macOS and Windows (Git Bash) runners: sha256sum or
# shasum -a 256 or openssl; curl or wget; tar, unzip or PowerShell's Expand-Archive.

ao_log() { printf 'aws-oidc-action: %s\n' "$*" >&2; }

# Escape a message for a workflow command (::error::...).
ao_escape() {
  local s="$1"
  # Unquoted: inside "...", bash 3.2 keeps the quotes of a quoted replacement.
  s=${s//'%'/%25}
  s=${s//$'\r'/%0D}
  s=${s//$'\n'/%0A}
  printf '%s' "$s"
}

ao_die() {
  # The annotation (stdout); outside a runner also the plain text on stderr.
  printf '::error title=aws-oidc::%s\n' "$(ao_escape "$*")"
  [ "${GITHUB_ACTIONS:-}" = true ] || printf 'aws-oidc-action: error: %s\n' "$*" >&2
  exit "${AO_EXIT_CODE:-1}"
}

# Path conversion for Git Bash on Windows (no-op elsewhere).
ao_unix_path() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s' "$1"; fi
}

# Lower-case hex SHA-256 of a file ("-": stdin), with whatever the platform has.
ao_sha256() {
  local f="$1" out
  if command -v sha256sum >/dev/null 2>&1; then
    out="$(sha256sum -b "$f")" || return 1
  elif command -v shasum >/dev/null 2>&1; then
    out="$(shasum -a 256 -b "$f")" || return 1
  elif command -v openssl >/dev/null 2>&1; then
    if [ "$f" = - ]; then out="$(openssl dgst -sha256 -r)"; else out="$(openssl dgst -sha256 -r "$f")"; fi || return 1
  else
    ao_log "no sha256sum, shasum or openssl found"
    return 1
  fi
  out="${out%% *}"
  out="${out#\\}" # sha256sum prefixes a backslash for odd file names
  printf '%s' "$out" | tr 'A-F' 'a-f'
}

# The hash listed for ASSET in CHECKSUMS ("<sha256>  <asset>" or "<sha256> *<asset>"
# lines; blank lines and # comments ignored). Fails unless exactly one well-formed line
# names the asset.
ao_expected_sha256() {
  local checksums="$1" asset="$2" hash name n=0 found=""
  [ -f "$checksums" ] || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%$'\r'}"
    case "$line" in '' | '#'*) continue ;; esac
    hash="${line%%[[:space:]]*}"
    name="${line#"$hash"}"
    name="${name#"${name%%[![:space:]]*}"}" # left-trim
    name="${name#\*}"
    if [ "$name" = "$asset" ]; then
      n=$((n + 1))
      found="$hash"
    fi
  done <"$checksums"
  [ "$n" = 1 ] || return 1
  case "$found" in
    *[!0-9a-fA-F]*) return 1 ;;
  esac
  [ "${#found}" = 64 ] || return 1
  printf '%s' "$found" | tr 'A-F' 'a-f'
}

# ao_verify FILE ASSET CHECKSUMS: 0 iff FILE hashes to the one value listed for ASSET.
ao_verify() {
  local file="$1" asset="$2" checksums="$3" want got
  if ! want="$(ao_expected_sha256 "$checksums" "$asset")"; then
    ao_log "no (or no unique, well-formed) SHA-256 for $asset in $checksums"
    return 1
  fi
  if ! got="$(ao_sha256 "$file")" || [ -z "$got" ]; then
    ao_log "cannot hash $file"
    return 1
  fi
  if [ "$got" != "$want" ]; then
    ao_log "SHA-256 mismatch for $asset: expected $want, got $got"
    return 1
  fi
  return 0
}

# Rust target triple for the runner's OS/arch (runner.os / runner.arch values).
ao_target() {
  case "$1/$2" in
    Linux/X64) echo x86_64-unknown-linux-gnu ;;
    Linux/ARM64) echo aarch64-unknown-linux-gnu ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) return 1 ;;
  esac
}

# runner.os/runner.arch when not given (running outside the runner, e.g. tests).
ao_detect_platform() {
  local os arch
  case "$(uname -s)" in
    Linux) os=Linux ;;
    Darwin) os=macOS ;;
    MINGW* | MSYS* | CYGWIN*) os=Windows ;;
    *) os="$(uname -s)" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=X64 ;;
    aarch64 | arm64) arch=ARM64 ;;
    *) arch="$(uname -m)" ;;
  esac
  printf '%s %s' "$os" "$arch"
}

ao_asset_name() { # VERSION TARGET
  case "$2" in
    *windows*) printf 'aws-oidc-%s-%s.zip' "$1" "$2" ;;
    *) printf 'aws-oidc-%s-%s.tar.gz' "$1" "$2" ;;
  esac
}

ao_exe_name() { case "$1" in *windows*) echo aws-oidc.exe ;; *) echo aws-oidc ;; esac; }

ao_is_release_tag() { # v1.2.3, v1.2.3-rc.1
  # The pattern in a variable: bash 3.2 (macOS' /bin/bash) rejects a literal "(" after =~.
  local re='^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$'
  [[ "$1" =~ $re ]]
}

# 0 iff version A sorts after B (vMAJOR.MINOR.PATCH[-pre]; a pre-release sorts before
# its release; pre-release tags compared as strings). Pure bash: macOS lacks sort -V.
ao_version_gt() {
  local re='^v([0-9]+)\.([0-9]+)\.([0-9]+)(-([0-9A-Za-z.-]+))?'
  local a1 a2 a3 ap b1 b2 b3 bp
  [[ "$1" =~ $re ]] || return 1
  a1=${BASH_REMATCH[1]} a2=${BASH_REMATCH[2]} a3=${BASH_REMATCH[3]} ap=${BASH_REMATCH[5]}
  [[ "$2" =~ $re ]] || return 0
  b1=${BASH_REMATCH[1]} b2=${BASH_REMATCH[2]} b3=${BASH_REMATCH[3]} bp=${BASH_REMATCH[5]}
  ((10#$a1 != 10#$b1)) && { ((10#$a1 > 10#$b1)); return; }
  ((10#$a2 != 10#$b2)) && { ((10#$a2 > 10#$b2)); return; }
  ((10#$a3 != 10#$b3)) && { ((10#$a3 > 10#$b3)); return; }
  [ "$ap" = "$bp" ] && return 1
  [ -z "$ap" ] && return 0
  [ -z "$bp" ] && return 1
  [[ "$ap" > "$bp" ]]
}

# Newest release version that has any asset listed in CHECKSUMS, or nothing.
ao_newest_listed_version() {
  local checksums="$1" line name v best=""
  [ -f "$checksums" ] || return 0
  local re='^[0-9a-fA-F]{64}[[:space:]]+\*?aws-oidc-(v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?)-(x86_64|aarch64)-'
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%$'\r'}"
    [[ "$line" =~ $re ]] || continue
    v="${BASH_REMATCH[1]}"
    if [ -z "$best" ] || ao_version_gt "$v" "$best"; then best="$v"; fi
  done <"$checksums"
  printf '%s' "$best"
}

# The ref the action was used at: github.action_ref (passed via env, as the runner leaves
# it empty inside composite run: blocks), else the last component of
# .../_actions/<owner>/<repo>/<ref>.
ao_action_ref() {
  if [ -n "${AO_ACTION_REF:-}" ]; then
    printf '%s' "$AO_ACTION_REF"
    return
  fi
  local p
  p="$(ao_unix_path "${GITHUB_ACTION_PATH:-}")"
  p="${p%/}"
  case "$p" in
    */_actions/*/*/*) printf '%s' "${p##*/}" ;;
  esac
}

ao_action_repository() {
  if [ -n "${AO_ACTION_REPOSITORY:-}" ]; then
    printf '%s' "$AO_ACTION_REPOSITORY"
    return
  fi
  local p rest
  p="$(ao_unix_path "${GITHUB_ACTION_PATH:-}")"
  p="${p%/}"
  case "$p" in
    */_actions/*/*/*)
      rest="${p##*/_actions/}" # owner/repo/ref
      printf '%s' "${rest%/*}"
      return
      ;;
  esac
  printf '%s' "${GITHUB_REPOSITORY:-}"
}

# Which version to install: "source" or a release tag. Prints it; fails on a bad input.
ao_resolve_version() { # INPUT REF CHECKSUMS
  local input="$1" ref="$2" checksums="$3" v
  case "$input" in
    '') ;;
    source) echo source; return 0 ;;
    v[0-9]*) ao_is_release_tag "$input" || return 1; echo "$input"; return 0 ;;
    [0-9]*) ao_is_release_tag "v$input" || return 1; echo "v$input"; return 0 ;;
    *) return 1 ;;
  esac
  if ao_is_release_tag "$ref"; then
    echo "$ref"
    return 0
  fi
  v="$(ao_newest_listed_version "$checksums")"
  echo "${v:-source}"
}

# Fetch URL to FILE. 0 ok, 4 not found (HTTP 404), 1 other failure.
ao_download() {
  local url="$1" out="$2" code
  if command -v curl >/dev/null 2>&1; then
    code="$(curl -sSL --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 300 \
      -o "$out" -w '%{http_code}' "$url")" || { rm -f "$out"; [ "$code" = 404 ] && return 4; return 1; }
    case "$code" in
      2??) return 0 ;;
      404) rm -f "$out"; return 4 ;;
      *) rm -f "$out"; ao_log "HTTP $code for $url"; return 1 ;;
    esac
  elif command -v wget >/dev/null 2>&1; then
    local log
    log="$(wget -q -S -O "$out" "$url" 2>&1)" && return 0
    rm -f "$out"
    case "$log" in *' 404 '*) return 4 ;; esac
    return 1
  else
    ao_log "neither curl nor wget is available"
    return 1
  fi
}

ao_extract() { # ARCHIVE DIR
  local archive="$1" dir="$2"
  mkdir -p "$dir"
  case "$archive" in
    *.tar.gz) tar -xzf "$archive" -C "$dir" ;;
    *.zip)
      if command -v unzip >/dev/null 2>&1; then
        unzip -q -o "$archive" -d "$dir"
      elif command -v powershell >/dev/null 2>&1; then
        powershell -NoProfile -NonInteractive -Command \
          "Expand-Archive -Force -LiteralPath '$archive' -DestinationPath '$dir'"
      else
        tar -xf "$archive" -C "$dir" # bsdtar (Windows' own tar.exe) reads zip
      fi
      ;;
    *) return 1 ;;
  esac
}

# Cache layout: <root>/aws-oidc/<version>/<arch>/<asset> (the release archive, as
# downloaded) and <root>/aws-oidc/<version>/<arch>.complete (actions/tool-cache convention).
ao_cache_root() {
  local root="${RUNNER_TOOL_CACHE:-}"
  if [ -z "$root" ]; then
    root="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}"
  fi
  printf '%s/aws-oidc' "$(ao_unix_path "$root")"
}

# A fresh directory of this run (under RUNNER_TEMP, which the runner empties for every job).
ao_run_dir() {
  mktemp -d "$(ao_unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")/aws-oidc-bin.XXXXXX"
}

# ao_unpack ARCHIVE EXE: unpack into a fresh directory of this run; prints the binary's path.
ao_unpack() {
  local archive="$1" exe="$2" out bin
  out="$(ao_run_dir)" || return 1
  ao_extract "$archive" "$out" || { rm -rf "$out"; return 1; }
  bin="$(find "$out" -type f -name "$exe" | head -n 1)"
  [ -n "$bin" ] || { rm -rf "$out"; return 1; }
  chmod 0755 "$bin"
  printf '%s' "$bin"
}

# ao_cached_release DIR ASSET CHECKSUMS EXE: the cached archive, re-verified against
# CHECKSUMS (the list at the action's ref, never a hash kept in the cache), unpacked for this
# run; prints the binary's path. An entry that does not verify is discarded.
ao_cached_release() {
  local dir="$1" asset="$2" checksums="$3" exe="$4" copy bin
  [ -f "$dir.complete" ] && [ -f "$dir/$asset" ] || return 1
  # Verify and unpack a copy of this run's: the cache could change in between.
  copy="$(ao_run_dir)" || return 1
  if ! cp "$dir/$asset" "$copy/$asset" || ! ao_verify "$copy/$asset" "$asset" "$checksums"; then
    ao_log "cached $dir/$asset does not match action/checksums.txt: discarding it and installing again"
    rm -rf "$dir" "$dir.complete" "$copy"
    return 1
  fi
  bin="$(ao_unpack "$copy/$asset" "$exe")" || {
    ao_log "could not unpack the cached $asset: installing again"
    rm -rf "$dir" "$dir.complete" "$copy"
    return 1
  }
  rm -rf "$copy"
  printf '%s' "$bin"
}

ao_source_key() { # ACTION_DIR
  local d="$1" f key
  key="$(
    {
      for f in Cargo.toml Cargo.lock; do
        if [ -f "$d/$f" ]; then printf '%s %s\n' "$f" "$(ao_sha256 "$d/$f")"; fi
      done
      if [ -d "$d/src" ]; then
        (cd "$d" && find src -type f | LC_ALL=C sort) | while IFS= read -r f; do
          printf '%s %s\n' "$f" "$(ao_sha256 "$d/$f")"
        done
      fi
    } | ao_sha256 -
  )"
  printf 'source-%s' "${key:0:16}"
}

ao_build_from_source() { # ACTION_DIR CACHE_DIR EXE
  local src="$1" dir="$2" exe="$3"
  [ -f "$src/Cargo.toml" ] || ao_die "no release asset to install and no source at $src to build from"
  command -v cargo >/dev/null 2>&1 || ao_die "no release asset for this version/platform and cargo is not installed to build aws-oidc from source: add a Rust toolchain step (e.g. dtolnay/rust-toolchain@stable), use a released version, or set AWS_OIDC_BINARY to an aws-oidc you installed"
  ao_log "building aws-oidc from source ($src); this takes a few minutes"
  rm -rf "$dir" "$dir.complete"
  mkdir -p "$dir"
  # A faster-to-build release profile than the published binaries' fat LTO.
  CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_TARGET_DIR="${AO_CARGO_TARGET_DIR:-$dir/.target}" \
    cargo install --locked --quiet --path "$src" --root "$dir/.root" >&2 ||
    ao_die "cargo install --locked --path $src failed"
  mv "$dir/.root/bin/$exe" "$dir/$exe"
  rm -rf "$dir/.root" "$dir/.target"
  : >"$dir.complete"
  AO_BIN="$dir/$exe"
}

# Set AO_BIN to the path of a usable aws-oidc (installing it if need be). Logs go to
# stderr; failures end the script (ao_die), so call it outside $(...).
ao_install() {
  local action_dir checksums os arch target exe version ref repo asset url base tmp dir bin rc root key
  AO_BIN=""
  if [ -n "${AWS_OIDC_BINARY:-}" ]; then
    bin="$AWS_OIDC_BINARY"
    [ -f "$bin" ] || bin="$(ao_unix_path "$bin")"
    { [ -f "$bin" ] && [ -x "$bin" ]; } || ao_die "AWS_OIDC_BINARY=$AWS_OIDC_BINARY is not an executable file"
    ao_log "using AWS_OIDC_BINARY=$AWS_OIDC_BINARY (nothing installed)"
    AO_BIN="$bin"
    return 0
  fi

  action_dir="${GITHUB_ACTION_PATH:-}"
  [ -n "$action_dir" ] || action_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  action_dir="$(ao_unix_path "$action_dir")"
  action_dir="${action_dir%/}"
  checksums="$action_dir/action/checksums.txt"
  os="${AO_RUNNER_OS:-}"
  arch="${AO_RUNNER_ARCH:-}"
  if [ -z "$os" ] || [ -z "$arch" ]; then
    read -r os arch <<<"$(ao_detect_platform)"
  fi
  target="$(ao_target "$os" "$arch")" || target=""
  exe="$(ao_exe_name "${target:-$os}")"
  ref="$(ao_action_ref)"
  version="$(ao_resolve_version "${AO_VERSION:-}" "$ref" "$checksums")" ||
    ao_die "version: '${AO_VERSION:-}' is neither a release tag (v1.2.3) nor 'source'"
  root="$(ao_cache_root)"

  if [ "$version" != source ] && [ -z "$target" ]; then
    ao_log "no prebuilt aws-oidc for $os/$arch: building from source"
    version=source
  fi

  if [ "$version" != source ]; then
    dir="$root/$version/$arch"
    asset="$(ao_asset_name "$version" "$target")"
    if ! ao_expected_sha256 "$checksums" "$asset" >/dev/null; then
      ao_log "action/checksums.txt at this ref (${ref:-local}) lists no $asset: building from source"
      version=source
    elif bin="$(ao_cached_release "$dir" "$asset" "$checksums" "$exe")"; then
      ao_log "using cached aws-oidc $version ($dir/$asset, SHA-256 matches action/checksums.txt)"
      AO_BIN="$bin"
      return 0
    fi
  fi

  if [ "$version" != source ]; then
    if [ -n "${AWS_OIDC_DOWNLOAD_URL:-}" ]; then
      base="${AWS_OIDC_DOWNLOAD_URL%/}"
    else
      repo="$(ao_action_repository)"
      [ -n "$repo" ] || ao_die "cannot tell which repository's releases to download aws-oidc from: set AWS_OIDC_DOWNLOAD_URL or AWS_OIDC_BINARY"
      base="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download"
    fi
    url="$base/$version/$asset"
    tmp="$(ao_unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")/aws-oidc-dl.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    ao_log "downloading $url"
    rc=0
    ao_download "$url" "$tmp/$asset" || rc=$?
    if [ "$rc" = 4 ]; then
      printf '::warning title=aws-oidc::%s\n' "$(ao_escape "$url does not exist (HTTP 404): building aws-oidc from source")"
      rm -rf "$tmp"
      version=source
    elif [ "$rc" != 0 ]; then
      rm -rf "$tmp"
      ao_die "download of $url failed"
    else
      if ! ao_verify "$tmp/$asset" "$asset" "$checksums"; then
        rm -rf "$tmp"
        ao_die "checksum verification failed for $asset: refusing to run it (its SHA-256 must match the one in action/checksums.txt)"
      fi
      ao_log "SHA-256 of $asset matches action/checksums.txt"
      bin="$(ao_unpack "$tmp/$asset" "$exe")" || { rm -rf "$tmp"; ao_die "could not unpack $asset, or it holds no $exe"; }
      # Keep the verified archive (not the binary): every later run re-verifies it.
      rm -rf "$dir" "$dir.complete"
      if mkdir -p "$dir" && mv "$tmp/$asset" "$dir/$asset" && : >"$dir.complete"; then
        ao_log "installed aws-oidc $version ($bin); archive cached in $dir"
      else
        ao_log "could not cache $asset in $dir (continuing)"
      fi
      rm -rf "$tmp"
      AO_BIN="$bin"
      return 0
    fi
  fi

  # A source build is kept for this job only (RUNNER_TEMP): nothing outside a shared cache
  # could vouch for it, so another job's build is never run. Outside a runner: no reuse.
  key="$(ao_source_key "$action_dir")"
  if [ -n "${RUNNER_TEMP:-}" ]; then
    dir="$(ao_unix_path "$RUNNER_TEMP")/aws-oidc-source/$key/${arch:-unknown}"
    if [ -f "$dir.complete" ] && [ -f "$dir/$exe" ] && [ -x "$dir/$exe" ]; then
      ao_log "using this job's source build $key ($dir/$exe)"
      AO_BIN="$dir/$exe"
      return 0
    fi
  else
    dir="$(ao_run_dir)/$key"
  fi
  ao_build_from_source "$action_dir" "$dir" "$exe"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-install}" in
    install) ao_install; printf '%s\n' "$AO_BIN" ;;
    verify)
      [ $# = 4 ] || { echo "usage: $0 verify FILE ASSET CHECKSUMS" >&2; exit 2; }
      ao_verify "$2" "$3" "$4"
      ;;
    *) echo "usage: $0 [install | verify FILE ASSET CHECKSUMS]" >&2; exit 2 ;;
  esac
fi
