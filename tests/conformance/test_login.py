"""Interactive login (issue 13) end to end: `aws-oidc login` against a real OpenID provider
(tests/idp/provider.mjs, panva's oidc-provider, driven headless by tests/idp/drive.mjs), then
`--provider` on assume / credential-process against the strict fake STS, which verifies the
stored ID token's signature against the provider's JWKS (identity_providers), and awscli /
boto3 consuming the credentials through a `credential_process` profile.

The contract (what the lead implements): device login prints
`aws-oidc: to sign in, open <verification_uri> and enter the code <USER-CODE>` and
`aws-oidc: or open <verification_uri_complete>` on stderr; success prints
`aws-oidc: logged in to corp as <email or sub>; tokens kept in <where>`; the file store lives
under the cache dir (0600 files in a 0700 directory); without a usable token every command
exits 3 at once with `aws-oidc login --provider corp`; ID tokens are refreshed when less than
the margin (60 s, capped at half the token's lifetime) is left, under a lock.

Every test fails at once, with the binary's stderr, when `aws-oidc login --help` fails (the
feature is there: a broken or renamed `login` must not pass as skipped tests).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import JWT_IN_TEXT, _base_env
from fake_sts import FakeSTS, fake_sts_server, sts  # noqa: F401  (fixtures)
from idp import Idp, idp, idp_server, jwt_parts  # noqa: F401  (fixtures)
from support import PROC_TIMEOUT, aws_cli, boto3_identity, parse_rfc3339

ACCOUNT = "123456789012"
ROLE = "dev"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
REGION = "us-east-1"
PROVIDER = "corp"
EMAIL = "dev@example.com"
CP_KEYS = {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "AccountId"}
LOGIN_HINT = f"aws-oidc login --provider {PROVIDER}"

DEVICE_LINE = re.compile(r"^aws-oidc: to sign in, open (\S+) and enter the code (\S+)$")
DEVICE_COMPLETE_LINE = re.compile(r"^aws-oidc: or open (\S+)$")
BROWSER_LINE = re.compile(r"^aws-oidc: to sign in, open (\S+)$")
SUCCESS_LINE = re.compile(rf"^aws-oidc: logged in to {PROVIDER} as (\S+); tokens kept in (.+)$")
# An opaque secret as oidc-provider makes them (device codes, refresh and access tokens: 43
# base64url characters): a long base64url word with upper- and lower-case letters and digits
# (temp paths and test names have no upper case).
OPAQUE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")


def opaque_secrets_in(text: str) -> list[str]:
    return [w for w in OPAQUE.findall(text)
            if re.search(r"[A-Z]", w) and re.search(r"[a-z]", w) and re.search(r"\d", w)]


# ------------------------------------------------------------------------ feature gate

_login_help: dict[str, str | None] = {}


@pytest.fixture
def login_bin(aws_oidc_bin) -> str:
    """The binary, once `login --help` has exited 0 (else the test fails with its stderr)."""
    if aws_oidc_bin not in _login_help:
        p = subprocess.run([aws_oidc_bin, "login", "--help"], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        _login_help[aws_oidc_bin] = (None if p.returncode == 0
                                     else f"exit {p.returncode}: {p.stderr[-2000:]}")
    failure = _login_help[aws_oidc_bin]
    if failure is not None:
        pytest.fail(f"`{aws_oidc_bin} login --help` fails ({failure})")
    return aws_oidc_bin


# ------------------------------------------------------------------------ context


@dataclass
class Ctx:
    tmp: Path
    bin: str
    idp: Idp
    sts: FakeSTS
    env: dict[str, str]
    config: Path
    cache: Path
    stderrs: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    def run(self, args: list[str], *, check: bool = True, timeout: float = PROC_TIMEOUT,
            env: dict | None = None) -> subprocess.CompletedProcess:
        p = subprocess.run([self.bin, *args], env={**self.env, **(env or {})}, cwd=self.tmp,
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        self.stderrs.append(p.stderr)
        if check and p.returncode != 0:
            raise AssertionError(f"aws-oidc {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def with_provider(self, cmd: str, *args: str) -> list[str]:
        return [cmd, "--provider", PROVIDER, "--config", str(self.config), *args]

    # -- the token store (file backend)
    def token_files(self) -> list[Path]:
        """Files under the cache dir that hold a JWT (the stored ID token)."""
        out = []
        if not self.cache.exists():
            return out
        for dirpath, _, filenames in os.walk(self.cache):
            for f in filenames:
                p = Path(dirpath) / f
                if p.is_file() and not p.is_symlink() and JWT_IN_TEXT.search(
                        p.read_text(errors="replace")):
                    out.append(p)
        return out

    def token_file(self) -> Path:
        files = self.token_files()
        assert len(files) == 1, f"expected one token file under {self.cache}, found {files}"
        return files[0]

    def stored(self) -> dict:
        """The stored tokens: {"id_token": ..., "refresh_token": ...} (found by shape: the JWT,
        and the JSON field named refresh_token), remembered as secrets for the leak checks."""
        path = self.token_file()
        text = path.read_text()
        jwts = [m.group(0) for m in re.finditer(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
                                                text)]
        out: dict = {"path": path, "id_token": jwts[0] if jwts else None, "refresh_token": None}
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None

        def walk(v, key=""):
            if isinstance(v, dict):
                for k, x in v.items():
                    walk(x, k)
            elif isinstance(v, list):
                for x in v:
                    walk(x, key)
            elif isinstance(v, str) and "token" in key.lower() and len(v) >= 16:
                self.secrets.add(v)
                if "refresh" in key.lower():
                    out["refresh_token"] = v
        walk(doc)
        for j in jwts:
            self.secrets.add(j)
        return out

    def id_claims(self) -> dict:
        tok = self.stored()["id_token"]
        assert tok, "no ID token in the token file"
        return jwt_parts(tok)[1]

    def refresh_token(self) -> str:
        rt = self.stored()["refresh_token"]
        assert rt, (f"no refresh_token field in {self.token_file()} "
                    "(a login with offline_access must store one)")
        return rt

    def refresh_grants(self, since: int = 0) -> list[dict]:
        return [t for t in self.idp.token_requests()[since:] if t["grant_type"] == "refresh_token"]


def write_config(path: Path, issuer: str, flow: str = "device") -> None:
    path.write_text(
        "providers:\n"
        f"  {PROVIDER}:\n"
        f"    issuer: {issuer}\n"
        "    client_id: aws-cli\n"
        "    scopes: [openid, email, offline_access]\n"
        "    extra_params: {prompt: consent}\n"
        f"    role_arn: {ROLE_ARN}\n"
        f"    flow: {flow}\n")


@pytest.fixture
def ctx(login_bin, tmp_path, idp, sts):
    sts.configure(lifetime=3600,
                  identity_providers={idp.issuer: {"audiences": [idp.client_id]}})
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "aws-oidc.yaml"
    write_config(config, idp.issuer)
    cache = tmp_path / "cache"            # created by aws-oidc (0700)
    env = {
        **_base_env(),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "AWS_OIDC_TOKEN_STORE": "file",
        "AWS_OIDC_CACHE_DIR": str(cache),
        "AWS_ENDPOINT_URL_STS": sts.url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_OIDC_RETRY_BASE_DELAY_MS": "10",
    }
    c = Ctx(tmp=tmp_path, bin=login_bin, idp=idp, sts=sts, env=env, config=config, cache=cache)
    yield c
    leaks = c.secrets | sts.secrets()
    for err in c.stderrs:
        for s in leaks:
            assert s not in err, f"a secret ({len(s)} chars) appeared on stderr:\n{err}"
        assert not JWT_IN_TEXT.search(err), f"a JWT appeared on stderr:\n{err}"
        # Device codes, authorization codes, refresh and access tokens are opaque words; the
        # authorization URL (state, nonce, PKCE challenge: not secrets) is the only exception.
        rest = "\n".join(l for l in err.splitlines() if not BROWSER_LINE.match(l))
        assert not opaque_secrets_in(rest), f"something secret-shaped on stderr:\n{err}"


# ------------------------------------------------------------------------ logins


class Background:
    """aws-oidc in the background with stderr read line by line (a thread), stdout kept."""

    def __init__(self, c: Ctx, args: list[str]):
        self.c = c
        self.args = args
        self.proc = subprocess.Popen([c.bin, *args], env=c.env, cwd=c.tmp, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.err: list[str] = []
        self.out: list[str] = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t_out = threading.Thread(target=lambda: self.out.append(self.proc.stdout.read()),
                                      daemon=True)
        self.t.start()
        self.t_out.start()

    def _read(self):
        for line in self.proc.stderr:
            self.err.append(line)
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, pattern: re.Pattern, timeout: float = 10) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            m = pattern.match(line)
            if m:
                return m
        raise AssertionError(f"aws-oidc {' '.join(self.args)}: no line matching {pattern.pattern!r} "
                             f"within {timeout} s (exit {self.proc.poll()}); stderr so far:\n"
                             + "".join(self.err))

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) after waiting at most `timeout` s for the exit."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"aws-oidc {' '.join(self.args)} still running after {timeout} s; "
                                 "stderr so far:\n" + "".join(self.err)) from None
        self.t.join(timeout=5)
        self.t_out.join(timeout=5)
        out = "".join(self.out)
        err = "".join(self.err)
        self.c.stderrs.append(err)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        self.t.join(timeout=5)
        self.t_out.join(timeout=5)


def check_success_line(c: Ctx, err: str) -> str:
    lines = [m for m in (SUCCESS_LINE.match(l) for l in err.splitlines()) if m]
    assert len(lines) == 1, f"no single `aws-oidc: logged in to {PROVIDER} as …` line:\n{err}"
    who, where = lines[0].groups()
    assert who == EMAIL, f"logged in as {who!r}, want {EMAIL!r}"
    path = c.token_file()
    assert str(path.parent) in where, f"`tokens kept in {where}` does not name {path.parent}"
    return where


def device_login(c: Ctx) -> str:
    """`login --device` in the background, completed by the driver; returns its stderr."""
    bg = Background(c, c.with_provider("login", "--device"))
    try:
        m = bg.wait_line(DEVICE_LINE, timeout=15)
        uri, code = m.groups()
        assert uri == c.idp.issuer + "/device", uri
        complete = bg.wait_line(DEVICE_COMPLETE_LINE, timeout=5).group(1)
        assert complete.startswith(c.idp.issuer + "/device?") and code in complete, complete
        c.idp.complete_device(code)
        t0 = time.monotonic()
        # oidc-provider sends no `interval`: clients poll every 5 s (RFC 8628 default).
        rc, out, err = bg.finish(timeout=12)
        took = time.monotonic() - t0
    finally:
        bg.kill()
    assert rc == 0, f"login --device exited {rc}\nstdout:\n{out}\nstderr:\n{err}"
    assert out == "", f"login wrote to stdout:\n{out}"
    assert took < 11, f"login took {took:.1f} s after the approval"
    c.stored()                      # remember the stored tokens as secrets
    check_success_line(c, err)
    return err


def browser_login(c: Ctx) -> str:
    cmd = " ".join(c.idp.browser_command)
    p = c.run(c.with_provider("login", "--browser", "--browser-command", cmd), check=False,
              timeout=30)
    assert p.returncode == 0, f"login --browser exited {p.returncode}\nstdout:\n{p.stdout}\n" \
                              f"stderr:\n{p.stderr}"
    assert p.stdout == "", f"login wrote to stdout:\n{p.stdout}"
    urls = [m.group(1) for m in (BROWSER_LINE.match(l) for l in p.stderr.splitlines()) if m]
    assert len(urls) == 1 and urls[0].startswith(c.idp.issuer + "/auth?"), \
        f"no single `aws-oidc: to sign in, open <authorization URL>` line:\n{p.stderr}"
    c.stored()
    check_success_line(c, p.stderr)
    return p.stderr


def check_cp_doc(c: Ctx, stdout: str) -> dict:
    """One credential_process document: exactly what the fake STS issued, for the provider's
    role and the account's email as the session name."""
    doc = json.loads(stdout)
    assert set(doc) == CP_KEYS, sorted(doc)
    assert doc["Version"] == 1
    rec = c.sts.record(doc["AccessKeyId"])
    assert doc["SecretAccessKey"] == rec["secret"]
    assert doc["SessionToken"] == rec["token"]
    assert (rec["role_arn"], rec["session"]) == (ROLE_ARN, EMAIL), rec
    assert doc["AccountId"] == ACCOUNT
    assert parse_rfc3339(doc["Expiration"]).timestamp() == rec["expires"]
    return doc


