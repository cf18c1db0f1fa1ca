//! The federated console sign-in URL: credentials → `getSigninToken` at the
//! partition's federation endpoint → an `Action=login` URL.
//!
//! The URL is a bearer credential for as long as its sign-in token lives
//! (15 minutes): it is only ever handed to `output`, never logged.

use std::time::Duration;

use serde::Serialize;

use crate::aws::credentials::{Assumed, Credentials};
use crate::aws::partition::Partition;
use crate::net::retry::{self, Attempt, Budget, GaveUp, Verdict};
use crate::net::url::encode;
use crate::secret::Secret;

/// How to build the URL.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `SessionDuration` for first-hop credentials (900–43200).
    pub duration: Option<i32>,
    /// A service name (`s3`) or a console URL of the partition.
    pub destination: Option<String>,
    /// Where "sign out" returns to: default the CI job's page.
    pub issuer: Option<String>,
    /// Overrides the federation endpoint (tests, private setups).
    pub endpoint: Option<String>,
    /// Use `<region>.signin.aws.amazon.com` (aws partition).
    pub regional: bool,
}

/// Why there is no URL. Messages never hold the credentials or the sign-in token.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("partition {0} has no public federation endpoint for console sign-in")]
    NoFederation(Partition),
    #[error("{0}")]
    Destination(String),
    #[error("the federation endpoint answered HTTP {status}{detail}")]
    Status { status: u16, detail: String },
    #[error("the federation endpoint's answer is not JSON with a `SigninToken`")]
    Body,
    #[error(
        "the federation endpoint's answer is larger than {}; stopped reading",
        crate::net::http::MAX_ANSWER_TEXT
    )]
    TooLarge,
    #[error("the federation endpoint could not be reached after {attempts} attempt(s): {last}")]
    Unreachable { attempts: u32, last: String },
    #[error("{0}")]
    Setup(String),
}

impl ConsoleError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConsoleError::Unreachable { .. }
                | ConsoleError::Status {
                    status: 429 | 500..=599,
                    ..
                }
        )
    }

    pub fn hints(&self, chained: bool) -> Vec<String> {
        match self {
            ConsoleError::NoFederation(_) => vec!["use --federation-endpoint to name one if your partition has it".into()],
            ConsoleError::Status { status: 400, .. } if chained => vec![
                "role-chained credentials cannot ask for a SessionDuration; aws-oidc omits it, so the credentials themselves were refused".into(),
            ],
            ConsoleError::Status { status: 400 | 401 | 403, .. } => vec![
                "the federation endpoint refused the credentials: check --console-duration (900-43200) and that the role may sign in to the console".into(),
            ],
            ConsoleError::Status { status: 300..=399, .. } => vec![
                "the federation endpoint never redirects: check --federation-endpoint, and whether a proxy answers in its place (the request holds the credentials, so it is not sent on)".into(),
            ],
            ConsoleError::Body | ConsoleError::TooLarge => vec!["is a proxy answering instead of the federation endpoint?".into()],
            _ => Vec::new(),
        }
    }
}

/// `https://<signin host>/federation` for the partition.
pub fn federation_endpoint(
    partition: Partition,
    region: &str,
    opts: &Options,
) -> Result<String, ConsoleError> {
    if let Some(url) = &opts.endpoint {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let host = match partition {
        Partition::Aws if opts.regional => format!("{region}.signin.aws.amazon.com"),
        Partition::Aws => "signin.aws.amazon.com".into(),
        Partition::AwsCn => "signin.amazonaws.cn".into(),
        Partition::AwsUsGov => "signin.amazonaws-us-gov.com".into(),
        other => return Err(ConsoleError::NoFederation(other)),
    };
    Ok(format!("https://{host}/federation"))
}

/// The console's domain in a partition.
fn console_domain(partition: Partition) -> Result<&'static str, ConsoleError> {
    match partition {
        Partition::Aws => Ok("console.aws.amazon.com"),
        Partition::AwsCn => Ok("console.amazonaws.cn"),
        Partition::AwsUsGov => Ok("console.amazonaws-us-gov.com"),
        other => Err(ConsoleError::NoFederation(other)),
    }
}

/// Where the browser lands: the console home of the region by default, a service
/// by name (`s3`, `cloudformation`), or a console URL of the same partition.
pub fn destination(
    partition: Partition,
    region: &str,
    dest: Option<&str>,
) -> Result<String, ConsoleError> {
    let domain = console_domain(partition)?;
    let base = if partition == Partition::Aws {
        format!("https://{region}.{domain}")
    } else {
        format!("https://{domain}")
    };
    let Some(dest) = dest.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(format!("{base}/console/home?region={region}"));
    };
    if let Some(rest) = dest.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host == domain || host.ends_with(&format!(".{domain}")) {
            return Ok(dest.to_string());
        }
        return Err(ConsoleError::Destination(format!(
            "--destination {dest} is not a console URL of partition {partition} (https://…{domain}/…)"
        )));
    }
    if dest
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Ok(format!("{base}/{dest}/home?region={region}"));
    }
    Err(ConsoleError::Destination(format!(
        "--destination `{dest}` is neither a service name (e.g. s3, ec2, cloudformation) nor an https console URL"
    )))
}

