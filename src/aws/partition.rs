//! AWS partitions, role ARNs, regions and the STS endpoint they imply.
//!
//! The role's ARN names its partition; the partition decides the default
//! region, the STS host, the default token audience and which regions are
//! valid at all. Everything here is pure and offline.

use std::fmt;

/// An AWS partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
    AwsIso,
    AwsIsoB,
    AwsIsoE,
    AwsIsoF,
    AwsEusc,
}

impl Partition {
    pub const ALL: [Partition; 8] = [
        Partition::Aws,
        Partition::AwsCn,
        Partition::AwsUsGov,
        Partition::AwsIso,
        Partition::AwsIsoB,
        Partition::AwsIsoE,
        Partition::AwsIsoF,
        Partition::AwsEusc,
    ];

    /// The partition segment of an ARN, e.g. `aws-cn`.
    pub fn name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsIso => "aws-iso",
            Partition::AwsIsoB => "aws-iso-b",
            Partition::AwsIsoE => "aws-iso-e",
            Partition::AwsIsoF => "aws-iso-f",
            Partition::AwsEusc => "aws-eusc",
        }
    }

    pub fn from_name(name: &str) -> Option<Partition> {
        Partition::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The DNS suffix of the partition's regional endpoints.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::AwsIso => "c2s.ic.gov",
            Partition::AwsIsoB => "sc2s.sgov.gov",
            Partition::AwsIsoE => "cloud.adc-e.uk",
            Partition::AwsIsoF => "csp.hci.ic.gov",
            Partition::AwsEusc => "amazonaws.eu",
        }
    }

    /// The region used when none is configured.
    pub fn default_region(self) -> &'static str {
        match self {
            Partition::Aws => "us-east-1",
            Partition::AwsCn => "cn-north-1",
            Partition::AwsUsGov => "us-gov-west-1",
            Partition::AwsIso => "us-iso-east-1",
            Partition::AwsIsoB => "us-isob-east-1",
            Partition::AwsIsoE => "eu-isoe-west-1",
            Partition::AwsIsoF => "us-isof-south-1",
            Partition::AwsEusc => "eusc-de-east-1",
        }
    }

    /// The audience AWS documents for tokens exchanged with STS in this partition.
    pub fn default_audience(self) -> &'static str {
        match self {
            Partition::AwsCn => "sts.amazonaws.com.cn",
            _ => "sts.amazonaws.com",
        }
    }

    /// The partition a region name belongs to (by its prefix).
    pub fn of_region(region: &str) -> Partition {
        // Longest prefixes first: `us-isob-` before `us-iso-`, `us-gov-` before `us-`.
        const PREFIXES: [(&str, Partition); 7] = [
            ("us-isob-", Partition::AwsIsoB),
            ("us-isof-", Partition::AwsIsoF),
            ("us-iso-", Partition::AwsIso),
            ("eu-isoe-", Partition::AwsIsoE),
            ("us-gov-", Partition::AwsUsGov),
            ("cn-", Partition::AwsCn),
            ("eusc-", Partition::AwsEusc),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| region.starts_with(prefix))
            .map_or(Partition::Aws, |(_, p)| *p)
    }

    /// The regional STS endpoint, e.g. `https://sts.eu-west-1.amazonaws.com`.
    pub fn sts_endpoint(self, region: &str) -> String {
        format!("https://sts.{region}.{}", self.dns_suffix())
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(shape());
        };
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

/// Whether `region` looks like an AWS region name (`xx-name-N`, lower case).
pub fn is_valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
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
    fn region_partitions() {
        assert_eq!(Partition::of_region("eu-west-1"), Partition::Aws);
        assert_eq!(Partition::of_region("cn-northwest-1"), Partition::AwsCn);
        assert_eq!(Partition::of_region("us-gov-east-1"), Partition::AwsUsGov);
        assert_eq!(Partition::of_region("us-iso-east-1"), Partition::AwsIso);
        assert_eq!(Partition::of_region("us-isob-east-1"), Partition::AwsIsoB);
        assert_eq!(Partition::of_region("eu-isoe-west-1"), Partition::AwsIsoE);
        assert_eq!(Partition::of_region("us-isof-south-1"), Partition::AwsIsoF);
        assert_eq!(Partition::of_region("eusc-de-east-1"), Partition::AwsEusc);
        for p in Partition::ALL {
            assert_eq!(Partition::of_region(p.default_region()), p);
        }
    }

    #[test]
    fn sts_endpoints() {
        assert_eq!(
            Partition::Aws.sts_endpoint("eu-west-1"),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            Partition::AwsCn.sts_endpoint("cn-north-1"),
            "https://sts.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            Partition::AwsUsGov.sts_endpoint("us-gov-west-1"),
            "https://sts.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            Partition::AwsIsoB.sts_endpoint("us-isob-east-1"),
            "https://sts.us-isob-east-1.sc2s.sgov.gov"
        );
        assert_eq!(
            Partition::AwsEusc.sts_endpoint("eusc-de-east-1"),
            "https://sts.eusc-de-east-1.amazonaws.eu"
        );
    }

    #[test]
    fn audiences() {
        assert_eq!(Partition::Aws.default_audience(), "sts.amazonaws.com");
        assert_eq!(Partition::AwsCn.default_audience(), "sts.amazonaws.com.cn");
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
            "eusc-de-east-1",
        ] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "us-east-1\nX=1",
            "us--1",
        ] {
            assert!(!is_valid_region(bad), "{bad}");
        }
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
