//! Many roles in one run: targets from a YAML file (`--config`) or from a
//! repeated `--role-arn`, sharing one ID token, assumed concurrently (bounded),
//! each written to its own outputs — and nothing written for a target that failed.
//!
//! The file's schema:
//!
//! ```yaml
//! defaults:                 # optional; every key of a target may stand here
//!   region: eu-west-1
//!   duration: 3600
//! targets:                  # required: name -> target
//!   prod:
//!     role_arn: arn:aws:iam::111111111111:role/deploy      # required (here or in defaults)
//!     chain_role_arn: arn:aws:iam::222222222222:role/app   # optional
//!     external_id: ext-123                                 # optional
//!     chain_session_name: prod-app                         # optional
//!     session_name: ci-prod                                # optional
//!     region: us-east-1                                    # optional
//!     duration: 1800                                       # optional
//!     sts_endpoint: https://sts.us-east-1.amazonaws.com    # optional
//!     policy: '{"Version":"2012-10-17",...}'               # optional
//!     policy_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess] # optional
//!     outputs: [profile=prod, env=prod.env]                # default: profile=<name>
//! ```
//!
//! In output paths and profile names `{target}` stands for the target's name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::args::RoleArgs;
use crate::commands::assume::AssumeArgs;
use crate::config::{self, TargetSpec};
use crate::failure::{Failure, Kind};
use crate::obtain;
use crate::output::{self, Destination, Format, Plan, RenderOptions};
use crate::settings::{self, Settings};

/// One target, ready to run.
pub struct RoleTarget {
    pub name: String,
    pub settings: Settings,
    pub outputs: Vec<Destination>,
}

fn layer(base: &TargetSpec, over: &TargetSpec) -> TargetSpec {
    TargetSpec {
        role_arn: over.role_arn.clone().or_else(|| base.role_arn.clone()),
        chain_role_arn: over
            .chain_role_arn
            .clone()
            .or_else(|| base.chain_role_arn.clone()),
        external_id: over
            .external_id
            .clone()
            .or_else(|| base.external_id.clone()),
        chain_session_name: over
            .chain_session_name
            .clone()
            .or_else(|| base.chain_session_name.clone()),
        session_name: over
            .session_name
            .clone()
            .or_else(|| base.session_name.clone()),
        region: over.region.clone().or_else(|| base.region.clone()),
        duration: over.duration.or(base.duration),
        sts_endpoint: over
            .sts_endpoint
            .clone()
            .or_else(|| base.sts_endpoint.clone()),
        policy: over.policy.clone().or_else(|| base.policy.clone()),
        policy_arns: over
            .policy_arns
            .clone()
            .or_else(|| base.policy_arns.clone()),
        outputs: over.outputs.clone().or_else(|| base.outputs.clone()),
    }
}

fn apply(common: &RoleArgs, spec: &TargetSpec) -> RoleArgs {
    let mut c = common.clone();
    if let Some(v) = &spec.role_arn {
        c.role_arn = vec![v.clone()];
    }
    macro_rules! set {
        ($($field:ident),*) => { $( if spec.$field.is_some() { c.$field = spec.$field.clone(); } )* };
    }
    set!(
        chain_role_arn,
        external_id,
        chain_session_name,
        session_name,
        region,
        sts_endpoint,
        policy
    );
    if let Some(d) = spec.duration {
        c.duration = d;
    }
    if let Some(p) = &spec.policy_arns {
        c.policy_arns = p.clone();
    }
    c
}

pub fn substitute(targets: &[Destination], name: &str) -> Vec<Destination> {
    let sub = |s: &str| s.replace("{target}", name);
    targets
        .iter()
        .map(|t| Destination {
            format: match &t.format {
                Format::Profile(p) => Format::Profile(sub(p)),
                f => f.clone(),
            },
            path: t
                .path
                .as_ref()
                .map(|p| PathBuf::from(sub(&p.to_string_lossy()))),
        })
        .collect()
}

/// A target's outputs when its spec names none: the command line's `--output`s for it, else
/// `profile=<name>`.
fn target_outputs(cli_outputs: &[Destination], name: &str) -> Vec<Destination> {
    if cli_outputs.is_empty() {
        vec![Destination {
            format: Format::Profile(name.to_string()),
            path: None,
        }]
    } else {
        substitute(cli_outputs, name)
    }
}

