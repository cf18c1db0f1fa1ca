#!/usr/bin/env python3
"""The child of `aws-oidc exec --serve` in bench/run.sh: an SDK's credential requests, timed.

    serve_client.py N RESULT_FILE

Does what an AWS SDK's container-credentials provider does, N times (after 10 warm-up
requests): a new TCP connection to AWS_CONTAINER_CREDENTIALS_FULL_URI, a GET with the
Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN, the JSON body read and parsed
(AccessKeyId checked). Each request is timed with time.perf_counter, from the connect to
the parsed body. Then it reads the server's own peak RSS (VmHWM of its parent process, the
aws-oidc that serves: GNU time on aws-oidc would also count this child) and writes
KEY=VALUE lines to RESULT_FILE: serve_n, serve_median_ms, serve_p90_ms, serve_rss_kib.
Exits 1 when a request fails.
"""
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

n, out = int(sys.argv[1]), sys.argv[2]
uri = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
headers = {"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]}
path = uri.path or "/"
if uri.query:
    path += "?" + uri.query


def one():
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(uri.hostname, uri.port, timeout=5)
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    creds = json.loads(body)
    t1 = time.perf_counter()
    if r.status != 200 or not creds.get("AccessKeyId"):
        sys.exit(f"serve_client: HTTP {r.status} without credentials")
    return (t1 - t0) * 1e3


for _ in range(10):
    one()
times = sorted(one() for _ in range(n))
hwm = ""
with open(f"/proc/{os.getppid()}/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            hwm = line.split()[1]
with open(out, "w") as f:
    f.write(f"serve_n={n}\n")
    f.write(f"serve_median_ms={statistics.median(times):.4f}\n")
    f.write(f"serve_p90_ms={times[int(0.9 * (n - 1))]:.4f}\n")
    f.write(f"serve_rss_kib={hwm}\n")
