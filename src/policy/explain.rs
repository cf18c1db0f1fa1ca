//! Explaining a trust policy's answer for one token: the verdict, every failing part with the
//! value the token has and the values the policy wants, the smallest edit that would admit the
//! token, and a warning when that edit (or the policy as it stands) admits much more.

use serde_json::{Value, json};

use super::document::{
    self as policy, ActionSpec, Base, ConditionOutcome, Effect, Evaluation, Policy, PrincipalSpec,
    Request, SetOp, StatementOutcome, Tri, Verdict, glob, has_wildcard, json_list,
};
use super::keys::{self, Context, Lookup, TAGS_CLAIM};
use crate::aws::partition::Partition;
use crate::token::jwt::Claims;

pub const ASSUME: &str = "sts:AssumeRoleWithWebIdentity";
pub const TAG_SESSION: &str = "sts:TagSession";

/// What the role is known to be: its partition and account, when given.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub partition: Option<Partition>,
    pub account: Option<String>,
}

/// One change to the policy that would admit the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    /// Set when the change admits much more than this token.
    pub warning: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Explanation {
    pub claims_summary: String,
    pub provider: Option<String>,
    /// The provider ARN the policy must name (a pattern when the account is not known).
    pub provider_arn: String,
    pub evaluations: Vec<Evaluation>,
    pub verdict: Verdict,
    pub edits: Vec<Edit>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

/// Evaluates `policy` for the token and works out what to change.
pub fn explain(policy: &Policy, claims: &Claims, ctx: &Context, scope: &Scope) -> Explanation {
    let provider = ctx.provider.clone();
    let request = |action| Request {
        action,
        provider: provider.as_deref(),
        partition: scope.partition,
        account: scope.account.as_deref(),
    };
    let mut actions = vec![ASSUME];
    if ctx.has_session_tags() {
        actions.push(TAG_SESSION);
    }
    let evaluations: Vec<Evaluation> = actions
        .iter()
        .map(|a| policy::evaluate(policy, &request(a), ctx))
        .collect();
    let verdict = evaluations
        .iter()
        .fold(Verdict::Allowed, |acc, e| Verdict::worst(acc, e.verdict));
    let provider_arn = expected_provider_arn(policy, provider.as_deref(), scope);
    let mut notes = Vec::new();
    if scope.account.is_none() {
        notes.push(
            "no --role-arn or --account given: a Federated provider of any account is accepted"
                .into(),
        );
    }
    if policy.version.as_deref() != Some("2012-10-17") {
        notes.push(format!(
            "the policy's Version is {}; use \"2012-10-17\"",
            policy
                .version
                .as_deref()
                .map_or("missing".into(), |v| format!("{v:?}"))
        ));
    }
    if ctx.has_session_tags() {
        notes.push(format!(
            "the token carries session tags ({TAGS_CLAIM}), so STS also checks {TAG_SESSION}"
        ));
    }
    let mut edits = Vec::new();
    for e in &evaluations {
        match e.verdict {
            Verdict::ExplicitDeny => edits.extend(deny_edits(e)),
            Verdict::ImplicitDeny => edits.extend(allow_edits(e, ctx, claims, &provider_arn)),
            Verdict::Undetermined => notes.extend(undetermined_notes(e)),
            Verdict::Allowed => {}
        }
    }
    dedup(&mut edits);
    let mut warnings = lint(&evaluations, ctx);
    warnings.dedup();
    Explanation {
        claims_summary: claims.summary(),
        provider,
        provider_arn,
        evaluations,
        verdict,
        edits,
        warnings,
        notes,
    }
}

fn dedup(edits: &mut Vec<Edit>) {
    let mut seen = Vec::new();
    edits.retain(|e| {
        let new = !seen.contains(&e.text);
        seen.push(e.text.clone());
        new
    });
}

/// `arn:<partition>:iam::<account>:oidc-provider/<provider>`, filling what is not known from
/// the policy's own provider ARNs, else with placeholders.
fn expected_provider_arn(policy: &Policy, provider: Option<&str>, scope: &Scope) -> String {
    let from_policy = policy.statements.iter().find_map(|s| match &s.principal {
        PrincipalSpec::Principal(p) => p.federated.iter().find_map(|f| {
            crate::aws::arn::parse_provider_arn(f)
                .map(|a| (a.partition.to_string(), a.account.to_string()))
        }),
        _ => None,
    });
    let partition = scope
        .partition
        .map(|p| p.name().to_string())
        .or_else(|| from_policy.as_ref().map(|(p, _)| p.clone()))
        .unwrap_or_else(|| "aws".into());
    let account = scope
        .account
        .clone()
        .or_else(|| from_policy.map(|(_, a)| a))
        .unwrap_or_else(|| "<account-id>".into());
    crate::aws::arn::provider_arn(
        partition,
        &account,
        provider.unwrap_or("<issuer host/path>"),
    )
}

/// Who else a shared issuer serves, for "admits every …" warnings (the CIs say).
fn audience_of_issuer(provider: &str) -> &'static str {
    crate::ci::shared_issuer_serves(provider)
}

