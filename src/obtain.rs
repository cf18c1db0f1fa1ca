//! The pipeline: ID token → `AssumeRoleWithWebIdentity` (re-minting the token once when STS
//! says it expired) → optional chained `AssumeRole` → the account check. The first hop is a
//! [`Route`]; how the credentials are then used is not this module's business.

use crate::aws::credentials::{Assumed, human_duration, now_secs, rfc3339};
use crate::env::Env;
use crate::failure::{self, Failure, Kind};
use crate::net::retry::Budget;
use crate::settings::{Login, Route, Settings, check_account};
use crate::sts::{self, StsError, WebIdentityRequest};
use crate::token::{self, Source, TokenError};

async fn fetch_token(
    s: &Settings,
    source: &Source,
    env: &Env,
    budget: &Budget,
) -> Result<token::IdToken, Failure> {
    let token = match (&s.login, source) {
        (Some(login), Source::Login(_)) => login_token(login, budget).await?,
        _ => source
            .fetch(&s.audience, env, budget)
            .await
            .map_err(|e| failure::token(e, &s.audience))?,
    };
    tracing::info!(
        "ID token from {}: {}",
        source.describe(),
        token.claims.summary()
    );
    let c = &token.claims;
    if let (Some(iat), Some(exp)) = (c.iat, c.exp) {
        tracing::info!(
            "ID token issued {}, expires {} (in {})",
            rfc3339(iat),
            rfc3339(exp),
            human_duration(exp.saturating_sub(now_secs()))
        );
    }
    if c.nbf.is_some_and(|nbf| nbf > now_secs() + 60) {
        tracing::warn!(
            "the ID token is not valid before {}: is this machine's clock behind?",
            rfc3339(c.nbf.unwrap_or_default())
        );
    }
    tracing::debug!(
        "ID token claims: {}",
        c.all.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    token.check_not_expired(now_secs()).map_err(|err| {
        failure::token(
            TokenError::Invalid {
                from: source.describe(),
                source: err,
            },
            &s.audience,
        )
    })?;
    Ok(token)
}

/// The ID token of a stored login, refreshed when it nears expiry; never an interactive login
/// (exit 3 with the `aws-oidc login` command to run instead).
pub async fn login_token(login: &Login, budget: &Budget) -> Result<token::IdToken, Failure> {
    let store = open_store(login)?;
    if let Some(notice) = store.notice() {
        tracing::info!("{notice}");
    }
    let raw = crate::idp::session::id_token(&login.name, &login.provider, &store, budget)
        .await
        .map_err(|e| session_failure(login, e))?;
    token::IdToken::parse(raw.expose()).map_err(|err| {
        Failure::new(
            Kind::Token,
            format!("the stored ID token of {}: {err}", login.name),
        )
        .hint(format!("run: aws-oidc login --provider {}", login.name))
    })
}

/// The token store of a login, or a token failure with the store's hint.
fn open_store(login: &Login) -> Result<crate::idp::store::Store, Failure> {
    crate::idp::store::Store::open(login.store, login.cache_dir.clone()).map_err(|e| {
        let hint = e.hint();
        Failure::new(Kind::Token, e.to_string()).hints(hint)
    })
}

/// A login's session that gave no token: transient, or a token failure (with the login
/// command to run when only a new login helps).
fn session_failure(login: &Login, e: crate::idp::session::SessionError) -> Failure {
    let kind = if e.is_transient() {
        Kind::Transient
    } else {
        Kind::Token
    };
    let f = Failure::new(kind, e.to_string());
    if e.needs_login() {
        f.hint(format!("run: aws-oidc login --provider {}", login.name))
    } else {
        f
    }
}

/// The SAML assertion of a login, exchanged (RFC 8693) for this run: never cached, never logged.
pub async fn saml_assertion(
    login: &Login,
    budget: &Budget,
) -> Result<(crate::idp::exchange::Assertion, crate::idp::saml::Parsed), Failure> {
    use crate::config::SubjectTokenType;
    use crate::idp::{discovery, exchange, saml, session, tokens};
    let p = &login.provider;
    let x = p.token_exchange.clone().unwrap_or_default();
    let store = open_store(login)?;
    let subject = match x.subject_token_type {
        SubjectTokenType::AccessToken => {
            session::access_token(&login.name, p, &store, budget).await
        }
        SubjectTokenType::IdToken => session::id_token(&login.name, p, &store, budget).await,
    }
    .map_err(|e| session_failure(login, e))?;
    let disc = discovery::fetch(&p.issuer, budget)
        .await
        .map_err(|e| Failure::new(Kind::Transient, format!("provider {}: {e}", login.name)))?;
    let endpoint = tokens::TokenEndpoint::new(&disc, &p.client_id, p.client_secret.clone())
        .map_err(|e| Failure::usage(format!("provider {}: {e}", login.name)))?;
    let subject_type = match x.subject_token_type {
        SubjectTokenType::AccessToken => exchange::SubjectType::AccessToken,
        SubjectTokenType::IdToken => exchange::SubjectType::IdToken,
    };
    let assertion = endpoint
        .exchange_for_saml(&subject, subject_type, &x.audience, budget)
        .await
        .map_err(|e| {
            let hints = e.hints();
            Failure::new(Kind::Denied, format!("provider {}: {e}", login.name)).hints(hints)
        })?;
    let parsed = saml::parse(assertion.expose())
        .map_err(|e| Failure::new(Kind::Denied, format!("provider {}: {e}", login.name)))?;
    Ok((assertion, parsed))
}

/// With a SAML provider, `--role-arn` may be a glob, or absent: the assertion says which roles
/// there are. This picks the one role before the settings are resolved (the only one, the one
/// the glob matches, or — on a terminal — the person's choice) and writes it into `opts`.
/// Other providers and exact ARNs are left alone.
pub async fn pick_saml_role(
    opts: &mut crate::args::RoleArgs,
    env: &Env,
    interactive: bool,
) -> Result<(), Failure> {
    let Some(login) = crate::settings::login(&opts.token, env)? else {
        return Ok(());
    };
    if login.provider.federation != crate::config::Federation::Saml2 {
        return Ok(());
    }
    let wanted = opts
        .role_arn
        .first()
        .cloned()
        .or_else(|| login.provider.role_arn.clone());
    if wanted
        .as_deref()
        .is_some_and(|w| crate::aws::arn::RoleArn::parse(w).is_ok())
    {
        return Ok(());
    }
    let budget = opts.network.budget();
    let (_, parsed) = saml_assertion(&login, &budget).await?;
    let chosen = match crate::idp::saml::pick(&parsed.roles, wanted.as_deref()) {
        Ok(pair) => pair.role.arn,
        Err(crate::idp::saml::PickError::Several(roles)) if interactive => choose(&roles)?,
        Err(e) => {
            return Err(Failure::usage(e.to_string()).hint(format!(
                "aws-oidc roles --provider {} lists them",
                login.name
            )));
        }
    };
    tracing::info!("role {chosen} from the SAML assertion");
    opts.role_arn = vec![chosen];
    Ok(())
}

/// Asks on the terminal which role to assume.
fn choose(roles: &[String]) -> Result<String, Failure> {
    use std::io::{BufRead, Write};
    let mut err = std::io::stderr();
    let _ = writeln!(err, "aws-oidc: the SAML assertion allows several roles:");
    for (i, r) in roles.iter().enumerate() {
        let _ = writeln!(err, "  {}) {r}", i + 1);
    }
    let _ = write!(err, "aws-oidc: which one? [1-{}] ", roles.len());
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("cannot read the choice: {e}")))?;
    line.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| roles.get(n.wrapping_sub(1)))
        .cloned()
        .ok_or_else(|| Failure::usage(format!("`{}` is not one of 1-{}", line.trim(), roles.len())))
}

