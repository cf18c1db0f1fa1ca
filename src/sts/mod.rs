//! Calling STS: `AssumeRoleWithWebIdentity` and `AssumeRoleWithSAML` (both unsigned) and the
//! optional chained `AssumeRole` (SigV4, [`sigv4`]), each under the shared retry budget, with
//! every failure classified as transient (retried), an expired token (re-mint) or permanent.
//!
//! No AWS SDK: the three calls are form POSTs of the Query protocol ([`wire`]) over the one
//! HTTP client of the process ([`crate::net::http::client`]: its TLS roots, proxies, user
//! agent, no redirects), each answer read up to [`MAX_ANSWER`](crate::net::http::MAX_ANSWER)
//! bytes.

pub mod hints;
#[cfg(test)]
pub mod sdk_http;
pub mod sigv4;
pub mod wire;

use std::future::Future;
use std::time::Duration;

use crate::net::http::{BodyError, MAX_ANSWER_TEXT};

use crate::aws::arn::{RoleArn, account_of_arn};
use crate::aws::credentials::{Assumed, Credentials};
use crate::net::retry::{self, Attempt, Budget, GaveUp, Verdict};
use crate::secret::Secret;
use crate::token::IdToken;

/// Where and how to reach STS.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub region: String,
    pub url: String,
}

/// The first hop.
#[derive(Clone, Debug)]
pub struct WebIdentityRequest {
    pub role: RoleArn,
    pub session_name: String,
    pub duration: i32,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
}

/// The first hop of SAML federation: a role and provider pair of the assertion, and the
/// wrapped `samlp:Response` (standard base64), a bearer credential.
#[derive(Clone, Debug)]
pub struct SamlRequest {
    pub role: RoleArn,
    /// `arn:<partition>:iam::<account>:saml-provider/<name>`
    pub principal_arn: String,
    pub assertion_b64: Secret,
    pub duration: i32,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
}

/// The optional second hop.
#[derive(Clone, Debug)]
pub struct ChainRequest {
    pub role: RoleArn,
    pub session_name: String,
    pub external_id: Option<String>,
    pub duration: i32,
    /// Session policies: on the last hop, since they scope the credentials handed out.
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
}

/// How one failed attempt is treated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// Worth another attempt: throttling, 5xx, network trouble, IdP hiccups.
    Transient(String),
    /// STS says the token expired; a fresh token may work.
    ExpiredToken(String),
    /// The endpoint's TLS certificate is not trusted: retrying will not help.
    Tls(String),
    /// An answer that will not change: fail now.
    Permanent {
        code: String,
        message: String,
        status: u16,
    },
}

/// Why STS did not hand out credentials. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum StsError {
    #[error("{operation} failed: {code}: {message}")]
    Denied {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("{operation} failed: ExpiredToken: {message}")]
    ExpiredToken {
        operation: &'static str,
        message: String,
    },
    #[error("{operation} failed: the STS endpoint's TLS certificate is not trusted: {detail}")]
    Tls {
        operation: &'static str,
        detail: String,
    },
    #[error("{operation} gave up after {attempts} attempt(s) in {secs:.1}s: {last}")]
    Exhausted {
        operation: &'static str,
        attempts: u32,
        secs: f64,
        last: String,
    },
}

/// Codes that mean "try again" whatever the HTTP status.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "IDPCommunicationError",
];