/// The `Session` parameter: exactly these three keys.
fn session_json(c: &Credentials) -> Secret {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Session<'a> {
        session_id: &'a str,
        session_key: &'a str,
        session_token: &'a str,
    }
    Secret::new(
        serde_json::to_string(&Session {
            session_id: &c.access_key_id,
            session_key: c.secret_access_key.expose(),
            session_token: c.session_token.expose(),
        })
        .unwrap_or_default(),
    )
}

/// The `getSigninToken` request URL. Holds the credentials: never log it.
pub fn signin_token_request(endpoint: &str, a: &Assumed, opts: &Options) -> Secret {
    let mut url = format!("{endpoint}?Action=getSigninToken");
    if !a.chained {
        // AWS refuses SessionDuration for role-chained credentials.
        url.push_str(&format!(
            "&SessionDuration={}",
            opts.duration.unwrap_or(3600)
        ));
    }
    url.push_str("&Session=");
    url.push_str(&encode(session_json(&a.credentials).expose()));
    Secret::new(url)
}

/// The final sign-in URL. A bearer credential.
pub fn login_url(
    endpoint: &str,
    signin_token: &Secret,
    destination: &str,
    issuer: Option<&str>,
) -> Secret {
    let mut url = format!("{endpoint}?Action=login");
    if let Some(issuer) = issuer {
        url.push_str(&format!("&Issuer={}", encode(issuer)));
    }
    url.push_str(&format!(
        "&Destination={}&SigninToken={}",
        encode(destination),
        encode(signin_token.expose())
    ));
    Secret::new(url)
}

/// How `getSigninToken` is retried: unreachable, 5xx and 429 are tried again.
struct SigninPolicy;

impl retry::Policy for SigninPolicy {
    type Error = ConsoleError;
    type Transient = ConsoleError;
    type Permanent = ConsoleError;

    fn classify(&self, err: ConsoleError) -> Verdict<ConsoleError, ConsoleError> {
        if err.is_transient() {
            Verdict::Retry(err)
        } else {
            Verdict::Stop(err)
        }
    }

    fn starting(&self, attempt: &Attempt) {
        tracing::info!("getSigninToken attempt {}/{}", attempt.number, attempt.of);
    }

    fn failed(&self, attempt: &Attempt, last: &ConsoleError, next: Option<Duration>) {
        if next.is_some() {
            tracing::warn!(
                "getSigninToken attempt {} failed: {last}; retrying",
                attempt.number
            );
        }
    }
}

/// Exchanges the credentials for a sign-in token, retrying transient failures.
async fn signin_token(request: &Secret, budget: &Budget) -> Result<Secret, ConsoleError> {
    let client = crate::net::http::client(request.expose()).map_err(ConsoleError::Setup)?;
    let attempt = |attempt: Attempt| {
        let request = client.get(request.expose()).timeout(attempt.timeout);
        async move {
            match request.send().await {
                Ok(resp) if resp.status().is_success() => {
                    match crate::net::http::read_bounded(resp).await {
                        Err(crate::net::http::BodyError::TooLarge) => Err(ConsoleError::TooLarge),
                        // A body cut off on the way is a network fault: try again.
                        Err(crate::net::http::BodyError::Read(e)) => {
                            Err(ConsoleError::Unreachable {
                                attempts: attempt.number,
                                last: crate::net::http::describe(&e.without_url()),
                            })
                        }
                        Ok(bytes) => {
                            let body: serde_json::Value =
                                serde_json::from_slice(&bytes).map_err(|_| ConsoleError::Body)?;
                            body.get("SigninToken")
                                .and_then(|v| v.as_str())
                                .filter(|t| !t.is_empty())
                                .map(Secret::new)
                                .ok_or(ConsoleError::Body)
                        }
                    }
                }
                Ok(resp) => Err(ConsoleError::Status {
                    status: resp.status().as_u16(),
                    detail: crate::net::http::redirect_note(resp.status().as_u16()).to_string(),
                }),
                // reqwest's error text can hold the URL, which holds the credentials: strip it.
                Err(e) => Err(ConsoleError::Unreachable {
                    attempts: attempt.number,
                    last: crate::net::http::describe(&e.without_url()),
                }),
            }
        }
    };
    retry::run(budget, &SigninPolicy, attempt)
        .await
        .map_err(|gave_up| match gave_up {
            GaveUp::Stopped(err) => err,
            GaveUp::Exhausted { attempts, last, .. } => match last {
                ConsoleError::Status { status, .. } => ConsoleError::Status {
                    status,
                    detail: format!(" after {attempts} attempt(s)"),
                },
                ConsoleError::Unreachable { last, .. } => {
                    ConsoleError::Unreachable { attempts, last }
                }
                other => other,
            },
        })
}

