//! Which request-context keys IAM provides when it evaluates a role's trust policy for
//! `sts:AssumeRoleWithWebIdentity` with a given OIDC ID token, and with which values.
//!
//! What AWS documents (IAM User Guide, "IAM and AWS STS condition context keys", section
//! "Available keys for AWS web identity federation" / "OIDC federation",
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html>;
//! also the `awsdocs/iam-user-guide` source of that page):
//!
//! * `<provider>:aud` and `<provider>:sub`: for every OIDC provider. `<provider>` is the issuer
//!   without `https://` (`token.actions.githubusercontent.com`, `gitlab.example.com/gitlab`).
//!   When the token has an `azp` claim, `:aud` holds `azp` and the token's `aud` moves to `:oaud`.
//! * `<provider>:oaud`: documented with Google as the example; aws-oidc assumes the same for any
//!   provider and says so where it matters.
//! * `<provider>:amr`: Amazon Cognito only.
//! * `graph.facebook.com:app_id`/`:id`, `www.amazon.com:app_id`/`:user_id`: the built-in providers.
//! * Every other claim (GitHub's `repository`, `ref`, `job_workflow_ref`, GitLab's `ref_protected`,
//!   `environment`, …) is *not* a condition key. A re:Post answer confirms that claims outside
//!   this list are dropped ("…is not included in the list of … web identity federation context
//!   keys"); another reports that `:email` works although it is not documented, so aws-oidc treats
//!   `:email` as undecidable rather than absent.
//! * Session tags: the claim `https://aws.amazon.com/tags` (`principal_tags`,
//!   `transitive_tag_keys`) becomes `aws:RequestTag/<key>`, `aws:TagKeys` and
//!   `sts:TransitiveTagKeys` in the trust-policy evaluation, and the trust policy must then also
//!   allow `sts:TagSession` (IAM User Guide, "Pass session tags in AWS STS", "Passing session tags
//!   using AssumeRoleWithWebIdentity"). `aws:PrincipalTag/<key>` holds them only in requests made
//!   later with the session.
//! * `aws:FederatedProvider` describes requests made with the resulting session (AWS global
//!   condition keys); whether it is set while the trust policy is evaluated is not documented.
//! * Keys that depend on the request itself (`aws:SourceIp`, `aws:SourceVpc`, `aws:CurrentTime`,
//!   `sts:RoleSessionName`, …) cannot be known offline.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::token::jwt::Claims;

/// The claim that carries session tags.
pub const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// What the request context holds for one condition key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The key is present with these values (several for a multivalued key).
    Present {
        values: Vec<String>,
        note: Option<String>,
    },
    /// The key is certainly not in the request context; why.
    Absent(String),
    /// Whether the key is present depends on something explain cannot see; why.
    Unknown(String),
}

/// One key IAM provides for this token, for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvidedKey {
    pub key: String,
    pub values: Vec<String>,
    pub note: Option<String>,
}

/// The session tags of a token (`https://aws.amazon.com/tags`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionTags {
    pub principal: BTreeMap<String, String>,
    pub transitive: Vec<String>,
}

/// The request context of an `AssumeRoleWithWebIdentity` call with one token.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `iss` without `https://`, as IAM names the provider and its keys.
    pub provider: Option<String>,
    aud: Vec<String>,
    oaud: Vec<String>,
    sub: Option<String>,
    azp: bool,
    pub tags: Option<SessionTags>,
    /// Further keys known from elsewhere (e.g. `sts:RoleSessionName` in `assume`), lower-case key.
    extra: BTreeMap<String, (String, Vec<String>)>,
}

pub use crate::aws::arn::provider_of_issuer as provider_of;

/// Strings of a claim value: a string, or the strings of an array.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn session_tags(v: &Value) -> Option<SessionTags> {
    // AWS documents an object; some IdPs wrap it in a one-element array.
    let obj = match v {
        Value::Object(o) => o,
        Value::Array(a) => a.first()?.as_object()?,
        _ => return None,
    };
    let mut tags = SessionTags::default();
    if let Some(Value::Object(p)) = obj.get("principal_tags") {
        for (k, v) in p {
            // Each tag value is a one-element array of strings; accept a bare string too.
            if let Some(first) = strings(Some(v)).into_iter().next() {
                tags.principal.insert(k.clone(), first);
            }
        }
    }
    tags.transitive = strings(obj.get("transitive_tag_keys"));
    Some(tags)
}

