//! Options + environment → [`Settings`], resolved once and checked before any I/O (but reading
//! a `--policy @FILE`). After this, nothing reads the options again. [`Settings::to_args`] is
//! the one place that turns settings back into a command line (`credential_process` profiles),
//! and [`Settings::cache_description`] is what the credentials cache keys on.

use std::time::Duration;

use crate::args::{DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT_SECS, RoleArgs};
use crate::aws::arn::RoleArn;
use crate::aws::credentials::{Credentials, now_secs};
use crate::aws::partition::{Partition, is_valid_region};
use crate::ci::{self, Ci};
use crate::failure::{self, Failure, Kind};
use crate::secret::Secret;
use crate::sts::{ChainRequest, Endpoint, WebIdentityRequest};
use crate::token::{self, Explicit, Source};

/// Where the first credentials come from.
#[derive(Debug)]
pub enum Route {
    /// Exchange the job's ID token (the normal case).
    WebIdentity {
        source: Source,
        request: WebIdentityRequest,
    },
    /// `--role-chaining`: credentials already in the environment (e.g. from an earlier step).
    Environment(Credentials),
}

/// Everything decided from the options and the environment, before any I/O.
#[derive(Debug)]
pub struct Settings {
    pub ci: Ci,
    pub route: Route,
    /// `--role-arn`: the first role (or, with `--role-chaining`, the only one).
    pub role: RoleArn,
    pub audience: String,
    pub endpoint: Endpoint,
    pub chain: Option<ChainRequest>,
    pub allowed_accounts: Vec<String>,
    pub max_attempts: u32,
    pub timeout: Duration,
    pub base_delay: Duration,
    /// `--session-name` as given (the derived default may change from run to run).
    pub explicit_session_name: Option<String>,
    /// `--trust-policy`: a local copy of the role's trust policy, to explain an AccessDenied.
    pub trust_policy: Option<std::path::PathBuf>,
    /// `--duration` as asked (the first hop of a chain asks for less, the chain at most 3600).
    pub duration: i32,
    /// `--policy`: the compacted text sent to STS, and the absolute file it came from.
    pub policy: Option<SessionPolicy>,
    /// `--chain-session-name` as given.
    pub explicit_chain_session_name: Option<String>,
    /// `--token-env/--token-file/--token-command` as given (the file made absolute).
    pub explicit_token: Explicit,
    /// `--provider`: the stored login the ID token comes from.
    pub login: Option<Login>,
}

/// A stored login (`--provider NAME`): the provider as configured and where its tokens are.
#[derive(Clone, Debug)]
pub struct Login {
    pub name: String,
    pub provider: crate::config::Provider,
    /// The configuration file it was read from, absolute (written into refreshable profiles).
    pub config: std::path::PathBuf,
    pub store: crate::config::StoreKind,
    /// Where the file store lives (the cache directory); `None`: the platform default.
    pub cache_dir: Option<std::path::PathBuf>,
}

/// The login `--provider` names, read from the configuration file, or `None` without one.
pub fn login(
    token: &crate::args::TokenArgs,
    env: &crate::env::Env,
) -> Result<Option<Login>, Failure> {
    let Some(name) = &token.provider else {
        return Ok(None);
    };
    let config = crate::config::load(token.config.as_deref(), env)
        .map_err(|e| Failure::usage(e.to_string()))?
        .ok_or_else(|| {
            let at = crate::config::default_path(env)
                .map_or("the default path".into(), |p| p.display().to_string());
            Failure::usage(format!(
                "--provider {name}: no configuration file ({at} does not exist)"
            ))
            .hint(format!(
                "add the provider with: aws-oidc setup --provider {name} --issuer URL --client-id ID, or write it under `providers:` (README: \"On a laptop\")"
            ))
        })?;
    let provider = config.provider(name).map_err(Failure::usage)?.clone();
    let store =
        crate::idp::store::StoreKind::resolve(provider.token_store.or(config.token_store), env)
            .map_err(|e| Failure::usage(e.to_string()))?;
    Ok(Some(Login {
        name: name.clone(),
        provider,
        config: absolute(&config.path),
        store,
        cache_dir: crate::cache::default_dir(env),
    }))
}