def check_sts_call(c: Ctx, akid: str) -> dict:
    """The AssumeRoleWithWebIdentity that issued `akid`: a token the fake STS verified against
    the provider's JWKS, with aud aws-cli and iss the provider."""
    calls = c.sts.calls(action="AssumeRoleWithWebIdentity", issued=akid)
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["error"] is None
    assert call["iss"] == c.idp.issuer, call
    assert call["aud"] == c.idp.client_id or call["aud"] == [c.idp.client_id], call
    assert call.get("alg") == "RS256", f"the fake STS did not verify the signature: {call}"
    assert call["session"] == EMAIL and call["role_arn"] == ROLE_ARN, call
    return call


def wait_until(epoch: float) -> None:
    left = epoch - time.time()
    if left > 0:
        time.sleep(left)


def check_needs_login(p: subprocess.CompletedProcess, what: str, took: float | None = None) -> None:
    assert p.returncode == 3, f"{what}: exit {p.returncode}, want 3\nstdout:\n{p.stdout}\n" \
                              f"stderr:\n{p.stderr}"
    assert LOGIN_HINT in p.stderr, f"{what}: stderr does not say `{LOGIN_HINT}`:\n{p.stderr}"
    assert p.stdout == "", f"{what}: stdout is not empty:\n{p.stdout}"
    if took is not None:
        assert took < 2, f"{what} took {took:.2f} s (must not wait)"


