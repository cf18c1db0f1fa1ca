#!/usr/bin/env bash
# Unit tests for the GitHub Action's scripts, without a runner or network:
#   * action/install.sh: hashing with each backend, checksum-list parsing and
#     verification (good, tampered, missing, duplicate, malformed, CRLF, "*name"),
#     platform/asset names, version resolution, the download -> verify -> unpack ->
#     cache path against a local HTTP server, the 404 -> build-from-source fallback
#     (with a stand-in cargo), planted tool-cache entries (release and source build:
#     never run), and AWS_OIDC_BINARY;
#   * action/main.sh: how each input maps to aws-oidc flags (with a stand-in binary that
#     records its arguments) and which inputs stop the step.
#
#   action/tests/unit.sh        (prints "N passed, N failed"; exit 1 on any failure)
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); printf '  ok   %s\n' "$1"; }
bad() { fail=$((fail + 1)); printf '  FAIL %s\n' "$1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/       /'; }
check() { # NAME CMD...: passes when CMD succeeds
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then ok "$name"; else bad "$name" "$out"; fi
}
check_fails() { # NAME CMD...: passes when CMD fails
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then bad "$name (unexpectedly succeeded)" "$out"; else ok "$name"; fi
}
eq() { # NAME GOT WANT
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got:  [$2]"$'\n'"want: [$3]"; fi
}
contains() { # NAME HAYSTACK NEEDLE
  case "$2" in *"$3"*) ok "$1" ;; *) bad "$1" "missing [$3] in:"$'\n'"$2" ;; esac
}
lacks() { # NAME HAYSTACK NEEDLE
  case "$2" in *"$3"*) bad "$1" "unexpected [$3] in:"$'\n'"$2" ;; *) ok "$1" ;; esac
}

# shellcheck source=action/install.sh
. "$repo/action/install.sh"
# install.sh's helpers set the variable named first (no $(...) subshells); get prints it.
get() { # FUNCTION ARGS...: run FUNCTION __got ARGS..., print __got
  local __got=""
  "$1" __got "${@:2}" || return
  printf '%s' "$__got"
}

echo "bash 3.2 (macOS runners' shell: bash): no bash-4-only syntax"
# GitHub's macOS runners run `shell: bash` steps with /bin/bash 3.2. Besides bash-4
# features, two 3.2 parse rules: a literal "(" in a [[ =~ ]] pattern is a syntax error (put
# the pattern in a variable), and a quoted replacement in "${v//pat/'rep'}" keeps its quotes.
# (action/tests/unit.sh under a bash 3.2 in PATH runs everything below with it too.)
for f in action/install.sh action/main.sh; do
  hits="$(grep -nE '=~ +[^$ ][^ ]*[(]|,,\}|\^\^\}|declare -A|local -n|mapfile|readarray|\$\{[^}]*//[^}]*/'"'"'[^}]*\}"' "$repo/$f" | grep -v '^[0-9]*: *#')"
  eq "$f: bash 3.2 syntax" "$hits" ""
done

echo "helpers that set a variable: no caller hands one a name it declares local"
# (Not inside $(...): bash 3.2 misparses a here-document there.)
python3 - "$repo/action/install.sh" "$repo/action/main.sh" >"$work/collisions" 2>&1 <<'EOF'
import re, sys
# Helpers that set the variable named by their first argument (printf -v "$1" ..., or
# passing "$1" on to another such helper) must not be handed a name they declare local:
# printf -v would set their local, and the caller's variable would stay as it was.
src = "".join(open(f).read() + "\n" for f in sys.argv[1:])
funcs = {}
for m in re.finditer(r'^([A-Za-z_][A-Za-z0-9_]*)\(\) \{(?: *#[^\n]*)?\n(.*?)^\}', src, re.M | re.S):
    funcs[m.group(1)] = m.group(2)
for m in re.finditer(r'^([A-Za-z_][A-Za-z0-9_]*)\(\) \{ (.*) \}$', src, re.M):
    funcs[m.group(1)] = m.group(2)
def locals_of(body):
    names = set()
    for l in re.findall(r'\blocal ([^;\n]*)', body):
        for w in l.split():
            names.add(w.split("=")[0])
    return names
setters = {f for f, b in funcs.items() if re.search(r'printf -v "\$1"', b)}
changed = True
while changed:
    changed = False
    for f, b in funcs.items():
        if f not in setters and any(re.search(r'\b%s "\$1"' % re.escape(s), b) for s in setters):
            setters.add(f); changed = True
def reach(f, seen=None):
    seen = seen or set()
    if f in seen: return set()
    seen.add(f)
    names = locals_of(funcs[f])
    for s in setters:
        if re.search(r'\b%s "\$1"' % re.escape(s), funcs[f]):
            names |= reach(s, seen)
    return names
