#!/usr/bin/env python3
"""Mints a Keycloak-shaped, signed SAML 2.0 assertion for the test IdP's token exchange.

    saml_sign.py KEY_DIR < request.json > assertion.xml
    saml_sign.py KEY_DIR --init          # only make the key pair; prints the cert path

KEY_DIR holds key.pem (RSA 2048) and cert.pem (self-signed X.509, the certificate an IAM
SAML provider would hold), generated once (under a lock) and reused afterwards.

The request (JSON on stdin), every field optional:
  issuer            entity id of the IdP (Keycloak: http://host/realms/<realm>)
  subject           NameID (Keycloak: the username)
  roles             ["<role ARN>,<saml-provider ARN>", ...] values of the
                    https://aws.amazon.com/SAML/Attributes/Role attribute, in this order
                    (either order inside a pair is passed through as given)
  session_name      RoleSessionName attribute (absent when null)
  session_duration  SessionDuration attribute, seconds (absent when null)
  recipient         SubjectConfirmationData Recipient (https://signin.aws.amazon.com/saml)
  audience          Conditions/AudienceRestriction/Audience (urn:amazon:webservices)
  not_on_or_after   seconds from now (300; negative: already expired)
  encrypt           true: answer a <saml:EncryptedAssertion> instead (a fake: AWS cannot use
                    one, the consumer must refuse it; nothing inside decrypts)

The assertion is signed with signxml: enveloped signature placed after <saml:Issuer> (as SAML
requires), Reference URI="#<ID>", exclusive c14n, RSA-SHA256, SHA-256 digest, the certificate
in KeyInfo. Timestamps carry milliseconds, like Keycloak's. Output: the assertion bytes
(no XML declaration), nothing else.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import json
import os
import secrets
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
XENC_NS = "http://www.w3.org/2001/04/xmlenc#"
ROLE_ATTR = "https://aws.amazon.com/SAML/Attributes/Role"
SESSION_NAME_ATTR = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
SESSION_DURATION_ATTR = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def ensure_keys(key_dir: Path) -> tuple[Path, Path]:
    """key.pem and cert.pem in key_dir, generated once (flock: parallel callers agree)."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_path, cert_path = key_dir / "key.pem", key_dir / "cert.pem"
    with open(key_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if key_path.exists() and cert_path.exists():
            return key_path, cert_path
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aws-oidc test SAML IdP")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=3650))
                .sign(key, hashes.SHA256()))
        for path, data in (
            (key_path, key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())),
            (cert_path, cert.public_bytes(serialization.Encoding.PEM)),
        ):
            tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return key_path, cert_path


def instant(t: dt.datetime) -> str:
    """Keycloak's form: 2026-12-02T05:00:00.123Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _attribute(name: str, friendly: str, values: list[str]) -> str:
    vals = "".join(
        '<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">'
        f"{escape(v)}</saml:AttributeValue>" for v in values)
    return (f"<saml:Attribute FriendlyName={quoteattr(friendly)} Name={quoteattr(name)} "
            'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">'
            f"{vals}</saml:Attribute>")


def assertion_template(req: dict) -> tuple[str, str]:
    """The unsigned assertion (with a signature placeholder) and its ID."""
    now = dt.datetime.now(dt.timezone.utc)
    not_after = now + dt.timedelta(seconds=float(req.get("not_on_or_after", 300)))
    not_before = now - dt.timedelta(seconds=60) if float(req.get("not_on_or_after", 300)) > 0 \
        else not_after - dt.timedelta(seconds=300)
    aid = "ID_" + secrets.token_hex(16)
    issuer = str(req.get("issuer") or "http://127.0.0.1/realms/test")
    subject = str(req.get("subject") or "dev")
    recipient = str(req.get("recipient") or "https://signin.aws.amazon.com/saml")
    audience = str(req.get("audience") or "urn:amazon:webservices")
    attrs = []
    roles = [str(r) for r in req.get("roles") or []]
    if roles:
        attrs.append(_attribute(ROLE_ATTR, "Session Role", roles))
    if req.get("session_name") is not None:
        attrs.append(_attribute(SESSION_NAME_ATTR, "Session Name", [str(req["session_name"])]))
    if req.get("session_duration") is not None:
        attrs.append(_attribute(SESSION_DURATION_ATTR, "Session Duration",
                                [str(int(req["session_duration"]))]))
    statement = f"<saml:AttributeStatement>{''.join(attrs)}</saml:AttributeStatement>" if attrs else ""
    xml = (
        f'<saml:Assertion xmlns="{SAML_NS}" xmlns:saml="{SAML_NS}" ID="{aid}" '
        f'IssueInstant="{instant(now)}" Version="2.0">'
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f'<ds:Signature xmlns:ds="{DSIG_NS}" Id="placeholder"></ds:Signature>'
        "<saml:Subject>"
        '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">'
        f"{escape(subject)}</saml:NameID>"
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{instant(not_after)}" '
        f"Recipient={quoteattr(recipient)}/>"
        "</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{instant(not_before)}" NotOnOrAfter="{instant(not_after)}">'
        f"<saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience>"
        "</saml:AudienceRestriction></saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="{instant(now)}" '
        f'SessionIndex="{secrets.token_hex(8)}::{secrets.token_hex(8)}" '
        f'SessionNotOnOrAfter="{instant(now + dt.timedelta(hours=10))}">'
        "<saml:AuthnContext><saml:AuthnContextClassRef>"
        "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
        f"{statement}</saml:Assertion>")
    return xml, aid


def sign(xml: str, aid: str, key_path: Path, cert_path: Path) -> bytes:
    from lxml import etree
    from signxml import SignatureMethod, XMLSigner
    from signxml.algorithms import DigestAlgorithm

    root = etree.fromstring(xml.encode())
    signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256,
                       digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=EXC_C14N)
    signed = signer.sign(root, key=key_path.read_bytes(), cert=cert_path.read_text(),
                         reference_uri="#" + aid)
    return etree.tostring(signed)


def encrypted_assertion() -> bytes:
    """A fake <saml:EncryptedAssertion> (the shape Keycloak answers when the SAML client
    requires encryption): random cipher bytes, nothing decrypts it."""
    cipher = base64.b64encode(secrets.token_bytes(512)).decode()
    key = base64.b64encode(secrets.token_bytes(256)).decode()
    return (
        f'<saml:EncryptedAssertion xmlns:saml="{SAML_NS}">'
        f'<xenc:EncryptedData xmlns:xenc="{XENC_NS}" Type="{XENC_NS}Element">'
        f'<xenc:EncryptionMethod Algorithm="{XENC_NS}aes128-cbc"/>'
        f'<ds:KeyInfo xmlns:ds="{DSIG_NS}"><xenc:EncryptedKey>'
        f'<xenc:EncryptionMethod Algorithm="{XENC_NS}rsa-oaep-mgf1p"/>'
        f"<xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData>"
        "</xenc:EncryptedKey></ds:KeyInfo>"
        f"<xenc:CipherData><xenc:CipherValue>{cipher}</xenc:CipherValue></xenc:CipherData>"
        "</xenc:EncryptedData></saml:EncryptedAssertion>").encode()


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    key_path, cert_path = ensure_keys(Path(argv[1]))
    if "--init" in argv[2:]:
        print(cert_path)
        return 0
    req = json.loads(sys.stdin.read() or "{}")
    if req.get("encrypt"):
        out = encrypted_assertion()
    else:
        xml, aid = assertion_template(req)
        out = sign(xml, aid, key_path, cert_path)
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
