"""TLS trust and proxies, against moto's STS served over HTTPS with a private CA.

* AWS_CA_BUNDLE adds the CA: the call succeeds and awscli can use the result.
* SSL_CERT_FILE replaces the trust store: the call succeeds.
* Without either, the untrusted certificate fails fast (exit 2, one attempt)
  with a hint naming AWS_CA_BUNDLE, instead of burning the retry budget.
* HTTPS_PROXY: the STS connection goes through a CONNECT proxy; NO_PROXY
  bypasses it.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import ROLE_ARN, _base_env, _free_port, _stop, fake_issuer
from support import tool


@pytest.fixture(scope="module")
def tls_moto(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca_key, ca_crt = d / "ca.key", d / "ca.pem"
    key, csr, crt = d / "server.key", d / "server.csr", d / "server.pem"
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=aws-oidc test CA", "-keyout", str(ca_key), "-out", str(ca_crt),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", str(key), "-out", str(csr))
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt))
    port = _free_port()
    log = open(d / "moto.log", "wb")
    proc = subprocess.Popen([tool("moto_server"), "-H", "127.0.0.1", "-p", str(port),
                             "-c", str(crt), "-k", str(key)],
                            stdout=log, stderr=subprocess.STDOUT, env={**_base_env(), "HOME": str(d)})
    url = f"https://localhost:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        _stop(proc)
        pytest.fail("moto_server with TLS did not start:\n" + (d / "moto.log").read_text())
    yield url, str(ca_crt), d
    _stop(proc)
    log.close()


class ConnectProxy:
    """A minimal HTTP CONNECT proxy that counts the tunnels it opened."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.tunnels: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            data += chunk
        line = data.split(b"\r\n", 1)[0].decode()
        method, target, _ = line.split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection(("127.0.0.1" if host == "localhost" else host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(a, b):
            try:
                while chunk := a.recv(65536):
                    b.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        pipe(upstream, client)

    def close(self):
        self.sock.close()


def run(bin_, tmp, env_extra):
    env = {**_base_env(), "HOME": str(tmp), "AWS_ID_TOKEN": fake_issuer.gitlab_token("sts.amazonaws.com"),
           "AWS_OIDC_RETRY_BASE_DELAY_MS": "10", **env_extra}
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    env.update({k: v for k, v in env_extra.items()})
    return subprocess.run([bin_, "assume", "--role-arn", ROLE_ARN, "--output", "env=aws.env", "--timeout", "20"],
                          env=env, cwd=tmp, capture_output=True, text=True, timeout=60)


def test_ca_bundle_is_trusted_and_output_works_with_awscli(tls_moto, aws_oidc_bin, tmp_path):
    url, ca, _ = tls_moto
    p = run(aws_oidc_bin, tmp_path, {"AWS_ENDPOINT_URL_STS": url, "AWS_CA_BUNDLE": ca})
    assert p.returncode == 0, p.stderr
    creds = dict(line.split("=", 1) for line in (tmp_path / "aws.env").read_text().splitlines())
    env = {**_base_env(), "HOME": str(tmp_path), "AWS_ENDPOINT_URL_STS": url, "AWS_CA_BUNDLE": ca, **creds}
    out = subprocess.run([tool("aws"), "sts", "get-caller-identity", "--output", "text", "--query", "Arn"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("arn:aws:sts::123456789012:assumed-role/demo/")


def test_ssl_cert_file_replaces_the_trust_store(tls_moto, aws_oidc_bin, tmp_path):
    url, ca, _ = tls_moto
    p = run(aws_oidc_bin, tmp_path, {"AWS_ENDPOINT_URL_STS": url, "SSL_CERT_FILE": ca})
    assert p.returncode == 0, p.stderr


def test_untrusted_certificate_fails_fast_with_a_hint(tls_moto, aws_oidc_bin, tmp_path):
    url, _, _ = tls_moto
    start = time.monotonic()
    p = run(aws_oidc_bin, tmp_path, {"AWS_ENDPOINT_URL_STS": url, "SSL_CERT_FILE": "/dev/null"})
    assert p.returncode == 2, p.stderr
    assert "certificate" in p.stderr and "AWS_CA_BUNDLE" in p.stderr, p.stderr
    assert time.monotonic() - start < 10
    assert not (tmp_path / "aws.env").exists()


def test_https_proxy_carries_the_sts_call_and_no_proxy_bypasses_it(tls_moto, aws_oidc_bin, tmp_path):
    url, ca, _ = tls_moto
    proxy = ConnectProxy()
    try:
        p = run(aws_oidc_bin, tmp_path, {"AWS_ENDPOINT_URL_STS": url, "AWS_CA_BUNDLE": ca,
                                         "HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}"})
        assert p.returncode == 0, p.stderr
        port = url.rsplit(":", 1)[1]
        assert proxy.tunnels == [f"localhost:{port}"], proxy.tunnels
        p = run(aws_oidc_bin, tmp_path, {"AWS_ENDPOINT_URL_STS": url, "AWS_CA_BUNDLE": ca,
                                         "HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "localhost"})
        assert p.returncode == 0, p.stderr
        assert len(proxy.tunnels) == 1, proxy.tunnels
    finally:
        proxy.close()


def test_http_proxy_carries_the_github_token_request(issuer, moto, aws_oidc_bin, tmp_path):
    """The token endpoint (http here) goes through HTTP_PROXY as an absolute-form request."""
    seen: list[str] = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode()
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            seen.append(target)
            headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
            req = urllib.request.Request(target, method=method,
                                         headers={"Authorization": headers.get("authorization", "")})
            try:
                body = urllib.request.urlopen(req, timeout=5).read()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            except Exception:
                c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        proxy = f"http://127.0.0.1:{srv.getsockname()[1]}"
        env = {**_base_env(), "HOME": str(tmp_path), "GITHUB_ACTIONS": "true",
               "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.url.replace("127.0.0.1", "localhost"),
               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issuer.request_token,
               "AWS_ENDPOINT_URL_STS": moto.url, "HTTP_PROXY": proxy, "NO_PROXY": "127.0.0.1"}
        p = subprocess.run([aws_oidc_bin, "assume", "--role-arn", ROLE_ARN, "--output", "env=aws.env"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert len(seen) == 1 and seen[0].startswith("http://localhost:") and "audience=sts.amazonaws.com" in seen[0], seen
    finally:
        srv.close()
