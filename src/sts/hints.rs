//! Turning an STS refusal into what to fix: each error code gets a hint that
//! names the values involved (the token's claims, the role, the provider).

use super::StsError;
use crate::aws::arn::RoleArn;
use crate::token::jwt::Claims;

/// What the hints may mention.
pub struct Context<'a> {
    pub claims: &'a Claims,
    pub role: &'a RoleArn,
    pub chain_role: Option<&'a RoleArn>,
    /// `--role-chaining`: the first credentials came from the environment, not a token.
    pub from_environment: bool,
    pub region: &'a str,
    pub duration: i32,
}

/// Lines to print under the error, most useful first.
pub fn hints(err: &StsError, ctx: &Context) -> Vec<String> {
    match err {
        StsError::Denied {
            operation: "AssumeRole",
            code,
            ..
        } if code == "AccessDenied" => chained_access_denied(ctx),
        StsError::Denied { code, message, .. } => by_code(code, message, ctx),
        StsError::ExpiredToken { .. } => vec![
            format!("the ID token expired before STS saw it ({})", ctx.claims.summary()),
            format!(
                "mint the token right before aws-oidc runs; {} tokens live about 5 minutes",
                crate::ci::short_lived_tokens()
            ),
        ],
        StsError::Tls { .. } => vec![crate::net::http::TLS_HINT.into()],
        StsError::Exhausted { .. } => vec![
            "STS or the network kept failing: check connectivity to the STS endpoint, HTTPS_PROXY/NO_PROXY, and the AWS Health Dashboard".into(),
            "raise --timeout or --max-attempts to wait longer".into(),
        ],
    }
}

fn provider_arn(ctx: &Context) -> String {
    crate::aws::arn::provider_arn(
        ctx.role.partition,
        &ctx.role.account_id,
        &ctx.claims.provider().unwrap_or_else(|| "<issuer>".into()),
    )
}

fn by_code(code: &str, message: &str, ctx: &Context) -> Vec<String> {
    let claims = ctx.claims;
    let host = claims.provider().unwrap_or_else(|| "<issuer>".into());
    let aud = claims
        .aud
        .first()
        .cloned()
        .unwrap_or_else(|| "<aud>".into());
    let sub = claims.sub.clone().unwrap_or_else(|| "<sub>".into());
    let lower = message.to_ascii_lowercase();
    match code {
        "AccessDenied" => vec![
            format!("the token presented: {}", claims.summary()),
            format!(
                "the trust policy of {} must allow sts:AssumeRoleWithWebIdentity for Principal {{\"Federated\": \"{}\"}}",
                ctx.role.arn,
                provider_arn(ctx)
            ),
            format!(
                "and its conditions must match this token: \"{host}:aud\" = \"{aud}\", \"{host}:sub\" = \"{sub}\""
            ),
            "common mismatches: a different branch/tag/environment in `sub`, a wildcard under StringEquals (use StringLike), another audience, the role in another account".into(),
        ],
        "InvalidIdentityToken" if lower.contains("no openidconnect provider") => vec![
            format!(
                "register the issuer in account {}: aws iam create-open-id-connect-provider --url {} --client-id-list {aud}",
                ctx.role.account_id,
                claims.iss.clone().unwrap_or_else(|| "<issuer>".into())
            ),
            format!("the provider's ARN will be {}", provider_arn(ctx)),
        ],
        "InvalidIdentityToken" if lower.contains("audience") => vec![
            format!(
                "the token's audience {} is not in the client ID list of the OIDC provider {}",
                claims.aud.join(","),
                provider_arn(ctx)
            ),
            format!("add it (aws iam add-client-id-to-open-id-connect-provider --client-id {aud}) or request the token with the audience the provider lists (--audience)"),
        ],
        "InvalidIdentityToken" => vec![
            format!("STS refused the token itself ({})", claims.summary()),
            "check that the provider's issuer URL matches `iss` exactly and that its JWKS is publicly reachable".into(),
        ],
        "IDPRejectedClaim" => vec![
            format!("the identity provider rejected a claim ({})", claims.summary()),
        ],
        "ValidationError" if lower.contains("role chaining") || lower.contains("1 hour session limit") => vec![
            "sessions assumed by role chaining last at most 3600 s; lower --duration".into(),
        ],
        "ValidationError" if lower.contains("durationseconds") || lower.contains("maxsessionduration") => vec![
            format!(
                "--duration {} is above the role's maximum session duration: lower it, or raise it with aws iam update-role --role-name {} --max-session-duration {}",
                ctx.duration, ctx.role.name, ctx.duration
            ),
        ],
        "ValidationError" => vec!["check --role-arn, --session-name, --duration and the session policies".into()],
        "RegionDisabledException" => vec![
            format!(
                "STS is not activated in {} for account {}: activate it (IAM > Account settings > STS endpoints) or choose another --region",
                ctx.region, ctx.role.account_id
            ),
        ],
        "MalformedPolicyDocument" => vec!["--policy must be a valid IAM policy JSON document of at most 2048 characters".into()],
        "PackedPolicyTooLarge" => vec!["the session policies are too large once packed: shorten --policy or pass fewer --policy-arn".into()],
        code if code.starts_with("HTTP3") => vec![
            "STS never redirects: check --sts-endpoint, and whether a proxy answers in its place (the request holds the ID token, so it is not sent on)".into(),
        ],
        _ => Vec::new(),
    }
}

