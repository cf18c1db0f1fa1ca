"""End to end: an ID token → moto's STS → a fake federation endpoint → a sign-in URL.

The federation endpoint is ours (a real one would need AWS); it checks the
getSigninToken request carries exactly the credentials moto issued.
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROLE_ARN, _base_env, fake_issuer


@pytest.fixture
def federation():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            seen.append(q)
            body = json.dumps({"SigninToken": "fake-signin-token"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/federation", seen
    srv.shutdown()


def test_console_url_from_moto_credentials(moto, aws_oidc_bin, federation, tmp_path):
    fed_url, seen = federation
    env = {**_base_env(), "HOME": str(tmp_path), "AWS_ENDPOINT_URL_STS": moto.url,
           "AWS_ID_TOKEN": fake_issuer.gitlab_token("sts.amazonaws.com"),
           "GITLAB_CI": "true", "CI_JOB_URL": "https://gitlab.example.com/group/project/-/jobs/7"}
    p = subprocess.run([aws_oidc_bin, "console", "--role-arn", ROLE_ARN, "--region", "eu-west-1",
                        "--federation-endpoint", fed_url, "--destination", "s3"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    url = p.stdout.strip()
    assert "\n" not in url
    base, query = url.split("?", 1)
    assert base == fed_url
    q = dict(urllib.parse.parse_qsl(query))
    assert q["Action"] == "login"
    assert q["SigninToken"] == "fake-signin-token"
    assert q["Destination"] == "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
    assert q["Issuer"] == "https://gitlab.example.com/group/project/-/jobs/7"

    assert len(seen) == 1
    req = seen[0]
    assert req["Action"] == "getSigninToken" and req["SessionDuration"] == "3600"
    session = json.loads(req["Session"])
    assert set(session) == {"sessionId", "sessionKey", "sessionToken"}
    issued = moto.issued(session["sessionId"])
    assert session["sessionKey"] == issued["secret_access_key"]
    assert session["sessionToken"] == issued["session_token"]
    assert issued["secret_access_key"] not in p.stderr and issued["session_token"] not in p.stderr
    assert "bearer credential" in p.stderr
