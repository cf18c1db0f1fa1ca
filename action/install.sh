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

# Helpers that compute a value set the variable named by their first argument (printf -v)
# instead of printing it, so calling them costs no $(...) subshell (a fork each). Their own
# locals start with "_" (printf -v would set a same-named local instead), callers' names do
# not, and a helper that calls another passes it a name the callee does not declare.

# ao_escape VAR MESSAGE: MESSAGE escaped for a workflow command (::error::...).
ao_escape() {
  local _s="$2"
  # Unquoted: inside "...", bash 3.2 keeps the quotes of a quoted replacement.
  _s=${_s//'%'/%25}
  _s=${_s//$'\r'/%0D}
  _s=${_s//$'\n'/%0A}
  printf -v "$1" '%s' "$_s"
}

ao_die() {
  # The annotation (stdout); outside a runner also the plain text on stderr.
  local _msg
  ao_escape _msg "$*"
  printf '::error title=aws-oidc::%s\n' "$_msg"
  [ "${GITHUB_ACTIONS:-}" = true ] || printf 'aws-oidc-action: error: %s\n' "$*" >&2
  exit "${AO_EXIT_CODE:-1}"
}

# ao_unix_path VAR PATH: PATH for Git Bash on Windows (cygpath -u); PATH itself elsewhere.
ao_unix_path() {
  if command -v cygpath >/dev/null 2>&1; then
    printf -v "$1" '%s' "$(cygpath -u "$2")"
  else
    printf -v "$1" '%s' "$2"
  fi
}

# ao_lower_hex VAR VALUE: VALUE with A-F lower-cased (bash 3.2 has no ${v,,}).
ao_lower_hex() {
  local _v="$2"
  _v=${_v//A/a} _v=${_v//B/b} _v=${_v//C/c}
  _v=${_v//D/d} _v=${_v//E/e} _v=${_v//F/f}
  printf -v "$1" '%s' "$_v"
}

# ao_sha256 VAR FILE ("-": stdin): lower-case hex SHA-256, with whatever the platform has.
ao_sha256() {
  local _out
  if command -v sha256sum >/dev/null 2>&1; then
    _out="$(sha256sum -b "$2")" || return 1
  elif command -v shasum >/dev/null 2>&1; then
    _out="$(shasum -a 256 -b "$2")" || return 1
  elif command -v openssl >/dev/null 2>&1; then
    if [ "$2" = - ]; then _out="$(openssl dgst -sha256 -r)"; else _out="$(openssl dgst -sha256 -r "$2")"; fi || return 1
  else
    ao_log "no sha256sum, shasum or openssl found"
    return 1
  fi
  _out="${_out%% *}"
  _out="${_out#\\}" # sha256sum prefixes a backslash for odd file names
  ao_lower_hex "$1" "$_out"
}

# ao_expected_sha256 VAR CHECKSUMS ASSET: the hash listed for ASSET ("<sha256>  <asset>" or
# "<sha256> *<asset>" lines; blank lines and # comments ignored), lower-case. Fails unless
# exactly one well-formed line names the asset.
ao_expected_sha256() {
  local _checksums="$2" _asset="$3" _line _hash _name _n=0 _found=""
  [ -f "$_checksums" ] || return 1
  while IFS= read -r _line || [ -n "$_line" ]; do
    _line="${_line%$'\r'}"
    case "$_line" in '' | '#'*) continue ;; esac
    _hash="${_line%%[[:space:]]*}"
    _name="${_line#"$_hash"}"
    _name="${_name#"${_name%%[![:space:]]*}"}" # left-trim
    _name="${_name#\*}"
    if [ "$_name" = "$_asset" ]; then
      _n=$((_n + 1))
      _found="$_hash"
    fi
  done <"$_checksums"
  [ "$_n" = 1 ] || return 1
  case "$_found" in
    *[!0-9a-fA-F]*) return 1 ;;
  esac
  [ "${#_found}" = 64 ] || return 1
  ao_lower_hex "$1" "$_found"
}

# ao_verify FILE ASSET CHECKSUMS: 0 iff FILE hashes to the one value listed for ASSET.
ao_verify() {
  local file="$1" asset="$2" checksums="$3" want got
  if ! ao_expected_sha256 want "$checksums" "$asset"; then
    ao_log "no (or no unique, well-formed) SHA-256 for $asset in $checksums"
    return 1
  fi
  if ! ao_sha256 got "$file" || [ -z "$got" ]; then
    ao_log "cannot hash $file"
    return 1
  fi
  if [ "$got" != "$want" ]; then
    ao_log "SHA-256 mismatch for $asset: expected $want, got $got"
    return 1
  fi
  return 0
}

# ao_target VAR OS ARCH: Rust target triple for the runner's OS/arch (runner.os /
# runner.arch values); fails when there is no prebuilt one.
ao_target() {
  case "$2/$3" in
    Linux/X64) printf -v "$1" x86_64-unknown-linux-gnu ;;
    Linux/ARM64) printf -v "$1" aarch64-unknown-linux-gnu ;;
    macOS/X64) printf -v "$1" x86_64-apple-darwin ;;
    macOS/ARM64) printf -v "$1" aarch64-apple-darwin ;;
    Windows/X64) printf -v "$1" x86_64-pc-windows-msvc ;;
    *) return 1 ;;
  esac
}

