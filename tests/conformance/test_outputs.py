"""Each --output format, produced by the real binary against moto's STS and
consumed by a real client (awscli / boto3 / the shell) the way CI would.

Every test runs twice: token from the GitLab env var (AWS_ID_TOKEN) and from
the GitHub token endpoint (fake_issuer.py).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import stat
import subprocess

import pytest

from conftest import ACCOUNT, ROLE, ROLE_ARN
from support import (
    assert_future_expiration,
    assert_identity,
    assert_issued_by_moto,
    awscli_identity,
    boto3_identity,
    github_masks,
    parse_github_file_command,
    parse_gitlab_dotenv,
    parse_rfc3339,
)

CRED_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
ALL_VARS = CRED_VARS + ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CREDENTIAL_EXPIRATION")


def session(job, tag: str) -> str:
    return f"{job.source}-{tag}"


def assume(job, sess: str, *outputs: str, extra: tuple[str, ...] = (), env=None):
    args = ["assume", "--role-arn", ROLE_ARN, "--session-name", sess, *extra]
    for o in outputs:
        args += ["--output", o]
    return job.run(args, env=env)


def assert_mode_0600(path) -> None:
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, f"{path} has mode {oct(mode)}, want 0o600"


def assert_stdout_quiet(job, stdout: str) -> None:
    """Output went to a file: stdout may only carry ::add-mask:: lines (on GitHub)."""
    for line in stdout.splitlines():
        assert line.startswith("::add-mask::"), f"unexpected stdout line: {line!r}"
    if job.source != "github":
        assert stdout == "", f"unexpected stdout: {stdout!r}"


def check_github_token_request(job) -> None:
    """The binary asked the fake GitHub endpoint correctly (audience, api-version, auth)."""
    if job.source != "github":
        return
    reqs = job.issuer.requests()
    assert reqs, "aws-oidc never called ACTIONS_ID_TOKEN_REQUEST_URL"
    last = reqs[-1]
    assert last["authorized"], last
    assert last["api_version"] == "2.0", last
    assert last["audience"] == "sts.amazonaws.com", last


# ----------------------------------------------------------------------------- env


def test_env_file_as_gitlab_dotenv(job):
    sess = session(job, "env")
    path = job.tmp / "aws-oidc.env"
    p = assume(job, sess, f"env={path}")
    assert_stdout_quiet(job, p.stdout)
    check_github_token_request(job)
    assert_mode_0600(path)

    raw = path.read_bytes()
    for line in raw.decode().splitlines():
        name, _, value = line.partition("=")
        assert not value[:1] in ("'", '"'), f"{name}: GitLab keeps quotes literally"
        assert "$" not in value, f"{name}: GitLab dotenv variables are expanded ($)"
    variables = parse_gitlab_dotenv(raw)
    assert set(ALL_VARS) <= set(variables), sorted(variables)
    assert variables["AWS_REGION"] == variables["AWS_DEFAULT_REGION"] == "us-east-1"
    assert_future_expiration(variables["AWS_CREDENTIAL_EXPIRATION"])
    assert_issued_by_moto(job, variables["AWS_ACCESS_KEY_ID"], variables["AWS_SECRET_ACCESS_KEY"],
                          variables["AWS_SESSION_TOKEN"], role_arn=ROLE_ARN, session=sess)

    # A later job receives exactly these variables.
    consumer = job.consumer_env(variables)
    assert_identity(awscli_identity(consumer), ROLE, sess, ACCOUNT)
    b = boto3_identity(consumer)
    assert_identity(b["identity"], ROLE, sess, ACCOUNT)
    assert (b["access_key"], b["secret_key"], b["token"]) == tuple(variables[v] for v in CRED_VARS)


def test_default_output_when_not_on_github(job):
    """No --output and GITHUB_ACTIONS unset: env=aws-oidc.env in the working directory."""
    env = {k: v for k, v in job.env.items() if k != "GITHUB_ACTIONS"}
    job.env = env
    sess = session(job, "default")
    p = job.run(["assume", "--role-arn", ROLE_ARN, "--session-name", sess])
    assert p.stdout == ""
    variables = parse_gitlab_dotenv((job.tmp / "aws-oidc.env").read_bytes())
    assert_issued_by_moto(job, *(variables[v] for v in CRED_VARS), role_arn=ROLE_ARN, session=sess)


# ------------------------------------------------------------------------ sh / bash

SH_SCRIPT = r"""
set -eu
out="$("$AWS_OIDC_BIN" assume --role-arn "$ROLE_ARN" --session-name "$SESS" --output sh)"
printf '%s\n' "$out" > "$OUT_DIR/eval.txt"
eval "$out"
aws sts get-caller-identity --output json > "$OUT_DIR/identity.json"
printf '%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" > "$OUT_DIR/creds"
"""

SH_LINE = re.compile(r"export ([A-Z_][A-Z0-9_]*)='((?:[^']|'\\'')*)'")


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_sh_eval(job, shell):
    sh = shutil.which(shell)
    if not sh:
        pytest.skip(f"{shell} not installed")
    sess = session(job, f"sh-{shell}")
    out = job.tmp
    job.sh(sh, SH_SCRIPT, env={"ROLE_ARN": ROLE_ARN, "SESS": sess, "OUT_DIR": str(out)})

    lines = [l for l in (out / "eval.txt").read_text().splitlines() if l]
    names = set()
    for l in lines:
        m = SH_LINE.fullmatch(l)
        assert m, f"not an `export KEY='value'` line: {l!r}"
        names.add(m.group(1))
    assert set(ALL_VARS) <= names, sorted(names)

    ident = json.loads((out / "identity.json").read_text())
    assert_identity(ident, ROLE, sess, ACCOUNT)
    akid, secret, token = (out / "creds").read_text().splitlines()
    assert_issued_by_moto(job, akid, secret, token, role_arn=ROLE_ARN, session=sess)


# ---------------------------------------------------------------------------- fish

FISH_SCRIPT = r"""
$AWS_OIDC_BIN assume --role-arn $ROLE_ARN --session-name $SESS --output fish | tee $OUT_DIR/eval.txt | source
if test $pipestatus[1] -ne 0
    exit 3
