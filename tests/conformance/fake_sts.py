#!/usr/bin/env python3
"""A fake AWS STS with short-lived credentials, for time-travel tests (stdlib only).

moto's STS hands out 1-hour credentials and never expires them, so nothing that
depends on refresh can be tested against it. This server speaks the AWS query
protocol (form POST, XML answers in the 2011-06-15 namespace) on 127.0.0.1 and:

* AssumeRoleWithWebIdentity (unsigned): decodes the JWT (no signature check),
  refuses it when past `exp` + `token_skew` (ExpiredTokenException), then issues
  fresh credentials (ASIA... key id, secret, session token) that expire after
  `lifetime` seconds, whatever DurationSeconds says.
* AssumeRole (SigV4): the Authorization header's key id must be one this server
  issued, unexpired, with the matching X-Amz-Security-Token and a valid
  signature; issues credentials the same way (ExternalId recorded).
* GetCallerIdentity (SigV4, same checks): answers with
  arn:aws:sts::<account>:assumed-role/<role>/<session> of that key id.
  Expired key id -> 403 ExpiredToken; unknown key id or wrong session token ->
  403 InvalidClientTokenId; bad signature -> 403 SignatureDoesNotMatch.
* A role whose name contains `deny_substring` ("deny") -> 403 AccessDenied.
* Optional, like an IAM OIDC identity provider: `identity_providers` maps an issuer URL to
  {"jwks_url": URL (default: the issuer's discovery document's jwks_uri),
   "audiences": [client ids] (empty or absent: any)}. When set, AssumeRoleWithWebIdentity
  also checks the token as AWS does: issuer known (else InvalidIdentityToken "No
  OpenIDConnect provider found in your account for <iss>"), signature RS256/ES256 against
  the provider's JWKS (InvalidIdentityToken; JWKS unreachable -> IDPCommunicationError),
  expiry (ExpiredTokenException), audience (InvalidIdentityToken "Incorrect token
  audience"). Absent (the default): no signature, issuer or audience check.

* AssumeRoleWithSAML (unsigned), strict (moto checks nothing): `saml_providers` maps a
  saml-provider ARN (PrincipalArn) to the IdP's certificate (PEM text or a path). Checks, in
  order: SAMLAssertion length <= 100,000 (ValidationError), standard base64 of a samlp:Response
  with Success status and one saml:Assertion (InvalidIdentityToken), PrincipalArn known
  (InvalidIdentityToken "Specified provider doesn't exist"), the Assertion's XML signature
  (signxml, against that certificate; InvalidIdentityToken "Response signature invalid"; every
  later check reads only the signed element), Recipient an AWS sign-in SAML URL
  (InvalidIdentityToken), NotOnOrAfter not passed (ExpiredTokenException "... expired ...
  NotOnOrAfter ..."), Audience urn:amazon:webservices (InvalidIdentityToken), RoleArn +
  PrincipalArn a pair of the Role attribute in either order (403 AccessDenied "Not authorized
  to perform sts:AssumeRoleWithSAML"), RoleSessionName attribute present and
  2-64 characters of [\\w+=,.@-] (InvalidIdentityToken), DurationSeconds 900..43200 and <= the
  SessionDuration attribute (ValidationError); then issues credentials like the others.

Every call is recorded (action, role, session, token claims, user agent, the
key id issued or used, the error) together with the peak number of requests in
flight. `latency` (seconds) delays every STS answer, to make concurrency visible.

In process (tests):
    sts = FakeSTS(lifetime=6).start(); ...; sts.calls(action=...); sts.stop()
Standalone (bench):
    fake_sts.py serve --port 0 --port-file F [--lifetime S] [--latency-ms N]
                      [--identity-provider ISSUER[=JWKS_URL]] [--audience CLIENT_ID]
Admin endpoints (both modes): GET /_calls, GET /_stats, POST /_config
({"lifetime": s, "latency_ms": n, "token_skew": s, "deny_substring": "deny",
"identity_providers": {issuer: {"jwks_url": u, "audiences": [..]}},
"saml_providers": {principal_arn: cert_pem_or_path}}),
POST /_reset (forget calls, keep issued credentials), GET /healthz.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import signal
import string
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ROLE_ARN_RE = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})")
SESSION_RE = re.compile(r"[\w+=,.@-]{2,64}")
AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})\s*$")
_ALNUM = string.ascii_uppercase + string.digits


def _rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def jwt_claims(token: str) -> dict | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        seg = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(seg))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


class StsError(Exception):
    def __init__(self, status: int, code: str, message: str, sender: bool = True):
        super().__init__(message)
        self.status, self.code, self.message, self.sender = status, code, message, sender


class FakeSTS:
    def __init__(self, lifetime: float = 6.0, latency: float = 0.0, token_skew: float = 0.0,
                 deny_substring: str = "deny", verify_signatures: bool = True,
                 host: str = "127.0.0.1", port: int = 0,
                 identity_providers: dict[str, dict] | None = None,
                 saml_providers: dict[str, str] | None = None):
        self.lifetime = lifetime
        self.latency = latency
        self.token_skew = token_skew
        self.deny_substring = deny_substring
        self.verify_signatures = verify_signatures
        self.identity_providers: dict[str, dict] = _idps(identity_providers)
        self._jwks = JwksCache()
        self.saml_providers: dict[str, str] = _saml_providers(saml_providers)
        self.lock = threading.Lock()
        self._calls: list[dict] = []
        self.issued: dict[str, dict] = {}        # akid -> record (with secrets)
        self.inflight = 0
        self.max_inflight = 0
        self._host, self._port = host, port
        self.httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FakeSTS":
        srv = ThreadingHTTPServer.__new__(ThreadingHTTPServer)
        srv.request_queue_size = 128          # 20+ parallel clients must not hit SYN retries
        ThreadingHTTPServer.__init__(srv, (self._host, self._port), _Handler)
        srv.daemon_threads = True
        srv.fake = self  # type: ignore[attr-defined]
        self.httpd = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="fake-sts")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def port(self) -> int:
        assert self.httpd is not None
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -------------------------------------------------------------------- queries

    def calls(self, action: str | None = None, since: int = 0, ok: bool | None = None,
              **match) -> list[dict]:
        """Recorded calls (copies), optionally filtered by action, success and field values."""
        with self.lock:
            out = [dict(c) for c in self._calls[since:]]
        if action:
            out = [c for c in out if c["action"] == action]
        if ok is not None:
            out = [c for c in out if (c.get("error") is None) == ok]
        for k, v in match.items():
            out = [c for c in out if c.get(k) == v]
        return out

    def mark(self) -> int:
        """Index to pass as `since=` to see only later calls."""
        with self.lock:
            return len(self._calls)

    def reset_inflight(self) -> None:
        with self.lock:
            self.max_inflight = self.inflight

    def secrets(self) -> set[str]:
        """Every secret key and session token issued so far (for leak checks)."""
        with self.lock:
            return {v for r in self.issued.values() for v in (r["secret"], r["token"])}

    def record(self, akid: str) -> dict:
        with self.lock:
            r = self.issued.get(akid)
            if r is None:
                raise AssertionError(f"fake STS never issued access key {akid!r}")
            return dict(r)

    def configure(self, **kw) -> None:
        for k, v in kw.items():
            if k == "latency_ms":
                self.latency = float(v) / 1000
            elif k in ("lifetime", "latency", "token_skew"):
                setattr(self, k, float(v))
            elif k == "deny_substring":
                self.deny_substring = str(v)
            elif k == "identity_providers":
                self.identity_providers = _idps(v)
            elif k == "saml_providers":
                self.saml_providers = _saml_providers(v)
            else:
                raise KeyError(k)

    # ------------------------------------------------------------------ internals

    def _issue(self, role_arn: str, session: str, parent: str | None, **extra) -> dict:
        m = ROLE_ARN_RE.fullmatch(role_arn)
        assert m  # checked by caller
        now = time.time()
        expires = math.floor(now + self.lifetime)
        akid = "ASIA" + _rand(_ALNUM, 16)
        rec = {
            "akid": akid,
            "secret": _rand(string.ascii_letters + string.digits + "+/", 40),
            "token": "FQoGZXIvYXdzE" + base64.b64encode(secrets.token_bytes(150)).decode(),
            "expires": expires,
            "expiration": iso(expires),
            "issued_at": now,
            "role_arn": role_arn,
            "role": m.group(3),
            "account": m.group(2),
            "partition": m.group(1),
            "session": session,
            "role_id": "AROA" + hashlib.sha1(role_arn.encode()).hexdigest()[:17].upper(),
            "parent": parent,
            **extra,
        }
        with self.lock:
            self.issued[akid] = rec
        return rec

    def _check_role(self, params: dict, action: str) -> tuple[str, str]:
        role_arn = params.get("RoleArn", "")
        session = params.get("RoleSessionName", "")
        m = ROLE_ARN_RE.fullmatch(role_arn)
        if not m:
            raise StsError(400, "ValidationError", f"{role_arn!r} is not a valid role ARN")
        if not SESSION_RE.fullmatch(session):
            raise StsError(400, "ValidationError",
                           "1 validation error detected: Value at 'roleSessionName' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: "
                           "[\\w+=,.@-]*")
        if self.deny_substring and self.deny_substring in m.group(3):
            raise StsError(403, "AccessDenied", f"Not authorized to perform sts:{action}")
        return role_arn, session

    def _caller(self, handler: "_Handler", body: bytes, call: dict) -> dict:
        """The issued record of the SigV4 caller, after all checks."""
        auth = handler.headers.get("Authorization", "")
        m = AUTH_RE.match(auth)
        if not m:
            raise StsError(403, "MissingAuthenticationToken" if not auth else "IncompleteSignature",
                           "Request is missing Authentication Token")
        akid, date, region, service, signed, signature = m.groups()
        call["caller_akid"] = akid
        with self.lock:
            rec = self.issued.get(akid)
            rec = dict(rec) if rec else None
        if rec is None:
            raise StsError(403, "InvalidClientTokenId",
                           "The security token included in the request is invalid.")
        call["caller_role_arn"], call["caller_session"] = rec["role_arn"], rec["session"]
        if handler.headers.get("X-Amz-Security-Token") != rec["token"]:
            raise StsError(403, "InvalidClientTokenId",
                           "The security token included in the request is invalid.")
        if time.time() >= rec["expires"]:
            call["expired_by"] = round(time.time() - rec["expires"], 3)
            raise StsError(403, "ExpiredToken", "The security token included in the request is expired")
        if self.verify_signatures:
            want = sigv4_signature(handler.command, handler.path, handler.headers, body,
                                   signed.split(";"), rec["secret"], date, region, service)
            if not hmac.compare_digest(want, signature):
                raise StsError(403, "SignatureDoesNotMatch",
                               "The request signature we calculated does not match the "
                               "signature you provided.")
        return rec

    def handle(self, handler: "_Handler", body: bytes) -> tuple[int, str]:
        params = dict(parse_qsl(urlsplit(handler.path).query, keep_blank_values=True))
        ctype = handler.headers.get("Content-Type", "")
        if handler.command == "POST" and "x-www-form-urlencoded" in ctype:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = params.get("Action", "")
        call = {
            "action": action,
            "time": time.time(),
            "user_agent": handler.headers.get("User-Agent", ""),
            "error": None,
        }
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.latency:
                time.sleep(self.latency)
            try:
                return 200, self._dispatch(action, params, handler, body, call)
            except StsError as e:
                call["error"] = e.code
                return e.status, error_xml(e)
        finally:
            with self.lock:
                self.inflight -= 1
                self._calls.append(call)

    def _dispatch(self, action, params, handler, body, call) -> str:
        if action in ("AssumeRoleWithWebIdentity", "AssumeRole", "AssumeRoleWithSAML"):
            # The session's limits, as sent: Policy, PolicyArns.member.N.arn (in order).
            call["policy"] = params.get("Policy")
            call["policy_arns"] = [params[k] for k in sorted(
                (k for k in params if re.fullmatch(r"PolicyArns\.member\.\d+\.arn", k)),
                key=lambda k: int(k.split(".")[2]))]
        if action == "AssumeRoleWithWebIdentity":
            call["role_arn"] = params.get("RoleArn")
            call["session"] = params.get("RoleSessionName")
            call["duration"] = params.get("DurationSeconds")
            role_arn, session = self._check_role(params, action)
            token = params.get("WebIdentityToken", "")
            call["token_sha256"] = hashlib.sha256(token.encode()).hexdigest()
            claims = jwt_claims(token)
            if claims is None:
                raise StsError(400, "InvalidIdentityToken", "Token is not a valid JWT")
            call.update(jti=claims.get("jti"), sub=claims.get("sub"), aud=claims.get("aud"),
                        iss=claims.get("iss"), token_exp=claims.get("exp"))
            idp = None
            if self.identity_providers:
                idp = self.identity_providers.get(str(claims.get("iss")))
                if idp is None:
                    raise StsError(400, "InvalidIdentityToken",
                                   f"No OpenIDConnect provider found in your account for "
                                   f"{claims.get('iss')}")
                call["alg"] = verify_jwt_signature(token, idp, self._jwks)
            exp = claims.get("exp")
            if not isinstance(exp, (int, float)) or time.time() > exp + self.token_skew:
                raise StsError(400, "ExpiredTokenException",
                               f"Token expired: current date/time {iso(time.time())} must be "
                               f"before the expiration date/time {iso(exp or 0)}")
            if idp is not None and idp["audiences"]:
                aud = claims.get("aud")
                auds = aud if isinstance(aud, list) else [aud]
                if not any(a in idp["audiences"] for a in auds):
                    raise StsError(400, "InvalidIdentityToken", "Incorrect token audience")
            rec = self._issue(role_arn, session, None, sub=claims.get("sub"), jti=claims.get("jti"))
            call["issued"] = rec["akid"]
            return response_xml(action, rec, web_identity=(claims, ))
        if action == "AssumeRoleWithSAML":
            call["role_arn"] = params.get("RoleArn")
            call["principal_arn"] = params.get("PrincipalArn")
            call["duration"] = params.get("DurationSeconds")
            call["session"] = None
            assertion = params.get("SAMLAssertion", "")
            call["assertion_sha256"] = hashlib.sha256(assertion.encode()).hexdigest()
            saml = check_saml(params, self.saml_providers)
            call.update(session=saml["session"], subject=saml["subject"], issuer=saml["issuer"],
                        assertion_id=saml["assertion_id"])
            role_arn = params["RoleArn"]
            m = ROLE_ARN_RE.fullmatch(role_arn)
            assert m  # checked in check_saml
            if self.deny_substring and self.deny_substring in m.group(3):
                raise StsError(403, "AccessDenied", f"Not authorized to perform sts:{action}")
            rec = self._issue(role_arn, saml["session"], None, principal_arn=params["PrincipalArn"],
                              sub=saml["subject"])
            call["issued"] = rec["akid"]
            return response_xml(action, rec, saml=saml)
        if action == "AssumeRole":
            call["role_arn"] = params.get("RoleArn")
            call["session"] = params.get("RoleSessionName")
            call["external_id"] = params.get("ExternalId")
            call["duration"] = params.get("DurationSeconds")
            caller = self._caller(handler, body, call)
            role_arn, session = self._check_role(params, action)
            rec = self._issue(role_arn, session, caller["akid"], external_id=params.get("ExternalId"))
            call["issued"] = rec["akid"]
            return response_xml(action, rec)
        if action == "GetCallerIdentity":
            caller = self._caller(handler, body, call)
            call["arn"] = assumed_arn(caller)
            return (f'<GetCallerIdentityResponse xmlns="{NS}"><GetCallerIdentityResult>'
                    f"<Arn>{escape(assumed_arn(caller))}</Arn>"
                    f"<UserId>{caller['role_id']}:{escape(caller['session'])}</UserId>"
                    f"<Account>{caller['account']}</Account>"
                    f"</GetCallerIdentityResult>{_meta()}</GetCallerIdentityResponse>")
        raise StsError(400, "InvalidAction", f"Could not find operation {action!r} for version 2011-06-15")


# ------------------------------------------------------- web identity token signatures


def _idps(value) -> dict[str, dict]:
    """Normalise identity_providers: {issuer: {"jwks_url": str|None, "audiences": [str]}}."""
    out: dict[str, dict] = {}
    for issuer, conf in (value or {}).items():
        conf = dict(conf or {})
        unknown = set(conf) - {"jwks_url", "audiences"}
        if unknown:
            raise KeyError(f"identity_providers[{issuer!r}]: unknown keys {sorted(unknown)}")
        auds = conf.get("audiences") or []
        out[str(issuer)] = {"jwks_url": conf.get("jwks_url"),
                            "audiences": [auds] if isinstance(auds, str) else list(auds)}
    return out


def _saml_providers(value) -> dict[str, str]:
    """Normalise saml_providers: {principal_arn: certificate PEM text} (a path is read)."""
    out: dict[str, str] = {}
    for arn, cert in (value or {}).items():
        cert = str(cert)
        if "-----BEGIN" not in cert:
            with open(cert) as f:
                cert = f.read()
        out[str(arn)] = cert
    return out


# ---------------------------------------------------------------- SAML assertions

SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
SAML_ROLE_ATTR = "https://aws.amazon.com/SAML/Attributes/Role"
SAML_SESSION_NAME_ATTR = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
SAML_SESSION_DURATION_ATTR = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
SAML_PROVIDER_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:saml-provider/[\w+=,.@-]{1,128}")
AWS_SAML_RECIPIENT_RE = re.compile(r"https://(?:[a-z]{2}(?:-[a-z]+)+-\d\.)?signin\.aws\.amazon\.com/saml")
SAML_AUDIENCES = ("urn:amazon:webservices",)


def _saml_instant(value: str | None) -> float | None:
    if not value:
        return None
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", value.strip())
    if not m:
        return None
    base = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    return base.timestamp() + (float(m.group(2)) if m.group(2) else 0.0)


def check_saml(params: dict, providers: dict[str, str]) -> dict:
    """The checks AWS STS makes on AssumeRoleWithSAML; returns the session facts or raises
    StsError. Only the element the signature covers is read after the signature check."""
    from lxml import etree
    from signxml import XMLVerifier
    from signxml.exceptions import InvalidInput, InvalidSignature

    invalid = lambda msg: StsError(400, "InvalidIdentityToken", msg)  # noqa: E731
    role_arn = params.get("RoleArn", "")
    principal = params.get("PrincipalArn", "")
    assertion = params.get("SAMLAssertion", "")
    if not ROLE_ARN_RE.fullmatch(role_arn):
        raise StsError(400, "ValidationError", f"{role_arn!r} is not a valid role ARN")
    if not SAML_PROVIDER_ARN_RE.fullmatch(principal):
        raise StsError(400, "ValidationError", f"{principal!r} is not a valid SAML provider ARN")
    if len(assertion) > 100_000 or len(assertion) < 4:
        raise StsError(400, "ValidationError",
                       "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy "
                       "constraint: Member must have length "
                       + ("less than or equal to 100000" if len(assertion) > 100_000 else
                          "greater than or equal to 4"))
    duration = params.get("DurationSeconds")
    if duration is not None:
        if not duration.isdigit() or not 900 <= int(duration) <= 43200:
            raise StsError(400, "ValidationError",
                           f"1 validation error detected: Value '{duration}' at 'durationSeconds' "
                           "failed to satisfy constraint: Member must have value "
                           + ("less than or equal to 43200" if duration.isdigit()
                              and int(duration) > 43200 else "greater than or equal to 900"))
    try:
        raw = base64.b64decode(assertion, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("Invalid base64 SAMLResponse") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError:
        raise invalid("Malformed SAML response") from None
    if root.tag != f"{{{SAMLP_NS}}}Response":
        raise invalid("Invalid SAML response: the root element is not a samlp:Response")
    code = root.find(f"{{{SAMLP_NS}}}Status/{{{SAMLP_NS}}}StatusCode")
    if code is None or code.get("Value") != "urn:oasis:names:tc:SAML:2.0:status:Success":
        raise invalid("Invalid SAML response: status is not Success")
    if root.find(f"{{{SAML_NS}}}EncryptedAssertion") is not None:
        raise invalid("Encrypted SAML assertions need a private key configured on the SAML "
                      "provider; none is")
    assertions = root.findall(f"{{{SAML_NS}}}Assertion")
    if len(assertions) != 1:
        raise invalid("Invalid SAML response: it must hold exactly one Assertion")
    cert = providers.get(principal)
    if cert is None:
        raise invalid("Specified provider doesn't exist")
    try:
        verified = XMLVerifier().verify(raw, x509_cert=cert, expect_references=1,
                                        parser=parser)
    except (InvalidSignature, InvalidInput, ValueError):
        raise invalid("Response signature invalid") from None
    a = verified.signed_xml
    if a is None or a.tag != f"{{{SAML_NS}}}Assertion" or a.get("ID") != assertions[0].get("ID"):
        raise invalid("Response signature invalid")
    ns = {"saml": SAML_NS}
    now = time.time()
    conf = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", ns)
    recipient = conf.get("Recipient") if conf is not None else None
    if not recipient or not AWS_SAML_RECIPIENT_RE.fullmatch(recipient):
        raise invalid(f"Invalid SAML assertion: Recipient {recipient!r} is not "
                      "https://signin.aws.amazon.com/saml or "
                      "https://<region>.signin.aws.amazon.com/saml")
    conditions = a.find("saml:Conditions", ns)
    for not_after in (conf.get("NotOnOrAfter"),
                      conditions.get("NotOnOrAfter") if conditions is not None else None):
        t = _saml_instant(not_after)
        if not_after is not None and (t is None or now >= t):
            raise StsError(400, "ExpiredTokenException",
                           f"The SAML assertion has expired: current date/time {iso(now)} must "
                           f"be before NotOnOrAfter {not_after}")
    not_before = _saml_instant(conditions.get("NotBefore") if conditions is not None else None)
    if not_before is not None and now < not_before - 300:
        raise invalid("Invalid SAML assertion: NotBefore is in the future")
    audiences = [x.text for x in a.findall("saml:Conditions/saml:AudienceRestriction/saml:Audience", ns)]
    if not any((x or "").strip() in SAML_AUDIENCES for x in audiences):
        raise invalid(f"Invalid SAML assertion: Audience {audiences!r} does not include "
                      "urn:amazon:webservices")
    attrs: dict[str, list[str]] = {}
    for attr in a.findall("saml:AttributeStatement/saml:Attribute", ns):
        attrs.setdefault(attr.get("Name", ""), []).extend(
            (v.text or "").strip() for v in attr.findall("saml:AttributeValue", ns))
    pairs = []
    for value in attrs.get(SAML_ROLE_ATTR, []):
        parts = [x.strip() for x in value.split(",")]
        if len(parts) == 2:
            pairs.append(frozenset(parts))
    if frozenset((role_arn, principal)) not in pairs:
        raise StsError(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
    names = attrs.get(SAML_SESSION_NAME_ATTR, [])
    if len(names) != 1:
        raise invalid("Invalid SAML assertion: it must have exactly one RoleSessionName attribute")
    session = names[0]
    if not SESSION_RE.fullmatch(session):
        raise invalid("Invalid SAML assertion: RoleSessionName must be 2-64 characters of "
                      "[\\w+=,.@-]")
    limits = attrs.get(SAML_SESSION_DURATION_ATTR, [])
    if limits:
        if not limits[0].isdigit() or not 900 <= int(limits[0]) <= 43200:
            raise invalid("Invalid SAML assertion: SessionDuration must be 900-43200 seconds")
        if duration is not None and int(duration) > int(limits[0]):
            raise StsError(400, "ValidationError",
                           f"The requested DurationSeconds {duration} exceeds the SessionDuration "
                           f"{limits[0]} of the SAML assertion")
    issuer = a.find("saml:Issuer", ns)
    name_id = a.find("saml:Subject/saml:NameID", ns)
    return {
        "session": session,
        "subject": (name_id.text or "").strip() if name_id is not None else "",
        "subject_type": (name_id.get("Format", "") if name_id is not None else "").rsplit(":", 1)[-1],
        "issuer": (issuer.text or "").strip() if issuer is not None else "",
        "audience": recipient,
        "assertion_id": a.get("ID"),
        "principal_arn": principal,
    }


def _b64url(seg: str) -> bytes:
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


class JwksCache:
    """JWKS documents by URL; fetched again when a token names an unknown kid."""

    def __init__(self):
        self.lock = threading.Lock()
        self.docs: dict[str, list[dict]] = {}

    def keys(self, url: str, refresh: bool = False) -> list[dict]:
        with self.lock:
            if not refresh and url in self.docs:
                return self.docs[url]
        req = urllib.request.Request(url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:   # 127.0.0.1 only in tests
            doc = json.loads(r.read())
        keys = [k for k in doc.get("keys", []) if isinstance(k, dict)]
        with self.lock:
            self.docs[url] = keys
        return keys


def _jwks_url(idp: dict, issuer: str) -> str:
    if idp.get("jwks_url"):
        return idp["jwks_url"]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())["jwks_uri"]


def verify_jwt_signature(token: str, idp: dict, cache: JwksCache) -> str:
    """Verifies the JWS signature of `token` (RS256 or ES256) with the provider's JWKS.
    Returns the alg; raises StsError as STS would."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    invalid = StsError(400, "InvalidIdentityToken",
                       "The web identity token signature could not be verified with the "
                       "identity provider's keys")
    try:
        h64, p64, s64 = token.split(".")
        header = json.loads(_b64url(h64))
        sig = _b64url(s64)
        claims = json.loads(_b64url(p64))
    except (ValueError, binascii.Error):
        raise StsError(400, "InvalidIdentityToken", "Token is not a valid JWT") from None
    alg = header.get("alg") if isinstance(header, dict) else None
    if alg not in ("RS256", "ES256"):
        raise StsError(400, "InvalidIdentityToken", f"Unsupported token signing algorithm {alg!r}")
    kty = "RSA" if alg == "RS256" else "EC"
    kid = header.get("kid")
    try:
        url = _jwks_url(idp, str(claims.get("iss")))
        keys = cache.keys(url)
        if kid is not None and not any(k.get("kid") == kid for k in keys):
            keys = cache.keys(url, refresh=True)
    except (OSError, ValueError, KeyError):
        raise StsError(400, "IDPCommunicationError",
                       "Couldn't retrieve verification key from your identity provider, please "
                       "reference AssumeRoleWithWebIdentity documentation for requirements") from None
    candidates = [k for k in keys if k.get("kty") == kty and (kid is None or k.get("kid") == kid)
                  and k.get("use", "sig") == "sig" and k.get("alg", alg) == alg]
    if not candidates:
        raise invalid
    signed = f"{h64}.{p64}".encode()
    for k in candidates:
        try:
            if kty == "RSA":
                pub = rsa.RSAPublicNumbers(int.from_bytes(_b64url(k["e"]), "big"),
                                           int.from_bytes(_b64url(k["n"]), "big")).public_key()
                pub.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
            else:
                if k.get("crv") != "P-256" or len(sig) != 64:
                    continue
                pub = ec.EllipticCurvePublicNumbers(int.from_bytes(_b64url(k["x"]), "big"),
                                                    int.from_bytes(_b64url(k["y"]), "big"),
                                                    ec.SECP256R1()).public_key()
                der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                           int.from_bytes(sig[32:], "big"))
                pub.verify(der, signed, ec.ECDSA(hashes.SHA256()))
            return alg
        except (InvalidSignature, KeyError, ValueError, binascii.Error):
            continue
    raise invalid