/// Classifies an STS error answer by code, message and HTTP status.
pub fn classify_service(code: Option<&str>, message: &str, status: u16) -> Class {
    // STS may quote the request in its message (`Value '<token>' at 'webIdentityToken'…`).
    let redacted = crate::secret::redact_jwts(message);
    let message = redacted.as_str();
    if (300..400).contains(&status) {
        return Class::Permanent {
            code: format!("HTTP{status}"),
            message: format!(
                "STS answered with a redirect (HTTP {status}); redirects are not followed"
            ),
            status,
        };
    }
    match code {
        Some(code) if TRANSIENT_CODES.contains(&code) => {
            Class::Transient(format!("{code}: {message}"))
        }
        Some("InvalidIdentityToken")
            if message.to_ascii_lowercase().contains("verification key") =>
        {
            Class::Transient(format!("InvalidIdentityToken: {message}"))
        }
        Some("ExpiredToken" | "ExpiredTokenException") => Class::ExpiredToken(message.to_string()),
        Some(code) if status >= 500 => Class::Transient(format!("{code}: {message}")),
        Some(code) => Class::Permanent {
            code: code.to_string(),
            message: message.to_string(),
            status,
        },
        None if status >= 500 || status == 429 => Class::Transient(format!("HTTP {status}")),
        None if (200..300).contains(&status) => Class::Transient(format!(
            "HTTP {status} with a body that is not an STS answer"
        )),
        None => Class::Permanent {
            code: format!("HTTP{status}"),
            message: "an answer without an STS error code".into(),
            status,
        },
    }
}

/// Classifies a request that got no answer (or no whole one); `url` is the STS endpoint.
fn classify_transport(err: &reqwest::Error, url: &str) -> Class {
    let detail = chain(err);
    if err.is_builder() {
        return Class::Permanent {
            code: "RequestError".into(),
            message: detail,
            status: 0,
        };
    }
    if detail.to_ascii_lowercase().contains("certificate") {
        return Class::Tls(detail);
    }
    Class::Transient(format!(
        "cannot reach STS at {url}: {}",
        network_reason(err).unwrap_or(detail)
    ))
}

/// A short reason for a failed connection ("connection refused"), from the I/O error
/// among the causes, when it is one of the usual ones.
fn network_reason(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    use std::io::ErrorKind::*;
    let io = find_cause::<std::io::Error>(err)?;
    matches!(
        io.kind(),
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | TimedOut
            | NetworkUnreachable
            | HostUnreachable
            | NetworkDown
            | AddrNotAvailable
            | BrokenPipe
    )
    .then(|| io.kind().to_string())
}

/// The first error of type `T` among `err` and its causes.
fn find_cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        current = e.source();
    }
    None
}

/// An error and its causes on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// How STS failures are retried: [`Class::Transient`] (and an attempt with no answer in
/// time) is tried again; anything else stops with its [`StsError`].
struct StsPolicy {
    operation: &'static str,
}

impl retry::Policy for StsPolicy {
    type Error = Class;
    type Transient = String;
    type Permanent = StsError;

    fn classify(&self, class: Class) -> Verdict<String, StsError> {
        let operation = self.operation;
        Verdict::Stop(match class {
            Class::Transient(last) => return Verdict::Retry(last),
            Class::Tls(detail) => StsError::Tls { operation, detail },
            Class::ExpiredToken(message) => StsError::ExpiredToken { operation, message },
            Class::Permanent { code, message, .. } => StsError::Denied {
                operation,
                code,
                message,
            },
        })
    }

    fn timed_out(&self, attempt: &Attempt) -> Option<Class> {
        Some(Class::Transient(format!(
            "no answer within {:.1} s",
            attempt.timeout.as_secs_f64()
        )))
    }

    fn starting(&self, attempt: &Attempt) {
        tracing::info!(
            "{} attempt {}/{}",
            self.operation,
            attempt.number,
            attempt.of
        );
    }

    fn failed(&self, attempt: &Attempt, last: &String, next: Option<Duration>) {
        if let Some(delay) = next {
            tracing::warn!(
                "{} attempt {}/{} failed: {last}; retrying in {} ms",
                self.operation,
                attempt.number,
                attempt.of,
                delay.as_millis()
            );
        }
    }
}

/// Runs `call` under `budget` in [the retry loop](retry::run), retrying transient failures
/// with backoff.
async fn with_retries<T, F, Fut>(
    operation: &'static str,
    budget: &Budget,
    mut call: F,
) -> Result<T, StsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Class>>,
{
    retry::run(budget, &StsPolicy { operation }, |_| call())
        .await
        .map_err(|gave_up| match gave_up {
            GaveUp::Stopped(err) => err,
            GaveUp::Exhausted {
                attempts,
                elapsed,
                last,
            } => StsError::Exhausted {
                operation,
                attempts,
                secs: elapsed.as_secs_f64(),
                last,
            },
        })
}

