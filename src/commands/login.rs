//! `aws-oidc login --provider NAME`: sign in to an OpenID provider on a laptop, with the device
//! grant (a code to enter in any browser) or the browser on this machine (authorization code +
//! PKCE on a 127.0.0.1 redirect); the ID token is verified against the provider's keys, then the
//! refresh token and the ID token are kept in the token store for `--provider` to use.
//! `aws-oidc logout --provider NAME` forgets them (and revokes the refresh token where the
//! provider can).
//!
//! Everything a person must see goes to stderr, also without a terminal; nothing secret does.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::args::{LogArgs, NetworkArgs, TokenArgs};
use crate::aws::credentials::now_secs;
use crate::config::Flow;
use crate::env::Env;
use crate::failure::{Failure, Kind};
use crate::idp::store::{Store, Tokens};
use crate::idp::{device, discovery, loopback, tokens, verify};
use crate::settings::{self, Login};

#[derive(Clone, Debug, Args)]
pub struct LoginArgs {
    /// The provider to sign in to: a name under `providers:` in the configuration file.
    #[arg(long, env = "AWS_OIDC_PROVIDER", value_name = "NAME")]
    pub provider: String,

    /// The configuration file [default: $XDG_CONFIG_HOME/aws-oidc/config.yaml, ~/.config/aws-oidc/config.yaml].
    #[arg(long, env = "AWS_OIDC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Quick start without a configuration: the provider's issuer URL (with --client-id); after
    /// a successful sign-in the provider is saved in the configuration file under --provider.
    #[arg(
        long,
        env = "AWS_OIDC_ISSUER",
        value_name = "URL",
        requires = "client_id"
    )]
    pub issuer: Option<String>,

    /// With --issuer: the client id registered at the provider (a public client).
    #[arg(
        long,
        env = "AWS_OIDC_CLIENT_ID",
        value_name = "ID",
        requires = "issuer"
    )]
    pub client_id: Option<String>,

    /// Sign in with the device grant: open a URL on any device and enter a code.
    #[arg(long, env = "AWS_OIDC_LOGIN_DEVICE", conflicts_with = "browser")]
    pub device: bool,

    /// Sign in with a browser on this machine (authorization code + PKCE, 127.0.0.1 redirect).
    #[arg(long, env = "AWS_OIDC_LOGIN_BROWSER")]
    pub browser: bool,

    /// Print the sign-in URL but open no browser.
    #[arg(long, env = "AWS_OIDC_NO_BROWSER")]
    pub no_browser: bool,

    /// Open the sign-in URL with this command: words split on spaces, the URL added as the last
    /// argument, no shell [default: $BROWSER, else xdg-open or open].
    #[arg(long, env = "AWS_OIDC_BROWSER_COMMAND", value_name = "CMD")]
    pub browser_command: Option<String>,

    #[command(flatten)]
    pub network: NetworkArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Clone, Debug, Args)]
pub struct LogoutArgs {
    /// The provider whose stored tokens to forget.
    #[arg(long, env = "AWS_OIDC_PROVIDER", value_name = "NAME")]
    pub provider: String,