/// A warning when a condition value admits much more than one job.
pub fn breadth(provider: &str, key: &str, value: &str) -> Option<String> {
    let claim = key.rsplit(':').next().unwrap_or("").to_ascii_lowercase();
    if !has_wildcard(value) {
        return None;
    }
    if claim == "aud" {
        return Some(format!(
            "the audience `{value}` has a wildcard: it admits tokens minted for other services too"
        ));
    }
    if claim != "sub" {
        return None;
    }
    if value.chars().all(|c| c == '*' || c == '?') {
        return Some(format!(
            "`{value}` admits every {}",
            audience_of_issuer(provider)
        ));
    }
    for grammar in crate::ci::sub_grammars() {
        let what = grammar.holder;
        let Some(rest) = value.strip_prefix(grammar.prefix) else {
            continue;
        };
        let (path, tail) = rest.split_once(':').unwrap_or((rest, ""));
        if has_wildcard(path) {
            let owner = path.split('/').next().unwrap_or("");
            return Some(if has_wildcard(owner) || !path.contains('/') {
                format!("`{value}` admits a {what} of any owner")
            } else {
                format!("`{value}` admits every {what} under `{owner}`, not just one")
            });
        }
        if tail.chars().all(|c| c == '*') {
            return Some(format!(
                "`{value}` admits every branch, tag, environment and pull request of `{path}`: anyone who can push a branch there can assume the role"
            ));
        }
        if has_wildcard(tail) {
            let kind = if crate::ci::sub_grammars().any(|g| tail.contains(g.branch)) {
                "branch"
            } else if crate::ci::sub_grammars().any(|g| tail.contains(g.tag)) {
                "tag"
            } else {
                "ref"
            };
            return Some(format!(
                "`{value}` admits every {kind} of `{path}` that it matches: anyone who can push such a {kind} can assume the role"
            ));
        }
        return None;
    }
    value.starts_with('*').then(|| {
        format!("`{value}` starts with a wildcard: it may admit subjects of other projects")
    })
}

fn deny_edits(e: &Evaluation) -> Vec<Edit> {
    e.statements
        .iter()
        .filter(|s| s.statement.effect == Effect::Deny && s.applies == Tri::Yes)
        .map(|s| {
            let why: Vec<String> = s
                .conditions
                .iter()
                .map(|c| match (&c.matched, &c.lookup) {
                    (Some((p, v)), _) => format!("`{} {}` matches `{v}` (value `{p}`)", c.condition.operator, c.condition.key),
                    (None, Lookup::Absent(_)) => format!("`{} {}` passes because the key is absent", c.condition.operator, c.condition.key),
                    (None, _) => format!("`{} {}` passes", c.condition.operator, c.condition.key),
                })
                .collect();
            Edit {
                text: format!(
                    "{} explicitly denies {} for this token{} (an explicit Deny beats every Allow): narrow it so that it no longer matches, or remove it",
                    s.statement.label(),
                    e.action,
                    if why.is_empty() { " (it has no conditions)".to_string() } else { format!(": {}", why.join(", ")) }
                ),
                warning: Some(
                    "a Deny is usually there on purpose (e.g. to keep pull requests or other branches out): check why before changing it"
                        .into(),
                ),
            }
        })
        .collect()
}

/// The Allow statement closest to admitting the token (fewest failing parts).
pub fn closest_allow(e: &Evaluation) -> Option<&StatementOutcome> {
    e.statements
        .iter()
        .filter(|s| s.statement.effect == Effect::Allow)
        .min_by_key(|s| s.failures())
}

