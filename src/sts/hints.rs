//! Turning an STS refusal into what to fix: each error code gets a hint that
//! names the values involved (the token's claims, the role, the provider; for
//! `AssumeRoleWithSAML`, the assertion's roles, Recipient and Audience: [`saml_hints`]).

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
        _ => request_hints(code, &lower, ctx).unwrap_or_else(|| match code {
            "ValidationError" => vec!["check --role-arn, --session-name, --duration and the session policies".into()],
            c if c.starts_with("HTTP3") => vec![
                "STS never redirects: check --sts-endpoint, and whether a proxy answers in its place (the request holds the ID token, so it is not sent on)".into(),
            ],
            _ => Vec::new(),
        }),
    }
}

/// The hints about the request itself (duration, region, session policies), the same for
/// web identity and SAML; `lower` is the message in lower case.
fn request_hints(code: &str, lower: &str, ctx: &Context) -> Option<Vec<String>> {
    Some(match code {
        "ValidationError" if lower.contains("durationseconds") || lower.contains("maxsessionduration") => vec![
            format!(
                "--duration {} is above the role's maximum session duration: lower it, or raise it with aws iam update-role --role-name {} --max-session-duration {}",
                ctx.duration, ctx.role.name, ctx.duration
            ),
        ],
        "RegionDisabledException" => vec![
            format!(
                "STS is not activated in {} for account {}: activate it (IAM > Account settings > STS endpoints) or choose another --region",
                ctx.region, ctx.role.account_id
            ),
        ],
        "MalformedPolicyDocument" => vec!["--policy must be a valid IAM policy JSON document of at most 2048 characters".into()],
        "PackedPolicyTooLarge" => vec!["the session policies are too large once packed: shorten --policy or pass fewer --policy-arn".into()],
        _ => return None,
    })
}

/// What the hints of an `AssumeRoleWithSAML` failure may mention (never the assertion).
pub struct SamlContext<'a> {
    pub role: &'a RoleArn,
    pub principal_arn: &'a str,
    /// The role ARNs the assertion lists.
    pub roles_in_assertion: &'a [String],
    pub recipient: Option<&'a str>,
    pub audiences: &'a [String],
    pub issuer: Option<&'a str>,
    pub region: &'a str,
    pub duration: i32,
}

/// Lines to print under an `AssumeRoleWithSAML` error, most useful first.
pub fn saml_hints(err: &StsError, ctx: &SamlContext) -> Vec<String> {
    let listed = if ctx.roles_in_assertion.is_empty() {
        "none".to_string()
    } else {
        ctx.roles_in_assertion.join(", ")
    };
    let recipient = ctx.recipient.unwrap_or("<none>");
    let (code, message) = match err {
        StsError::ExpiredToken { .. } => {
            return vec![
                "the SAML assertion expired before STS saw it (NotOnOrAfter): assertions live about a minute; run again, and check this machine's clock".into(),
                "aws-oidc exchanges a fresh assertion on every run; a long delay between the login and the call (a picker left open) expires it".into(),
            ];
        }
        StsError::Denied { code, message, .. } => (code.as_str(), message.to_ascii_lowercase()),
        other => return hints(other, &web_free_context(ctx)),
    };
    let not_aws = !crate::idp::saml::is_aws_recipient(recipient);
    match code {
        _ if message.contains("expired") || message.contains("notonorafter") => vec![
            "the SAML assertion expired (NotOnOrAfter) before STS accepted it: run again, and check this machine's clock".into(),
        ],
        _ if message.contains("recipient") || message.contains("destination") || (not_aws && code == "InvalidIdentityToken") => vec![
            format!("the assertion's Recipient is {recipient}, not an AWS sign-in SAML URL"),
            "set the SAML client's Assertion Consumer Service POST binding URL to https://signin.aws.amazon.com/saml (or https://<region>.signin.aws.amazon.com/saml)".into(),
        ],
        _ if message.contains("audience") => vec![
            format!(
                "the assertion's Audience is {}; AWS expects urn:amazon:webservices (the SAML client's ID, or an audience mapper)",
                if ctx.audiences.is_empty() { "missing".to_string() } else { ctx.audiences.join(", ") }
            ),
        ],
        "AccessDenied" => {
            let mut h = Vec::new();
            if !ctx.roles_in_assertion.contains(&ctx.role.arn) {
                h.push(format!("the role {} is not in the SAML assertion; it lists: {listed}", ctx.role.arn));
                h.push("add it to the Role attribute (https://aws.amazon.com/SAML/Attributes/Role) as `role ARN,provider ARN`".into());
            }
            h.push(format!(
                "the trust policy of {} must allow sts:AssumeRoleWithSAML for Principal {{\"Federated\": \"{}\"}}, with condition SAML:aud = {}",
                ctx.role.arn,
                ctx.principal_arn,
                ctx.recipient.unwrap_or("https://signin.aws.amazon.com/saml")
            ));
            h
        }
        "InvalidIdentityToken" if message.contains("provider") && (message.contains("not exist") || message.contains("n't exist") || message.contains("not found")) => vec![
            format!(
                "there is no SAML provider {} in account {}: create it with the IdP's metadata (aws iam create-saml-provider --name <name> --saml-metadata-document file://metadata.xml)",
                ctx.principal_arn, ctx.role.account_id
            ),
        ],
        "InvalidIdentityToken" => vec![
            format!(
                "STS refused the assertion's signature: the IdP certificate uploaded to IAM ({}) does not match the one {} signs with",
                ctx.principal_arn,
                ctx.issuer.unwrap_or("the provider")
            ),
            "download the provider's SAML metadata again and update it: aws iam update-saml-provider --saml-provider-arn <arn> --saml-metadata-document file://metadata.xml".into(),
        ],
        "IDPRejectedClaim" => vec![
            format!("the SAML provider {} rejected the assertion: its Issuer must match the entity ID in the provider's metadata", ctx.principal_arn),
        ],
        _ => request_hints(code, &message, &web_free_context(ctx)).unwrap_or_else(|| match code {
            "ValidationError" if message.contains("principal") => vec![
                format!("{} is not the saml-provider ARN paired with {} in the assertion", ctx.principal_arn, ctx.role.arn),
            ],
            c if c.starts_with("HTTP3") => vec![
                "STS never redirects: check --sts-endpoint, and whether a proxy answers in its place (the request holds the SAML assertion, so it is not sent on)".into(),
            ],
            _ => Vec::new(),
        }),
    }
}

