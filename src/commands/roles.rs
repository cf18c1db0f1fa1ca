//! `aws-oidc roles --provider NAME`: the roles a SAML provider's assertion allows (one per line,
//! or `--json`), from a fresh token exchange. The assertion itself is never printed.

use std::path::PathBuf;

use clap::Args;

use crate::args::{LogArgs, NetworkArgs};
use crate::env::Env;
use crate::failure::{Failure, Kind};

#[derive(Clone, Debug, Args)]
pub struct RolesArgs {
    /// The provider (with `federation: saml2`) whose assertion to read.
    #[arg(long, env = "AWS_OIDC_PROVIDER", value_name = "NAME")]
    pub provider: String,

    /// The configuration file [default: $XDG_CONFIG_HOME/aws-oidc/config.yaml, ~/.config/aws-oidc/config.yaml].
    #[arg(long, env = "AWS_OIDC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print one JSON document instead of one role per line.
    #[arg(long, env = "AWS_OIDC_JSON")]
    pub json: bool,

    #[command(flatten)]
    pub network: NetworkArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

pub async fn run(args: RolesArgs, env: &Env) -> Result<u8, Failure> {
    let login = crate::commands::login::find(&args.provider, &args.config, env)?;
    if login.provider.federation != crate::config::Federation::Saml2 {
        return Err(Failure::usage(format!(
            "provider {} is not a SAML provider (federation: saml2); its logins assume roles with --role-arn",
            login.name
        )));
    }
    let (_assertion, parsed) =
        crate::obtain::saml_assertion(&login, &args.network.budget()).await?;
    for bad in &parsed.bad_roles {
        tracing::warn!("ignoring a Role attribute value that is not a role,provider pair: {bad}");
    }
    let text = if args.json {
        let roles: Vec<serde_json::Value> = parsed
            .roles
            .iter()
            .map(|r| serde_json::json!({"role_arn": r.role.arn, "principal_arn": r.principal_arn}))
            .collect();
        let doc = serde_json::json!({
            "provider": login.name,
            "roles": roles,
            "session_name": parsed.session_name,
            "session_duration": parsed.session_duration,
            "not_on_or_after": parsed.not_on_or_after,
        });
        format!("{doc}\n")
    } else {
        parsed
            .roles
            .iter()
            .map(|r| format!("{}\n", r.role.arn))
            .collect()
    };
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, text.as_bytes())
        .map_err(|e| Failure::new(Kind::Output, format!("cannot write to stdout: {e}")))?;
    Ok(0)
}