fn parse_outputs(
    list: &[String],
    text: Option<&str>,
    name: &str,
) -> Result<Vec<Destination>, Failure> {
    list.iter()
        .map(|o| {
            o.parse::<Destination>().map_err(|e| {
                let at = text
                    .and_then(|t| config::line_of(t, o))
                    .map_or(String::new(), |l| format!(" (line {l})"));
                Failure::usage(format!("target {name}: {e}{at}"))
            })
        })
        .collect()
}

/// The targets of this run, checked, or `None` for an ordinary single-role run.
pub fn resolve(
    args: &AssumeArgs,
    env: &crate::env::Env,
) -> Result<Option<Vec<RoleTarget>>, Failure> {
    let cli_outputs = &args.outputs;
    // A file without `targets:` (only providers) never turns `assume` into a targets run.
    let file = match &args.common.token.config {
        Some(path) => Some(config::read(path).map_err(|e| {
            Failure::usage(e.to_string())
                .hint("see the schema in README.md, \"Many roles in one run\"")
        })?),
        None => None,
    }
    .filter(|c| c.targets.is_some());
    if file.is_some() && !args.common.role_arn.is_empty() {
        return Err(Failure::usage(
            "--config names the roles; drop --role-arn (or put it under `defaults:`)",
        ));
    }
    let (specs, text): (Vec<(String, TargetSpec)>, Option<String>) = match file {
        Some(file) => {
            let path = file.path.display().to_string();
            let targets = file.targets.unwrap_or_default();
            if targets.is_empty() {
                return Err(Failure::usage(format!("--config {path}: no targets")));
            }
            let chosen: Vec<(String, TargetSpec)> = if args.targets.is_empty() {
                targets
                    .iter()
                    .map(|(n, t)| (n.clone(), layer(&file.defaults, t)))
                    .collect()
            } else {
                args.targets
                    .iter()
                    .map(|n| {
                        targets
                            .get(n)
                            .map(|t| (n.clone(), layer(&file.defaults, t)))
                            .ok_or_else(|| {
                                Failure::usage(format!(
                                    "--target {n} is not in {path} (targets: {})",
                                    targets.keys().cloned().collect::<Vec<_>>().join(", ")
                                ))
                            })
                    })
                    .collect::<Result<_, _>>()?
            };
            (chosen, Some(file.text))
        }
        None if args.common.role_arn.len() > 1 => {
            let specs = args
                .common
                .role_arn
                .iter()
                .map(|arn| {
                    let name = arn.rsplit('/').next().unwrap_or(arn).to_string();
                    let spec = TargetSpec {
                        role_arn: Some(arn.clone()),
                        ..Default::default()
                    };
                    (name, spec)
                })
                .collect();
            (specs, None)
        }
        None => return Ok(None),
    };
    let mut resolved = Vec::new();
    for (name, spec) in specs {
        if let Some(d) = spec.duration.filter(|d| !(900..=43200).contains(d)) {
            let at = text
                .as_deref()
                .and_then(|t| config::line_of(t, &format!("duration: {d}")))
                .map_or(String::new(), |l| format!(" (line {l})"));
            return Err(Failure::usage(format!(
                "target {name}{at}: duration {d} is outside 900-43200 seconds"
            )));
        }
        let common = apply(&args.common, &spec);
        let settings = Settings::resolve(&common, env).map_err(|mut f| {
            let value = spec.role_arn.as_deref().unwrap_or(&name);
            let at = text.as_deref().and_then(|t| {
                config::line_of(t, value).or_else(|| config::line_of(t, &format!("{name}:")))
            });
            f.message = match at {
                Some(l) => format!("target {name} (line {l}): {}", f.message),
                None => format!("target {name}: {}", f.message),
            };
            f
        })?;
        let outputs = match &spec.outputs {
            Some(list) => substitute(&parse_outputs(list, text.as_deref(), &name)?, &name),
            None => target_outputs(cli_outputs, &name),
        };
        resolved.push(RoleTarget {
            name,
            settings,
            outputs,
        });
    }
    check_distinct(&resolved)?;
    Ok(Some(resolved))
}