    /// The configuration file [default: $XDG_CONFIG_HOME/aws-oidc/config.yaml, ~/.config/aws-oidc/config.yaml].
    #[arg(long, env = "AWS_OIDC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub network: NetworkArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// The code exchange and the device start are single calls: this long at most.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The configured login named `provider`.
pub(crate) fn find(provider: &str, config: &Option<PathBuf>, env: &Env) -> Result<Login, Failure> {
    let token = TokenArgs {
        provider: Some(provider.to_string()),
        config: config.clone(),
        ..Default::default()
    };
    settings::login(&token, env)?.ok_or_else(|| Failure::usage("--provider is required"))
}

fn store_failure(e: crate::idp::store::StoreError) -> Failure {
    let hint = e.hint();
    Failure::new(Kind::Output, e.to_string()).hints(hint)
}

fn store(login: &Login) -> Result<Store, Failure> {
    let store = Store::open(login.store, login.cache_dir.clone()).map_err(store_failure)?;
    if let Some(notice) = store.notice() {
        eprintln!("aws-oidc: notice: {notice}");
    }
    Ok(store)
}

fn provider_failure(what: &str, e: impl std::fmt::Display, transient: bool) -> Failure {
    let kind = if transient {
        Kind::Transient
    } else {
        Kind::Token
    };
    Failure::new(kind, format!("{what}: {e}"))
}

/// Where a sign-in talks to the person: stderr, or the terminal itself (`/dev/tty`) when stderr
/// goes somewhere nobody reads (an SDK running `credential-process`).
pub struct Console {
    out: Box<dyn std::io::Write + Send>,
    terminal: bool,
}

impl Console {
    pub fn stderr() -> Console {
        Console {
            out: Box::new(std::io::stderr()),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// The controlling terminal, or `None` when there is none (then nobody could sign in).
    pub fn tty() -> Option<Console> {
        let tty = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/tty")
            .ok()?;
        Some(Console {
            out: Box::new(tty),
            terminal: true,
        })
    }

    fn say(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
    }

    fn status(&mut self, line: &str) {
        if self.terminal {
            let _ = write!(self.out, "\r{line}");
            let _ = self.out.flush();
        }
    }
}

/// How to sign in, from the command line.
pub struct SignIn<'a> {
    pub device: bool,
    pub browser: bool,
    pub no_browser: bool,
    pub browser_command: Option<&'a str>,
}

pub async fn login(args: LoginArgs, env: &Env) -> Result<u8, Failure> {
    let quick = match (&args.issuer, &args.client_id) {
        (Some(issuer), Some(client_id)) => Some(quick_login(&args, issuer, client_id, env)?),
        _ => None,
    };
    let login = match &quick {
        Some(l) => l.clone(),
        None => find(&args.provider, &args.config, env)?,
    };
    let how = SignIn {
        device: args.device,
        browser: args.browser,
        no_browser: args.no_browser,
        browser_command: args.browser_command.as_deref(),
    };
    let mut console = Console::stderr();
    let (who, kept) = sign_in(&login, &how, &mut console, &args.network.budget(), env).await?;
    if let Some(quick) = quick {
        let saved =
            crate::commands::setup::save_provider(&quick.config, &quick.name, quick.provider)?;
        console.say(&format!(
            "aws-oidc: provider {} saved in {}",
            quick.name,
            saved.display()
        ));
    }
    if !args.log.quiet {
        console.say(&format!(
            "aws-oidc: logged in to {} as {}; tokens kept in {kept}",
            login.name,
            who.escape_default()
        ));
    }
    Ok(0)
}

/// `login --issuer URL --client-id ID`: a provider from the flags (scopes openid and
/// offline_access), saved in the configuration file once the sign-in worked.
fn quick_login(
    args: &LoginArgs,
    issuer: &str,
    client_id: &str,
    env: &Env,
) -> Result<Login, Failure> {
    crate::config::check_issuer(issuer).map_err(Failure::usage)?;
    let config = args
        .config
        .clone()
        .or_else(|| crate::config::default_path(env))
        .ok_or_else(|| Failure::usage("no configuration path: pass --config FILE"))?;
    let provider = crate::config::Provider {
        issuer: issuer.to_string(),
        client_id: client_id.to_string(),
        client_secret: None,
        scopes: Some(vec!["openid".into(), "offline_access".into()]),
        audience: None,
        extra_params: Default::default(),
        flow: Flow::Auto,
        redirect_ports: None,
        role_arn: None,
        duration: None,
        region: None,
        session_name_claim: None,
        token_store: None,
        federation: Default::default(),
        token_exchange: None,
    };
    let store = crate::idp::store::StoreKind::resolve(None, env)
        .map_err(|e| Failure::usage(e.to_string()))?;
    Ok(Login {
        name: args.provider.clone(),
        provider,
        config: settings::absolute(&config),
        store,
        cache_dir: crate::cache::default_dir(env),
    })
}

/// Signs in to `login`'s provider, talking on `console`, and keeps the tokens: who signed in,
/// and where the tokens are.
pub async fn sign_in(
    login: &Login,
    args: &SignIn<'_>,
    console: &mut Console,
    budget: &crate::net::retry::Budget,
    env: &Env,
) -> Result<(String, String), Failure> {
    let p = &login.provider;
    let budget = budget.clone();
    let disc = discovery::fetch(&p.issuer, &budget)
        .await
        .map_err(|e| provider_failure(&format!("provider {}", login.name), e, true))?;
    let endpoint = tokens::TokenEndpoint::new(&disc, &p.client_id, p.client_secret.clone())
        .map_err(|e| Failure::usage(format!("provider {}: {e}", login.name)))?;
    let scope = p.scopes().join(" ");
    let mut extra: Vec<(String, String)> = p
        .extra_params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(aud) = &p.audience {
        extra.push(("audience".into(), aud.clone()));
    }
    let flow = match (args.device, args.browser, p.flow) {
        (true, _, _) | (false, false, Flow::Device) => Flow::Device,
        (_, true, _) | (false, false, Flow::Browser) => Flow::Browser,
        (false, false, Flow::Auto) => {
            if disc.authorization_endpoint.is_some()
                && (args.browser_command.is_some() || can_open_browser(env))
                && !args.no_browser
            {
                Flow::Browser
            } else {
                Flow::Device
            }
        }
    };
    let (answer, nonce) = match flow {
        Flow::Browser => {
            let request = loopback::AuthRequest::new(&disc, &p.client_id, &scope, extra)
                .map_err(|e| Failure::usage(format!("provider {}: {e}", login.name)))?;
            if !disc.advertises_s256() {
                tracing::warn!(
                    "{} does not list S256 in code_challenge_methods_supported; sending PKCE S256 anyway",
                    login.name
                );
            }
            let (url, listener) = loopback::Loopback::bind(&request, &p.redirect_ports())
                .await
                .map_err(|e| Failure::new(Kind::Token, e.to_string()))?;
            tracing::info!("waiting for the sign-in at {}", listener.redirect_uri());
            console.say(&format!("aws-oidc: to sign in, open {url}"));
            if !args.no_browser
                && let Some(e) = open_browser(&url, args.browser_command, env)
            {
                console.say(&e);
            }
            let authorized = listener
                .wait()
                .await
                .map_err(|e| Failure::new(Kind::Token, format!("browser sign-in: {e}")))?;
            let answer = endpoint
                .exchange_code(
                    &authorized.code,
                    &authorized.verifier,
                    &authorized.redirect_uri,
                    CALL_TIMEOUT,
                )
                .await
                .map_err(|e| provider_failure("the code exchange", e, false))?;
            (answer, Some(authorized.nonce))
        }
        Flow::Device | Flow::Auto => {
            let offered = disc.supports_grant(discovery::DEVICE_GRANT);
            let Some(device_endpoint) = disc
                .device_authorization_endpoint
                .as_deref()
                .filter(|_| offered)
            else {
                return Err(Failure::usage(format!(
                    "provider {} offers no device sign-in (no device_authorization_endpoint)",
                    login.name
                ))
                .hint("use --browser"));
            };
            let grant = device::start(&endpoint, device_endpoint, &scope, &extra, CALL_TIMEOUT)
                .await
                .map_err(|e| provider_failure("device sign-in", e, false))?;
            console.say(&format!(
                "aws-oidc: to sign in, open {} and enter the code {}",
                grant.verification_uri, grant.user_code
            ));
            if let Some(complete) = &grant.verification_uri_complete {
                console.say(&format!("aws-oidc: or open {complete}"));
            }
            console.say(&format!(
                "aws-oidc: the code is for {} ({}); it expires in {} s",
                p.client_id,
                disc.issuer,
                grant.expires_in.as_secs()
            ));
            let mut pace = device::RealPace::start();
            let answer = device::poll(&endpoint, &grant, &mut pace, |tick| {
                console.status(&format!(
                    "aws-oidc: waiting for the sign-in… {:>4} s left ",
                    tick.remaining.as_secs()
                ));
            })
            .await;
            if console.terminal {
                console.say("");
            }
            let answer = answer.map_err(|e| provider_failure("device sign-in", e, false))?;
            (answer, None)
        }
    };
    let id_token = answer.id_token.clone().ok_or_else(|| {
        Failure::new(
            Kind::Token,
            format!(
                "provider {} sent no ID token (is `openid` in scopes?)",
                login.name
            ),
        )
    })?;
    let keys = verify::KeySet::new(disc.jwks_uri.as_deref().unwrap_or_default());
    let checked = verify::verify_with(
        &id_token,
        &keys,
        &verify::Expected {
            issuer: &p.issuer,
            client_id: &p.client_id,
            nonce: nonce.as_ref(),
            now: now_secs(),
        },
        &budget,
    )
    .await
    .map_err(|e| Failure::new(Kind::Token, format!("the ID token of {}: {e}", login.name)))?;
    if let Some(granted) = &answer.scope {
        tracing::info!("{} granted the scopes: {granted}", login.name);
    }
    if answer.refresh_token.is_none() {
        console.say(&format!(
            "aws-oidc: warning: {} gave no refresh token: you will sign in again when the ID token expires (add offline_access to scopes)",
            login.name
        ));
    }
    let store = store(login)?;
    let kept = Tokens {
        id_token,
        id_token_expires_at: checked.claims.exp.unwrap_or_else(now_secs),
        refresh_token: answer.refresh_token.clone(),
        access_token: answer.access_token.clone(),
        access_token_expires_at: answer
            .expires_in
            .map(|s| now_secs().saturating_add(s as i64)),
    };
    store.save(&login.name, &kept).map_err(store_failure)?;
    let claim = |k: &str| {
        checked
            .claims
            .all
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let who = claim("email")
        .or_else(|| claim("preferred_username"))
        .or_else(|| checked.claims.sub.clone())
        .unwrap_or_else(|| "(no subject)".into());
    Ok((who, store.location(&login.name)))
}

pub async fn logout(args: LogoutArgs, env: &Env) -> Result<u8, Failure> {
    let login = find(&args.provider, &args.config, env)?;
    let store = store(&login)?;
    let stored = store.load(&login.name).map_err(store_failure)?;
    if let Some(refresh_token) = stored.as_ref().and_then(|t| t.refresh_token.as_ref()) {
        // Revocation is a courtesy: the tokens are forgotten here whatever the provider says.
        let budget = args.network.budget();
        match discovery::fetch(&login.provider.issuer, &budget).await {
            Ok(disc) => {
                if let (Some(url), Ok(endpoint)) = (
                    disc.revocation_endpoint.as_deref(),
                    tokens::TokenEndpoint::new(
                        &disc,
                        &login.provider.client_id,
                        login.provider.client_secret.clone(),
                    ),
                ) && let Err(e) = endpoint.revoke(url, refresh_token, CALL_TIMEOUT).await
                {
                    tracing::warn!("could not revoke the refresh token at {}: {e}", login.name);
                }
            }
            Err(e) => tracing::warn!(
                "could not reach {} to revoke the refresh token: {e}",
                login.name
            ),
        }
    }
    // Credentials cached from this login go with it.
    if let Some(dir) = login.cache_dir.as_ref().filter(|d| d.is_dir()) {
        match crate::cache::Cache::open(dir.clone()).map(|c| c.forget_login(&login.name)) {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!("removed {n} cached credentials of {}", login.name),
            Ok(Err(e)) => tracing::warn!(
                "could not remove the cached credentials of {}: {e}",
                login.name
            ),
            Err(e) => tracing::warn!("could not open the credentials cache: {e}"),
        }
    }
    let removed = store.delete(&login.name).map_err(store_failure)?;
    if !args.log.quiet {
        if removed {
            eprintln!("aws-oidc: logged out of {}", login.name);
        } else {
            eprintln!("aws-oidc: notice: not logged in to {}", login.name);
        }
    }
    Ok(0)
}

/// Whether `auto` should try a browser: one was named, or there is a desktop to show it on.
fn can_open_browser(env: &Env) -> bool {
    env.get("BROWSER").is_some()
        || cfg!(any(target_os = "macos", target_os = "windows"))
        || env.get("DISPLAY").is_some()
        || env.get("WAYLAND_DISPLAY").is_some()
}

/// Starts the browser on `url` and does not wait for it: `--browser-command`, else `$BROWSER`,
/// else the platform's opener. Words are split on spaces, the URL is the last argument, no
/// shell runs. A browser that cannot start leaves the printed URL to the person.
fn open_browser(url: &str, command: Option<&str>, env: &Env) -> Option<String> {
    let line = command
        .map(str::to_string)
        .or_else(|| env.get("BROWSER").map(str::to_string))
        .unwrap_or_else(|| {
            if cfg!(target_os = "macos") {
                "open".into()
            } else if cfg!(target_os = "windows") {
                "explorer".into()
            } else {
                "xdg-open".into()
            }
        });
    let mut words = line.split_whitespace();
    let program = words.next()?;
    let spawned = std::process::Command::new(program)
        .args(words)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn();
    match spawned {
        // Reaped in the background so it does not linger as a zombie.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
            None
        }
        Err(e) => Some(format!(
            "aws-oidc: could not start the browser ({program}: {e}); open the URL above"
        )),
    }
}
