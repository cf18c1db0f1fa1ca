"""exec, role chaining, default session names, stderr hygiene and failure exits."""

from __future__ import annotations

import json
import re

from conftest import ACCOUNT, CHAIN_ACCOUNT, CHAIN_ROLE, CHAIN_ROLE_ARN, ROLE, ROLE_ARN, fake_issuer
from support import (
    assert_identity,
    assert_issued_by_moto,
    awscli_identity,
    boto3_identity,
)


def session(job, tag: str) -> str:
    return f"{job.source}-{tag}"


# ---------------------------------------------------------------------------- exec


def test_exec_runs_aws_with_credentials(job):
    sess = session(job, "exec")
    p = job.run(["exec", "--role-arn", ROLE_ARN, "--session-name", sess, "--",
                 "aws", "sts", "get-caller-identity", "--output", "json"])
    assert_identity(json.loads(p.stdout), ROLE, sess, ACCOUNT)


def test_exec_child_sees_credentials(job):
    sess = session(job, "exec-env")
    p = job.run(["exec", "--role-arn", ROLE_ARN, "--session-name", sess, "--", "python3", "-c",
                 "import os,json; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('AWS_')}))"])
    env = json.loads(p.stdout)
    assert_issued_by_moto(job, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                          env["AWS_SESSION_TOKEN"], role_arn=ROLE_ARN, session=sess)


def test_exec_propagates_exit_status(job):
    p = job.run(["exec", "--role-arn", ROLE_ARN, "--session-name", session(job, "exit7"), "--",
                 "sh", "-c", "exit 7"], check=False)
    assert p.returncode == 7, (p.returncode, p.stderr)


def test_exec_missing_command_is_127(job):
    p = job.run(["exec", "--role-arn", ROLE_ARN, "--session-name", session(job, "nocmd"), "--",
                 "/nonexistent/definitely-not-a-command"], check=False)
    assert p.returncode == 127, (p.returncode, p.stderr)


# -------------------------------------------------------------------------- chaining


def test_chained_role(job):
    sess, chain_sess = session(job, "hop1"), session(job, "hop2")
    external_id = "demo-external-id"   # AssumeRole ExternalId: 2-1224 chars
    p = job.run(["assume", "--role-arn", ROLE_ARN, "--session-name", sess,
                 "--chain-role-arn", CHAIN_ROLE_ARN, "--external-id", external_id,
                 "--chain-session-name", chain_sess, "--output", "json"])
    doc = json.loads(p.stdout)
    assert doc["AccountId"] == CHAIN_ACCOUNT
    rec = assert_issued_by_moto(job, doc["AccessKeyId"], doc["SecretAccessKey"], doc["SessionToken"],
                                role_arn=CHAIN_ROLE_ARN, session=chain_sess)
    assert rec["external_id"] == external_id
    # The first hop really went through AssumeRoleWithWebIdentity on the source role.
    assert any(r["role_arn"] == ROLE_ARN and r["session_name"] == sess
               for r in job.moto.assumed_roles())

    consumer = job.consumer_env({"AWS_ACCESS_KEY_ID": doc["AccessKeyId"],
                                 "AWS_SECRET_ACCESS_KEY": doc["SecretAccessKey"],
                                 "AWS_SESSION_TOKEN": doc["SessionToken"],
                                 "AWS_DEFAULT_REGION": "us-east-1"})   # awscli v1 ignores AWS_REGION
    assert_identity(awscli_identity(consumer), CHAIN_ROLE, chain_sess, CHAIN_ACCOUNT)
    assert_identity(boto3_identity(consumer)["identity"], CHAIN_ROLE, chain_sess, CHAIN_ACCOUNT)


# ----------------------------------------------------------------- default session


SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


def test_default_session_name(job):
    p = job.run(["assume", "--role-arn", ROLE_ARN, "--output", "json"])
    doc = json.loads(p.stdout)
    job.note_secrets(doc["SecretAccessKey"], doc["SessionToken"])
    rec = job.moto.issued(doc["AccessKeyId"])
    name = rec["session_name"]
    assert SESSION_NAME.fullmatch(name), name
    assert rec["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{name}"


# ------------------------------------------------------------- stderr and failures


def test_verbose_stderr_has_attempts_but_no_secrets(job):
    p = job.run(["--verbose", "assume", "--role-arn", ROLE_ARN, "--session-name",
                 session(job, "verbose"), "--output", "json"], check=False)
    if p.returncode == 2:   # --verbose may be a subcommand option
        p = job.run(["assume", "--verbose", "--role-arn", ROLE_ARN, "--session-name",
                     session(job, "verbose"), "--output", "json"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    job.note_secrets(doc["SecretAccessKey"], doc["SessionToken"])
    assert re.search(r"^aws-oidc: info: AssumeRoleWithWebIdentity attempt 1/\d+$", p.stderr, re.M), p.stderr
    # (the job fixture asserts no secret/JWT on stderr for every run)


def test_token_refused_exits_3_and_writes_nothing(job):
    out = job.tmp / "should-not-exist.env"
    if job.source == "gitlab":
        # Expired beyond the 300 s skew allowance: fails before STS is called.
        expired = fake_issuer.gitlab_token("sts.amazonaws.com", ttl=-400)
        job.note_secrets(expired)
        env = {"AWS_ID_TOKEN": expired}
        outputs = ["--output", f"env={out}"]
    else:
        env = {"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong-request-token"}
        job.note_secrets("wrong-request-token")
        outputs = ["--output", f"env={out}", "--output", "github"]
    p = job.run(["assume", "--role-arn", ROLE_ARN, "--session-name", session(job, "refused"),
                 *outputs], env=env, check=False)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert p.stdout == ""
    assert not out.exists()
    if job.source == "github":
        assert (job.tmp / "github_env").read_text() == ""
        assert (job.tmp / "github_output").read_text() == ""
    assert_error_format(p.stderr)


def assert_error_format(stderr: str) -> None:
    """Contract: one `aws-oidc: error: <message>` line, then indented `  hint: ...` lines."""
    lines = stderr.splitlines()
    errors = [l for l in lines if l.startswith("aws-oidc: error: ")]
    assert len(errors) == 1, stderr
    assert re.fullmatch(r"aws-oidc: error: \S.*", errors[0]), errors[0]
    assert any(l.startswith("  hint: ") for l in lines), stderr
    after = lines[lines.index(errors[0]) + 1:]
    assert all(l.startswith("  ") for l in after), stderr


def test_chain_external_id_too_short_is_usage_error(job):
    """AssumeRole's ExternalId is 2-1224 chars: `--external-id X` is refused before any call."""
    out = job.tmp / "x.json"
    before = len(job.moto.assumed_roles())
    p = job.run(["assume", "--role-arn", ROLE_ARN, "--session-name", session(job, "xid"),
                 "--chain-role-arn", CHAIN_ROLE_ARN, "--external-id", "X",
                 "--output", f"json={out}"], check=False)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert not out.exists()
    assert len(job.moto.assumed_roles()) == before, "STS was called despite the usage error"