/// An inline session policy and, for `@FILE`, where it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// The JSON without insignificant white space: what STS is sent, every time.
    pub text: String,
    /// `@FILE`, made absolute when resolved (refreshes run from another directory).
    pub file: Option<std::path::PathBuf>,
}

/// Resolves the region: option, then AWS_REGION / AWS_DEFAULT_REGION, then the partition's.
fn region(
    opts: &RoleArgs,
    configured: Option<&str>,
    partition: Partition,
    env: &crate::env::Env,
) -> Result<String, Failure> {
    let (region, from) = match (
        opts.region.as_deref().or(configured),
        env.get("AWS_REGION"),
        env.get("AWS_DEFAULT_REGION"),
    ) {
        (Some(r), _, _) if opts.region.is_some() => (r.trim().to_string(), "--region"),
        (Some(r), _, _) => (r.trim().to_string(), "the provider's region"),
        (None, Some(r), _) => (r.trim().to_string(), "AWS_REGION"),
        (None, None, Some(r)) => (r.trim().to_string(), "AWS_DEFAULT_REGION"),
        (None, None, None) => return Ok(partition.default_region().to_string()),
    };
    if !is_valid_region(&region) {
        return Err(
            Failure::usage(format!("{from} `{region}` is not an AWS region name"))
                .hint("e.g. us-east-1, eu-west-1, cn-north-1"),
        );
    }
    let of_region = Partition::of_region(&region);
    if of_region != partition {
        return Err(Failure::usage(format!(
            "{from} `{region}` is in partition {of_region}, but the role is in {partition}"
        ))
        .hint(format!(
            "use a region of {partition}, e.g. --region {}",
            partition.default_region()
        )));
    }
    Ok(region)
}

fn endpoint_url(
    opts: &RoleArgs,
    partition: Partition,
    region: &str,
    env: &crate::env::Env,
) -> Result<String, Failure> {
    let ignore_configured = env
        .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let configured = opts.sts_endpoint.clone().or_else(|| {
        if ignore_configured {
            None
        } else {
            env.get("AWS_ENDPOINT_URL_STS")
                .or_else(|| env.get("AWS_ENDPOINT_URL"))
                .map(str::to_string)
        }
    });
    match configured {
        None => Ok(partition.sts_endpoint(region)),
        Some(url) => {
            let url = url.trim().trim_end_matches('/').to_string();
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.len() <= "https://".len()
            {
                return Err(Failure::usage(format!(
                    "the STS endpoint `{url}` is not an http(s) URL"
                )));
            }
            Ok(url)
        }
    }
}

fn policy(opts: &RoleArgs) -> Result<Option<SessionPolicy>, Failure> {
    let Some(p) = &opts.policy else {
        return Ok(None);
    };
    let (text, file) = match p.strip_prefix('@') {
        Some(path) => {
            let text = read_policy_file(std::path::Path::new(path))
                .map_err(|e| Failure::usage(format!("cannot read the policy file {path}: {e}")))?;
            (text, Some(absolute(std::path::Path::new(path))))
        }
        None => (p.clone(), None),
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| Failure::usage(format!("--policy is not valid JSON: {e}")))?;
    Ok(Some(SessionPolicy {
        text: compact_json(&text),
        file,
    }))
}

/// A session policy file, read up to 64 KiB (STS takes at most 2,048 packed characters): a
/// device or an endless pipe named by mistake must not fill the memory.
fn read_policy_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    const LIMIT: u64 = 64 * 1024;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(LIMIT + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > LIMIT {
        return Err(std::io::Error::other(
            "it holds more than 64 KiB, which is no session policy",
        ));
    }
    Ok(text)
}