/// For the failures SAML shares with web identity (TLS, exhausted, [`request_hints`]): the
/// same hints.
fn web_free_context<'a>(ctx: &SamlContext<'a>) -> Context<'a> {
    static NO_CLAIMS: std::sync::OnceLock<Claims> = std::sync::OnceLock::new();
    Context {
        claims: NO_CLAIMS.get_or_init(Claims::default),
        role: ctx.role,
        chain_role: None,
        from_environment: false,
        region: ctx.region,
        duration: ctx.duration,
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

    fn saml_text(err: &StsError, recipient: &str) -> String {
        let role = RoleArn::parse("arn:aws:iam::123456789012:role/deploy").unwrap();
        let roles = ["arn:aws:iam::123456789012:role/dev".to_string()];
        let audiences = ["https://kc/realms/x".to_string()];
        let ctx = SamlContext {
            role: &role,
            principal_arn: "arn:aws:iam::123456789012:saml-provider/kc",
            roles_in_assertion: &roles,
            recipient: Some(recipient),
            audiences: &audiences,
            issuer: Some("https://kc/realms/x"),
            region: "eu-west-1",
            duration: 7200,
        };
        saml_hints(err, &ctx).join("\n")
    }

    fn saml_denied(code: &str, message: &str) -> StsError {
        StsError::Denied {
            operation: "AssumeRoleWithSAML",
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn saml_hints_name_the_cause() {
        let aws = "https://signin.aws.amazon.com/saml";
        let h = saml_text(
            &saml_denied(
                "AccessDenied",
                "Not authorized to perform sts:AssumeRoleWithSAML",
            ),
            aws,
        );
        assert!(h.contains("the role arn:aws:iam::123456789012:role/deploy is not in the SAML assertion; it lists: arn:aws:iam::123456789012:role/dev"), "{h}");
        let h = saml_text(
            &saml_denied("InvalidIdentityToken", "Response signature invalid"),
            aws,
        );
        assert!(h.contains("the IdP certificate uploaded to IAM (arn:aws:iam::123456789012:saml-provider/kc) does not match"), "{h}");
        let h = saml_text(
            &saml_denied("InvalidIdentityToken", "Specified provider doesn't exist"),
            aws,
        );
        assert!(h.contains("create-saml-provider"), "{h}");
        let h = saml_text(
            &saml_denied("InvalidIdentityToken", "Invalid response"),
            "https://kc/acs",
        );
        assert!(
            h.contains("Recipient is https://kc/acs, not an AWS sign-in SAML URL"),
            "{h}"
        );
        let h = saml_text(
            &saml_denied(
                "ValidationError",
                "Invalid SAML Response: Destination mismatch",
            ),
            aws,
        );
        assert!(h.contains("not an AWS sign-in SAML URL"), "{h}");
        let h = saml_text(
            &saml_denied("InvalidIdentityToken", "Audience is not valid"),
            aws,
        );
        assert!(
            h.contains("Audience is https://kc/realms/x; AWS expects urn:amazon:webservices"),
            "{h}"
        );
        let h = saml_text(
            &saml_denied(
                "InvalidIdentityToken",
                "Assertion expired: NotOnOrAfter passed",
            ),
            aws,
        );
        assert!(h.contains("expired (NotOnOrAfter)"), "{h}");
        let h = saml_text(
            &StsError::ExpiredToken {
                operation: "AssumeRoleWithSAML",
                message: "Token must be redeemed within 5 minutes".into(),
            },
            aws,
        );
        assert!(h.contains("NotOnOrAfter"), "{h}");
        let h = saml_text(
            &saml_denied(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration",
            ),
            aws,
        );
        assert!(h.contains("--max-session-duration 7200"), "{h}");
        let h = saml_text(
            &saml_denied("RegionDisabledException", "STS is not activated"),
            aws,
        );
        assert!(
            h.contains("STS is not activated in eu-west-1 for account 123456789012"),
            "{h}"
        );
        let h = saml_text(
            &saml_denied("ValidationError", "Invalid principal in policy"),
            aws,
        );
        assert!(
            h.contains("is not the saml-provider ARN paired with"),
            "{h}"
        );
        let h = saml_text(
            &StsError::Tls {
                operation: "AssumeRoleWithSAML",
                detail: "x".into(),
            },
            aws,
        );
        assert_eq!(h, crate::net::http::TLS_HINT);
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