end
aws sts get-caller-identity --output json > $OUT_DIR/identity.json; or exit 4
printf '%s\n' $AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN > $OUT_DIR/creds
"""


def test_fish_source(job):
    fish = shutil.which("fish")
    if not fish:
        pytest.skip("fish not installed (scripts/setup-test-deps.sh --with-fish)")
    sess = session(job, "fish")
    out = job.tmp
    job.sh(fish, FISH_SCRIPT, env={"ROLE_ARN": ROLE_ARN, "SESS": sess, "OUT_DIR": str(out)})
    for l in (out / "eval.txt").read_text().splitlines():
        if l:
            assert re.fullmatch(r"set -gx [A-Z_][A-Z0-9_]* '.*'", l), l
    assert_identity(json.loads((out / "identity.json").read_text()), ROLE, sess, ACCOUNT)
    akid, secret, token = (out / "creds").read_text().splitlines()
    assert_issued_by_moto(job, akid, secret, token, role_arn=ROLE_ARN, session=sess)


# ---------------------------------------------------------------------- powershell

PWSH_SCRIPT = r"""
$ErrorActionPreference = 'Stop'
$out = & $env:AWS_OIDC_BIN assume --role-arn $env:ROLE_ARN --session-name $env:SESS --output powershell
if ($LASTEXITCODE -ne 0) { exit 3 }
($out | Out-String) | Invoke-Expression
aws sts get-caller-identity --output json | Set-Content -Path "$env:OUT_DIR/identity.json"
if ($LASTEXITCODE -ne 0) { exit 4 }
@($env:AWS_ACCESS_KEY_ID, $env:AWS_SECRET_ACCESS_KEY, $env:AWS_SESSION_TOKEN) | Set-Content -Path "$env:OUT_DIR/creds"
"""


def test_powershell_invoke_expression(job):
    pwsh = shutil.which("pwsh")
    if not pwsh:
        pytest.skip("pwsh not installed (not in Debian's archive)")
    sess = session(job, "pwsh")
    out = job.tmp
    e = {**job.env, "AWS_OIDC_BIN": job.bin, "ROLE_ARN": ROLE_ARN, "SESS": sess, "OUT_DIR": str(out)}
    p = subprocess.run([pwsh, "-NoProfile", "-NonInteractive", "-Command", PWSH_SCRIPT],
                       env=e, capture_output=True, text=True, timeout=120)
    job.stderrs.append(p.stderr)
    assert p.returncode == 0, p.stderr
    assert_identity(json.loads((out / "identity.json").read_text()), ROLE, sess, ACCOUNT)
    akid, secret, token = (out / "creds").read_text().splitlines()
    assert_issued_by_moto(job, akid, secret, token, role_arn=ROLE_ARN, session=sess)


# -------------------------------------------------------------------------- github


def test_github_env_and_output(job):
    sess = session(job, "github")
    gh_env = job.tmp / "github_env"
    gh_out = job.tmp / "github_output"
    # Earlier commands of the same step already wrote to the files.
    gh_env.write_text("EARLIER=kept\nMULTI<<ghadelimiter_1\nline 1\nline 2\nghadelimiter_1\n")
    gh_out.write_text("earlier=1\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_ENV": str(gh_env), "GITHUB_OUTPUT": str(gh_out)}
    p = assume(job, sess, "github", env=env)
    check_github_token_request(job)

    parsed_env = parse_github_file_command(gh_env.read_bytes())
    assert parsed_env["EARLIER"] == "kept" and parsed_env["MULTI"] == "line 1\nline 2"
    assert set(ALL_VARS) <= set(parsed_env), sorted(parsed_env)
    akid, secret, token = (parsed_env[v] for v in CRED_VARS)
    assert_issued_by_moto(job, akid, secret, token, role_arn=ROLE_ARN, session=sess)
    assert parsed_env["AWS_REGION"] == "us-east-1"
    assert_future_expiration(parsed_env["AWS_CREDENTIAL_EXPIRATION"])

    # stdout: only workflow commands, masking every credential part.
    for line in p.stdout.splitlines():
        assert line.startswith("::"), f"non-command line on stdout: {line!r}"
    masks = github_masks(p.stdout)
    for name, value in (("secret key", secret), ("session token", token), ("access key id", akid)):
        assert value in masks, f"{name} is not masked with ::add-mask::"
    # Nothing on stdout shows a credential outside an add-mask command.
    for line in p.stdout.splitlines():
        if not line.startswith("::add-mask::"):
            assert secret not in line and token not in line

    outputs = parse_github_file_command(gh_out.read_bytes())
    assert outputs["earlier"] == "1"
    assert outputs["aws-account-id"] == ACCOUNT
    assert outputs["authenticated-arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{sess}"
    assert_future_expiration(outputs["aws-expiration"])
    for v in (secret, token):
        assert v not in gh_out.read_text(), "credentials must not go to GITHUB_OUTPUT"

    # A later step of the same job sees the GITHUB_ENV variables.
    consumer = job.consumer_env({k: v for k, v in parsed_env.items() if k.startswith("AWS_")})
    assert_identity(awscli_identity(consumer), ROLE, sess, ACCOUNT)


def test_github_is_default_output_on_actions(job):
    """No --output and GITHUB_ACTIONS=true: github format."""
    gh_env = job.tmp / "github_env"
    gh_out = job.tmp / "github_output"
    gh_env.write_text("")
    gh_out.write_text("")
    sess = session(job, "ghdefault")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_ENV": str(gh_env), "GITHUB_OUTPUT": str(gh_out)}
    p = job.run(["assume", "--role-arn", ROLE_ARN, "--session-name", sess], env=env)
    parsed = parse_github_file_command(gh_env.read_bytes())
    assert_issued_by_moto(job, *(parsed[v] for v in CRED_VARS), role_arn=ROLE_ARN, session=sess)
    assert parsed["AWS_SECRET_ACCESS_KEY"] in github_masks(p.stdout)
    assert not (job.tmp / "aws-oidc.env").exists()


# --------------------------------------------------------------- credential_process


def check_credential_process_json(doc: dict) -> None:
    assert doc["Version"] == 1
    for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"):
        assert isinstance(doc.get(k), str) and doc[k], k
    assert_future_expiration(doc["Expiration"])
    assert doc.get("AccountId") == ACCOUNT


def write_config(job, body: str):
    cfg = job.tmp / "aws-config"
    cfg.write_text(body)
    return cfg


def test_json_file_as_credential_process(job):
    sess = session(job, "jsonfile")
    path = job.tmp / "creds.json"
    p = assume(job, sess, f"json={path}")
    assert_stdout_quiet(job, p.stdout)
    assert_mode_0600(path)
    doc = json.loads(path.read_text())
    check_credential_process_json(doc)
    assert_issued_by_moto(job, doc["AccessKeyId"], doc["SecretAccessKey"], doc["SessionToken"],
                          role_arn=ROLE_ARN, session=sess)

    cfg = write_config(job, "[profile ci]\n"
                            f"credential_process = cat {shlex.quote(str(path))}\n"
                            "region = us-east-1\n")
    consumer = job.consumer_env({"AWS_CONFIG_FILE": str(cfg),
                                 "AWS_SHARED_CREDENTIALS_FILE": str(job.tmp / "no-such-file")})
    assert_identity(awscli_identity(consumer, profile="ci"), ROLE, sess, ACCOUNT)
    b = boto3_identity(consumer, profile="ci")
    assert_identity(b["identity"], ROLE, sess, ACCOUNT)
    assert b["secret_key"] == doc["SecretAccessKey"]


def test_binary_as_credential_process(job):
    sess = session(job, "credproc")
    # stdout of `--output json` (and `json=-`) is exactly one credential_process document.
    for out in ("json", "json=-"):
        p = assume(job, sess, out)
        doc = json.loads(p.stdout)
        check_credential_process_json(doc)
        assert_issued_by_moto(job, doc["AccessKeyId"], doc["SecretAccessKey"], doc["SessionToken"],
                              role_arn=ROLE_ARN, session=sess)

    cmd = " ".join(shlex.quote(a) for a in [job.bin, "assume", "--role-arn", ROLE_ARN,
                                            "--session-name", sess, "--output", "json"])
    cfg = write_config(job, f"[profile oidc]\ncredential_process = {cmd}\nregion = us-east-1\n")
    # The SDK runs the process with its own environment: the job env (token
    # source, STS endpoint) plus the config file.
    consumer = {**job.env, "AWS_CONFIG_FILE": str(cfg),
                "AWS_SHARED_CREDENTIALS_FILE": str(job.tmp / "no-such-file")}
    assert_identity(awscli_identity(consumer, profile="oidc"), ROLE, sess, ACCOUNT)
    b = boto3_identity(consumer, profile="oidc")
    assert_identity(b["identity"], ROLE, sess, ACCOUNT)
    assert_issued_by_moto(job, b["access_key"], b["secret_key"], b["token"],
                          role_arn=ROLE_ARN, session=sess)


# ------------------------------------------------------------------------- profile

CREDS_BEFORE = """\
# Managed by hand -- keep this comment
[default]
aws_access_key_id = AKIAEXAMPLEDEFAULT01
aws_secret_access_key = defaultSecretDoNotTouch/abc+def
; a semicolon comment inside default

