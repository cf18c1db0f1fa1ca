#!/usr/bin/env python3
"""Fake CI OIDC issuer for local tests (stdlib only).

Mints unsigned-but-well-formed JWTs (RS256 header, base64url segments, a random
"signature" segment) with realistic GitHub Actions or GitLab CI claims. Nothing
verifies them: moto's STS accepts any well-formed token.

Modes
-----
serve (default)
    GitHub-style token endpoint:
      GET /token?api-version=2.0&audience=AUD
      Authorization: bearer <request token>
    -> 200 {"value": "<jwt>", "count": 1}; 401 on a missing/wrong bearer token;
    400 without api-version=2.0. Without `audience`, aud is GitHub's default
    https://github.com/<owner>.
    Also GET /_requests -> JSON list of the requests seen (path, audience,
    api_version, authorized), for tests to assert on. GET /healthz -> "ok".
    Binds 127.0.0.1 on --port (0 = any free port), then prints the port on a
    line of its own to stdout and, with --port-file, writes it there
    (atomically), so callers can discover it.

gitlab-token
    Print a GitLab-style JWT to stdout (for AWS_ID_TOKEN=...).

github-token
    Print a GitHub-style JWT to stdout.

Examples
--------
    scripts/fake_issuer.py serve --port 0 --port-file /tmp/issuer.port \
        --request-token s3cret &
    AWS_ID_TOKEN="$(scripts/fake_issuer.py gitlab-token)"
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_REQUEST_TOKEN = "fake-actions-request-token"

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_OWNER = "octo-org"
GITHUB_REPO = "octo-org/demo"
GITHUB_SUB = "repo:octo-org/demo:ref:refs/heads/main"

GITLAB_ISSUER = "https://gitlab.example.com"
GITLAB_SUB = "project_path:group/project:ref_type:branch:ref:main"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(claims: dict) -> str:
    header = {"alg": "RS256", "kid": "demo", "typ": "JWT"}
    seg = lambda obj: b64url(json.dumps(obj, separators=(",", ":")).encode())  # noqa: E731
    # 256 random bytes = the size of a real RSA-2048 signature; nobody checks it.
    return f"{seg(header)}.{seg(claims)}.{b64url(secrets.token_bytes(256))}"


def github_claims(audience: str, ttl: int = 300, now: int | None = None,
                  sub: str = GITHUB_SUB) -> dict:
    now = int(time.time()) if now is None else now
    return {
        "jti": str(uuid.uuid4()),
        "sub": sub,
        "aud": audience,
        "ref": "refs/heads/main",
        "sha": "2b0c4b5f1e3c7d2a9e8f6a5b4c3d2e1f0a9b8c7d",
        "repository": GITHUB_REPO,
        "repository_owner": GITHUB_OWNER,
        "repository_owner_id": "1342004",
        "run_id": "9876543210",
        "run_number": "42",
        "run_attempt": "1",
        "repository_visibility": "private",
        "repository_id": "583231002",
        "actor_id": "5432100",
        "actor": "octocat",
        "workflow": "deploy",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_protected": "true",
        "ref_type": "branch",
        "workflow_ref": "octo-org/demo/.github/workflows/deploy.yml@refs/heads/main",
        "workflow_sha": "2b0c4b5f1e3c7d2a9e8f6a5b4c3d2e1f0a9b8c7d",
        "job_workflow_ref": "octo-org/demo/.github/workflows/deploy.yml@refs/heads/main",
        "job_workflow_sha": "2b0c4b5f1e3c7d2a9e8f6a5b4c3d2e1f0a9b8c7d",
        "runner_environment": "github-hosted",
        "iss": GITHUB_ISSUER,
        "nbf": now,
        "exp": now + ttl,
        "iat": now,
    }


def gitlab_claims(audience: str = "sts.amazonaws.com", ttl: int = 3600,
                  now: int | None = None, sub: str = GITLAB_SUB) -> dict:
    now = int(time.time()) if now is None else now
    return {
        "namespace_id": "72",
        "namespace_path": "group",
        "project_id": "2031",
        "project_path": "group/project",
        "user_id": "17",
        "user_login": "ci-bot",
        "user_email": "ci-bot@example.com",
        "user_access_level": "developer",
        "pipeline_id": "574301",
        "pipeline_source": "push",
        "job_id": "8812345",
        "ref": "main",
        "ref_type": "branch",
        "ref_path": "refs/heads/main",
        "ref_protected": "true",
        "runner_id": 12,
        "runner_environment": "self-hosted",
        "sha": "9c1e2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d",
        "project_visibility": "private",
        "ci_config_ref_uri": "gitlab.example.com/group/project//.gitlab-ci.yml@refs/heads/main",
        "ci_config_sha": "9c1e2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl,
        "iss": GITLAB_ISSUER,
        "sub": sub,
        "aud": audience,
    }


def github_token(audience: str = "sts.amazonaws.com", ttl: int = 300, **kw) -> str:
    return make_jwt(github_claims(audience, ttl=ttl, **kw))


def gitlab_token(audience: str = "sts.amazonaws.com", ttl: int = 3600, **kw) -> str:
    return make_jwt(gitlab_claims(audience, ttl=ttl, **kw))


class _Handler(BaseHTTPRequestHandler):
    server_version = "fake-issuer/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet unless --verbose
        if self.server.verbose:  # type: ignore[attr-defined]
            sys.stderr.write("fake_issuer: " + (fmt % args) + "\n")

    def _send(self, status: int, body: dict | list | str, ctype="application/json"):
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        srv = self.server
        url = urlsplit(self.path)
        q = parse_qs(url.query, keep_blank_values=True)
        if url.path == "/healthz":
            return self._send(200, "ok\n", "text/plain")
        if url.path == "/_requests":
            with srv.lock:  # type: ignore[attr-defined]
                return self._send(200, list(srv.requests))  # type: ignore[attr-defined]
        if url.path != "/token":
            return self._send(404, {"message": "not found"})

        auth = self.headers.get("Authorization", "")
        scheme, _, cred = auth.partition(" ")
        authorized = scheme.lower() == "bearer" and cred == srv.request_token  # type: ignore[attr-defined]
        audience = q.get("audience", [None])[-1]
        api_version = q.get("api-version", [None])[-1]
        record = {
            "path": url.path,
            "query_keys": sorted(q.keys()),
            "audience": audience,
            "api_version": api_version,
            "authorized": authorized,
            "user_agent": self.headers.get("User-Agent"),
        }
        with srv.lock:  # type: ignore[attr-defined]
            srv.requests.append(record)  # type: ignore[attr-defined]

        if not authorized:
            return self._send(401, {"message": "Bad credentials"})
        if srv.require_api_version and api_version != "2.0":  # type: ignore[attr-defined]
            return self._send(400, {"message": "api-version=2.0 is required"})
        aud = audience if audience else f"https://github.com/{GITHUB_OWNER}"
        tok = github_token(aud, ttl=srv.ttl)  # type: ignore[attr-defined]
        return self._send(200, {"count": 1, "value": tok})


def serve(args) -> int:
    httpd = ThreadingHTTPServer((args.host, args.port), _Handler)
    httpd.daemon_threads = True
    httpd.request_token = args.request_token  # type: ignore[attr-defined]
    httpd.require_api_version = not args.no_require_api_version  # type: ignore[attr-defined]
    httpd.ttl = args.ttl  # type: ignore[attr-defined]
    httpd.verbose = args.verbose  # type: ignore[attr-defined]
    httpd.requests = []  # type: ignore[attr-defined]
    httpd.lock = threading.Lock()  # type: ignore[attr-defined]
    port = httpd.server_address[1]

    def _stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    if args.port_file:
        tmp = f"{args.port_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(port, flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode")

    s = sub.add_parser("serve", help="run the GitHub-style token endpoint (default)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0, help="0 = any free port (default)")
    s.add_argument("--port-file", help="also write the chosen port to this file")
    s.add_argument("--request-token",
                   default=os.environ.get("FAKE_ISSUER_REQUEST_TOKEN", DEFAULT_REQUEST_TOKEN),
                   help="expected bearer token (env FAKE_ISSUER_REQUEST_TOKEN; "
                        f"default {DEFAULT_REQUEST_TOKEN!r})")
    s.add_argument("--ttl", type=int, default=300, help="token lifetime, seconds (default 300)")
    s.add_argument("--no-require-api-version", action="store_true",
                   help="do not insist on api-version=2.0")
    s.add_argument("--verbose", action="store_true", help="log requests to stderr")

    for name, aud, ttl in (("gitlab-token", "sts.amazonaws.com", 3600),
                           ("github-token", "sts.amazonaws.com", 300)):
        t = sub.add_parser(name, help=f"print a {name.split('-')[0].title()}-style JWT")
        t.add_argument("--aud", default=aud)
        t.add_argument("--ttl", type=int, default=ttl,
                       help=f"seconds until exp (default {ttl}; negative = already expired)")
        t.add_argument("--sub", default=None, help="override the sub claim")

    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["serve", *argv]
    args = p.parse_args(argv)

    if args.mode == "serve":
        return serve(args)
    kw = {"sub": args.sub} if args.sub else {}
    if args.mode == "gitlab-token":
        print(gitlab_token(args.aud, ttl=args.ttl, **kw))
    else:
        print(github_token(args.aud, ttl=args.ttl, **kw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
