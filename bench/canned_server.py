#!/usr/bin/env python3
"""Fallback for bench/canned_server.c when no C compiler is available.

Same contract:  canned_server.py PORT_FILE TOKEN_JSON_FILE STS_XML_FILE REQUEST_TOKEN
  GET /token?...  (Authorization: bearer <request token>) -> canned token JSON, else 401
  POST / Action=AssumeRoleWithWebIdentity...              -> canned STS XML, else 400
  GET /healthz -> ok;  GET /_stats -> token=N sts=N bad=N
Slower than the C server (a few ms per request), so client timings include
more server time; bench/run.sh says which server it used.
"""
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, token_file, sts_file, request_token = sys.argv[1:5]
TOKEN = open(token_file, "rb").read()
STS = open(sts_file, "rb").read()
BAD = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
       b"<Type>Sender</Type><Code>InvalidAction</Code><Message>canned server only answers "
       b"AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>")
counts = {"token": 0, "sts": 0, "bad": 0}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _send(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/healthz"):
            return self._send(200, "text/plain", b"ok\n")
        if self.path.startswith("/_stats"):
            return self._send(200, "text/plain",
                              ("token=%(token)d sts=%(sts)d bad=%(bad)d\n" % counts).encode())
        scheme, _, cred = self.headers.get("Authorization", "").partition(" ")
        if self.path.startswith("/token") and scheme.lower() == "bearer" and cred == request_token:
            counts["token"] += 1
            return self._send(200, "application/json; charset=utf-8", TOKEN)
        counts["bad"] += 1
        return self._send(401, "application/json", b'{"message":"Bad credentials"}')

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        if (b"Action=AssumeRoleWithWebIdentity" in body and b"WebIdentityToken=" in body
                and b"RoleArn=" in body):
            counts["sts"] += 1
            return self._send(200, "text/xml", STS)
        counts["bad"] += 1
        return self._send(400, "text/xml", BAD)


def stop(sig, frame):
    sys.stderr.write("canned_server.py: token=%(token)d sts=%(sts)d bad=%(bad)d\n" % counts)
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
httpd.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % httpd.server_address[1])
os.replace(port_file + ".tmp", port_file)
httpd.serve_forever(poll_interval=0.5)
