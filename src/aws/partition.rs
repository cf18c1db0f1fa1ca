//! AWS partitions, regions and the STS endpoint and audience they imply. The role's ARN
//! (`arn.rs`) names its partition; the partition decides the default region, the STS host, the
//! default token audience and which regions are valid at all. Pure and offline.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
