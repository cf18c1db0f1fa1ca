#!/usr/bin/env python3
"""Print bench/run.sh's table: every goal of issue 15 as measured / reference = ratio.

    report.py RESULTS_FILE [--markdown FILE]

RESULTS_FILE holds KEY=VALUE lines written by run.sh (times in ms, sizes in bytes, RSS in
KiB; `failed=` lines for jobs that failed). A goal whose figures are missing (its section
was not run, or could not be measured) is shown as "not measured" and counts neither way.
Exits 3 when a measured goal is missed, else 0.
"""
import sys

args = sys.argv[1:]
markdown = None
if "--markdown" in args:
    i = args.index("--markdown")
    markdown = args[i + 1]
    del args[i:i + 2]
r, failures = {}, []
with open(args[0]) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("=")
        if k == "failed":
            failures.append(v)
        else:
            r[k] = v


def num(key):
    try:
        return float(r[key])
    except (KeyError, ValueError):
        return None


MB, MIB = 1e6, 1024.0  # sizes in decimal MB (bytes / 10^6); RSS in MiB (KiB / 1024)
PUBLISHED_CAC_MS = 400.0  # configure-aws-credentials on node, published, not measured here
rows = []  # goal, measured, reference, ratio, target, verdict


def ms(v):
    return f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"


def relative(goal, m, ref, ref_label, limit):
    if m is None or ref is None or ref <= 0:
        rows.append((goal, "not measured", "-", "-", f"<= {limit:g}x", "n/a"))
        return
    ratio = m / ref
    rows.append((goal, ms(m), f"{ref_label} {ms(ref)}", f"{ratio:.2f}x", f"<= {limit:g}x",
                  "PASS" if ratio <= limit else "FAIL"))


def absolute(goal, v, unit, fmt, limit, note=None):
    if v is None:
        rows.append((goal, f"not measured{' (' + note + ')' if note else ''}", "-", "-",
                     f"<= {limit:g} {unit}", "n/a"))
        return
    rows.append((goal, f"{fmt(v)} {unit}", "-", "-", f"<= {limit:g} {unit}",
                 "PASS" if v <= limit else "FAIL"))


version, rt = num("version_ms"), num("rt2_inproc_ms")
floor = version + rt if None not in (version, rt) else None
relative("Floor: plain-HTTP job vs floor", num("job_plain_ms"), floor, "floor", 2)
relative("HTTPS job (AWS_CA_BUNDLE) vs curl", num("job_https_ms"), num("curl_https_ms"), "curl", 0.6)
relative("HTTPS job (SSL_CERT_FILE) vs curl", num("job_https_sslcertfile_ms"),
         num("curl_https_ms"), "curl", 0.6)
relative("Cache hit: credential-process vs --version", num("cache_hit_ms"), version,
         "--version", 1.5)
absolute("exec --serve: SDK request, median", num("serve_median_ms"), "ms", lambda v: f"{v:.3f}", 1)
relative("Many roles: 20 targets vs 1 (STS +100 ms)", num("targets_many_ms"),
         num("targets_one_ms"), "1 target", 2)


def size(key):
    v = num(key)
    return None if v is None else v / MB


absolute("Size: release binary" + (" (" + r["size_bin_note"] + ")" if r.get("size_bin_note") else ""),
         size("size_bin"), "MB", lambda v: f"{v:.2f}", 6.0)
absolute("Size: static binary", size("size_static"), "MB", lambda v: f"{v:.2f}", 6.5,
         None if r.get("static_bin") else "no static build")
absolute("Size: image", size("size_image"), "MB", lambda v: f"{v:.2f}", 8, r.get("size_image_note"))
asset = size("size_asset")
if asset is not None:
    rows.append((f"Size: release asset (tar.gz of the {r.get('size_asset_of', '?')} binary)",
                 f"{asset:.2f} MB", "-", "-", "report", "info"))
for key, label in (("job_plain", "plain-HTTP job"), ("job_https", "HTTPS job"),
                   ("cache_hit", "cache hit"), ("targets", "20 targets"),
                   ("serve", "exec --serve server")):
    v = num(f"{key}_rss_kib")
    absolute(f"Memory: {label}", None if v is None else v / MIB, "MiB", lambda v: f"{v:.1f}", 8)
act = num("action_ms")
rows.append(("Action on a fresh runner (install + job)",
             ms(act) if act is not None else "not measured",
             f"configure-aws-credentials {PUBLISHED_CAC_MS:.0f} ms (published)",
             f"{act / PUBLISHED_CAC_MS:.2f}x" if act is not None else "-", "report", "info"))