/// `path` made absolute against the current directory (no symlinks resolved): a path written
/// into a profile is read later from whatever directory the SDK runs in.
pub fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Valid JSON without the white space between tokens (strings and key order untouched), so
/// that the policy fits on one profile line and STS gets the same bytes on every refresh.
pub fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

fn validate_external_id(id: &str) -> Result<(), Failure> {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
    if !(2..=1224).contains(&id.len()) || !ok_chars {
        return Err(Failure::usage(
            "--external-id must be 2 to 1224 characters of letters, digits and _+=,.@:/-",
        ));
    }
    Ok(())
}

fn role_arn(value: &str, what: &str) -> Result<RoleArn, Failure> {
    RoleArn::parse(value).map_err(|e| Failure::usage(format!("{what}: {e}")))
}

impl Settings {
    /// Checks every option against the others and the environment. No I/O but the policy file.
    pub fn resolve(opts: &RoleArgs, env: &crate::env::Env) -> Result<Settings, Failure> {
        let ci = Ci::detect(env);
        if opts.role_arn.len() > 1 {
            return Err(Failure::usage(
                "only `assume` takes several --role-arn; give this command one",
            ));
        }
        let login = login(&opts.token, env)?;
        let role_value = opts
            .role_arn
            .first()
            .cloned()
            .or_else(|| login.as_ref().and_then(|l| l.provider.role_arn.clone()))
            .or_else(|| env.get("AWS_ROLE_ARN").map(str::to_string))
            .ok_or_else(|| Failure::usage("--role-arn is required").hint("pass --role-arn arn:aws:iam::<account-id>:role/<name> or set AWS_OIDC_ROLE_ARN"))?;
        let role = role_arn(&role_value, "--role-arn")?;
        let chain_role = opts
            .chain_role_arn
            .as_deref()
            .map(|a| role_arn(a, "--chain-role-arn"))
            .transpose()?;
        if let Some(chain) = chain_role
            .as_ref()
            .filter(|c| c.partition != role.partition)
        {
            return Err(Failure::usage(format!(
                "--chain-role-arn is in partition {}, but --role-arn is in {}; a chain cannot cross partitions",
                chain.partition, role.partition
            )));
        }
        let partition = role.partition;
        let region = region(
            opts,
            login.as_ref().and_then(|l| l.provider.region.as_deref()),
            partition,
            env,
        )?;
        let endpoint = Endpoint {
            url: endpoint_url(opts, partition, &region, env)?,
            region,
        };
        let session_name = match &opts.session_name {
            Some(name) => {
                ci::validate_session_name(name).map_err(Failure::usage)?;
                name.clone()
            }
            None => ci::sanitize_session_name(&ci.default_session_name(env, now_secs())),
        };
        if opts.policy_arns.len() > 10 {
            return Err(Failure::usage(format!(
                "{} --policy-arn given; STS accepts at most 10",
                opts.policy_arns.len()
            )));
        }
        if let Some(bad) = opts
            .policy_arns
            .iter()
            .find(|a| !a.starts_with("arn:") || !a.contains(":policy/"))
        {
            return Err(Failure::usage(format!(
                "--policy-arn `{bad}` is not a managed policy ARN (arn:<partition>:iam::<account>:policy/<name>)"
            )));
        }
        let policy = policy(opts)?;
        let policy_text = policy.as_ref().map(|p| p.text.clone());
        if let Some(id) = &opts.external_id {
            validate_external_id(id)?;
        }
        if opts.external_id.is_some() && chain_role.is_none() && !opts.role_chaining {
            return Err(Failure::usage(
                "--external-id applies to a chained AssumeRole: add --chain-role-arn (or --role-chaining)",
            ));
        }
        if opts.role_chaining && chain_role.is_some() {
            return Err(Failure::usage(
                "--role-chaining assumes --role-arn with the credentials already in the environment; it cannot be combined with --chain-role-arn",
            ));
        }
        let chain = match chain_role {
            None if opts.role_chaining => Some(ChainRequest {
                role: role.clone(),
                session_name: session_name.clone(),
                external_id: opts.external_id.clone(),
                duration: opts.duration,
                policy: policy_text.clone(),
                policy_arns: opts.policy_arns.clone(),
            }),
            None => None,
            Some(chain_role) => {
                let session_name = match &opts.chain_session_name {
                    Some(n) => {
                        ci::validate_session_name(n).map_err(Failure::usage)?;
                        n.clone()
                    }
                    None => session_name.clone(),
                };
                if opts.duration > 3600 {
                    tracing::warn!(
                        "--duration {} is above the 3600 s limit for chained roles; the chained session will last 3600 s",
                        opts.duration
                    );
                }
                Some(ChainRequest {
                    role: chain_role,
                    session_name,
                    external_id: opts.external_id.clone(),
                    duration: opts.duration.min(3600),
                    policy: policy_text.clone(),
                    policy_arns: opts.policy_arns.clone(),
                })
            }
        };
        let final_account = chain
            .as_ref()
            .map_or(&role.account_id, |c| &c.role.account_id)
            .clone();
        let allowed_accounts: Vec<String> = opts
            .allowed_account_ids
            .iter()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if let Some(bad) = allowed_accounts
            .iter()
            .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Failure::usage(format!(
                "--allowed-account-ids: `{bad}` is not a 12-digit account id"
            )));
        }
        check_account(&allowed_accounts, &final_account)?;
        let audience = opts.token.audience_for(partition);
        let explicit_token = Explicit {
            env: opts.token.token_env.clone(),
            file: opts.token.token_file.as_deref().map(absolute),
            command: opts.token.token_command.clone(),
            provider: opts.token.provider.clone(),
        };
        let route = if opts.role_chaining {
            Route::Environment(environment_credentials(env)?)
        } else {
            Route::WebIdentity {
                source: token::detect(&explicit_token, env)
                    .map_err(|e| failure::token(e, &audience))?,
                request: WebIdentityRequest {
                    role: role.clone(),
                    session_name,
                    // The first hop only has to live long enough to chain, and its session
                    // policies would only get in the way of chaining: they go on the last hop.
                    duration: if chain.is_some() { 900 } else { opts.duration },
                    policy: if chain.is_some() { None } else { policy_text },
                    policy_arns: if chain.is_some() {
                        Vec::new()
                    } else {
                        opts.policy_arns.clone()
                    },
                },
            }
        };
        Ok(Settings {
            ci,
            route,
            role,
            audience,
            endpoint,
            chain,
            allowed_accounts,
            explicit_session_name: opts.session_name.clone(),
            trust_policy: opts.trust_policy.clone(),
            duration: opts.duration,
            policy,
            explicit_chain_session_name: opts.chain_session_name.clone(),
            explicit_token,
            login,
            max_attempts: opts.network.max_attempts,
            timeout: Duration::from_secs(opts.network.timeout),
            base_delay: Duration::from_millis(opts.network.retry_base_delay_ms),
        })
    }
}

