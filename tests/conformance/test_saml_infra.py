"""The SAML test infrastructure of issue 14, proven with plain HTTP (no aws-oidc):

* tests/idp/provider.mjs answers an RFC 8693 token exchange (Keycloak's legacy V1 shape) with a
  signed SAML assertion minted by tests/idp/saml_sign.py (signxml, exclusive c14n, RSA-SHA256);
* tests/conformance/fake_sts.py's AssumeRoleWithSAML is strict: signature against the IdP
  certificate, Recipient, NotOnOrAfter, Audience, the role/provider pair, session rules.

The client side is what aws-oidc will do: device login, exchange the access token, decode
base64url without padding, splice the assertion's ORIGINAL bytes into a samlp:Response (never
re-serialized), standard base64, AssumeRoleWithSAML, then GetCallerIdentity with the
credentials.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import time
import xml.etree.ElementTree as ET

import pytest

from fake_sts import fake_sts_server, sts  # noqa: F401  (pytest fixtures)
from idp import http_raw, idp, idp_server  # noqa: F401  (pytest fixtures)

ACCOUNT_ID = "123456789012"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/aws-oidc-test-idp"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/saml-dev"
OTHER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/saml-ops"
SAML2 = "urn:ietf:params:oauth:token-type:saml2"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
MS_INSTANT = re.compile(r'IssueInstant="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"')


# ------------------------------------------------------------------------------ client side

@pytest.fixture(scope="module")
def access_token(idp_server):
    """One device login for the module (access tokens live an hour; exchanges spend nothing)."""
    return idp_server.device_login()["access_token"]


@pytest.fixture
def saml_sts(sts, idp):
    """The fake STS trusting the test IdP's certificate for PROVIDER_ARN."""
    cert = idp.saml()["cert_pem_path"]
    sts.configure(saml_providers={PROVIDER_ARN: cert})
    return sts


def exchange(idp, access_token: str, **kw) -> bytes:
    status, out = idp.token_exchange(access_token, **kw)
    assert status == 200, out
    assert out["issued_token_type"] == SAML2, out
    assert "=" not in out["access_token"], "base64url WITHOUT padding, like Keycloak"
    seg = out["access_token"]
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def wrap(assertion: bytes) -> bytes:
    """A samlp:Response around the assertion's original bytes (read, never re-serialized)."""
    a = ET.fromstring(assertion)
    ns = {"saml": SAML_NS}
    recipient = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData",
                       ns).get("Recipient")
    issuer = a.find("saml:Issuer", ns).text
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    head = (f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'ID="_{secrets.token_hex(16)}" Version="2.0" IssueInstant="{now}" '
            f'Destination="{recipient}">'
            f'<saml:Issuer xmlns:saml="{SAML_NS}">{issuer}</saml:Issuer>'
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            "</samlp:Status>").encode()
    return head + assertion + b"</samlp:Response>"


def assume_saml(sts_url: str, response: bytes | str, role_arn: str = ROLE_ARN,
                principal_arn: str = PROVIDER_ARN, duration: int | None = 3600) -> tuple[int, str]:
    b64 = response if isinstance(response, str) else base64.b64encode(response).decode()
    form = {"Action": "AssumeRoleWithSAML", "Version": "2011-06-15", "RoleArn": role_arn,
            "PrincipalArn": principal_arn, "SAMLAssertion": b64}
    if duration is not None:
        form["DurationSeconds"] = str(duration)
    status, raw = http_raw("POST", sts_url + "/", form=form, accept=None)
    return status, raw.decode()


def xml_field(body: str, name: str) -> str | None:
    m = re.search(rf"<{name}>([^<]*)</{name}>", body)
    return m.group(1) if m else None


def caller_arn(sts_url: str, body: str) -> str:
    import boto3

    client = boto3.client("sts", endpoint_url=sts_url, region_name="us-east-1",
                          aws_access_key_id=xml_field(body, "AccessKeyId"),
                          aws_secret_access_key=xml_field(body, "SecretAccessKey"),
                          aws_session_token=xml_field(body, "SessionToken"))
    return client.get_caller_identity()["Arn"]