fn chained_access_denied(ctx: &Context) -> Vec<String> {
    let target = ctx.chain_role.map_or("<chain role>", |r| r.arn.as_str());
    if ctx.from_environment {
        return vec![
            format!("the credentials in the environment are not allowed to assume {target}"),
            format!(
                "the trust policy of {target} must allow sts:AssumeRole for the role those credentials belong to (with a sts:ExternalId condition if you pass --external-id), and that role's permissions must allow sts:AssumeRole on it"
            ),
        ];
    }
    vec![
        format!(
            "the first role {} is not allowed to assume {target}",
            ctx.role.arn
        ),
        format!(
            "the trust policy of {target} must allow sts:AssumeRole for Principal {{\"AWS\": \"{}\"}} (with a sts:ExternalId condition if you pass --external-id)",
            ctx.role.arn
        ),
        format!("and the first role's permissions must allow sts:AssumeRole on {target}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            iss: Some("https://token.actions.githubusercontent.com".into()),
            sub: Some("repo:o/r:ref:refs/heads/main".into()),
            aud: vec!["sts.amazonaws.com".into()],
            ..Default::default()
        }
    }

    fn denied(code: &str, message: &str) -> StsError {
        StsError::Denied {
            operation: "AssumeRoleWithWebIdentity",
            code: code.into(),
            message: message.into(),
        }
    }

    fn hint_text(err: &StsError) -> String {
        let claims = claims();
        let role = RoleArn::parse("arn:aws:iam::123456789012:role/deploy").unwrap();
        let ctx = Context {
            claims: &claims,
            role: &role,
            chain_role: None,
            from_environment: false,
            region: "eu-west-1",
            duration: 7200,
        };
        hints(err, &ctx).join("\n")
    }

    #[test]
    fn access_denied_names_claims_and_conditions() {
        let h = hint_text(&denied(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ));
        assert!(h.contains("sub=repo:o/r:ref:refs/heads/main"));
        assert!(h.contains(
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        ));
        assert!(h.contains("\"token.actions.githubusercontent.com:aud\" = \"sts.amazonaws.com\""));
        assert!(h.contains("StringLike"));
    }

    #[test]
    fn expired_token_names_the_short_lived_cis() {
        let h = hint_text(&StsError::ExpiredToken {
            operation: "AssumeRoleWithWebIdentity",
            message: "Token expired".into(),
        });
        assert!(h.contains(
            "mint the token right before aws-oidc runs; GitHub and Buildkite tokens live about 5 minutes"
        ));
    }

    #[test]
    fn trailing_slash_issuer_keeps_its_slash() {
        // Auth0 issues `iss` with a trailing slash; IAM names the provider and its keys exactly so.
        let claims = Claims {
            iss: Some("https://dev-abc.us.auth0.com/".into()),
            sub: Some("auth0|123".into()),
            aud: vec!["sts.amazonaws.com".into()],
            ..Default::default()
        };
        let role = RoleArn::parse("arn:aws:iam::123456789012:role/deploy").unwrap();
        let ctx = Context {
            claims: &claims,
            role: &role,
            chain_role: None,
            from_environment: false,
            region: "us-east-1",
            duration: 3600,
        };
        let h = hints(&denied("AccessDenied", "Not authorized"), &ctx).join("\n");
        assert!(
            h.contains("arn:aws:iam::123456789012:oidc-provider/dev-abc.us.auth0.com/\""),
            "{h}"
        );
        assert!(
            h.contains("\"dev-abc.us.auth0.com/:sub\" = \"auth0|123\""),
            "{h}"
        );
    }

    #[test]
    fn missing_provider_gives_the_command() {
        let h = hint_text(&denied(
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com",
        ));
        assert!(h.contains("create-open-id-connect-provider --url https://token.actions.githubusercontent.com --client-id-list sts.amazonaws.com"));
    }

    #[test]
    fn duration_and_region_hints() {
        let h = hint_text(&denied(
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
        assert!(h.contains("--max-session-duration 7200"));
        let h = hint_text(&denied(
            "RegionDisabledException",
            "STS is not activated in this region",
        ));
        assert!(h.contains("eu-west-1"));
        let h = hint_text(&denied(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
        assert!(h.contains("3600"));
    }
}
