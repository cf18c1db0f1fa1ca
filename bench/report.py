#!/usr/bin/env python3
"""Print bench/run.sh's results table.

    report.py RESULTS_DIR TOOL [TOOL...]

Per tool, RESULTS_DIR holds <tool>.status ("ok" or a failure reason),
<tool>.hf.json (hyperfine --export-json) and <tool>.rss (GNU time %M, KiB,
one line per run).  The first tool is the baseline (aws-oidc).  Also reads
RESULTS_DIR/meta (KEY=value lines written by run.sh).  Exits 3 when the
baseline misses a target (run.sh decides what to do with that).
"""
import json
import os
import statistics
import sys

res, tools = sys.argv[1], sys.argv[2:]
meta = {}
with open(os.path.join(res, "meta")) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("=")
        meta[k] = v


def read(tool, ext):
    try:
        with open(os.path.join(res, f"{tool}.{ext}")) as f:
            return f.read()
    except FileNotFoundError:
        return None


rows = {}
for t in tools:
    status = (read(t, "status") or "not run").strip()
    row = {"status": status}
    hf = read(t, "hf.json")
    if status == "ok" and hf:
        r = json.loads(hf)["results"][0]
        row.update(median=r["median"] * 1e3, mean=r["mean"] * 1e3,
                   sd=(r.get("stddev") or 0.0) * 1e3, min=r["min"] * 1e3,
                   max=r["max"] * 1e3, n=len(r["times"]))
    if "median" in row:
        row["cpu"] = (r.get("user", 0.0) + r.get("system", 0.0)) * 1e3
    reqs = read(t, "reqs")
    if status == "ok" and reqs:  # "token=a sts=b bad=c token=A sts=B bad=C jobs=J"
        kv = [x.split("=") for x in reqs.split()]
        before = {k: int(v) for k, v in kv[0:3]}
        after = {k: int(v) for k, v in kv[3:6]}
        jobs = int(kv[6][1])
        row["reqs"] = {k: (after[k] - before[k]) / jobs for k in before}
    rss = read(t, "rss")
    if status == "ok" and rss:
        kib = [int(x) for x in rss.split()]
        row.update(rss=statistics.median(kib) / 1024, rss_max=max(kib) / 1024)
    rows[t] = row

base = rows[tools[0]]


def ratio(v, b, more, less):
    if not v or not b:
        return "-"
    r = v / b
    return f"{r:.1f}x {more}" if r >= 1 else f"{1 / r:.1f}x {less}"


print()
print(f"aws-oidc benchmark: GitHub-path job "
      f"(token endpoint -> STS AssumeRoleWithWebIdentity -> env file)")
print(f"servers: {meta.get('servers', '?')}")
print(f"runs: {meta.get('runs')} per tool after {meta.get('warmup')} warm-up "
      f"(wall: hyperfine -N median; user+sys: hyperfine mean CPU time;\n"
      f"      peak RSS: GNU time %M median over {meta.get('runs')} separate runs)")
print(f"host: {meta.get('host', '?')}; load avg before: {meta.get('load', '?')}, "
      f"after: {meta.get('load_after', '?')}")
try:
    if float(meta.get("load", "0").split()[0]) > 0.5 * float(meta.get("cpus", "0")):
        print("warning: the box was busy (load avg > half the CPUs): wall times are inflated; "
              "user+sys ms is the steadier number")
except ValueError:
    pass
print()
hdr = (f"{'tool':<10} {'median ms':>10} {'mean ± sd ms':>17} {'min ms':>8} {'user+sys ms':>12} "
       f"{'peak RSS MiB':>13}  vs aws-oidc")
print(hdr)
print("-" * len(hdr))
for t in tools:
    r = rows[t]
    if "median" not in r:
        print(f"{t:<10} {'FAILED: ' + r['status']}")
        continue
    ms = f"{r['mean']:.1f} ± {r['sd']:.1f}"
    rss = f"{r['rss']:.1f}" if "rss" in r else "-"
    if t == tools[0]:
        vs = "(baseline)"
    else:
        vs = (ratio(r["median"], base.get("median"), "slower", "faster") + ", "
              + ratio(r.get("rss"), base.get("rss"), "more memory", "less memory"))
    print(f"{t:<10} {r['median']:>10.1f} {ms:>17} {r['min']:>8.1f} {r['cpu']:>12.1f} {rss:>13}  {vs}")
print()
per_job = [f"{t} {r['reqs']['token']:.2f} token + {r['reqs']['sts']:.2f} STS"
           + (f" + {r['reqs']['bad']:.2f} rejected" if r["reqs"]["bad"] else "")
           for t, r in rows.items() if "reqs" in r]
if per_job:
    print("requests per job seen by the canned server: " + "; ".join(per_job))
    print()

for key, label in (("bin", meta.get("bin_label", "release binary")), ("static_bin", "static build")):
    path = meta.get(key)
    if path and os.path.exists(path):
        size = os.path.getsize(path)
        print(f"{label + ':':<16} {meta.get(key + '_rel', path)}  {size / 2**20:.2f} MiB ({size} bytes)")
    elif key == "static_bin":
        print(f"{label + ':':<16} {meta.get(key + '_rel', path)} not present "
              f"(size profile / static build is measured separately)")
print()

t_ms, t_mib = float(meta.get("target_ms", 20)), float(meta.get("target_mib", 15))
missed = False
if "median" in base:
    ok_t = base["median"] <= t_ms
    ok_m = "rss" in base and base["rss"] <= t_mib
    missed = not (ok_t and ok_m)
    print(f"targets ({meta.get('cpus', '?')}-core box): "
          f"aws-oidc median <= {t_ms:g} ms: {'PASS' if ok_t else 'FAIL'} ({base['median']:.1f} ms); "
          f"peak RSS <= {t_mib:g} MiB: {'PASS' if ok_m else 'FAIL'} "
          f"({base.get('rss', float('nan')):.1f} MiB)")
else:
    missed = True
    print(f"targets: aws-oidc median <= {t_ms:g} ms: FAIL (no result); "
          f"peak RSS <= {t_mib:g} MiB: FAIL (no result)")
sys.exit(3 if missed else 0)
