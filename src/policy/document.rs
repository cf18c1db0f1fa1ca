//! A role trust policy and its evaluation for one `AssumeRoleWithWebIdentity` request, the way
//! IAM evaluates the parts trust policies use: `Effect`, `Principal`/`NotPrincipal`
//! (`Federated`), `Action`/`NotAction`, and `Condition` with the string operators, `Bool`,
//! `Null`, the `…IfExists` forms and the `ForAnyValue:`/`ForAllValues:` set forms.
//!
//! IAM rules followed here (IAM User Guide, "IAM JSON policy elements: Condition operators",
//! "Creating a condition with multiple keys or values", "Policy evaluation logic"):
//! values of one key are ORed, keys and operators of one block are ANDed; an explicit `Deny`
//! wins over any `Allow`; no matching `Allow` is an implicit deny; condition key names are
//! case-insensitive, values case-sensitive except for the `…IgnoreCase` operators; a key that
//! is absent from the request fails a positive operator and passes a negated one (`StringNot…`),
//! passes any `…IfExists` operator, fails `ForAnyValue:` and passes `ForAllValues:`; `*` and
//! `?` are wildcards only for `StringLike`/`StringNotLike`.
//! Everything else (numeric, date, IP and ARN operators, policy variables) is reported as
//! undecidable rather than guessed.

use serde_json::{Map, Value};

use super::keys::{Context, Lookup};
use crate::aws::arn::parse_provider_arn;
use crate::aws::partition::Partition;

/// Why a document is not a policy aws-oidc can evaluate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("the trust policy is not valid JSON: {0}")]
    Json(String),
    #[error("the trust policy is not a policy document: {0}")]
    Shape(String),
}

/// Three-valued outcome: IAM's answer, or "cannot tell offline".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    fn from_bool(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }

    /// AND of several outcomes.
    pub fn all(items: impl IntoIterator<Item = Tri>) -> Tri {
        let mut out = Tri::Yes;
        for t in items {
            match t {
                Tri::No => return Tri::No,
                Tri::Unknown => out = Tri::Unknown,
                Tri::Yes => {}
            }
        }
        out
    }

    /// OR of several outcomes.
    pub fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
        let mut out = Tri::No;
        for t in items {
            match t {
                Tri::Yes => return Tri::Yes,
                Tri::Unknown => out = Tri::Unknown,
                Tri::No => {}
            }
        }
        out
    }

    pub fn word(self) -> &'static str {
        match self {
            Tri::Yes => "pass",
            Tri::No => "FAIL",
            Tri::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Principal` or `NotPrincipal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principals {
    /// `"*"` or `{"AWS": "*"}`: everyone.
    pub anyone: bool,
    pub federated: Vec<String>,
    /// Other principal types (`AWS`, `Service`, `CanonicalUser`), as `Type:value`.
    pub others: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalSpec {
    Principal(Principals),
    NotPrincipal(Principals),
    Missing,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionSpec {
    Action(Vec<String>),
    NotAction(Vec<String>),
    Missing,
}

/// The base of a condition operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    Bool,
    Null,
    /// An operator aws-oidc does not evaluate (numeric, date, IP, ARN, binary).
    Other,
}

impl Base {
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Base::StringNotEquals | Base::StringNotEqualsIgnoreCase | Base::StringNotLike
        )
    }

    fn matches(self, pattern: &str, value: &str) -> bool {
        match self {
            Base::StringEquals | Base::StringNotEquals => pattern == value,
            Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase => {
                pattern.to_lowercase() == value.to_lowercase()
            }
            Base::StringLike | Base::StringNotLike => glob(pattern, value),
            Base::Bool => pattern.eq_ignore_ascii_case(value),
            Base::Null | Base::Other => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    Single,
    ForAnyValue,
    ForAllValues,
}

/// A parsed condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operator {
    pub set: SetOp,
    pub base: Base,
    pub if_exists: bool,
}

impl Operator {
    pub fn parse(name: &str) -> Operator {
        let (set, rest) = if let Some(r) = strip_prefix_ci(name, "ForAnyValue:") {
            (SetOp::ForAnyValue, r)
        } else if let Some(r) = strip_prefix_ci(name, "ForAllValues:") {
            (SetOp::ForAllValues, r)
        } else {
            (SetOp::Single, name)
        };
        let (rest, if_exists) = match rest.len().checked_sub("IfExists".len()) {
            Some(i) if rest.is_char_boundary(i) && rest[i..].eq_ignore_ascii_case("IfExists") => {
                (&rest[..i], true)
            }
            _ => (rest, false),
        };
        let base = match rest.to_ascii_lowercase().as_str() {
            "stringequals" => Base::StringEquals,
            "stringnotequals" => Base::StringNotEquals,
            "stringequalsignorecase" => Base::StringEqualsIgnoreCase,
            "stringnotequalsignorecase" => Base::StringNotEqualsIgnoreCase,
            "stringlike" => Base::StringLike,
            "stringnotlike" => Base::StringNotLike,
            "bool" => Base::Bool,
            "null" => Base::Null,
            _ => Base::Other,
        };
        Operator {
            set,
            base,
            if_exists,
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

/// One `operator: {key: values}` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The operator as written in the policy.
    pub operator: String,
    pub op: Operator,
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: PrincipalSpec,
    pub action: ActionSpec,
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// `statement 2 ("GitHubDeploy")` or `statement 2`.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => format!("statement {} ({sid:?})", self.index),
            _ => format!("statement {}", self.index),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
}

/// `*` and `?` wildcards (case-sensitive), as `StringLike` matches.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether a value has `StringLike` wildcards.
pub fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses a trust policy: a policy document, or `aws iam get-role` output
/// (`{"Role": {"AssumeRolePolicyDocument": …}}`), whose document may also be a JSON string,
/// URL-encoded as older CLIs print it.
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    let value: Value = serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))?;
    let doc = unwrap_document(value)?;
    let Value::Object(doc) = doc else {
        return Err(PolicyError::Shape("expected a JSON object".into()));
    };
    let version = doc
        .get("Version")
        .and_then(Value::as_str)
        .map(str::to_string);
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(_) => {
            return Err(PolicyError::Shape(
                "`Statement` must be an object or a list".into(),
            ));
        }
        None => return Err(PolicyError::Shape("no `Statement`".into())),
    };
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, s)| statement(i, s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        version,
        statements,
    })
}