/// `assume --provider NAME --all-roles`: one target per role of the SAML provider's assertion,
/// named after the role.
pub async fn all_saml_roles(
    args: &AssumeArgs,
    env: &crate::env::Env,
) -> Result<(Vec<RoleTarget>, obtain::Shared), Failure> {
    let login = settings::login(&args.common.token, env)?
        .filter(|l| l.provider.federation == crate::config::Federation::Saml2)
        .ok_or_else(|| Failure::usage("--all-roles needs a SAML provider (federation: saml2)"))?;
    let shared =
        std::sync::Arc::new(obtain::saml_assertion(&login, &args.common.network.budget()).await?);
    let parsed = &shared.1;
    if parsed.roles.is_empty() {
        return Err(Failure::new(
            Kind::Denied,
            format!("the SAML assertion of {} lists no role", login.name),
        ));
    }
    let mut targets = Vec::new();
    for pair in &parsed.roles {
        let name = pair.role.name.clone();
        let mut common = args.common.clone();
        common.role_arn = vec![pair.role.arn.clone()];
        let settings = Settings::resolve(&common, env)?;
        let outputs = target_outputs(&args.outputs, &name);
        targets.push(RoleTarget {
            name,
            settings,
            outputs,
        });
    }
    check_distinct(&targets)?;
    Ok((targets, obtain::Shared::Saml(shared)))
}

/// Two targets writing the same file or profile would overwrite each other.
fn check_distinct(targets: &[RoleTarget]) -> Result<(), Failure> {
    let mut seen = BTreeSet::new();
    for t in targets {
        for o in &t.outputs {
            if o.writes_stdout()
                || matches!(
                    o.format,
                    Format::GitHub | Format::GitHubOutputs | Format::WebIdentity
                )
            {
                return Err(Failure::usage(format!(
                    "target {}: with several targets, outputs must be files or profiles (use {{target}} in the path)",
                    t.name
                )));
            }
            let key = match (&o.format, &o.path) {
                (Format::Profile(p), _) => format!("profile {p}"),
                (_, Some(p)) => format!("file {}", p.display()),
                _ => continue,
            };
            if !seen.insert(key.clone()) {
                return Err(Failure::usage(format!(
                    "two targets write the same {key}: put {{target}} in output paths and profile names"
                )));
            }
        }
    }
    Ok(())
}

/// How many targets' STS calls are in flight at once by default: enough for a typical
/// multi-account config (20 targets) to go in one wave, so that twenty roles cost about one
/// STS round trip rather than three (at the former 8).
///
/// STS's request quotas are rates per account and per Region (the requests per second of
/// AssumeRole, AssumeRoleWithWebIdentity and AssumeRoleWithSAML; commonly quoted as about 600
/// per second, a figure not on AWS's public quota pages: check "AWS STS" in the Service Quotas
/// console of the account). A run sends one request per target
/// (two for a chain), so 32 at once is a burst of at most 32 requests, and at a ~100 ms round
/// trip at most ~320 per second while it lasts: about half the quota, leaving the rest to
/// other jobs of the same account. Targets usually span several accounts, each with its own
/// quota. Throttling, if it comes, is retried with backoff like any other transient error.
pub const DEFAULT_CONCURRENCY: u32 = 32;

/// Assumes every target (one token, `concurrency` at a time), then writes each success.
pub async fn run(
    targets: Vec<RoleTarget>,
    args: &AssumeArgs,
    env: &crate::env::Env,
) -> Result<u8, Failure> {
    run_with(targets, args, env, None).await
}

