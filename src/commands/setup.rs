//! `aws-oidc setup`: adds (or updates) a provider under `providers:` in the configuration file,
//! after checking that the issuer's discovery document offers the chosen sign-in. It asks on a
//! terminal, takes flags in scripts, and `--print` shows the YAML instead of writing it.
//!
//! The file is edited as text: the provider's block is replaced (or appended under
//! `providers:`), so comments, the other providers, `targets:` and `token_store:` stay as they
//! are. The result is parsed and compared before it replaces the file (atomically, mode 0600);
//! a shape this cannot edit safely (flow style, tabs, several documents) is refused.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::args::{LogArgs, NetworkArgs};
use crate::config::{self, Flow, Provider, StoreKind};
use crate::env::Env;
use crate::failure::{Failure, Kind};
use crate::idp::discovery;
use crate::secret::Secret;

/// `--flow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlowArg {
    /// The browser when one can open, else the device grant.
    Auto,
    /// Authorization code + PKCE with a browser on this machine.
    Browser,
    /// The device grant: a code entered on any device.
    Device,
}

impl From<FlowArg> for Flow {
    fn from(f: FlowArg) -> Flow {
        match f {
            FlowArg::Auto => Flow::Auto,
            FlowArg::Browser => Flow::Browser,
            FlowArg::Device => Flow::Device,
        }
    }
}

fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

#[derive(Clone, Debug, Args)]
pub struct SetupArgs {
    /// The provider's name under `providers:` (what `--provider` names afterwards).
    #[arg(long, env = "AWS_OIDC_PROVIDER", value_name = "NAME")]
    pub provider: Option<String>,

    /// The provider's issuer: https://, or http:// on 127.0.0.1 or localhost (its discovery
    /// document is <issuer>/.well-known/openid-configuration).
    #[arg(long, env = "AWS_OIDC_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,

    /// The OAuth client id registered at the provider.
    #[arg(long, env = "AWS_OIDC_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,

    /// The client secret of a confidential client: kept in the file, never shown (prefer the
    /// environment variable: a flag shows in the process list).
    #[arg(long, env = "AWS_OIDC_CLIENT_SECRET", value_name = "SECRET", value_parser = parse_secret)]
    pub client_secret: Option<Secret>,

    /// Scopes to ask for, comma-separated [default: openid,offline_access].
    #[arg(
        long,
        env = "AWS_OIDC_SETUP_SCOPES",
        value_name = "SCOPES",
        value_delimiter = ','
    )]
    pub scopes: Vec<String>,

    /// How `login` signs in [default: auto].
    #[arg(long, env = "AWS_OIDC_SETUP_FLOW", value_enum)]
    pub flow: Option<FlowArg>,

    /// The provider's default role (used when --role-arn is absent).
    #[arg(long, env = "AWS_OIDC_SETUP_ROLE_ARN", value_name = "ARN")]
    pub role_arn: Option<String>,

    /// The provider's default session duration in seconds (900-43200).
    #[arg(long, env = "AWS_OIDC_SETUP_DURATION", value_name = "SECONDS",
          value_parser = clap::value_parser!(i32).range(900..=43200))]
    pub duration: Option<i32>,

    /// The provider's default AWS region.
    #[arg(long, env = "AWS_OIDC_SETUP_REGION", value_name = "REGION")]
    pub region: Option<String>,

    /// An extra `audience` authorization parameter (Auth0's API identifier).
    #[arg(long, env = "AWS_OIDC_SETUP_AUDIENCE", value_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// Print the provider's YAML on stdout instead of writing the file (no secret shown).
    #[arg(long, env = "AWS_OIDC_SETUP_PRINT")]
    pub print: bool,

    /// The configuration file [default: $XDG_CONFIG_HOME/aws-oidc/config.yaml, ~/.config/aws-oidc/config.yaml].
    #[arg(long, env = "AWS_OIDC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub network: NetworkArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