impl Context {
    pub fn from_claims(claims: &Claims) -> Context {
        let azp = claims.all.get("azp").and_then(Value::as_str);
        Context {
            provider: claims.iss.as_deref().map(provider_of),
            aud: match azp {
                Some(a) => vec![a.to_string()],
                None => claims.aud.clone(),
            },
            oaud: claims.aud.clone(),
            sub: claims.sub.clone(),
            azp: azp.is_some(),
            tags: claims.all.get(TAGS_CLAIM).and_then(session_tags),
            extra: BTreeMap::new(),
        }
    }

    /// Adds a key whose value is known from outside the token (e.g. `sts:RoleSessionName`).
    pub fn with(mut self, key: &str, values: Vec<String>) -> Context {
        self.extra
            .insert(key.to_ascii_lowercase(), (key.to_string(), values));
        self
    }

    /// The keys IAM provides for this token, in a fixed order, for display.
    pub fn provided(&self) -> Vec<ProvidedKey> {
        let mut out = Vec::new();
        if let Some(p) = &self.provider {
            out.push(ProvidedKey {
                key: format!("{p}:aud"),
                values: self.aud.clone(),
                note: self.azp.then(|| {
                    "from the token's `azp` claim (IAM uses azp for :aud when it is set)".into()
                }),
            });
            if let Some(sub) = &self.sub {
                out.push(ProvidedKey {
                    key: format!("{p}:sub"),
                    values: vec![sub.clone()],
                    note: None,
                });
            }
            out.push(ProvidedKey {
                key: format!("{p}:oaud"),
                values: self.oaud.clone(),
                note: Some("documented for Google; assumed for other providers".into()),
            });
        }
        if let Some(tags) = &self.tags {
            for (k, v) in &tags.principal {
                out.push(ProvidedKey {
                    key: format!("aws:RequestTag/{k}"),
                    values: vec![v.clone()],
                    note: Some(
                        "session tag; the trust policy must also allow sts:TagSession".into(),
                    ),
                });
            }
            out.push(ProvidedKey {
                key: "aws:TagKeys".into(),
                values: tags.principal.keys().cloned().collect(),
                note: None,
            });
            if !tags.transitive.is_empty() {
                out.push(ProvidedKey {
                    key: "sts:TransitiveTagKeys".into(),
                    values: tags.transitive.clone(),
                    note: None,
                });
            }
        }
        out
    }

    /// Whether STS will also check `sts:TagSession` for this token.
    pub fn has_session_tags(&self) -> bool {
        self.tags.as_ref().is_some_and(|t| !t.principal.is_empty())
    }

