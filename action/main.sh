#!/usr/bin/env bash
# The boolean inputs are assigned through printf -v (boolean_input):
# shellcheck disable=SC2154
# The GitHub Action's one step (see action.yml): check the inputs the way
# aws-actions/configure-aws-credentials reads them, find or install aws-oidc
# (action/install.sh), then run `aws-oidc assume` with the matching flags.
#
# Inputs arrive as AOI_<NAME> environment variables (action.yml's env: block), never
# spliced into the script text, and not through INPUT_* (the runner does not set those
# for composite steps).
set -euo pipefail

case "${BASH_SOURCE[0]}" in
  */*) here="${BASH_SOURCE[0]%/*}" ;;
  *) here=. ;;
esac
# shellcheck source=action/install.sh
. "$here/install.sh"

AO_EXIT_CODE=2 # configuration errors, as aws-oidc itself reports them

warn() { local m; ao_escape m "$*"; printf '::warning title=aws-oidc::%s\n' "$m"; }
notice() { local m; ao_escape m "$*"; printf '::notice title=aws-oidc::%s\n' "$m"; }

# Like install.sh's helpers, these set the variable named first (no $(...) subshells);
# their locals start with "_", callers' names do not.
# trim VAR VALUE: VALUE without leading and trailing whitespace.
trim() {
  local _s="$2"
  _s="${_s#"${_s%%[![:space:]]*}"}"
  _s="${_s%"${_s##*[![:space:]]}"}"
  printf -v "$1" '%s' "$_s"
}

# bool VAR VALUE DEFAULT: VAR = true/false (DEFAULT when VALUE is blank); YAML 1.2
# core-schema booleans, as @actions/core getBooleanInput accepts them. Fails otherwise.
bool() {
  local _b
  trim _b "$2"
  case "$_b" in
    '') printf -v "$1" '%s' "$3" ;;
    true | True | TRUE) printf -v "$1" true ;;
    false | False | FALSE) printf -v "$1" false ;;
    *) return 1 ;;
  esac
}

# inp VAR NAME: the input in environment variable NAME (AOI_*), trimmed.
inp() { trim "$1" "${!2:-}"; }
# boolean_input OUTVAR VAR NAME DEFAULT: sets OUTVAR to true/false or stops.
boolean_input() {
  bool "$1" "${!2:-}" "$4" || ao_die "input '$3' must be true or false, got '${!2}'"
}

# --- inputs aws-oidc has no equivalent for: fail, never ignore --------------------------
unsupported=()
need_empty() { # VAR NAME WHY
  local value
  inp value "$1"
  if [ -n "$value" ]; then unsupported+=("'$2' is not supported: $3"); fi
}
need_not_true() { # VAR NAME WHY
  local value
  boolean_input value "$1" "$2" false
  if [ "$value" = true ]; then unsupported+=("'$2: true' is not supported: $3"); fi
}
static_keys="aws-oidc only exchanges an OIDC token (or, with role-chaining: true, the credentials already in the environment) for a role's credentials; it never takes access keys as inputs. Remove it and use role-to-assume with the GitHub OIDC provider"
need_empty AOI_AWS_ACCESS_KEY_ID aws-access-key-id "$static_keys"
need_empty AOI_AWS_SECRET_ACCESS_KEY aws-secret-access-key "$static_keys"
need_empty AOI_AWS_SESSION_TOKEN aws-session-token "$static_keys"
need_empty AOI_TRANSITIVE_TAG_KEYS transitive-tag-keys "aws-oidc sets no session tags (AssumeRoleWithWebIdentity takes them only from the token's claims)"
need_empty AOI_CUSTOM_TAGS custom-tags "aws-oidc sets no session tags (AssumeRoleWithWebIdentity takes them only from the token's claims)"
need_not_true AOI_SPECIAL_CHARACTERS_WORKAROUND special-characters-workaround "aws-oidc does not re-request credentials until the secret key has no special characters"
need_not_true AOI_USE_EXISTING_CREDENTIALS use-existing-credentials "aws-oidc does not check for and keep existing credentials; it always assumes role-to-assume"
need_not_true AOI_FORCE_SKIP_OIDC force-skip-oidc "aws-oidc does not fall back to runner (instance or container) credentials; use role-chaining: true to assume a role with credentials already in the environment"
if [ "${#unsupported[@]}" -gt 0 ]; then
  for m in "${unsupported[@]}"; do
    ao_escape escaped "$m"
    printf '::error title=aws-oidc::%s\n' "$escaped"
    [ "${GITHUB_ACTIONS:-}" = true ] || printf 'aws-oidc-action: error: %s\n' "$m" >&2
  done
  ao_die "stopping: the input(s) above have no aws-oidc equivalent, and this action fails rather than ignore an input"
fi

# --- supported inputs ----------------------------------------------------------------
inp region AOI_AWS_REGION
inp role AOI_ROLE_TO_ASSUME
inp audience AOI_AUDIENCE
inp session_name AOI_ROLE_SESSION_NAME
inp duration AOI_ROLE_DURATION_SECONDS
inp external_id AOI_ROLE_EXTERNAL_ID
inline_policy="${AOI_INLINE_SESSION_POLICY:-}"
managed_policies="${AOI_MANAGED_SESSION_POLICIES:-}"
inp token_file AOI_WEB_IDENTITY_TOKEN_FILE
inp allowed AOI_ALLOWED_ACCOUNT_IDS
inp max_attempts AOI_RETRY_MAX_ATTEMPTS
inp sts_endpoint AOI_STS_ENDPOINT
inp profile AOI_AWS_PROFILE
inp proxy AOI_HTTP_PROXY
inp no_proxy AOI_NO_PROXY
inp timeout AOI_ACTION_TIMEOUT_S
boolean_input chaining AOI_ROLE_CHAINING role-chaining false
boolean_input mask_account AOI_MASK_AWS_ACCOUNT_ID mask-aws-account-id false
boolean_input out_creds AOI_OUTPUT_CREDENTIALS output-credentials false
# As in configure-aws-credentials v6: true unless aws-profile is set.
if [ -n "$profile" ]; then env_default=false; else env_default=true; fi
boolean_input out_env AOI_OUTPUT_ENV_CREDENTIALS output-env-credentials "$env_default"
boolean_input unset_current AOI_UNSET_CURRENT_CREDENTIALS unset-current-credentials false
boolean_input disable_retry AOI_DISABLE_RETRY disable-retry false
boolean_input skip_tagging AOI_ROLE_SKIP_SESSION_TAGGING role-skip-session-tagging false
boolean_input overwrite_profile AOI_OVERWRITE_AWS_PROFILE overwrite-aws-profile false
boolean_input console AOI_CONSOLE_URL console-url false
if [ "$console" = true ] && [ "${AO_REPOSITORY_VISIBILITY:-}" = public ]; then
  ao_die "console-url: true would put a console sign-in link (usable by anyone for 15 minutes) in the job summary of a public repository's run; not done"
fi

[ -n "$region" ] || ao_die "input 'aws-region' is required"
[[ "$region" =~ ^[a-z0-9-]+$ ]] || ao_die "Region is not valid: $region"
[ -n "$role" ] || ao_die "input 'role-to-assume' is required: aws-oidc assumes a role (configure-aws-credentials without role-to-assume uses access keys or runner credentials, which this action does not support)"
case "$role" in
  arn:*) ;;
  *) ao_die "role-to-assume must be a role ARN (arn:aws:iam::<account>:role/<name>), got '$role': aws-oidc does not resolve a bare role name against the caller's account" ;;
esac

args=(assume --role-arn "$role" --region "$region")

# Session name: configure-aws-credentials' default, so the assumed-role ARN
# (arn:aws:sts::<account>:assumed-role/<role>/GitHubActions) stays the same.
args+=(--session-name "${session_name:-GitHubActions}")

if [ -n "$duration" ]; then
  [[ "$duration" =~ ^[0-9]+$ ]] || ao_die "role-duration-seconds must be a whole number of seconds, got '$duration'"
  # configure-aws-credentials: parseInt(...) || 3600
  if [ "$((10#$duration))" -gt 0 ]; then args+=(--duration "$((10#$duration))"); fi
fi

if [ "$chaining" = true ]; then
  [ -z "$token_file" ] || ao_die "role-chaining: true and web-identity-token-file cannot be combined: chaining assumes role-to-assume with the credentials already in the environment"
  args+=(--role-chaining)
  [ -z "$external_id" ] || args+=(--external-id "$external_id")
  if [ "$skip_tagging" != true ]; then
    warn "aws-oidc sets no session tags: configure-aws-credentials would tag this chained session (GitHub, Repository, Workflow, Action, Actor, Commit, Branch). Policies that test aws:PrincipalTag will not see them. Set role-skip-session-tagging: true to acknowledge."
  fi
else
  if [ -n "$external_id" ]; then
    warn "role-external-id is not used: ExternalId exists only for AssumeRole (role-chaining: true), not for AssumeRoleWithWebIdentity (configure-aws-credentials drops it there too)"
  fi
  if [ -n "$token_file" ]; then
    case "$token_file" in
      /* | [A-Za-z]:[\\/]* | \\\\*) ;;
      *) token_file="${GITHUB_WORKSPACE:-$PWD}/$token_file" ;;
    esac
    ao_unix_path token_file_u "$token_file"
    [ -f "$token_file" ] || [ -f "$token_file_u" ] ||
      ao_die "Web identity token file does not exist: $token_file"
    args+=(--token-file "$token_file")
  else
    # configure-aws-credentials requests the GitHub token with this audience (default
    # sts.amazonaws.com, from action.yml).
    [ -z "$audience" ] || args+=(--audience "$audience")
  fi
fi

trim inline_policy_trimmed "$inline_policy"
if [ -n "$inline_policy_trimmed" ]; then
  # Through a file: keeps it out of the process list, and aws-oidc reads a value that
  # starts with '@' as a file name.
  ao_unix_path policy_dir "${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
  policy_file="$policy_dir/aws-oidc-policy.$$.$RANDOM.json"
  (umask 077 && printf '%s' "$inline_policy" >"$policy_file")
  trap 'rm -f "$policy_file"' EXIT
  # The binary gets the runner's own spelling of the path (a Windows path on Windows).
  args+=(--policy "@${RUNNER_TEMP:-$policy_dir}/${policy_file##*/}")