fn unwrap_document(value: Value) -> Result<Value, PolicyError> {
    let inner = match &value {
        Value::Object(o) if o.contains_key("Role") => o
            .get("Role")
            .and_then(|r| r.get("AssumeRolePolicyDocument"))
            .cloned(),
        Value::Object(o) if o.contains_key("AssumeRolePolicyDocument") => {
            o.get("AssumeRolePolicyDocument").cloned()
        }
        _ => return Ok(value),
    };
    match inner {
        Some(Value::String(s)) => {
            let text = if s.trim_start().starts_with('{') {
                s
            } else {
                percent_decode(&s)
            };
            serde_json::from_str(&text)
                .map_err(|e| PolicyError::Json(format!("AssumeRolePolicyDocument: {e}")))
        }
        Some(v) => Ok(v),
        None => Err(PolicyError::Shape(
            "the `Role` object has no `AssumeRolePolicyDocument`".into(),
        )),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A string or a list of strings (numbers and booleans are read as IAM reads them: as text).
fn string_list(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PolicyError::Shape(format!(
            "{what} must be a string or a list of strings"
        ))),
    };
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn principals(v: &Value, what: &str) -> Result<Principals, PolicyError> {
    let mut p = Principals {
        anyone: false,
        federated: Vec::new(),
        others: Vec::new(),
    };
    match v {
        Value::String(s) if s == "*" => p.anyone = true,
        Value::Object(map) => {
            for (kind, values) in map {
                let values = string_list(values, &format!("{what}.{kind}"))?;
                match kind.as_str() {
                    "Federated" => p.federated.extend(values),
                    "AWS" if values.iter().any(|v| v == "*") => p.anyone = true,
                    _ => p
                        .others
                        .extend(values.into_iter().map(|v| format!("{kind}:{v}"))),
                }
            }
        }
        _ => {
            return Err(PolicyError::Shape(format!(
                "{what} must be \"*\" or an object such as {{\"Federated\": \"arn:…\"}}"
            )));
        }
    }
    Ok(p)
}

fn statement(index: usize, v: &Value) -> Result<Statement, PolicyError> {
    let Value::Object(s) = v else {
        return Err(PolicyError::Shape(format!(
            "statement {index} is not an object"
        )));
    };
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return Err(PolicyError::Shape(format!(
                "statement {index}: Effect must be \"Allow\" or \"Deny\", not {other:?}"
            )));
        }
        None => {
            return Err(PolicyError::Shape(format!(
                "statement {index} has no Effect"
            )));
        }
    };
    let principal = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), _) => PrincipalSpec::Principal(principals(p, "Principal")?),
        (None, Some(p)) => PrincipalSpec::NotPrincipal(principals(p, "NotPrincipal")?),
        (None, None) => PrincipalSpec::Missing,
    };
    let action = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), _) => ActionSpec::Action(string_list(a, "Action")?),
        (None, Some(a)) => ActionSpec::NotAction(string_list(a, "NotAction")?),
        (None, None) => ActionSpec::Missing,
    };
    let mut conditions = Vec::new();
    match s.get("Condition") {
        None => {}
        Some(Value::Object(block)) => {
            for (operator, keys) in block {
                let Value::Object(keys) = keys else {
                    return Err(PolicyError::Shape(format!(
                        "statement {index}: Condition.{operator} must be an object of keys"
                    )));
                };
                conditions.extend(condition_entries(index, operator, keys)?);
            }
        }
        Some(_) => {
            return Err(PolicyError::Shape(format!(
                "statement {index}: Condition must be an object"
            )));
        }
    }
    Ok(Statement {
        index,
        sid: s.get("Sid").and_then(Value::as_str).map(str::to_string),
        effect,
        principal,
        action,
        conditions,
    })
}