bad = []
top = re.sub(r'^[A-Za-z_][A-Za-z0-9_]*\(\) \{(?: *#[^\n]*)?\n.*?^\}', '', src, flags=re.M | re.S)
for f, b in list(funcs.items()) + [("(top level)", top)]:
    for s in setters:
        for m in re.finditer(r'(?:^|[\s;&|!({])%s ([A-Za-z_][A-Za-z0-9_]*)\b' % re.escape(s), b, re.M):
            name = m.group(1)
            if name in reach(s):
                bad.append(f"{f}: {s} {name} (a local of {s} or a helper it passes \"$1\" to)")
print("\n".join(sorted(set(bad))))
EOF
eq "printf -v helpers: no name clashes with their locals" "$(cat "$work/collisions")" ""

echo "install.sh: hashing"
printf 'abc' >"$work/abc"
abc_sha=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
eq "ao_sha256 (default backend)" "$(get ao_sha256 "$work/abc")" "$abc_sha"
eq "ao_sha256 of stdin" "$(printf abc | get ao_sha256 -)" "$abc_sha"
# Each backend alone: a PATH with only that tool (plus what the function needs).
for tool in sha256sum shasum openssl; do
  if p="$(command -v "$tool")"; then
    mkdir -p "$work/only-$tool"
    ln -sf "$p" "$work/only-$tool/$tool"
    [ "$tool" != shasum ] || ln -sf "$(command -v perl)" "$work/only-$tool/perl"
    got="$(PATH="$work/only-$tool" get ao_sha256 "$work/abc")"
    eq "ao_sha256 with only $tool" "$got" "$abc_sha"
  fi
done
mkdir -p "$work/no-hash"
check_fails "ao_sha256 without any hash tool fails" env PATH="$work/no-hash" bash -c ". '$repo/action/install.sh'; ao_sha256 h '$work/abc'"

echo "install.sh: checksum list and verification"
asset=aws-oidc-v9.9.9-x86_64-unknown-linux-gnu.tar.gz
printf 'pretend archive\n' >"$work/$asset"
good="$(get ao_sha256 "$work/$asset")"
printf '# comment\n\n%s  %s\n%s  other-asset.zip\n' "$good" "$asset" "$abc_sha" >"$work/sums.good"
check "verify: good file" ao_verify "$work/$asset" "$asset" "$work/sums.good"
check "verify: install.sh verify subcommand" bash "$repo/action/install.sh" verify "$work/$asset" "$asset" "$work/sums.good"
cp "$work/$asset" "$work/tampered"
printf 'x' >>"$work/tampered"
check_fails "verify: tampered file" ao_verify "$work/tampered" "$asset" "$work/sums.good"
out="$(ao_verify "$work/tampered" "$asset" "$work/sums.good" 2>&1)"
contains "verify: mismatch message names both hashes" "$out" "expected $good, got "
check_fails "verify: install.sh verify exits non-zero on a bad file" bash "$repo/action/install.sh" verify "$work/tampered" "$asset" "$work/sums.good"
check_fails "verify: asset not listed" ao_verify "$work/$asset" aws-oidc-v0.0.1-x86_64-unknown-linux-gnu.tar.gz "$work/sums.good"
check_fails "verify: no checksum file" ao_verify "$work/$asset" "$asset" "$work/nope"
printf '%s  %s\n%s  %s\n' "$good" "$asset" "$good" "$asset" >"$work/sums.dup"
check_fails "verify: asset listed twice" ao_verify "$work/$asset" "$asset" "$work/sums.dup"
printf '%s  %s\n' "${good:0:63}" "$asset" >"$work/sums.short"
check_fails "verify: truncated hash" ao_verify "$work/$asset" "$asset" "$work/sums.short"
printf '%sg  %s\n' "${good:0:63}" "$asset" >"$work/sums.nonhex"
check_fails "verify: non-hex hash" ao_verify "$work/$asset" "$asset" "$work/sums.nonhex"
printf '%s *%s\r\n' "$(printf '%s' "$good" | tr a-f A-F)" "$asset" >"$work/sums.crlf"
check "verify: CRLF, upper-case hex, *binary marker" ao_verify "$work/$asset" "$asset" "$work/sums.crlf"
printf '%s  %s.sig\n' "$good" "$asset" >"$work/sums.prefix"
check_fails "verify: a longer name does not match" ao_verify "$work/$asset" "$asset" "$work/sums.prefix"
check "repo action/checksums.txt only has comments or well-formed lines" bash -c "
  grep -vE '^(#.*)?\$' '$repo/action/checksums.txt' | grep -vE '^[0-9a-f]{64}  aws-oidc-v[0-9][^ ]*-(x86_64|aarch64)-[a-z0-9_-]+\.(tar\.gz|zip)\$' | { ! grep -q .; }"