fi

while IFS= read -r arn; do
  trim arn "${arn%$'\r'}"
  [ -z "$arn" ] || args+=(--policy-arn "$arn")
done <<<"$managed_policies"

if [ -n "$allowed" ]; then
  args+=(--allowed-account-ids "${allowed//[[:space:]]/}")
fi

# Retries: configure-aws-credentials makes up to retry-max-attempts (default 12) attempts,
# one with disable-retry.
if [ "$disable_retry" = true ]; then
  args+=(--max-attempts 1)
else
  if [ -n "$max_attempts" ]; then
    [[ "$max_attempts" =~ ^-?[0-9]+$ ]] || ao_die "retry-max-attempts must be a whole number, got '$max_attempts'"
    [ "$max_attempts" -ge 1 ] || max_attempts=1
  else
    max_attempts=12
  fi
  args+=(--max-attempts "$((10#$max_attempts))")
fi

if [ -n "$timeout" ]; then
  [[ "$timeout" =~ ^[0-9]+$ ]] || ao_die "action-timeout-s must be a whole number of seconds, got '$timeout'"
  if [ "$((10#$timeout))" -gt 0 ]; then args+=(--timeout "$((10#$timeout))"); fi
fi

[ -z "$sts_endpoint" ] || args+=(--sts-endpoint "$sts_endpoint")

