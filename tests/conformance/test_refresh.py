"""Refreshing credentials (issue 6): credential_process with a cache, `assume
--refreshable` profiles, `exec --serve` (a local container-credentials endpoint)
and `--output web-identity` (the SDK assumes the role itself).

STS is tests/conformance/fake_sts.py: credentials live ~6 s, so a ~14 s client
loop crosses several expirations, and an expired key is refused (ExpiredToken)
exactly like AWS does. The clients are the real awscli v1 and boto3; they run
against the fake STS through AWS_ENDPOINT_URL_STS.

Timing knobs: AWS_OIDC_REFRESH_LOOP_SECONDS (default 14).
"""

from __future__ import annotations

import configparser
import hashlib
import json
import math
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import JWT_IN_TEXT, Issuer, _base_env, fake_issuer
from fake_sts import FakeSTS, fake_sts_server, sts  # noqa: F401  (fixtures)
from support import PROC_TIMEOUT, REPO, aws_cli, parse_gitlab_dotenv, parse_rfc3339, tool


def tool_aws() -> str:
    return tool("aws")

ACCOUNT = "123456789012"
ROLE = "refresh"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
CHAIN_ACCOUNT = "210987654321"
CHAIN_ROLE = "target"
CHAIN_ROLE_ARN = f"arn:aws:iam::{CHAIN_ACCOUNT}:role/{CHAIN_ROLE}"
REGION = "us-east-1"

LOOP_SECONDS = float(os.environ.get("AWS_OIDC_REFRESH_LOOP_SECONDS", "14"))
CP_KEYS = {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "AccountId"}