echo "install.sh: platforms, names, versions"
eq "target Linux/X64" "$(get ao_target Linux X64)" x86_64-unknown-linux-gnu
eq "target Linux/ARM64" "$(get ao_target Linux ARM64)" aarch64-unknown-linux-gnu
eq "target macOS/X64" "$(get ao_target macOS X64)" x86_64-apple-darwin
eq "target macOS/ARM64" "$(get ao_target macOS ARM64)" aarch64-apple-darwin
eq "target Windows/X64" "$(get ao_target Windows X64)" x86_64-pc-windows-msvc
check_fails "target Windows/ARM64 has no prebuilt" get ao_target Windows ARM64
eq "asset name (tar.gz)" "$(get ao_asset_name v1.2.3 aarch64-apple-darwin)" aws-oidc-v1.2.3-aarch64-apple-darwin.tar.gz
eq "asset name (zip on Windows)" "$(get ao_asset_name v1.2.3 x86_64-pc-windows-msvc)" aws-oidc-v1.2.3-x86_64-pc-windows-msvc.zip
eq "exe name on Windows" "$(get ao_exe_name x86_64-pc-windows-msvc)" aws-oidc.exe
{
  printf '# header\n'
  for v in v1.2.0 v1.10.0 v1.10.0-rc.1 v1.9.3; do
    printf '%s  aws-oidc-%s-x86_64-unknown-linux-gnu.tar.gz\n' "$abc_sha" "$v"
  done
} >"$work/sums.versions"
eq "newest listed version (numeric, release > rc)" "$(get ao_newest_listed_version "$work/sums.versions")" v1.10.0
eq "resolve: version input wins" "$(get ao_resolve_version v1.2.0 v1.9.3 "$work/sums.versions")" v1.2.0
eq "resolve: version input without v" "$(get ao_resolve_version 1.2.0 '' "$work/sums.versions")" v1.2.0
eq "resolve: version source" "$(get ao_resolve_version source v1.9.3 "$work/sums.versions")" source
check_fails "resolve: bad version input" get ao_resolve_version latest '' "$work/sums.versions"
eq "resolve: ref that is a release tag" "$(get ao_resolve_version '' v2.0.0 "$work/sums.versions")" v2.0.0
eq "resolve: major-tag ref -> newest listed" "$(get ao_resolve_version '' v1 "$work/sums.versions")" v1.10.0
eq "resolve: commit ref -> newest listed" "$(get ao_resolve_version '' 0123456789abcdef0123456789abcdef01234567 "$work/sums.versions")" v1.10.0
eq "resolve: nothing listed -> source" "$(get ao_resolve_version '' '' "$repo/action/checksums.txt")" source
eq "action ref from GITHUB_ACTION_PATH" "$(AO_ACTION_REF='' GITHUB_ACTION_PATH=/home/runner/work/_actions/acme/aws-oidc/v1 get ao_action_ref)" v1
eq "action repository from GITHUB_ACTION_PATH" "$(AO_ACTION_REPOSITORY='' GITHUB_ACTION_PATH=/home/runner/work/_actions/acme/aws-oidc/v1/ get ao_action_repository)" acme/aws-oidc
eq "action ref from env wins" "$(AO_ACTION_REF=v3.1.0 GITHUB_ACTION_PATH=/x/_actions/a/b/v1 get ao_action_ref)" v3.1.0
eq "local action has no ref" "$(AO_ACTION_REF='' GITHUB_ACTION_PATH=/home/me/src/aws-oidc get ao_action_ref)" ""

echo "install.sh: download, verify, unpack, cache (local HTTP server)"
# A stand-in aws-oidc, packed as a release asset of this platform.
ao_detect_platform os arch
target="$(get ao_target "$os" "$arch")"
exe="$(get ao_exe_name "$target")"
ver=v0.0.0-unit
mkdir -p "$work/srv/$ver" "$work/pkg/aws-oidc-$ver-$target" "$work/action/action"
printf '#!/bin/sh\necho "aws-oidc 0.0.0-unit $*"\n' >"$work/pkg/aws-oidc-$ver-$target/$exe"
chmod +x "$work/pkg/aws-oidc-$ver-$target/$exe"
asset="$(get ao_asset_name "$ver" "$target")"
(cd "$work/pkg" && tar -czf "$work/srv/$ver/$asset" "aws-oidc-$ver-$target")
cp "$repo/action/install.sh" "$work/action/action/"
printf '%s  %s\n' "$(get ao_sha256 "$work/srv/$ver/$asset")" "$asset" >"$work/action/action/checksums.txt"
# The same asset under another version whose listed hash is wrong.
mkdir -p "$work/srv/v0.0.0-bad"
cp "$work/srv/$ver/$asset" "$work/srv/v0.0.0-bad/$(get ao_asset_name v0.0.0-bad "$target")"
printf '%s  %s\n' "$abc_sha" "$(get ao_asset_name v0.0.0-bad "$target")" >>"$work/action/action/checksums.txt"
# Listed, but missing from the server (404).
printf '%s  %s\n' "$abc_sha" "$(get ao_asset_name v0.0.0-gone "$target")" >>"$work/action/action/checksums.txt"

python3 -m http.server 0 --bind 127.0.0.1 --directory "$work/srv" >"$work/http.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$work/http.log" | head -n 1)"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "http.server did not start"; cat "$work/http.log"; exit 1; }