    /// What the request context holds for `key` (condition key names are case-insensitive).
    pub fn lookup(&self, key: &str) -> Lookup {
        let lower = key.to_ascii_lowercase();
        if let Some((_, values)) = self.extra.get(&lower) {
            return Lookup::Present {
                values: values.clone(),
                note: None,
            };
        }
        if let Some(p) = &self.provider {
            let prefix = format!("{}:", p.to_ascii_lowercase());
            if let Some(claim) = lower.strip_prefix(&prefix) {
                return self.provider_key(p, claim);
            }
        }
        if let Some(tag) = lower.strip_prefix("aws:requesttag/") {
            return match &self.tags {
                Some(t) => t
                    .principal
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                    .map(|(_, v)| Lookup::Present {
                        values: vec![v.clone()],
                        note: None,
                    })
                    .unwrap_or_else(|| {
                        Lookup::Absent(format!(
                            "the token's {TAGS_CLAIM} claim has no principal tag `{tag}`"
                        ))
                    }),
                None => Lookup::Absent(format!(
                    "the token has no {TAGS_CLAIM} claim, so there are no session tags"
                )),
            };
        }
        match lower.as_str() {
            "aws:tagkeys" | "sts:transitivetagkeys" => {
                let values = match (&self.tags, lower.as_str()) {
                    (Some(t), "aws:tagkeys") if !t.principal.is_empty() => {
                        Some(t.principal.keys().cloned().collect())
                    }
                    (Some(t), "sts:transitivetagkeys") if !t.transitive.is_empty() => {
                        Some(t.transitive.clone())
                    }
                    _ => None,
                };
                return match values {
                    Some(values) => Lookup::Present { values, note: None },
                    None => Lookup::Absent(format!("the token passes no such tags ({TAGS_CLAIM})")),
                };
            }
            "aws:securetransport" => {
                return Lookup::Present {
                    values: vec!["true".into()],
                    note: Some("aws-oidc calls STS over HTTPS".into()),
                };
            }
            "aws:federatedprovider" => {
                return Lookup::Unknown(
                    "aws:FederatedProvider is documented for requests made with the session; whether the trust-policy evaluation sees it is not".into(),
                );
            }
            _ => {}
        }
        if lower.starts_with("aws:principaltag/") {
            return Lookup::Absent(
                "a web-identity caller has no principal tags when the trust policy is evaluated (the token's session tags are aws:RequestTag/…)".into(),
            );
        }
        let (prefix, claim) = lower.split_once(':').unwrap_or((lower.as_str(), ""));
        if prefix.contains('.') || prefix.contains('/') {
            let this = self.provider.as_deref().unwrap_or("(no iss)");
            return Lookup::Absent(format!(
                "the key belongs to the provider `{prefix}`, but this token comes from `{this}`: IAM provides only `{this}:…` keys for it{}",
                if claim.is_empty() {
                    String::new()
                } else {
                    format!(" (e.g. `{this}:{claim}`)")
                }
            ));
        }
        Lookup::Unknown(format!(
            "`{key}` depends on the request (network, time, session name, …), which explain cannot see offline"
        ))
    }

    fn provider_key(&self, provider: &str, claim: &str) -> Lookup {
        match claim {
            "aud" => present_or_absent(&self.aud, provider, "aud"),
            "sub" => match &self.sub {
                Some(s) => Lookup::Present {
                    values: vec![s.clone()],
                    note: None,
                },
                None => Lookup::Absent("the token has no `sub` claim".into()),
            },
            "oaud" => match present_or_absent(&self.oaud, provider, "oaud") {
                Lookup::Present { values, .. } => Lookup::Present {
                    values,
                    note: Some(
                        "AWS documents :oaud for Google; aws-oidc assumes it for every provider"
                            .into(),
                    ),
                },
                other => other,
            },
            "amr" => Lookup::Absent(format!(
                "IAM provides `:amr` only for Amazon Cognito, never for `{provider}`"
            )),
            "email" => Lookup::Unknown(format!(
                "`{provider}:email` is not in AWS's list of OIDC condition keys, though it is reported to work"
            )),
            other => Lookup::Absent(format!(
                "IAM does not provide the `{other}` claim as a condition key: for an OIDC provider only `{provider}:aud` and `{provider}:sub` (and `:oaud`) exist, so a condition on `{provider}:{other}` never sees a value"
            )),
        }
    }
}

fn present_or_absent(values: &[String], provider: &str, what: &str) -> Lookup {
    if values.is_empty() {
        Lookup::Absent(format!(
            "the token has no `aud` claim, so `{provider}:{what}` is empty"
        ))
    } else {
        Lookup::Present {
            values: values.to_vec(),
            note: None,
        }
    }
}