/// Whether a person can answer a question here (a picker): stdin and stderr are terminals.
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The first hop of a SAML provider: a fresh assertion, the role picked from it, then
/// `AssumeRoleWithSAML`.
async fn saml(
    s: &Settings,
    login: &Login,
    request: &WebIdentityRequest,
    budget: &Budget,
    http: &reqwest::Client,
    shared: Option<std::sync::Arc<(crate::idp::exchange::Assertion, crate::idp::saml::Parsed)>>,
) -> Result<crate::aws::credentials::Assumed, Failure> {
    use crate::idp::saml;
    let shared = match shared {
        Some(s) => s,
        None => std::sync::Arc::new(saml_assertion(login, budget).await?),
    };
    let (assertion, parsed) = (&shared.0, &shared.1);
    saml::check_fresh(parsed, now_secs()).map_err(|e| Failure::new(Kind::Denied, e.to_string()))?;
    let pair = saml::pick(&parsed.roles, Some(&request.role.arn)).map_err(|e| {
        Failure::new(Kind::Denied, e.to_string()).hint(format!(
            "aws-oidc roles --provider {} lists them",
            login.name
        ))
    })?;
    let wrapped = saml::wrap(assertion.expose(), parsed, now_secs())
        .map_err(|e| Failure::new(Kind::Denied, e.to_string()))?;
    // The assertion's SessionDuration is the most STS grants.
    let duration = match parsed.session_duration_secs() {
        Some(max) if max < request.duration => {
            tracing::info!("the assertion allows sessions of {max} s; asking for that");
            max
        }
        _ => request.duration,
    };
    let req = sts::SamlRequest {
        role: pair.role.clone(),
        principal_arn: pair.principal_arn.clone(),
        assertion_b64: crate::secret::Secret::new(wrapped),
        duration,
        policy: request.policy.clone(),
        policy_arns: request.policy_arns.clone(),
    };
    let client = sts::client(&s.endpoint, http.clone(), None);
    tracing::info!(
        "assuming {} with a SAML assertion from {}",
        req.role.arn,
        login.name
    );
    sts::assume_saml(&client, &req, budget).await.map_err(|e| {
        let roles = parsed.role_arns();
        let ctx = sts::hints::SamlContext {
            role: &req.role,
            principal_arn: &req.principal_arn,
            roles_in_assertion: &roles,
            recipient: parsed.recipient.as_deref(),
            audiences: &parsed.audiences,
            issuer: parsed.issuer.as_deref(),
            region: &s.endpoint.region,
            duration: req.duration,
        };
        let hints = sts::hints::saml_hints(&e, &ctx);
        failure::sts(e, hints)
    })
}