/// `--role-chaining`: the credentials an earlier step left in the environment.
fn environment_credentials(env: &crate::env::Env) -> Result<Credentials, Failure> {
    match (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => Ok(Credentials {
            access_key_id: id.trim().to_string(),
            secret_access_key: Secret::new(secret.trim()),
            session_token: Secret::new(env.get("AWS_SESSION_TOKEN").map_or("", |t| t.trim())),
            expiration: 0,
        }),
        _ => Err(Failure::usage(
            "--role-chaining needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
        )
        .hint(
            "run aws-oidc (or another credentials step) first, in an earlier step of the same job",
        )),
    }
}

/// Quotes a word for a POSIX-style command line (botocore splits `credential_process` with shlex).
fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// The `credential_process` command line that gets these same credentials again.
pub fn credential_process_command(s: &Settings) -> Result<String, Failure> {
    let exe = std::env::current_exe().map_err(|e| {
        Failure::new(
            Kind::Internal,
            format!("cannot find aws-oidc's own path: {e}"),
        )
    })?;
    let mut words = vec![exe.display().to_string(), "credential-process".into()];
    words.extend(s.to_args()?);
    // Named by its flag only: a value (a token command's arguments) may hold a credential.
    if let Some(bad) = words.iter().find(|a| a.contains(['\n', '\r', '\0'])) {
        let flag = bad.split('=').next().filter(|f| f.starts_with("--"));
        return Err(Failure::usage(format!(
            "--refreshable: the value of {} holds a line break, which a profile line cannot carry",
            flag.unwrap_or("an option")
        )));
    }
    Ok(words
        .iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" "))
}

