//! Diagnosis, all offline (no AWS call): `token` shows the job's ID token and the IAM
//! condition keys it yields, `trust-policy` generates a trust policy, `explain` evaluates one
//! against the token and says what to change; `assume --trust-policy FILE` appends that
//! explanation to an `AccessDenied`. Tokens come from the same sources as `assume`.

pub use super::diagnose_args::Diagnose;

use super::diagnose_args::{
    ExplainArgs, OutputFormat, TokenArgs, TokenCommandArgs, TrustPolicyArgs,
};
use crate::policy::document::Verdict;
use crate::policy::explain::{self, Scope};
use crate::policy::keys::Context;
use crate::policy::{document as policy, generate, report};

use crate::aws::arn::RoleArn;
use crate::aws::credentials::now_secs;
use crate::aws::partition::Partition;
use crate::ci::Ci;
use crate::failure::{Failure, Kind};
use crate::token::{self, Explicit, IdToken};

/// Runs a diagnosis command.
pub async fn run(command: Diagnose, env: &crate::env::Env) -> Result<u8, Failure> {
    match command {
        Diagnose::Token(a) => token_command(a, env).await,
        Diagnose::TrustPolicy(a) => trust_policy_command(*a, env).await,
        Diagnose::Explain(a) => explain_command(a, env).await,
    }
}

use crate::failure::token as token_failure;

/// Gets the token from the source `assume` would use; an expired token is still returned.
async fn fetch(
    args: &TokenArgs,
    network: &crate::args::NetworkArgs,
    audience: &str,
    env: &crate::env::Env,
) -> Result<(IdToken, String), Failure> {
    let budget = network.budget();
    if let Some(login) = crate::settings::login(args, env)? {
        let token = crate::obtain::login_token(&login, &budget).await?;
        return Ok((token, format!("the login to {}", login.name)));
    }
    let explicit = Explicit {
        env: args.token_env.clone(),
        file: args.token_file.clone(),
        command: args.token_command.clone(),
        provider: None,
    };
    let source = token::detect(&explicit, env).map_err(|e| token_failure(e, audience))?;
    let token = source
        .fetch(audience, env, &budget)
        .await
        .map_err(|e| token_failure(e, audience))?;
    Ok((token, source.describe()))
}

fn partition(name: &str) -> Result<Partition, Failure> {
    Partition::from_name(name.trim()).ok_or_else(|| {
        Failure::usage(format!(
            "unknown partition `{name}` (known: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc)"
        ))
    })
}

fn account(id: &str) -> Result<String, Failure> {
    let id = id.trim();
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::usage(format!(
            "the account id `{id}` must be 12 digits"
        )));
    }
    Ok(id.to_string())
}

async fn token_command(a: TokenCommandArgs, env: &crate::env::Env) -> Result<u8, Failure> {
    let partition = partition(&a.partition)?;
    let account = a.account.as_deref().map(account).transpose()?;
    let audience = a.token.audience_for(partition);
    let (token, source) = fetch(&a.token, &a.network, &audience, env).await?;
    if a.raw {
        eprintln!(
            "aws-oidc: warning: printing the raw ID token: anyone who sees it can assume the roles that trust this job until it expires; never put it in a log"
        );
        stdout(&format!("{}\n", token.raw().expose()))?;
        return Ok(0);
    }
    let report = report::Report {
        token: &token,
        source,
        ci: Ci::detect(env),
        now: now_secs(),
        partition: partition.name().to_string(),
        account,
    };
    if a.json {
        stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report.json()).unwrap_or_default()
        ))?;
    } else {
        stdout(&report.text())?;
    }
    Ok(0)
}

