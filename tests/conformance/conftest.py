"""Session fixtures for the aws-oidc conformance suite.

Real components only: the aws-oidc binary, moto's STS server, awscli, boto3,
dash/bash/fish. Everything listens on and talks to 127.0.0.1.

Run (after scripts/setup-test-deps.sh and a cargo build):
    .venv/bin/python -m pytest tests/conformance -q
Binary: $AWS_OIDC_BIN, default <repo>/target/debug/aws-oidc.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import PROC_TIMEOUT, REPO, VENV_BIN, tool

ACCOUNT = "123456789012"
ROLE = "demo"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
CHAIN_ACCOUNT = "210987654321"
CHAIN_ROLE = "target"
CHAIN_ROLE_ARN = f"arn:aws:iam::{CHAIN_ACCOUNT}:role/{CHAIN_ROLE}"

def _load_fake_issuer():
    spec = importlib.util.spec_from_file_location("fake_issuer", REPO / "scripts" / "fake_issuer.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


fake_issuer = _load_fake_issuer()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --------------------------------------------------------------------------- moto


@dataclass
class Moto:
    url: str

    def post(self, body: bytes) -> bytes:
        req = urllib.request.Request(
            self.url + "/", data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     # moto routes by the SigV4 credential scope (it does not
                     # check signatures); unsigned, only AssumeRoleWith* reach STS.
                     "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAPROBE/20260101/us-east-1/"
                                      "sts/aws4_request, SignedHeaders=host, Signature=0"})
        return urllib.request.urlopen(req, timeout=5).read()

    def assumed_roles(self) -> list[dict]:
        """Every session moto issued (with its secrets), via moto's state dump."""
        data = json.loads(urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=10).read())
        return list(data.get("sts", {}).get("AssumedRole", []))

    def issued(self, access_key_id: str) -> dict:
        for r in self.assumed_roles():
            if r["access_key_id"] == access_key_id:
                return r
        raise AssertionError(f"moto never issued access key {access_key_id!r}")


def _moto_ready(url: str) -> bool:
    # GET / answers as S3 (ListBuckets); STS needs a form POST with an
    # STS credential scope.
    try:
        body = Moto(url).post(b"Action=GetCallerIdentity&Version=2011-06-15")
    except (urllib.error.URLError, OSError):
        return False
    return b"GetCallerIdentityResponse" in body


@pytest.fixture(scope="session")
def moto(tmp_path_factory) -> Moto:
    server = tool("moto_server")
    logdir = tmp_path_factory.mktemp("moto")
    last_log = ""
    for attempt in range(3):
        port = _free_port()
        log = open(logdir / f"moto-{attempt}.log", "wb")
        proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**_base_env(), "HOME": str(logdir)})
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            if _moto_ready(url):
                try:
                    yield Moto(url)
                finally:
                    _stop(proc)
                    log.close()
                return
            time.sleep(0.1)
        _stop(proc)
        log.close()
        last_log = (logdir / f"moto-{attempt}.log").read_text(errors="replace")
    pytest.fail(f"moto_server did not start:\n{last_log}")


# --------------------------------------------------------------------- fake issuer


@dataclass
class Issuer:
    url: str            # value for ACTIONS_ID_TOKEN_REQUEST_URL
    base: str
    request_token: str

    def requests(self) -> list[dict]:
        return json.loads(urllib.request.urlopen(self.base + "/_requests", timeout=5).read())


@pytest.fixture(scope="session")
def issuer(tmp_path_factory) -> Issuer:
    d = tmp_path_factory.mktemp("issuer")
    port_file = d / "port"
    request_token = "req-" + os.urandom(12).hex()
    log = open(d / "issuer.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "fake_issuer.py"), "serve", "--port", "0",
         "--port-file", str(port_file), "--request-token", request_token],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("fake issuer did not start:\n" + (d / "issuer.log").read_text())
            time.sleep(0.02)
        port = int(port_file.read_text())
        base = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(base + "/healthz", timeout=5).read()
        yield Issuer(url=f"{base}/token?api-version=2.0", base=base, request_token=request_token)
    finally:
        _stop(proc)
        log.close()


# ------------------------------------------------------------------------- binary


@pytest.fixture(scope="session")
def aws_oidc_bin() -> str:
    b = Path(os.environ.get("AWS_OIDC_BIN", REPO / "target" / "debug" / "aws-oidc"))
    if not b.is_absolute():
        b = REPO / b
    if not (b.is_file() and os.access(b, os.X_OK)):
        pytest.fail(f"aws-oidc binary not found at {b}: run `cargo build` or set AWS_OIDC_BIN")
    return str(b)


# -------------------------------------------------------------------- environment