install_env=(env -u AWS_OIDC_BINARY GITHUB_ACTION_PATH="$work/action" RUNNER_TOOL_CACHE="$work/cache"
  RUNNER_TEMP="$work/tmp" AWS_OIDC_DOWNLOAD_URL="http://127.0.0.1:$port" AO_ACTION_REF='' AO_RUNNER_OS="$os"
  AO_RUNNER_ARCH="$arch")
mkdir -p "$work/tmp"
run_install() { "${install_env[@]}" "$@" bash "$work/action/action/install.sh" install; }

# Which programs a run starts: a PATH of logging wrappers around the tools the scripts could
# use (bash and env pass through unlogged). programs prints the log sorted, one line.
mkdir -p "$work/trace"
for t in mktemp curl wget sha256sum shasum openssl tar gzip unzip mkdir mv rm cp chmod find head tr \
  dirname uname cat sed sort grep cygpath; do
  p="$(command -v "$t")" || continue
  printf '#!/bin/sh\nprintf "%%s\\n" %s >>"%s"\nexec %s "$@"\n' "$t" "$work/programs" "$p" >"$work/trace/$t"
  chmod +x "$work/trace/$t"
done
ln -sf "$(command -v bash)" "$work/trace/bash"
ln -sf "$(command -v env)" "$work/trace/env"
programs() { sort "$work/programs" 2>/dev/null | grep -vx gzip | tr '\n' ' ' | sed 's/ $//'; }

out="$(run_install AO_VERSION=$ver 2>&1)"; rc=$?
eq "install: downloads and verifies (exit 0)" "$rc" 0
contains "install: says the hash matched" "$out" "SHA-256 of $asset matches action/checksums.txt"
bin="$(printf '%s\n' "$out" | tail -n 1)"
case "$bin" in
  "$work/tmp/aws-oidc-bin."*/"$exe") ok "install: binary unpacked into a directory of this run (RUNNER_TEMP)" ;;
  *) bad "install: binary unpacked into a directory of this run (RUNNER_TEMP)" "$bin" ;;
esac
check "install: the verified archive is kept in the tool cache" test -f "$work/cache/aws-oidc/$ver/$arch/$asset"
check "install: cache is sealed (.complete)" test -f "$work/cache/aws-oidc/$ver/$arch.complete"
eq "install: installed binary runs" "$("$bin" --version)" "aws-oidc 0.0.0-unit --version"
rm -rf "$work/cache"
: >"$work/programs"
run_install AO_VERSION=$ver PATH="$work/trace" >/dev/null 2>&1
# (tar -z runs gzip too, which programs leaves out: bsdtar does not.)
eq "install: a fresh install runs only mktemp, curl, sha256sum, tar, mkdir, mv" "$(programs)" "curl mkdir mktemp mv sha256sum tar"
: >"$work/programs"
run_install AO_VERSION=$ver PATH="$work/trace" >/dev/null 2>&1
eq "install: a cache hit runs only mktemp, cp, sha256sum, tar, rm" "$(programs)" "cp mktemp rm sha256sum tar"
requests_before="$(grep -c "GET /$ver/" "$work/http.log")"
out="$(run_install AO_VERSION=$ver 2>&1)"
contains "install: second run uses the cache" "$out" "using cached aws-oidc $ver"
eq "install: second run downloads nothing" "$(grep -c "GET /$ver/" "$work/http.log")" "$requests_before"
printf 'x' >>"$work/cache/aws-oidc/$ver/$arch/$asset"
out="$(run_install AO_VERSION=$ver 2>&1)"
contains "install: a modified cached archive is discarded" "$out" "does not match action/checksums.txt: discarding it"
bin="$(printf '%s\n' "$out" | tail -n 1)"
eq "install: reinstalled binary is the released one" "$("$bin" --version)" "aws-oidc 0.0.0-unit --version"