if [ "$out_env" = true ]; then args+=(--output github); else args+=(--output github-outputs); fi
[ "$out_creds" != true ] || args+=(--github-output-credentials)
[ "$mask_account" != true ] || args+=(--mask-account-id)

if [ -n "$profile" ]; then
  case "$profile" in
    *[[:space:]]*) ao_die "aws-profile must not contain whitespace" ;;
    *[\[\]]*) ao_die "aws-profile must not contain brackets" ;;
    */* | *\\*) ao_die "aws-profile must not contain path separators" ;;
  esac
  if [ "$overwrite_profile" != true ]; then
    creds_file="${AWS_SHARED_CREDENTIALS_FILE:-${HOME:-}/.aws/credentials}"
    ao_unix_path creds_file_u "$creds_file"
    if [ -f "$creds_file_u" ]; then
      while IFS= read -r line || [ -n "$line" ]; do
        trim line "${line%$'\r'}"
        if [ "$line" = "[$profile]" ]; then
          ao_die "Profile with name \"$profile\" already exists in $creds_file. Set overwrite-aws-profile: true to overwrite it."
        fi
      done <"$creds_file_u"
    fi
  fi
  args+=(--output "profile=$profile")
fi

# Proxy: http-proxy for every call aws-oidc makes (the token request and STS).
if [ -n "$proxy" ]; then
  export HTTPS_PROXY="$proxy" https_proxy="$proxy" HTTP_PROXY="$proxy" http_proxy="$proxy"
fi
if [ -n "$no_proxy" ]; then
  export NO_PROXY="$no_proxy" no_proxy="$no_proxy"
fi

if [ "$unset_current" = true ]; then
  if [ "$out_env" = true ] && [ -n "${GITHUB_ENV:-}" ]; then
    printf '%s=\n' AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION >>"$GITHUB_ENV"
  fi
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SECURITY_TOKEN
fi

# --- find or install aws-oidc, then run it -------------------------------------------
AO_EXIT_CODE=1
# (install.sh's log names the binary and, for a release, its version.)
ao_install

if [ "$console" = true ]; then
  # Builds without the console feature: say so rather than ignore the input.
  case "$("$AO_BIN" assume --help 2>/dev/null || true)" in
    *--console-url*) args+=(--console-url=github-summary) ;;
    *)
      version_line="$("$AO_BIN" --version 2>/dev/null || true)"
      ao_die "'console-url: true' is not supported in this version of aws-oidc (${version_line:-unknown version}): it cannot make console sign-in URLs"
      ;;
  esac
fi

# aws-oidc's stderr (one success line, or the error and its hints; never a secret) is
# shown after it ends, and its error becomes the step's annotation. Its stdout (workflow
# commands: ::add-mask::) goes straight to the step's stdout (fd 3 here).
rc=0
{ err="$("$AO_BIN" "${args[@]}" 2>&1 >&3 3>&-)" || rc=$?; } 3>&1
[ -z "$err" ] || printf '%s\n' "$err" >&2
if [ "$rc" != 0 ]; then
  # From the first "aws-oidc: error: " line on, without that prefix (the hints follow it).
  nl=$'\n'
  case "$err" in
    "aws-oidc: error: "*) msg="${err#aws-oidc: error: }" ;;
    *"${nl}aws-oidc: error: "*) msg="${err#*"${nl}"aws-oidc: error: }" ;;
    *) msg="" ;;
  esac
  msg="${msg//"${nl}aws-oidc: error: "/$nl}"
  ao_escape msg "aws-oidc assume failed (exit $rc)${msg:+: $msg}"
  printf '::error title=aws-oidc::%s\n' "$msg"
  exit "$rc"
fi

if [ -n "$profile" ] && [ "$out_env" = true ] && [ -n "${GITHUB_ENV:-}" ]; then
  printf 'AWS_PROFILE=%s\n' "$profile" >>"$GITHUB_ENV"
fi