const FLAGS: &str = "aws-oidc setup --provider NAME --issuer URL --client-id ID [--client-secret S] [--scopes openid,offline_access] [--flow auto|browser|device] [--role-arn ARN] [--duration SECONDS] [--region R] [--audience A] [--print]";

pub async fn run(mut args: SetupArgs, env: &Env) -> Result<u8, Failure> {
    let missing: Vec<&str> = [
        ("--provider NAME", args.provider.is_none()),
        ("--issuer URL", args.issuer.is_none()),
        ("--client-id ID", args.client_id.is_none()),
    ]
    .into_iter()
    .filter_map(|(flag, absent)| absent.then_some(flag))
    .collect();
    if !missing.is_empty() {
        if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            ask(&mut args)?;
        } else {
            return Err(Failure::usage(format!(
                "setup needs {} when there is no terminal to ask on",
                missing.join(", ")
            ))
            .hint(format!("usage: {FLAGS}")));
        }
    }
    let name = args.provider.clone().unwrap_or_default();
    check_name(&name)?;
    let provider = provider_from(&args)?;

    // The discovery document first: nothing is written for a provider that cannot sign in.
    let disc = discovery::fetch(&provider.issuer, &args.network.budget())
        .await
        .map_err(|e| {
            use crate::net::retry::Transient;
            let kind = if e.is_transient() {
                Kind::Transient
            } else {
                Kind::Usage
            };
            Failure::new(kind, format!("provider {name}: {e}"))
        })?;
    let device = disc.device_authorization_endpoint.is_some()
        && disc.supports_grant(discovery::DEVICE_GRANT);
    let browser =
        disc.authorization_endpoint.is_some() && disc.supports_grant("authorization_code");
    let offered = |yes: bool| if yes { "yes" } else { "no" };
    let refuse = |what: &str, hint: &str| {
        Failure::usage(format!(
            "provider {name} ({}) offers no {what}; nothing was written",
            provider.issuer
        ))
        .hint(hint.to_string())
    };
    match provider.flow {
        Flow::Device if !device => {
            return Err(refuse(
                "device sign-in (no device_authorization_endpoint or device grant in its discovery document)",
                if browser {
                    "use --flow browser (it offers browser sign-in)"
                } else {
                    "check the issuer URL"
                },
            ));
        }
        Flow::Browser if !browser => {
            return Err(refuse(
                "browser sign-in (no authorization_endpoint or authorization_code grant in its discovery document)",
                if device {
                    "use --flow device (it offers device sign-in)"
                } else {
                    "check the issuer URL"
                },
            ));
        }
        Flow::Auto if !device && !browser => {
            return Err(refuse(
                "sign-in aws-oidc can use (neither the device grant nor an authorization endpoint)",
                "check the issuer URL",
            ));
        }
        _ => {}
    }

    if args.print {
        let entry = render(&name, &provider, false);
        let mut out = std::io::stdout().lock();
        writeln!(out, "providers:")
            .and_then(|_| out.write_all(indent(&entry, 2).as_bytes()))
            .and_then(|_| out.flush())
            .map_err(|e| Failure::new(Kind::Output, format!("cannot write stdout: {e}")))?;
        if provider.client_secret.is_some() {
            eprintln!(
                "aws-oidc: note: the client secret is not shown; add `client_secret:` by hand"
            );
        }
        return Ok(0);
    }

    let path = match &args.config {
        Some(p) => p.clone(),
        None => config::default_path(env).ok_or_else(|| {
            Failure::usage("no configuration file path: set --config, XDG_CONFIG_HOME or HOME")
        })?,
    };
    let saved = save(&path, &name, provider)?;
    if !args.log.quiet {
        eprintln!(
            "aws-oidc: provider {name} saved in {} (device sign-in: {}, browser sign-in: {})",
            saved.display(),
            offered(device),
            offered(browser)
        );
        eprintln!("next: aws-oidc login --provider {name}");
    }
    Ok(0)
}

