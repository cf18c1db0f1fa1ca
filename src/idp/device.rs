//! The device authorization grant (RFC 8628): [`start`] asks the provider for a device
//! code and the code the user types in; [`poll`] asks the token endpoint until the user has
//! approved, honouring `interval`, `authorization_pending` and `slow_down` (+5 s), and
//! stopping at `expires_in`, `access_denied` and `expired_token`. Time goes through a
//! [`Pace`] (the real clock in use, a virtual one in tests), and the caller is told of every
//! poll ([`Tick`]) so it can draw a countdown.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::discovery::DEVICE_GRANT;
use super::tokens::{TokenEndpoint, TokenError, Tokens};
use crate::net::retry::Transient as _;
use crate::secret::Secret;

/// The polling interval when the provider names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// What `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Failures to reach the token endpoint in a row before polling gives up.
const MAX_TRANSIENT: u32 = 5;
/// The longest a single poll request may take.
const POLL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the provider answered to the device authorization request.
#[derive(Clone, Debug)]
pub struct DeviceGrant {
    pub device_code: Secret,
    /// What the user types in at `verification_uri`.
    pub user_code: String,
    pub verification_uri: String,
    /// `verification_uri` with the user code in it, when the provider gives one.
    pub verification_uri_complete: Option<String>,
    pub expires_in: Duration,
    /// The provider's interval, or [`DEFAULT_INTERVAL`].
    pub interval: Duration,
}

/// One poll, as the caller's callback sees it (before the pause that precedes the poll).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// Polls made so far.
    pub polls: u32,
    /// Time left before the device code expires.
    pub remaining: Duration,
    /// The pause before the next poll.
    pub interval: Duration,
}

/// Why the device grant gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("cannot start the device sign-in: {0}")]
    Start(TokenError),
    #[error("the device authorization answer is not usable: {0}")]
    Malformed(String),
    #[error("`{0}` is set by aws-oidc itself and cannot be an extra parameter")]
    ReservedParam(String),
    #[error("the sign-in was refused (access_denied)")]
    Denied,
    #[error("the device code expired before the sign-in was approved; run login again")]
    Expired,
    #[error("{0}")]
    Token(TokenError),
}

/// The clock and the pauses of [`poll`].
pub trait Pace {
    /// Time since polling started.
    fn elapsed(&self) -> Duration;
    /// Waits `d`.
    fn sleep(&mut self, d: Duration) -> impl Future<Output = ()> + Send;
}

/// The real clock: tokio's sleep, `Instant` elapsed.
pub struct RealPace {
    started: Instant,
}

impl RealPace {
    pub fn start() -> RealPace {
        RealPace {
            started: Instant::now(),
        }
    }
}