def assumed_arn(rec: dict) -> str:
    return f"arn:{rec['partition']}:sts::{rec['account']}:assumed-role/{rec['role']}/{rec['session']}"


def _meta() -> str:
    return f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"


def response_xml(action: str, rec: dict, web_identity: tuple | None = None,
                 saml: dict | None = None) -> str:
    extra = ""
    if saml:
        name_qualifier = base64.b64encode(hashlib.sha1(
            (saml["issuer"] + rec["account"] + saml["principal_arn"].rsplit("/", 1)[-1]).encode()
        ).digest()).decode()
        extra = (f"<Subject>{escape(saml['subject'])}</Subject>"
                 f"<SubjectType>{escape(saml['subject_type'])}</SubjectType>"
                 f"<Issuer>{escape(saml['issuer'])}</Issuer>"
                 f"<Audience>{escape(saml['audience'])}</Audience>"
                 f"<NameQualifier>{name_qualifier}</NameQualifier>")
    if web_identity:
        claims = web_identity[0]
        extra = (f"<SubjectFromWebIdentityToken>{escape(str(claims.get('sub', '')))}"
                 f"</SubjectFromWebIdentityToken>"
                 f"<Audience>{escape(str(claims.get('aud', '')))}</Audience>"
                 f"<Provider>{escape(str(claims.get('iss', '')))}</Provider>")
    return (f'<{action}Response xmlns="{NS}"><{action}Result>{extra}'
            f"<AssumedRoleUser><Arn>{escape(assumed_arn(rec))}</Arn>"
            f"<AssumedRoleId>{rec['role_id']}:{escape(rec['session'])}</AssumedRoleId></AssumedRoleUser>"
            f"<Credentials><AccessKeyId>{rec['akid']}</AccessKeyId>"
            f"<SecretAccessKey>{escape(rec['secret'])}</SecretAccessKey>"
            f"<SessionToken>{escape(rec['token'])}</SessionToken>"
            f"<Expiration>{rec['expiration']}</Expiration></Credentials>"
            f"</{action}Result>{_meta()}</{action}Response>")


