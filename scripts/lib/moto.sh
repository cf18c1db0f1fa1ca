# shellcheck shell=bash disable=SC2016,SC2034
# Starting moto's STS server on 127.0.0.1, shared by demo.sh, check-gitlab.sh,
# image-smoke.sh and bench/run.sh. Source it, then:
#
#   start_moto PYTHON MOTO_SERVER LOGFILE [HOME]   # sets moto_port and moto_pid, or returns 1
#
# moto answers GET / (and unsigned POSTs) as S3, so readiness is probed with a form POST
# carrying an STS SigV4 credential scope (moto routes by it and checks no signature).

# free_port PYTHON: a free TCP port on 127.0.0.1.
free_port() {
  "$1" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# moto_ready PYTHON PORT: true once STS answers GetCallerIdentity on PORT.
moto_ready() {
  "$1" - "$2" <<'PY'
import sys, urllib.request
req = urllib.request.Request(
    f"http://127.0.0.1:{sys.argv[1]}/",
    data=b"Action=GetCallerIdentity&Version=2011-06-15",
    headers={"Content-Type": "application/x-www-form-urlencoded",
             "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAPROBE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0"})
try:
    body = urllib.request.urlopen(req, timeout=1).read()
except Exception:
    sys.exit(1)
sys.exit(0 if b"GetCallerIdentityResponse" in body else 1)
PY
}

# start_moto PYTHON MOTO_SERVER LOGFILE [HOME]: up to three ports, 20 s each.
start_moto() {
  local py=$1 server=$2 log=$3 home=${4:-${HOME:-/tmp}} port
  moto_port=""
  moto_pid=""
  for _ in 1 2 3; do
    port="$(free_port "$py")"
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN HOME="$home" \
      "$server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    moto_pid=$!
    for _ in $(seq 1 200); do
      if moto_ready "$py" "$port"; then
        moto_port=$port
        return 0
      fi
      kill -0 "$moto_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$moto_pid" 2>/dev/null || true
  done
  return 1
}