# ao_detect_platform OSVAR ARCHVAR: runner.os/runner.arch when not given (running outside
# the runner, e.g. tests).
ao_detect_platform() {
  local _u _os _arch
  _u="$(uname -s -m)" || return 1
  _os="${_u% *}" _arch="${_u##* }"
  case "$_os" in
    Linux) _os=Linux ;;
    Darwin) _os=macOS ;;
    MINGW* | MSYS* | CYGWIN*) _os=Windows ;;
  esac
  case "$_arch" in
    x86_64 | amd64) _arch=X64 ;;
    aarch64 | arm64) _arch=ARM64 ;;
  esac
  printf -v "$1" '%s' "$_os"
  printf -v "$2" '%s' "$_arch"
}

ao_asset_name() { # VAR VERSION TARGET
  case "$3" in
    *windows*) printf -v "$1" 'aws-oidc-%s-%s.zip' "$2" "$3" ;;
    *) printf -v "$1" 'aws-oidc-%s-%s.tar.gz' "$2" "$3" ;;
  esac
}

ao_exe_name() { # VAR TARGET
  case "$2" in *windows*) printf -v "$1" aws-oidc.exe ;; *) printf -v "$1" aws-oidc ;; esac
}

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

# ao_newest_listed_version VAR CHECKSUMS: the newest release version that has any asset
# listed in CHECKSUMS, or "".
ao_newest_listed_version() {
  local _checksums="$2" _line _v _best=""
  local _re='^[0-9a-fA-F]{64}[[:space:]]+\*?aws-oidc-(v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?)-(x86_64|aarch64)-'
  if [ -f "$_checksums" ]; then
    while IFS= read -r _line || [ -n "$_line" ]; do
      _line="${_line%$'\r'}"
      [[ "$_line" =~ $_re ]] || continue
      _v="${BASH_REMATCH[1]}"
      if [ -z "$_best" ] || ao_version_gt "$_v" "$_best"; then _best="$_v"; fi
    done <"$_checksums"
  fi
  printf -v "$1" '%s' "$_best"
}

# ao_action_ref VAR: the ref the action was used at: github.action_ref (passed via env, as
# the runner leaves it empty inside composite run: blocks), else the last component of
# .../_actions/<owner>/<repo>/<ref>, else "".
ao_action_ref() {
  local _p=""
  if [ -n "${AO_ACTION_REF:-}" ]; then
    printf -v "$1" '%s' "$AO_ACTION_REF"
    return
  fi
  ao_unix_path _p "${GITHUB_ACTION_PATH:-}"
  _p="${_p%/}"
  case "$_p" in
    */_actions/*/*/*) _p="${_p##*/}" ;;
    *) _p="" ;;
  esac
  printf -v "$1" '%s' "$_p"
}

# ao_action_repository VAR: owner/repo of the action (github.action_repository, else from
# .../_actions/<owner>/<repo>/<ref>, else GITHUB_REPOSITORY).
ao_action_repository() {
  local _p
  if [ -n "${AO_ACTION_REPOSITORY:-}" ]; then
    printf -v "$1" '%s' "$AO_ACTION_REPOSITORY"
    return
  fi
  ao_unix_path _p "${GITHUB_ACTION_PATH:-}"
  _p="${_p%/}"
  case "$_p" in
    */_actions/*/*/*)
      _p="${_p##*/_actions/}" # owner/repo/ref
      printf -v "$1" '%s' "${_p%/*}"
      ;;
    *) printf -v "$1" '%s' "${GITHUB_REPOSITORY:-}" ;;
  esac
}

# ao_resolve_version VAR INPUT REF CHECKSUMS: which version to install, "source" or a
# release tag; fails on a bad input.
ao_resolve_version() {
  local _input="$2" _ref="$3" _newest
  case "$_input" in
    '') ;;
    source) printf -v "$1" source; return 0 ;;
    v[0-9]*) ao_is_release_tag "$_input" || return 1; printf -v "$1" '%s' "$_input"; return 0 ;;
    [0-9]*) ao_is_release_tag "v$_input" || return 1; printf -v "$1" '%s' "v$_input"; return 0 ;;
    *) return 1 ;;
  esac
  if ao_is_release_tag "$_ref"; then
    printf -v "$1" '%s' "$_ref"
    return 0
  fi
  ao_newest_listed_version _newest "$4"
  printf -v "$1" '%s' "${_newest:-source}"
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