[other]
# comment in other
aws_access_key_id = AKIAEXAMPLEOTHER0001
aws_secret_access_key = otherSecret
"""

CONFIG_BEFORE = """\
# my config
[default]
region = eu-west-1

[profile other]
region = ap-southeast-2
output = text
# trailing comment
"""


def _sections(path) -> dict[str, dict[str, str]]:
    cp = configparser.ConfigParser(strict=True, interpolation=None,
                                   comment_prefixes=("#", ";"), inline_comment_prefixes=None)
    cp.read_string(path.read_text())
    return {s: dict(cp[s]) for s in cp.sections()}


def _is_subsequence(needles: list[str], hay: list[str]) -> bool:
    it = iter(hay)
    return all(any(n == h for h in it) for n in needles)


def test_profile_files_merge(job):
    creds = job.tmp / "credentials"
    config = job.tmp / "config"
    creds.write_text(CREDS_BEFORE)
    config.write_text(CONFIG_BEFORE)
    files = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(config)}
    before_creds, before_config = _sections(creds), _sections(config)

    # Twice: the second run must update the [ci] profile in place, not append a duplicate.
    first = session(job, "prof1")
    assume(job, first, "profile=ci", env=files)
    first_secret = _sections(creds)["ci"]["aws_secret_access_key"]
    sess = session(job, "prof2")
    p = assume(job, sess, "profile=ci", env=files)
    assert_stdout_quiet(job, p.stdout)
    assert_mode_0600(creds)

    after_creds, after_config = _sections(creds), _sections(config)   # strict: no duplicates
    for name in ("default", "other"):
        assert after_creds[name] == before_creds[name], f"[{name}] changed in credentials"
    assert after_config["default"] == before_config["default"]
    assert after_config["profile other"] == before_config["profile other"]
    for before, path in ((CREDS_BEFORE, creds), (CONFIG_BEFORE, config)):
        kept = [l for l in before.splitlines() if l.strip()]
        assert _is_subsequence(kept, path.read_text().splitlines()), \
            f"{path.name}: original lines/comments not preserved:\n{path.read_text()}"

    ci = after_creds["ci"]
    assert first_secret not in creds.read_text()
    job.note_secrets(first_secret)
    assert_issued_by_moto(job, ci["aws_access_key_id"], ci["aws_secret_access_key"],
                          ci["aws_session_token"], role_arn=ROLE_ARN, session=sess)

    consumer = job.consumer_env(files)
    assert_identity(awscli_identity(consumer, profile="ci"), ROLE, sess, ACCOUNT)
    b = boto3_identity(consumer, profile="ci")
    assert_identity(b["identity"], ROLE, sess, ACCOUNT)


def test_profile_default_paths(job):
    """Without AWS_SHARED_CREDENTIALS_FILE/AWS_CONFIG_FILE: ~/.aws/credentials and ~/.aws/config."""
    sess = session(job, "profhome")
    assume(job, sess, "profile=ci")
    creds = job.home / ".aws" / "credentials"
    assert creds.exists()
    assert_mode_0600(creds)
    ci = _sections(creds)["ci"]
    assert_issued_by_moto(job, ci["aws_access_key_id"], ci["aws_secret_access_key"],
                          ci["aws_session_token"], role_arn=ROLE_ARN, session=sess)
    assert_identity(awscli_identity(job.consumer_env(), profile="ci"), ROLE, sess, ACCOUNT)


# ------------------------------------------------------------------ several outputs


def test_repeated_and_env_var_outputs(job):
    sess = session(job, "multi")
    envf, jsonf = job.tmp / "a.env", job.tmp / "a.json"
    assume(job, sess, f"env={envf}", f"json={jsonf}")
    v = parse_gitlab_dotenv(envf.read_bytes())
    d = json.loads(jsonf.read_text())
    assert v["AWS_ACCESS_KEY_ID"] == d["AccessKeyId"]
    assert v["AWS_SECRET_ACCESS_KEY"] == d["SecretAccessKey"]
    assert parse_rfc3339(v["AWS_CREDENTIAL_EXPIRATION"]) == parse_rfc3339(d["Expiration"])
    job.note_secrets(d["SecretAccessKey"], d["SessionToken"])

    envf2, jsonf2 = job.tmp / "b.env", job.tmp / "b.json"
    job.run(["assume", "--role-arn", ROLE_ARN, "--session-name", sess],
            env={"AWS_OIDC_OUTPUT": f"env={envf2},json={jsonf2}"})
    v2 = parse_gitlab_dotenv(envf2.read_bytes())
    d2 = json.loads(jsonf2.read_text())
    assert v2["AWS_ACCESS_KEY_ID"] == d2["AccessKeyId"] != d["AccessKeyId"]
    job.note_secrets(d2["SecretAccessKey"], d2["SessionToken"])