/// The session name a login's token gives: the provider's `session_name_claim`, else email,
/// preferred_username, sub; sanitised like every derived name.
fn login_session_name(login: &Login, claims: &token::jwt::Claims) -> Option<String> {
    let claim = |k: &str| {
        claims
            .all
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    login
        .provider
        .session_name_claim
        .as_deref()
        .and_then(claim)
        .or_else(|| claim("email"))
        .or_else(|| claim("preferred_username"))
        .or_else(|| claims.sub.clone())
        .map(|n| crate::ci::sanitize_session_name(&n))
}

/// An STS error with the hints this role and token call for (the kind: [`failure::sts`]).
fn sts_failure(e: StsError, s: &Settings, claims: &token::jwt::Claims) -> Failure {
    let from_environment = matches!(s.route, Route::Environment(_));
    let ctx = sts::hints::Context {
        claims,
        role: &s.role,
        chain_role: s.chain.as_ref().map(|c| &c.role),
        from_environment,
        region: &s.endpoint.region,
        duration: match (&s.chain, &s.route) {
            (Some(c), _) => c.duration,
            (None, Route::WebIdentity { request, .. }) => request.duration,
            (None, Route::Environment(_)) => 0,
        },
    };
    let mut hints = sts::hints::hints(&e, &ctx);
    if let (
        StsError::Denied {
            operation: "AssumeRoleWithWebIdentity",
            code,
            ..
        },
        Route::WebIdentity { request, .. },
    ) = (&e, &s.route)
        && code == "AccessDenied"
    {
        hints.extend(match &s.trust_policy {
            Some(path) => crate::policy::access_denied_hints(
                path,
                claims,
                &s.role,
                Some(&request.session_name),
            ),
            None => vec![format!(
                "to see which condition fails: aws iam get-role --role-name {} --query Role.AssumeRolePolicyDocument > trust.json, then add --trust-policy trust.json (or run aws-oidc explain --trust-policy trust.json)",
                s.role.name
            )],
        });
    }
    failure::sts(e, hints)
}

/// Gets credentials: token, first hop (re-minting once on ExpiredToken), chained hop, account check.
pub async fn obtain(s: &Settings, env: &Env) -> Result<Obtained, Failure> {
    obtain_with(s, env, Shared::None).await
}

/// Credentials and the ID token they were exchanged for (none with `--role-chaining`).
pub struct Obtained {
    pub assumed: Assumed,
    pub token: Option<token::IdToken>,
}

/// What several targets share: one ID token, or one SAML assertion (one exchange).
#[derive(Clone)]
pub enum Shared {
    None,
    Token(token::IdToken),
    Saml(std::sync::Arc<(crate::idp::exchange::Assertion, crate::idp::saml::Parsed)>),
}

fn is_saml(s: &Settings) -> Option<&Login> {
    s.login
        .as_ref()
        .filter(|l| l.provider.federation == crate::config::Federation::Saml2)
}

/// Fetches what the first hop needs, once, to share it among several targets.
pub async fn fetch_shared(s: &Settings, env: &Env) -> Result<Shared, Failure> {
    let budget = Budget::new(s.max_attempts, s.timeout, s.base_delay);
    match (&s.route, is_saml(s)) {
        (Route::WebIdentity { .. }, Some(login)) => Ok(Shared::Saml(std::sync::Arc::new(
            saml_assertion(login, &budget).await?,
        ))),
        (Route::WebIdentity { source, .. }, None) => {
            Ok(Shared::Token(fetch_token(s, source, env, &budget).await?))
        }
        (Route::Environment(_), _) => Ok(Shared::None),
    }
}

/// As [`obtain`], starting from an already fetched token or assertion when one is given.
pub async fn obtain_with(s: &Settings, env: &Env, shared: Shared) -> Result<Obtained, Failure> {
    let (token, assertion) = match shared {
        Shared::Token(t) => (Some(t), None),
        Shared::Saml(a) => (None, Some(a)),
        Shared::None => (None, None),
    };
    let budget = Budget::new(s.max_attempts, s.timeout, s.base_delay);
    let http = crate::net::http::client(&s.endpoint.url).map_err(Failure::usage)?;
    tracing::info!(
        "{}: STS endpoint {} ({})",
        s.ci.name(),
        s.endpoint.url,
        s.endpoint.region
    );
    let (first, token) = match &s.route {
        Route::WebIdentity { request, .. } if is_saml(s).is_some() => {
            let login = is_saml(s).expect("checked above");
            let first = saml(s, login, request, &budget, &http, assertion).await?;
            (Some(first), None)
        }
        Route::WebIdentity { source, request } => {
            tracing::info!(
                "assuming {} as session {}",
                request.role.arn,
                request.session_name
            );
            let (first, token) =
                web_identity(s, source, request, env, &budget, &http, token).await?;
            (Some(first), Some(token))
        }
        Route::Environment(_) => (None, None),
    };
    let no_claims = token::jwt::Claims::default();
    let claims = token.as_ref().map_or(&no_claims, |t| &t.claims);
    let assumed = match (&s.chain, first) {
        (None, Some(first)) => first,
        (Some(chain), first) => {
            let base = match (&first, &s.route) {
                (Some(a), _) => &a.credentials,
                (None, Route::Environment(c)) => c,
                (None, Route::WebIdentity { .. }) => unreachable!("the web-identity hop ran"),
            };
            let signed = sts::client(&s.endpoint, http, Some(base));
            let a = sts::assume_chained(&signed, chain, &budget)
                .await
                .map_err(|e| sts_failure(e, s, claims))?;
            tracing::info!("chained to {}", a.assumed_role_arn);
            a
        }
        (None, None) => unreachable!("role chaining always has a chain request"),
    };
    check_account(&s.allowed_accounts, &assumed.account_id)?;
    Ok(Obtained { assumed, token })
}

/// The web-identity hop, re-minting the token once if STS says it expired.
async fn web_identity(
    s: &Settings,
    source: &Source,
    request: &WebIdentityRequest,
    env: &Env,
    budget: &Budget,
    http: &reqwest::Client,
    token: Option<token::IdToken>,
) -> Result<(Assumed, token::IdToken), Failure> {
    let mut token = match token {
        Some(t) => t,
        None => fetch_token(s, source, env, budget).await?,
    };
    // A login names the session after the person, unless --session-name did.
    let named;
    let request = match (&s.login, &s.explicit_session_name) {
        (Some(login), None) => match login_session_name(login, &token.claims) {
            Some(name) => {
                named = WebIdentityRequest {
                    session_name: name,
                    ..request.clone()
                };
                &named
            }
            None => request,
        },
        _ => request,
    };
    let client = sts::client(&s.endpoint, http.clone(), None);
    let mut reminted = false;
    loop {
        match sts::assume_web_identity(&client, request, &token, budget).await {
            Ok(a) => {
                tracing::info!(
                    "assumed {} (expires {})",
                    a.assumed_role_arn,
                    a.credentials.expiration_rfc3339()
                );
                return Ok((a, token));
            }
            Err(StsError::ExpiredToken { .. }) if source.can_mint() && !reminted => {
                tracing::warn!(
                    "STS says the ID token expired; getting a fresh one from {}",
                    source.describe()
                );
                reminted = true;
                token = fetch_token(s, source, env, budget).await?;
            }
            Err(e) => return Err(sts_failure(e, s, &token.claims)),
        }
    }
}