/// Whether a condition key names a claim of the token's provider that IAM does not provide
/// (`token.actions.githubusercontent.com:repository`).
pub fn is_unexposed_claim_key(ctx: &Context, key: &str) -> Option<String> {
    let p = ctx.provider.as_deref()?;
    let lower = key.to_ascii_lowercase();
    let claim = lower.strip_prefix(&format!("{}:", p.to_ascii_lowercase()))?;
    (!matches!(claim, "aud" | "sub" | "oaud" | "email")).then(|| claim.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::IdToken;
    use crate::token::jwt::fake_jwt;
    use serde_json::json;

    fn ctx(claims: Value) -> Context {
        Context::from_claims(&IdToken::parse(&fake_jwt(&claims)).unwrap().claims)
    }

    #[test]
    fn aud_and_sub_are_provided_case_insensitively() {
        let c = ctx(json!({"iss": "https://token.actions.githubusercontent.com",
            "aud": "sts.amazonaws.com", "sub": "repo:o/r:ref:refs/heads/main", "repository": "o/r"}));
        assert_eq!(
            c.lookup("Token.Actions.GitHubUserContent.com:SUB"),
            Lookup::Present {
                values: vec!["repo:o/r:ref:refs/heads/main".into()],
                note: None
            }
        );
        assert!(matches!(
            c.lookup("token.actions.githubusercontent.com:aud"),
            Lookup::Present { values, .. } if values == ["sts.amazonaws.com"]
        ));
        assert!(matches!(
            c.lookup("token.actions.githubusercontent.com:repository"),
            Lookup::Absent(why) if why.contains("repository")
        ));
        assert!(matches!(
            c.lookup("token.actions.githubusercontent.com:amr"),
            Lookup::Absent(_)
        ));
        assert!(
            matches!(c.lookup("gitlab.com:sub"), Lookup::Absent(why) if why.contains("gitlab.com"))
        );
        assert!(matches!(c.lookup("aws:SourceIp"), Lookup::Unknown(_)));
        assert_eq!(
            is_unexposed_claim_key(&c, "token.actions.githubusercontent.com:job_workflow_ref")
                .as_deref(),
            Some("job_workflow_ref")
        );
    }

    #[test]
    fn issuer_path_is_part_of_the_provider() {
        let c = ctx(json!({"iss": "https://gitlab.example.com/gitlab", "aud": "a", "sub": "s"}));
        assert_eq!(c.provider.as_deref(), Some("gitlab.example.com/gitlab"));
        assert!(matches!(
            c.lookup("gitlab.example.com/gitlab:sub"),
            Lookup::Present { .. }
        ));
        assert!(matches!(
            c.lookup("gitlab.example.com:sub"),
            Lookup::Absent(_)
        ));
    }

    #[test]
    fn azp_moves_aud_to_oaud() {
        let c = ctx(
            json!({"iss": "https://idp.example", "aud": "client-a", "azp": "client-b", "sub": "u"}),
        );
        assert!(
            matches!(c.lookup("idp.example:aud"), Lookup::Present { values, .. } if values == ["client-b"])
        );
        assert!(
            matches!(c.lookup("idp.example:oaud"), Lookup::Present { values, .. } if values == ["client-a"])
        );
    }

    #[test]
    fn session_tags_become_request_tags() {
        let c = ctx(json!({"iss": "https://idp.example", "aud": "a", "sub": "u",
            TAGS_CLAIM: {"principal_tags": {"team": ["infra"], "env": ["prod"]}, "transitive_tag_keys": ["team"]}}));
        assert!(c.has_session_tags());
        assert!(
            matches!(c.lookup("aws:RequestTag/Team"), Lookup::Present { values, .. } if values == ["infra"])
        );
        assert!(
            matches!(c.lookup("aws:TagKeys"), Lookup::Present { values, .. } if values == ["env", "team"])
        );
        assert!(
            matches!(c.lookup("sts:TransitiveTagKeys"), Lookup::Present { values, .. } if values == ["team"])
        );
        assert!(matches!(c.lookup("aws:RequestTag/cost"), Lookup::Absent(_)));
        let keys: Vec<String> = c.provided().into_iter().map(|k| k.key).collect();
        assert!(keys.contains(&"aws:RequestTag/team".to_string()));
        let plain = ctx(json!({"iss": "https://idp.example", "aud": "a", "sub": "u"}));
        assert!(!plain.has_session_tags());
        assert!(matches!(
            plain.lookup("aws:RequestTag/team"),
            Lookup::Absent(_)
        ));
    }

    #[test]
    fn extra_keys_from_the_request() {
        let c = ctx(json!({"iss": "https://idp.example", "sub": "u"}))
            .with("sts:RoleSessionName", vec!["gl-1-2-3".into()]);
        assert!(
            matches!(c.lookup("STS:rolesessionname"), Lookup::Present { values, .. } if values == ["gl-1-2-3"])
        );
        assert!(matches!(c.lookup("idp.example:aud"), Lookup::Absent(_)));
    }
}