# ------------------------------------------------------------------------ tests


def test_device_login_stores_tokens_privately_and_keeps_secrets_off_stderr(ctx):
    err = device_login(ctx)
    # No device code, refresh or access token (opaque 43-character words), no ID token.
    assert not JWT_IN_TEXT.search(err), err
    assert not opaque_secrets_in(err), f"something secret-shaped on stderr:\n{err}"
    st = ctx.stored()
    for s in (st["id_token"], st["refresh_token"]):
        assert s and s not in err
    path = st["path"]
    assert path.is_relative_to(ctx.cache), path
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    assert stat.S_ISREG(os.lstat(path).st_mode) and mode == 0o600, f"{path}: {oct(mode)}"
    dmode = stat.S_IMODE(os.stat(path.parent).st_mode)
    assert dmode == 0o700, f"{path.parent}: {oct(dmode)}"
    # What a later command needs: the provider's ID token (verified) and a refresh token.
    claims = ctx.id_claims()
    assert claims["iss"] == ctx.idp.issuer and claims["aud"] == ctx.idp.client_id
    assert claims["email"] == EMAIL
    assert ctx.idp.introspect(ctx.refresh_token())["active"] is True


def test_assume_with_the_provider_after_a_device_login(ctx):
    device_login(ctx)
    p = ctx.run(ctx.with_provider("assume", "--output", "json"))
    doc = check_cp_doc(ctx, p.stdout)
    call = check_sts_call(ctx, doc["AccessKeyId"])
    assert call["sub"] == ctx.idp.account["sub"]