def _base_env() -> dict[str, str]:
    """A scrubbed environment: nothing inherited but PATH and locale.

    No AWS_* / CI / GitHub / GitLab variables leak in from the caller, no
    proxies, and instance metadata is disabled so nothing ever leaves loopback.
    """
    path = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")])
    return {
        "PATH": path,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


JWT_IN_TEXT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


@dataclass
class Job:
    """One simulated CI job: a fresh HOME, a scrubbed env, one token source."""

    source: str                 # "gitlab" | "github"
    home: Path
    env: dict[str, str]
    bin: str
    moto: Moto
    issuer: Issuer
    secrets: set[str] = field(default_factory=set)   # must never reach stderr
    stderrs: list[str] = field(default_factory=list)

    @property
    def tmp(self) -> Path:
        return self.home.parent

    def run(self, args: list[str], *, env: dict | None = None, check: bool = True,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run aws-oidc with this job's env (plus `env` overrides)."""
        e = {**self.env, **(env or {})}
        p = subprocess.run([self.bin, *args], env=e, cwd=self.tmp, input=input,
                           capture_output=True, text=True, timeout=PROC_TIMEOUT)
        self.stderrs.append(p.stderr)
        if check and p.returncode != 0:
            raise AssertionError(
                f"aws-oidc {' '.join(args)} exited {p.returncode}\n"
                f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def sh(self, shell: str, script: str, *, env: dict | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
        """Run a script in `shell` with this job's env; stderr is checked for secrets too."""
        e = {**self.env, "AWS_OIDC_BIN": self.bin, **(env or {})}
        p = subprocess.run([shell, "-c", script], env=e, cwd=self.tmp,
                           capture_output=True, text=True, timeout=PROC_TIMEOUT)
        self.stderrs.append(p.stderr)
        if check and p.returncode != 0:
            raise AssertionError(
                f"{shell} script exited {p.returncode}\nscript:\n{script}\n"
                f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def consumer_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Env for a later step/job: no token source, only the STS endpoint."""
        e = {**_base_env(), "HOME": str(self.home),
             "AWS_ENDPOINT_URL_STS": self.moto.url}
        e.update(extra or {})
        return e

    def note_secrets(self, *values: str | None) -> None:
        for v in values:
            if v:
                self.secrets.add(v)


@pytest.fixture(params=["gitlab", "github"])
def job(request, tmp_path, aws_oidc_bin, moto, issuer) -> Job:
    source = request.param
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **_base_env(),
        "HOME": str(home),
        "AWS_ENDPOINT_URL_STS": moto.url,
        "AWS_OIDC_RETRY_BASE_DELAY_MS": "10",
        "CI": "true",
    }
    j = Job(source=source, home=home, env=env, bin=aws_oidc_bin, moto=moto, issuer=issuer)
    if source == "gitlab":
        token = fake_issuer.gitlab_token("sts.amazonaws.com")
        env.update({
            "GITLAB_CI": "true",
            "CI_PROJECT_PATH": "group/project",
            "CI_PROJECT_ID": "2031",
            "CI_PIPELINE_ID": "574301",
            "CI_JOB_ID": "8812345",
            "CI_JOB_NAME": "deploy",
            "CI_COMMIT_REF_NAME": "main",
            "AWS_ID_TOKEN": token,
        })
        j.note_secrets(token)
    else:
        # A realistic Actions step: GITHUB_ENV/GITHUB_OUTPUT always exist
        # (empty files the runner created), GITHUB_ACTIONS=true.
        gh_env = tmp_path / "github_env"
        gh_out = tmp_path / "github_output"
        gh_env.write_text("")
        gh_out.write_text("")
        env.update({
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "octo-org/demo",
            "GITHUB_REPOSITORY_OWNER": "octo-org",
            "GITHUB_RUN_ID": "9876543210",
            "GITHUB_RUN_NUMBER": "42",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_WORKFLOW": "deploy",
            "GITHUB_JOB": "deploy",
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_SHA": "2b0c4b5f1e3c7d2a9e8f6a5b4c3d2e1f0a9b8c7d",
            "GITHUB_ENV": str(gh_env),
            "GITHUB_OUTPUT": str(gh_out),
            "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issuer.request_token,
        })
        j.note_secrets(issuer.request_token)
    yield j
    # Every test: no secret we know of (issued keys, tokens, the request
    # token) and nothing JWT-shaped ever reached stderr.
    for err in j.stderrs:
        for s in j.secrets:
            assert s not in err, f"a secret ({len(s)} chars) appeared on stderr:\n{err}"
        assert not JWT_IN_TEXT.search(err), f"a JWT appeared on stderr:\n{err}"
