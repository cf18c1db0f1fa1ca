//! ARNs: a validated role ARN, the account inside an ARN, and the one place that turns an
//! OIDC issuer into the provider ARN and condition-key prefix IAM uses.

use std::fmt;

use super::partition::Partition;

/// A validated IAM role ARN: `arn:<partition>:iam::<12-digit account>:role/[path/]<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleArn {
    pub arn: String,
    pub partition: Partition,
    pub account_id: String,
    pub name: String,
}

/// Why a role ARN was refused. Each message says what the valid form is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArnError {
    #[error(
        "`{0}` is not an IAM role ARN (expected arn:<partition>:iam::<account-id>:role/<name>)"
    )]
    Shape(String),
    #[error(
        "unknown partition `{partition}` in `{arn}` (known: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc)"
    )]
    Partition { arn: String, partition: String },
    #[error("the account id `{account}` in `{arn}` must be 12 digits")]
    Account { arn: String, account: String },
    #[error(
        "the role name in `{0}` is empty or has characters IAM does not allow ([A-Za-z0-9+=,.@_-], path segments separated by /)"
    )]
    Name(String),
}

impl RoleArn {
    pub fn parse(input: &str) -> Result<RoleArn, ArnError> {
        let arn = input.trim();
        let shape = || ArnError::Shape(arn.to_string());
        if arn.len() < 20 || arn.len() > 2048 {
            return Err(shape());
        }
        let (partition, account, resource) = iam_parts(arn).ok_or_else(shape)?;
        let partition = Partition::from_name(partition).ok_or_else(|| ArnError::Partition {
            arn: arn.to_string(),
            partition: partition.to_string(),
        })?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ArnError::Account {
                arn: arn.to_string(),
                account: account.to_string(),
            });
        }
        let path_and_name = resource.strip_prefix("role/").ok_or_else(shape)?;
        let name = path_and_name.rsplit('/').next().unwrap_or_default();
        let valid_segment = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        };
        if name.len() > 64 || !path_and_name.split('/').all(valid_segment) {
            return Err(ArnError::Name(arn.to_string()));
        }
        Ok(RoleArn {
            arn: arn.to_string(),
            partition,
            account_id: account.to_string(),
            name: name.to_string(),
        })
    }
}

/// `arn:<partition>:iam::<account>:<resource>` split into its three parts.
fn iam_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some((partition, account, resource))
}

/// A parsed `arn:<partition>:iam::<account>:oidc-provider/<path>` (as a trust policy names it;
/// the parts are kept as written, for messages).
pub struct ProviderArn<'a> {
    pub partition: &'a str,
    pub account: &'a str,
    pub path: &'a str,
}

/// The parts of an OIDC provider ARN, or `None` when `arn` is not one.
pub fn parse_provider_arn(arn: &str) -> Option<ProviderArn<'_>> {
    let (partition, account, resource) = iam_parts(arn)?;
    Some(ProviderArn {
        partition,
        account,
        path: resource.strip_prefix("oidc-provider/")?,
    })
}

/// The role name inside an assumed-role ARN of `role`'s partition and account
/// (`arn:<partition>:sts::<account>:assumed-role/<role name>/<session>`), if it is one.
pub fn assumed_role_name<'a>(assumed: &'a str, role: &RoleArn) -> Option<&'a str> {
    let prefix = format!(
        "arn:{}:sts::{}:assumed-role/",
        role.partition.name(),
        role.account_id
    );
    assumed
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once('/'))
        .map(|(name, _session)| name)
}

/// The issuer as IAM names its OIDC provider and the provider's condition keys (`<provider>:sub`):
/// `iss` without its `https://` scheme and otherwise exactly as spelled. A trailing slash stays
/// (Auth0 issues `https://<tenant>.auth0.com/`): IAM matches the provider URL against `iss`
/// exactly. The one place that turns an issuer into a provider.
pub fn provider_of_issuer(iss: &str) -> String {
    iss.strip_prefix("https://").unwrap_or(iss).to_string()
}

/// `arn:<partition>:iam::<account>:oidc-provider/<provider>` (see [`provider_of_issuer`]).
pub fn provider_arn(partition: impl fmt::Display, account: &str, provider: &str) -> String {
    format!("arn:{partition}:iam::{account}:oidc-provider/{provider}")
}

/// The account id inside an assumed-role ARN (`arn:aws:sts::123456789012:assumed-role/…`).
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_keeps_the_issuer_as_spelled() {
        assert_eq!(
            provider_of_issuer("https://token.actions.githubusercontent.com"),
            "token.actions.githubusercontent.com"
        );
        assert_eq!(
            provider_of_issuer("https://dev-abc.us.auth0.com/"),
            "dev-abc.us.auth0.com/"
        );
        assert_eq!(
            provider_of_issuer("https://git.example.com/gitlab"),
            "git.example.com/gitlab"
        );
        assert_eq!(
            provider_arn(Partition::AwsCn, "123456789012", "dev-abc.us.auth0.com/"),
            "arn:aws-cn:iam::123456789012:oidc-provider/dev-abc.us.auth0.com/"
        );
    }

    #[test]
    fn parses_role_arns_in_every_partition() {
        for p in Partition::ALL {
            let arn = format!("arn:{}:iam::123456789012:role/deploy", p.name());
            let r = RoleArn::parse(&arn).unwrap();
            assert_eq!(r.partition, p);
            assert_eq!(r.account_id, "123456789012");
            assert_eq!(r.name, "deploy");
        }
    }

    #[test]
    fn parses_role_with_path() {
        let r = RoleArn::parse("arn:aws:iam::123456789012:role/ci/gitlab/deploy-prod").unwrap();
        assert_eq!(r.name, "deploy-prod");
    }

    #[test]
    fn rejects_bad_arns() {
        for bad in [
            "deploy",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "arn:aws:iam::123456789012:role//x",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            RoleArn::parse("arn:aws-moon:iam::123456789012:role/x"),
            Err(ArnError::Partition { .. })
        ));
        assert!(matches!(
            RoleArn::parse("arn:aws:iam::12345678901:role/deploy"),
            Err(ArnError::Account { .. })
        ));
    }

    #[test]
    fn account_from_assumed_role_arn() {
        assert_eq!(
            account_of_arn("arn:aws:sts::123456789012:assumed-role/r/s"),
            Some("123456789012")
        );
        assert_eq!(account_of_arn("nonsense"), None);
    }
}