def arn_of(role: str, session: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


def is_sdk(call: dict) -> bool:
    """A call made by botocore (awscli/boto3), not by aws-oidc (aws-sdk-rust)."""
    return "Botocore/" in call["user_agent"] or "botocore/" in call["user_agent"]


# ------------------------------------------------------------------------ context


@dataclass
class Ctx:
    """One simulated CI job against the fake STS."""

    tmp: Path
    env: dict[str, str]          # the job's env: token source + STS endpoint + AWS files
    bin: str
    sts: FakeSTS
    issuer: Issuer
    secrets: set[str] = field(default_factory=set)
    stderrs: list[str] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return Path(self.env["AWS_CONFIG_FILE"])

    @property
    def credentials(self) -> Path:
        return Path(self.env["AWS_SHARED_CREDENTIALS_FILE"])

    def use_github(self) -> None:
        """Token from the fake GitHub endpoint (mints a new 5-minute token per request)."""
        self.env.pop("AWS_ID_TOKEN", None)
        self.env.update({
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "octo-org/demo",
            "GITHUB_RUN_ID": "9876543210",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.issuer.url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.issuer.request_token,
        })
        self.secrets.add(self.issuer.request_token)

    def run(self, args: list[str], *, env: dict | None = None, check: bool = True,
            cwd: Path | None = None, timeout: float = PROC_TIMEOUT) -> subprocess.CompletedProcess:
        e = {**self.env, **(env or {})}
        p = subprocess.run([self.bin, *args], env=e, cwd=cwd or self.tmp, capture_output=True,
                           text=True, timeout=timeout)
        self.stderrs.append(p.stderr)
        if check and p.returncode != 0:
            raise AssertionError(f"aws-oidc {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def consumer_env(self, extra: dict | None = None) -> dict[str, str]:
        """A later step: no token source, only the endpoint, a region and the AWS files."""
        e = {**_base_env(), "HOME": self.env["HOME"], "AWS_ENDPOINT_URL_STS": self.sts.url,
             "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(self.config),
             "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials)}
        e.update(extra or {})
        return e


@pytest.fixture
def ctx(tmp_path, aws_oidc_bin, sts, issuer):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    token = fake_issuer.gitlab_token("sts.amazonaws.com")
    env = {
        **_base_env(),
        "HOME": str(home),
        "AWS_ENDPOINT_URL_STS": sts.url,
        "AWS_DEFAULT_REGION": REGION,          # awscli v1 reads this one, not AWS_REGION
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_OIDC_RETRY_BASE_DELAY_MS": "10",
        "AWS_ID_TOKEN": token,
    }
    c = Ctx(tmp=tmp_path, env=env, bin=aws_oidc_bin, sts=sts, issuer=issuer)
    yield c
    leaks = c.secrets | sts.secrets()
    for err in c.stderrs:
        for s in leaks:
            assert s not in err, f"a secret ({len(s)} chars) appeared on stderr:\n{err}"
        assert not JWT_IN_TEXT.search(err), f"a JWT appeared on stderr:\n{err}"


_help: dict[tuple, str] = {}


def require(c: Ctx, sub: list[str], *flags: str) -> None:
    """Fail clearly (not with a confusing usage error) when the binary lacks a feature."""
    key = (c.bin, *sub)
    if key not in _help:
        p = subprocess.run([c.bin, *sub, "--help"], capture_output=True, text=True, timeout=30)
        _help[key] = p.stdout + p.stderr if p.returncode == 0 else ""
    text = _help[key]
    if not text:
        pytest.fail(f"feature missing: `aws-oidc {' '.join(sub)} --help` fails")
    for f in flags:
        if f not in text:
            pytest.fail(f"feature missing: `{f}` not in `aws-oidc {' '.join(sub)} --help`")


def cp_args(c: Ctx, session: str, *extra: str, role_arn: str = ROLE_ARN) -> list[str]:
    return ["credential-process", "--role-arn", role_arn, "--session-name", session, *extra]


def parse_cp(c: Ctx, stdout: str, *, role_arn: str, session: str, account: str = ACCOUNT) -> dict:
    """A credential_process document: exact keys, and exactly what the fake STS issued."""
    doc = json.loads(stdout)
    assert set(doc) == CP_KEYS, sorted(doc)
    assert doc["Version"] == 1
    rec = c.sts.record(doc["AccessKeyId"])
    assert doc["SecretAccessKey"] == rec["secret"], "secret differs from what STS issued"
    assert doc["SessionToken"] == rec["token"], "session token differs from what STS issued"
    assert (rec["role_arn"], rec["session"]) == (role_arn, session), rec
    assert doc["AccountId"] == account
    assert parse_rfc3339(doc["Expiration"]).timestamp() == rec["expires"], \
        (doc["Expiration"], rec["expiration"])
    return doc


def assert_private_tree(root: Path) -> list[Path]:
    """root and its subdirectories 0700, every file 0600; returns the files."""
    assert root.is_dir(), f"{root} was not created"
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        mode = stat.S_IMODE(os.stat(dirpath).st_mode)
        assert mode == 0o700, f"directory {dirpath} has mode {oct(mode)}, want 0o700"
        for f in filenames:
            p = Path(dirpath) / f
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            assert stat.S_ISREG(os.lstat(p).st_mode), f"{p} is not a regular file"
            assert mode == 0o600, f"cache file {p} has mode {oct(mode)}, want 0o600"
            files.append(p)
    return files


def assert_refresh_count(n_sts: int, elapsed: float, lifetime: float, margin: float,
                         n_client_calls: int, what: str) -> None:
    """Credentials issued for `lifetime` s (the fake floors the expiry to a whole second)
    must be reused until less than `margin` is left: each set serves between
    (lifetime - 1 - margin) and lifetime seconds of calls."""
    upper = math.ceil(elapsed / (lifetime - 1 - margin)) + 1
    lower = math.ceil(elapsed / lifetime)
    assert lower <= n_sts <= upper, (
        f"{what}: {n_sts} STS calls over {elapsed:.1f}s with {lifetime:.0f}s credentials and a "
        f"{margin:.0f}s margin; expected {lower}..{upper}")
    assert n_sts < n_client_calls, f"{what}: {n_sts} STS calls for {n_client_calls} client calls"


# Runs under boto3 in a fresh interpreter. Loops GetCallerIdentity with ONE
# session/client for argv[1] seconds (argv[2]: profile or ""), optionally first
# probing the container credentials endpoint (PROBE_ENDPOINT=1). Prints a JSON
# summary on stdout; never prints a secret.
BOTO3_LOOP = r"""
import json, os, sys, time, urllib.error, urllib.request
secs, profile = float(sys.argv[1]), sys.argv[2] or None
out = {"env": {k: k in os.environ for k in (
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")}}
if os.environ.get("PROBE_ENDPOINT"):
    uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
    tok = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
    out["uri"] = uri
    def probe(headers):
        try:
            r = urllib.request.urlopen(urllib.request.Request(uri, headers=headers), timeout=5)
            body = r.read()
            try:
                doc = json.loads(body)
            except ValueError:
                return {"status": r.status, "json": False}
            return {"status": r.status, "json": True, "keys": sorted(doc),
                    "akid": doc.get("AccessKeyId"), "expiration": doc.get("Expiration")}
        except urllib.error.HTTPError as e:
            return {"status": e.code}
        except Exception as e:
            return {"status": None, "error": type(e).__name__}
    out["probe_none"] = probe({})
    out["probe_wrong"] = probe({"Authorization": "wrong-token"})
    out["probe_prefix"] = probe({"Authorization": tok[:-1]}) if len(tok) > 1 else None
    out["probe_right"] = probe({"Authorization": tok})
import boto3
s = boto3.Session(profile_name=profile)
c = s.client("sts")
ok, errors, arns = 0, [], {}
t0 = time.time()
deadline = time.monotonic() + secs
while time.monotonic() < deadline:
    try:
        arn = c.get_caller_identity()["Arn"]
        ok += 1
        arns[arn] = arns.get(arn, 0) + 1
    except Exception as e:
        errors.append(type(e).__name__ + ": " + str(e)[:300])
    time.sleep(float(os.environ.get("LOOP_PAUSE", "0.05")))
out.update(ok=ok, errors=errors, arns=arns, t0=t0, t1=time.time())
print(json.dumps(out))
"""


def boto3_loop_cmd(c: Ctx, seconds: float, profile: str = "") -> list[str]:
    script = c.tmp / "boto3_loop.py"
    script.write_text(BOTO3_LOOP)
    return [sys.executable, str(script), str(seconds), profile]


def awscli_loop(env: dict, seconds: float, profile: str | None = None) -> list[dict]:
    """`aws sts get-caller-identity` again and again (a new process each time)."""
    results = []
    deadline = time.monotonic() + seconds
    args = ["sts", "get-caller-identity", "--output", "json"]
    if profile:
        args += ["--profile", profile]
    while time.monotonic() < deadline:
        t = time.time()
        p = aws_cli(args, env)
        r = {"t": t, "rc": p.returncode, "stderr": p.stderr[-600:]}
        if p.returncode == 0:
            r["arn"] = json.loads(p.stdout)["Arn"]
        results.append(r)
    return results


def write_profile(c: Ctx, name: str, command: list[str], region: str = REGION) -> None:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(c.config)
    cfg[f"profile {name}"] = {"credential_process": shlex.join(command), "region": region}
    with open(c.config, "w") as f:
        cfg.write(f)


# ------------------------------------------------------------- credential_process


def test_credential_process_loop_awscli_and_boto3(ctx):
    """awscli (a process per call) and boto3 (one process) both use a credential_process
    profile for LOOP_SECONDS while 6 s credentials expire again and again: every call
    succeeds, and the shared cache means STS is called once per refresh, not per call."""
    c = ctx
    require(c, ["credential-process"], "--refresh-margin", "--cache-dir")
    lifetime, margin, sess = 6, 2, "cp-loop"
    c.sts.configure(lifetime=lifetime)
    cache = c.tmp / "cache"
    write_profile(c, "cp", [c.bin, *cp_args(c, sess, "--refresh-margin", str(margin),
                                             "--cache-dir", str(cache))])
    start = c.sts.mark()

    boto = subprocess.Popen(boto3_loop_cmd(c, LOOP_SECONDS, "cp"), env={**c.env, "LOOP_PAUSE": "0.1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cli = awscli_loop(c.env, LOOP_SECONDS, profile="cp")
    bout, berr = boto.communicate(timeout=LOOP_SECONDS + PROC_TIMEOUT)
    c.stderrs.append(berr)
    for r in cli:
        c.stderrs.append(r["stderr"])

    failed = [r for r in cli if r["rc"] != 0]
    assert not failed, f"{len(failed)}/{len(cli)} awscli calls failed, first:\n{failed[0]['stderr']}"
    assert {r["arn"] for r in cli} == {arn_of(ROLE, sess)}
    assert boto.returncode == 0, berr
    b = json.loads(bout)
    assert not b["errors"], f"{len(b['errors'])} boto3 calls failed, first: {b['errors'][0]}"
    assert b["arns"] == {arn_of(ROLE, sess): b["ok"]}

    calls = c.sts.calls(since=start)
    gci = [x for x in calls if x["action"] == "GetCallerIdentity"]
    assert all(x["error"] is None for x in gci), [x for x in gci if x["error"]][:3]
    assert len(gci) == len(cli) + b["ok"]
    arwwi = [x for x in calls if x["action"] == "AssumeRoleWithWebIdentity"]
    assert all(x["session"] == sess and x["error"] is None for x in arwwi), arwwi
    assert not any(is_sdk(x) for x in arwwi)
    keys_used = {x["caller_akid"] for x in gci}
    assert len(keys_used) >= 3, f"only {len(keys_used)} credential sets used: no expiry crossed?"
    elapsed = max(x["time"] for x in calls) - arwwi[0]["time"]
    assert_refresh_count(len(arwwi), elapsed, lifetime, margin, len(gci), "credential_process")
    assert_private_tree(cache)
    print(f"\n[figures] credential_process: {len(cli)} awscli + {b['ok']} boto3 calls over "
          f"{elapsed:.1f}s -> {len(arwwi)} AssumeRoleWithWebIdentity, {len(keys_used)} keys used")


def test_credential_process_concurrent_single_sts_call(ctx):
    """20 credential-process runs started at once on an empty cache: ONE token fetch,
    ONE STS call, 20 identical documents; the cache is private (0700/0600)."""
    c = ctx
    require(c, ["credential-process"], "--cache-dir")
    c.use_github()
    c.sts.configure(lifetime=900)
    sess, cache = "cp-parallel", c.tmp / "pcache"
    start, issuer_before = c.sts.mark(), len(c.issuer.requests())
    procs = [subprocess.Popen([c.bin, *cp_args(c, sess, "--cache-dir", str(cache))], env=c.env,
                              cwd=c.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(20)]
    outs = [p.communicate(timeout=PROC_TIMEOUT) for p in procs]
    for p, (out, err) in zip(procs, outs):
        c.stderrs.append(err)
        assert p.returncode == 0, f"exit {p.returncode}:\n{err}"
    docs = {out for out, _ in outs}
    assert len(docs) == 1, f"{len(docs)} different documents from 20 parallel runs"
    parse_cp(c, docs.pop(), role_arn=ROLE_ARN, session=sess)
    arwwi = c.sts.calls("AssumeRoleWithWebIdentity", since=start)
    assert len(arwwi) == 1, f"{len(arwwi)} STS calls for 20 parallel runs (want 1)"
    assert len(c.issuer.requests()) - issuer_before == 1, "token fetched more than once"
    files = assert_private_tree(cache)
    assert files, "nothing cached"
    print(f"\n[figures] 20 parallel credential-process: {len(arwwi)} STS call, "
          f"{len(files)} cache file(s)")


def test_credential_process_refetches_token_after_expiry(ctx):
    """GitHub source: while cached credentials have > margin left nothing is fetched; after
    that, a NEW token is requested from the endpoint and STS is called again with it."""
    c = ctx
    require(c, ["credential-process"], "--refresh-margin")
    c.use_github()
    lifetime, margin, sess, cache = 5, 1, "cp-expiry", c.tmp / "ecache"
    c.sts.configure(lifetime=lifetime)
    args = cp_args(c, sess, "--refresh-margin", str(margin), "--cache-dir", str(cache))
    start, issuer_before = c.sts.mark(), len(c.issuer.requests())

    first = parse_cp(c, c.run(args).stdout, role_arn=ROLE_ARN, session=sess)
    again = c.run(args).stdout
    assert json.loads(again) == first, "second run within the margin did not reuse the cache"
    assert len(c.sts.calls("AssumeRoleWithWebIdentity", since=start)) == 1
    assert len(c.issuer.requests()) - issuer_before == 1

    expires = parse_rfc3339(first["Expiration"]).timestamp()
    time.sleep(max(0.0, expires - margin + 0.3 - time.time()))
    third = parse_cp(c, c.run(args).stdout, role_arn=ROLE_ARN, session=sess)
    assert third["AccessKeyId"] != first["AccessKeyId"]
    arwwi = c.sts.calls("AssumeRoleWithWebIdentity", since=start)
    assert len(arwwi) == 2, arwwi
    assert len(c.issuer.requests()) - issuer_before == 2, "no fresh token was requested"
    assert arwwi[0]["jti"] != arwwi[1]["jti"], "the second STS call reused the first token"
    assert all(x["error"] is None for x in arwwi)


def test_credential_process_rereads_token_command_and_file(ctx):
    """--token-command is run again and --token-file re-read when the cache expires: the
    fake STS (no clock skew allowance here) would refuse the old 3-second token, and
    for the file the STS call carries the file's NEW token."""
    c = ctx
    require(c, ["credential-process"], "--refresh-margin")
    lifetime, margin = 4, 1
    c.sts.configure(lifetime=lifetime, token_skew=0)
    mint = shlex.join([sys.executable, str(REPO / "scripts" / "fake_issuer.py"), "gitlab-token",
                       "--ttl", "3"])
    tokfile = c.tmp / "id-token"
    tok_a = fake_issuer.gitlab_token("sts.amazonaws.com")
    tokfile.write_text(tok_a + "\n")
    cmd_args = cp_args(c, "cp-cmd", "--token-command", mint, "--refresh-margin", str(margin),
                       "--cache-dir", str(c.tmp / "c1"))
    file_args = cp_args(c, "cp-file", "--token-file", str(tokfile), "--refresh-margin", str(margin),
                        "--cache-dir", str(c.tmp / "c2"))
    start = c.sts.mark()
    d1 = parse_cp(c, c.run(cmd_args).stdout, role_arn=ROLE_ARN, session="cp-cmd")
    f1 = parse_cp(c, c.run(file_args).stdout, role_arn=ROLE_ARN, session="cp-file")
    tok_b = fake_issuer.gitlab_token("sts.amazonaws.com")
    tokfile.write_text(tok_b + "\n")

    latest = max(parse_rfc3339(d["Expiration"]).timestamp() for d in (d1, f1))
    time.sleep(max(0.0, latest - margin + 0.3 - time.time()))
    d2 = parse_cp(c, c.run(cmd_args).stdout, role_arn=ROLE_ARN, session="cp-cmd")
    f2 = parse_cp(c, c.run(file_args).stdout, role_arn=ROLE_ARN, session="cp-file")
    assert d2["AccessKeyId"] != d1["AccessKeyId"] and f2["AccessKeyId"] != f1["AccessKeyId"]

    cmd_calls = c.sts.calls("AssumeRoleWithWebIdentity", since=start, session="cp-cmd")
    assert [x["error"] for x in cmd_calls] == [None, None], \
        f"token-command: STS saw {[x['error'] for x in cmd_calls]} (a stale token?)"
    assert cmd_calls[0]["jti"] != cmd_calls[1]["jti"], "the token command was not run again"
    file_calls = c.sts.calls("AssumeRoleWithWebIdentity", since=start, session="cp-file")
    assert [x["error"] for x in file_calls] == [None, None], file_calls
    assert file_calls[0]["jti"] == fake_issuer_jti(tok_a)
    assert file_calls[1]["jti"] == fake_issuer_jti(tok_b), "the token file was not re-read"


def fake_issuer_jti(token: str) -> str:
    from fake_sts import jwt_claims
    return jwt_claims(token)["jti"]


def test_credential_process_cache_keys_margin_and_dirs(ctx):
    """The cache key separates role, session, chain role and external id (never hands one
    role's credentials to another); the margin comes from --refresh-margin over
    AWS_OIDC_REFRESH_MARGIN; the cache directory defaults follow the contract; --no-cache
    calls STS every time and writes nothing."""
    c = ctx
    require(c, ["credential-process"], "--refresh-margin", "--cache-dir", "--no-cache")
    c.sts.configure(lifetime=900)
    cache = ["--cache-dir", str(c.tmp / "kcache")]
    role2 = f"arn:aws:iam::{ACCOUNT}:role/other"
    variants = {
        "a": (cp_args(c, "key-a", *cache), ROLE_ARN, "key-a", ACCOUNT),
        "b": (cp_args(c, "key-b", *cache), ROLE_ARN, "key-b", ACCOUNT),
        "c": (cp_args(c, "key-a", *cache, role_arn=role2), role2, "key-a", ACCOUNT),
        "d": (cp_args(c, "key-a", *cache, "--chain-role-arn", CHAIN_ROLE_ARN,
                      "--external-id", "ext-one"), CHAIN_ROLE_ARN, "key-a", CHAIN_ACCOUNT),
        "e": (cp_args(c, "key-a", *cache, "--chain-role-arn", CHAIN_ROLE_ARN,
                      "--external-id", "ext-two"), CHAIN_ROLE_ARN, "key-a", CHAIN_ACCOUNT),
    }
    start = c.sts.mark()
    first = {}
    for k, (args, role_arn, sess, account) in variants.items():
        first[k] = parse_cp(c, c.run(args).stdout, role_arn=role_arn, session=sess, account=account)
    assert c.sts.record(first["d"]["AccessKeyId"])["external_id"] == "ext-one"
    assert c.sts.record(first["e"]["AccessKeyId"])["external_id"] == "ext-two"
    assert len({d["AccessKeyId"] for d in first.values()}) == 5
    n = c.sts.mark()
    for k, (args, *_rest) in reversed(list(variants.items())):
        assert json.loads(c.run(args).stdout) == first[k], f"variant {k}: cache not reused"
    assert c.sts.calls(since=n) == [], "second round called STS"

    # Margin: flag beats env; credentials with less than the margin left are refreshed.
    c.sts.configure(lifetime=10)
    margs = cp_args(c, "margin", *cache)
    m0 = c.sts.mark()
    one = c.run(margs, env={"AWS_OIDC_REFRESH_MARGIN": "5"}).stdout
    assert c.run(margs, env={"AWS_OIDC_REFRESH_MARGIN": "5"}).stdout == one
    c.sts.configure(lifetime=60)
    two = c.run(margs, env={"AWS_OIDC_REFRESH_MARGIN": "11"}).stdout     # < 10 s left: refresh
    assert two != one, "AWS_OIDC_REFRESH_MARGIN=11 with <10 s left did not refresh"
    assert c.run(margs, env={"AWS_OIDC_REFRESH_MARGIN": "11"}).stdout == two
    assert c.run([*margs, "--refresh-margin", "5"], env={"AWS_OIDC_REFRESH_MARGIN": "100"}).stdout == two
    assert len(c.sts.calls("AssumeRoleWithWebIdentity", since=m0)) == 2
    c.sts.configure(lifetime=900)

    # Cache directory defaults.
    def cached_in(env_over: dict, where: Path, sess: str) -> None:
        e = {k: v for k, v in c.env.items()
             if k not in ("AWS_OIDC_CACHE_DIR", "RUNNER_TEMP", "XDG_CACHE_HOME")}
        e.update(env_over)
        p = subprocess.run([c.bin, *cp_args(c, sess)], env=e, cwd=c.tmp, capture_output=True,
                           text=True, timeout=PROC_TIMEOUT)
        c.stderrs.append(p.stderr)
        assert p.returncode == 0, p.stderr
        files = assert_private_tree(where)
        assert files, f"{env_over}: nothing cached in {where}"

    t = c.tmp
    cached_in({"AWS_OIDC_CACHE_DIR": str(t / "envdir"), "RUNNER_TEMP": str(t / "rt0")},
              t / "envdir", "dir-env")
    assert not (t / "rt0").exists()
    (t / "rt").mkdir()
    cached_in({"RUNNER_TEMP": str(t / "rt"), "XDG_CACHE_HOME": str(t / "xdg0")},
              t / "rt" / "aws-oidc-cache", "dir-runner")
    cached_in({"XDG_CACHE_HOME": str(t / "xdg")}, t / "xdg" / "aws-oidc", "dir-xdg")
    cached_in({}, Path(c.env["HOME"]) / ".cache" / "aws-oidc", "dir-home")

    # --no-cache: STS every time, nothing written (fresh HOME, no dir variables).
    home2 = t / "home2"
    home2.mkdir()
    nc = c.sts.mark()
    for _ in range(2):
        c.run([*cp_args(c, "no-cache"), "--no-cache"], env={"HOME": str(home2)})
    assert len(c.sts.calls("AssumeRoleWithWebIdentity", since=nc)) == 2
    assert list(home2.iterdir()) == [], list(home2.rglob("*"))


def test_credential_process_refusal_and_corrupt_cache(ctx):
    """A refused role: exit 4, nothing on stdout (the SDK shows stderr), an error line.
    A corrupt or empty cache file is not fatal: STS is asked again and the cache rewritten."""
    c = ctx
    require(c, ["credential-process"], "--cache-dir")
    c.sts.configure(lifetime=900)
    cache = ["--cache-dir", str(c.tmp / "ccache")]
    denied = f"arn:aws:iam::{ACCOUNT}:role/deny-cp"
    p = c.run(cp_args(c, "cp-denied", *cache, role_arn=denied), check=False)
    assert p.returncode == 4, (p.returncode, p.stderr)
    assert p.stdout == ""
    assert re.search(r"^aws-oidc: error: .*AccessDenied", p.stderr, re.M), p.stderr

    args = cp_args(c, "cp-corrupt", *cache)
    first = parse_cp(c, c.run(args).stdout, role_arn=ROLE_ARN, session="cp-corrupt")
    for garbage in (b"{not json", b""):
        for f in assert_private_tree(c.tmp / "ccache"):
            f.write_bytes(garbage)
        n = c.sts.mark()
        p = c.run(args, check=False)
        assert p.returncode == 0, f"corrupt cache ({garbage!r}) is fatal:\n{p.stderr}"
        doc = parse_cp(c, p.stdout, role_arn=ROLE_ARN, session="cp-corrupt")
        assert doc["AccessKeyId"] != first["AccessKeyId"]
        assert len(c.sts.calls("AssumeRoleWithWebIdentity", since=n)) == 1
        m = c.sts.mark()
        assert json.loads(c.run(args).stdout) == doc, "cache not rewritten after corruption"
        assert c.sts.calls(since=m) == []
        assert_private_tree(c.tmp / "ccache")


# ---------------------------------------------------------------- --refreshable


CREDS_BEFORE = """\
[ci]
aws_access_key_id = AKIAOLDSTATICKEY0000
aws_secret_access_key = old-static-secret
[other]
aws_access_key_id = AKIAOTHERKEY00000000
aws_secret_access_key = other-secret
"""
CONFIG_BEFORE = """\
[profile other]
region = eu-central-1
"""


def test_assume_refreshable_profile(ctx):
    """`assume --output profile=ci --refreshable` writes a credential_process profile
    (absolute path, same role options) instead of keys and drops [ci]'s static keys,
    so awscli and boto3 get refreshable credentials from it."""
    c = ctx
    require(c, ["assume"], "--refreshable")
    c.sts.configure(lifetime=900)
    c.credentials.write_text(CREDS_BEFORE)
    c.config.write_text(CONFIG_BEFORE)
    sess = "ci-refreshable"
    p = c.run(["assume", "--role-arn", ROLE_ARN, "--session-name", sess, "--region", REGION,
               "--output", "profile=ci", "--refreshable"])
    assert "::add-mask::" not in p.stdout

    cfg = configparser.ConfigParser(interpolation=None, strict=True)
    cfg.read(c.config)
    assert cfg["profile other"]["region"] == "eu-central-1", "another profile was changed"
    prof = cfg["profile ci"]
    assert "aws_access_key_id" not in prof and "aws_secret_access_key" not in prof
    argv = shlex.split(prof["credential_process"])
    assert os.path.isabs(argv[0]), f"not an absolute path: {argv[0]!r}"
    assert os.path.samefile(argv[0], c.bin), argv[0]
    assert argv[1] == "credential-process", argv
    assert f"--role-arn={ROLE_ARN}" in argv, argv
    assert prof.get("region") == REGION or f"--region={REGION}" in argv, dict(prof)
    creds = configparser.ConfigParser(interpolation=None, strict=True)
    creds.read(c.credentials)
    assert not ("ci" in creds and "aws_access_key_id" in creds["ci"]), \
        f"static keys of [ci] left in the credentials file:\n{c.credentials.read_text()}"
    assert creds["other"]["aws_access_key_id"] == "AKIAOTHERKEY00000000"

    # The consumer env carries the token source: credential_process runs in awscli's env.
    start = c.sts.mark()
    for _ in range(2):
        r = aws_cli(["sts", "get-caller-identity", "--output", "json", "--profile", "ci"], c.env)
        c.stderrs.append(r.stderr)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["Arn"] == arn_of(ROLE, sess)
    arwwi = c.sts.calls("AssumeRoleWithWebIdentity", since=start)
    assert len(arwwi) <= 1, f"{len(arwwi)} STS calls for 2 awscli calls (cache not used?)"

    # Chain + external id + a token FILE: all must be in the command line, since a later
    # step's environment has no token variable; the token itself must not be.
    tokfile = c.tmp / "job-token"
    tokfile.write_text(c.env["AWS_ID_TOKEN"])
    c.run(["assume", "--role-arn", ROLE_ARN, "--session-name", "ci-chain", "--region", REGION,
           "--chain-role-arn", CHAIN_ROLE_ARN, "--external-id", "ext-refresh",
           "--token-file", str(tokfile), "--output", "profile=ci-chain", "--refreshable"],
          env={"AWS_ID_TOKEN": ""})
    text = c.config.read_text()
    assert not JWT_IN_TEXT.search(text), "the ID token itself was written into the config"
    r = aws_cli(["sts", "get-caller-identity", "--output", "json", "--profile", "ci-chain"],
                c.consumer_env())
    c.stderrs.append(r.stderr)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"] == arn_of(CHAIN_ROLE, "ci-chain", CHAIN_ACCOUNT)
    last = c.sts.calls("AssumeRole", session="ci-chain")[-1]
    assert last["external_id"] == "ext-refresh" and last["role_arn"] == CHAIN_ROLE_ARN


def test_refreshable_target_profile_keeps_its_limits(ctx):
    """A YAML target's `--refreshable` profile asks STS for exactly what the first call asked
    for (Policy, PolicyArns, DurationSeconds), when awscli runs it from another directory with
    a token file and a policy file named by relative paths (issue 10, bugs 1 and 2)."""
    c = ctx
    require(c, ["assume"], "--refreshable")
    c.sts.configure(lifetime=900)
    job = c.tmp / "job"
    job.mkdir()
    (job / "tok.jwt").write_text(c.env["AWS_ID_TOKEN"])
    (job / "deny-iam.json").write_text(
        '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]\n}\n')
    (job / "targets.yml").write_text(f"""\
defaults:
  duration: 1800
  region: {REGION}
  policy: '{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}}]}}'
  policy_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess, arn:aws:iam::{ACCOUNT}:policy/extra]
targets:
  prod:
    role_arn: {ROLE_ARN}
    session_name: yaml-prod
    outputs: [profile=prod]
  stage:
    role_arn: {ROLE_ARN}
    session_name: yaml-stage
    policy: '@deny-iam.json'
    duration: 2700
    outputs: [profile=stage]
""")
    start = c.sts.mark()
    c.run(["assume", "--config", "targets.yml", "--token-file", "tok.jwt", "--refreshable"],
          env={"AWS_ID_TOKEN": ""}, cwd=job)
    first = {call["session"]: call for call in c.sts.calls("AssumeRoleWithWebIdentity", since=start)}
    assert set(first) == {"yaml-prod", "yaml-stage"}, first
    assert first["yaml-prod"]["duration"] == "1800"
    assert first["yaml-stage"]["duration"] == "2700"
    assert first["yaml-prod"]["policy"] and "s3:Get*" in first["yaml-prod"]["policy"]
    assert first["yaml-stage"]["policy"] and "iam:*" in first["yaml-stage"]["policy"]
    assert first["yaml-prod"]["policy_arns"] == [
        "arn:aws:iam::aws:policy/ReadOnlyAccess", f"arn:aws:iam::{ACCOUNT}:policy/extra"]

    elsewhere = c.tmp / "elsewhere"
    elsewhere.mkdir()
    for name, sess in (("prod", "yaml-prod"), ("stage", "yaml-stage")):
        mark = c.sts.mark()
        r = subprocess.run([tool_aws(), "sts", "get-caller-identity", "--output", "json",
                            "--profile", name], env=c.consumer_env(), cwd=elsewhere,
                           capture_output=True, text=True, timeout=PROC_TIMEOUT)
        c.stderrs.append(r.stderr)
        assert r.returncode == 0, f"profile {name}: {r.stderr}\n{c.config.read_text()}"
        assert json.loads(r.stdout)["Arn"] == arn_of(ROLE, sess)
        again = c.sts.calls("AssumeRoleWithWebIdentity", since=mark)
        assert len(again) == 1, again
        for key in ("policy", "policy_arns", "duration", "role_arn", "session"):
            assert again[0][key] == first[sess][key], (name, key, again[0][key], first[sess][key])


# ------------------------------------------------------------------ exec --serve


def test_exec_serve_boto3_loop(ctx):
    """`exec --serve -- python loop.py`: the child gets AWS_CONTAINER_CREDENTIALS_FULL_URI
    (127.0.0.1) + AWS_CONTAINER_AUTHORIZATION_TOKEN and no static keys; requests without
    or with a wrong token are refused; one boto3 session runs across several expirations;
    the endpoint stops with the child."""
    c = ctx
    require(c, ["exec"], "--serve")
    lifetime, margin, sess = 6, 2, "serve-loop"
    c.sts.configure(lifetime=lifetime)
    start = c.sts.mark()
    parent = {"AWS_ACCESS_KEY_ID": "AKIAPARENTKEY0000000", "AWS_SECRET_ACCESS_KEY": "parent-secret",
              "AWS_SESSION_TOKEN": "parent-token", "AWS_PROFILE": "nonexistent",
              "AWS_OIDC_REFRESH_MARGIN": str(margin), "PROBE_ENDPOINT": "1"}
    p = c.run(["exec", "--serve", "--role-arn", ROLE_ARN, "--session-name", sess, "--",
               *boto3_loop_cmd(c, LOOP_SECONDS)], env=parent, timeout=LOOP_SECONDS + PROC_TIMEOUT)
    out = json.loads(p.stdout.strip().splitlines()[-1])

    assert out["env"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"] and out["env"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        assert not out["env"][k], f"{k} was left in the child's environment"
    uri = urllib.parse.urlsplit(out["uri"])
    assert uri.scheme == "http" and uri.hostname == "127.0.0.1", out["uri"]
    for probe in ("probe_none", "probe_wrong", "probe_prefix"):
        assert out[probe]["status"] in (401, 403), f"{probe}: {out[probe]}"
    right = out["probe_right"]
    assert right["status"] == 200 and right["json"], right
    assert {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} <= set(right["keys"]), right
    rec = c.sts.record(right["akid"])
    assert (rec["role_arn"], rec["session"]) == (ROLE_ARN, sess)
    assert parse_rfc3339(right["expiration"]).timestamp() == rec["expires"]

    assert not out["errors"], f"{len(out['errors'])} boto3 calls failed, first: {out['errors'][0]}"
    assert out["arns"] == {arn_of(ROLE, sess): out["ok"]}
    calls = c.sts.calls(since=start)
    gci = [x for x in calls if x["action"] == "GetCallerIdentity"]
    assert len(gci) == out["ok"] and all(x["error"] is None for x in gci)
    keys_used = {x["caller_akid"] for x in gci}
    assert len(keys_used) >= 3, f"only {len(keys_used)} credential sets used: no expiry crossed?"
    arwwi = [x for x in calls if x["action"] == "AssumeRoleWithWebIdentity"]
    assert all(not is_sdk(x) and x["error"] is None for x in arwwi)
    elapsed = out["t1"] - arwwi[0]["time"]
    assert_refresh_count(len(arwwi), elapsed, lifetime, margin, out["ok"], "exec --serve")

    # The endpoint is gone once the command has exited.
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex(("127.0.0.1", uri.port)) != 0, "credential endpoint still listening"
    print(f"\n[figures] exec --serve: {out['ok']} boto3 calls over {elapsed:.1f}s -> "
          f"{len(arwwi)} AssumeRoleWithWebIdentity, {len(keys_used)} keys used")


def test_exec_serve_exit_status(ctx):
    c = ctx
    require(c, ["exec"], "--serve")
    c.sts.configure(lifetime=900)
    base = ["exec", "--serve", "--role-arn", ROLE_ARN, "--session-name", "serve-exit", "--"]
    assert c.run([*base, "sh", "-c", "exit 7"], check=False).returncode == 7
    p = c.run([*base, "/nonexistent/definitely-not-a-command"], check=False)
    assert p.returncode == 127, (p.returncode, p.stderr)

    # aws-oidc stays the parent (it serves): a CI runner's SIGTERM must reach CMD.
    script = 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'
    proc = subprocess.Popen([c.bin, *base, "sh", "-c", script], env=c.env, cwd=c.tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    c.stderrs.append(err)
    assert proc.returncode == 42, f"SIGTERM not forwarded to CMD: exit {proc.returncode}\n{err}"


# ---------------------------------------------------------------- web identity


def test_web_identity_sdk_assumes_role_itself(ctx):
    """`--output web-identity=FILE --output env=FILE`: a 0600 token file and a dotenv with
    AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE/... and no keys; boto3 and awscli then call
    AssumeRoleWithWebIdentity on STS themselves, again after every expiry."""
    c = ctx
    require(c, ["assume"], "web-identity")
    lifetime, sess = 6, "wi-loop"
    c.sts.configure(lifetime=lifetime)
    tok, envf = c.tmp / "wi" / "token", c.tmp / "wi.env"
    tok.parent.mkdir()
    start = c.sts.mark()
    p = c.run(["assume", "--role-arn", ROLE_ARN, "--session-name", sess, "--region", "eu-west-1",
               "--output", f"web-identity={tok}", "--output", f"env={envf}"])
    assert "warning" not in p.stderr.lower(), f"warning for a 1-hour GitLab token:\n{p.stderr}"
    own_calls = len(c.sts.calls(since=start))

    assert stat.S_IMODE(os.stat(tok).st_mode) == 0o600
    raw = tok.read_bytes()
    assert raw.strip() == c.env["AWS_ID_TOKEN"].encode()
    v = parse_gitlab_dotenv(envf.read_bytes())
    assert v["AWS_ROLE_ARN"] == ROLE_ARN
    assert Path(v["AWS_WEB_IDENTITY_TOKEN_FILE"]) == tok
    assert v["AWS_ROLE_SESSION_NAME"] == sess
    assert v["AWS_REGION"] == v["AWS_DEFAULT_REGION"] == "eu-west-1"
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert k not in v, f"{k} written in web-identity mode"

    consumer = c.consumer_env(v)
    boto = subprocess.Popen(boto3_loop_cmd(c, LOOP_SECONDS), env={**consumer, "LOOP_PAUSE": "0.2"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cli = awscli_loop(consumer, 4)
    bout, berr = boto.communicate(timeout=LOOP_SECONDS + PROC_TIMEOUT)
    assert boto.returncode == 0, berr
    b = json.loads(bout)
    assert not b["errors"], f"{len(b['errors'])} boto3 calls failed, first: {b['errors'][0]}"
    assert b["arns"] == {arn_of(ROLE, sess): b["ok"]}
    assert cli and all(r["rc"] == 0 for r in cli), [r["stderr"] for r in cli if r["rc"]][:1]
    assert {r["arn"] for r in cli} == {arn_of(ROLE, sess)}

    calls = c.sts.calls(since=start)
    sdk = [x for x in calls if x["action"] == "AssumeRoleWithWebIdentity" and is_sdk(x)]
    want = hashlib.sha256(raw).hexdigest()     # botocore sends the file's bytes verbatim
    assert sdk and all(x["token_sha256"] == want and x["session"] == sess and x["error"] is None
                       for x in sdk), sdk[:1]
    gci = [x for x in calls if x["action"] == "GetCallerIdentity"]
    assert all(x["error"] is None for x in gci)
    keys_used = {x["caller_akid"] for x in gci}
    assert len(keys_used) >= 3, f"only {len(keys_used)} credential sets used: no expiry crossed?"
    print(f"\n[figures] web-identity: aws-oidc made {own_calls} STS call(s); the SDKs made "
          f"{len(sdk)} AssumeRoleWithWebIdentity for {len(gci)} GetCallerIdentity")
    # Last, so the flow above is still checked: SDKs do not trim the file (botocore,
    # Go v2 read it raw), so a trailing newline would reach STS inside WebIdentityToken;
    # EKS's projected token files have none.
    assert raw == c.env["AWS_ID_TOKEN"].encode(), \
        f"token file is not exactly the token (ends with {raw[-2:]!r}): SDKs send it verbatim"


def test_web_identity_short_token_warns(ctx):
    """GitHub's 5-minute token: a warning on stderr; `sh` output carries the web-identity
    variables (an absolute token path even for a relative --output path), no keys."""
    c = ctx
    require(c, ["assume"], "web-identity")
    c.use_github()
    c.sts.configure(lifetime=900)
    p = c.run(["assume", "--role-arn", ROLE_ARN, "--session-name", "wi-gh",
               "--output", "web-identity=gh-token", "--output", "sh"])
    warn = [l for l in p.stderr.splitlines() if re.search(r"(?i)warn.*(expire|lifetime|5 ?m)", l)]
    assert warn, f"no warning about the 5-minute token:\n{p.stderr}"
    exports = dict(
        (k, shlex.split(v)[0]) for k, _, v in
        (l[len("export "):].partition("=") for l in p.stdout.splitlines() if l.startswith("export ")))
    assert exports.get("AWS_ROLE_ARN") == ROLE_ARN, p.stdout
    assert exports.get("AWS_ROLE_SESSION_NAME") == "wi-gh"
    path = exports.get("AWS_WEB_IDENTITY_TOKEN_FILE", "")
    assert os.path.isabs(path), f"relative AWS_WEB_IDENTITY_TOKEN_FILE {path!r} breaks in another cwd"
    assert Path(path) == c.tmp / "gh-token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not any(k in exports for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
