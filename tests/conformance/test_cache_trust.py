"""What the credential cache trusts (issue 11, item 1).

`credential-process` keeps credentials in a cache directory. Another local user must not be
able to choose what it prints (plant an entry), nor make it create files where they like
(plant a symlink). The victim is this process's user (root in CI); the attacker is uid 65534
(`nobody`), played with util-linux's `setpriv`. Both meet in a sticky world-writable
directory, like /tmp.

Also: an entry in the victim's own, private cache that names another account or another
role than the one asked for (however it got there) is not served.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from fake_sts import fake_sts_server, sts  # noqa: F401  (fixtures)
from test_refresh import (  # noqa: F401  (ctx is a fixture)
    ACCOUNT, CHAIN_ACCOUNT, CHAIN_ROLE, CHAIN_ROLE_ARN, ROLE, Ctx, cp_args, ctx, parse_cp,
)

NOBODY = 65534
EVIL_ACCOUNT = "999999999999"
PLANTED_KEY = "ASIAPLANTEDPLANTED00"


def planted_entry(account: str = EVIL_ACCOUNT, role: str = ROLE, chained: bool = False) -> str:
    """A well-formed cache entry, valid for an hour, for `role` in `account`."""
    return json.dumps({
        "Version": 1, "AccessKeyId": PLANTED_KEY, "SecretAccessKey": "planted-secret",
        "SessionToken": "planted-session-token", "Expiration": int(time.time()) + 3600,
        "AccountId": account, "AssumedRoleArn": f"arn:aws:sts::{account}:assumed-role/{role}/x",
        "Region": "us-east-1", "Chained": chained,
    })


def as_attacker(script: str, **env: str) -> None:
    """Runs `sh -c script` as uid/gid 65534 with no supplementary groups."""
    p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "--", "sh", "-euc", script],
                       env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, f"attacker script failed:\n{p.stderr}"


@pytest.fixture
def shared():
    """A root-owned sticky world-writable directory (a /tmp), removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to play a second user")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not found")
    d = Path(tempfile.mkdtemp(prefix="aws-oidc-shared-", dir="/tmp"))
    d.chmod(0o1777)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def cache_key(c: Ctx, session: str, *extra: str) -> str:
    """The entry name credential-process uses for these options (from a private cache)."""
    where = c.tmp / f"learn-{session}"
    c.run(cp_args(c, session, *extra, "--cache-dir", str(where)))
    [entry] = list(where.glob("*.json"))
    return entry.stem


# How the attacker prepares the directory: (shell, where it lands relative to `shared`,
# how the victim is pointed at it).
SETUPS = {
    # The victim's own directory, loosened (say by a umask or a careless chmod).
    "ours-0777": ("", "cache", "flag"),
    # The attacker made the directory the victim will use, writable by all.
    "theirs-0777": ('mkdir "$D"; chmod 0777 "$D"', "cache", "flag"),
    # The attacker made it and kept it to themselves.
    "theirs-0755": ('mkdir "$D"; chmod 0755 "$D"', "cache", "flag"),
    # The default location under RUNNER_TEMP, made first by the attacker.
    "runner-temp-default": ('mkdir "$D"; chmod 0777 "$D"', "aws-oidc-cache", "RUNNER_TEMP"),
}


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_cache_dir_another_user_can_write_is_refused(ctx, shared, setup):
    c = ctx
    script, name, how = SETUPS[setup]
    c.sts.configure(lifetime=900)
    sess = f"trust-{setup}"
    allowed = ["--allowed-account-ids", ACCOUNT]
    key = cache_key(c, sess, *allowed)
    d = shared / name
    if script:
        as_attacker(script, D=str(d))
    else:
        d.mkdir(mode=0o700)
        d.chmod(0o777)
    if how == "flag":
        args, env = cp_args(c, sess, *allowed, "--cache-dir", str(d)), {}
    else:
        args, env = cp_args(c, sess, *allowed), {"RUNNER_TEMP": str(shared)}

    # 1. A planted entry for another account: never printed; the directory is refused.
    as_attacker('printf "%s" "$E" >"$D/$K.json"', D=str(d), K=key, E=planted_entry())
    p = c.run(args, env=env, check=False)
    assert PLANTED_KEY not in p.stdout, f"{setup}: printed the planted credentials"
    assert p.returncode != 0 and p.stdout == "", (setup, p.returncode, p.stdout, p.stderr)
    assert str(d) in p.stderr, f"{setup}: the message does not name {d}:\n{p.stderr}"

    # 2. No entry, a symlinked lock: nothing is created through the link.
    as_attacker('rm -f "$D/$K.json"; ln -s "$T" "$D/$K.lock"', D=str(d), K=key,
                T=str(shared / "pwned"))
    p = c.run(args, env=env, check=False)
    assert not os.path.lexists(shared / "pwned"), f"{setup}: created the symlink's target"
    assert p.returncode != 0 and p.stdout == "", (setup, p.returncode, p.stdout, p.stderr)
    assert str(d) in p.stderr, p.stderr
    assert "chmod 700" in p.stderr or "--cache-dir" in p.stderr, p.stderr


def test_cache_dir_created_for_us_in_a_shared_dir_works(ctx, shared):
    """A cache directory (and parents) that aws-oidc creates in a sticky /tmp-like
    directory is private and used."""
    c = ctx
    c.sts.configure(lifetime=900)
    d = shared / "a" / "b"
    args = cp_args(c, "trust-created", "--cache-dir", str(d))
    first = c.run(args).stdout
    parse_cp(c, first, role_arn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}", session="trust-created")
    for p in (shared / "a", d):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o700, p
        assert os.stat(p).st_uid == os.geteuid(), p
    n = c.sts.mark()
    assert c.run(args).stdout == first
    assert c.sts.calls(since=n) == []


@pytest.mark.parametrize("variant", ["other-account", "other-role", "first-hop-of-a-chain"])
def test_entry_for_another_account_or_role_is_not_served(ctx, variant):
    """An entry (in our own private cache) that does not match the request is discarded
    with a warning, fresh credentials are fetched and cached in its place."""
    c = ctx
    c.sts.configure(lifetime=900)
    extra: list[str] = []
    role_arn, account = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}", ACCOUNT
    if variant == "other-account":
        extra = ["--allowed-account-ids", ACCOUNT]
        entry = planted_entry(EVIL_ACCOUNT, ROLE)
    elif variant == "other-role":
        entry = planted_entry(ACCOUNT, "someone-elses-role")
    else:
        extra = ["--chain-role-arn", CHAIN_ROLE_ARN]
        role_arn, account = CHAIN_ROLE_ARN, CHAIN_ACCOUNT
        entry = planted_entry(ACCOUNT, ROLE, chained=False)
    sess = f"mismatch-{variant}"
    key = cache_key(c, sess, *extra)
    d = c.tmp / f"learn-{sess}"   # the victim's own private cache
    (d / f"{key}.json").write_text(entry)
    args = cp_args(c, sess, *extra, "--cache-dir", str(d))
    n = c.sts.mark()
    p = c.run(args, check=False)
    assert PLANTED_KEY not in p.stdout, f"{variant}: served a mismatching entry"
    assert p.returncode == 0, p.stderr
    doc = parse_cp(c, p.stdout, role_arn=role_arn, session=sess, account=account)
    assert "warning" in p.stderr and "cache" in p.stderr, p.stderr
    assert c.sts.calls(since=n), "no fresh credentials fetched"
    m = c.sts.mark()
    assert json.loads(c.run(args).stdout) == doc, "the fresh credentials were not cached"
    assert c.sts.calls(since=m) == []
