#!/usr/bin/env bash
# Validate the CI files of this repository against the CI systems' JSON schemas, offline,
# with check-jsonschema's built-in (vendored) schemas.
#
#   scripts/check-ci-files.sh
#
#   GitLab      ci-templates/gitlab/**/*.yml                    vendor.gitlab-ci
#               A template with a `spec:` header is two YAML documents (header, `---`,
#               body), which check-jsonschema cannot read (it loads one document per
#               file). Each template is therefore split here: the header is validated as
#               {"spec": ...}; the body after interpolating `$[[ inputs.NAME ]]` the way
#               GitLab does (a scalar that is exactly one interpolation keeps the input's
#               type), once with the defaults and once per value of each `options` input,
#               required inputs given a placeholder. Also checked: every interpolation
#               names a declared input, and every `extends:` / `!reference` target exists
#               in each variant. Other GitLab files are validated as they are
#               (--data-transform gitlab-ci: the `!reference` tag).
#   CircleCI    ci-templates/circleci/*.yml                     vendor.circle-ci
#   Bitbucket   ci-templates/bitbucket/*.yml                    vendor.bitbucket-pipelines
#   Buildkite   ci-templates/buildkite/*.yml                    vendor.buildkite
#               (+ `bash -n` on ci-templates/buildkite/hooks/*)
#   GitHub      action.yml (if present)                         vendor.github-actions
#               .github/workflows/*.yml, ci-templates/github/*.yml (if present)
#                                                               vendor.github-workflows
#
# Installs check-jsonschema (pinned) into <repo>/.venv with pip when it is missing.
# Before trusting a schema, a deliberately broken document must fail against it.
# Exits non-zero on any failure.
set -euo pipefail

CHECK_JSONSCHEMA_VERSION=0.39.0

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="$repo/.venv"
cj="$venv/bin/check-jsonschema"
py="$venv/bin/python"

die() { printf 'check-ci-files: FAILED: %s\n' "$*" >&2; exit 1; }

# --- check-jsonschema ------------------------------------------------------------
if [ ! -x "$py" ]; then
  python3 -m venv "$venv" || die "python3 -m venv $venv failed"
fi
if [ ! -x "$cj" ] || [ "$("$cj" --version 2>/dev/null | awk '{print $NF}')" != "$CHECK_JSONSCHEMA_VERSION" ]; then
  echo "check-ci-files: pip install check-jsonschema==$CHECK_JSONSCHEMA_VERSION into $venv" >&2
  "$py" -m pip install --quiet --disable-pip-version-check --no-input \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" || die "pip install check-jsonschema failed"
fi
"$py" -c 'import yaml' 2>/dev/null || "$py" -m pip install --quiet --disable-pip-version-check PyYAML \
  || die "pip install PyYAML failed"

# Offline: the built-in schemas are files inside the package; make any network access
# fail fast instead of hanging (nothing here should need it).
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9
export NO_PROXY='' no_proxy=''

