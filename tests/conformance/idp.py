"""A real OpenID provider for the conformance tests: tests/idp/provider.mjs (panva's
oidc-provider) on 127.0.0.1, with the headless driver tests/idp/drive.mjs.

Import the fixtures into a test module:

    from idp import idp, idp_server   # noqa: F401  (pytest fixtures)

    def test_x(idp):
        idp.issuer            # http://127.0.0.1:<port>
        idp.client_id         # "aws-cli" (public, PKCE); also es256_client_id,
                              # secret_client_id (+ client_secret), secret_post_client_id
        idp.complete_device(user_code)            # log in and approve (deny=True: abort)
        idp.browser_command                       # [path]: an aws-oidc --browser-command
        idp.configure(id_token_ttl=60, device_poll_errors=["slow_down"], ...)
        idp.token_requests()                      # token endpoint calls seen by the provider
        idp.introspect(token)                     # {"active": ...}; spends nothing

`idp_server` is one provider per test session (started after `scripts/setup-idp.sh`, which
installs oidc-provider with npm once, under a lock); `idp` is that provider reset to its
defaults (admin /_admin/reset + default TTLs). `start_idp(dir)` starts an extra one (e.g. a
second issuer). The provider logs to a file in pytest's temp dir, never to the test output.

Plain-HTTP helpers for the OAuth flows (what a client does) are here too, for the tests
that prove this infrastructure: device_start/device_poll, pkce_pair, token_request,
jwt_parts, CallbackListener.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import REPO

IDP_DIR = REPO / "tests" / "idp"
PROVIDER = IDP_DIR / "provider.mjs"
DRIVER = IDP_DIR / "drive.mjs"
BROWSER = IDP_DIR / "browser"
SETUP = REPO / "scripts" / "setup-idp.sh"

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
CLIENT_SECRET = "aws-cli-test-secret-0123456789abcdef"
ACCOUNT = {"login": "dev@example.com", "password": "dev-password", "sub": "dev-0001",
           "email": "dev@example.com", "preferred_username": "dev"}
OTHER_ACCOUNT = {"login": "other@example.com", "password": "other-password", "sub": "other-0002"}
DEFAULTS = {"id_token_ttl": 3600, "access_token_ttl": 3600, "refresh_token_ttl": 14 * 24 * 3600,
            "device_code_ttl": 600}


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8",
            "HOME": os.environ.get("HOME", "/tmp"),
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


_setup_done = False


def ensure_installed() -> None:
    """scripts/setup-idp.sh, once per process (it is itself idempotent and locked)."""
    global _setup_done
    if _setup_done:
        return
    r = subprocess.run([str(SETUP)], capture_output=True, text=True, timeout=900, env=_env())
    if r.returncode != 0:
        pytest.fail(f"scripts/setup-idp.sh failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    _setup_done = True


# ------------------------------------------------------------------------------ HTTP


def http_raw(method: str, url: str, form: dict | None = None, body: dict | None = None,
             auth: tuple[str, str] | None = None, timeout: float = 10,
             accept: str | None = "application/json") -> tuple[int, bytes]:
    """(status, body bytes) of a request: `form` url-encoded or `body` as JSON, Basic `auth`;
    never raises on 4xx/5xx."""
    headers = {"Accept": accept} if accept else {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if auth is not None:
        raw = f"{urllib.parse.quote(auth[0], safe='')}:{urllib.parse.quote(auth[1], safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_json(method: str, url: str, form: dict | None = None, body: dict | None = None,
              auth: tuple[str, str] | None = None, timeout: float = 10) -> tuple[int, dict]:
    """(status, JSON body) of a request; never raises on 4xx/5xx."""
    status, raw = http_raw(method, url, form=form, body=body, auth=auth, timeout=timeout)
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {"_raw": raw.decode(errors="replace")}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(seg: str) -> bytes:
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def jwt_parts(token: str) -> tuple[dict, dict]:
    """(header, claims) of a JWS, unverified."""
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = b64url(secrets.token_bytes(48))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


# ------------------------------------------------------------------------------ provider


@dataclass
class Idp:
    issuer: str
    log: Path
    proc: subprocess.Popen = field(repr=False)
    client_id: str = "aws-cli"
    es256_client_id: str = "aws-cli-es256"
    secret_client_id: str = "aws-cli-secret"          # client_secret_basic
    secret_post_client_id: str = "aws-cli-secret-post"  # client_secret_post
    client_secret: str = CLIENT_SECRET
    account: dict = field(default_factory=lambda: dict(ACCOUNT))
    driver: Path = DRIVER
    browser: Path = BROWSER

    @property
    def port(self) -> int:
        return int(self.issuer.rsplit(":", 1)[1])

    @property
    def browser_command(self) -> list[str]:
        """An aws-oidc `--browser-command` (the URL goes last): one executable path."""
        return [str(self.browser)]

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/jwks"

    @property
    def token_endpoint(self) -> str:
        return self.issuer + "/token"

    def discovery(self) -> dict:
        status, doc = http_json("GET", self.issuer + "/.well-known/openid-configuration")
        assert status == 200, doc
        return doc

    # -- admin
    def configure(self, **settings) -> dict:
        status, out = http_json("POST", self.issuer + "/_admin/config", body=settings)
        assert status == 200, out
        return out

    def reset(self) -> None:
        status, out = http_json("POST", self.issuer + "/_admin/reset", body={})
        assert status == 200, out
        self.configure(**DEFAULTS)

    def token_requests(self) -> list[dict]:
        status, out = http_json("GET", self.issuer + "/_admin/token_requests")
        assert status == 200, out
        return out

    # -- the driver
    def drive(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
        return subprocess.run(["node", str(self.driver), *args], capture_output=True, text=True,
                              timeout=timeout, env=_env())

    def complete_device(self, user_code: str, deny: bool = False, login: str | None = None,
                        password: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Plays the user at <issuer>/device: enters the code, confirms (or aborts), logs in,
        consents. With check, fails the test unless the driver says so."""
        args = ["device", "--issuer", self.issuer]
        if deny:
            args.append("--deny")
        if login:
            args += ["--login", login, "--password", password or ""]
        r = self.drive(*args, user_code)
        if check:
            assert r.returncode == 0, f"drive.mjs device failed (exit {r.returncode}): {r.stderr}"
        return r

    def open_browser(self, url: str, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.browser), *options, url], capture_output=True, text=True,
                              timeout=20, env=_env())

    # -- plain OAuth client calls (what aws-oidc does)
    def client_auth(self, client_id: str) -> tuple[dict, tuple[str, str] | None]:
        if client_id == self.secret_client_id:
            return {}, (client_id, self.client_secret)
        if client_id == self.secret_post_client_id:
            return {"client_id": client_id, "client_secret": self.client_secret}, None
        return {"client_id": client_id}, None

    def device_start(self, client_id: str | None = None,
                     scope: str = "openid email profile offline_access") -> dict:
        cid = client_id or self.client_id
        form, auth = self.client_auth(cid)
        status, out = http_json("POST", self.issuer + "/device/auth", form={**form, "scope": scope},
                                auth=auth)
        assert status == 200, out
        return out

    def device_poll(self, device_code: str, client_id: str | None = None) -> tuple[int, dict]:
        cid = client_id or self.client_id
        form, auth = self.client_auth(cid)
        return http_json("POST", self.token_endpoint,
                         form={**form, "grant_type": DEVICE_GRANT, "device_code": device_code}, auth=auth)

    def device_login(self, client_id: str | None = None,
                     scope: str = "openid email profile offline_access") -> dict:
        """A whole device login as a client and its user would do it: the token response."""
        start = self.device_start(client_id, scope)
        self.complete_device(start["user_code"])
        status, out = self.device_poll(start["device_code"], client_id)
        assert status == 200, out
        return out

    def refresh(self, refresh_token: str, client_id: str | None = None) -> tuple[int, dict]:
        cid = client_id or self.client_id
        form, auth = self.client_auth(cid)
        return http_json("POST", self.token_endpoint,
                         form={**form, "grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=auth)

    def saml(self, **settings) -> dict:
        """The SAML token-exchange settings (POST /_admin/saml when given): roles, recipient,
        audience, not_on_or_after, encrypt, session_name, session_duration, saml_clients; the
        answer has cert_pem_path (the IdP certificate, PEM)."""
        status, out = http_json("POST" if settings else "GET", self.issuer + "/_admin/saml",
                                body=settings if settings else None)
        assert status == 200, out
        return out

    def token_exchange(self, subject_token: str, client_id: str | None = None,
                       subject_token_type: str = "urn:ietf:params:oauth:token-type:access_token",
                       requested_token_type: str = "urn:ietf:params:oauth:token-type:saml2",
                       audience: str | None = "urn:amazon:webservices") -> tuple[int, dict]:
        """RFC 8693 exchange (as Keycloak's legacy token exchange takes it)."""
        cid = client_id or self.client_id
        form, auth = self.client_auth(cid)
        form = {**form, "grant_type": TOKEN_EXCHANGE, "subject_token": subject_token,
                "subject_token_type": subject_token_type,
                "requested_token_type": requested_token_type}
        if audience is not None:
            form["audience"] = audience
        return http_json("POST", self.token_endpoint, form=form, auth=auth)

    def introspect(self, token: str, client_id: str | None = None) -> dict:
        """RFC 7662 introspection: {"active": bool, ...}. Unlike refresh(), it spends nothing, so
        a test can ask whether a stored refresh token still works without rotating it."""
        cid = client_id or self.client_id
        form, auth = self.client_auth(cid)
        status, out = http_json("POST", self.issuer + "/token/introspection",
                                form={**form, "token": token}, auth=auth)
        assert status == 200, out
        return out

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode


def start_idp(workdir: Path, *extra_args: str) -> Idp:
    """Starts tests/idp/provider.mjs (installing it first if needed); waits for discovery.
    Up to 3 attempts of 15 s each (a loaded 2-core machine once stalled a start)."""
    ensure_installed()
    failures = []
    for attempt in range(3):
        idp = _start_once(workdir / f"attempt-{attempt}" if attempt else workdir, extra_args, failures)
        if idp is not None:
            return idp
    pytest.fail("tests/idp/provider.mjs did not start:\n" + "\n".join(failures))


def _start_once(workdir: Path, extra_args, failures: list[str]) -> Idp | None:
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "port"
    log = workdir / "provider.log"
    out = open(workdir / "provider.out", "wb")       # anything Node prints before the redirect
    proc = subprocess.Popen(["node", str(PROVIDER), "--port-file", str(port_file),
                             "--log-file", str(log), "--saml-dir", str(workdir / "saml"),
                             "--python", sys.executable, *extra_args],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=_env())
    out.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if port_file.exists():
            idp = Idp(issuer=f"http://127.0.0.1:{port_file.read_text().strip()}", log=log, proc=proc)
            try:
                if idp.discovery()["issuer"] == idp.issuer:
                    return idp
            except (OSError, AssertionError):
                pass
        time.sleep(0.05)
    state = f"exit status {proc.returncode}" if proc.poll() is not None else "still running after 15 s, killed"
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    text = "".join(p.read_text(errors="replace") for p in (workdir / "provider.out", log) if p.exists())
    failures.append(f"--- {workdir} ({state}):\n{text[-2000:]}")
    return None


@pytest.fixture(scope="session")
def idp_server(tmp_path_factory):
    """The session's OpenID provider (tests/idp/provider.mjs)."""
    server = start_idp(tmp_path_factory.mktemp("idp"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def idp(idp_server) -> Idp:
    """The session's OpenID provider, reset: default TTLs, no injected errors, no iss rewrite."""
    idp_server.reset()
    return idp_server


# ------------------------------------------------------------------------------ loopback callback


class CallbackListener:
    """A minimal loopback redirect_uri listener (what aws-oidc runs): records every request's
    path and query, answers `status` (200) on /callback and 404 elsewhere."""

    def __init__(self, status: int = 200):
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):  # noqa: N802
                u = urllib.parse.urlsplit(self.path)
                outer.requests.append((u.path, dict(urllib.parse.parse_qsl(u.query))))
                ok = u.path == "/callback"
                body = b"<html><body>You can close this window.</body></html>" if ok else b"not found"
                self.send_response(status if ok else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