# A job on a persistent self-hosted runner can write the tool cache: it replaces what the
# cache holds for $ver (binary, archive, recorded hash) with its own, consistently.
mkdir -p "$work/evil/aws-oidc-$ver-$target"
printf '#!/bin/sh\necho planted\n' >"$work/evil/aws-oidc-$ver-$target/$exe"
chmod +x "$work/evil/aws-oidc-$ver-$target/$exe"
(cd "$work/evil" && tar -czf "$work/evil.tar.gz" "aws-oidc-$ver-$target")
plant() { # DIR: every file in DIR becomes the planted one, hashes recomputed
  local f
  for f in "$1"/* "$1"/.[!.]*; do
    [ -f "$f" ] || continue
    case "$f" in
      *.tar.gz) cp "$work/evil.tar.gz" "$f" ;;
      *.sha256) ;;
      *) cp "$work/evil/aws-oidc-$ver-$target/$exe" "$f" ;;
    esac
  done
  for f in "$1"/*.sha256; do
    [ -f "$f" ] && get ao_sha256 "$1/$exe" >"$f"
  done
  return 0
}
plant "$work/cache/aws-oidc/$ver/$arch"
out="$(run_install AO_VERSION=$ver 2>&1)"; rc=$?
bin="$(printf '%s\n' "$out" | tail -n 1)"
eq "planted release entry: install still succeeds" "$rc" 0
eq "planted release entry: the binary run is the released one" "$("$bin" --version 2>&1)" "aws-oidc 0.0.0-unit --version"
contains "planted release entry: discarded, with a log line" "$out" "does not match action/checksums.txt"
out="$(run_install AO_VERSION=$ver 2>&1)"
contains "planted release entry: re-installed, then used from the cache" "$out" "using cached aws-oidc $ver"
eq "planted release entry: ... still the released one" "$("$(printf '%s\n' "$out" | tail -n 1)" --version 2>&1)" "aws-oidc 0.0.0-unit --version"

out="$(run_install AO_VERSION=v0.0.0-bad 2>&1)"; rc=$?
check_fails "install: checksum mismatch stops the step" test "$rc" = 0
contains "install: mismatch is reported as an ::error" "$out" "::error title=aws-oidc::checksum verification failed for $(get ao_asset_name v0.0.0-bad "$target")"
check_fails "install: nothing cached after a mismatch" test -e "$work/cache/aws-oidc/v0.0.0-bad/$arch/$exe"
check "install: the refused download is removed" bash -c "! find '$work/tmp' -name '*v0.0.0-bad*' | grep -q ."

# The 404 and not-listed cases fall back to a source build: a stand-in cargo records
# how it is called and "builds" a script.
mkdir -p "$work/fakebin" "$work/action/src"
printf '[package]\nname = "aws-oidc"\n' >"$work/action/Cargo.toml"
printf 'fn main() {}\n' >"$work/action/src/main.rs"
cat >"$work/fakebin/cargo" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" >>"$work/cargo.calls"
root=""; while [ \$# -gt 0 ]; do [ "\$1" = --root ] && root="\$2"; shift; done
mkdir -p "\$root/bin"
printf '#!/bin/sh\necho built-from-source\n' >"\$root/bin/$exe"
chmod +x "\$root/bin/$exe"
EOF
chmod +x "$work/fakebin/cargo"
out="$(run_install PATH="$work/fakebin:$PATH" AO_VERSION=v0.0.0-gone 2>&1)"; rc=$?
eq "install: 404 falls back to a source build (exit 0)" "$rc" 0
contains "install: 404 is a warning" "$out" "::warning title=aws-oidc::http://127.0.0.1:$port/v0.0.0-gone/"
contains "install: cargo install --locked --path <action dir>" "$(cat "$work/cargo.calls" 2>/dev/null)" "install --locked --quiet --path $work/action --root"
bin="$(printf '%s\n' "$out" | tail -n 1)"
eq "install: source build runs" "$("$bin")" built-from-source
: >"$work/cargo.calls"
out="$(run_install PATH="$work/fakebin:$PATH" AO_VERSION=v7.7.7 2>&1)"
contains "install: a version not in checksums.txt builds from source" "$out" "lists no $(get ao_asset_name v7.7.7 "$target"): building from source"
contains "install: ... using this job's source build" "$out" "using this job's source build source-"
eq "install: ... without running cargo again" "$(cat "$work/cargo.calls")" ""
printf '\n// changed\n' >>"$work/action/src/main.rs"
out="$(run_install PATH="$work/fakebin:$PATH" AO_VERSION=source 2>&1)"
lacks "install: changed source is rebuilt" "$out" "source build source-"
eq "install: ... with cargo" "$(grep -c -- '--locked' "$work/cargo.calls")" 1
mkdir -p "$work/nocargo"
for t in bash env find sort tr head mkdir rm mv chmod cat dirname uname sed grep ls sha256sum shasum perl openssl; do
  p="$(command -v "$t")" && ln -sf "$p" "$work/nocargo/$t"
done
printf '\n// changed again\n' >>"$work/action/src/main.rs"
out="$(run_install PATH="$work/nocargo" AO_VERSION=source 2>&1)"; rc=$?
check_fails "install: no asset and no cargo fails" test "$rc" = 0
contains "install: ... saying what to do" "$out" "cargo is not installed to build aws-oidc from source"

# A source build is not trusted across jobs: job 1 builds; someone plants their binary in
# the tool cache (wherever a build could be kept outside the job); job 2 must not run it.
mkdir -p "$work/job1" "$work/job2"
: >"$work/cargo.calls"
out="$(run_install PATH="$work/fakebin:$PATH" RUNNER_TEMP="$work/job1" AO_VERSION=source 2>&1)"; rc=$?
eq "planted source build: job 1 builds (exit 0)" "$rc" 0
for d in "$work/cache/aws-oidc"/source-*/*/; do
  [ -d "$d" ] && plant "${d%/}"
done
: >"$work/cargo.calls"
out="$(run_install PATH="$work/fakebin:$PATH" RUNNER_TEMP="$work/job2" AO_VERSION=source 2>&1)"; rc=$?
bin="$(printf '%s\n' "$out" | tail -n 1)"
eq "planted source build: job 2 succeeds" "$rc" 0
eq "planted source build: job 2 does not run the planted binary" "$("$bin" 2>&1)" built-from-source
eq "planted source build: job 2 builds again" "$(grep -c -- '--locked' "$work/cargo.calls")" 1

out="$(env AWS_OIDC_BINARY="$work/abc" bash "$repo/action/install.sh" install 2>&1)"; rc=$?
check_fails "install: non-executable AWS_OIDC_BINARY fails" test "$rc" = 0
contains "install: ... with a message" "$out" "is not an executable file"
eq "install: AWS_OIDC_BINARY is used as is" "$(AWS_OIDC_BINARY="$bin" bash "$repo/action/install.sh" install 2>/dev/null)" "$bin"

echo "main.sh: inputs -> aws-oidc flags"
# A stand-in aws-oidc that records its arguments, one per line.
cat >"$work/stub" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" >>"$work/calls"
[ "\${1:-}" = --version ] && { echo "aws-oidc stub"; exit 0; }
[ "\${1:-}" = assume ] && [ "\${2:-}" = --help ] && { echo "--role-arn \${STUB_HELP:-} --output"; exit 0; }
printf '%s\n' "\$@" >"$work/args"
echo "::add-mask::stub-mask"
[ -z "\${STUB_PRELUDE:-}" ] || printf '%s\n' "\$STUB_PRELUDE" >&2
printf '%s\n' "HTTPS_PROXY=\${HTTPS_PROXY:-} NO_PROXY=\${NO_PROXY:-} AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID-unset}" >"$work/env"
for a in "\$@"; do case "\$a" in @*) cat "\${a#@}" >"$work/policy" ;; esac; done
[ "\${STUB_EXIT:-0}" = 0 ] || printf 'aws-oidc: error: no token\n  hint: add permissions\n' >&2
exit \${STUB_EXIT:-0}
EOF
chmod +x "$work/stub"
# Every input at its action.yml default, then the overrides given.
defaults=(AOI_AUDIENCE=sts.amazonaws.com AOI_ROLE_CHAINING=false AOI_MASK_AWS_ACCOUNT_ID=false
  AOI_OUTPUT_CREDENTIALS=false AOI_RETRY_MAX_ATTEMPTS=12 AOI_DISABLE_RETRY=false
  AOI_OVERWRITE_AWS_PROFILE=false AOI_UNSET_CURRENT_CREDENTIALS=false AOI_CONSOLE_URL=false
  AOI_ROLE_SKIP_SESSION_TAGGING=false AOI_SPECIAL_CHARACTERS_WORKAROUND=false
  AOI_USE_EXISTING_CREDENTIALS=false AOI_FORCE_SKIP_OIDC=false
  AOI_AWS_REGION=eu-west-1 AOI_ROLE_TO_ASSUME=arn:aws:iam::123456789012:role/deploy)