def test_browser_login_then_credential_process(ctx):
    browser_login(ctx)
    p = ctx.run(ctx.with_provider("credential-process"))
    doc = check_cp_doc(ctx, p.stdout)
    check_sts_call(ctx, doc["AccessKeyId"])
    # No refresh: the token just obtained is used as it is.
    assert ctx.refresh_grants() == []


def test_refresh_is_serialized_and_the_grant_survives(ctx):
    # 6 s ID tokens: margin min(60, 6/2) = 3 s.
    ctx.idp.configure(id_token_ttl=6)
    browser_login(ctx)
    first = ctx.stored()
    exp1 = jwt_parts(first["id_token"])[1]["exp"]
    # The next ID token lives 4 s (margin 2 s), so it is soon due again.
    ctx.idp.configure(id_token_ttl=4)
    wait_until(exp1 - 3 + 0.4)            # inside the margin, not expired yet
    assert time.time() < exp1
    mark = len(ctx.idp.token_requests())
    p = ctx.run(ctx.with_provider("credential-process", "--no-cache"))
    doc = check_cp_doc(ctx, p.stdout)
    grants = ctx.refresh_grants(mark)
    assert [g["status"] for g in grants] == [200], grants
    call = check_sts_call(ctx, doc["AccessKeyId"])
    second = ctx.stored()
    exp2 = jwt_parts(second["id_token"])[1]["exp"]
    assert exp2 > exp1, "the refreshed ID token was not stored"
    assert call["token_exp"] == exp2, "STS got another token than the refreshed, stored one"
    assert second["refresh_token"] != first["refresh_token"], "the rotated refresh token was not saved"
    assert ctx.idp.introspect(first["refresh_token"])["active"] is False
    assert ctx.idp.introspect(second["refresh_token"])["active"] is True

    # 20 at once once that token has expired: exactly one refresh (the lock), all succeed.
    ctx.idp.configure(id_token_ttl=60)    # the one refreshed token then lasts the whole burst
    wait_until(exp2 + 0.2)
    mark = len(ctx.idp.token_requests())
    sts_mark = ctx.sts.mark()
    args = [ctx.bin, *ctx.with_provider("credential-process", "--no-cache")]
    procs = [subprocess.Popen(args, env=ctx.env, cwd=ctx.tmp, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(20)]
    results = []
    try:
        for pr in procs:
            out, err = pr.communicate(timeout=30)
            results.append((pr.returncode, out, err))
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait(timeout=5)
    ctx.stderrs.extend(err for _, _, err in results)
    failed = [(rc, err) for rc, _, err in results if rc != 0]
    assert not failed, f"{len(failed)} of 20 failed; first: exit {failed[0][0]}\n{failed[0][1]}"
    for _, out, _ in results:
        check_cp_doc(ctx, out)
    grants = ctx.refresh_grants(mark)
    assert [g["status"] for g in grants] == [200], \
        f"20 parallel credential-process made {len(grants)} refreshes: {grants}"
    third = ctx.stored()
    exp3 = jwt_parts(third["id_token"])[1]["exp"]
    assert exp3 > exp2
    calls = ctx.sts.calls(action="AssumeRoleWithWebIdentity", since=sts_mark)
    assert len(calls) == 20 and all(cl["error"] is None for cl in calls), calls
    assert {cl["token_exp"] for cl in calls} == {exp3}, "some STS call got a stale ID token"

    # The grant survives: the stored refresh token is the live one, and a later run works.
    assert ctx.idp.introspect(third["refresh_token"])["active"] is True
    p = ctx.run(ctx.with_provider("credential-process", "--no-cache"))
    check_cp_doc(ctx, p.stdout)
    assert not [t for t in ctx.idp.token_requests() if t.get("error") == "invalid_grant"]


def test_credential_process_without_login_exits_3_at_once(ctx):
    t0 = time.monotonic()
    p = ctx.run(ctx.with_provider("credential-process"), check=False, timeout=10)
    check_needs_login(p, "credential-process without a login", time.monotonic() - t0)
    assert ctx.token_files() == []


def test_invalid_grant_asks_to_log_in_again(ctx):
    ctx.idp.configure(id_token_ttl=4)     # margin 2 s
    browser_login(ctx)
    st = ctx.stored()
    # The refresh token is used behind aws-oidc's back: the stored one is now spent.
    status, out = ctx.idp.refresh(st["refresh_token"])
    assert status == 200, out
    ctx.secrets.update(v for k, v in out.items() if k.endswith("token") and isinstance(v, str))
    wait_until(jwt_parts(st["id_token"])[1]["exp"] - 2 + 0.3)
    mark = len(ctx.idp.token_requests())
    sts_mark = ctx.sts.mark()
    t0 = time.monotonic()
    p = ctx.run(ctx.with_provider("assume", "--output", "json"), check=False, timeout=20)
    check_needs_login(p, "assume with a spent refresh token")
    assert time.monotonic() - t0 < 5
    grants = ctx.refresh_grants(mark)
    assert [(g["status"], g["error"]) for g in grants] == [(400, "invalid_grant")], grants
    # And again (the login is unusable for good, not just once).
    p = ctx.run(ctx.with_provider("assume", "--output", "json"), check=False, timeout=20)
    check_needs_login(p, "assume after invalid_grant")
    assert ctx.sts.calls(action="AssumeRoleWithWebIdentity", since=sts_mark) == []


def test_logout_removes_the_tokens(ctx):
    browser_login(ctx)
    st = ctx.stored()
    # Credentials cached from this login (credential-process's cache) go with it.
    creds = json.loads(ctx.run(ctx.with_provider("credential-process")).stdout)
    cached = [f for f in ctx.cache.rglob("*.json") if creds["SecretAccessKey"] in f.read_text()]
    assert len(cached) == 1, cached
    p = ctx.run(ctx.with_provider("logout"))
    assert not cached[0].exists(), "credentials cached from the login survived logout"
    assert p.stdout == ""
    assert not st["path"].exists(), f"{st['path']} is still there after logout"
    assert ctx.token_files() == []
    for f in (x for x in ctx.cache.rglob("*") if x.is_file()):
        assert st["refresh_token"] not in f.read_text(errors="replace"), f"refresh token left in {f}"
    # oidc-provider offers revocation: the refresh token is dead.
    assert ctx.idp.introspect(st["refresh_token"])["active"] is False
    t0 = time.monotonic()
    p = ctx.run(ctx.with_provider("credential-process"), check=False, timeout=10)
    check_needs_login(p, "credential-process after logout", time.monotonic() - t0)
    # Logging out again: nothing to do, still exit 0.
    ctx.run(ctx.with_provider("logout"))


def test_awscli_and_boto3_through_a_credential_process_profile(ctx):
    device_login(ctx)
    aws_dir = Path(ctx.env["AWS_CONFIG_FILE"]).parent
    aws_dir.mkdir(parents=True, exist_ok=True)
    cmd = " ".join(shlex.quote(a) for a in [ctx.bin, "credential-process", "--provider", PROVIDER,
                                            "--config", str(ctx.config)])
    Path(ctx.env["AWS_CONFIG_FILE"]).write_text(
        f"[profile dev]\ncredential_process = {cmd}\nregion = {REGION}\n")
    mark = ctx.sts.mark()
    p = aws_cli(["sts", "get-caller-identity", "--profile", "dev", "--output", "json"], ctx.env)
    ctx.stderrs.append(p.stderr)
    assert p.returncode == 0, f"aws sts get-caller-identity failed ({p.returncode}):\n{p.stderr}"
    ident = json.loads(p.stdout)
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{EMAIL}"
    assert ident["Arn"] == arn and ident["Account"] == ACCOUNT, ident
    b = boto3_identity(ctx.env, profile="dev")
    assert b["identity"]["Arn"] == arn
    ctx.secrets.update((b["secret_key"], b["token"]))
    web = ctx.sts.calls(action="AssumeRoleWithWebIdentity", since=mark, ok=True)
    assert web, "no AssumeRoleWithWebIdentity reached the fake STS"
    for call in web:
        check_sts_call(ctx, call["issued"])
    gci = ctx.sts.calls(action="GetCallerIdentity", since=mark, ok=True)
    assert len(gci) == 2, gci


def test_credential_process_login_auto_signs_in_on_the_terminal(ctx):
    """`credential-process --login auto` without a login: the sign-in talks on the terminal
    (/dev/tty: SDKs hide stderr), and the credentials follow on stdout; stderr stays quiet."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in ctx.env.items() if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")}
    p = subprocess.Popen([ctx.bin, *ctx.with_provider("credential-process", "--login", "auto",
                                                      "--no-cache")],
                         env=env, cwd=ctx.tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=controlling_terminal, pass_fds=(slave,))
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 15
        code = None
        while time.monotonic() < deadline and code is None:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            seen += chunk
            m = re.search(rb"enter the code (\S+)", seen)
            if m:
                code = m.group(1).decode()
        assert code, f"no device code on the terminal:\n{seen.decode(errors='replace')}"
        ctx.idp.complete_device(code)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
        os.close(master)
    ctx.stderrs.append(err.decode())
    assert p.returncode == 0, err.decode()
    doc = json.loads(out)
    assert doc["Version"] == 1 and doc["AccessKeyId"].startswith("ASIA"), doc
    assert b"enter the code" not in err, "the sign-in talked on stderr, which SDKs hide"
    # The login is kept: the next call needs no terminal.
    ctx.run(ctx.with_provider("credential-process", "--no-cache"))


def test_quick_login_with_issuer_and_client_id_saves_the_provider(ctx):
    """`login --issuer URL --client-id ID` without a configuration: the sign-in works, then the
    provider is saved (0600) so `--provider` finds it; a failed sign-in saves nothing."""
    cfg = ctx.tmp / "fresh" / "config.yaml"
    cmd = " ".join(ctx.idp.browser_command)
    base = ["login", "--provider", "quick", "--config", str(cfg), "--issuer", ctx.idp.issuer,
            "--client-id", ctx.idp.client_id, "--browser", "--browser-command"]
    # A browser that refuses: nothing saved.
    p = ctx.run(base + [cmd + " --deny"], check=False, timeout=30)
    assert p.returncode != 0 and not cfg.exists(), (p.returncode, p.stderr)
    p = ctx.run(base + [cmd], timeout=30)
    assert "provider quick saved in" in p.stderr, p.stderr
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    text = cfg.read_text()
    assert "quick:" in text and ctx.idp.issuer in text, text
    out = ctx.run(["credential-process", "--provider", "quick", "--config", str(cfg),
                   "--role-arn", ROLE_ARN, "--no-cache"]).stdout
    assert json.loads(out)["Version"] == 1