work="$(mktemp -d "${TMPDIR:-/tmp}/aws-oidc-check-ci-files.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failures=0
checked=0
fail() { printf 'check-ci-files: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

# validate SCHEMA LABEL FILE... [-- extra check-jsonschema args before the files]
validate() {
  local schema="$1" label="$2"; shift 2
  local extra=() out
  while [ $# -gt 0 ] && [ "$1" != -- ]; do extra+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  [ $# -gt 0 ] || return 0
  if out="$("$cj" --builtin-schema "$schema" "${extra[@]}" "$@" 2>&1)"; then
    printf 'ok    %-26s %s\n' "$schema" "$label"
  else
    printf 'FAIL  %-26s %s\n%s\n' "$schema" "$label" "$out" >&2
    failures=$((failures + 1))
  fi
  checked=$((checked + $#))
}

# A schema that accepts a broken document proves nothing.
neg="$work/negative"; mkdir -p "$neg"
printf 'job:\n  script: 42\n  artifacts:\n    access: everyone\n' >"$neg/gitlab.yml"
printf 'version: 2.1\njobs:\n  a:\n    docker: 5\n' >"$neg/circle.yml"
printf 'pipelines:\n  default:\n    - step:\n        oidc: please\n        script: [echo]\n' >"$neg/bitbucket.yml"
printf 'steps:\n  - command: 5\n    label: [1]\n' >"$neg/buildkite.yml"
printf 'name: x\nruns: 5\n' >"$neg/action.yml"
printf 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: 5\n' >"$neg/workflow.yml"
for pair in vendor.gitlab-ci:gitlab vendor.circle-ci:circle vendor.bitbucket-pipelines:bitbucket \
            vendor.buildkite:buildkite vendor.github-actions:action vendor.github-workflows:workflow; do
  if "$cj" --builtin-schema "${pair%%:*}" "$neg/${pair#*:}.yml" >/dev/null 2>&1; then
    fail "${pair%%:*} accepts a broken document: the schema check would prove nothing"
  fi
done

# --- GitLab --------------------------------------------------------------------------
mapfile -t gitlab_files < <(find ci-templates/gitlab -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
[ "${#gitlab_files[@]}" -gt 0 ] || fail "no GitLab files under ci-templates/gitlab"

plain_gitlab=()
for f in "${gitlab_files[@]}"; do
  if grep -q '^spec:' "$f" || grep -q '\$\[\[' "$f"; then
    # A template: split, interpolate, semantic checks; instances as JSON files.
    dir="$work/gitlab/$(printf '%s' "$f" | tr '/' '_')"
    mkdir -p "$dir"
    if ! report="$("$py" - "$f" "$dir" <<'PY'
import copy, itertools, json, os, re, sys
import yaml

path, outdir = sys.argv[1], sys.argv[2]

class Loader(yaml.SafeLoader):
    pass

# GitLab's `!reference [job, key]`; check-jsonschema's gitlab transform turns it into
# the list of its strings, and so does this.
Loader.add_constructor("!reference",
    lambda loader, node: {"__reference__": loader.construct_sequence(node)})

text = open(path, encoding="utf-8").read()
docs = list(yaml.load_all(text, Loader=Loader))
errors = []
if len(docs) != 2 or not isinstance(docs[0], dict) or set(docs[0]) != {"spec"}:
    sys.exit(f"{path}: expected two YAML documents, a `spec:` header and the configuration "
             f"(found {len(docs)} document(s))")
header, body = docs
inputs = (header["spec"] or {}).get("inputs") or {}

INTERP = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*(\|[^\]]*)?\]\]")

def placeholder(spec):
    t = (spec or {}).get("type", "string")
    return {"string": "check-ci-files-placeholder", "number": 0, "boolean": False, "array": []}[t]

def default_values():
    vals = {}
    for name, spec in inputs.items():
        spec = spec or {}
        vals[name] = spec["default"] if "default" in spec else placeholder(spec)
    return vals

used = set()
def interp_str(s, vals):
    m = INTERP.fullmatch(s.strip()) if isinstance(s, str) else None
    if m and s.strip() == s:
        name = m.group(1)
        used.add(name)
        if name not in vals:
            errors.append(f"`$[[ inputs.{name} ]]`: no such input in spec:inputs")
            return s
        return vals[name]          # the whole scalar: keep the input's type
    def one(m):
        name = m.group(1)
        used.add(name)
        if m.group(2):
            errors.append(f"`{m.group(0)}`: interpolation functions are not checked here")
        if name not in vals:
            errors.append(f"`$[[ inputs.{name} ]]`: no such input in spec:inputs")
            return m.group(0)
        v = vals[name]
        return json.dumps(v) if isinstance(v, (list, bool)) else str(v)
    return INTERP.sub(one, s)

def interp(node, vals):
    if isinstance(node, dict):
        if set(node) == {"__reference__"}:
            return {"__reference__": [interp(x, vals) for x in node["__reference__"]]}
        return {interp_str(k, vals) if isinstance(k, str) else k: interp(v, vals)
                for k, v in node.items()}
    if isinstance(node, list):
        return [interp(x, vals) for x in node]
    if isinstance(node, str):
        return interp_str(node, vals)
    return node

def refs_to_lists(node, refs):
    if isinstance(node, dict):
        if set(node) == {"__reference__"}:
            refs.append(node["__reference__"])
            return list(node["__reference__"])
        return {k: refs_to_lists(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [refs_to_lists(x, refs) for x in node]
    return node

# Variants: the defaults, then each value of each `options` input.
variants = [("defaults", default_values())]
for name, spec in inputs.items():
    for opt in (spec or {}).get("options") or []:
        vals = default_values()
        if vals[name] != opt:
            vals[name] = opt
            variants.append((f"{name}={opt}", vals))

base = os.path.basename(path)
with open(os.path.join(outdir, "00-spec-header.json"), "w") as fh:
    json.dump(header, fh)
names = ["spec header"]
for i, (label, vals) in enumerate(variants, 1):
    refs = []
    inst = refs_to_lists(interp(copy.deepcopy(body), vals), refs)
    if not isinstance(inst, dict):
        errors.append(f"[{label}] the configuration document is not a mapping")
        continue
    jobs = {k for k in inst if isinstance(k, str)}
    for job, conf in inst.items():
        if not isinstance(conf, dict):
            continue
        ext = conf.get("extends")
        for target in ([ext] if isinstance(ext, str) else ext or []):
            if target not in jobs:
                errors.append(f"[{label}] {job}: extends `{target}`, which this file does not define")
    for ref in refs:
        node = inst
        for key in ref:
            if not isinstance(node, dict) or key not in node:
                errors.append(f"[{label}] !reference {ref}: not defined in this file")
                break
            node = node[key]
    # The schema does not check hidden jobs (keys starting with "."): it accepts anything
    # there as a YAML anchor. So add, for each hidden job, a visible job with what a job
    # that `extends:` it gets (GitLab's merge: mappings deep-merged, the rest replaced,
    # later `extends` entries win), plus a `script:` when the template leaves that to
    # the job.
    def merged(job, seen=()):
        conf = inst.get(job)
        if not isinstance(conf, dict) or job in seen:
            return {}
        ext = conf.get("extends")
        result = {}
        for parent in ([ext] if isinstance(ext, str) else ext or []):
            result = deep_merge(result, merged(parent, seen + (job,)))
        return deep_merge(result, {k: v for k, v in conf.items() if k != "extends"})
    def deep_merge(a, b):
        out = dict(a)
        for k, v in b.items():
            out[k] = deep_merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
        return out
    for job in sorted(j for j in jobs if j.startswith(".") and isinstance(inst[j], dict)):
        eff = merged(job)
        eff.setdefault("script", ["echo check-ci-files"])
        inst[f"check-ci-files-job{job}"] = eff
    fname = f"{i:02d}-{re.sub(r'[^A-Za-z0-9_.=-]', '_', label)}.json"
    with open(os.path.join(outdir, fname), "w") as fh:
        json.dump(inst, fh)
    names.append(label)

unused = set(inputs) - used
if unused:
    errors.append(f"inputs declared but never used: {', '.join(sorted(unused))}")
if errors:
    sys.exit(f"{path}:\n  " + "\n  ".join(dict.fromkeys(errors)))
print(", ".join(names))
PY
)"; then
      fail "$f: $report"
      continue
    fi
    validate vendor.gitlab-ci "$f (template: $report)" -- "$dir"/*.json
  else
    plain_gitlab+=("$f")
  fi
done
validate vendor.gitlab-ci "${plain_gitlab[*]}" --data-transform gitlab-ci -- "${plain_gitlab[@]}"

# --- CircleCI, Bitbucket, Buildkite ------------------------------------------------
each() {  # each SCHEMA GLOB...: one check-jsonschema run for the existing files
  local schema="$1"; shift
  local files=() f
  for f in "$@"; do [ -f "$f" ] && files+=("$f"); done
  if [ "${#files[@]}" -eq 0 ]; then
    fail "no files for $schema ($*)"
    return
  fi
  validate "$schema" "${files[*]}" -- "${files[@]}"
}
shopt -s nullglob
each vendor.circle-ci ci-templates/circleci/*.yml
each vendor.bitbucket-pipelines ci-templates/bitbucket/*.yml
each vendor.buildkite ci-templates/buildkite/*.yml
for hook in ci-templates/buildkite/hooks/*; do
  if bash -n "$hook"; then
    printf 'ok    %-26s %s\n' "bash -n" "$hook"
  else
    fail "$hook: bash syntax error"
  fi
done

# --- GitHub (written elsewhere; checked when present) ----------------------------------
if [ -f action.yml ]; then
  validate vendor.github-actions action.yml -- action.yml
fi
workflows=(.github/workflows/*.yml .github/workflows/*.yaml ci-templates/github/*.yml ci-templates/github/*.yaml)
if [ "${#workflows[@]}" -gt 0 ]; then
  validate vendor.github-workflows "${workflows[*]}" -- "${workflows[@]}"
fi

if [ "$failures" -gt 0 ]; then
  die "$failures check(s) failed"
fi
printf 'check-ci-files: all %d instance(s) valid (check-jsonschema %s, built-in schemas, offline)\n' \
  "$checked" "$CHECK_JSONSCHEMA_VERSION" >&2