main() { # VAR=VALUE... ; stdout+stderr of main.sh; sets $rc
  rm -f "$work/args" "$work/env" "$work/policy" "$work/calls"
  : >"$work/github_env"
  out="$(env -i PATH="$PATH" HOME="$work/home" AWS_OIDC_BINARY="$work/stub" RUNNER_TEMP="$work/tmp" \
    GITHUB_ENV="$work/github_env" GITHUB_WORKSPACE="$work/ws" AWS_ACCESS_KEY_ID=AKIAOLD \
    "${defaults[@]}" "$@" bash "$repo/action/main.sh" 2>&1)"
  rc=$?
}
args() { tr '\n' ' ' <"$work/args" 2>/dev/null | sed 's/ $//'; }

: >"$work/programs"
main PATH="$work/trace"
eq "defaults: exit 0" "$rc" 0
eq "defaults: aws-oidc runs once (no --version first)" "$(cat "$work/calls")" "assume --role-arn arn:aws:iam::123456789012:role/deploy --region eu-west-1 --session-name GitHubActions --audience sts.amazonaws.com --max-attempts 12 --output github"
eq "defaults: main.sh runs no other program" "$(programs)" ""
eq "defaults: flags" "$(args)" "assume --role-arn arn:aws:iam::123456789012:role/deploy --region eu-west-1 --session-name GitHubActions --audience sts.amazonaws.com --max-attempts 12 --output github"
main AOI_ROLE_SESSION_NAME=deploy-1 AOI_ROLE_DURATION_SECONDS=900 AOI_AUDIENCE=custom AOI_DISABLE_RETRY=true \
  AOI_OUTPUT_ENV_CREDENTIALS=false AOI_OUTPUT_CREDENTIALS=true AOI_MASK_AWS_ACCOUNT_ID=TRUE \
  AOI_ALLOWED_ACCOUNT_IDS='123456789012, 210987654321' AOI_STS_ENDPOINT=http://127.0.0.1:1 AOI_ACTION_TIMEOUT_S=30 \
  AOI_MANAGED_SESSION_POLICIES=$'arn:aws:iam::aws:policy/ReadOnlyAccess\n\n  arn:aws:iam::123456789012:policy/p2  \n'