def error_xml(e: StsError) -> str:
    return (f'<ErrorResponse xmlns="{NS}"><Error><Type>{"Sender" if e.sender else "Receiver"}</Type>'
            f"<Code>{e.code}</Code><Message>{escape(e.message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")


# ------------------------------------------------------------------------ SigV4


def _uri_encode(s: str, safe: str = "-_.~") -> str:
    return quote(s, safe=safe)


def sigv4_signature(method: str, path: str, headers, body: bytes, signed: list[str],
                    secret: str, date: str, region: str, service: str) -> str:
    url = urlsplit(path)
    canonical_uri = url.path or "/"
    query = sorted((_uri_encode(k), _uri_encode(v))
                   for k, v in parse_qsl(url.query, keep_blank_values=True))
    canonical_query = "&".join(f"{k}={v}" for k, v in query)
    lines = []
    for name in signed:
        values = headers.get_all(name) or []
        lines.append(name + ":" + ",".join(" ".join(v.strip().split()) for v in values))
    payload_hash = headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join([method, canonical_uri, canonical_query, "\n".join(lines) + "\n",
                           ";".join(signed), payload_hash])
    amz_date = headers.get("X-Amz-Date", "")
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


# ----------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    server_version = "fake-sts/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status: int, body: str, ctype: str = "text/xml") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _admin(self, body: bytes) -> bool:
        fake: FakeSTS = self.server.fake  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        if path == "/healthz":
            self._send(200, "ok\n", "text/plain")
        elif path == "/_calls":
            self._send(200, json.dumps(fake.calls()), "application/json")
        elif path == "/_stats":
            with fake.lock:
                stats = {"max_inflight": fake.max_inflight, "inflight": fake.inflight,
                         "issued": len(fake.issued)}
            calls = fake.calls()
            stats["calls"] = len(calls)
            stats["errors"] = sum(1 for c in calls if c["error"] is not None)
            for c in calls:
                stats[c["action"]] = stats.get(c["action"], 0) + 1
            self._send(200, json.dumps(stats), "application/json")
        elif path == "/_config" and self.command == "POST":
            try:
                fake.configure(**json.loads(body or b"{}"))
            except (KeyError, TypeError, ValueError) as e:
                self._send(400, json.dumps({"error": str(e)}), "application/json")
            else:
                self._send(200, "{}", "application/json")
        elif path == "/_reset" and self.command == "POST":
            with fake.lock:
                fake._calls.clear()
                fake.max_inflight = fake.inflight
            self._send(200, "{}", "application/json")
        else:
            return False
        return True

    def do_GET(self):  # noqa: N802
        body = b""
        if not self._admin(body):
            status, xml = self.server.fake.handle(self, body)  # type: ignore[attr-defined]
            self._send(status, xml)

    def do_POST(self):  # noqa: N802
        body = self._body()
        if not self._admin(body):
            status, xml = self.server.fake.handle(self, body)  # type: ignore[attr-defined]
            self._send(status, xml)