/// A provider name is a plain YAML key and a store key: up to 64 letters, digits, `_`, `.`,
/// `-`, starting with a letter or digit (so that `login` can store its tokens).
fn check_name(name: &str) -> Result<(), Failure> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && crate::idp::store::is_storable_name(name);
    if ok {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "provider name `{}` must be up to 64 letters, digits, `_`, `.` or `-`, starting with a letter or digit (e.g. corp)",
            name.escape_default()
        )))
    }
}

/// The provider as asked for, checked as far as can be without the network.
fn provider_from(args: &SetupArgs) -> Result<Provider, Failure> {
    let issuer = args.issuer.clone().unwrap_or_default().trim().to_string();
    config::check_issuer(&issuer).map_err(Failure::usage)?;
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_default()
        .trim()
        .to_string();
    if client_id.is_empty() || client_id.contains(['\n', '\r']) {
        return Err(Failure::usage("--client-id is empty"));
    }
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split([',', ' ']))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let scopes = if scopes.is_empty() {
        vec!["openid".to_string(), "offline_access".to_string()]
    } else {
        scopes
    };
    if let Some(arn) = &args.role_arn {
        crate::aws::arn::RoleArn::parse(arn)
            .map_err(|e| Failure::usage(format!("--role-arn: {e}")))?;
    }
    let text = |o: &Option<String>| {
        o.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(Provider {
        issuer,
        client_id,
        client_secret: args
            .client_secret
            .clone()
            .filter(|s| !s.expose().is_empty()),
        scopes: Some(scopes),
        audience: text(&args.audience),
        extra_params: Default::default(),
        flow: args.flow.map_or(Flow::Auto, Flow::from),
        redirect_ports: None,
        role_arn: text(&args.role_arn),
        duration: args.duration,
        region: text(&args.region),
        session_name_claim: None,
        token_store: None,
        federation: Default::default(),
        token_exchange: None,
    })
}

/// Asks for what the flags left out, on stderr, reading answers from stdin.
fn ask(args: &mut SetupArgs) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut prompt = |question: &str, default: Option<&str>| -> Result<String, Failure> {
        match default.filter(|d| !d.is_empty()) {
            Some(d) => eprint!("{question} [{d}]: "),
            None => eprint!("{question}: "),
        }
        let mut line = String::new();
        let n = input
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("cannot read the answer: {e}")))?;
        if n == 0 {
            eprintln!();
            return Err(Failure::usage("setup stopped: no answer (end of input)"));
        }
        let answer = line.trim().to_string();
        Ok(if answer.is_empty() {
            default.unwrap_or_default().to_string()
        } else {
            answer
        })
    };
    eprintln!("aws-oidc: setting up an OpenID provider (Enter keeps the [default])");
    if args.provider.is_none() {
        args.provider = Some(prompt("provider name", Some("default"))?);
    }
    if args.issuer.is_none() {
        args.issuer = Some(prompt("issuer URL (https://…)", None)?);
    }
    if args.client_id.is_none() {
        args.client_id = Some(prompt("client id", None)?);
    }
    if args.client_secret.is_none() {
        let hidden = echo(false);
        let question = if hidden {
            "client secret (optional, not shown)"
        } else {
            "client secret (optional; it WILL be shown as you type)"
        };
        let answer = prompt(question, Some(""));
        if hidden {
            echo(true);
            eprintln!();
        }
        let answer = answer?;
        if !answer.is_empty() {
            args.client_secret = Some(Secret::new(answer));
        }
    }
    if args.scopes.is_empty() {
        let answer = prompt("scopes", Some("openid offline_access"))?;
        args.scopes = answer.split_whitespace().map(str::to_string).collect();
    }
    if args.flow.is_none() {
        let answer = prompt("flow: auto, browser or device", Some("auto"))?;
        args.flow = Some(FlowArg::from_str(&answer, true).map_err(|_| {
            Failure::usage(format!("flow `{answer}` is not auto, browser or device"))
        })?);
    }
    if args.role_arn.is_none() {
        let answer = prompt("default role ARN (optional)", Some(""))?;
        args.role_arn = Some(answer).filter(|a| !a.is_empty());
    }
    if args.duration.is_none() {
        let answer = prompt(
            "default duration in seconds (optional, 900-43200)",
            Some(""),
        )?;
        if !answer.is_empty() {
            let d: i32 = answer
                .parse()
                .ok()
                .filter(|d| (900..=43200).contains(d))
                .ok_or_else(|| {
                    Failure::usage(format!("duration `{answer}` is not 900-43200 seconds"))
                })?;
            args.duration = Some(d);
        }
    }
    Ok(())
}