eq "all mapped: flags" "$(args)" "assume --role-arn arn:aws:iam::123456789012:role/deploy --region eu-west-1 --session-name deploy-1 --duration 900 --audience custom --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess --policy-arn arn:aws:iam::123456789012:policy/p2 --allowed-account-ids 123456789012,210987654321 --max-attempts 1 --timeout 30 --sts-endpoint http://127.0.0.1:1 --output github-outputs --github-output-credentials --mask-account-id"
main AOI_RETRY_MAX_ATTEMPTS=0
contains "retry-max-attempts 0 -> 1 attempt" "$(args)" "--max-attempts 1"
main AOI_ROLE_DURATION_SECONDS=0
lacks "role-duration-seconds 0 -> default" "$(args)" "--duration"
main AOI_INLINE_SESSION_POLICY='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:List*","Resource":"*"}]}'
contains "inline policy goes through a file" "$(args)" "--policy @$work/tmp/aws-oidc-policy."
eq "... with the policy text" "$(cat "$work/policy" 2>/dev/null)" '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:List*","Resource":"*"}]}'
check_fails "... removed afterwards" bash -c "ls '$work/tmp' | grep -q aws-oidc-policy"
main AOI_ROLE_CHAINING=true AOI_ROLE_EXTERNAL_ID=ext-123
eq "role-chaining: flags" "$(args)" "assume --role-arn arn:aws:iam::123456789012:role/deploy --region eu-west-1 --session-name GitHubActions --role-chaining --external-id ext-123 --max-attempts 12 --output github"
contains "role-chaining: session-tag warning" "$out" "::warning title=aws-oidc::aws-oidc sets no session tags"
main AOI_ROLE_CHAINING=true AOI_ROLE_SKIP_SESSION_TAGGING=true
lacks "role-chaining + role-skip-session-tagging: no warning" "$out" "session tags"
main AOI_ROLE_EXTERNAL_ID=ext-123
lacks "external id without chaining: not passed" "$(args)" "--external-id"
contains "external id without chaining: warning" "$out" "::warning title=aws-oidc::role-external-id is not used"
mkdir -p "$work/ws/sub"
printf 'token' >"$work/ws/sub/token"
main AOI_WEB_IDENTITY_TOKEN_FILE=sub/token
eq "token file: relative to the workspace, no audience" "$(args)" "assume --role-arn arn:aws:iam::123456789012:role/deploy --region eu-west-1 --session-name GitHubActions --token-file $work/ws/sub/token --max-attempts 12 --output github"
main AOI_WEB_IDENTITY_TOKEN_FILE=missing
contains "token file: missing -> error" "$out" "Web identity token file does not exist: $work/ws/missing"
main AOI_HTTP_PROXY=http://proxy:3128 AOI_NO_PROXY=169.254.169.254
eq "http-proxy / no-proxy -> environment" "$(cat "$work/env")" "HTTPS_PROXY=http://proxy:3128 NO_PROXY=169.254.169.254 AWS_ACCESS_KEY_ID=AKIAOLD"
main AOI_UNSET_CURRENT_CREDENTIALS=true
eq "unset-current-credentials: cleared for aws-oidc" "$(cat "$work/env")" "HTTPS_PROXY= NO_PROXY= AWS_ACCESS_KEY_ID=unset"
eq "unset-current-credentials: cleared for later steps" "$(cat "$work/github_env")" $'AWS_ACCESS_KEY_ID=\nAWS_SECRET_ACCESS_KEY=\nAWS_SESSION_TOKEN=\nAWS_REGION=\nAWS_DEFAULT_REGION='
main AOI_AWS_PROFILE=dev
contains "aws-profile: profile output, env off by default" "$(args)" "--output github-outputs --output profile=dev"
eq "aws-profile: no AWS_PROFILE exported by default" "$(cat "$work/github_env")" ""
main AOI_AWS_PROFILE=dev AOI_OUTPUT_ENV_CREDENTIALS=true
contains "aws-profile + output-env-credentials" "$(args)" "--output github --output profile=dev"
eq "aws-profile + output-env-credentials: AWS_PROFILE exported" "$(cat "$work/github_env")" "AWS_PROFILE=dev"
mkdir -p "$work/home/.aws"
printf '[default]\naws_access_key_id = x\n\n [dev] \naws_access_key_id = y\n' >"$work/home/.aws/credentials"
main AOI_AWS_PROFILE=dev
contains "aws-profile exists: error" "$out" 'Profile with name "dev" already exists'
main AOI_AWS_PROFILE=dev AOI_OVERWRITE_AWS_PROFILE=true
eq "aws-profile exists + overwrite-aws-profile: ok" "$rc" 0
main AOI_AWS_PROFILE='a b'
contains "aws-profile with whitespace: error" "$out" "aws-profile must not contain whitespace"
main STUB_EXIT=4
eq "aws-oidc's exit code is the step's" "$rc" 4
contains "... with aws-oidc's error and hints as the ::error annotation" "$out" "::error title=aws-oidc::aws-oidc assume failed (exit 4): no token%0A  hint: add permissions"
contains "... and on stderr as it was" "$out" "aws-oidc: error: no token"
main STUB_EXIT=3 STUB_PRELUDE=$'aws-oidc: note: first\nsecond'
contains "error after other stderr lines: only the error and its hints annotated" "$out" "::error title=aws-oidc::aws-oidc assume failed (exit 3): no token%0A  hint: add permissions"
contains "... the lines before it still on stderr" "$out" $'aws-oidc: note: first\nsecond\naws-oidc: error: no token'
# A RUNNER_TEMP of its own: whatever main.sh leaves there shows (the others hold install runs).
rm -rf "$work/tmp-main" && mkdir -p "$work/tmp-main"
env -i PATH="$PATH" HOME="$work/home" AWS_OIDC_BINARY="$work/stub" RUNNER_TEMP="$work/tmp-main" \
  GITHUB_ENV="$work/github_env" "${defaults[@]}" STUB_EXIT=5 bash "$repo/action/main.sh" \
  >"$work/main.stdout" 2>"$work/main.stderr"
