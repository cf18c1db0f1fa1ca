# shellcheck shell=bash
# Installing the Debian packages the scripts need, when they are missing. Shared by
# scripts/setup-system-deps.sh (what scripts/test.sh and scripts/demo.sh call first),
# setup-test-deps.sh, setup-idp.sh, check-action.sh, check-gitlab.sh, image-smoke.sh and
# bench/run.sh. Source it, then:
#
#   missing_packages CHECK=PACKAGE...   # prints the PACKAGEs whose CHECK fails, one a line
#   apt_install WHO PACKAGE...          # installs them; returns 1 (with a message) if it can't
#   ensure_packages WHO CHECK=PACKAGE... # both
#   node_ok                             # node is on PATH and is Node.js 20 or newer
#
# A CHECK is a command name (found on PATH), an absolute path (must exist), or `venv`
# (python3 can create a virtual environment: Debian's python3 needs python3-venv for it).
#
# apt_install runs only as root with apt-get, as `apt-get update` once per process tree
# (it exports AWS_OIDC_APT_UPDATED=1 to the scripts it calls) then
# `apt-get install --no-install-recommends`, waiting for another apt/dpkg to finish
# (DPkg::Lock::Timeout). Elsewhere it prints the command to run and returns 1.

# check_ok CHECK: true when CHECK holds.
check_ok() {
  case "$1" in
    venv) command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ;;
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing_packages() {
  local pair seen=" "
  for pair in "$@"; do
    if ! check_ok "${pair%%=*}"; then
      case "$seen" in *" ${pair#*=} "*) continue ;; esac
      seen="$seen${pair#*=} "
      printf '%s\n' "${pair#*=}"
    fi
  done
}

apt_install() {
  local who="$1" log t0=$SECONDS
  shift
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    printf '%s: missing Debian packages: %s\n  install them: sudo apt-get install --no-install-recommends %s\n' \
      "$who" "$*" "$*" >&2
    return 1
  fi
  log="$(mktemp)"
  if [ "${AWS_OIDC_APT_UPDATED:-}" != 1 ]; then
    printf '%s: apt-get update\n' "$who" >&2
    if ! apt-get -o DPkg::Lock::Timeout=600 update -qq >"$log" 2>&1; then
      tail -n 20 "$log" >&2; rm -f "$log"
      printf '%s: apt-get update failed\n' "$who" >&2
      return 1
    fi
    export AWS_OIDC_APT_UPDATED=1
  fi
  printf '%s: apt-get install %s\n' "$who" "$*" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
         --no-install-recommends "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2; rm -f "$log"
    printf '%s: apt-get install %s failed\n' "$who" "$*" >&2
    return 1
  fi
  rm -f "$log"
  printf '%s: installed %s in %d s\n' "$who" "$*" "$((SECONDS - t0))" >&2
}

ensure_packages() {
  local who="$1" pkgs=()
  shift
  mapfile -t pkgs < <(missing_packages "$@")
  apt_install "$who" "${pkgs[@]}"
}

# node_ok: true when node is on PATH and its major version is 20 or more: what the npm
# tools need (gitlab-ci-local 4.70.0's yargs, oidc-provider); Debian 12's nodejs is 18.
node_ok() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" || return 1
  [ "$major" -ge 20 ] 2>/dev/null
}
