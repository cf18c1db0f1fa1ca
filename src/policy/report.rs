//! What `aws-oidc token` shows about an ID token: its header, every claim, its times, the CI,
//! and the IAM condition keys it will be evaluated under. Never the signature or the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::keys::{Context, TAGS_CLAIM};
use crate::aws::credentials::{human_duration, rfc3339};
use crate::ci::Ci;
use crate::token::IdToken;
use crate::token::jwt::EXP_SKEW_SECS;

/// Everything the report needs; the raw token stays inside `IdToken`.
pub struct Report<'a> {
    pub token: &'a IdToken,
    pub source: String,
    pub ci: Ci,
    pub now: i64,
    /// For the provider ARN: partition and account (a placeholder when unknown).
    pub partition: String,
    pub account: Option<String>,
}

/// The decoded JOSE header (`alg`, `kid`, `typ`, …). The signature is never decoded or shown.
pub fn header(token: &IdToken) -> Map<String, Value> {
    let raw = token.raw().expose();
    let first = raw.split('.').next().unwrap_or("");
    URL_SAFE_NO_PAD
        .decode(first.trim_end_matches('='))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// Claims that are not condition keys (IAM drops them); the ones IAM reads are left out.
fn unexposed_claims(token: &IdToken) -> Vec<String> {
    token
        .claims
        .all
        .keys()
        .filter(|k| !matches!(k.as_str(), "iss" | "aud" | "sub" | "azp" | TAGS_CLAIM))
        .cloned()
        .collect()
}

fn relative(now: i64, at: i64) -> String {
    if at >= now {
        format!("in {}", human_duration(at.saturating_sub(now)))
    } else {
        format!("{} ago", human_duration(now.saturating_sub(at)))
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Report<'_> {
    fn provider_arn(&self, ctx: &Context) -> Option<String> {
        ctx.provider.as_ref().map(|p| {
            crate::aws::arn::provider_arn(
                &self.partition,
                self.account.as_deref().unwrap_or("<account-id>"),
                p,
            )
        })
    }

    fn expiry(&self) -> Option<String> {
        let exp = self.token.claims.exp?;
        Some(if exp >= self.now {
            format!(
                "expires in {}",
                human_duration(exp.saturating_sub(self.now))
            )
        } else if self.now > exp.saturating_add(EXP_SKEW_SECS) {
            format!(
                "expired {} ago (beyond IAM's 5-minute clock skew: STS refuses it)",
                human_duration(self.now.saturating_sub(exp))
            )
        } else {
            format!(
                "expired {} ago (STS still accepts it within its 5-minute clock skew)",
                human_duration(self.now.saturating_sub(exp))
            )
        })
    }

    pub fn text(&self) -> String {
        let c = &self.token.claims;
        let ctx = Context::from_claims(c);
        let mut out = String::new();
        let header = header(self.token);
        out.push_str(&format!("source     {}\n", self.source));
        out.push_str(&format!("CI         {}\n", self.ci.name()));
        let h = |k: &str| header.get(k).map_or("(none)".to_string(), display);
        out.push_str(&format!(
            "header     alg={} kid={} typ={}\n",
            h("alg"),
            h("kid"),
            h("typ")
        ));
        for (label, v) in [("issued", c.iat), ("not before", c.nbf)] {
            if let Some(t) = v {
                out.push_str(&format!(
                    "{label:<10} {} ({})\n",
                    rfc3339(t),
                    relative(self.now, t)
                ));
            }
        }
        match (c.exp, self.expiry()) {
            (Some(exp), Some(e)) => out.push_str(&format!("expires    {} ({e})\n", rfc3339(exp))),
            _ => out.push_str("expires    (no exp claim)\n"),
        }
        out.push_str("\nclaims\n");
        let width = c.all.keys().map(String::len).max().unwrap_or(0).min(28);
        for (k, v) in &c.all {
            out.push_str(&format!("  {k:<width$}  {}\n", display(v)));
        }
        out.push_str("\nIAM condition keys for this token");
        match self.provider_arn(&ctx) {
            Some(arn) => out.push_str(&format!(" (Principal.Federated {arn})\n")),
            None => out.push_str(" (none: the token has no iss)\n"),
        }
        for k in ctx.provided() {
            out.push_str(&format!("  {}  {}", k.key, k.values.join(", ")));
            if let Some(n) = &k.note {
                out.push_str(&format!("   ({n})"));
            }
            out.push('\n');
        }
        let others = unexposed_claims(self.token);
        if !others.is_empty() {
            out.push_str(&format!(
                "\nnot condition keys (a trust policy cannot check them; put what matters into sub):\n  {}\n",
                others.join(", ")
            ));
        }
        if ctx.has_session_tags() {
            out.push_str(&format!(
                "\nthe token carries session tags ({TAGS_CLAIM}): the trust policy must also allow sts:TagSession\n"
            ));
        }
        out
    }

    pub fn json(&self) -> Value {
        let c = &self.token.claims;
        let ctx = Context::from_claims(c);
        let time = |t: Option<i64>| {
            t.map(|t| json!({"epoch": t, "utc": rfc3339(t), "relative": relative(self.now, t)}))
        };
        json!({
            "source": self.source,
            "ci": self.ci.name(),
            "header": header(self.token),
            "claims": c.all,
            "iat": time(c.iat),
            "nbf": time(c.nbf),
            "exp": time(c.exp),
            "expires_in_seconds": c.exp.map(|e| e.saturating_sub(self.now)),
            "expired": c.exp.map(|e| e < self.now),
            "usable": c.exp.is_none_or(|e| self.now <= e.saturating_add(EXP_SKEW_SECS)),
            "provider": ctx.provider,
            "provider_arn": self.provider_arn(&ctx),
            "condition_keys": ctx.provided().into_iter().map(|k| json!({
                "key": k.key, "values": k.values, "note": k.note,
            })).collect::<Vec<_>>(),
            "not_condition_keys": unexposed_claims(self.token),
            "session_tags": ctx.has_session_tags(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::jwt::fake_jwt;

    fn report(token: &IdToken, now: i64) -> Report<'_> {
        Report {
            token,
            source: "$AWS_ID_TOKEN".into(),
            ci: crate::ci::gitlab::CI,
            now,
            partition: "aws".into(),
            account: Some("123456789012".into()),
        }
    }

    #[test]
    fn shows_header_claims_times_and_keys_but_not_the_token() {
        let raw = fake_jwt(&json!({
            "iss": "https://gitlab.example.com", "aud": "sts.amazonaws.com",
            "sub": "project_path:g/p:ref_type:branch:ref:main", "ref_protected": "true",
            "iat": 1000, "nbf": 995, "exp": 4600
        }));
        let t = IdToken::parse(&raw).unwrap();
        let text = report(&t, 1060).text();
        assert!(text.contains("alg=RS256 kid=k1 typ=JWT"), "{text}");
        assert!(
            text.contains("expires in 59m 0s") || text.contains("expires in 59m"),
            "{text}"
        );
        assert!(text.contains("gitlab.example.com:sub  project_path:g/p:ref_type:branch:ref:main"));
        assert!(text.contains("arn:aws:iam::123456789012:oidc-provider/gitlab.example.com"));
        assert!(text.contains("ref_protected"));
        assert!(!text.contains(&raw) && !text.contains("c2lnbmF0dXJl"));
        let j = report(&t, 1060).json();
        assert_eq!(j["header"]["kid"], "k1");
        assert_eq!(j["expires_in_seconds"], 3540);
        assert_eq!(j["expired"], false);
        assert!(!j.to_string().contains("c2lnbmF0dXJl"));
    }

    #[test]
    fn expired_tokens_say_so() {
        let t =
            IdToken::parse(&fake_jwt(&json!({"iss": "https://x.example", "exp": 1000}))).unwrap();
        assert!(
            report(&t, 1100)
                .text()
                .contains("expired 1m 40s ago (STS still accepts")
        );
        assert!(report(&t, 2000).text().contains("STS refuses it"));
        assert_eq!(report(&t, 2000).json()["usable"], false);
    }
}
