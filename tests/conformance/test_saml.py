"""SAML federation through token exchange (issue 14), end to end: a device login to the real
test provider, its access token exchanged (RFC 8693) for a signed SAML assertion, wrapped by
aws-oidc around the ORIGINAL bytes, and `AssumeRoleWithSAML` at the strict fake STS, which
verifies the signature against the IdP certificate, Recipient, NotOnOrAfter, Audience and the
role/provider pair. Also `roles`, role not in the assertion, an expired or encrypted assertion,
and awscli through a `credential_process` profile. The assertion never reaches stderr."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from fake_sts import fake_sts_server, sts  # noqa: F401  (fixtures)
from idp import idp, idp_server  # noqa: F401  (fixtures)
from support import aws_cli
from test_login import PROVIDER, ctx, device_login, login_bin  # noqa: F401  (fixtures)

ACCOUNT_ID = "123456789012"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/aws-oidc-test-idp"
DEV = f"arn:aws:iam::{ACCOUNT_ID}:role/saml-dev"
OPS = f"arn:aws:iam::{ACCOUNT_ID}:role/saml-ops"


@pytest.fixture
def saml(ctx):
    """ctx, with a SAML provider in the configuration and the STS trusting the IdP's cert."""
    cert = ctx.idp.saml(roles=[f"{DEV},{PRINCIPAL}", f"{PRINCIPAL},{OPS}"])["cert_pem_path"]
    ctx.sts.configure(saml_providers={PRINCIPAL: cert})
    ctx.config.write_text(
        "providers:\n"
        f"  {PROVIDER}:\n"
        f"    issuer: {ctx.idp.issuer}\n"
        "    client_id: aws-cli\n"
        "    scopes: [openid, email, offline_access]\n"
        f"    role_arn: {DEV}\n"
        "    flow: device\n"
        "    federation: saml2\n"
        "    token_exchange: {audience: urn:amazon:webservices, subject_token_type: access_token}\n")
    device_login(ctx)
    yield ctx
    check_assertions_stay_secret(ctx)


def check_assertions_stay_secret(c) -> None:
    """No assertion (as the exchange sent it, its signature value, or the start of the wrapped
    base64 form) on any stderr of the test."""
    import base64
    import re
    canaries = set()
    for r in c.idp.token_requests():
        if not r.get("grant_type", "").endswith("token-exchange"):
            continue
        tok = (r.get("issued") or {}).get("access_token")
        if not tok:
            continue
        canaries.add(tok)
        xml = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
        canaries.add(base64.b64encode(xml)[:60].decode())
        m = re.search(rb"SignatureValue>([^<]+)<", xml)
        if m:
            canaries.add(m.group(1).decode().strip()[:40])
    assert canaries, "no exchange recorded: the canary would prove nothing"
    for err in c.stderrs:
        for k in canaries:
            assert k not in err, f"a SAML assertion ({len(k)} chars) appeared on stderr:\n{err}"


def test_roles_lists_the_assertions_roles(saml):
    out = saml.run(saml.with_provider("roles")).stdout
    assert out.splitlines() == [DEV, OPS], out
    doc = json.loads(saml.run(saml.with_provider("roles", "--json")).stdout)
    assert [r["role_arn"] for r in doc["roles"]] == [DEV, OPS]
    assert {r["principal_arn"] for r in doc["roles"]} == {PRINCIPAL}


def test_assume_with_saml(saml):
    mark = saml.sts.mark()
    p = saml.run(saml.with_provider("assume", "--output", "json"))
    creds = json.loads(p.stdout)
    assert creds["AccessKeyId"].startswith("ASIA")
    calls = saml.sts.calls("AssumeRoleWithSAML", since=mark)
    assert len(calls) == 1 and calls[0]["error"] is None, calls
    assert (calls[0]["role_arn"], calls[0]["principal_arn"]) == (DEV, PRINCIPAL)
    # The other role, picked with --role-arn (provider pair written in the other order).
    p = saml.run(saml.with_provider("assume", "--role-arn", OPS, "--output", "json"))
    calls = saml.sts.calls("AssumeRoleWithSAML", since=mark)
    assert calls[-1]["role_arn"] == OPS and calls[-1]["error"] is None, calls[-1]


def test_a_role_not_in_the_assertion_is_named_before_sts(saml):
    mark = saml.sts.mark()
    other = f"arn:aws:iam::{ACCOUNT_ID}:role/admin"
    p = saml.run(saml.with_provider("assume", "--role-arn", other, "--output", "json"),
                 check=False)
    assert p.returncode == 4, p.stderr
    assert other in p.stderr and DEV in p.stderr and OPS in p.stderr, p.stderr
    assert saml.sts.calls("AssumeRoleWithSAML", since=mark) == []