impl Settings {
    /// The options that resolve to these same settings again: the one place that turns
    /// settings back into a command line (`credential_process` profiles, single roles and YAML
    /// targets alike). Each option is one `--flag=value` word (a value may start with `-`);
    /// paths are absolute; the region, endpoint, duration and audience are always written, so a
    /// refresh does not take them from whatever environment the SDK runs in.
    pub fn to_args(&self) -> Result<Vec<String>, Failure> {
        let Route::WebIdentity { request, .. } = &self.route else {
            return Err(Failure::usage(
                "--refreshable needs an ID token source; --role-chaining credentials cannot be refreshed",
            ));
        };
        let mut args: Vec<String> = Vec::new();
        let mut push = |flag: &str, value: String| args.push(format!("{flag}={value}"));
        push("--role-arn", self.role.arn.clone());
        push("--region", self.endpoint.region.clone());
        push("--sts-endpoint", self.endpoint.url.clone());
        if let Some(v) = &self.explicit_session_name {
            push("--session-name", v.clone());
        }
        push("--duration", self.duration.to_string());
        match &self.policy {
            Some(SessionPolicy { file: Some(f), .. }) => {
                push("--policy", format!("@{}", f.display()))
            }
            Some(p) => push("--policy", p.text.clone()),
            None => {}
        }
        let policy_arns = match &self.chain {
            Some(c) => &c.policy_arns,
            None => &request.policy_arns,
        };
        for a in policy_arns {
            push("--policy-arn", a.clone());
        }
        if !self.allowed_accounts.is_empty() {
            push("--allowed-account-ids", self.allowed_accounts.join(","));
        }
        if let Some(c) = &self.chain {
            push("--chain-role-arn", c.role.arn.clone());
            if let Some(v) = &c.external_id {
                push("--external-id", v.clone());
            }
            if let Some(v) = &self.explicit_chain_session_name {
                push("--chain-session-name", v.clone());
            }
        }
        if let Some(login) = &self.login {
            push("--provider", login.name.clone());
            push("--config", login.config.display().to_string());
        }
        let t = &self.explicit_token;
        if let Some(v) = &t.env {
            push("--token-env", v.clone());
        }
        if let Some(v) = &t.file {
            push("--token-file", v.display().to_string());
        }
        if let Some(v) = &t.command {
            push("--token-command", v.clone());
        }
        push("--audience", self.audience.clone());
        if self.max_attempts != DEFAULT_MAX_ATTEMPTS {
            push("--max-attempts", self.max_attempts.to_string());
        }
        if self.timeout.as_secs() != DEFAULT_TIMEOUT_SECS {
            push("--timeout", self.timeout.as_secs().to_string());
        }
        Ok(args)
    }
}

impl Settings {
    /// Everything that decides which credentials come out, for the cache key.
    pub fn cache_description(&self) -> String {
        let mut d = vec![
            format!("v1 role={}", self.role.arn),
            format!(
                "endpoint={} region={}",
                self.endpoint.url, self.endpoint.region
            ),
            format!(
                "session={:?} chain_session={:?}",
                self.explicit_session_name, self.explicit_chain_session_name
            ),
        ];
        match &self.route {
            Route::WebIdentity { source, request } => d.push(format!(
                // The full source (every argument of a token command), hashed, never shown.
                "web-identity source={:?} audience={} duration={} policy={:?} policy_arns={:?}",
                source, self.audience, request.duration, request.policy, request.policy_arns
            )),
            Route::Environment(c) => d.push(format!("environment key={}", c.access_key_id)),
        }
        if let Some(c) = &self.chain {
            d.push(format!(
                "chain role={} external_id={:?} duration={} policy={:?} policy_arns={:?}",
                c.role.arn, c.external_id, c.duration, c.policy, c.policy_arns
            ));
        }
        d.join("\n")
    }
}