# ------------------------------------------------------------------------------ the exchange

def test_discovery_lists_the_token_exchange_grant(idp):
    assert "urn:ietf:params:oauth:grant-type:token-exchange" in idp.discovery()["grant_types_supported"]


def test_exchange_answers_a_signed_keycloak_shaped_assertion(idp, access_token):
    from signxml import XMLVerifier

    status, out = idp.token_exchange(access_token)
    assert status == 200, out
    assert set(out) == {"access_token", "issued_token_type", "token_type", "expires_in"}, out
    assert (out["issued_token_type"], out["token_type"], out["expires_in"]) == (SAML2, "N_A", 60)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", out["access_token"]), "base64url, no padding"
    raw = base64.urlsafe_b64decode(out["access_token"] + "=" * (-len(out["access_token"]) % 4))
    assert raw.startswith(b"<saml:Assertion ")
    assert MS_INSTANT.search(raw.decode()), "Keycloak-like timestamps with milliseconds"
    text = raw.decode()
    assert "http://www.w3.org/2001/10/xml-exc-c14n#" in text
    assert "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" in text
    assert "<saml:NameID" in text and ">dev</saml:NameID>" in text
    assert f"{ROLE_ARN},{PROVIDER_ARN}" in text
    assert "https://aws.amazon.com/SAML/Attributes/RoleSessionName" in text
    assert 'Recipient="https://signin.aws.amazon.com/saml"' in text
    assert "<saml:Audience>urn:amazon:webservices</saml:Audience>" in text
    cert = open(idp.saml()["cert_pem_path"]).read()
    verified = XMLVerifier().verify(raw, x509_cert=cert, expect_references=1)
    assert verified.signed_xml.tag == f"{{{SAML_NS}}}Assertion"
    # the confidential clients may use the grant too
    status, out = idp.token_exchange(access_token, client_id=idp.secret_client_id)
    assert status == 200 and out["issued_token_type"] == SAML2, out
    reqs = [r for r in idp.token_requests()
            if r["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"]
    assert [r["status"] for r in reqs] == [200, 200]
    assert reqs[0]["form"]["subject_token"] == access_token


def test_id_token_as_subject_is_refused_like_keycloak_v1(idp_server, idp):
    tokens = idp_server.device_login()
    status, out = idp.token_exchange(tokens["id_token"],
                                     subject_token_type="urn:ietf:params:oauth:token-type:id_token")
    assert (status, out.get("error"), out.get("error_description")) == (
        400, "invalid_request", "Invalid token type, must be access token"), out


def test_other_requested_token_types_and_audiences_are_refused(idp, access_token):
    status, out = idp.token_exchange(
        access_token, requested_token_type="urn:ietf:params:oauth:token-type:access_token")
    assert (status, out.get("error"), out.get("error_description")) == (
        400, "invalid_request", "requested_token_type unsupported"), out
    status, out = idp.token_exchange(access_token, audience="some-other-client")
    assert (status, out.get("error"), out.get("error_description")) == (
        400, "invalid_client", "Audience not found"), out
    status, out = idp.token_exchange("not-a-token")
    assert (status, out.get("error"), out.get("error_description")) == (
        400, "invalid_request", "Invalid token"), out


def test_encrypted_assertion_is_an_encrypted_assertion_element(idp, access_token, saml_sts):
    idp.saml(encrypt=True)
    raw = exchange(idp, access_token)
    root = ET.fromstring(raw)
    assert root.tag == f"{{{SAML_NS}}}EncryptedAssertion"
    assert raw.startswith(b"<saml:EncryptedAssertion")
    # and the strict STS, with no private key, refuses it
    response = (b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" '
                b'Version="2.0"><samlp:Status><samlp:StatusCode '
                b'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
                + raw + b"</samlp:Response>")
    status, body = assume_saml(saml_sts.url, response)
    assert status == 400 and xml_field(body, "Code") == "InvalidIdentityToken", body


# ------------------------------------------------------------------------------ the strict STS

def test_spliced_assertion_assumes_the_role(idp, access_token, saml_sts):
    mark = saml_sts.mark()
    raw = exchange(idp, access_token)
    response = wrap(raw)
    assert raw in response, "the original bytes, unchanged"
    status, body = assume_saml(saml_sts.url, response, duration=3600)
    assert status == 200, body
    assert xml_field(body, "Arn") == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/saml-dev/dev@example.com"
    assert xml_field(body, "Subject") == "dev"
    assert xml_field(body, "Issuer") == idp.issuer + "/realms/test"
    assert caller_arn(saml_sts.url, body) == \
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/saml-dev/dev@example.com"
    (call,) = saml_sts.calls(action="AssumeRoleWithSAML", since=mark)
    assert (call["role_arn"], call["principal_arn"], call["session"], call["duration"],
            call["error"]) == (ROLE_ARN, PROVIDER_ARN, "dev@example.com", "3600", None)


def test_several_roles_either_order_and_regional_recipient(idp, access_token, saml_sts):
    idp.saml(roles=[f"{ROLE_ARN},{PROVIDER_ARN}", f"{PROVIDER_ARN},{OTHER_ROLE_ARN}"],
             recipient="https://eu-west-1.signin.aws.amazon.com/saml", session_duration=7200,
             session_name="dev.user")
    raw = exchange(idp, access_token)
    assert raw.index(ROLE_ARN.encode()) < raw.index(OTHER_ROLE_ARN.encode()), "order kept"
    for role, name in ((ROLE_ARN, "saml-dev"), (OTHER_ROLE_ARN, "saml-ops")):
        status, body = assume_saml(saml_sts.url, wrap(raw), role_arn=role, duration=7200)
        assert status == 200, body
        assert xml_field(body, "Arn").endswith(f":assumed-role/{name}/dev.user")
    status, body = assume_saml(saml_sts.url, wrap(raw), duration=7201)
    assert status == 400 and xml_field(body, "Code") == "ValidationError", body
    assert "SessionDuration" in body


def test_tampered_role_fails_the_signature(idp, access_token, saml_sts):
    raw = exchange(idp, access_token)
    tampered = raw.replace(b"role/saml-dev,", b"role/saml-adm,")
    assert tampered != raw
    status, body = assume_saml(saml_sts.url, wrap(tampered),
                               role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/saml-adm")
    assert (status, xml_field(body, "Code"), xml_field(body, "Message")) == (
        400, "InvalidIdentityToken", "Response signature invalid"), body
    # another IdP's certificate: the same answer
    other = saml_sts.saml_providers[PROVIDER_ARN]
    saml_sts.configure(saml_providers={PROVIDER_ARN: _other_cert(idp)})
    status, body = assume_saml(saml_sts.url, wrap(raw))
    assert xml_field(body, "Code") == "InvalidIdentityToken", body
    saml_sts.configure(saml_providers={PROVIDER_ARN: other})


def _other_cert(idp) -> str:
    import subprocess
    import sys
    from pathlib import Path

    from support import REPO

    d = Path(idp.saml()["key_dir"]).parent / f"other-idp-{secrets.token_hex(4)}"
    out = subprocess.run([sys.executable, str(REPO / "tests/idp/saml_sign.py"), str(d), "--init"],
                         capture_output=True, text=True, check=True)
    return open(out.stdout.strip()).read()


def test_expired_assertion(idp, access_token, saml_sts):
    idp.saml(not_on_or_after=-5)
    status, body = assume_saml(saml_sts.url, wrap(exchange(idp, access_token)))
    assert status == 400 and xml_field(body, "Code") == "ExpiredTokenException", body
    assert "expired" in body and "NotOnOrAfter" in body


def test_role_not_in_assertion(idp, access_token, saml_sts):
    status, body = assume_saml(saml_sts.url, wrap(exchange(idp, access_token)),
                               role_arn=OTHER_ROLE_ARN)
    assert (status, xml_field(body, "Code")) == (403, "AccessDenied"), body
    assert "sts:AssumeRoleWithSAML" in body
    assert saml_sts.calls(action="AssumeRoleWithSAML")[-1]["error"] == "AccessDenied"


def test_wrong_recipient_and_audience(idp, access_token, saml_sts):
    idp.saml(recipient="https://idp.example.com/saml/acs")
    status, body = assume_saml(saml_sts.url, wrap(exchange(idp, access_token)))
    assert status == 400 and xml_field(body, "Code") == "InvalidIdentityToken", body
    assert "Recipient" in body
    idp.saml(recipient="https://signin.aws.amazon.com/saml", audience="urn:example:other")
    status, body = assume_saml(saml_sts.url, wrap(exchange(idp, access_token)))
    assert status == 400 and xml_field(body, "Code") == "InvalidIdentityToken", body
    assert "Audience" in body


def test_validation_rules(idp, access_token, saml_sts):
    raw = exchange(idp, access_token)
    for duration in (899, 43201):
        status, body = assume_saml(saml_sts.url, wrap(raw), duration=duration)
        assert status == 400 and xml_field(body, "Code") == "ValidationError", body
    status, body = assume_saml(saml_sts.url, "A" * 100_004)
    assert status == 400 and xml_field(body, "Code") == "ValidationError", body
    status, body = assume_saml(saml_sts.url, wrap(raw),
                               principal_arn=f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/unknown")
    assert (xml_field(body, "Code"), xml_field(body, "Message")) == (
        "InvalidIdentityToken", "Specified provider doesn't exist"), body
    status, body = assume_saml(saml_sts.url, base64.urlsafe_b64encode(wrap(raw)).decode().rstrip("="))
    assert status == 400 and xml_field(body, "Code") == "InvalidIdentityToken", body
    idp.saml(session_name="x")
    status, body = assume_saml(saml_sts.url, wrap(exchange(idp, access_token)))
    assert status == 400 and "RoleSessionName" in body, body
    # a bare assertion (no samlp:Response) is refused
    status, body = assume_saml(saml_sts.url, raw)
    assert status == 400 and xml_field(body, "Code") == "InvalidIdentityToken", body


def test_exchange_timing(idp, access_token):
    t = time.monotonic()
    exchange(idp, access_token)
    assert time.monotonic() - t < 5


def test_inclusive_c14n_would_not_survive_the_splice(idp, saml_sts):
    """Why the IdP must sign with exclusive c14n: the same assertion signed with inclusive
    c14n verifies alone but not once spliced into the samlp:Response (the Response's namespace
    declarations enter the canonical form), so the exclusive-c14n success above is meaningful."""
    import sys
    from pathlib import Path

    from lxml import etree
    from signxml import SignatureMethod, XMLSigner, XMLVerifier

    from support import REPO

    sys.path.insert(0, str(REPO / "tests" / "idp"))
    try:
        import saml_sign
    finally:
        sys.path.pop(0)
    key_dir = Path(idp.saml()["key_dir"])
    xml, aid = saml_sign.assertion_template({
        "issuer": idp.issuer + "/realms/test", "roles": [f"{ROLE_ARN},{PROVIDER_ARN}"],
        "session_name": "dev"})
    cert = (key_dir / "cert.pem").read_text()
    signed = etree.tostring(XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        c14n_algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315").sign(
            etree.fromstring(xml.encode()), key=(key_dir / "key.pem").read_bytes(), cert=cert,
            reference_uri="#" + aid))
    XMLVerifier().verify(signed, x509_cert=cert, expect_references=1)     # alone: valid
    status, body = assume_saml(saml_sts.url, wrap(signed))
    assert (status, xml_field(body, "Message")) == (400, "Response signature invalid"), body