ao_extract() { # ARCHIVE DIR (an existing directory)
  local archive="$1" dir="$2"
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
ao_cache_root() { # VAR
  local _root="${RUNNER_TOOL_CACHE:-}"
  if [ -z "$_root" ]; then
    _root="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}"
  fi
  ao_unix_path _root "$_root"
  printf -v "$1" '%s/aws-oidc' "$_root"
}

# ao_run_dir VAR: a fresh directory of this run (under RUNNER_TEMP, which the runner
# empties for every job).
ao_run_dir() {
  local _base _dir
  ao_unix_path _base "${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
  _dir="$(mktemp -d "$_base/aws-oidc-bin.XXXXXX")" || return 1
  printf -v "$1" '%s' "$_dir"
}

# ao_unpack VAR ARCHIVE DIR EXE: unpack ARCHIVE (a release asset) into DIR, a fresh
# directory of this run; VAR = the binary's path. The release lays it out as
# <asset name without .tar.gz/.zip>/EXE; EXE at the top or under another single directory
# is taken too.
ao_unpack() {
  local _archive="$2" _dir="$3" _exe="$4" _top _bin _f
  ao_extract "$_archive" "$_dir" || return 1
  _top="${_archive##*/}"
  _top="${_top%.tar.gz}"
  _top="${_top%.zip}"
  _bin="$_dir/$_top/$_exe"
  if [ ! -f "$_bin" ]; then
    _bin=""
    for _f in "$_dir/$_exe" "$_dir"/*/"$_exe"; do
      if [ -f "$_f" ]; then _bin="$_f"; break; fi
    done
    [ -n "$_bin" ] || return 1
  fi
  # tar and unzip keep the release's mode; chmod only when it did not survive.
  [ -x "$_bin" ] || chmod 0755 "$_bin" || return 1
  printf -v "$1" '%s' "$_bin"
}

# ao_cached_release VAR DIR ASSET CHECKSUMS EXE: the cached archive, re-verified against
# CHECKSUMS (the list at the action's ref, never a hash kept in the cache), unpacked for this
# run; VAR = the binary's path. An entry that does not verify is discarded.
ao_cached_release() {
  local _dir="$2" _asset="$3" _checksums="$4" _exe="$5" _run _unpacked
  [ -f "$_dir.complete" ] && [ -f "$_dir/$_asset" ] || return 1
  # Verify and unpack a copy of this run's: the cache could change in between.
  ao_run_dir _run || return 1
  if ! cp "$_dir/$_asset" "$_run/$_asset" || ! ao_verify "$_run/$_asset" "$_asset" "$_checksums"; then
    ao_log "cached $_dir/$_asset does not match action/checksums.txt: discarding it and installing again"
    rm -rf "$_dir" "$_dir.complete" "$_run"
    return 1
  fi
  if ! ao_unpack _unpacked "$_run/$_asset" "$_run" "$_exe"; then
    ao_log "could not unpack the cached $_asset: installing again"
    rm -rf "$_dir" "$_dir.complete" "$_run"
    return 1
  fi
  rm -f "$_run/$_asset"
  printf -v "$1" '%s' "$_unpacked"
}

ao_source_key() { # VAR ACTION_DIR
  local _d="$2" _key f h=""
  _key="$(
    {
      for f in Cargo.toml Cargo.lock; do
        if [ -f "$_d/$f" ]; then ao_sha256 h "$_d/$f" && printf '%s %s\n' "$f" "$h"; fi
      done
      if [ -d "$_d/src" ]; then
        (cd "$_d" && find src -type f | LC_ALL=C sort) | while IFS= read -r f; do
          ao_sha256 h "$_d/$f" && printf '%s %s\n' "$f" "$h"
        done
      fi
    } | { ao_sha256 h - && printf '%s' "$h"; }
  )"
  printf -v "$1" 'source-%s' "${_key:0:16}"
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
  # shellcheck disable=SC2034 # listed: only whether the asset is listed matters here
  local action_dir checksums os arch target exe version ref repo asset listed url base dir run bin rc root key msg
  AO_BIN=""
  if [ -n "${AWS_OIDC_BINARY:-}" ]; then
    bin="$AWS_OIDC_BINARY"
    [ -f "$bin" ] || ao_unix_path bin "$bin"
    { [ -f "$bin" ] && [ -x "$bin" ]; } || ao_die "AWS_OIDC_BINARY=$AWS_OIDC_BINARY is not an executable file"
    ao_log "using AWS_OIDC_BINARY=$AWS_OIDC_BINARY (nothing installed)"
    AO_BIN="$bin"
    return 0
  fi

  action_dir="${GITHUB_ACTION_PATH:-}"
  if [ -z "$action_dir" ]; then
    case "${BASH_SOURCE[0]}" in
      */*) action_dir="${BASH_SOURCE[0]%/*}/.." ;;
      *) action_dir=.. ;;
    esac
    action_dir="$(cd "$action_dir" && pwd)"
  fi
  ao_unix_path action_dir "$action_dir"
  action_dir="${action_dir%/}"
  checksums="$action_dir/action/checksums.txt"
  os="${AO_RUNNER_OS:-}"
  arch="${AO_RUNNER_ARCH:-}"
  if [ -z "$os" ] || [ -z "$arch" ]; then
    ao_detect_platform os arch
  fi
  ao_target target "$os" "$arch" || target=""
  ao_exe_name exe "${target:-$os}"
  ao_action_ref ref
  ao_resolve_version version "${AO_VERSION:-}" "$ref" "$checksums" ||
    ao_die "version: '${AO_VERSION:-}' is neither a release tag (v1.2.3) nor 'source'"
  ao_cache_root root

  if [ "$version" != source ] && [ -z "$target" ]; then
    ao_log "no prebuilt aws-oidc for $os/$arch: building from source"
    version=source
  fi

  if [ "$version" != source ]; then
    dir="$root/$version/$arch"
    ao_asset_name asset "$version" "$target"
    if ! ao_expected_sha256 listed "$checksums" "$asset"; then
      ao_log "action/checksums.txt at this ref (${ref:-local}) lists no $asset: building from source"
      version=source
    elif ao_cached_release bin "$dir" "$asset" "$checksums" "$exe"; then
      ao_log "using cached aws-oidc $version ($dir/$asset, SHA-256 matches action/checksums.txt)"
      AO_BIN="$bin"
      return 0
    fi
  fi

  if [ "$version" != source ]; then
    if [ -n "${AWS_OIDC_DOWNLOAD_URL:-}" ]; then
      base="${AWS_OIDC_DOWNLOAD_URL%/}"
    else
      ao_action_repository repo
      [ -n "$repo" ] || ao_die "cannot tell which repository's releases to download aws-oidc from: set AWS_OIDC_DOWNLOAD_URL or AWS_OIDC_BINARY"
      base="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download"
    fi
    url="$base/$version/$asset"
    # Downloaded, verified and unpacked in a fresh directory of this run; only the verified
    # archive then moves to the tool cache.
    ao_run_dir run || ao_die "cannot create a directory under ${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
    ao_log "downloading $url"
    rc=0
    ao_download "$url" "$run/$asset" || rc=$?
    if [ "$rc" = 4 ]; then
      ao_escape msg "$url does not exist (HTTP 404): building aws-oidc from source"
      printf '::warning title=aws-oidc::%s\n' "$msg"
      rm -rf "$run"
      version=source
    elif [ "$rc" != 0 ]; then
      rm -rf "$run"
      ao_die "download of $url failed"
    else
      if ! ao_verify "$run/$asset" "$asset" "$checksums"; then
        rm -rf "$run"
        ao_die "checksum verification failed for $asset: refusing to run it (its SHA-256 must match the one in action/checksums.txt)"
      fi
      ao_log "SHA-256 of $asset matches action/checksums.txt"
      ao_unpack bin "$run/$asset" "$run" "$exe" || { rm -rf "$run"; ao_die "could not unpack $asset, or it holds no $exe"; }
      # Keep the verified archive (not the binary): every later run re-verifies it. What an
      # earlier, unfinished or foreign entry left there goes first.
      if [ -e "$dir" ] || [ -L "$dir" ] || [ -e "$dir.complete" ] || [ -L "$dir.complete" ]; then
        rm -rf "$dir" "$dir.complete"
      fi
      if mkdir -p "$dir" && mv "$run/$asset" "$dir/$asset" && : >"$dir.complete"; then
        ao_log "installed aws-oidc $version ($bin); archive cached in $dir"
      else
        ao_log "could not cache $asset in $dir (continuing)"
      fi
      AO_BIN="$bin"
      return 0
    fi
  fi

  # A source build is kept for this job only (RUNNER_TEMP): nothing outside a shared cache
  # could vouch for it, so another job's build is never run. Outside a runner: no reuse.
  ao_source_key key "$action_dir"
  if [ -n "${RUNNER_TEMP:-}" ]; then
    ao_unix_path dir "$RUNNER_TEMP"
    dir="$dir/aws-oidc-source/$key/${arch:-unknown}"
    if [ -f "$dir.complete" ] && [ -f "$dir/$exe" ] && [ -x "$dir/$exe" ]; then
      ao_log "using this job's source build $key ($dir/$exe)"
      AO_BIN="$dir/$exe"
      return 0
    fi
  else
    ao_run_dir dir || ao_die "cannot create a directory under ${TMPDIR:-/tmp}"
    dir="$dir/$key"
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