/// An STS endpoint to call, and the keys that sign (`None`: unsigned calls).
pub struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    credentials: Option<Credentials>,
}

/// A client for `endpoint` over `http` (the process's client, [`crate::net::http::client`]).
/// `credentials` is `None` for the unsigned calls.
pub fn client(
    endpoint: &Endpoint,
    http: reqwest::Client,
    credentials: Option<&Credentials>,
) -> Client {
    Client {
        http,
        endpoint: endpoint.clone(),
        credentials: credentials.cloned(),
    }
}

/// Why an answer larger than [`MAX_ANSWER`](crate::net::http::MAX_ANSWER) was not read to
/// its end, naming the endpoint's origin (no path).
fn too_large(url: &str) -> String {
    let origin = reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string());
    format!("the answer from STS at {origin} is larger than {MAX_ANSWER_TEXT}; stopped reading")
}

impl Client {
    /// One attempt of `action` with the form `body`: credentials and the assumed role's ARN,
    /// or how the attempt failed. Signed when the client has credentials.
    async fn call(&self, action: &str, body: String) -> Result<(Credentials, String), Class> {
        let url = &self.endpoint.url;
        let target = format!("{url}/");
        let mut request = self
            .http
            .post(&target)
            .header("content-type", wire::CONTENT_TYPE);
        if let Some(c) = &self.credentials {
            let parsed = reqwest::Url::parse(&target).map_err(|e| Class::Permanent {
                code: "RequestError".into(),
                message: format!("the STS endpoint {url} is not a URL: {e}"),
                status: 0,
            })?;
            // What hyper sends as `Host`: the port only when it is not the scheme's.
            let host = match (parsed.host_str(), parsed.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => String::new(),
            };
            let signer = sigv4::Signer {
                access_key_id: &c.access_key_id,
                secret_access_key: c.secret_access_key.expose(),
                session_token: c.session_token.expose(),
                region: &self.endpoint.region,
                service: "sts",
                time: crate::aws::credentials::now_secs(),
            };
            let headers = signer.sign(&sigv4::Request {
                method: "POST",
                path: parsed.path(),
                query: parsed.query(),
                headers: &[("content-type", wire::CONTENT_TYPE), ("host", &host)],
                body: body.as_bytes(),
            });
            request = request.header("host", host);
            for (name, value) in headers {
                request = request.header(name, value);
            }
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| classify_transport(&e, url))?;
        let status = response.status().as_u16();
        let answer = match crate::net::http::read_bounded(response).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(BodyError::TooLarge) => return Err(Class::Transient(too_large(url))),
            Err(BodyError::Read(e)) => return Err(classify_transport(&e, url)),
        };
        if (200..300).contains(&status) {
            return match wire::issued(&answer, action) {
                Ok(Some(issued)) => convert(issued),
                Ok(None) => Err(classify_service(None, "", status)),
                Err(e) => Err(Class::Transient(format!(
                    "unreadable answer from STS (HTTP {status}): {e}"
                ))),
            };
        }
        Err(match wire::error(&answer) {
            Some((code, message)) => classify_service(Some(&code), &message, status),
            None => classify_service(None, "", status),
        })
    }
}

