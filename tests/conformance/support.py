"""Consumers and parsers used by the conformance tests.

The parsers follow the real CI implementations, so a file that passes here is
one the CI system would accept and turn into the same values:

* parse_gitlab_dotenv: GitLab's Ci::ParseDotenvArtifactService
  (size < 5 KB, UTF-8 + BOM strip, each_line + /^(.*?)=(.*)$/, strip, key
  /\\A[a-zA-Z0-9_]+\\z/, no quote handling, <= 20 variables, last duplicate wins).
* parse_github_file_command: actions/runner SetEnvFileCommand (used for
  GITHUB_ENV and GITHUB_OUTPUT) on Linux: split on LF only, skip empty lines,
  NAME=VALUE (split at the first '=') or NAME<<DELIM ... DELIM heredoc.
* github_masks: `::add-mask::` workflow commands on stdout, with the runner's
  data unescaping (%25 %0D %0A).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# How long a single subprocess may take before the test fails (not hangs).
PROC_TIMEOUT = 60


def tool(name: str) -> str:
    """A tool from the venv running pytest, else from PATH; skip if absent."""
    p = VENV_BIN / name
    if p.exists():
        return str(p)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} not found (run scripts/setup-test-deps.sh)")
    return found

# ----------------------------------------------------------------- GitLab dotenv

GITLAB_DOTENV_MAX_BYTES = 5 * 1024
GITLAB_DOTENV_MAX_VARS = 20          # default `dotenv_variables` plan limit (self-managed)
_GITLAB_KEY = re.compile(r"[a-zA-Z0-9_]+")
_RUBY_STRIP = " \t\n\v\f\r\0"


class DotenvError(AssertionError):
    pass


def parse_gitlab_dotenv(data: bytes) -> dict[str, str]:
    if not len(data) < GITLAB_DOTENV_MAX_BYTES:
        raise DotenvError(f"Dotenv Artifact Too Big ({len(data)} bytes, limit < {GITLAB_DOTENV_MAX_BYTES})")
    try:
        text = data.decode("utf-8")   # GitLab would substitute U+FFFD; we refuse instead
    except UnicodeDecodeError as e:
        raise DotenvError(f"not UTF-8: {e}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    # Ruby String#each_line: split after every "\n", keep it.
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    out: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        found = re.findall(r"^(.*?)=(.*)$", line, flags=re.M)
        if not found:
            raise DotenvError(f"line {n}: Invalid Format: {line!r}")
        key, value = (s.strip(_RUBY_STRIP) for s in found[-1])
        if not _GITLAB_KEY.fullmatch(key) or len(key) > 255:
            raise DotenvError(f"line {n}: invalid key {key!r}")
        out[key] = value
    if len(out) > GITLAB_DOTENV_MAX_VARS:
        raise DotenvError(f"Dotenv files cannot have more than {GITLAB_DOTENV_MAX_VARS} variables")
    return out


# ------------------------------------------------------------ GitHub file commands


class GithubFileError(AssertionError):
    pass


def _read_line(text: str, index: int):
    """actions/runner ReadLine on Linux -> (line | None, new_index, newline | None)."""
    if index >= len(text):
        return None, index, None
    lf = text.find("\n", index)
    if lf < 0:
        return text[index:], len(text), None
    return text[index:lf], lf + 1, "\n"


def parse_github_file_command(data: bytes) -> dict[str, str]:
    text = data.decode("utf-8")      # File.ReadAllText: UTF-8, BOM dropped
    if text.startswith("\ufeff"):
        text = text[1:]
    out: dict[str, str] = {}
    index = 0
    line, index, _ = _read_line(text, index)
    while line is not None:
        if line:
            eq = line.find("=")
            hd = line.find("<<")
            if eq >= 0 and (hd < 0 or eq < hd):
                name, value = line.split("=", 1)
                if not name:
                    raise GithubFileError(f"Invalid format {line!r}. Name must not be empty")
                out[name] = value
            elif hd >= 0 and (eq < 0 or hd < eq):
                name, delim = line.split("<<", 1)
                if not name or not delim:
                    raise GithubFileError(
                        f"Invalid format {line!r}. Name must not be empty and delimiter must not be empty")
                start = end = index
                temp, index, newline = _read_line(text, index)
                while temp != delim:
                    if temp is None:
                        raise GithubFileError(f"Invalid value. Matching delimiter not found {delim!r}")
                    if newline is None:
                        raise GithubFileError("Invalid value. EOF marker missing new line.")
                    end = index - len(newline)
                    temp, index, newline = _read_line(text, index)
                out[name] = text[start:end] if end > start else ""
            else:
                raise GithubFileError(f"Invalid format {line!r}")
        line, index, _ = _read_line(text, index)
    return out


def _unescape_command_data(s: str) -> str:
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def github_masks(stdout: str) -> list[str]:
    return [_unescape_command_data(l[len("::add-mask::"):])
            for l in stdout.split("\n") if l.startswith("::add-mask::")]


# ----------------------------------------------------------------------- consumers


def aws_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([tool("aws"), *args], env=env, capture_output=True, text=True,
                          timeout=PROC_TIMEOUT)


def awscli_identity(env: dict[str, str], profile: str | None = None) -> dict:
    args = ["sts", "get-caller-identity", "--output", "json"]
    if profile:
        args += ["--profile", profile]
    p = aws_cli(args, env)
    assert p.returncode == 0, f"aws {' '.join(args)} failed ({p.returncode}):\n{p.stderr}"
    return json.loads(p.stdout)


_BOTO3 = r"""
import boto3, json, sys
s = boto3.Session(profile_name=sys.argv[1] or None)
ident = s.client("sts").get_caller_identity()
ident.pop("ResponseMetadata", None)
c = s.get_credentials().get_frozen_credentials()
print(json.dumps({"identity": ident, "access_key": c.access_key,
                  "secret_key": c.secret_key, "token": c.token}))
"""


def boto3_identity(env: dict[str, str], profile: str | None = None) -> dict:
    """GetCallerIdentity through boto3 in a fresh interpreter; also returns the creds it used."""
    p = subprocess.run([sys.executable, "-c", _BOTO3, profile or ""], env=env,
                       capture_output=True, text=True, timeout=PROC_TIMEOUT)
    assert p.returncode == 0, f"boto3 get_caller_identity failed ({p.returncode}):\n{p.stderr}"
    return json.loads(p.stdout)


# ------------------------------------------------------------------------ checks


def assumed_role_arn(role: str, session: str, account: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


def assert_identity(ident: dict, role: str, session: str, account: str) -> None:
    assert ident["Arn"] == assumed_role_arn(role, session, account), ident
    assert ident["Account"] == account, ident


def assert_issued_by_moto(job, akid: str, secret: str, token: str, *, role_arn: str,
                          session: str) -> dict:
    """The exact triple moto issued for `akid` (moto does not check signatures,
    so this is what proves the secret and token survived the hand-off)."""
    job.note_secrets(secret, token)
    rec = job.moto.issued(akid)
    assert rec["secret_access_key"] == secret, "secret key differs from what STS issued"
    assert rec["session_token"] == token, "session token differs from what STS issued"
    assert rec["role_arn"] == role_arn
    assert rec["session_name"] == session
    return rec


def parse_rfc3339(s: str) -> dt.datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", s), \
        f"not RFC 3339: {s!r}"
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    assert t.tzinfo is not None
    return t


def assert_future_expiration(s: str, *, min_s: int = 600, max_s: int = 43200 + 300) -> None:
    t = parse_rfc3339(s)
    left = (t - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert min_s <= left <= max_s, f"expiration {s} is {left:.0f}s away"