/// The whole exchange: a sign-in URL for these credentials.
pub async fn sign_in_url(
    a: &Assumed,
    partition: Partition,
    opts: &Options,
    budget: &Budget,
) -> Result<Secret, ConsoleError> {
    let endpoint = federation_endpoint(partition, &a.region, opts)?;
    let dest = destination(partition, &a.region, opts.destination.as_deref())?;
    let request = signin_token_request(&endpoint, a, opts);
    let token = signin_token(&request, budget).await?;
    Ok(login_url(&endpoint, &token, &dest, opts.issuer.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assumed(chained: bool) -> Assumed {
        Assumed {
            credentials: Credentials {
                access_key_id: "ASIAKEY".into(),
                secret_access_key: Secret::new("se/cr+et="),
                session_token: Secret::new("tok&en"),
                expiration: 0,
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            chained,
        }
    }

    #[test]
    fn federation_hosts_per_partition() {
        let o = Options::default();
        assert_eq!(
            federation_endpoint(Partition::Aws, "eu-west-1", &o).unwrap(),
            "https://signin.aws.amazon.com/federation"
        );
        let regional = Options {
            regional: true,
            ..Default::default()
        };
        assert_eq!(
            federation_endpoint(Partition::Aws, "eu-west-1", &regional).unwrap(),
            "https://eu-west-1.signin.aws.amazon.com/federation"
        );
        assert_eq!(
            federation_endpoint(Partition::AwsCn, "cn-north-1", &o).unwrap(),
            "https://signin.amazonaws.cn/federation"
        );
        assert_eq!(
            federation_endpoint(Partition::AwsUsGov, "us-gov-west-1", &o).unwrap(),
            "https://signin.amazonaws-us-gov.com/federation"
        );
        for p in [
            Partition::AwsIso,
            Partition::AwsIsoB,
            Partition::AwsIsoE,
            Partition::AwsIsoF,
            Partition::AwsEusc,
        ] {
            assert!(matches!(
                federation_endpoint(p, p.default_region(), &o),
                Err(ConsoleError::NoFederation(_))
            ));
        }
        let custom = Options {
            endpoint: Some("http://127.0.0.1:9/federation/".into()),
            ..Default::default()
        };
        assert_eq!(
            federation_endpoint(Partition::AwsIso, "us-iso-east-1", &custom).unwrap(),
            "http://127.0.0.1:9/federation"
        );
    }

    #[test]
    fn destinations() {
        assert_eq!(
            destination(Partition::Aws, "eu-west-1", None).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
        );
        assert_eq!(
            destination(Partition::Aws, "eu-west-1", Some("s3")).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
        );
        assert_eq!(
            destination(Partition::AwsCn, "cn-north-1", None).unwrap(),
            "https://console.amazonaws.cn/console/home?region=cn-north-1"
        );
        assert_eq!(
            destination(Partition::AwsUsGov, "us-gov-east-1", Some("ec2")).unwrap(),
            "https://console.amazonaws-us-gov.com/ec2/home?region=us-gov-east-1"
        );
        let url =
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:";
        assert_eq!(
            destination(Partition::Aws, "eu-west-1", Some(url)).unwrap(),
            url
        );
        assert!(destination(Partition::AwsCn, "cn-north-1", Some(url)).is_err());
        assert!(
            destination(
                Partition::Aws,
                "eu-west-1",
                Some("https://evil.example.com/console.aws.amazon.com")
            )
            .is_err()
        );
        assert!(destination(Partition::Aws, "eu-west-1", Some("S3 Console")).is_err());
    }

    #[test]
    fn session_parameter_and_duration() {
        let r = signin_token_request(
            "https://f/federation",
            &assumed(false),
            &Options {
                duration: Some(7200),
                ..Default::default()
            },
        );
        assert_eq!(
            r.expose(),
            "https://f/federation?Action=getSigninToken&SessionDuration=7200&Session=%7B%22sessionId%22%3A%22ASIAKEY%22%2C%22sessionKey%22%3A%22se%2Fcr%2Bet%3D%22%2C%22sessionToken%22%3A%22tok%26en%22%7D"
        );
        let r = signin_token_request(
            "https://f/federation",
            &assumed(true),
            &Options {
                duration: Some(7200),
                ..Default::default()
            },
        );
        assert!(!r.expose().contains("SessionDuration"));
        assert_eq!(format!("{r:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn login_url_is_encoded() {
        let u = login_url(
            "https://f/federation",
            &Secret::new("a+b/c="),
            "https://x.console.aws.amazon.com/s3/home?region=r",
            Some("https://gitlab.com/g/p/-/jobs/1"),
        );
        assert_eq!(
            u.expose(),
            "https://f/federation?Action=login&Issuer=https%3A%2F%2Fgitlab.com%2Fg%2Fp%2F-%2Fjobs%2F1&Destination=https%3A%2F%2Fx.console.aws.amazon.com%2Fs3%2Fhome%3Fregion%3Dr&SigninToken=a%2Bb%2Fc%3D"
        );
    }
}