fn condition_entries(
    index: usize,
    operator: &str,
    keys: &Map<String, Value>,
) -> Result<Vec<Condition>, PolicyError> {
    let op = Operator::parse(operator);
    keys.iter()
        .map(|(key, values)| {
            Ok(Condition {
                operator: operator.to_string(),
                op,
                key: key.clone(),
                values: string_list(values, &format!("statement {index}: {operator}.{key}"))?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// Who is asking: the action, and the provider the token's issuer names.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub action: &'a str,
    /// The token's provider (`iss` without `https://`).
    pub provider: Option<&'a str>,
    /// The role's partition, when known.
    pub partition: Option<Partition>,
    /// The role's account, when known; otherwise any account's provider is accepted.
    pub account: Option<&'a str>,
}

/// How one condition fared.
#[derive(Clone, Debug)]
pub struct ConditionOutcome {
    pub condition: Condition,
    pub lookup: Lookup,
    pub result: Tri,
    /// For a passing negated/set operator or a failing one: which policy value matched which
    /// token value, if any.
    pub matched: Option<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct StatementOutcome {
    pub statement: Statement,
    pub action: Tri,
    pub action_detail: String,
    pub principal: Tri,
    pub principal_detail: String,
    pub conditions: Vec<ConditionOutcome>,
    /// Whether the statement applies to this request (action, principal and every condition).
    pub applies: Tri,
}

impl StatementOutcome {
    /// Failing parts (action, principal, conditions), to rank statements by closeness.
    pub fn failures(&self) -> usize {
        usize::from(self.action == Tri::No)
            + usize::from(self.principal == Tri::No)
            + self
                .conditions
                .iter()
                .filter(|c| c.result == Tri::No)
                .count()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// No statement allows the request.
    ImplicitDeny,
    /// A Deny statement applies.
    ExplicitDeny,
    /// The answer depends on keys or operators explain cannot evaluate offline.
    Undetermined,
}

impl Verdict {
    /// Severity order for combining several actions: the worst wins.
    fn rank(self) -> u8 {
        match self {
            Verdict::Allowed => 0,
            Verdict::Undetermined => 1,
            Verdict::ImplicitDeny => 2,
            Verdict::ExplicitDeny => 3,
        }
    }

    pub fn worst(a: Verdict, b: Verdict) -> Verdict {
        if b.rank() > a.rank() { b } else { a }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::ImplicitDeny | Verdict::ExplicitDeny => "denied",
            Verdict::Undetermined => "undetermined",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Evaluation {
    pub action: String,
    pub statements: Vec<StatementOutcome>,
    pub verdict: Verdict,
}

/// Evaluates `policy` for `request` with the token's request context `ctx`.
pub fn evaluate(policy: &Policy, request: &Request, ctx: &Context) -> Evaluation {
    let statements: Vec<StatementOutcome> = policy
        .statements
        .iter()
        .map(|s| statement_outcome(s, request, ctx))
        .collect();
    let of = |effect: Effect| {
        Tri::any(
            statements
                .iter()
                .filter(|s| s.statement.effect == effect)
                .map(|s| s.applies),
        )
    };
    let verdict = match (of(Effect::Deny), of(Effect::Allow)) {
        (Tri::Yes, _) => Verdict::ExplicitDeny,
        (Tri::No, Tri::Yes) => Verdict::Allowed,
        (_, Tri::No) => Verdict::ImplicitDeny,
        _ => Verdict::Undetermined,
    };
    Evaluation {
        action: request.action.to_string(),
        statements,
        verdict,
    }
}

fn statement_outcome(s: &Statement, request: &Request, ctx: &Context) -> StatementOutcome {
    let (action, action_detail) = match &s.action {
        ActionSpec::Action(list) => {
            let hit = list.iter().any(|a| {
                glob(
                    &a.to_ascii_lowercase(),
                    &request.action.to_ascii_lowercase(),
                )
            });
            (
                Tri::from_bool(hit),
                format!(
                    "Action {} {}",
                    json_list(list),
                    if hit { "includes" } else { "does not include" }
                ) + &format!(" {}", request.action),
            )
        }
        ActionSpec::NotAction(list) => {
            let hit = list.iter().any(|a| {
                glob(
                    &a.to_ascii_lowercase(),
                    &request.action.to_ascii_lowercase(),
                )
            });
            (
                Tri::from_bool(!hit),
                format!(
                    "NotAction {} {} {}",
                    json_list(list),
                    if hit { "excludes" } else { "does not exclude" },
                    request.action
                ),
            )
        }
        ActionSpec::Missing => (Tri::No, "the statement has no Action".into()),
    };
    let (principal, principal_detail) = principal_outcome(&s.principal, request);
    let conditions: Vec<ConditionOutcome> = s
        .conditions
        .iter()
        .map(|c| condition_outcome(c, ctx))
        .collect();
    let applies = Tri::all(
        [action, principal]
            .into_iter()
            .chain(conditions.iter().map(|c| c.result)),
    );
    StatementOutcome {
        statement: s.clone(),
        action,
        action_detail,
        principal,
        principal_detail,
        conditions,
        applies,
    }
}

/// Why a `Federated` value does not name this token's provider, or `None` when it does.
pub fn federated_mismatch(value: &str, request: &Request) -> Option<String> {
    let provider = request.provider.unwrap_or("(no iss)");
    let Some(arn) = parse_provider_arn(value) else {
        return Some(format!(
            "`{value}` is not an OIDC provider ARN (arn:<partition>:iam::<account>:oidc-provider/{provider})"
        ));
    };
    if arn.path != provider {
        let case = if arn.path.eq_ignore_ascii_case(provider) {
            " (they differ only in case)"
        } else {
            ""
        };
        return Some(format!(
            "`{value}` names the provider `{}`, but the token's issuer is `{provider}`{case}",
            arn.path
        ));
    }
    if let Some(p) = request.partition
        && arn.partition != p.name()
    {
        return Some(format!(
            "`{value}` is in partition {}, but the role is in {}",
            arn.partition,
            p.name()
        ));
    }
    if let Some(account) = request.account
        && arn.account != account
    {
        return Some(format!(
            "`{value}` is in account {}, but the role is in account {account} (a trust policy can only name a provider of the role's own account)",
            arn.account
        ));
    }
    None
}

fn principal_matches(p: &Principals, request: &Request) -> (bool, String) {
    if p.anyone {
        return (true, "\"*\" (anyone)".into());
    }
    if p.federated.is_empty() {
        return (
            false,
            format!(
                "no Federated principal ({}); a web-identity token needs {{\"Federated\": \"arn:…:oidc-provider/{}\"}}",
                if p.others.is_empty() {
                    "empty".to_string()
                } else {
                    p.others.join(", ")
                },
                request.provider.unwrap_or("<issuer>")
            ),
        );
    }
    let reasons: Vec<String> = p
        .federated
        .iter()
        .filter_map(|f| federated_mismatch(f, request))
        .collect();
    if reasons.len() < p.federated.len() {
        let hit = p
            .federated
            .iter()
            .find(|f| federated_mismatch(f, request).is_none())
            .cloned()
            .unwrap_or_default();
        (
            true,
            format!("Federated `{hit}` names this token's provider"),
        )
    } else {
        (false, reasons.join("; "))
    }
}

fn principal_outcome(spec: &PrincipalSpec, request: &Request) -> (Tri, String) {
    match spec {
        PrincipalSpec::Principal(p) => {
            let (hit, detail) = principal_matches(p, request);
            (Tri::from_bool(hit), detail)
        }
        PrincipalSpec::NotPrincipal(p) => {
            let (hit, detail) = principal_matches(p, request);
            (Tri::from_bool(!hit), format!("NotPrincipal: {detail}"))
        }
        PrincipalSpec::Missing => (Tri::No, "the statement has no Principal".into()),
    }
}

fn condition_outcome(c: &Condition, ctx: &Context) -> ConditionOutcome {
    let lookup = ctx.lookup(&c.key);
    let (result, matched) = condition_result(c, &lookup);
    ConditionOutcome {
        condition: c.clone(),
        lookup,
        result,
        matched,
    }
}

/// The first (policy value, token value) pair that `base` matches.
fn first_match(base: Base, patterns: &[String], values: &[String]) -> Option<(String, String)> {
    values.iter().find_map(|v| {
        patterns
            .iter()
            .find(|p| base.matches(p, v))
            .map(|p| (p.clone(), v.clone()))
    })
}

fn condition_result(c: &Condition, lookup: &Lookup) -> (Tri, Option<(String, String)>) {
    let op = c.op;
    if op.base == Base::Null {
        let present = match lookup {
            Lookup::Present { values, .. } => !values.is_empty(),
            Lookup::Absent(_) => false,
            Lookup::Unknown(_) => return (Tri::Unknown, None),
        };
        let ok = c
            .values
            .iter()
            .any(|v| match v.to_ascii_lowercase().as_str() {
                "true" => !present,
                "false" => present,
                _ => false,
            });
        return (Tri::from_bool(ok), None);
    }
    if op.base == Base::Other {
        // IfExists on a key that is certainly absent passes whatever the operator.
        if op.if_exists && matches!(lookup, Lookup::Absent(_)) {
            return (Tri::Yes, None);
        }
        return (Tri::Unknown, None);
    }
    if c.values.iter().any(|v| v.contains("${")) {
        return (Tri::Unknown, None);
    }
    let values = match lookup {
        Lookup::Unknown(_) => return (Tri::Unknown, None),
        Lookup::Absent(_) => {
            let ok = op.if_exists
                || match op.set {
                    SetOp::Single => op.base.is_negated(),
                    SetOp::ForAnyValue => false,
                    SetOp::ForAllValues => true,
                };
            return (Tri::from_bool(ok), None);
        }
        Lookup::Present { values, .. } => values,
    };
    let base = op.base;
    // A single value passes a positive operator when it matches any policy value, and a
    // negated operator when it matches none.
    let passes = |v: &String| {
        let hit = c.values.iter().any(|p| base.matches(p, v));
        hit != base.is_negated()
    };
    let matched = first_match(base, &c.values, values);
    let ok = match op.set {
        SetOp::Single => {
            if base.is_negated() {
                matched.is_none()
            } else {
                matched.is_some()
            }
        }
        SetOp::ForAnyValue => values.iter().any(passes),
        SetOp::ForAllValues => values.iter().all(passes),
    };
    (Tri::from_bool(ok), matched)
}

/// `"a"` or `["a", "b"]`.
pub fn json_list(values: &[String]) -> String {
    match values {
        [one] => format!("{one:?}"),
        many => format!(
            "[{}]",
            many.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::IdToken;
    use crate::token::jwt::fake_jwt;
    use serde_json::json;

    const GH: &str = "token.actions.githubusercontent.com";
    const ACTION: &str = "sts:AssumeRoleWithWebIdentity";

    fn ctx(sub: &str) -> Context {
        let claims =
            json!({"iss": format!("https://{GH}"), "aud": "sts.amazonaws.com", "sub": sub});
        Context::from_claims(&IdToken::parse(&fake_jwt(&claims)).unwrap().claims)
    }

    fn request() -> Request<'static> {
        Request {
            action: ACTION,
            provider: Some(GH),
            partition: Some(Partition::Aws),
            account: Some("123456789012"),
        }
    }

    fn eval(policy: Value, sub: &str) -> Evaluation {
        evaluate(&parse(&policy.to_string()).unwrap(), &request(), &ctx(sub))
    }

    fn allow(condition: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::123456789012:oidc-provider/{GH}")},
            "Action": ACTION,
            "Condition": condition
        }]})
    }

    #[test]
    fn globs() {
        assert!(glob("repo:o/*", "repo:o/r:ref:refs/heads/main"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(!glob("Repo:*", "repo:x"));
        assert!(glob("", ""));
        assert!(!glob("", "x"));
    }

    #[test]
    fn operators_parse() {
        let op = Operator::parse("ForAnyValue:StringLikeIfExists");
        assert_eq!(op.set, SetOp::ForAnyValue);
        assert_eq!(op.base, Base::StringLike);
        assert!(op.if_exists);
        assert_eq!(
            Operator::parse("StringNotEqualsIgnoreCase").base,
            Base::StringNotEqualsIgnoreCase
        );
        assert_eq!(Operator::parse("NumericLessThan").base, Base::Other);
        assert_eq!(Operator::parse("Null").base, Base::Null);
    }

    #[test]
    fn values_or_keys_and() {
        let p = allow(json!({"StringEquals": {
            format!("{GH}:aud"): "sts.amazonaws.com",
            format!("{GH}:sub"): ["repo:o/r:ref:refs/heads/main", "repo:o/r:ref:refs/heads/dev"]}}));
        assert_eq!(
            eval(p.clone(), "repo:o/r:ref:refs/heads/dev").verdict,
            Verdict::Allowed
        );
        assert_eq!(
            eval(p, "repo:o/r:ref:refs/heads/x").verdict,
            Verdict::ImplicitDeny
        );
    }

    #[test]
    fn string_equals_takes_wildcards_literally() {
        let p = allow(json!({"StringEquals": {format!("{GH}:sub"): "repo:o/r:*"}}));
        let e = eval(p, "repo:o/r:ref:refs/heads/main");
        assert_eq!(e.verdict, Verdict::ImplicitDeny);
        assert_eq!(e.statements[0].conditions[0].result, Tri::No);
        let p = allow(json!({"StringLike": {format!("{GH}:sub"): "repo:o/r:*"}}));
        assert_eq!(
            eval(p, "repo:o/r:ref:refs/heads/main").verdict,
            Verdict::Allowed
        );
    }

    #[test]
    fn case_rules() {
        let upper = "repo:O/R:ref:refs/heads/main";
        let p = allow(
            json!({"StringEquals": {format!("{}:SUB", GH.to_uppercase()): "repo:o/r:ref:refs/heads/main"}}),
        );
        assert_eq!(eval(p, upper).verdict, Verdict::ImplicitDeny);
        let p = allow(
            json!({"StringEqualsIgnoreCase": {format!("{GH}:sub"): "repo:o/r:ref:refs/heads/main"}}),
        );
        assert_eq!(eval(p, upper).verdict, Verdict::Allowed);
        let p = allow(
            json!({"StringNotEqualsIgnoreCase": {format!("{GH}:sub"): "repo:o/r:ref:refs/heads/main"}}),
        );
        assert_eq!(eval(p, upper).verdict, Verdict::ImplicitDeny);
    }

    #[test]
    fn absent_keys_and_if_exists_and_null() {
        let key = format!("{GH}:repository");
        let p = allow(json!({"StringEquals": {&key: "o/r"}}));
        assert_eq!(
            eval(p, "repo:o/r:pull_request").verdict,
            Verdict::ImplicitDeny
        );
        let p = allow(json!({"StringEqualsIfExists": {&key: "o/r"}}));
        assert_eq!(eval(p, "repo:o/r:pull_request").verdict, Verdict::Allowed);
        let p = allow(json!({"StringNotEquals": {&key: "o/r"}}));
        assert_eq!(eval(p, "repo:o/r:pull_request").verdict, Verdict::Allowed);
        let p = allow(json!({"Null": {&key: "true"}}));
        assert_eq!(eval(p, "x").verdict, Verdict::Allowed);
        let p = allow(json!({"Null": {format!("{GH}:sub"): "true"}}));
        assert_eq!(eval(p, "x").verdict, Verdict::ImplicitDeny);
        let p = allow(json!({"Null": {format!("{GH}:sub"): "false"}}));
        assert_eq!(eval(p, "x").verdict, Verdict::Allowed);
        let p = allow(json!({"ForAnyValue:StringEquals": {&key: "o/r"}}));
        assert_eq!(eval(p, "x").verdict, Verdict::ImplicitDeny);
        let p = allow(json!({"ForAllValues:StringEquals": {&key: "o/r"}}));
        assert_eq!(eval(p, "x").verdict, Verdict::Allowed);
    }

    #[test]
    fn set_operators_on_present_keys() {
        let p = allow(json!({"ForAnyValue:StringLike": {format!("{GH}:sub"): ["x", "repo:o/*"]}}));
        assert_eq!(eval(p, "repo:o/r:pull_request").verdict, Verdict::Allowed);
        let p =
            allow(json!({"ForAllValues:StringNotLike": {format!("{GH}:sub"): "*:pull_request"}}));
        assert_eq!(
            eval(p.clone(), "repo:o/r:pull_request").verdict,
            Verdict::ImplicitDeny
        );
        assert_eq!(
            eval(p, "repo:o/r:ref:refs/heads/main").verdict,
            Verdict::Allowed
        );
    }

    #[test]
    fn explicit_deny_wins() {
        let mut p = allow(json!({"StringLike": {format!("{GH}:sub"): "repo:o/r:*"}}));
        p["Statement"].as_array_mut().unwrap().push(json!({
            "Sid": "NoPullRequests",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sts:*",
            "Condition": {"StringLike": {format!("{GH}:sub"): "*:pull_request"}}
        }));
        assert_eq!(
            eval(p.clone(), "repo:o/r:pull_request").verdict,
            Verdict::ExplicitDeny
        );
        assert_eq!(
            eval(p, "repo:o/r:ref:refs/heads/main").verdict,
            Verdict::Allowed
        );
    }

    #[test]
    fn actions_and_principals() {
        let mut p = allow(json!({}));
        p["Statement"][0]["Action"] = json!(["sts:AssumeRole", "sts:TagSession"]);
        assert_eq!(eval(p.clone(), "x").verdict, Verdict::ImplicitDeny);
        p["Statement"][0]["Action"] = json!("STS:Assume*");
        assert_eq!(eval(p.clone(), "x").verdict, Verdict::Allowed);
        p["Statement"][0].as_object_mut().unwrap().remove("Action");
        p["Statement"][0]["NotAction"] = json!("sts:AssumeRole");
        assert_eq!(eval(p.clone(), "x").verdict, Verdict::Allowed);
        p["Statement"][0]["Principal"] =
            json!({"Federated": ["arn:aws:iam::123456789012:oidc-provider/gitlab.com"]});
        let e = eval(p.clone(), "x");
        assert_eq!(e.verdict, Verdict::ImplicitDeny);
        assert!(e.statements[0].principal_detail.contains("gitlab.com"));
        p["Statement"][0]["Principal"] =
            json!({"Federated": format!("arn:aws:iam::999999999999:oidc-provider/{GH}")});
        let e = eval(p.clone(), "x");
        assert!(e.statements[0].principal_detail.contains("999999999999"));
        let any_account = Request {
            account: None,
            ..request()
        };
        let e = evaluate(&parse(&p.to_string()).unwrap(), &any_account, &ctx("x"));
        assert_eq!(e.verdict, Verdict::Allowed);
        p["Statement"][0]["Principal"] = json!({"AWS": "arn:aws:iam::123456789012:root"});
        assert_eq!(eval(p, "x").verdict, Verdict::ImplicitDeny);
    }

    #[test]
    fn unknown_keys_make_it_undetermined() {
        let p = allow(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}));
        assert_eq!(eval(p, "x").verdict, Verdict::Undetermined);
        let p =
            allow(json!({"StringEquals": {"aws:SourceVpc": "vpc-1", format!("{GH}:sub"): "nope"}}));
        assert_eq!(eval(p, "x").verdict, Verdict::ImplicitDeny);
    }

    #[test]
    fn get_role_output_and_encoded_documents() {
        let doc = allow(json!({"StringEquals": {format!("{GH}:sub"): "x"}}));
        let wrapped = json!({"Role": {"RoleName": "r", "AssumeRolePolicyDocument": doc}});
        assert_eq!(parse(&wrapped.to_string()).unwrap().statements.len(), 1);
        let encoded = crate::net::url::encode(&doc.to_string());
        let wrapped = json!({"Role": {"AssumeRolePolicyDocument": encoded}});
        assert_eq!(parse(&wrapped.to_string()).unwrap().statements.len(), 1);
    }

    #[test]
    fn input_errors() {
        assert!(matches!(parse("{not json"), Err(PolicyError::Json(_))));
        assert!(matches!(parse("[]"), Err(PolicyError::Shape(_))));
        assert!(matches!(parse("{}"), Err(PolicyError::Shape(_))));
        assert!(matches!(
            parse(r#"{"Statement": {"Effect": "Maybe"}}"#),
            Err(PolicyError::Shape(m)) if m.contains("Maybe")
        ));
        assert!(matches!(
            parse(
                r#"{"Statement": {"Effect": "Allow", "Condition": {"StringEquals": {"k": {"x": 1}}}}}"#
            ),
            Err(PolicyError::Shape(_))
        ));
    }
}

#[cfg(test)]
mod fuzz {
    //! No input makes the trust-policy parser or evaluator panic.
    use super::*;
    use crate::token::jwt::Claims;

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            prop_oneof![
                Just("Allow".to_string()),
                Just("Deny".to_string()),
                Just("sts:AssumeRoleWithWebIdentity".to_string()),
                Just("StringLike".to_string()),
                Just("ForAllValues:StringNotEqualsIfExists".to_string()),
                Just("token.actions.githubusercontent.com:sub".to_string()),
                Just(
                    "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
                        .to_string()
                ),
                "[a-zA-Z:*?/._-]{0,20}",
            ]
            .prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("Version".to_string()),
                        Just("Statement".to_string()),
                        Just("Effect".to_string()),
                        Just("Principal".to_string()),
                        Just("NotPrincipal".to_string()),
                        Just("Federated".to_string()),
                        Just("Action".to_string()),
                        Just("NotAction".to_string()),
                        Just("Condition".to_string()),
                        Just("StringEquals".to_string()),
                        Just("Null".to_string()),
                        "[a-zA-Z:._-]{0,16}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn parse_and_evaluate_never_panic(doc in json_value(), raw in ".{0,80}") {
            let claims = Claims {
                iss: Some("https://token.actions.githubusercontent.com".into()),
                sub: Some("repo:o/r:ref:refs/heads/main".into()),
                aud: vec!["sts.amazonaws.com".into()],
                ..Default::default()
            };
            let ctx = crate::policy::keys::Context::from_claims(&claims);
            let request = Request {
                action: "sts:AssumeRoleWithWebIdentity",
                provider: Some("token.actions.githubusercontent.com"),
                partition: None,
                account: Some("123456789012"),
            };
            for text in [doc.to_string(), raw] {
                if let Ok(policy) = parse(&text) {
                    let _ = evaluate(&policy, &request, &ctx);
                }
            }
        }
    }
}