# ---------------------------------------------------------------- pytest fixture

try:
    import pytest
except ImportError:          # standalone use (bench) needs no pytest
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="module")
    def fake_sts_server():
        """One fake STS per test module (import this name into the module)."""
        s = FakeSTS().start()
        try:
            yield s
        finally:
            s.stop()

    @pytest.fixture
    def sts(fake_sts_server):
        """The module's fake STS, reset to defaults: 6 s credentials, no latency, no skew."""
        fake_sts_server.configure(lifetime=6, latency=0, token_skew=0, deny_substring="deny",
                                  identity_providers={}, saml_providers={})
        fake_sts_server.reset_inflight()
        return fake_sts_server


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--lifetime", type=float, default=3600.0, help="credential lifetime, seconds")
    s.add_argument("--latency-ms", type=float, default=0.0, help="delay before every STS answer")
    s.add_argument("--token-skew", type=float, default=300.0,
                   help="seconds a web identity token is accepted after exp (AWS: 300)")
    s.add_argument("--deny-substring", default="deny")
    s.add_argument("--identity-provider", action="append", default=[], metavar="ISSUER[=JWKS_URL]",
                   help="verify web identity tokens of this issuer (repeatable); JWKS from "
                        "discovery unless given")
    s.add_argument("--audience", action="append", default=[], metavar="CLIENT_ID",
                   help="accepted token audience for every --identity-provider (repeatable)")
    args = p.parse_args(argv)
    idps = {}
    for spec in args.identity_provider:
        issuer, _, jwks = spec.partition("=")
        idps[issuer] = {"jwks_url": jwks or None, "audiences": args.audience}

    fake = FakeSTS(lifetime=args.lifetime, latency=args.latency_ms / 1000,
                   token_skew=args.token_skew, deny_substring=args.deny_substring,
                   host=args.host, port=args.port, identity_providers=idps).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.port_file:
        tmp = f"{args.port_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{fake.port}\n")
        os.replace(tmp, args.port_file)
    print(fake.port, flush=True)
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
