"""Many roles in one run (issue 6): `assume --config targets.yml [--target NAME ...]` and
repeated `--role-arn`. One token fetch, concurrent STS calls (bounded by
--concurrency), per-target outputs with the `{target}` placeholder, a result
line per target, nothing written for a failed target, exit 2 with the line
number for a bad config.

STS: moto (credentials consumed by awscli per profile), and the fake STS of
fake_sts.py where a refusal ("deny" in the role name) or latency is needed.
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ACCOUNT, CHAIN_ACCOUNT, CHAIN_ROLE, CHAIN_ROLE_ARN, JWT_IN_TEXT, ROLE, ROLE_ARN, _base_env
from fake_sts import fake_sts_server, sts  # noqa: F401  (fixtures)
from support import PROC_TIMEOUT, aws_cli, parse_gitlab_dotenv

STAGING_ACCOUNT = "111111111111"
DEPLOY_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/deploy"
STAGING_ROLE_ARN = f"arn:aws:iam::{STAGING_ACCOUNT}:role/deploy-staging"

THREE_TARGETS = f"""\
# Deploy targets for the pipeline.
defaults:
  region: eu-west-1
  duration: 3600
  session_name: ci-deploy
targets:
  prod:
    role_arn: {DEPLOY_ROLE_ARN}
    region: us-east-1
  staging:
    role_arn: {STAGING_ROLE_ARN}
    duration: 1800
  cross:
    role_arn: {ROLE_ARN}
    chain_role_arn: {CHAIN_ROLE_ARN}      # second hop, another account
    external_id: ext-123
    outputs: ["profile=cross", "env={{target}}.env"]