fn allow_edits(e: &Evaluation, ctx: &Context, claims: &Claims, provider_arn: &str) -> Vec<Edit> {
    let Some(s) = closest_allow(e) else {
        return vec![Edit {
            text: format!(
                "add an Allow statement for {} (generate one with `aws-oidc trust-policy --from-token --account <id>`)",
                e.action
            ),
            warning: None,
        }];
    };
    let label = s.statement.label();
    let mut edits = Vec::new();
    if s.action == Tri::No {
        let text = match (&s.statement.action, e.action.as_str()) {
            (ActionSpec::NotAction(_), a) => format!("in {label}, remove `{a}` from NotAction"),
            (_, TAG_SESSION) => format!(
                "in {label}, add `{TAG_SESSION}` to Action: the token carries session tags ({TAGS_CLAIM}), and STS then requires it"
            ),
            (_, a) => format!("in {label}, add `{a}` to Action"),
        };
        edits.push(Edit {
            text,
            warning: None,
        });
    }
    if s.principal == Tri::No {
        let text = match &s.statement.principal {
            PrincipalSpec::NotPrincipal(_) => format!(
                "in {label}, NotPrincipal excludes this token's provider: use Principal {{\"Federated\": \"{provider_arn}\"}}"
            ),
            _ => format!(
                "in {label}, Principal.Federated must be `{provider_arn}` (and that OIDC provider must exist: aws iam create-open-id-connect-provider --url {} --client-id-list {})",
                claims.iss.as_deref().unwrap_or("<issuer>"),
                claims.aud.first().map_or("<audience>", String::as_str)
            ),
        };
        edits.push(Edit {
            text,
            warning: None,
        });
    }
    let sub_pinned = pins(s, ctx.provider.as_deref().unwrap_or(""), "sub");
    for c in s.conditions.iter().filter(|c| c.result == Tri::No) {
        edits.push(condition_edit(&label, c, ctx, sub_pinned));
    }
    edits
}

/// Whether a statement has a positive condition on `<provider>:<claim>` (one that restricts).
fn pins(s: &StatementOutcome, provider: &str, claim: &str) -> bool {
    s.conditions.iter().any(|c| {
        c.condition
            .key
            .eq_ignore_ascii_case(&format!("{provider}:{claim}"))
            && !c.condition.op.base.is_negated()
            && c.condition.op.base != Base::Null
            && !c.condition.op.if_exists
    })
}

fn with_operator(operator: &str, from: &str, to: &str) -> String {
    match operator.find(from) {
        Some(i) => format!("{}{to}{}", &operator[..i], &operator[i + from.len()..]),
        None => to.to_string(),
    }
}

fn condition_edit(label: &str, c: &ConditionOutcome, ctx: &Context, sub_pinned: bool) -> Edit {
    let cond = &c.condition;
    let (op, key) = (&cond.operator, &cond.key);
    let provider = ctx.provider.as_deref().unwrap_or("<issuer>");
    let values = match &c.lookup {
        Lookup::Present { values, .. } => values.clone(),
        Lookup::Absent(reason) => return absent_edit(label, c, ctx, reason, sub_pinned),
        Lookup::Unknown(reason) => {
            return Edit {
                text: format!("{label}: `{op} {key}` cannot be checked offline: {reason}"),
                warning: None,
            };
        }
    };
    if cond.op.base == Base::Null {
        return Edit {
            text: format!(
                "in {label}, remove `Null {key}`: it requires the key to be absent, but the token provides {}",
                json_list(&values)
            ),
            warning: None,
        };
    }
    if cond.op.base.is_negated() {
        let (p, v) = c.matched.clone().unwrap_or_default();
        return Edit {
            text: format!(
                "in {label}, remove `{p}` from `{op} {key}`: it excludes the token's `{v}`"
            ),
            warning: Some(format!(
                "`{p}` was probably excluded on purpose: removing it admits every token whose `{key}` it matched"
            )),
        };
    }
    // Positive operators: which token value should get in?
    let wanted = &cond.values;
    let missing: Vec<&String> = match cond.op.set {
        SetOp::ForAllValues => values
            .iter()
            .filter(|v| !wanted.iter().any(|p| matches(cond.op.base, p, v)))
            .collect(),
        _ => values.iter().take(1).collect(),
    };
    if cond.op.base == Base::StringEquals
        && let Some(p) = wanted
            .iter()
            .find(|p| has_wildcard(p) && values.iter().any(|v| glob(p, v)))
    {
        return Edit {
            text: format!(
                "in {label}, move `{key}` from `{op}` to `{}`: under StringEquals IAM compares `{p}` literally, wildcard and all",
                with_operator(op, "StringEquals", "StringLike")
            ),
            warning: breadth(provider, key, p),
        };
    }
    if let Some((p, v)) = wanted.iter().find_map(|p| {
        values
            .iter()
            .find(|v| {
                p.to_lowercase() == v.to_lowercase() || glob(&p.to_lowercase(), &v.to_lowercase())
            })
            .map(|v| (p, v))
    }) && cond.op.base != Base::StringEqualsIgnoreCase
    {
        return Edit {
            text: format!(
                "in {label}, fix the case of `{p}` under `{key}`: the token has `{v}`, and IAM compares values case-sensitively"
            ),
            warning: None,
        };
    }
    let add = missing.first().map(|v| v.to_string()).unwrap_or_default();
    let aud_note = if key.to_ascii_lowercase().ends_with(":aud") {
        format!(" (the OIDC provider's client ID list must include `{add}` too)")
    } else {
        String::new()
    };
    Edit {
        text: format!("in {label}, add `{add}` to `{key}` (under `{op}`){aud_note}"),
        warning: None,
    }
}

