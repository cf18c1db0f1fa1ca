//! An offline IAM trust-policy evaluator for web-identity tokens: the policy document, the
//! condition keys a token yields, the explanation of a verdict, generated policies, and the
//! report of a token. Imports nothing from the command layer.

#[cfg(test)]
mod cases;
pub mod document;
pub mod explain;
pub mod generate;
pub mod keys;
pub mod report;

use std::path::Path;

use crate::aws::arn::RoleArn;
use crate::token::jwt::Claims;
use explain::Scope;
use keys::Context;

/// Hint lines for an `AccessDenied` from STS: the local trust policy `path` explained for
/// the token that was refused.
pub fn access_denied_hints(
    path: &Path,
    claims: &Claims,
    role: &RoleArn,
    session_name: Option<&str>,
) -> Vec<String> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![format!("cannot read --trust-policy {shown}: {e}")],
    };
    let policy = match document::parse(&text) {
        Ok(p) => p,
        Err(e) => return vec![format!("--trust-policy {shown}: {e}")],
    };
    let mut ctx = Context::from_claims(claims);
    if let Some(name) = session_name {
        ctx = ctx.with("sts:RoleSessionName", vec![name.to_string()]);
    }
    let scope = Scope {
        partition: Some(role.partition),
        account: Some(role.account_id.clone()),
    };
    let x = explain::explain(&policy, claims, &ctx, &scope);
    explain::hint_lines(&x, &shown, &role.name)
}