impl Pace for RealPace {
    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn sleep(&mut self, d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
}

#[derive(Deserialize)]
struct Answer {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    /// Google's name for `verification_uri`.
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<serde_json::Value>,
    interval: Option<serde_json::Value>,
}

fn seconds(v: &Option<serde_json::Value>) -> Option<u64> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// Starts a device sign-in: POSTs `client_id` (and the client's secret, as the token
/// endpoint takes it), `scope` and `extra` (e.g. Auth0's `audience`) to the provider's
/// `device_authorization_endpoint`.
pub async fn start(
    endpoint: &TokenEndpoint,
    device_authorization_endpoint: &str,
    scope: &str,
    extra: &[(String, String)],
    timeout: Duration,
) -> Result<DeviceGrant, DeviceError> {
    const RESERVED: [&str; 4] = ["client_id", "client_secret", "scope", "grant_type"];
    if let Some((k, _)) = extra.iter().find(|(k, _)| RESERVED.contains(&k.as_str())) {
        return Err(DeviceError::ReservedParam(k.clone()));
    }
    let mut params: Vec<(&str, &str)> = vec![("scope", scope)];
    params.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let start_err = |source| {
        DeviceError::Start(TokenError::Transport {
            url: device_authorization_endpoint.to_string(),
            source,
        })
    };
    let client = crate::net::http::client(device_authorization_endpoint)
        .map_err(|e| start_err(super::Transport::Unreachable(e)))?;
    let request = endpoint
        .authenticate(client.post(device_authorization_endpoint), &params)
        .timeout(timeout);
    let answer = super::send(request).await.map_err(start_err)?;
    if answer.status != 200 {
        return Err(DeviceError::Start(super::tokens::oauth_error(
            answer.status,
            &answer.body,
        )));
    }
    parse_start(&answer.body)
}

fn parse_start(body: &[u8]) -> Result<DeviceGrant, DeviceError> {
    let a: Answer = serde_json::from_slice(body)
        .map_err(|e| DeviceError::Malformed(format!("not JSON with the expected fields ({e})")))?;
    let missing = |field: &str| DeviceError::Malformed(format!("it has no `{field}`"));
    let device_code = a.device_code.ok_or_else(|| missing("device_code"))?;
    let user_code = a.user_code.ok_or_else(|| missing("user_code"))?;
    let verification_uri = a
        .verification_uri
        .or(a.verification_url)
        .ok_or_else(|| missing("verification_uri"))?;
    let expires_in = seconds(&a.expires_in).ok_or_else(|| missing("expires_in"))?;
    let interval = seconds(&a.interval)
        .filter(|&s| s > 0)
        .map_or(DEFAULT_INTERVAL, Duration::from_secs);
    // What the user is sent to must be a real https page (a phished or broken link is
    // refused, not shown).
    for uri in std::iter::once(&verification_uri).chain(a.verification_uri_complete.as_ref()) {
        super::secure_url(uri).map_err(|why| {
            DeviceError::Malformed(format!(
                "the verification URI `{}` {why}",
                super::sanitize(uri)
            ))
        })?;
    }
    if user_code.is_empty() || user_code.chars().any(char::is_control) {
        return Err(DeviceError::Malformed(
            "the user_code is not printable".into(),
        ));
    }
    Ok(DeviceGrant {
        device_code: Secret::new(device_code),
        user_code,
        verification_uri,
        verification_uri_complete: a.verification_uri_complete,
        expires_in: Duration::from_secs(expires_in),
        interval,
    })
}

/// Polls the token endpoint until the user approves (tokens), refuses
/// ([`DeviceError::Denied`]) or the device code expires ([`DeviceError::Expired`]).
/// `on_tick` is called before every pause.
pub async fn poll<P: Pace>(
    endpoint: &TokenEndpoint,
    grant: &DeviceGrant,
    pace: &mut P,
    mut on_tick: impl FnMut(&Tick),
) -> Result<Tokens, DeviceError> {
    let mut interval = grant.interval;
    let mut polls = 0;
    let mut transient = 0;
    loop {
        let remaining = grant.expires_in.saturating_sub(pace.elapsed());
        if remaining.is_zero() {
            return Err(DeviceError::Expired);
        }
        on_tick(&Tick {
            polls,
            remaining,
            interval,
        });
        pace.sleep(interval.min(remaining)).await;
        let remaining = grant.expires_in.saturating_sub(pace.elapsed());
        if remaining.is_zero() {
            return Err(DeviceError::Expired);
        }
        polls += 1;
        let params = [
            ("grant_type", DEVICE_GRANT),
            ("device_code", grant.device_code.expose()),
        ];
        let timeout = remaining.clamp(Duration::from_secs(1), POLL_TIMEOUT);
        let error = match endpoint.post(&params, timeout).await {
            Ok(tokens) => return Ok(tokens),
            Err(error) => error,
        };
        match error.oauth_code() {
            Some("authorization_pending") => transient = 0,
            Some("slow_down") => {
                transient = 0;
                interval += SLOW_DOWN_STEP;
            }
            Some("access_denied") => return Err(DeviceError::Denied),
            Some("expired_token") => return Err(DeviceError::Expired),
            _ if error.is_transient() && transient + 1 < MAX_TRANSIENT => {
                // RFC 8628 §3.5: back off when the endpoint cannot be reached.
                transient += 1;
                tracing::info!("device grant poll {polls} failed: {error}");
                interval = (interval * 2).min(Duration::from_secs(60));
            }
            _ => return Err(DeviceError::Token(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::fake;
    use crate::idp::tokens::tests::endpoint;

    /// Virtual time: sleeping only moves the clock.
    #[derive(Default)]
    struct FakePace {
        now: Duration,
        sleeps: Vec<Duration>,
    }

    impl Pace for FakePace {
        fn elapsed(&self) -> Duration {
            self.now
        }
        fn sleep(&mut self, d: Duration) -> impl Future<Output = ()> + Send {
            self.now += d;
            self.sleeps.push(d);
            std::future::ready(())
        }
    }

    fn grant(expires_in: u64, interval: u64) -> DeviceGrant {
        DeviceGrant {
            device_code: Secret::new("DEVICE-CODE"),
            user_code: "ABCD-EFGH".into(),
            verification_uri: "https://idp.example.com/device".into(),
            verification_uri_complete: None,
            expires_in: Duration::from_secs(expires_in),
            interval: Duration::from_secs(interval),
        }
    }

    fn oauth(code: &str) -> (u16, String) {
        (400, format!(r#"{{"error":"{code}"}}"#))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn starts_with_the_client_and_extra_parameters() {
        let server = fake::serve(|_, _| {
            (
                200,
                r#"{"device_code":"DC","user_code":"WDJB-MJHT","verification_uri":"https://idp.example.com/device",
                   "verification_uri_complete":"https://idp.example.com/device?user_code=WDJB-MJHT","expires_in":1800}"#
                    .into(),
            )
        })
        .await;
        let ep = endpoint(&server.url, &["client_secret_post"], Some("sec"));
        let g = start(
            &ep,
            &format!("{}/device", server.url),
            "openid offline_access",
            &[("audience".into(), "https://api.example.com".into())],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(g.device_code.expose(), "DC");
        assert_eq!(g.user_code, "WDJB-MJHT");
        assert_eq!(g.verification_uri, "https://idp.example.com/device");
        assert_eq!(
            g.verification_uri_complete.as_deref(),
            Some("https://idp.example.com/device?user_code=WDJB-MJHT")
        );
        assert_eq!(g.expires_in, Duration::from_secs(1800));
        // No interval in the answer (oidc-provider): 5 s.
        assert_eq!(g.interval, DEFAULT_INTERVAL);
        assert!(!format!("{g:?}").contains("\"DC\""));
        let r = &server.requests()[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/device"));
        let form = r.form();
        assert_eq!(form["client_id"], "cli");
        assert_eq!(form["client_secret"], "sec");
        assert_eq!(form["scope"], "openid offline_access");
        assert_eq!(form["audience"], "https://api.example.com");

        let err = start(
            &ep,
            &format!("{}/device", server.url),
            "openid",
            &[("client_id".into(), "other".into())],
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert_eq!(err, DeviceError::ReservedParam("client_id".into()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refused_start_says_why() {
        let server = fake::serve(|_, _| {
            (
                400,
                r#"{"error":"unauthorized_client","error_description":"device flow disabled"}"#
                    .into(),
            )
        })
        .await;
        let err = start(
            &endpoint(&server.url, &[], None),
            &format!("{}/device", server.url),
            "openid",
            &[],
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot start the device sign-in: the token endpoint answered unauthorized_client: device flow disabled"
        );
    }

    #[test]
    fn start_answers_are_checked() {
        let g = parse_start(
            br#"{"device_code":"d","user_code":"u","verification_url":"https://www.google.com/device","expires_in":"600","interval":7}"#,
        )
        .unwrap();
        assert_eq!(g.verification_uri, "https://www.google.com/device");
        assert_eq!(g.interval, Duration::from_secs(7));
        assert_eq!(g.expires_in, Duration::from_secs(600));
        for bad in [
            &br#"{"user_code":"u","verification_uri":"https://x","expires_in":1}"#[..],
            br#"{"device_code":"d","user_code":"u","verification_uri":"http://evil.example.com","expires_in":1}"#,
            br#"{"device_code":"d","user_code":"u","verification_uri":"https://x"}"#,
            br#"{"device_code":"d","user_code":"u\u001b[2J","verification_uri":"https://x","expires_in":1}"#,
            b"<html>",
        ] {
            assert!(
                matches!(parse_start(bad), Err(DeviceError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn succeeds_after_pending() {
        let server = fake::serve(|_, n| {
            if n < 2 {
                oauth("authorization_pending")
            } else {
                (200, r#"{"id_token":"ID","refresh_token":"RT"}"#.into())
            }
        })
        .await;
        let mut pace = FakePace::default();
        let mut ticks = Vec::new();
        let t = poll(
            &endpoint(&server.url, &[], None),
            &grant(600, 5),
            &mut pace,
            |t| ticks.push(*t),
        )
        .await
        .unwrap();
        assert_eq!(t.id_token.unwrap().expose(), "ID");
        assert_eq!(pace.sleeps, [Duration::from_secs(5); 3]);
        assert_eq!(
            ticks,
            [
                Tick {
                    polls: 0,
                    remaining: Duration::from_secs(600),
                    interval: Duration::from_secs(5)
                },
                Tick {
                    polls: 1,
                    remaining: Duration::from_secs(595),
                    interval: Duration::from_secs(5)
                },
                Tick {
                    polls: 2,
                    remaining: Duration::from_secs(590),
                    interval: Duration::from_secs(5)
                },
            ]
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 3);
        let form = requests[0].form();
        assert_eq!(form["grant_type"], DEVICE_GRANT);
        assert_eq!(form["device_code"], "DEVICE-CODE");
        assert_eq!(form["client_id"], "cli");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn slow_down_adds_five_seconds_each_time() {
        let server = fake::serve(|_, n| match n {
            0 | 1 => oauth("slow_down"),
            2 => oauth("authorization_pending"),
            _ => (200, r#"{"id_token":"ID"}"#.into()),
        })
        .await;
        let mut pace = FakePace::default();
        poll(
            &endpoint(&server.url, &[], None),
            &grant(600, 5),
            &mut pace,
            |_| {},
        )
        .await
        .unwrap();
        let secs: Vec<u64> = pace.sleeps.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [5, 10, 15, 15]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn access_denied_and_expired_token_stop() {
        for (code, want) in [
            ("access_denied", DeviceError::Denied),
            ("expired_token", DeviceError::Expired),
        ] {
            let server = fake::serve(move |_, n| {
                if n == 0 {
                    oauth("authorization_pending")
                } else {
                    oauth(code)
                }
            })
            .await;
            let err = poll(
                &endpoint(&server.url, &[], None),
                &grant(600, 1),
                &mut FakePace::default(),
                |_| {},
            )
            .await
            .unwrap_err();
            assert_eq!(err, want);
            assert_eq!(server.requests().len(), 2);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn stops_at_expires_in() {
        let server = fake::serve(|_, _| oauth("authorization_pending")).await;
        let mut pace = FakePace::default();
        let err = poll(
            &endpoint(&server.url, &[], None),
            &grant(12, 5),
            &mut pace,
            |_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(err, DeviceError::Expired);
        // Polls at 5 s and 10 s; the last pause is cut to the 2 s left, then no poll.
        let secs: Vec<u64> = pace.sleeps.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [5, 5, 2]);
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn other_errors_stop_and_transient_ones_back_off() {
        let server = fake::serve(|_, n| match n {
            0 => (503, "{}".into()),
            1 => oauth("authorization_pending"),
            _ => oauth("invalid_client"),
        })
        .await;
        let mut pace = FakePace::default();
        let err = poll(
            &endpoint(&server.url, &[], None),
            &grant(600, 5),
            &mut pace,
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, DeviceError::Token(TokenError::OAuth { code, .. }) if code == "invalid_client"),
            "{err}"
        );
        let secs: Vec<u64> = pace.sleeps.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [5, 10, 10]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn real_pace_sleeps() {
        let mut pace = RealPace::start();
        pace.sleep(Duration::from_millis(5)).await;
        assert!(pace.elapsed() >= Duration::from_millis(5));
    }
}