fn convert(issued: wire::Issued) -> Result<(Credentials, String), Class> {
    let incomplete = || Class::Transient("STS answered without complete credentials".into());
    let field = |f: Option<String>| f.filter(|v| !v.is_empty()).ok_or_else(incomplete);
    let access_key_id = field(issued.access_key_id)?;
    let secret_access_key = field(issued.secret_access_key)?;
    let session_token = field(issued.session_token)?;
    let arn = field(issued.arn)?;
    let expiration = field(issued.expiration)?;
    // A cut-off answer must not pass for credentials.
    let expiration = crate::aws::credentials::parse_rfc3339(&expiration)
        .filter(|e| *e > crate::aws::credentials::now_secs())
        .ok_or_else(incomplete)?;
    // Real credentials are printable ASCII without spaces. Anything else (a line break, a
    // quote, `=`) could only come from a broken or hostile endpoint, and must never reach a
    // file that a shell, a runner or an INI reader parses.
    let printable = |v: &str| v.bytes().all(|b| (0x21..=0x7e).contains(&b));
    // Access key ids are 16-128 upper-case letters and digits: a shorter one is an answer
    // cut off inside the field (STS sends AccessKeyId last).
    let key_id_ok = (16..=128).contains(&access_key_id.len())
        && access_key_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !key_id_ok
        || ![&access_key_id, &secret_access_key, &session_token, &arn]
            .iter()
            .all(|v| printable(v))
    {
        return Err(Class::Transient(
            "STS answered with credentials holding characters real ones never have".into(),
        ));
    }
    Ok((
        Credentials {
            access_key_id,
            secret_access_key: Secret::new(secret_access_key),
            session_token: Secret::new(session_token),
            expiration,
        },
        arn,
    ))
}

fn assumed(
    credentials: Credentials,
    arn: String,
    role: &RoleArn,
    region: &str,
    chained: bool,
) -> Assumed {
    let account_id = account_of_arn(&arn).unwrap_or(&role.account_id).to_string();
    Assumed {
        credentials,
        assumed_role_arn: arn,
        account_id,
        region: region.to_string(),
        chained,
    }
}

/// `AssumeRoleWithWebIdentity`, retried within `budget`.
pub async fn assume_web_identity(
    client: &Client,
    req: &WebIdentityRequest,
    token: &IdToken,
    budget: &Budget,
) -> Result<Assumed, StsError> {
    let action = "AssumeRoleWithWebIdentity";
    let (credentials, arn) = with_retries(action, budget, || {
        client.call(action, wire::web_identity(req, token.raw().expose()))
    })
    .await?;
    Ok(assumed(
        credentials,
        arn,
        &req.role,
        &client.endpoint.region,
        false,
    ))
}

/// `AssumeRoleWithSAML`, retried within `budget` like [`assume_web_identity`]. An error
/// message that quotes the assertion has it replaced by `<redacted assertion>`.
pub async fn assume_saml(
    client: &Client,
    req: &SamlRequest,
    budget: &Budget,
) -> Result<Assumed, StsError> {
    let action = "AssumeRoleWithSAML";
    let (credentials, arn) = with_retries(action, budget, || async {
        client
            .call(action, wire::saml(req))
            .await
            .map_err(|class| redact_assertion(class, &req.assertion_b64))
    })
    .await?;
    Ok(assumed(
        credentials,
        arn,
        &req.role,
        &client.endpoint.region,
        false,
    ))
}