fn matches(base: Base, pattern: &str, value: &str) -> bool {
    match base {
        Base::StringLike => glob(pattern, value),
        Base::StringEqualsIgnoreCase => pattern.to_lowercase() == value.to_lowercase(),
        _ => pattern == value,
    }
}

fn absent_edit(
    label: &str,
    c: &ConditionOutcome,
    ctx: &Context,
    reason: &str,
    sub_pinned: bool,
) -> Edit {
    let (op, key) = (&c.condition.operator, &c.condition.key);
    let provider = ctx.provider.as_deref().unwrap_or("<issuer>");
    if let Some(claim) = keys::is_unexposed_claim_key(ctx, key) {
        let how = crate::ci::sub_customisation(provider);
        return Edit {
            text: format!(
                "in {label}, remove `{op} {key}`: IAM never provides the `{claim}` claim as a condition key, so this condition can never match; restrict through `{provider}:sub` instead{how}"
            ),
            warning: Some(if sub_pinned {
                format!(
                    "removing it drops that restriction: make sure `{provider}:sub` pins what `{claim}` was meant to pin"
                )
            } else {
                format!(
                    "removing it leaves {label} without any condition on `{provider}:sub`: every {} could assume the role; add a sub condition in the same change",
                    audience_of_issuer(provider)
                )
            }),
        };
    }
    let claim = key.rsplit(':').next().unwrap_or("").to_ascii_lowercase();
    if reason.contains("belongs to the provider") && matches!(claim.as_str(), "aud" | "sub") {
        return Edit {
            text: format!(
                "in {label}, rename `{key}` to `{provider}:{claim}`: the key names another provider"
            ),
            warning: None,
        };
    }
    Edit {
        text: format!("in {label}, remove `{op} {key}`: {reason}"),
        warning: None,
    }
}

fn undetermined_notes(e: &Evaluation) -> Vec<String> {
    e.statements
        .iter()
        .flat_map(|s| {
            s.conditions
                .iter()
                .filter(|c| c.result == Tri::Unknown)
                .map(move |c| {
                    let why = match &c.lookup {
                        Lookup::Unknown(r) => r.clone(),
                        _ if c.condition.values.iter().any(|v| v.contains("${")) => {
                            "policy variables (${…}) are not evaluated".into()
                        }
                        _ => format!(
                            "the operator `{}` is not evaluated offline",
                            c.condition.operator
                        ),
                    };
                    format!(
                        "{}: `{} {}` decides the answer and cannot be checked offline: {why}",
                        s.statement.label(),
                        c.condition.operator,
                        c.condition.key
                    )
                })
        })
        .collect()
}