def test_expired_and_encrypted_assertions(saml):
    saml.idp.saml(not_on_or_after=-60)
    p = saml.run(saml.with_provider("assume", "--output", "json"), check=False)
    assert p.returncode != 0 and "NotOnOrAfter" in p.stderr, p.stderr
    saml.idp.saml(not_on_or_after=300, encrypt=True)
    p = saml.run(saml.with_provider("assume", "--output", "json"), check=False)
    assert p.returncode != 0 and "EncryptedAssertion" in p.stderr, p.stderr


def test_awscli_through_credential_process(saml):
    aws_dir = Path(saml.env["AWS_CONFIG_FILE"]).parent
    aws_dir.mkdir(parents=True, exist_ok=True)
    cmd = " ".join(shlex.quote(a) for a in [saml.bin, "credential-process", "--provider", PROVIDER,
                                            "--config", str(saml.config)])
    Path(saml.env["AWS_CONFIG_FILE"]).write_text(f"[profile saml]\ncredential_process = {cmd}\n")
    p = aws_cli(["sts", "get-caller-identity", "--profile", "saml", "--output", "json"], saml.env)
    saml.stderrs.append(p.stderr)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/saml-dev/"), p.stdout


def test_role_by_glob_or_the_only_one(saml):
    text = saml.config.read_text().replace(f"    role_arn: {DEV}\n", "")
    saml.config.write_text(text)
    mark = saml.sts.mark()
    # A glob that matches exactly one role.
    saml.run(saml.with_provider("assume", "--role-arn", "*:role/saml-o*", "--output", "json"))
    assert saml.sts.calls("AssumeRoleWithSAML", since=mark)[-1]["role_arn"] == OPS
    # Several roles, none named, no terminal: a usage error listing them, before STS.
    n = len(saml.sts.calls("AssumeRoleWithSAML", since=mark))
    p = saml.run(saml.with_provider("assume", "--output", "json"), check=False)
    assert p.returncode == 2 and DEV in p.stderr and OPS in p.stderr, p.stderr
    assert len(saml.sts.calls("AssumeRoleWithSAML", since=mark)) == n
    # A glob matching both is ambiguous.
    p = saml.run(saml.with_provider("assume", "--role-arn", "*saml-*", "--output", "json"),
                 check=False)
    assert p.returncode == 2 and "several" in p.stderr, p.stderr
    # One role in the assertion: it is the one.
    saml.idp.saml(roles=[f"{DEV},{PRINCIPAL}"])
    saml.run(saml.with_provider("assume", "--output", "json"))
    assert saml.sts.calls("AssumeRoleWithSAML", since=mark)[-1]["role_arn"] == DEV


def test_all_roles_from_one_exchange(saml):
    mark = saml.sts.mark()
    before = len(saml.idp.token_requests())
    saml.run(saml.with_provider("assume", "--all-roles"))
    exchanges = [r for r in saml.idp.token_requests()[before:]
                 if r.get("grant_type", "").endswith("token-exchange")]
    assert len(exchanges) == 1, exchanges
    calls = saml.sts.calls("AssumeRoleWithSAML", since=mark)
    assert sorted(c["role_arn"] for c in calls) == sorted([DEV, OPS]), calls
    creds = Path(saml.env["AWS_SHARED_CREDENTIALS_FILE"]).read_text()
    assert "[saml-dev]" in creds and "[saml-ops]" in creds, creds


def test_a_rejected_signature_shows_sts_answer(saml, tmp_path):
    # The STS now trusts another certificate for this provider: the signature fails there.
    import subprocess
    import sys
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=other"], check=True,
                   capture_output=True)
    saml.sts.configure(saml_providers={PRINCIPAL: str(cert)})
    p = saml.run(saml.with_provider("assume", "--output", "json"), check=False)
    assert p.returncode == 4, p.stderr
    assert "InvalidIdentityToken" in p.stderr, p.stderr
    assert "certificate" in p.stderr.lower(), p.stderr


def test_refreshable_profile_and_exec(saml):
    saml.run(saml.with_provider("assume", "--output", "profile=saml", "--refreshable"))
    cfg = Path(saml.env["AWS_CONFIG_FILE"]).read_text()
    assert "--provider=" in cfg and f"--role-arn={DEV}" in cfg, cfg
    p = aws_cli(["sts", "get-caller-identity", "--profile", "saml", "--output", "json"], saml.env)
    saml.stderrs.append(p.stderr)
    assert p.returncode == 0, p.stderr
    assert "assumed-role/saml-dev/" in p.stdout
    p = saml.run(saml.with_provider("exec", "--", "sh", "-c", "echo ${AWS_ACCESS_KEY_ID%%????????????????}"))
    assert p.stdout.strip() == "ASIA", p.stdout