/// `class` with any quote of the assertion (or a long piece of it) taken out.
fn redact_assertion(class: Class, assertion: &Secret) -> Class {
    let secret = assertion.expose();
    let clean = |m: String| -> String {
        if secret.len() < 16 {
            return m;
        }
        // STS may quote the value cut short: redact from any 16-character piece of it on.
        let mut out = m.replace(secret, "<redacted assertion>");
        let mut i = 0;
        while i + 16 <= out.len() {
            if out.is_char_boundary(i)
                && out.is_char_boundary(i + 16)
                && secret.contains(&out[i..i + 16])
            {
                let end = out[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
                    .map_or(out.len(), |p| i + p);
                out.replace_range(i..end, "<redacted assertion>");
            }
            i += 1;
        }
        out
    };
    match class {
        Class::Transient(m) => Class::Transient(clean(m)),
        Class::ExpiredToken(m) => Class::ExpiredToken(clean(m)),
        Class::Tls(m) => Class::Tls(clean(m)),
        Class::Permanent {
            code,
            message,
            status,
        } => Class::Permanent {
            code,
            message: clean(message),
            status,
        },
    }
}

/// The chained `AssumeRole`, signed with the first hop's credentials (the client's).
pub async fn assume_chained(
    client: &Client,
    req: &ChainRequest,
    budget: &Budget,
) -> Result<Assumed, StsError> {
    let action = "AssumeRole";
    let (credentials, arn) = with_retries(action, budget, || {
        client.call(action, wire::assume_role(req))
    })
    .await?;
    Ok(assumed(
        credentials,
        arn,
        &req.role,
        &client.endpoint.region,
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_transient(c: Class) -> bool {
        matches!(c, Class::Transient(_))
    }

    #[test]
    fn transient_errors_are_retried() {
        for code in [
            "Throttling",
            "ThrottlingException",
            "IDPCommunicationError",
            "ServiceUnavailable",
            "InternalFailure",
        ] {
            assert!(
                is_transient(classify_service(Some(code), "m", 400)),
                "{code}"
            );
        }
        assert!(is_transient(classify_service(None, "", 503)));
        assert!(is_transient(classify_service(None, "", 500)));
        assert!(is_transient(classify_service(None, "", 429)));
        assert!(is_transient(classify_service(Some("Weird"), "m", 502)));
        assert!(is_transient(classify_service(
            Some("InvalidIdentityToken"),
            "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
            400
        )));
    }

    #[test]
    fn permanent_errors_fail_at_once() {
        for (code, status) in [
            ("AccessDenied", 403),
            ("InvalidIdentityToken", 400),
            ("IDPRejectedClaim", 403),
            ("ValidationError", 400),
            ("RegionDisabledException", 403),
            ("MalformedPolicyDocument", 400),
            ("PackedPolicyTooLarge", 400),
        ] {
            let c = classify_service(
                Some(code),
                "No OpenIDConnect provider found in your account for https://x",
                status,
            );
            assert!(matches!(c, Class::Permanent { .. }), "{code}");
        }
        assert!(matches!(
            classify_service(None, "", 404),
            Class::Permanent { .. }
        ));
    }

    #[test]
    fn expired_token_is_its_own_class() {
        assert_eq!(
            classify_service(
                Some("ExpiredToken"),
                "Token expired: current date/time 1 must be before the expiration date/time 0",
                400
            ),
            Class::ExpiredToken(
                "Token expired: current date/time 1 must be before the expiration date/time 0"
                    .into()
            )
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retries_until_budget_is_spent() {
        let budget = Budget::new(3, Duration::from_secs(10), Duration::from_millis(1));
        let mut calls = 0;
        let r: Result<(), _> = with_retries("Op", &budget, || {
            calls += 1;
            async { Err(Class::Transient("503".into())) }
        })
        .await;
        assert_eq!(calls, 3);
        assert!(matches!(r, Err(StsError::Exhausted { attempts: 3, .. })));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn permanent_stops_at_first_attempt() {
        let budget = Budget::new(5, Duration::from_secs(10), Duration::from_millis(1));
        let mut calls = 0;
        let r: Result<(), _> = with_retries("Op", &budget, || {
            calls += 1;
            async {
                Err(Class::Permanent {
                    code: "AccessDenied".into(),
                    message: "no".into(),
                    status: 403,
                })
            }
        })
        .await;
        assert_eq!(calls, 1);
        assert!(matches!(r, Err(StsError::Denied { .. })));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn recovers_after_transient() {
        let budget = Budget::new(5, Duration::from_secs(10), Duration::from_millis(1));
        let mut calls = 0;
        let r = with_retries("Op", &budget, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(Class::Transient("x".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
    }

    fn saml_request() -> SamlRequest {
        SamlRequest {
            role: RoleArn::parse("arn:aws:iam::123456789012:role/dev").unwrap(),
            principal_arn: "arn:aws:iam::123456789012:saml-provider/kc".into(),
            assertion_b64: Secret::new(
                "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm4iPjwvc2FtbHA6UmVzcG9uc2U+",
            ),
            duration: 3600,
            policy: None,
            policy_arns: Vec::new(),
        }
    }

    fn sts_error(code: &str, message: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
    }

    async fn saml_call(
        server: &crate::idp::fake::Fake,
        req: &SamlRequest,
    ) -> Result<Assumed, StsError> {
        let endpoint = Endpoint {
            region: "us-east-1".into(),
            url: server.url.clone(),
        };
        let http = crate::net::http::client(&endpoint.url).unwrap();
        let client = client(&endpoint, http, None);
        let budget = Budget::new(3, Duration::from_secs(10), Duration::from_millis(1));
        assume_saml(&client, req, &budget).await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn assume_saml_is_unsigned_retried_and_converted() {
        let expiration =
            crate::aws::credentials::rfc3339(crate::aws::credentials::now_secs() + 3600);
        let ok = format!(
            "<AssumeRoleWithSAMLResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithSAMLResult><Credentials><AccessKeyId>ASIAEXAMPLEEXAMPLE12</AccessKeyId><SecretAccessKey>secretsecret</SecretAccessKey><SessionToken>tokentoken</SessionToken><Expiration>{expiration}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/dev/alice</Arn><AssumedRoleId>AROA:alice</AssumedRoleId></AssumedRoleUser></AssumeRoleWithSAMLResult></AssumeRoleWithSAMLResponse>"
        );
        let server = crate::idp::fake::serve(move |_, n| match n {
            0 => (503, sts_error("ServiceUnavailable", "busy")),
            _ => (200, ok.clone()),
        })
        .await;
        let req = saml_request();
        let assumed = saml_call(&server, &req).await.unwrap();
        assert_eq!(
            assumed.assumed_role_arn,
            "arn:aws:sts::123456789012:assumed-role/dev/alice"
        );
        assert_eq!(assumed.credentials.access_key_id, "ASIAEXAMPLEEXAMPLE12");
        assert!(!assumed.chained);
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].header("authorization"), None);
        let form = requests[1].form();
        assert_eq!(form["Action"], "AssumeRoleWithSAML");
        assert_eq!(form["RoleArn"], req.role.arn);
        assert_eq!(form["PrincipalArn"], req.principal_arn);
        assert_eq!(form["SAMLAssertion"], req.assertion_b64.expose());
        assert_eq!(form["DurationSeconds"], "3600");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn assume_saml_errors_are_classified_and_never_quote_the_assertion() {
        let server = crate::idp::fake::serve(|r, n| {
            let quoted = r.form()["SAMLAssertion"].clone();
            match n {
                0 => (
                    400,
                    sts_error(
                        "ExpiredTokenException",
                        "Token must be redeemed within 5 minutes of issuance",
                    ),
                ),
                1 => (
                    400,
                    sts_error(
                        "InvalidIdentityToken",
                        &format!("Response signature invalid: {}", &quoted[..30]),
                    ),
                ),
                _ => (
                    400,
                    sts_error(
                        "ValidationError",
                        &format!("Value '{quoted}' at 'sAMLAssertion' failed"),
                    ),
                ),
            }
        })
        .await;
        let req = saml_request();
        let secret = &req.assertion_b64.expose()[..16];
        let err = saml_call(&server, &req).await.unwrap_err();
        assert!(
            matches!(
                err,
                StsError::ExpiredToken {
                    operation: "AssumeRoleWithSAML",
                    ..
                }
            ),
            "{err}"
        );
        let err = saml_call(&server, &req).await.unwrap_err();
        assert!(
            matches!(&err, StsError::Denied { code, .. } if code == "InvalidIdentityToken"),
            "{err}"
        );
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(
            err.to_string()
                .contains("Response signature invalid: <redacted assertion>"),
            "{err}"
        );
        let err = saml_call(&server, &req).await.unwrap_err();
        assert!(!err.to_string().contains(secret), "{err}");
        assert_eq!(server.requests().len(), 3);
    }

    proptest::proptest! {
        #[test]
        fn classification_never_panics(code in proptest::option::of(".{0,40}"), message in ".{0,200}", status in 0u16..1000) {
            let _ = classify_service(code.as_deref(), &message, status);
        }
    }
}
