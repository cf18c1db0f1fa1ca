"""Peer (b): the same job as a small boto3 script.

    python peer_boto3.py ROLE_ARN OUT_ENV_FILE

Token from ACTIONS_ID_TOKEN_REQUEST_URL (+ bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN)
with urllib, then an unsigned sts.assume_role_with_web_identity (the endpoint
comes from AWS_ENDPOINT_URL_STS), then an env file written atomically, 0600.
"""
import json
import os
import sys
import urllib.request
from datetime import timezone

import boto3
from botocore import UNSIGNED
from botocore.config import Config

role_arn, out = sys.argv[1], sys.argv[2]
url = os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"]
url += ("&" if "?" in url else "?") + "audience=sts.amazonaws.com"
req = urllib.request.Request(
    url, headers={"Authorization": "bearer " + os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]})
with urllib.request.urlopen(req, timeout=30) as resp:
    token = json.load(resp)["value"]

sts = boto3.client("sts", region_name="us-east-1", config=Config(signature_version=UNSIGNED))
session = "gh-%s-%s" % (os.environ.get("GITHUB_RUN_ID", "0"), os.environ.get("GITHUB_RUN_ATTEMPT", "1"))
c = sts.assume_role_with_web_identity(
    RoleArn=role_arn, RoleSessionName=session, WebIdentityToken=token, DurationSeconds=3600,
)["Credentials"]

lines = [
    "AWS_ACCESS_KEY_ID=" + c["AccessKeyId"],
    "AWS_SECRET_ACCESS_KEY=" + c["SecretAccessKey"],
    "AWS_SESSION_TOKEN=" + c["SessionToken"],
    "AWS_REGION=us-east-1",
    "AWS_DEFAULT_REGION=us-east-1",
    "AWS_CREDENTIAL_EXPIRATION=" + c["Expiration"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
]
tmp = out + ".tmp"
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(tmp, out)