inst = num("action_install_ms")
if inst is not None:
    rows.append(("  of which action/install.sh (download, SHA-256, unpack)", ms(inst), "-",
                 f"{inst / act:.2f} of it" if act else "-", "report", "info"))
parts = [(k, num(f"action_part_{k}_ms")) for k in ("download", "sha256", "untar")]
if all(v is not None for _, v in parts):
    rows.append(("  install.sh's curl / sha256sum / tar -xzf alone",
                 " / ".join(ms(v) for _, v in parts), "-", "-", "report", "info"))
peer_base = num("peer_aws_oidc_ms")
for t in ("awscli", "boto3"):
    v = num(f"peer_{t}_ms")
    if v is not None and peer_base:
        rows.append((f"Peers: {t} vs aws-oidc (plain-HTTP job)", ms(v), f"aws-oidc {ms(peer_base)}",
                     f"{v / peer_base:.1f}x", "report", "info"))

missed = [row[0] for row in rows if row[5] == "FAIL"]

hdr = ("goal", "measured", "reference (this run)", "ratio", "target", "")
widths = [max(len(str(row[i])) for row in rows + [hdr]) for i in range(6)]


def line(row):
    return "  ".join(str(c).ljust(w) if i in (0, 2, 4, 5) else str(c).rjust(w)
                     for i, (c, w) in enumerate(zip(row, widths))).rstrip()


print()
print("aws-oidc benchmark: the goals of issue 15, each against a floor or peer measured in this run")
print(f"binary: {r.get('bin', '?')} ({r.get('bin_version', '?')}); host: {r.get('host', '?')}; "
      f"load avg before: {r.get('load', '?')}, after: {r.get('load_after', '?')}")
print(f"wall: hyperfine -N, {r.get('stat', 'median')} of {r.get('runs')} runs in {r.get('rounds')} "
      f"interleaved rounds (after {r.get('warmup')} warm-up each); "
      f"peak RSS: GNU time %M, median of {r.get('rss_runs')} runs")
print()
print(line(hdr))
print(line(tuple("-" * w for w in widths)))
for row in rows:
    print(line(row))
print()
if floor is not None:
    print(f"floor = t(aws-oidc --version) + t(2 round trips to the canned server, bench/roundtrips.c) "
          f"= {version:.2f} + {rt:.2f} = {floor:.2f} ms")
print(f"raw figures (*_ms: hyperfine {r.get('stat', 'median')}; *_cpu_ms: mean user+sys; *_kib: peak RSS; size_*: bytes):")
skip = {"host", "bin", "bin_version", "load", "load_after", "runs", "warmup", "rss_runs", "cpus",
        "rounds", "stat",
        "nice", "static_bin", "action_exec_list", "action_execs", "action_children", "strace_file"}
raw = [f"{k}={v}" for k, v in r.items() if k not in skip and v != ""]
for i in range(0, len(raw), 4):
    print("  " + "  ".join(raw[i:i + 4]))
if r.get("action_exec_list"):
    print(f"the action step (one run under strace): {r.get('action_children')} child processes "
          f"reaped, of which {r.get('action_execs')} ran a program: {r['action_exec_list']}; "
          "the rest are bash $(...) subshells")
for f in failures:
    print(f"FAILED: {f}")
print()
print(f"goals missed: {', '.join(missed)}" if missed else "all measured goals met")
if failures:
    print(f"not everything was measured: {len(failures)} job(s) failed (FAILED above)")

if markdown:
    with open(markdown, "w") as f:
        f.write(f"Measured by `bench/run.sh` on {r.get('host', '?')} "
                f"(hyperfine -N, {r.get('stat', 'median')} of {r.get('runs')} runs; "
                "peak RSS by GNU time). "
                "References are measured in the same run, except configure-aws-credentials' "
                "published figure.\n\n")
        f.write("| goal | measured | reference (this run) | ratio | target | |\n")
        f.write("|---|---:|---|---:|---|---|\n")
        for row in rows:
            f.write("| " + " | ".join(str(c) for c in row) + " |\n")
        if floor is not None:
            f.write(f"\nfloor = `aws-oidc --version` + two round trips to the C canned server "
                    f"(bench/roundtrips.c) = {version:.2f} + {rt:.2f} = {floor:.2f} ms\n")
sys.exit(3 if missed else 0)