"""


@dataclass
class Run:
    tmp: Path
    env: dict[str, str]
    bin: str
    issuer: object
    stderrs: list[str] = field(default_factory=list)

    @property
    def creds_file(self) -> Path:
        return Path(self.env["AWS_SHARED_CREDENTIALS_FILE"])

    @property
    def config_file(self) -> Path:
        return Path(self.env["AWS_CONFIG_FILE"])

    def run(self, args, *, env=None, check=True) -> subprocess.CompletedProcess:
        p = subprocess.run([self.bin, *args], env={**self.env, **(env or {})}, cwd=self.tmp,
                           capture_output=True, text=True, timeout=PROC_TIMEOUT)
        self.stderrs.append(p.stderr)
        if check and p.returncode != 0:
            raise AssertionError(f"aws-oidc {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def write(self, name: str, text: str) -> Path:
        p = self.tmp / name
        p.write_text(text)
        return p


def _make_run(tmp_path, aws_oidc_bin, issuer, endpoint: str) -> Run:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    env = {
        **_base_env(),
        "HOME": str(home),
        "AWS_ENDPOINT_URL_STS": endpoint,
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_OIDC_RETRY_BASE_DELAY_MS": "10",
        # GitHub source: every token fetch is visible in the issuer's request log.
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "octo-org/demo",
        "GITHUB_RUN_ID": "9876543210",
        "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issuer.request_token,
    }
    return Run(tmp=tmp_path, env=env, bin=aws_oidc_bin, issuer=issuer)


def _check_stderr(r: Run, secrets: set[str]) -> None:
    secrets = secrets | {r.issuer.request_token}
    for err in r.stderrs:
        for s in secrets:
            assert s not in err, f"a secret ({len(s)} chars) appeared on stderr:\n{err}"
        assert not JWT_IN_TEXT.search(err), f"a JWT appeared on stderr:\n{err}"


@pytest.fixture
def mrun(tmp_path, aws_oidc_bin, issuer, moto):
    """A job whose STS is moto."""
    r = _make_run(tmp_path, aws_oidc_bin, issuer, moto.url)
    r.moto = moto
    yield r
    _check_stderr(r, {v for x in moto.assumed_roles()
                      for v in (x["secret_access_key"], x["session_token"])})


@pytest.fixture
def frun(tmp_path, aws_oidc_bin, issuer, sts):
    """A job whose STS is the fake (refusals, latency, in-flight counting)."""
    sts.configure(lifetime=900)
    r = _make_run(tmp_path, aws_oidc_bin, issuer, sts.url)
    r.sts = sts
    yield r
    _check_stderr(r, sts.secrets())


def require_targets(r: Run) -> None:
    p = subprocess.run([r.bin, "assume", "--help"], capture_output=True, text=True, timeout=30)
    for flag in ("--config", "--target", "--concurrency"):
        if flag not in p.stdout:
            pytest.fail(f"feature missing: `{flag}` not in `aws-oidc assume --help`")


def sections(path: Path) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None, strict=True)
    if path.exists():
        cfg.read(path)
    return cfg


def target_lines(stderr: str, name: str) -> list[str]:
    return [l for l in stderr.splitlines() if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", l)]


def issued_for_profile(r: Run, profile: str) -> dict:
    sec = sections(r.creds_file)[profile]
    return r.moto.issued(sec["aws_access_key_id"])


def awscli_arn(r: Run, profile: str | None = None, extra_env: dict | None = None) -> str:
    env = {**_base_env(), "HOME": r.env["HOME"], "AWS_ENDPOINT_URL_STS": r.env["AWS_ENDPOINT_URL_STS"],
           "AWS_CONFIG_FILE": r.env["AWS_CONFIG_FILE"],
           "AWS_SHARED_CREDENTIALS_FILE": r.env["AWS_SHARED_CREDENTIALS_FILE"], **(extra_env or {})}
    args = ["sts", "get-caller-identity", "--output", "json"] + (["--profile", profile] if profile else [])
    p = aws_cli(args, env)
    assert p.returncode == 0, f"aws {' '.join(args)}:\n{p.stderr}"
    return json.loads(p.stdout)["Arn"]


def arn(account: str, role: str, session: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


# ----------------------------------------------------------------------- config


def test_config_three_targets(mrun):
    """Three targets (one chained with an external id), one token fetch; each gets its
    outputs (default profile=<name>; {target} in paths), its region, its duration, and a
    result line on stderr; awscli works with every profile."""
    r = mrun
    require_targets(r)
    cfg = r.write("targets.yml", THREE_TARGETS)
    before = len(r.issuer.requests())
    p = r.run(["assume", "--config", str(cfg)])
    assert len(r.issuer.requests()) - before == 1, "the ID token was fetched more than once"

    creds, conf = sections(r.creds_file), sections(r.config_file)
    assert {"prod", "staging", "cross"} <= set(creds.sections()), creds.sections()
    assert conf["profile prod"]["region"] == "us-east-1"
    assert conf["profile staging"]["region"] == "eu-west-1"
    assert conf["profile cross"]["region"] == "eu-west-1"

    prod, staging, cross = (issued_for_profile(r, n) for n in ("prod", "staging", "cross"))
    assert (prod["role_arn"], prod["session_name"]) == (DEPLOY_ROLE_ARN, "ci-deploy")
    assert (staging["role_arn"], staging["session_name"]) == (STAGING_ROLE_ARN, "ci-deploy")
    assert (cross["role_arn"], cross["external_id"]) == (CHAIN_ROLE_ARN, "ext-123")
    assert any(x["role_arn"] == ROLE_ARN and x["session_name"] == "ci-deploy"
               for x in r.moto.assumed_roles()), "the first hop of `cross` never happened"

    env_cross = parse_gitlab_dotenv((r.tmp / "cross.env").read_bytes())
    assert env_cross["AWS_ACCESS_KEY_ID"] == creds["cross"]["aws_access_key_id"]
    assert not (r.tmp / "prod.env").exists() and not (r.tmp / "{target}.env").exists()

    assert awscli_arn(r, "prod") == arn(ACCOUNT, "deploy", "ci-deploy")
    assert awscli_arn(r, "staging") == arn(STAGING_ACCOUNT, "deploy-staging", "ci-deploy")
    assert awscli_arn(r, "cross") == arn(CHAIN_ACCOUNT, CHAIN_ROLE, "ci-deploy")

    for name in ("prod", "staging", "cross"):
        assert target_lines(p.stderr, name), f"no result line for target {name!r}:\n{p.stderr}"


def test_config_duration_per_target(frun):
    """defaults.duration applies, a target's own duration wins (as sent to STS)."""
    r = frun
    require_targets(r)
    cfg = r.write("targets.yml", THREE_TARGETS.replace(ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:role/first"))
    start = r.sts.mark()
    r.run(["assume", "--config", str(cfg)])
    calls = r.sts.calls(since=start)
    by_role = {x["role_arn"]: x for x in calls if x["error"] is None}
    assert by_role[DEPLOY_ROLE_ARN]["duration"] == "3600"
    assert by_role[STAGING_ROLE_ARN]["duration"] == "1800"
    assert by_role[CHAIN_ROLE_ARN]["external_id"] == "ext-123"
    assert by_role[CHAIN_ROLE_ARN]["action"] == "AssumeRole"
    assert len([x for x in calls if x["action"] == "AssumeRoleWithWebIdentity"]) == 3


def test_config_target_selection(mrun):
    """--target picks targets by name; an unknown name is a usage error (exit 2)."""
    r = mrun
    require_targets(r)
    cfg = r.write("targets.yml", THREE_TARGETS)
    p = r.run(["assume", "--config", str(cfg), "--target", "prod", "--target", "cross"])
    names = set(sections(r.creds_file).sections())
    assert {"prod", "cross"} <= names and "staging" not in names, names
    assert not target_lines(p.stderr, "staging"), p.stderr

    r.creds_file.unlink()
    bad = r.run(["assume", "--config", str(cfg), "--target", "nope"], check=False)
    assert bad.returncode == 2, (bad.returncode, bad.stderr)
    assert "nope" in bad.stderr
    assert not r.creds_file.exists()


def test_repeated_role_arn_placeholder(mrun):
    """--role-arn A --role-arn B: target names are the role names; {target} in outputs."""
    r = mrun
    require_targets(r)
    alpha, beta = f"arn:aws:iam::{ACCOUNT}:role/alpha", f"arn:aws:iam::{STAGING_ACCOUNT}:role/beta"
    before = len(r.issuer.requests())
    p = r.run(["assume", "--role-arn", alpha, "--role-arn", beta, "--session-name", "multi-role",
               "--region", "us-east-1", "--output", "env={target}.env", "--output", "profile=ci-{target}"])
    assert len(r.issuer.requests()) - before == 1
    for name, role_arn, account in (("alpha", alpha, ACCOUNT), ("beta", beta, STAGING_ACCOUNT)):
        v = parse_gitlab_dotenv((r.tmp / f"{name}.env").read_bytes())
        rec = r.moto.issued(v["AWS_ACCESS_KEY_ID"])
        assert (rec["role_arn"], rec["session_name"]) == (role_arn, "multi-role")
        assert rec["secret_access_key"] == v["AWS_SECRET_ACCESS_KEY"]
        assert awscli_arn(r, extra_env={k: v[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                       "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION")}) \
            == arn(account, name, "multi-role")
        assert awscli_arn(r, f"ci-{name}") == arn(account, name, "multi-role")
        assert target_lines(p.stderr, name), p.stderr


# ------------------------------------------------------------------ config errors


def _bad(template: str, marker: str) -> tuple[str, int]:
    lines = template.splitlines()
    n = next(i for i, l in enumerate(lines, 1) if marker in l)
    return template, n


BAD_CONFIGS = {
    "bad-arn": f"""\
defaults:
  region: eu-west-1
targets:
  ok:
    role_arn: {DEPLOY_ROLE_ARN}
  broken:
    role_arn: arn:aws:iam::12345:role/deploy
""",
    "unknown-key": f"""\
targets:
  ok:
    role_arn: {DEPLOY_ROLE_ARN}
    rolearn_typo: {DEPLOY_ROLE_ARN}
""",
    "wrong-type": f"""\
defaults:
  duration: soon
targets:
  ok:
    role_arn: {DEPLOY_ROLE_ARN}
""",
    "unknown-default": f"""\
defaults:
  regoin: eu-west-1
targets:
  ok:
    role_arn: {DEPLOY_ROLE_ARN}
""",
    "duration-range": f"""\
targets:
  ok:
    role_arn: {DEPLOY_ROLE_ARN}
  short:
    role_arn: {DEPLOY_ROLE_ARN}
    duration: 60
""",
}
BAD_MARKERS = {"bad-arn": "12345:", "unknown-key": "rolearn_typo", "wrong-type": "soon",
               "unknown-default": "regoin", "duration-range": "duration: 60"}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_config_error_exit_2_with_line(mrun, case):
    r = mrun
    require_targets(r)
    text, line = _bad(BAD_CONFIGS[case], BAD_MARKERS[case])
    cfg = r.write("targets.yml", text)
    issued = len(r.moto.assumed_roles())
    p = r.run(["assume", "--config", str(cfg), "--output", "env={target}.env"], check=False)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert re.search(rf"(\bline {line}\b|\.yml:{line}\b)", p.stderr), \
        f"{case}: line {line} not named in:\n{p.stderr}"
    assert len(r.moto.assumed_roles()) == issued, "STS was called despite a config error"
    assert not list(r.tmp.glob("*.env")) and not r.creds_file.exists()


# ------------------------------------------------------------ partial failure


def test_refused_target_others_written(frun):
    """STS refuses one target (AccessDenied): non-zero exit, the other targets' files are
    written, none for the refused one, and stderr has a result line for each target."""
    r = frun
    require_targets(r)
    cfg = r.write("targets.yml", f"""\
defaults:
  session_name: partial
  region: us-east-1
targets:
  good1:
    role_arn: arn:aws:iam::{ACCOUNT}:role/app
    outputs: ["env={{target}}.env"]
  bad:
    role_arn: arn:aws:iam::{ACCOUNT}:role/deny-me
    outputs: ["env={{target}}.env", "profile=bad"]
  good2:
    role_arn: arn:aws:iam::{ACCOUNT}:role/app2
    chain_role_arn: {CHAIN_ROLE_ARN}
    outputs: ["env={{target}}.env"]
""")
    p = r.run(["assume", "--config", str(cfg)], check=False)
    assert p.returncode != 0, p.stderr
    assert p.returncode == 4, f"want 4 (refused), got {p.returncode}:\n{p.stderr}"
    for name, role in (("good1", "app"), ("good2", CHAIN_ROLE)):
        v = parse_gitlab_dotenv((r.tmp / f"{name}.env").read_bytes())
        rec = r.sts.record(v["AWS_ACCESS_KEY_ID"])
        assert rec["role"] == role and rec["secret"] == v["AWS_SECRET_ACCESS_KEY"]
    assert not (r.tmp / "bad.env").exists()
    assert "bad" not in sections(r.creds_file).sections()
    for name in ("good1", "good2", "bad"):
        assert target_lines(p.stderr, name), f"no result line for {name}:\n{p.stderr}"
    bad_lines = target_lines(p.stderr, "bad")
    assert any("AccessDenied" in l or "denied" in l.lower() for l in bad_lines) or \
        "AccessDenied" in p.stderr, p.stderr
    for name in ("good1", "good2"):
        assert not any(re.search(r"(?i)\b(fail|error|denied)", l) for l in target_lines(p.stderr, name)), \
            f"{name} reported as failed:\n{p.stderr}"


# ------------------------------------------------------------------- concurrency


def _many(n: int) -> str:
    body = "".join(f"  t{i:02d}:\n    role_arn: arn:aws:iam::{ACCOUNT}:role/r{i:02d}\n"
                   f"    outputs: [\"env={{target}}.env\"]\n" for i in range(n))
    return f"defaults:\n  session_name: many\n  region: us-east-1\ntargets:\n{body}"


def test_concurrency_bound(frun):
    """--concurrency 3 keeps at most 3 STS calls in flight (and uses 3); the default (32)
    runs 10 targets in one wave, not ten: 0.5 s of STS latency makes the run about
    0.5 s slower than without latency, far from the 5 s of one call at a time."""
    r = frun
    require_targets(r)
    cfg = r.write("many.yml", _many(10))
    r.sts.configure(latency=0.3)
    r.sts.reset_inflight()
    before = len(r.issuer.requests())
    r.run(["assume", "--config", str(cfg), "--concurrency", "3"])
    assert r.sts.max_inflight == 3, f"max in flight {r.sts.max_inflight} with --concurrency 3"
    assert len(r.issuer.requests()) - before == 1

    def timed() -> float:
        t0 = time.monotonic()
        r.run(["assume", "--config", str(cfg)])
        return time.monotonic() - t0

    r.sts.configure(latency=0)
    base = min(timed() for _ in range(2))          # aws-oidc's own cost for 10 targets
    r.sts.configure(latency=0.5)
    r.sts.reset_inflight()
    slow = timed()
    assert r.sts.max_inflight == 10, f"max in flight {r.sts.max_inflight} with the default (32)"
    added = slow - base
    assert added < 10 * 0.5 / 2, \
        f"0.5 s STS latency added {added:.2f}s to 10 targets (sequential: 5 s; two waves: 1 s)"
    assert len(list(r.tmp.glob("t*.env"))) == 10
    print(f"\n[figures] 10 targets, default concurrency: {base:.2f}s without STS latency, "
          f"{slow:.2f}s with 0.5 s (+{added:.2f}s), max {r.sts.max_inflight} in flight")


def test_twenty_targets_go_in_one_wave(frun):
    """Issue 15: by default the 20 STS calls of 20 targets are all in flight at once (the
    former default, 8, took three waves: 8 + 8 + 4), with one token fetch. Counted by the
    fake STS, whose 0.3 s latency keeps every call open until the last has started; no
    timing is asserted."""
    r = frun
    require_targets(r)
    cfg = r.write("twenty.yml", _many(20))
    r.sts.configure(latency=0.3)
    r.sts.reset_inflight()
    before = len(r.issuer.requests())
    r.run(["assume", "--config", str(cfg)])
    assert r.sts.max_inflight == 20, \
        f"max {r.sts.max_inflight} STS calls in flight for 20 targets at the default concurrency"
    assert len(r.issuer.requests()) - before == 1, "one token fetch for every target"
    assert len(list(r.tmp.glob("t*.env"))) == 20


def test_one_token_per_audience(frun):
    """Targets in aws and aws-cn each get a token minted for their partition's audience
    (sts.amazonaws.com, sts.amazonaws.com.cn): one fetch per distinct audience, still one
    when all agree (issue 10, bug 4)."""
    r = frun
    require_targets(r)
    cn_role = f"arn:aws-cn:iam::{ACCOUNT}:role/deploy-cn"
    cfg = r.write("targets.yml", f"""\
targets:
  global:
    role_arn: {DEPLOY_ROLE_ARN}
  global2:
    role_arn: {STAGING_ROLE_ARN}
  china:
    role_arn: {cn_role}
""")
    before = len(r.issuer.requests())
    start = r.sts.mark()
    r.run(["assume", "--config", str(cfg)])
    fetched = r.issuer.requests()[before:]
    assert sorted(x["audience"] for x in fetched) == ["sts.amazonaws.com", "sts.amazonaws.com.cn"], fetched
    calls = {x["role_arn"]: x for x in r.sts.calls("AssumeRoleWithWebIdentity", since=start)}
    assert calls[DEPLOY_ROLE_ARN]["aud"] == "sts.amazonaws.com"
    assert calls[STAGING_ROLE_ARN]["aud"] == "sts.amazonaws.com"
    assert calls[cn_role]["aud"] == "sts.amazonaws.com.cn"
    # An explicit --audience is one audience for all: one fetch.
    before = len(r.issuer.requests())
    r.run(["assume", "--config", str(cfg), "--audience", "my-aud"])
    fetched = r.issuer.requests()[before:]
    assert [x["audience"] for x in fetched] == ["my-aud"], fetched


def test_session_policy_limits_the_final_credentials(frun):
    """--policy/--policy-arn scope the credentials the user gets: with --chain-role-arn they go
    on the chained AssumeRole (the first hop only has to be able to chain), and with
    --role-chaining on its AssumeRole instead of being dropped."""
    r = frun
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
    managed = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    start = r.sts.mark()
    p = r.run(["assume", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/first", "--chain-role-arn",
               CHAIN_ROLE_ARN, "--policy", policy, "--policy-arn", managed, "--output", "json"])
    calls = r.sts.calls(since=start)
    first = [x for x in calls if x["action"] == "AssumeRoleWithWebIdentity"]
    chained = [x for x in calls if x["action"] == "AssumeRole"]
    assert len(first) == 1 and len(chained) == 1, calls
    assert chained[0]["policy"] == policy and chained[0]["policy_arns"] == [managed], chained
    assert first[0]["policy"] is None and first[0]["policy_arns"] == [], first

    keys = json.loads(p.stdout)
    start = r.sts.mark()
    r.run(["assume", "--role-chaining", "--role-arn", CHAIN_ROLE_ARN, "--policy", policy,
           "--policy-arn", managed, "--output", "json"],
          env={"AWS_ACCESS_KEY_ID": keys["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
               "AWS_SESSION_TOKEN": keys["SessionToken"]})
    chained = r.sts.calls("AssumeRole", since=start)
    assert len(chained) == 1 and chained[0]["policy"] == policy, chained
    assert chained[0]["policy_arns"] == [managed], chained