pub fn check_account(allowed: &[String], account: &str) -> Result<(), Failure> {
    if allowed.is_empty() || allowed.iter().any(|a| a == account) {
        return Ok(());
    }
    Err(Failure::new(
        Kind::Denied,
        format!("account {account} is not in --allowed-account-ids ({})", allowed.join(",")),
    )
    .hint("check --role-arn/--chain-role-arn, or add the account to --allowed-account-ids; nothing was written"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, Failure> {
        let opts: RoleArgs = crate::args::parse(args).unwrap();
        let env = crate::env::Env::from_pairs(env.iter().copied());
        Settings::resolve(&opts, &env)
    }

    const TOKEN: (&str, &str) = ("AWS_ID_TOKEN", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");

    #[test]
    fn defaults() {
        let s = settings(
            &["--role-arn", "arn:aws:iam::123456789012:role/r"],
            &[TOKEN],
        )
        .unwrap();
        assert_eq!(s.endpoint.region, "us-east-1");
        assert_eq!(s.endpoint.url, "https://sts.us-east-1.amazonaws.com");
        assert_eq!(s.audience, "sts.amazonaws.com");
        let Route::WebIdentity { request, .. } = &s.route else {
            panic!()
        };
        assert_eq!(request.duration, 3600);
        assert!(request.session_name.starts_with("aws-oidc-"));
    }

    #[test]
    fn china_partition_defaults() {
        let s = settings(
            &["--role-arn", "arn:aws-cn:iam::123456789012:role/r"],
            &[TOKEN],
        )
        .unwrap();
        assert_eq!(s.endpoint.url, "https://sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(s.audience, "sts.amazonaws.com.cn");
    }

    #[test]
    fn region_precedence_and_partition_mismatch() {
        let s = settings(
            &["--role-arn", "arn:aws:iam::123456789012:role/r"],
            &[
                TOKEN,
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_REGION", "eu-central-1"),
            ],
        )
        .unwrap();
        assert_eq!(s.endpoint.url, "https://sts.eu-central-1.amazonaws.com");
        let e = settings(
            &["--role-arn", "arn:aws-us-gov:iam::123456789012:role/r"],
            &[TOKEN, ("AWS_REGION", "us-east-1")],
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("partition aws"));
    }

    #[test]
    fn endpoint_precedence() {
        let role = ["--role-arn", "arn:aws:iam::123456789012:role/r"];
        let s = settings(
            &role,
            &[
                TOKEN,
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2/"),
            ],
        )
        .unwrap();
        assert_eq!(s.endpoint.url, "http://127.0.0.1:2");
        let mut args = role.to_vec();
        args.extend(["--sts-endpoint", "http://127.0.0.1:3"]);
        let s = settings(
            &args,
            &[TOKEN, ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2")],
        )
        .unwrap();
        assert_eq!(s.endpoint.url, "http://127.0.0.1:3");
        let s = settings(
            &role,
            &[
                TOKEN,
                ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ],
        )
        .unwrap();
        assert_eq!(s.endpoint.url, "https://sts.us-east-1.amazonaws.com");
    }

    #[test]
    fn chain_caps_duration_and_shortens_first_hop() {
        let s = settings(
            &[
                "--role-arn",
                "arn:aws:iam::123456789012:role/r",
                "--chain-role-arn",
                "arn:aws:iam::210987654321:role/t",
                "--external-id",
                "ext-1",
                "--duration",
                "7200",
            ],
            &[TOKEN],
        )
        .unwrap();
        let chain = s.chain.unwrap();
        assert_eq!(chain.duration, 3600);
        let Route::WebIdentity { request, .. } = &s.route else {
            panic!()
        };
        assert_eq!(request.duration, 900);
        assert_eq!(chain.external_id.as_deref(), Some("ext-1"));
    }

    #[test]
    fn allowed_accounts_checked_up_front() {
        let e = settings(
            &[
                "--role-arn",
                "arn:aws:iam::123456789012:role/r",
                "--allowed-account-ids",
                "111111111111,222222222222",
            ],
            &[TOKEN],
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Denied);
        assert!(
            settings(
                &[
                    "--role-arn",
                    "arn:aws:iam::123456789012:role/r",
                    "--allowed-account-ids",
                    "111111111111,123456789012"
                ],
                &[TOKEN]
            )
            .is_ok()
        );
    }

    #[test]
    fn usage_errors() {
        assert_eq!(settings(&[], &[TOKEN]).unwrap_err().kind, Kind::Usage);
        assert_eq!(
            settings(&["--role-arn", "deploy"], &[TOKEN])
                .unwrap_err()
                .kind,
            Kind::Usage
        );
        assert_eq!(
            settings(
                &[
                    "--role-arn",
                    "arn:aws:iam::123456789012:role/r",
                    "--session-name",
                    "bad name"
                ],
                &[TOKEN]
            )
            .unwrap_err()
            .kind,
            Kind::Usage
        );
        assert_eq!(
            settings(
                &[
                    "--role-arn",
                    "arn:aws:iam::123456789012:role/r",
                    "--policy",
                    "{not json"
                ],
                &[TOKEN]
            )
            .unwrap_err()
            .kind,
            Kind::Usage
        );
        assert_eq!(
            settings(
                &[
                    "--role-arn",
                    "arn:aws:iam::123456789012:role/r",
                    "--policy-arn",
                    "ReadOnly"
                ],
                &[TOKEN]
            )
            .unwrap_err()
            .kind,
            Kind::Usage
        );
    }

    #[test]
    fn no_token_is_a_token_error() {
        let e = settings(
            &["--role-arn", "arn:aws:iam::123456789012:role/r"],
            &[("GITLAB_CI", "true")],
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Token);
        assert!(e.hints.join("\n").contains("id_tokens:"));
    }

    #[test]
    fn role_chaining_uses_environment_credentials() {
        let args = [
            "--role-arn",
            "arn:aws:iam::210987654321:role/t",
            "--role-chaining",
            "--external-id",
            "ext-1",
        ];
        let e = settings(&args, &[]).unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        let s = settings(
            &args,
            &[
                ("AWS_ACCESS_KEY_ID", "ASIA1"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_SESSION_TOKEN", "t"),
            ],
        )
        .unwrap();
        let Route::Environment(c) = &s.route else {
            panic!()
        };
        assert_eq!(c.access_key_id, "ASIA1");
        let chain = s.chain.unwrap();
        assert_eq!(chain.role.arn, "arn:aws:iam::210987654321:role/t");
        assert_eq!(chain.external_id.as_deref(), Some("ext-1"));
    }

    #[test]
    fn external_id_needs_a_chain() {
        let e = settings(
            &[
                "--role-arn",
                "arn:aws:iam::123456789012:role/r",
                "--external-id",
                "ext-1",
            ],
            &[TOKEN],
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
    }

    #[test]
    fn an_endless_policy_file_is_cut_off() {
        let e = Settings::resolve(
            &crate::args::parse::<RoleArgs>(&[
                "--role-arn",
                "arn:aws:iam::123456789012:role/r",
                "--policy",
                "@/dev/zero",
            ])
            .unwrap(),
            &crate::env::Env::from_pairs([("AWS_ID_TOKEN", "a.b.c")]),
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("more than 64 KiB"), "{}", e.message);
    }

    #[test]
    fn compact_json_keeps_strings() {
        assert_eq!(
            compact_json("{ \"a b\" : [ 1 , \"x\\\" y\" ] ,\n\t\"c\": {} }"),
            r#"{"a b":[1,"x\" y"],"c":{}}"#
        );
    }
}