async fn trust_policy_command(a: TrustPolicyArgs, env: &crate::env::Env) -> Result<u8, Failure> {
    let partition = partition(&a.partition)?;
    let account = account(&a.account)?;
    let trust = if a.from_token {
        let audience = a.token.audience_for(partition);
        let (token, source) = fetch(&a.token, &a.network, &audience, env).await?;
        let trust = generate::from_claims(&token.claims)
            .map_err(|e| Failure::new(Kind::Token, format!("{e} (from {source})")))?;
        // The point of --from-token: the policy must admit the token it came from.
        let policy = policy::parse(&trust.policy_json(partition, &account))
            .map_err(|e| Failure::new(Kind::Internal, e.to_string()))?;
        let scope = Scope {
            partition: Some(partition),
            account: Some(account.clone()),
        };
        let ctx = Context::from_claims(&token.claims);
        let x = explain::explain(&policy, &token.claims, &ctx, &scope);
        if x.verdict != Verdict::Allowed {
            return Err(Failure::new(
                Kind::Internal,
                "the generated policy does not admit the token it was made from",
            )
            .hints(explain::failing_lines(&x)));
        }
        trust
    } else {
        generate::for_ci(&a.request(), partition).map_err(Failure::usage)?
    };
    let out = match a.format {
        OutputFormat::Policy => trust.policy_json(partition, &account) + "\n",
        OutputFormat::Cli => trust.cli_command() + "\n",
        OutputFormat::Terraform => trust.terraform(partition, &account),
        OutputFormat::Cloudformation => trust.cloudformation(partition, &account),
    };
    stdout(&out)?;
    if !a.log.quiet {
        for w in &trust.warnings {
            eprintln!("aws-oidc: warning: {w}");
        }
        for n in &trust.notes {
            eprintln!("aws-oidc: note: {n}");
        }
        if a.format != OutputFormat::Cli {
            eprintln!(
                "aws-oidc: the OIDC provider {} must exist in account {account}; if it does not:\n  {}",
                trust.provider_arn(partition, &account),
                trust.cli_command()
            );
        }
    }
    Ok(0)
}

/// Reads the trust policy from a file or stdin (`-`).
fn read_policy(path: &str) -> Result<policy::Policy, Failure> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Failure::usage(format!("cannot read the trust policy from stdin: {e}")))?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read the trust policy {path}: {e}")))?
    };
    let shown = if path == "-" { "(stdin)" } else { path };
    policy::parse(&text).map_err(|e| {
        Failure::usage(format!("{shown}: {e}"))
            .hint("give a policy document ({\"Version\": …, \"Statement\": […]}) or the output of `aws iam get-role`")
    })
}

async fn explain_command(a: ExplainArgs, env: &crate::env::Env) -> Result<u8, Failure> {
    let policy = read_policy(&a.trust_policy)?;
    let role = a
        .role_arn
        .clone()
        .or_else(|| env.get("AWS_ROLE_ARN").map(str::to_string))
        .map(|r| RoleArn::parse(&r).map_err(|e| Failure::usage(format!("--role-arn: {e}"))))
        .transpose()?;
    let account = a.account.as_deref().map(account).transpose()?;
    let partition = a.partition.as_deref().map(partition).transpose()?;
    if let (Some(r), Some(acct)) = (&role, &account)
        && &r.account_id != acct
    {
        return Err(Failure::usage(format!(
            "--account {acct} differs from the account of --role-arn {}",
            r.arn
        )));
    }
    if let (Some(r), Some(p)) = (&role, partition)
        && r.partition != p
    {
        return Err(Failure::usage(format!(
            "--partition {p} differs from the partition of --role-arn {}",
            r.arn
        )));
    }
    let scope = Scope {
        partition: role.as_ref().map(|r| r.partition).or(partition),
        account: role.as_ref().map(|r| r.account_id.clone()).or(account),
    };
    let audience = a
        .token
        .audience_for(scope.partition.unwrap_or(Partition::Aws));
    let (token, _) = fetch(&a.token, &a.network, &audience, env).await?;
    let ctx = Context::from_claims(&token.claims);
    let x = explain::explain(&policy, &token.claims, &ctx, &scope);
    let source = if a.trust_policy == "-" {
        "(stdin)"
    } else {
        &a.trust_policy
    };
    if a.json {
        stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&explain::to_json(&x, source)).unwrap_or_default()
        ))?;
    } else {
        stdout(&explain::render_text(&x, source))?;
    }
    Ok(if x.verdict == Verdict::Allowed { 0 } else { 1 })
}

/// Writes to stdout; a closed pipe is an output error (exit 6), not a panic.
fn stdout(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| {
            Failure::new(
                crate::failure::Kind::Output,
                format!("cannot write to stdout: {e}"),
            )
        })
}