/// As [`run`], with what the first hops share already fetched (`--all-roles`: the assertion
/// the roles were read from, so one exchange serves every role).
pub async fn run_with(
    targets: Vec<RoleTarget>,
    args: &AssumeArgs,
    env: &crate::env::Env,
    shared: Option<obtain::Shared>,
) -> Result<u8, Failure> {
    for t in &targets {
        output::check_destinations(&t.outputs, env, None).map_err(|e| {
            let mut f = crate::failure::output(e);
            f.message = format!("target {}: {}", t.name, f.message);
            f
        })?;
    }
    // Before STS: a refresh line that cannot be written refuses the target up front.
    let refresh_lines: Vec<Option<String>> = targets
        .iter()
        .map(|t| {
            args.refreshable
                .then(|| settings::credential_process_command(&t.settings))
                .transpose()
                .map_err(|mut f| {
                    f.message = format!("target {}: {}", t.name, f.message);
                    f
                })
        })
        .collect::<Result<_, _>>()?;
    // One token per distinct audience (a target's default audience follows its partition):
    // one fetch when all agree.
    let mut tokens: BTreeMap<&str, obtain::Shared> = BTreeMap::new();
    for t in &targets {
        let audience = t.settings.audience.as_str();
        if !tokens.contains_key(audience) {
            let fetched = match &shared {
                Some(s) => s.clone(),
                None => obtain::fetch_shared(&t.settings, env).await?,
            };
            tokens.insert(audience, fetched);
        }
    }
    let tokens: Vec<obtain::Shared> = targets
        .iter()
        .map(|t| tokens[t.settings.audience.as_str()].clone())
        .collect();
    let env = Arc::new(env.clone());
    let limit = Arc::new(tokio::sync::Semaphore::new(args.concurrency as usize));
    let targets: Vec<Arc<RoleTarget>> = targets.into_iter().map(Arc::new).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for ((i, t), token) in targets.iter().enumerate().zip(tokens) {
        let (t, env, limit) = (t.clone(), env.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, obtain::obtain_with(&t.settings, &env, token).await)
        });
    }
    let mut results: Vec<Option<Result<obtain::Obtained, Failure>>> =
        targets.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, r) = joined
            .map_err(|e| Failure::new(Kind::Internal, format!("a target task failed: {e}")))?;
        results[i] = Some(r);
    }
    let mut first_failure: Option<u8> = None;
    let report_failure = |name: &str, f: &Failure, first: &mut Option<u8>| {
        let text = f.to_string();
        eprint!(
            "aws-oidc: [{name}] {}",
            text.trim_start_matches("aws-oidc: ")
        );
        first.get_or_insert(f.exit_code());
    };
    // All successes go into one plan: shared files (~/.aws/credentials) are rewritten once.
    let mut plan = Plan::default();
    let mut done = Vec::new();
    for ((t, r), refresh_line) in targets.iter().zip(results).zip(refresh_lines) {
        let rendered = r
            .unwrap_or_else(|| Err(Failure::new(Kind::Internal, "no result")))
            .and_then(|o| {
                let opts = RenderOptions {
                    refreshable: refresh_line,
                    ..Default::default()
                };
                let from = plan.written.len();
                plan.render_into(&t.outputs, &o.assumed, &env, &opts)
                    .map_err(crate::failure::output)?;
                Ok((o.assumed, from..plan.written.len()))
            });
        match rendered {
            Ok(ok) => done.push((t, ok)),
            Err(f) => report_failure(&t.name, &f, &mut first_failure),
        }
    }
    let written = plan.written.clone();
    let mut ok = 0;
    match plan.apply() {
        Err(e) => {
            let f = crate::failure::output(e);
            for (t, _) in &done {
                report_failure(&t.name, &f, &mut first_failure);
            }
        }
        Ok(_) => {
            for (t, (assumed, range)) in &done {
                ok += 1;
                if !args.common.log.quiet {
                    let line = output::summary(assumed, &written[range.clone()]);
                    eprintln!(
                        "aws-oidc: [{}] {}",
                        t.name,
                        line.trim_start_matches("aws-oidc: ")
                    );
                }
            }
        }
    }
    if !args.common.log.quiet || first_failure.is_some() {
        eprintln!("aws-oidc: {ok} of {} targets succeeded", targets.len());
    }
    Ok(first_failure.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn args(argv: &[&str]) -> AssumeArgs {
        crate::args::parse(argv).unwrap()
    }

    fn env() -> crate::env::Env {
        [(
            "AWS_ID_TOKEN".to_string(),
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".to_string(),
        )]
        .into()
    }

    fn write(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("targets.yml");
        std::fs::write(&p, text).unwrap();
        let s = p.display().to_string();
        (dir, s)
    }

    const CONFIG: &str = "defaults:\n  region: eu-west-1\n  duration: 1800\ntargets:\n  prod:\n    role_arn: arn:aws:iam::111111111111:role/deploy\n    outputs: [\"env=out/{target}.env\"]\n  stage:\n    role_arn: arn:aws:iam::222222222222:role/deploy\n    chain_role_arn: arn:aws:iam::333333333333:role/app\n    external_id: ext-123\n    region: us-east-1\n";

    #[test]
    fn layers_defaults_and_targets() {
        let (_d, path) = write(CONFIG);
        let t = resolve(&args(&["--config", &path]), &env())
            .unwrap()
            .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "prod");
        assert_eq!(t[0].settings.endpoint.region, "eu-west-1");
        assert_eq!(
            t[0].outputs[0].path.as_deref(),
            Some(Path::new("out/prod.env"))
        );
        assert_eq!(t[1].settings.endpoint.region, "us-east-1");
        assert_eq!(t[1].outputs[0].format, Format::Profile("stage".into()));
        let chain = t[1].settings.chain.as_ref().unwrap();
        assert_eq!(chain.external_id.as_deref(), Some("ext-123"));
    }

    #[test]
    fn selects_targets() {
        let (_d, path) = write(CONFIG);
        let t = resolve(&args(&["--config", &path, "--target", "stage"]), &env())
            .unwrap()
            .unwrap();
        assert_eq!(t.len(), 1);
        let e = resolve(&args(&["--config", &path, "--target", "nope"]), &env())
            .err()
            .unwrap();
        assert!(e.message.contains("prod, stage"), "{}", e.message);
    }

    #[test]
    fn errors_name_the_line() {
        let (_d, path) = write(
            "targets:\n  a:\n    role_arn: arn:aws:iam::111111111111:role/x\n  b:\n    role_arn: not-an-arn\n",
        );
        let e = resolve(&args(&["--config", &path]), &env()).err().unwrap();
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("target b (line 5)"), "{}", e.message);
        let (_d, path) = write(
            "targets:\n  a:\n    role_arn: arn:aws:iam::111111111111:role/x\n    regoin: eu-west-1\n",
        );
        let e = resolve(&args(&["--config", &path]), &env()).err().unwrap();
        assert!(
            e.message.contains("regoin") && e.message.contains("line 4 column"),
            "{}",
            e.message
        );
        let (_d, path) = write("targets:\n  a:\n    duration: soon\n");
        let e = resolve(&args(&["--config", &path]), &env()).err().unwrap();
        assert!(e.message.contains("line 3 column"), "{}", e.message);
    }

    #[test]
    fn repeated_role_arns_need_distinct_outputs() {
        let a = args(&[
            "--role-arn",
            "arn:aws:iam::111111111111:role/a",
            "--role-arn",
            "arn:aws:iam::111111111111:role/b",
            "--output",
            "env={target}.env",
        ]);
        let t = resolve(&a, &env()).unwrap().unwrap();
        assert_eq!(t[1].outputs[0].path.as_deref(), Some(Path::new("b.env")));
        let a = args(&[
            "--role-arn",
            "arn:aws:iam::111111111111:role/a",
            "--role-arn",
            "arn:aws:iam::111111111111:role/b",
            "--output",
            "env=same.env",
        ]);
        assert!(resolve(&a, &env()).is_err());
        let a = args(&["--role-arn", "arn:aws:iam::111111111111:role/a"]);
        assert!(resolve(&a, &env()).unwrap().is_none());
    }
}