/// Turns the terminal's echo off (`false`) or back on with `stty`, which reads the terminal on
/// its stdin; whether that worked.
fn echo(on: bool) -> bool {
    if !cfg!(unix) {
        return false;
    }
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Saves `provider` as `name` in the configuration file at `path` (`login --issuer
/// --client-id` after a successful sign-in): the same careful edit as `setup`.
pub fn save_provider(path: &Path, name: &str, provider: Provider) -> Result<PathBuf, Failure> {
    check_name(name)?;
    save(path, name, provider)
}

/// Writes `provider` as `name` into the file at `path` (creating it in a private directory),
/// keeping the rest; the fields setup does not ask for, and a client secret not given again,
/// are kept from the provider already there.
fn save(path: &Path, name: &str, mut provider: Provider) -> Result<PathBuf, Failure> {
    let cannot = |e: &dyn std::fmt::Display| {
        Failure::new(
            Kind::Output,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    let existing = match crate::fs::dest_kind(path).map_err(|e| cannot(&e))? {
        crate::fs::DestKind::Absent => None,
        crate::fs::DestKind::Regular => Some(config::read(path).map_err(|e| {
            Failure::usage(e.to_string())
                .hint("fix the file first, or run with --print and add the provider by hand")
        })?),
        other => {
            return Err(Failure::usage(format!(
                "{} is {}, not a file; setup edits only a regular file (use --print)",
                path.display(),
                other.describe()
            )));
        }
    };
    if let Some(old) = existing.as_ref().and_then(|c| c.providers.get(name)) {
        provider.extra_params = old.extra_params.clone();
        provider.redirect_ports = old.redirect_ports.clone();
        provider.session_name_claim = old.session_name_claim.clone();
        provider.token_store = old.token_store;
        provider.federation = old.federation;
        provider.token_exchange = old.token_exchange.clone();
        if provider.client_secret.is_none() && old.client_secret.is_some() {
            provider.client_secret = old.client_secret.clone();
            eprintln!("aws-oidc: note: kept the client secret already in the file");
        }
    }
    let old_text = existing.as_ref().map_or("", |c| c.text.as_str());
    let entry = render(name, &provider, true);
    let new_text = update_text(old_text, name, &entry).map_err(|why| {
        Failure::usage(format!("cannot edit {} safely: {why}", path.display()))
            .hint("add the provider by hand (aws-oidc setup … --print shows it)")
    })?;
    // The edit must parse and hold exactly what was asked, the rest unchanged.
    let check = |text: String| -> Result<(), String> {
        let c = config::parse(path, text).map_err(|e| e.to_string())?;
        let got = c
            .providers
            .get(name)
            .ok_or("the provider is not in the result")?;
        if !same(got, &provider) {
            return Err("the provider reads back differently".into());
        }
        if let Some(old) = &existing {
            let keys = |c: &config::Config| -> Vec<String> {
                c.providers.keys().filter(|k| *k != name).cloned().collect()
            };
            let targets = |c: &config::Config| {
                c.targets
                    .as_ref()
                    .map(|t| t.keys().cloned().collect::<Vec<_>>())
            };
            if keys(old) != keys(&c)
                || targets(old) != targets(&c)
                || old.token_store != c.token_store
            {
                return Err("the rest of the file reads back differently".into());
            }
        }
        Ok(())
    };
    check(new_text.clone()).map_err(|why| {
        Failure::usage(format!(
            "cannot edit {} safely ({why}); nothing was written",
            path.display()
        ))
        .hint("add the provider by hand (aws-oidc setup … --print shows it)")
    })?;
    if let Some(dir) = path.parent() {
        crate::fs::ensure_private_dir(dir).map_err(|e| cannot(&e))?;
    }
    crate::fs::stage(path, new_text.as_bytes())
        .and_then(|staged| staged.commit())
        .map_err(|e| cannot(&e))?;
    // Read back from disk: what login will see.
    let written = config::read(path).map_err(|e| cannot(&e))?;
    if !written
        .providers
        .get(name)
        .is_some_and(|p| same(p, &provider))
    {
        return Err(cannot(&"the provider does not read back as written"));
    }
    Ok(path.to_path_buf())
}

/// Whether two providers say the same (`Provider` has no `PartialEq`: it holds a secret).
fn same(a: &Provider, b: &Provider) -> bool {
    a.issuer == b.issuer
        && a.client_id == b.client_id
        && a.client_secret.as_ref().map(Secret::expose)
            == b.client_secret.as_ref().map(Secret::expose)
        && a.scopes == b.scopes
        && a.audience == b.audience
        && a.extra_params == b.extra_params
        && a.flow == b.flow
        && a.redirect_ports == b.redirect_ports
        && a.role_arn == b.role_arn
        && a.duration == b.duration
        && a.region == b.region
        && a.session_name_claim == b.session_name_claim
        && a.token_store == b.token_store
        && a.federation == b.federation
        && a.token_exchange == b.token_exchange
}

/// A YAML scalar for `s`: plain when that reads back as the same string, else double-quoted
/// (JSON's escaping is valid YAML).
fn scalar(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@+-=~".contains(c))
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "inf" | "nan"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

/// The provider's block: `name:` and its fields two spaces in, ending in a newline. With
/// `with_secret` false the client secret is only mentioned, in a comment.
fn render(name: &str, p: &Provider, with_secret: bool) -> String {
    let mut lines = vec![
        format!("{name}:"),
        format!("  issuer: {}", scalar(&p.issuer)),
        format!("  client_id: {}", scalar(&p.client_id)),
    ];
    if let Some(secret) = &p.client_secret {
        lines.push(if with_secret {
            format!("  client_secret: {}", scalar(secret.expose()))
        } else {
            "  # client_secret: <set; not shown>".to_string()
        });
    }
    if let Some(scopes) = &p.scopes {
        let list: Vec<String> = scopes.iter().map(|s| scalar(s)).collect();
        lines.push(format!("  scopes: [{}]", list.join(", ")));
    }
    if let Some(a) = &p.audience {
        lines.push(format!("  audience: {}", scalar(a)));
    }
    if !p.extra_params.is_empty() {
        let pairs: Vec<String> = p
            .extra_params
            .iter()
            .map(|(k, v)| format!("{}: {}", scalar(k), scalar(v)))
            .collect();
        lines.push(format!("  extra_params: {{{}}}", pairs.join(", ")));
    }
    lines.push(format!(
        "  flow: {}",
        match p.flow {
            Flow::Auto => "auto",
            Flow::Browser => "browser",
            Flow::Device => "device",
        }
    ));
    if let Some(ports) = &p.redirect_ports {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        lines.push(format!("  redirect_ports: [{}]", list.join(", ")));
    }
    if let Some(r) = &p.role_arn {
        lines.push(format!("  role_arn: {}", scalar(r)));
    }
    if let Some(d) = p.duration {
        lines.push(format!("  duration: {d}"));
    }
    if let Some(r) = &p.region {
        lines.push(format!("  region: {}", scalar(r)));
    }
    if let Some(c) = &p.session_name_claim {
        lines.push(format!("  session_name_claim: {}", scalar(c)));
    }
    if let Some(s) = p.token_store {
        lines.push(format!(
            "  token_store: {}",
            match s {
                StoreKind::Auto => "auto",
                StoreKind::Keyring => "keyring",
                StoreKind::File => "file",
            }
        ));
    }
    if p.federation == crate::config::Federation::Saml2 {
        lines.push("  federation: saml2".into());
    }
    if let Some(x) = &p.token_exchange {
        lines.push(format!(
            "  token_exchange: {{audience: {}, subject_token_type: {}}}",
            scalar(&x.audience),
            match x.subject_token_type {
                crate::config::SubjectTokenType::AccessToken => "access_token",
                crate::config::SubjectTokenType::IdToken => "id_token",
            }
        ));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn indent(block: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    block.lines().map(|l| format!("{pad}{l}\n")).collect()
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// A line with YAML in it (not blank, not only a comment).
fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// The key of a `key: …` line (quotes removed) and what follows the colon.
fn key_of(line: &str) -> Option<(String, &str)> {
    let t = line.trim_start();
    for q in ['"', '\''] {
        if let Some(rest) = t.strip_prefix(q) {
            let end = rest.find(q)?;
            let after = rest[end + 1..].strip_prefix(':')?;
            return Some((rest[..end].to_string(), after));
        }
    }
    let colon = t.find(':')?;
    Some((t[..colon].trim_end().to_string(), &t[colon + 1..]))
}

/// Nothing after the colon but a comment: a block (the key's value is on the next lines).
fn opens_block(after: &str) -> bool {
    let a = after.trim();
    a.is_empty() || a.starts_with('#')
}

/// `text` with `entry` (from [`render`]: `name:` and its fields) as the provider `name`: its
/// block under `providers:` replaced, or appended to that section, or a `providers:` section
/// added at the end. Refuses shapes a line edit could get wrong.
fn update_text(text: &str, name: &str, entry: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut first_content = true;
    for line in &lines {
        let lead = &line[..line.len() - line.trim_start().len()];
        if lead.contains('\t') {
            return Err("it indents with tabs".into());
        }
        if !is_content(line) {
            continue;
        }
        let t = line.trim_end();
        if t.starts_with("...") || (t.starts_with("---") && !(first_content && t == "---")) {
            return Err("it holds several YAML documents (--- or ...)".into());
        }
        if first_content && (t.starts_with('{') || t.starts_with('[') || t.starts_with('%')) {
            return Err("it is not a block mapping (flow style or a directive)".into());
        }
        if indentation(line) == 0
            && (t.starts_with("? ") || t.starts_with('&') || t.starts_with('*'))
        {
            return Err("it uses complex keys, anchors or aliases at the top".into());
        }
        first_content = false;
    }
    let headers: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| is_content(l) && indentation(l) == 0)
        .filter(|(_, l)| key_of(l).is_some_and(|(k, _)| k == "providers"))
        .map(|(i, _)| i)
        .collect();
    let mut out: Vec<String> = Vec::new();
    match headers.as_slice() {
        [] => {
            out.extend(lines.iter().map(|l| l.to_string()));
            out.push("providers:".into());
            out.extend(indent(entry, 2).lines().map(str::to_string));
        }
        [h] => {
            let h = *h;
            let (_, after) = key_of(lines[h]).unwrap_or_default();
            if !opens_block(after) {
                return Err(
                    "`providers:` is written on one line (flow style); rewrite it as a block"
                        .into(),
                );
            }
            let end = (h + 1..lines.len())
                .find(|&i| is_content(lines[i]) && indentation(lines[i]) == 0)
                .unwrap_or(lines.len());
            let child = (h + 1..end)
                .find(|&i| is_content(lines[i]))
                .map_or(2, |i| indentation(lines[i]));
            // Each provider: its key line, up to its last line indented deeper.
            let mut found: Option<(usize, usize)> = None;
            let mut last = h;
            let mut i = h + 1;
            while i < end {
                let line = lines[i];
                if !is_content(line) {
                    i += 1;
                    continue;
                }
                if indentation(line) != child {
                    return Err(format!(
                        "the indentation under `providers:` is uneven (line {})",
                        i + 1
                    ));
                }
                let t = line.trim_start();
                if t.starts_with('-') || t.starts_with('?') || t.starts_with('&') {
                    return Err(format!(
                        "`providers:` is not a plain mapping (line {})",
                        i + 1
                    ));
                }
                let (key, after) =
                    key_of(line).ok_or_else(|| format!("line {} is not `name:`", i + 1))?;
                let mut block_end = i;
                let mut j = i + 1;
                while j < end && (!is_content(lines[j]) || indentation(lines[j]) > child) {
                    if is_content(lines[j]) {
                        block_end = j;
                    }
                    j += 1;
                }
                if key == name {
                    if !opens_block(after) || found.is_some() {
                        return Err(format!(
                            "provider {name} is written on one line or twice (line {}); edit it by hand",
                            i + 1
                        ));
                    }
                    found = Some((i, block_end));
                }
                last = block_end;
                i = j;
            }
            let ours = indent(entry, child);
            match found {
                Some((start, stop)) => {
                    out.extend(lines[..start].iter().map(|l| l.to_string()));
                    out.extend(ours.lines().map(str::to_string));
                    out.extend(lines[stop + 1..].iter().map(|l| l.to_string()));
                }
                None => {
                    out.extend(lines[..=last].iter().map(|l| l.to_string()));
                    out.extend(ours.lines().map(str::to_string));
                    out.extend(lines[last + 1..].iter().map(|l| l.to_string()));
                }
            }
        }
        _ => return Err("`providers:` appears more than once".into()),
    }
    let mut text = out.join("\n");
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_provider_name_can_name_stored_tokens() {
        for good in ["corp", "okta-prod", "a.b_c", &"x".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        // Each refused here would save, then fail at `login` when the tokens are stored.
        for bad in [
            "",
            "-corp",
            "_corp",
            ".corp",
            "a b",
            "corp/x",
            &"x".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    fn corp(issuer: &str) -> Provider {
        Provider {
            issuer: issuer.into(),
            client_id: "aws-cli".into(),
            client_secret: Some(Secret::new("s3cr3t: \"value\"")),
            scopes: Some(vec!["openid".into(), "offline_access".into()]),
            audience: None,
            extra_params: Default::default(),
            flow: Flow::Device,
            redirect_ports: None,
            role_arn: Some("arn:aws:iam::123456789012:role/developer".into()),
            duration: Some(3600),
            region: Some("eu-west-1".into()),
            session_name_claim: None,
            token_store: None,
            federation: Default::default(),
            token_exchange: None,
        }
    }

    fn parsed(text: &str) -> config::Config {
        config::parse(Path::new("config.yaml"), text.to_string())
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn adds_to_an_empty_file() {
        let p = corp("https://idp.example.com/realms/main");
        let text = update_text("", "corp", &render("corp", &p, true)).unwrap();
        assert!(
            text.starts_with(
                "providers:\n  corp:\n    issuer: https://idp.example.com/realms/main\n"
            ),
            "{text}"
        );
        let c = parsed(&text);
        assert!(same(&c.providers["corp"], &p), "{text}");
        assert!(c.targets.is_none());
    }

    const WITH_TARGETS: &str = "# my settings\ntoken_store: file   # no keyring here\n\nproviders:\n  # the old one\n  other:\n    issuer: https://other.example.com\n    client_id: x   # public client\n    redirect_ports: [8400]\n\n# where to deploy\ndefaults: {region: eu-west-1}\ntargets:\n  prod:\n    role_arn: arn:aws:iam::111111111111:role/deploy\n";

    #[test]
    fn adds_to_a_file_with_targets_and_comments() {
        let p = corp("https://idp.example.com");
        let text = update_text(WITH_TARGETS, "corp", &render("corp", &p, true)).unwrap();
        for line in WITH_TARGETS.lines() {
            assert!(text.contains(line), "lost {line:?}:\n{text}");
        }
        let c = parsed(&text);
        assert!(same(&c.providers["corp"], &p), "{text}");
        assert_eq!(c.providers["other"].redirect_ports(), [8400]);
        assert_eq!(c.token_store, Some(StoreKind::File));
        assert!(c.targets.unwrap().contains_key("prod"));
        // Appended inside the section, before the comment that belongs to `defaults:`.
        assert!(
            text.find("  corp:").unwrap() < text.find("# where to deploy").unwrap(),
            "{text}"
        );
        // A file without providers: gets the section at its end.
        let only_targets = "targets:\n  prod: {role_arn: arn:aws:iam::111111111111:role/deploy}\n";
        let text = update_text(only_targets, "corp", &render("corp", &p, true)).unwrap();
        assert!(text.starts_with(only_targets), "{text}");
        assert!(same(&parsed(&text).providers["corp"], &p));
    }

    #[test]
    fn replaces_an_existing_provider() {
        let text = "providers:\n    corp:   # ours\n        issuer: https://old.example.com\n        client_id: old\n        # an old note\n        flow: browser\n    # about next\n    next:\n        issuer: https://next.example.com\n        client_id: n\ntargets:\n  a: {role_arn: arn:aws:iam::111111111111:role/a}\n";
        let p = corp("https://new.example.com");
        let out = update_text(text, "corp", &render("corp", &p, true)).unwrap();
        assert!(!out.contains("old"), "{out}");
        assert!(out.contains("    # about next\n    next:\n"), "{out}");
        let c = parsed(&out);
        assert!(same(&c.providers["corp"], &p), "{out}");
        assert_eq!(c.providers["next"].client_id, "n");
        assert_eq!(c.providers.len(), 2);
        assert!(c.targets.unwrap().contains_key("a"));
        // Replacing twice gives the same file.
        assert_eq!(
            update_text(&out, "corp", &render("corp", &p, true)).unwrap(),
            out
        );
    }

    #[test]
    fn refuses_shapes_it_cannot_edit() {
        let entry = render("corp", &corp("https://idp.example.com"), true);
        for (text, why) in [
            (
                "providers: {corp: {issuer: https://a.example.com, client_id: a}}\n",
                "one line",
            ),
            (
                "providers:\n  corp: {issuer: https://a.example.com, client_id: a}\n",
                "one line",
            ),
            ("{providers: {}}\n", "flow style"),
            ("providers:\n\tcorp:\n", "tabs"),
            ("---\ntargets: {}\n---\ntargets: {}\n", "several"),
            (
                "providers:\n    a:\n      issuer: https://a.example.com\n  b:\n",
                "uneven",
            ),
            (
                "providers:\n  a: {}\nproviders:\n  b: {}\n",
                "more than once",
            ),
        ] {
            let e = update_text(text, "corp", &entry).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_secret_is_not_printed_nor_in_debug() {
        let p = corp("https://idp.example.com");
        let shown = render("corp", &p, false);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("# client_secret: <set; not shown>"));
        assert!(!format!("{p:?}").contains("s3cr3t"));
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "aws-oidc",
            "setup",
            "--client-secret",
            "s3cr3t-flag",
        ])
        .unwrap();
        assert!(!format!("{cli:?}").contains("s3cr3t-flag"));
    }

    #[test]
    fn scalars_read_back_as_strings() {
        for s in [
            "aws-cli", "0123456", "true", "a: b", "x #y", "1e5", "-a", "é", "",
        ] {
            let text = format!("v: {}\n", scalar(s));
            let v: BTreeMap<String, String> = serde_saphyr::from_str(&text).unwrap();
            assert_eq!(v["v"], s, "{text}");
        }
        assert_eq!(
            scalar("https://idp.example.com/x"),
            "https://idp.example.com/x"
        );
    }

    use std::collections::BTreeMap;
}