eq "aws-oidc's stdout (workflow commands) is the step's stdout" "$(grep -v '^::error' "$work/main.stdout")" "::add-mask::stub-mask"
lacks "... and not its stderr" "$(cat "$work/main.stderr")" "::add-mask::"
contains "aws-oidc's stderr is the step's stderr" "$(cat "$work/main.stderr")" $'aws-oidc: error: no token\n  hint: add permissions'
eq "no temporary file left in RUNNER_TEMP" "$(ls -A "$work/tmp-main")" ""

echo "main.sh: inputs that stop the step"
for spec in \
  "AOI_AWS_ACCESS_KEY_ID=AKIA|'aws-access-key-id' is not supported" \
  "AOI_AWS_SECRET_ACCESS_KEY=x|'aws-secret-access-key' is not supported" \
  "AOI_AWS_SESSION_TOKEN=x|'aws-session-token' is not supported" \
  "AOI_TRANSITIVE_TAG_KEYS=Repository|'transitive-tag-keys' is not supported" \
  "AOI_CUSTOM_TAGS={\"a\":\"b\"}|'custom-tags' is not supported" \
  "AOI_SPECIAL_CHARACTERS_WORKAROUND=true|'special-characters-workaround: true' is not supported" \
  "AOI_USE_EXISTING_CREDENTIALS=true|'use-existing-credentials: true' is not supported" \
  "AOI_FORCE_SKIP_OIDC=true|'force-skip-oidc: true' is not supported" \
  "AOI_CONSOLE_URL=yes|input 'console-url' must be true or false, got 'yes'" \
  "AOI_ROLE_CHAINING=maybe|input 'role-chaining' must be true or false, got 'maybe'" \
  "AOI_AWS_REGION=|input 'aws-region' is required" \
  "AOI_AWS_REGION=EU_WEST|Region is not valid: EU_WEST" \
  "AOI_ROLE_TO_ASSUME=|input 'role-to-assume' is required" \
  "AOI_ROLE_TO_ASSUME=deploy|role-to-assume must be a role ARN" \
  "AOI_ROLE_DURATION_SECONDS=1h|role-duration-seconds must be a whole number" \
  "AOI_RETRY_MAX_ATTEMPTS=many|retry-max-attempts must be a whole number" ; do
  assignment="${spec%%|*}"
  message="${spec#*|}"
  main "$assignment"
  if [ "$rc" = 2 ] && [ ! -e "$work/args" ]; then ok "$assignment: exit 2, aws-oidc not run"; else bad "$assignment: exit 2, aws-oidc not run" "rc=$rc"$'\n'"$out"; fi
  [ -z "$message" ] || contains "$assignment: message" "$out" "::error title=aws-oidc::$message"
done
main AOI_AWS_ACCESS_KEY_ID=AKIA AOI_USE_EXISTING_CREDENTIALS=true
contains "several unsupported inputs: each named" "$out" "'aws-access-key-id' is not supported"
contains "several unsupported inputs: ... all of them" "$out" "'use-existing-credentials: true' is not supported"
main AOI_CONSOLE_URL=true
check_fails "console-url with an aws-oidc that lacks it: fails" test "$rc" = 0
contains "... not supported in this version" "$out" "::error title=aws-oidc::'console-url: true' is not supported in this version of aws-oidc (aws-oidc stub)"
main AOI_CONSOLE_URL=true STUB_HELP=--console-url
contains "console-url: true -> --console-url=github-summary" "$(args)" "--output github --console-url=github-summary"
main AOI_CONSOLE_URL=true STUB_HELP=--console-url AO_REPOSITORY_VISIBILITY=public
contains "console-url in a public repository: refused" "$out" "in the job summary of a public repository's run; not done"
main AOI_CONSOLE_URL=false AOI_SPECIAL_CHARACTERS_WORKAROUND=FALSE AOI_ROLE_SKIP_SESSION_TAGGING=true
eq "unsupported inputs at false / skip-tagging true: fine" "$rc" 0

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
