"""Proves the interactive-login test infrastructure with plain Python HTTP (no aws-oidc):
the real OpenID provider (tests/idp/provider.mjs, panva's oidc-provider), its headless
driver (tests/idp/drive.mjs, tests/idp/browser) and the fake STS verifying ID token
signatures against the provider's JWKS (tests/conformance/fake_sts.py, identity_providers).
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest

from fake_sts import fake_sts_server, sts  # noqa: F401  (pytest fixtures)
from idp import (OTHER_ACCOUNT, CallbackListener, Idp, b64url, b64url_decode, http_json,  # noqa: F401
                 http_raw, idp, idp_server, jwt_parts, pkce_pair, start_idp)
from support import REPO

ROLE_ARN = "arn:aws:iam::123456789012:role/developer"


def assume(sts_url: str, token: str) -> tuple[int, str]:
    form = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": ROLE_ARN,
            "RoleSessionName": "dev", "WebIdentityToken": token}
    status, raw = http_raw("POST", sts_url + "/", form=form, accept=None)
    return status, raw.decode()


# ------------------------------------------------------------------------------ provider


def test_discovery_offers_what_the_cli_needs(idp):
    d = idp.discovery()
    assert d["issuer"] == idp.issuer and idp.issuer.startswith("http://127.0.0.1:")
    assert d["device_authorization_endpoint"] == idp.issuer + "/device/auth"
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert d["authorization_response_iss_parameter_supported"] is True
    assert {"RS256", "ES256"} <= set(d["id_token_signing_alg_values_supported"])
    assert {"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"} \
        <= set(d["grant_types_supported"])
    assert d["revocation_endpoint"] == idp.issuer + "/token/revocation"
    assert {"openid", "email", "profile", "offline_access"} <= set(d["scopes_supported"])
    assert {"none", "client_secret_basic", "client_secret_post"} \
        <= set(d["token_endpoint_auth_methods_supported"])
    status, jwks = http_json("GET", d["jwks_uri"])
    assert status == 200
    assert {(k["kty"], k["alg"]) for k in jwks["keys"]} == {("RSA", "RS256"), ("EC", "ES256")}
    assert all("d" not in k for k in jwks["keys"])


def test_device_flow_end_to_end(idp):
    start = idp.device_start()
    assert set(start) >= {"device_code", "user_code", "verification_uri", "verification_uri_complete",
                          "expires_in"}
    assert start["verification_uri"] == idp.issuer + "/device"
    assert "interval" not in start      # quirk: oidc-provider sends none (clients use 5 s)
    status, out = idp.device_poll(start["device_code"])
    assert (status, out["error"]) == (400, "authorization_pending")

    t0 = time.monotonic()
    r = idp.complete_device(start["user_code"])
    took = time.monotonic() - t0
    assert "device: approved" in r.stderr
    assert took < 2, f"device approval took {took:.2f} s"

    status, tokens = idp.device_poll(start["device_code"])
    assert status == 200, tokens
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["refresh_token"] and tokens["access_token"]
    assert set(tokens["scope"].split()) == {"openid", "email", "profile", "offline_access"}
    header, claims = jwt_parts(tokens["id_token"])
    assert header["alg"] == "RS256" and header["kid"] == "rs256-1"
    assert claims["iss"] == idp.issuer and claims["aud"] == idp.client_id
    assert claims["sub"] == "dev-0001" and claims["email"] == "dev@example.com"
    assert claims["preferred_username"] == "dev"
    assert claims["exp"] - claims["iat"] == 3600
    # A device code is single use.
    status, out = idp.device_poll(start["device_code"])
    assert (status, out["error"]) == (400, "invalid_grant")


def test_device_flow_user_code_from_verification_uri_complete(idp):
    start = idp.device_start(scope="openid")
    r = idp.drive("device", start["verification_uri_complete"])
    assert r.returncode == 0, r.stderr
    status, tokens = idp.device_poll(start["device_code"])
    assert status == 200 and "refresh_token" not in tokens   # no offline_access, no refresh token


def test_device_flow_denied(idp):
    start = idp.device_start()
    r = idp.complete_device(start["user_code"], deny=True)
    assert "device: denied" in r.stderr
    status, out = idp.device_poll(start["device_code"])
    assert (status, out["error"]) == (400, "access_denied")


def test_device_flow_wrong_password_is_refused_by_the_provider(idp):
    start = idp.device_start()
    r = idp.complete_device(start["user_code"], login="dev@example.com", password="wrong", check=False)
    assert r.returncode == 1 and "Invalid email or password" in r.stderr
    status, out = idp.device_poll(start["device_code"])
    assert (status, out["error"]) == (400, "authorization_pending")


def test_device_flow_other_account(idp):
    start = idp.device_start()
    idp.complete_device(start["user_code"], login=OTHER_ACCOUNT["login"], password=OTHER_ACCOUNT["password"])
    status, tokens = idp.device_poll(start["device_code"])
    assert status == 200 and jwt_parts(tokens["id_token"])[1]["sub"] == OTHER_ACCOUNT["sub"]


def test_device_flow_injected_poll_errors(idp):
    start = idp.device_start()
    idp.configure(device_poll_errors=["slow_down", "slow_down"])
    answers = [idp.device_poll(start["device_code"])[1]["error"] for _ in range(3)]
    assert answers == ["slow_down", "slow_down", "authorization_pending"]
    idp.configure(device_poll_errors=["access_denied"])
    assert idp.device_poll(start["device_code"])[1]["error"] == "access_denied"
    # An injected error never replaces a success.
    idp.complete_device(start["user_code"])
    idp.configure(device_poll_errors=["slow_down"])
    status, tokens = idp.device_poll(start["device_code"])
    assert status == 200 and "id_token" in tokens
    injected = [t for t in idp.token_requests() if t.get("injected")]
    assert [t["error"] for t in injected] == ["slow_down", "slow_down", "access_denied"]


def test_device_code_expiry(idp):
    idp.configure(device_code_ttl=1)
    start = idp.device_start()
    assert start["expires_in"] == 1
    time.sleep(1.5)
    status, out = idp.device_poll(start["device_code"])
    assert (status, out["error"]) == (400, "expired_token")


def test_short_id_token_ttl(idp):
    idp.configure(id_token_ttl=5, access_token_ttl=7)
    tokens = idp.device_login()
    claims = jwt_parts(tokens["id_token"])[1]
    assert claims["exp"] - claims["iat"] == 5
    assert tokens["expires_in"] == 7


@pytest.mark.parametrize("client", ["aws-cli-secret", "aws-cli-secret-post"])
def test_confidential_clients(idp, client):
    tokens = idp.device_login(client_id=client)
    assert jwt_parts(tokens["id_token"])[1]["aud"] == client
    status, out = idp.refresh(tokens["refresh_token"], client_id=client)
    assert status == 200, out
    # Wrong secret: invalid_client.
    auth = (client, "wrong") if client == "aws-cli-secret" else None
    form = {"client_id": client, "client_secret": "wrong"} if auth is None else {}
    status, out = http_json("POST", idp.token_endpoint,
                            form={**form, "grant_type": "refresh_token", "refresh_token": out["refresh_token"]},
                            auth=auth)
    assert (status, out["error"]) == (401, "invalid_client")


def test_es256_client_gets_es256_id_tokens(idp):
    tokens = idp.device_login(client_id=idp.es256_client_id)
    header, claims = jwt_parts(tokens["id_token"])
    assert header["alg"] == "ES256" and header["kid"] == "es256-1"
    assert claims["aud"] == idp.es256_client_id


# ------------------------------------------------------------------------------ browser


def auth_url(idp: Idp, redirect_uri: str, state: str, nonce: str, challenge: str | None,
             **extra: str) -> str:
    q = {"response_type": "code", "client_id": idp.client_id, "redirect_uri": redirect_uri,
         "scope": "openid email offline_access", "state": state, "nonce": nonce,
         "prompt": "consent", **extra}
    if challenge:
        q.update(code_challenge=challenge, code_challenge_method="S256")
    return idp.discovery()["authorization_endpoint"] + "?" + urllib.parse.urlencode(q)


def test_auth_code_pkce_with_the_driver_as_browser(idp):
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with CallbackListener() as cb:
        url = auth_url(idp, cb.redirect_uri, state, nonce, challenge)
        t0 = time.monotonic()
        r = idp.open_browser(url)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert r.stderr.strip() == "callback: HTTP 200"
        assert took < 2, f"browser login took {took:.2f} s"
        assert len(cb.requests) == 1
        path, q = cb.requests[0]
    assert path == "/callback"
    assert q["state"] == state and q["iss"] == idp.issuer and q["code"]
    # The loopback port is not registered: oidc-provider allows any port for native clients.
    status, tokens = http_json("POST", idp.token_endpoint, form={
        "grant_type": "authorization_code", "code": q["code"], "code_verifier": verifier,
        "redirect_uri": cb.redirect_uri, "client_id": idp.client_id})
    assert status == 200, tokens
    claims = jwt_parts(tokens["id_token"])[1]
    assert claims["nonce"] == nonce and claims["iss"] == idp.issuer and claims["email"] == "dev@example.com"
    assert tokens["refresh_token"]          # offline_access kept because prompt=consent was sent
    # The code is single use.
    status, out = http_json("POST", idp.token_endpoint, form={
        "grant_type": "authorization_code", "code": q["code"], "code_verifier": verifier,
        "redirect_uri": cb.redirect_uri, "client_id": idp.client_id})
    assert (status, out["error"]) == (400, "invalid_grant")


def test_auth_code_wrong_verifier_refused(idp):
    _, challenge = pkce_pair()
    with CallbackListener() as cb:
        assert idp.open_browser(auth_url(idp, cb.redirect_uri, "s" * 32, "n" * 32, challenge)).returncode == 0
        q = cb.requests[0][1]
    other_verifier, _ = pkce_pair()
    status, out = http_json("POST", idp.token_endpoint, form={
        "grant_type": "authorization_code", "code": q["code"], "code_verifier": other_verifier,
        "redirect_uri": cb.redirect_uri, "client_id": idp.client_id})
    assert (status, out["error"]) == (400, "invalid_grant")


def test_pkce_is_required_for_the_public_client(idp):
    with CallbackListener() as cb:
        r = idp.open_browser(auth_url(idp, cb.redirect_uri, "s" * 32, "n" * 32, None))
        assert r.returncode == 0, r.stderr          # the error comes back to the callback
        q = cb.requests[0][1]
    assert q["error"] == "invalid_request" and "PKCE" in q["error_description"]
    assert q["iss"] == idp.issuer and q["state"] == "s" * 32


def test_browser_deny_returns_access_denied_to_the_callback(idp):
    _, challenge = pkce_pair()
    with CallbackListener() as cb:
        r = idp.open_browser(auth_url(idp, cb.redirect_uri, "s" * 32, "n" * 32, challenge), "--deny")
        assert r.returncode == 0, r.stderr
        q = cb.requests[0][1]
    assert q["error"] == "access_denied" and q["iss"] == idp.issuer and "code" not in q


def test_authorization_response_with_another_iss(idp):
    idp.configure(authorization_iss="http://127.0.0.1:9/evil")
    _, challenge = pkce_pair()
    with CallbackListener() as cb:
        assert idp.open_browser(auth_url(idp, cb.redirect_uri, "s" * 32, "n" * 32, challenge)).returncode == 0
        q = cb.requests[0][1]
    assert q["iss"] == "http://127.0.0.1:9/evil" and q["code"]


def test_browser_driver_exit_status_follows_the_callback(idp):
    _, challenge = pkce_pair()
    with CallbackListener(status=400) as cb:
        r = idp.open_browser(auth_url(idp, cb.redirect_uri, "s" * 32, "n" * 32, challenge))
    assert r.returncode == 1 and "callback: HTTP 400" in r.stderr
    # Nothing listening: a clear error, exit 1.
    with socket.socket() as sock:          # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    r = idp.open_browser(auth_url(idp, f"http://127.0.0.1:{closed}/callback", "s" * 32, "n" * 32, challenge))
    assert r.returncode == 1 and "ECONNREFUSED" in r.stderr
    assert "code=" not in r.stderr      # the driver never prints the code


def test_unregistered_redirect_path_is_refused_by_the_provider(idp):
    _, challenge = pkce_pair()
    r = idp.open_browser(auth_url(idp, "http://127.0.0.1:5555/other", "s" * 32, "n" * 32, challenge))
    assert r.returncode == 1 and "redirect_uri" in r.stderr


# ------------------------------------------------------------------------------ refresh


def test_refresh_tokens_rotate_and_reuse_revokes_the_grant(idp):
    tokens = idp.device_login()
    rt1 = tokens["refresh_token"]
    status, t2 = idp.refresh(rt1)
    assert status == 200, t2
    rt2 = t2["refresh_token"]
    assert rt2 != rt1      # (the ID token may be byte-identical when refreshed within the same second)
    assert jwt_parts(t2["id_token"])[1]["sub"] == "dev-0001"
    # The spent one again: invalid_grant, and the whole grant is revoked ...
    status, out = idp.refresh(rt1)
    assert (status, out["error"]) == (400, "invalid_grant")
    # ... so the rotated one dies too.
    status, out = idp.refresh(rt2)
    assert (status, out["error"]) == (400, "invalid_grant")
    assert [t["status"] for t in idp.token_requests() if t["grant_type"] == "refresh_token"] == [200, 400, 400]


def test_revocation_of_a_refresh_token(idp):
    tokens = idp.device_login()
    status, _ = http_json("POST", idp.issuer + "/token/revocation", form={
        "token": tokens["refresh_token"], "token_type_hint": "refresh_token", "client_id": idp.client_id})
    assert status == 200
    status, out = idp.refresh(tokens["refresh_token"])
    assert (status, out["error"]) == (400, "invalid_grant")


# ------------------------------------------------------------------------------ STS


@pytest.fixture(scope="module")
def other_idp(tmp_path_factory):
    """A second, unrelated provider: another issuer with other keys."""
    server = start_idp(tmp_path_factory.mktemp("idp-other"))
    try:
        yield server
    finally:
        server.stop()


def tamper(token: str) -> str:
    h, p, s = token.split(".")
    sig = bytearray(b64url_decode(s))
    sig[len(sig) // 2] ^= 0x01
    return f"{h}.{p}.{b64url(bytes(sig))}"


def trust(sts, idp: Idp, audiences=("aws-cli", "aws-cli-es256"), jwks=True):
    sts.configure(identity_providers={idp.issuer: {"jwks_url": idp.jwks_url if jwks else None,
                                                    "audiences": list(audiences)}})


@pytest.mark.parametrize("client", ["aws-cli", "aws-cli-es256"])
def test_fake_sts_accepts_a_genuine_id_token(idp, sts, client):
    trust(sts, idp)
    token = idp.device_login(client_id=client)["id_token"]
    status, body = assume(sts.url, token)
    assert status == 200, body
    assert f"<Provider>{idp.issuer}</Provider>" in body
    call = sts.calls(action="AssumeRoleWithWebIdentity")[-1]
    assert call["error"] is None and call["alg"] == jwt_parts(token)[0]["alg"]


@pytest.mark.parametrize("client", ["aws-cli", "aws-cli-es256"])
def test_fake_sts_refuses_a_tampered_signature(idp, sts, client):
    trust(sts, idp, jwks=False)       # JWKS found through discovery, like AWS
    token = idp.device_login(client_id=client)["id_token"]
    status, body = assume(sts.url, tamper(token))
    assert status == 400 and "<Code>InvalidIdentityToken</Code>" in body
    assert "signature" in body
    assert assume(sts.url, token)[0] == 200


def test_fake_sts_refuses_a_modified_payload(idp, sts):
    trust(sts, idp)
    token = idp.device_login()["id_token"]
    h, p, s = token.split(".")
    claims = jwt_parts(token)[1]
    claims["sub"] = "admin"
    forged = f"{h}.{b64url(json.dumps(claims).encode())}.{s}"
    status, body = assume(sts.url, forged)
    assert status == 400 and "<Code>InvalidIdentityToken</Code>" in body
    assert "signature" in body, body      # refused for its signature, not as a malformed JWT


def test_fake_sts_refuses_another_issuer(idp, other_idp, sts):
    trust(sts, idp)
    token = other_idp.device_login()["id_token"]
    status, body = assume(sts.url, token)
    assert status == 400 and "<Code>InvalidIdentityToken</Code>" in body
    assert f"No OpenIDConnect provider found in your account for {other_idp.issuer}" in body
    # The other issuer's token relabelled with our issuer: its signature does not verify.
    h, p, s = token.split(".")
    claims = jwt_parts(token)[1]
    claims["iss"] = idp.issuer
    status, body = assume(sts.url, f"{h}.{b64url(json.dumps(claims).encode())}.{s}")
    assert status == 400 and "<Code>InvalidIdentityToken</Code>" in body and "signature" in body


def test_fake_sts_checks_the_audience(idp, sts):
    trust(sts, idp, audiences=["some-other-client"])
    token = idp.device_login()["id_token"]
    status, body = assume(sts.url, token)
    assert status == 400 and "Incorrect token audience" in body


def test_fake_sts_expired_genuine_token(idp, sts):
    trust(sts, idp)
    idp.configure(id_token_ttl=1)
    token = idp.device_login()["id_token"]
    time.sleep(2.1)
    status, body = assume(sts.url, token)
    assert status == 400 and "<Code>ExpiredTokenException</Code>" in body


def test_fake_sts_unreachable_jwks(idp, sts):
    sts.configure(identity_providers={idp.issuer: {"jwks_url": "http://127.0.0.1:9/jwks"}})
    token = idp.device_login()["id_token"]
    status, body = assume(sts.url, token)
    assert status == 400 and "<Code>IDPCommunicationError</Code>" in body


def test_fake_sts_without_identity_providers_keeps_not_verifying(idp, sts):
    token = idp.device_login()["id_token"]
    assert assume(sts.url, tamper(token))[0] == 200


# ------------------------------------------------------------------------------ lifecycle


def test_provider_logs_to_its_file_and_stops_on_sigterm(tmp_path):
    server = start_idp(tmp_path / "p")
    server.device_login()
    t0 = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - t0 < 3
    assert (tmp_path / "p" / "provider.out").read_text() == ""    # nothing on stdout/stderr
    log = server.log.read_text()
    assert "listening on " + server.issuer in log and "SIGTERM: stopping" in log


def test_standalone_fake_sts_verifies_with_flags(idp, tmp_path):
    port_file = tmp_path / "sts-port"
    proc = subprocess.Popen([sys.executable, str(REPO / "tests/conformance/fake_sts.py"), "serve",
                             "--port-file", str(port_file), "--identity-provider", idp.issuer,
                             "--audience", idp.client_id], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        token = idp.device_login()["id_token"]
        assert assume(url, token)[0] == 200
        assert assume(url, tamper(token))[0] == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