/// Warnings about statements that admit the token: what else they admit.
fn lint(evaluations: &[Evaluation], ctx: &Context) -> Vec<String> {
    let provider = ctx.provider.as_deref().unwrap_or("<issuer>");
    let mut out = Vec::new();
    let Some(e) = evaluations.first() else {
        return out;
    };
    for s in e
        .statements
        .iter()
        .filter(|s| s.statement.effect == Effect::Allow && s.applies != Tri::No)
    {
        let label = s.statement.label();
        if matches!(&s.statement.principal, PrincipalSpec::Principal(p) if p.anyone) {
            out.push(format!(
                "{label} trusts Principal \"*\": only its conditions stand between any web identity and the role"
            ));
        }
        if !pins(s, provider, "sub") {
            out.push(format!(
                "{label} has no condition on `{provider}:sub`: every {} can assume this role",
                audience_of_issuer(provider)
            ));
        }
        if !pins(s, provider, "aud") {
            out.push(format!(
                "{label} does not pin `{provider}:aud`: add StringEquals `{provider}:aud` with the audience you request"
            ));
        }
        for c in &s.conditions {
            let cond = &c.condition;
            if matches!(cond.op.base, Base::StringLike) && !cond.op.base.is_negated() {
                for v in &cond.values {
                    if let Some(w) = breadth(provider, &cond.key, v) {
                        out.push(format!("{label}: {w}"));
                    }
                }
            }
            if let Lookup::Absent(reason) = &c.lookup
                && c.result == Tri::Yes
                && cond.op.base != Base::Null
            {
                out.push(format!(
                    "{label}: `{} {}` always passes and restricts nothing: {reason}",
                    cond.operator, cond.key
                ));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

fn lookup_text(l: &Lookup) -> String {
    match l {
        Lookup::Present { values, .. } => json_list(values),
        Lookup::Absent(_) => "(absent)".into(),
        Lookup::Unknown(_) => "(unknown offline)".into(),
    }
}

/// Lines describing the failing parts of the statements that decide a denial.
pub fn failing_lines(x: &Explanation) -> Vec<String> {
    let mut out = Vec::new();
    for e in &x.evaluations {
        match e.verdict {
            Verdict::ExplicitDeny => {
                for s in e
                    .statements
                    .iter()
                    .filter(|s| s.statement.effect == Effect::Deny && s.applies == Tri::Yes)
                {
                    out.push(format!(
                        "{}: Deny applies to {}",
                        s.statement.label(),
                        e.action
                    ));
                }
            }
            Verdict::ImplicitDeny => match closest_allow(e) {
                None => out.push(format!("no statement allows {}", e.action)),
                Some(s) => {
                    let label = s.statement.label();
                    if s.action == Tri::No {
                        out.push(format!("{label}: {}", s.action_detail));
                    }
                    if s.principal == Tri::No {
                        out.push(format!("{label}: Principal: {}", s.principal_detail));
                    }
                    for c in s.conditions.iter().filter(|c| c.result == Tri::No) {
                        let why = match &c.lookup {
                            Lookup::Absent(r) => format!(" ({r})"),
                            _ => String::new(),
                        };
                        out.push(format!(
                            "{label}: `{} {}` wants {}, the token has {}{why}",
                            c.condition.operator,
                            c.condition.key,
                            json_list(&c.condition.values),
                            lookup_text(&c.lookup)
                        ));
                    }
                }
            },
            _ => {}
        }
    }
    out
}

/// The human-readable report.
pub fn render_text(x: &Explanation, source: &str) -> String {
    let mut out = String::new();
    let verdict = match x.verdict {
        Verdict::Allowed => "ALLOWED".to_string(),
        Verdict::ExplicitDeny => "DENIED (explicit Deny)".to_string(),
        Verdict::ImplicitDeny => "DENIED (no statement allows it)".to_string(),
        Verdict::Undetermined => {
            "UNDETERMINED (depends on what explain cannot see offline)".to_string()
        }
    };
    out.push_str(&format!("verdict    {verdict}\n"));
    out.push_str(&format!("policy     {source}\n"));
    out.push_str(&format!("token      {}\n", x.claims_summary));
    out.push_str(&format!("provider   {}\n", x.provider_arn));
    for e in &x.evaluations {
        out.push_str(&format!("\n{}: {}\n", e.action, e.verdict.word()));
        for s in &e.statements {
            let effect = match s.statement.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            };
            let applies = match s.applies {
                Tri::Yes => "applies",
                Tri::No => "does not apply",
                Tri::Unknown => "may apply (unknown offline)",
            };
            out.push_str(&format!("  {} {effect}: {applies}\n", s.statement.label()));
            out.push_str(&format!(
                "    {:<7} Principal: {}\n",
                s.principal.word(),
                s.principal_detail
            ));
            out.push_str(&format!("    {:<7} {}\n", s.action.word(), s.action_detail));
            for c in &s.conditions {
                out.push_str(&format!(
                    "    {:<7} {} {}: wants {}, token has {}\n",
                    c.result.word(),
                    c.condition.operator,
                    c.condition.key,
                    json_list(&c.condition.values),
                    lookup_text(&c.lookup)
                ));
                match &c.lookup {
                    Lookup::Absent(r) | Lookup::Unknown(r) => {
                        out.push_str(&format!("            ({r})\n"));
                    }
                    Lookup::Present { note: Some(n), .. } => {
                        out.push_str(&format!("            ({n})\n"));
                    }
                    _ => {}
                }
            }
        }
    }
    if !x.edits.is_empty() {
        out.push_str("\nsmallest edit that admits this token:\n");
        for e in &x.edits {
            out.push_str(&format!("  - {}\n", e.text));
            if let Some(w) = &e.warning {
                out.push_str(&format!("    warning: {w}\n"));
            }
        }
    }
    if !x.warnings.is_empty() {
        out.push_str("\nwarnings:\n");
        for w in &x.warnings {
            out.push_str(&format!("  - {w}\n"));
        }
    }
    if !x.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in &x.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out
}

fn tri_json(t: Tri) -> Value {
    json!(match t {
        Tri::Yes => "pass",
        Tri::No => "fail",
        Tri::Unknown => "unknown",
    })
}

/// The machine-readable report.
pub fn to_json(x: &Explanation, source: &str) -> Value {
    let evaluations: Vec<Value> = x
        .evaluations
        .iter()
        .map(|e| {
            let statements: Vec<Value> = e
                .statements
                .iter()
                .map(|s| {
                    let conditions: Vec<Value> = s
                        .conditions
                        .iter()
                        .map(|c| {
                            let (token, reason) = match &c.lookup {
                                Lookup::Present { values, note } => (json!(values), note.clone()),
                                Lookup::Absent(r) => (Value::Null, Some(r.clone())),
                                Lookup::Unknown(r) => (Value::Null, Some(r.clone())),
                            };
                            json!({
                                "operator": c.condition.operator,
                                "key": c.condition.key,
                                "wants": c.condition.values,
                                "token": token,
                                "key_state": match &c.lookup {
                                    Lookup::Present { .. } => "present",
                                    Lookup::Absent(_) => "absent",
                                    Lookup::Unknown(_) => "unknown",
                                },
                                "reason": reason,
                                "result": tri_json(c.result),
                            })
                        })
                        .collect();
                    json!({
                        "index": s.statement.index,
                        "sid": s.statement.sid,
                        "effect": match s.statement.effect { Effect::Allow => "Allow", Effect::Deny => "Deny" },
                        "applies": tri_json(s.applies),
                        "principal": {"result": tri_json(s.principal), "detail": s.principal_detail},
                        "action": {"result": tri_json(s.action), "detail": s.action_detail},
                        "conditions": conditions,
                    })
                })
                .collect();
            json!({
                "action": e.action,
                "verdict": e.verdict.word(),
                "explicit_deny": e.verdict == Verdict::ExplicitDeny,
                "statements": statements,
            })
        })
        .collect();
    json!({
        "verdict": x.verdict.word(),
        "explicit_deny": x.verdict == Verdict::ExplicitDeny,
        "policy": source,
        "token": x.claims_summary,
        "provider": x.provider,
        "provider_arn": x.provider_arn,
        "evaluations": evaluations,
        "failing": failing_lines(x),
        "edits": x.edits.iter().map(|e| json!({"edit": e.text, "warning": e.warning})).collect::<Vec<_>>(),
        "warnings": x.warnings,
        "notes": x.notes,
    })
}

/// Hint lines for an `AccessDenied` from STS, explained against a local copy of the policy.
pub fn hint_lines(x: &Explanation, source: &str, role_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    match x.verdict {
        Verdict::Allowed => out.push(format!(
            "the trust policy in {source} allows this token, so the role's actual trust policy differs from it: compare with `aws iam get-role --role-name {role_name} --query Role.AssumeRolePolicyDocument`"
        )),
        Verdict::Undetermined => {
            out.push(format!(
                "the trust policy in {source} may deny this token, depending on what cannot be checked offline:"
            ));
            out.extend(x.notes.iter().map(|n| format!("  {n}")));
        }
        Verdict::ImplicitDeny | Verdict::ExplicitDeny => {
            out.push(format!("the trust policy in {source} denies this token:"));
            out.extend(failing_lines(x).into_iter().map(|l| format!("  {l}")));
            for e in &x.edits {
                out.push(format!("smallest edit: {}", e.text));
                if let Some(w) = &e.warning {
                    out.push(format!("  warning: {w}"));
                }
            }
        }
    }
    out
}
