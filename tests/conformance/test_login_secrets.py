"""Canary (secret hygiene) for every interactive-login path (issue 13, "Security and secrets"):
nothing secret reaches stderr at any verbosity, nor stdout where a command prints no
credentials by contract (login, logout, token without --raw).

One scenario per verbosity (-v, -vv, -q, and -vv with RUST_LOG/AWS_OIDC_LOG=trace and
RUST_BACKTRACE=full), and one trace pass with the confidential client `aws-cli-secret`
(`client_secret:` in the config). aws-oidc's log level comes from -v/-vv/-q only (it
ignores RUST_LOG; dependencies stay silent), so the trace pass proves that too.

    login --device, logout, login --browser --browser-command <driver>,
    credential-process --provider (fresh, then cached), token --provider, assume --provider,
    credential-process --provider --no-cache once the ID token is inside the refresh margin
    (a refresh-token grant), token --provider again, logout

The secrets compared against are the real ones, taken from the provider's admin record of
every token-endpoint call (`/_admin/token_requests`: the form body sent, i.e. the
authorization code, the PKCE verifier, the device_code, the refresh token, client_secret
in the body or in `Authorization: Basic`, and the id/access/refresh tokens answered), from
the stored token file, and from the fake STS (secret keys, session tokens); plus any
JWT-shaped text. The authorization URL's `state`, `nonce` and `code_challenge` are not
secrets (they travel through the browser) and are not looked for.

The stored token file must never hold the authorization code, the verifier or the device_code.
A second test does the same over the failing paths (a denied device login, a refresh with a
spent refresh token, a refresh with a wrong client secret), where errors get echoed.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

import pytest

from conftest import JWT_IN_TEXT
from fake_sts import fake_sts_server, sts  # noqa: F401  (fixtures)
from idp import idp, idp_server, jwt_parts  # noqa: F401  (fixtures)
from test_login import (  # noqa: F401  (ctx and login_bin are fixtures)
    BROWSER_LINE, DEVICE_LINE, PROVIDER, ROLE_ARN, Background, Ctx, check_cp_doc, ctx,
    login_bin, wait_until,
)

TRACE_ENV = {"RUST_LOG": "trace", "AWS_OIDC_LOG": "trace", "RUST_BACKTRACE": "full"}

# (name, flags after the subcommand, extra environment, confidential client)
MODES = {
    "v": (["-v"], {}, False),
    "vv": (["-vv"], {}, False),
    "q": (["-q"], {}, False),
    "trace": (["-vv"], TRACE_ENV, False),
    "trace-secret-client": (["-vv"], TRACE_ENV, True),
}

# Form fields of a token call that are secrets (what the provider records it was sent).
FORM_SECRETS = ("code", "code_verifier", "device_code", "refresh_token", "client_secret",
                "client_assertion")
# Secrets that must never be in the token store.
NEVER_STORED = ("code", "code_verifier", "device_code")


@dataclass
class Output:
    what: str          # the command line, as the user typed it
    stream: str        # stderr / stdout
    text: str


class Canary:
    """Runs the commands of one scenario and keeps every output that must be secret-free."""

    def __init__(self, c: Ctx, flags: list[str], confidential: bool):
        self.c = c
        self.flags = flags
        self.confidential = confidential
        self.outputs: list[Output] = []
        self.stored_snapshots: list[tuple[str, str]] = []   # (after what, file text)

    def args(self, cmd: str, *extra: str) -> list[str]:
        return [cmd, *self.flags, "--provider", PROVIDER, "--config", str(self.c.config), *extra]

    def keep(self, args: list[str], stdout: str | None, stderr: str) -> None:
        what = "aws-oidc " + " ".join(args)
        self.outputs.append(Output(what, "stderr", stderr))
        if stdout is not None:
            self.outputs.append(Output(what, "stdout", stdout))

    def run(self, cmd: str, *extra: str, stdout_secret_free: bool, timeout: float = 30):
        args = self.args(cmd, *extra)
        p = self.c.run(args, check=False, timeout=timeout)
        self.keep(args, p.stdout if stdout_secret_free else None, p.stderr)
        assert p.returncode == 0, (f"aws-oidc {' '.join(args)} exited {p.returncode}\n"
                                   f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def snapshot_store(self, after: str) -> None:
        for dirpath, _, files in os.walk(self.c.cache):
            for f in files:
                path = os.path.join(dirpath, f)
                if not os.path.islink(path):
                    with open(path, errors="replace") as fh:
                        self.stored_snapshots.append((f"{after}: {path}", fh.read()))

    # -- the commands
    def device_login(self) -> None:
        args = self.args("login", "--device")
        bg = Background(self.c, args)
        try:
            m = bg.wait_line(DEVICE_LINE, timeout=15)
            self.c.idp.complete_device(m.group(2))
            rc, out, err = bg.finish(timeout=15)
        finally:
            bg.kill()
        self.keep(args, out, err)
        assert rc == 0, f"aws-oidc {' '.join(args)} exited {rc}\nstdout:\n{out}\nstderr:\n{err}"
        self.snapshot_store("after login --device")

    def browser_login(self) -> None:
        cmd = " ".join(self.c.idp.browser_command)
        p = self.run("login", "--browser", "--browser-command", cmd, stdout_secret_free=True)
        if "-q" not in self.flags:
            urls = [m.group(1) for m in (BROWSER_LINE.match(x) for x in p.stderr.splitlines()) if m]
            assert len(urls) == 1 and urls[0].startswith(self.c.idp.issuer + "/auth?"), p.stderr
        self.snapshot_store("after login --browser")


def write_config(c: Ctx, confidential: bool) -> None:
    client = c.idp.secret_client_id if confidential else c.idp.client_id
    secret = f"    client_secret: {c.idp.client_secret}\n" if confidential else ""
    c.config.write_text(
        "providers:\n"
        f"  {PROVIDER}:\n"
        f"    issuer: {c.idp.issuer}\n"
        f"    client_id: {client}\n"
        f"{secret}"
        "    scopes: [openid, email, offline_access]\n"
        "    extra_params: {prompt: consent}\n"
        f"    role_arn: {ROLE_ARN}\n")
    os.chmod(c.config, 0o600)


def harvest(c: Ctx, confidential: bool) -> dict[str, str]:
    """secret value -> what it is: everything the provider was sent and answered, the stored
    tokens, the STS secrets, the client secret."""
    out: dict[str, str] = {}
    for i, t in enumerate(c.idp.token_requests()):
        where = f"token call #{i} ({t['grant_type']}, HTTP {t['status']})"
        for k in FORM_SECRETS:
            v = (t.get("form") or {}).get(k)
            if isinstance(v, str) and v:
                out.setdefault(v, f"{k} sent in {where}")
        basic = t.get("basic_auth") or {}
        if basic.get("client_secret"):
            out.setdefault(basic["client_secret"], f"client_secret (Basic) in {where}")
        for k, v in (t.get("issued") or {}).items():
            out.setdefault(v, f"{k} answered by {where}")
    for v in c.secrets:                       # the stored tokens (Ctx.stored)
        out.setdefault(v, "a token from the token store")
    for v in c.sts.secrets():
        out.setdefault(v, "an STS secret key or session token")
    if confidential:
        out.setdefault(c.idp.client_secret, "client_secret (from the config)")
    return out


def output_leaks(k: Canary, secrets: dict[str, str]) -> list[str]:
    """One line per secret found in a kept output: the command, what secret, which stream."""
    leaks = []
    for o in k.outputs:
        for value, label in secrets.items():
            if value in o.text:
                leaks.append(f"{o.what}: {label} on {o.stream}")
        m = JWT_IN_TEXT.search(o.text)
        if m:
            leaks.append(f"{o.what}: JWT-shaped text on {o.stream}: {m.group(0)[:24]}…")
    return leaks


@pytest.mark.parametrize("mode", list(MODES))
def test_no_secret_on_stderr_or_stdout_on_any_login_path(ctx, mode):
    flags, extra_env, confidential = MODES[mode]
    c = ctx
    c.env.update(extra_env)
    client = c.idp.secret_client_id if confidential else c.idp.client_id
    c.sts.configure(lifetime=3600, identity_providers={
        c.idp.issuer: {"audiences": [c.idp.client_id, c.idp.secret_client_id]}})
    write_config(c, confidential)
    k = Canary(c, flags, confidential)

    # Device grant, then logout (revokes that grant's refresh token).
    k.device_login()
    c.stored()
    k.run("logout", stdout_secret_free=True)

    # Browser login with 8 s ID tokens (refresh margin min(60, 8/2) = 4 s).
    c.idp.configure(id_token_ttl=8)
    k.browser_login()
    c.stored()
    sts_mark = c.sts.mark()
    p = k.run("credential-process", stdout_secret_free=False)           # fresh
    first = check_cp_doc(c, p.stdout)
    p = k.run("credential-process", stdout_secret_free=False)           # cached
    assert check_cp_doc(c, p.stdout)["AccessKeyId"] == first["AccessKeyId"]
    assert len(c.sts.calls(action="AssumeRoleWithWebIdentity", since=sts_mark)) == 1, \
        "the second credential-process did not come from the cache"
    k.run("token", stdout_secret_free=True)
    k.run("assume", "--output", "json", stdout_secret_free=False)

    # Inside the margin: credential-process refreshes the ID token (refresh-token grant).
    c.idp.configure(id_token_ttl=3600)
    exp = jwt_parts(c.stored()["id_token"])[1]["exp"]
    wait_until(exp - 4 + 0.5)
    mark = len(c.idp.token_requests())
    p = k.run("credential-process", "--no-cache", stdout_secret_free=False)
    check_cp_doc(c, p.stdout)
    assert [g["status"] for g in c.refresh_grants(mark)] == [200], \
        f"no refresh happened: {c.idp.token_requests()[mark:]}"
    c.stored()
    k.snapshot_store("after the refresh")
    k.run("token", stdout_secret_free=True)
    k.run("logout", stdout_secret_free=True)

    # What was collected is what the scenario says (so that the leak check can fail).
    secrets = harvest(c, confidential)
    labels = set(secrets.values())
    for needed in ("code sent", "code_verifier sent", "device_code sent", "id_token answered",
                   "access_token answered", "refresh_token answered", "an STS secret"):
        assert any(x.startswith(needed) for x in labels), f"no {needed!r} captured: {sorted(labels)}"
    reqs = c.idp.token_requests()
    assert {t["client_id"] for t in reqs} == {client}, reqs
    if confidential:
        assert c.idp.client_secret in secrets

    leaks = output_leaks(k, secrets)
    for after, text in k.stored_snapshots:
        for value, label in secrets.items():
            if any(label.startswith(f"{n} sent") for n in NEVER_STORED) and value in text:
                leaks.append(f"token store {after}: holds the {label}")
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)
    # The fixture's own check (ctx teardown) runs too, over every stderr.
    c.secrets.update(secrets)


@pytest.mark.parametrize("mode", list(MODES))
def test_no_secret_on_stderr_on_failing_login_paths(ctx, mode):
    """Error messages are where a request body or a provider answer gets echoed: a denied
    device login, a refresh with a spent refresh token (invalid_grant), and with the
    confidential client a refresh with a wrong client secret (invalid_client)."""
    flags, extra_env, confidential = MODES[mode]
    c = ctx
    c.env.update(extra_env)
    client = c.idp.secret_client_id if confidential else c.idp.client_id
    c.sts.configure(lifetime=3600, identity_providers={
        c.idp.issuer: {"audiences": [c.idp.client_id, c.idp.secret_client_id]}})
    write_config(c, confidential)
    k = Canary(c, flags, confidential)

    # The user aborts the device login.
    args = k.args("login", "--device")
    bg = Background(c, args)
    try:
        m = bg.wait_line(DEVICE_LINE, timeout=15)
        c.idp.complete_device(m.group(2), deny=True)
        rc, out, err = bg.finish(timeout=15)
    finally:
        bg.kill()
    k.keep(args, out, err)
    assert rc != 0, f"a denied device login exited 0:\n{err}"

    # The stored refresh token is spent behind aws-oidc's back: the refresh fails.
    c.idp.configure(id_token_ttl=4)       # margin 2 s
    k.browser_login()
    st = c.stored()
    status, answer = c.idp.refresh(st["refresh_token"], client_id=client)
    assert status == 200, answer
    wait_until(jwt_parts(st["id_token"])[1]["exp"] - 2 + 0.3)
    args = k.args("assume", "--output", "json")
    p = c.run(args, check=False, timeout=30)
    k.keep(args, p.stdout, p.stderr)
    assert p.returncode == 3, f"exit {p.returncode}\n{p.stderr}"

    wrong = None
    if confidential:
        # Logged in again, then the configured client secret is wrong at the refresh.
        k.browser_login()
        st = c.stored()
        wrong = "wrong-Secret-" + os.urandom(16).hex()
        c.config.write_text(c.config.read_text().replace(c.idp.client_secret, wrong))
        wait_until(jwt_parts(st["id_token"])[1]["exp"] - 2 + 0.3)
        args = k.args("credential-process", "--no-cache")
        p = c.run(args, check=False, timeout=30)
        k.keep(args, p.stdout, p.stderr)
        assert p.returncode != 0, f"a refresh with a wrong client secret succeeded:\n{p.stderr}"
        reqs = [t for t in c.idp.token_requests() if t["grant_type"] == "refresh_token"]
        assert reqs and reqs[-1]["status"] == 401, reqs

    secrets = harvest(c, confidential)
    if wrong:
        secrets[wrong] = "the (wrong) client_secret from the config"
    labels = set(secrets.values())
    for needed in ("device_code sent", "code sent", "code_verifier sent", "refresh_token answered"):
        assert any(x.startswith(needed) for x in labels), f"no {needed!r} captured: {sorted(labels)}"
    leaks = output_leaks(k, secrets)
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)
    c.secrets.update(secrets)
