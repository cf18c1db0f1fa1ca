#!/bin/sh
# Peer (a): the usual GitHub Actions shell snippet with awscli v1 + curl + jq.
#   peer_awscli.sh ROLE_ARN OUT_ENV_FILE
# Needs ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN and
# (for a local STS) AWS_ENDPOINT_URL_STS; `aws` is whatever is first on PATH.
set -eu
role_arn="$1"
out="$2"
case "$ACTIONS_ID_TOKEN_REQUEST_URL" in
  *\?*) url="$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sts.amazonaws.com" ;;
  *)    url="$ACTIONS_ID_TOKEN_REQUEST_URL?audience=sts.amazonaws.com" ;;
esac
token="$(curl -sSf --max-time 30 -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" "$url" | jq -r .value)"
creds="$(aws sts assume-role-with-web-identity --no-sign-request --region us-east-1 \
  --role-arn "$role_arn" --role-session-name "gh-${GITHUB_RUN_ID:-0}-${GITHUB_RUN_ATTEMPT:-1}" \
  --web-identity-token "$token" --duration-seconds 3600 \
  --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken,Expiration]' --output text)"
# shellcheck disable=SC2086
set -- $creds
[ "$#" -eq 4 ] || { echo "peer_awscli: unexpected STS output" >&2; exit 1; }
umask 077
{
  printf 'AWS_ACCESS_KEY_ID=%s\n' "$1"
  printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$2"
  printf 'AWS_SESSION_TOKEN=%s\n' "$3"
  printf 'AWS_REGION=us-east-1\nAWS_DEFAULT_REGION=us-east-1\n'
  printf 'AWS_CREDENTIAL_EXPIRATION=%s\n' "$4"
} >"$out.tmp"
mv -f "$out.tmp" "$out"