#[cfg(test)]
mod refresh_command {
    //! `to_args` round trip: the written `credential_process` line resolves to the same settings.
    use super::*;
    use crate::commands::credential_process::CredentialProcessArgs;
    use crate::settings::credential_process_command;

    /// Splits a line the way botocore's shlex does, for the words `shell_word` writes.
    fn split(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    in_word = true;
                    cur.extend(chars.by_ref().take_while(|q| *q != '\''));
                }
                '\\' => {
                    in_word = true;
                    cur.extend(chars.next());
                }
                ' ' if in_word => {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                ' ' => {}
                c => {
                    in_word = true;
                    cur.push(c);
                }
            }
        }
        if in_word {
            words.push(cur);
        }
        words
    }

    fn env(extra: &[(&str, &str)]) -> crate::env::Env {
        crate::env::Env::from_pairs(
            [("AWS_ID_TOKEN", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")]
                .into_iter()
                .chain(extra.iter().copied()),
        )
    }

    /// Every role the `assume` options name, resolved (targets included).
    fn resolve_assume(argv: &[&str], env: &crate::env::Env) -> Vec<Settings> {
        let a: AssumeArgs = crate::args::parse(argv).unwrap();
        match resolve(&a, env).unwrap() {
            Some(targets) => targets.into_iter().map(|t| t.settings).collect(),
            None => vec![Settings::resolve(&a.common, env).unwrap()],
        }
    }

    /// The written line, parsed back as the SDK would run it, resolved again.
    fn round_trip(s: &Settings, env: &crate::env::Env) -> (String, Settings) {
        let line = credential_process_command(s).unwrap();
        let words = split(&line);
        assert_eq!(words[1], "credential-process", "{line}");
        let argv: Vec<&str> = words[2..].iter().map(String::as_str).collect();
        let cp: CredentialProcessArgs =
            crate::args::parse(&argv).unwrap_or_else(|e| panic!("{line}: {e}"));
        let again = Settings::resolve(&cp.common, env).unwrap();
        (line, again)
    }

    #[test]
    fn written_command_resolves_to_the_same_settings() {
        let dir = tempfile::tempdir().unwrap();
        let policy_file = dir.path().join("policy.json");
        std::fs::write(
            &policy_file,
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:Get*\", \"Resource\": \"*\"}]\n}\n",
        )
        .unwrap();
        let token_file = dir.path().join("tok.jwt");
        std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln").unwrap();
        let targets = dir.path().join("targets.yml");
        std::fs::write(
            &targets,
            format!(
                "defaults:\n  duration: 1800\n  region: eu-west-1\n  policy: '{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Deny\", \"Action\": \"iam:*\", \"Resource\": \"*\"}}]}}'\n  policy_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]\ntargets:\n  prod:\n    role_arn: arn:aws:iam::111111111111:role/deploy\n    chain_role_arn: arn:aws:iam::222222222222:role/app\n    external_id: ext-1\n    chain_session_name: prod-app\n    outputs: [profile=prod]\n  stage:\n    role_arn: arn:aws:iam::333333333333:role/deploy\n    policy: '@{}'\n    duration: 7200\n    sts_endpoint: http://127.0.0.1:4566\n    outputs: [profile=stage]\n",
                policy_file.display()
            ),
        )
        .unwrap();
        let pf = format!("@{}", policy_file.display());
        let tf = token_file.display().to_string();
        let tg = targets.display().to_string();
        let role = "arn:aws:iam::123456789012:role/r";
        type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            (vec!["--role-arn", role], vec![]),
            (
                vec!["--role-arn", "arn:aws-cn:iam::123456789012:role/r"],
                vec![],
            ),
            (
                vec![
                    "--role-arn",
                    role,
                    "--duration",
                    "900",
                    "--session-name",
                    "me",
                ],
                vec![("AWS_REGION", "eu-central-1")],
            ),
            (
                vec![
                    "--role-arn",
                    role,
                    "--policy",
                    " { \"Version\" : \"2012-10-17\" , \"Statement\": [] } ",
                ],
                vec![],
            ),
            (vec!["--role-arn", role, "--policy", &pf], vec![]),
            (
                vec![
                    "--role-arn",
                    role,
                    "--policy-arn",
                    "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "--policy-arn",
                    "arn:aws:iam::123456789012:policy/it's",
                ],
                vec![],
            ),
            (
                vec![
                    "--role-arn",
                    role,
                    "--chain-role-arn",
                    "arn:aws:iam::210987654321:role/t",
                    "--external-id",
                    "ext-1",
                    "--chain-session-name",
                    "chained",
                    "--duration",
                    "7200",
                    "--allowed-account-ids",
                    "210987654321",
                ],
                vec![],
            ),
            (vec!["--role-arn", role, "--token-file", &tf], vec![]),
            // Values that start with `-` must stay values.
            (
                vec![
                    "--role-arn",
                    role,
                    "--session-name=-me",
                    "--chain-role-arn",
                    "arn:aws:iam::210987654321:role/t",
                    "--external-id=-ext",
                    "--chain-session-name=-chained",
                ],
                vec![],
            ),
            (
                vec!["--role-arn", role, "--token-env", "MY_TOKEN"],
                vec![("MY_TOKEN", "x")],
            ),
            (
                vec!["--role-arn", role, "--token-command", "printf '%s' \"$T\""],
                vec![],
            ),
            (
                vec![
                    "--role-arn",
                    role,
                    "--sts-endpoint",
                    "http://127.0.0.1:9/",
                    "--audience",
                    "my-aud",
                ],
                vec![],
            ),
            (
                vec!["--role-arn", role],
                vec![("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:8")],
            ),
            (
                vec!["--role-arn", role, "--max-attempts", "2", "--timeout", "7"],
                vec![],
            ),
            (vec!["--config", &tg], vec![]),
        ];
        for (argv, extra) in cases {
            let env = env(&extra);
            for s in resolve_assume(&argv, &env) {
                let (line, again) = round_trip(&s, &env);
                assert_eq!(
                    again.cache_description(),
                    s.cache_description(),
                    "{argv:?}\n{line}"
                );
                assert_eq!(again.to_args().unwrap(), s.to_args().unwrap(), "{line}");
                assert_eq!(again.duration, s.duration, "{line}");
                assert_eq!(again.policy, s.policy, "{line}");
                assert_eq!(again.allowed_accounts, s.allowed_accounts, "{line}");
                assert_eq!(again.audience, s.audience, "{line}");
                assert_eq!(again.endpoint.url, s.endpoint.url, "{line}");
                assert_eq!(
                    again.chain.as_ref().map(|c| (
                        &c.role.arn,
                        &c.external_id,
                        &c.session_name,
                        c.duration
                    )),
                    s.chain.as_ref().map(|c| (
                        &c.role.arn,
                        &c.external_id,
                        &c.session_name,
                        c.duration
                    )),
                    "{line}"
                );
                assert_eq!(
                    (again.max_attempts, again.timeout),
                    (s.max_attempts, s.timeout)
                );
            }
        }
    }

    #[test]
    fn targets_keep_their_limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("targets.yml");
        std::fs::write(
            &p,
            "defaults:\n  duration: 1800\n  policy: '{\"Version\": \"2012-10-17\", \"Statement\": []}'\ntargets:\n  prod:\n    role_arn: arn:aws:iam::111111111111:role/deploy\n    outputs: [profile=prod]\n",
        )
        .unwrap();
        let s = resolve_assume(&["--config", &p.display().to_string()], &env(&[]));
        let line = credential_process_command(&s[0]).unwrap();
        assert!(line.contains(" --duration=1800 "), "{line}");
        assert!(
            line.contains(r#" '--policy={"Version":"2012-10-17","Statement":[]}'"#),
            "{line}"
        );
    }

    #[test]
    fn what_the_sdk_environment_could_change_is_written() {
        // A refresh runs in the SDK's environment, where AWS_OIDC_DURATION, AWS_OIDC_AUDIENCE
        // or AWS_ENDPOINT_URL_STS may say otherwise: the first run's values are written even
        // when they are the defaults.
        let s = resolve_assume(
            &["--role-arn", "arn:aws:iam::123456789012:role/r"],
            &env(&[]),
        );
        let args = s[0].to_args().unwrap();
        for want in [
            "--region=us-east-1",
            "--sts-endpoint=https://sts.us-east-1.amazonaws.com",
            "--duration=3600",
            "--audience=sts.amazonaws.com",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} not in {args:?}");
        }
    }

    #[test]
    fn paths_in_the_written_command_are_absolute() {
        // Relative to this crate's directory (cargo runs unit tests there).
        std::fs::create_dir_all("target/tmp-refresh-paths").unwrap();
        std::fs::write("target/tmp-refresh-paths/p.json", "{}").unwrap();
        let s = resolve_assume(
            &[
                "--role-arn",
                "arn:aws:iam::123456789012:role/r",
                "--token-file",
                "target/tmp-refresh-paths/tok.jwt",
                "--policy",
                "@target/tmp-refresh-paths/p.json",
            ],
            &env(&[]),
        );
        let args = s[0].to_args().unwrap();
        let cwd = std::env::current_dir().unwrap();
        let at = |flag: &str| {
            let prefix = format!("{flag}=");
            args.iter()
                .find_map(|a| a.strip_prefix(&prefix))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            at("--token-file"),
            cwd.join("target/tmp-refresh-paths/tok.jwt")
                .display()
                .to_string()
        );
        assert_eq!(
            at("--policy"),
            format!("@{}", cwd.join("target/tmp-refresh-paths/p.json").display())
        );
    }
}
