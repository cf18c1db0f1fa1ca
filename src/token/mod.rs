//! Where the job's ID token comes from: detection of the source and fetching it.
//!
//! Sources are tried in a fixed order unless one is named explicitly. Sources
//! that can mint a new token (GitHub's endpoint, Buildkite's agent, a command)
//! say so, so that an `ExpiredToken` answer from STS can be met with a fresh one.

pub mod jwt;

use std::path::PathBuf;

use tokio::io::AsyncReadExt;

use crate::ci::{Ci, TokenOffer};
use crate::net::retry::Budget;
use crate::secret::Secret;
pub use jwt::{IdToken, JwtError};

/// The most read from a token file, command or variable: a token is at most
/// [`jwt::MAX_TOKEN_LEN`] bytes, so anything past this (with room for blanks) is not one.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;
/// [`MAX_SOURCE_BYTES`] for messages.
const MAX_SOURCE_TEXT: &str = "64 KiB";

/// A place to get the ID token from.
#[derive(Clone, Debug)]
pub enum Source {
    /// GitHub Actions' token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`).
    GitHub { url: String, request_token: Secret },
    /// An environment variable holding the token.
    Env(String),
    /// A file holding the token (re-read on every fetch).
    File(PathBuf),
    /// A shell command printing the token on stdout.
    Command(String),
    /// `buildkite-agent oidc request-token`.
    Buildkite,
    /// The stored login to this provider (`aws-oidc login`): `obtain` fetches it through
    /// `idp::session`, which this module does not know.
    Login(String),
}

/// Why no token could be had. Messages name the source, never the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A stored login is read by `obtain` (through `idp::session`), never here.
    #[error("the login to {0} is read through the token store")]
    LoginElsewhere(String),
    /// The job runs in `ci` (perhaps none) and no source offered a token; the CI words it.
    #[error("{}", ci.missing_token())]
    NotFound { ci: Ci },
    #[error("several variables hold an ID token: {}", .0.join(", "))]
    Ambiguous(Vec<String>),
    #[error("the environment variable {0} is not set or empty")]
    EnvMissing(String),
    #[error("cannot read the token file {path}: {err}")]
    File { path: PathBuf, err: std::io::Error },
    #[error(
        "{from} holds more than {MAX_SOURCE_TEXT} (an ID token is at most {} bytes); stopped reading",
        jwt::MAX_TOKEN_LEN
    )]
    TooLarge { from: String },
    #[error("the token command `{cmd}` {what}")]
    Command { cmd: String, what: String },
    #[error("the token endpoint answered HTTP {status}{detail}")]
    EndpointStatus { status: u16, detail: String },
    #[error("the token endpoint's answer is not JSON with a string `value`")]
    EndpointBody,
    #[error(
        "the token endpoint's answer is larger than {}; stopped reading",
        crate::net::http::MAX_ANSWER_TEXT
    )]
    EndpointTooLarge,
    #[error("the token endpoint's TLS certificate is not trusted: {0}")]
    EndpointTls(String),
    #[error("the token endpoint could not be reached after {attempts} attempt(s): {last}")]
    EndpointUnreachable { attempts: u32, last: String },
    #[error("{source} (from {from})")]
    Invalid { from: String, source: JwtError },
}

impl TokenError {
    /// Transient failures that ran out of retries (as opposed to a token that is not there).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TokenError::EndpointUnreachable { .. }
                | TokenError::EndpointStatus {
                    status: 500..=599 | 429,
                    ..
                }
        )
    }

    /// What to do about it.
    pub fn hints(&self, audience: &str) -> Vec<String> {
        match self {
            TokenError::NotFound { ci } => ci.missing_token_hints(audience),
            TokenError::Ambiguous(_) => vec!["choose one with --token-env NAME".into()],
            TokenError::EndpointTls(_) => vec![crate::net::http::TLS_HINT.into()],
            TokenError::EndpointStatus { status: 401 | 403, .. } => vec![
                "the request token was refused: it lasts about 6 hours from the job's start, and needs `permissions: id-token: write`".into(),
            ],
            TokenError::EndpointBody | TokenError::EndpointTooLarge => vec![
                "ACTIONS_ID_TOKEN_REQUEST_URL must be GitHub's token endpoint, which answers {\"value\": \"<jwt>\"}; is a proxy answering instead?".into(),
            ],
            TokenError::EndpointStatus {
                status: 429 | 500..=599,
                ..
            }
            | TokenError::EndpointUnreachable { .. } => vec![
                "the token endpoint kept failing: check the runner's network, HTTPS_PROXY/NO_PROXY and the CI's status page; --timeout and --max-attempts allow longer waits".into(),
            ],
            TokenError::EndpointStatus { status: 300..=399, .. } => vec![
                "GitHub's token endpoint never redirects: check ACTIONS_ID_TOKEN_REQUEST_URL, and whether a proxy answers in its place (the request carries the request token, so it is not sent on)".into(),
            ],
            TokenError::EndpointStatus { status: 404, .. } => vec![
                "ACTIONS_ID_TOKEN_REQUEST_URL does not point at a token endpoint".into(),
            ],
            TokenError::Invalid {
                source: JwtError::Expired { .. },
                ..
            } => vec![
                "the token is too old: fetch it closer to use, or use a source that can mint a fresh one".into(),
            ],
            TokenError::TooLarge { .. } => vec![
                "the source must hold the raw JWT only: point --token-file at the token file, or make --token-command print just the token".into(),
            ],
            TokenError::Invalid { .. } => vec![
                "the variable or file must hold the raw JWT (three base64url parts joined by dots)".into(),
            ],
            _ => Vec::new(),
        }
    }
}

impl crate::net::retry::Transient for TokenError {
    fn is_transient(&self) -> bool {
        TokenError::is_transient(self)
    }
}

/// What the user asked for explicitly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explicit {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
    pub command: Option<String>,
    /// `--provider`: the stored login to this provider.
    pub provider: Option<String>,
}

/// Picks the token source: the explicit one, else the first that a CI of [`crate::ci::ALL`]
/// offers, in that order (each CI's variables are in its own file).
pub fn detect(explicit: &Explicit, env: &crate::env::Env) -> Result<Source, TokenError> {
    if let Some(name) = &explicit.env {
        return Ok(Source::Env(name.clone()));
    }
    if let Some(path) = &explicit.file {
        return Ok(Source::File(path.clone()));
    }
    if let Some(cmd) = &explicit.command {
        return Ok(Source::Command(cmd.clone()));
    }
    if let Some(name) = &explicit.provider {
        return Ok(Source::Login(name.clone()));
    }
    match crate::ci::token_offer(env) {
        Some(Ok(offer)) => Ok(Source::from(offer)),
        Some(Err(crate::ci::Ambiguous(names))) => Err(TokenError::Ambiguous(names)),
        None => Err(TokenError::NotFound {
            ci: Ci::detect(env),
        }),
    }
}

impl From<TokenOffer> for Source {
    fn from(offer: TokenOffer) -> Source {
        match offer {
            TokenOffer::GitHubEndpoint { url, request_token } => {
                Source::GitHub { url, request_token }
            }
            TokenOffer::Variable(name) => Source::Env(name),
            TokenOffer::File(path) => Source::File(path),
            TokenOffer::BuildkiteAgent => Source::Buildkite,
        }
    }
}

impl Source {
    /// Whether asking again yields a new token.
    pub fn can_mint(&self) -> bool {
        matches!(
            self,
            Source::GitHub { .. } | Source::Command(_) | Source::Buildkite | Source::Login(_)
        )
    }

    /// Names the source for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::GitHub { .. } => "GitHub Actions token endpoint".into(),
            Source::Env(name) => format!("${name}"),
            Source::File(path) => format!("file {}", path.display()),
            Source::Command(cmd) => format!("command `{}`", command_label(cmd)),
            Source::Buildkite => "buildkite-agent oidc request-token".into(),
            Source::Login(name) => format!("the login to {name}"),
        }
    }

    /// Gets the token (minting one where the source can) and checks it is a usable JWT.
    pub async fn fetch(
        &self,
        audience: &str,
        env: &crate::env::Env,
        budget: &Budget,
    ) -> Result<IdToken, TokenError> {
        let raw = match self {
            Source::Env(name) => {
                let value = env
                    .get(name)
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| TokenError::EnvMissing(name.clone()))?;
                if value.len() > MAX_SOURCE_BYTES {
                    return Err(TokenError::TooLarge {
                        from: self.describe(),
                    });
                }
                Secret::new(value)
            }
            Source::File(path) => read_file(path).await.map_err(|err| match err {
                None => TokenError::TooLarge {
                    from: format!("the token file {}", path.display()),
                },
                Some(err) => TokenError::File {
                    path: path.clone(),
                    err,
                },
            })?,
            Source::Command(cmd) => run_command(shell(cmd), &command_label(cmd), budget).await?,
            Source::Buildkite => {
                let mut c = tokio::process::Command::new("buildkite-agent");
                c.args(["oidc", "request-token", "--audience", audience]);
                run_command(c, "buildkite-agent oidc request-token", budget).await?
            }
            Source::GitHub { url, request_token } => {
                github::fetch(url, request_token, audience, budget).await?
            }
            Source::Login(name) => return Err(TokenError::LoginElsewhere(name.clone())),
        };
        IdToken::parse(raw.expose()).map_err(|source| TokenError::Invalid {
            from: self.describe(),
            source,
        })
    }
}

/// Reads a token file up to [`MAX_SOURCE_BYTES`]: `Err(None)` when it holds more.
async fn read_file(path: &std::path::Path) -> Result<Secret, Option<std::io::Error>> {
    let file = tokio::fs::File::open(path).await?;
    let mut read = Vec::new();
    file.take(MAX_SOURCE_BYTES as u64 + 1)
        .read_to_end(&mut read)
        .await?;
    if read.len() > MAX_SOURCE_BYTES {
        return Err(None);
    }
    String::from_utf8(read).map(Secret::new).map_err(|_| {
        Some(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text",
        ))
    })
}

fn shell(cmd: &str) -> tokio::process::Command {
    if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.args(["/C", cmd]);
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.args(["-c", cmd]);
        c
    }
}

/// How a token command is named in messages: its program only, since its arguments may
/// carry a credential of their own (`--password …`).
fn command_label(cmd: &str) -> String {
    let mut words = cmd.split_whitespace();
    let program = words.next().unwrap_or_default();
    if words.next().is_some() {
        format!("{program} …")
    } else {
        program.to_string()
    }
}

/// Runs a token command: stdout is the token, stderr passes through to ours.
async fn run_command(
    mut cmd: tokio::process::Command,
    label: &str,
    budget: &Budget,
) -> Result<Secret, TokenError> {
    let fail = |what: String| TokenError::Command {
        cmd: label.to_string(),
        what,
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("could not start: {e}")))?;
    let Some(stdout) = child.stdout.take() else {
        return Err(fail("could not start: no stdout".into()));
    };
    // Read at most one byte past the limit; on any early return the child is killed
    // (kill_on_drop) and its pipe closed.
    let run = async {
        let mut read = Vec::new();
        stdout
            .take(MAX_SOURCE_BYTES as u64 + 1)
            .read_to_end(&mut read)
            .await
            .map_err(|e| fail(format!("failed: {e}")))?;
        if read.len() > MAX_SOURCE_BYTES {
            return Err(fail(format!(
                "printed more than {MAX_SOURCE_TEXT} (an ID token is at most {} bytes); stopped reading",
                jwt::MAX_TOKEN_LEN
            )));
        }
        let status = child
            .wait()
            .await
            .map_err(|e| fail(format!("failed: {e}")))?;
        Ok((read, status))
    };
    let (stdout, status) = tokio::time::timeout(budget.remaining(), run)
        .await
        .map_err(|_| fail("timed out".into()))??;
    if !status.success() {
        return Err(fail(format!("exited with {status}")));
    }
    String::from_utf8(stdout)
        .map(Secret::new)
        .map_err(|_| fail("printed something that is not UTF-8".into()))
}

mod github {
    //! GitHub Actions' ID token endpoint.

    use super::*;
    use crate::net::retry::{self, Attempt, GaveUp, RetryTransient};

    /// Appends `audience=<aud>` to the request URL, which normally has a query already.
    pub fn request_url(url: &str, audience: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}audience={}", crate::net::url::encode(audience))
    }

    pub async fn fetch(
        url: &str,
        request_token: &Secret,
        audience: &str,
        budget: &Budget,
    ) -> Result<Secret, TokenError> {
        let client =
            crate::net::http::client(url).map_err(|e| TokenError::EndpointUnreachable {
                attempts: 0,
                last: e,
            })?;
        let full = request_url(url, audience);
        let attempt = |attempt: Attempt| {
            let request = client
                .get(&full)
                .header(
                    "Authorization",
                    format!("bearer {}", request_token.expose()),
                )
                .header("Accept", "application/json; api-version=2.0")
                .timeout(attempt.timeout);
            async move {
                match request.send().await {
                    Ok(resp) if resp.status().is_success() => {
                        match crate::net::http::read_bounded(resp).await {
                            Err(crate::net::http::BodyError::TooLarge) => {
                                Err(TokenError::EndpointTooLarge)
                            }
                            // A body cut off on the way is a network fault: try again.
                            Err(crate::net::http::BodyError::Read(e)) => {
                                Err(TokenError::EndpointUnreachable {
                                    attempts: attempt.number,
                                    last: crate::net::http::describe(&e),
                                })
                            }
                            Ok(bytes) => {
                                let body: serde_json::Value = serde_json::from_slice(&bytes)
                                    .map_err(|_| TokenError::EndpointBody)?;
                                body.get("value")
                                    .and_then(|v| v.as_str())
                                    .map(Secret::new)
                                    .ok_or(TokenError::EndpointBody)
                            }
                        }
                    }
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        Err(TokenError::EndpointStatus {
                            status,
                            detail: crate::net::http::redirect_note(status).to_string(),
                        })
                    }
                    Err(e) => {
                        let last = crate::net::http::describe(&e);
                        if last.to_ascii_lowercase().contains("certificate") {
                            return Err(TokenError::EndpointTls(last));
                        }
                        Err(TokenError::EndpointUnreachable {
                            attempts: attempt.number,
                            last,
                        })
                    }
                }
            }
        };
        retry::run(budget, &RetryTransient::new("token endpoint"), attempt)
            .await
            .map_err(|gave_up| match gave_up {
                GaveUp::Stopped(err) => err,
                GaveUp::Exhausted { attempts, last, .. } => match last {
                    TokenError::EndpointStatus { status, .. } => TokenError::EndpointStatus {
                        status,
                        detail: format!(" after {attempts} attempt(s)"),
                    },
                    other => other,
                },
            })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn appends_audience() {
            assert_eq!(
                request_url("https://x/t?api-version=2.0", "sts.amazonaws.com"),
                "https://x/t?api-version=2.0&audience=sts.amazonaws.com"
            );
            assert_eq!(
                request_url("http://127.0.0.1:1/t", "a b&c"),
                "http://127.0.0.1:1/t?audience=a%20b%26c"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> crate::env::Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

    #[test]
    fn explicit_wins() {
        let e = Explicit {
            env: Some("MY_TOKEN".into()),
            ..Default::default()
        };
        let s = detect(&e, &env(&[("AWS_ID_TOKEN", JWT)])).unwrap();
        assert!(matches!(s, Source::Env(n) if n == "MY_TOKEN"));
    }

    #[test]
    fn order() {
        let all = [
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://x/?a=1"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "rt"),
            ("AWS_ID_TOKEN", JWT),
            ("GITLAB_OIDC_TOKEN", JWT),
            ("CIRCLE_OIDC_TOKEN_V2", JWT),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
        ];
        assert!(matches!(
            detect(&Explicit::default(), &env(&all)).unwrap(),
            Source::GitHub { .. }
        ));
        let s = detect(&Explicit::default(), &env(&all[2..])).unwrap();
        assert!(matches!(s, Source::Env(n) if n == "AWS_ID_TOKEN"));
        let s = detect(&Explicit::default(), &env(&all[3..])).unwrap();
        assert!(matches!(s, Source::Env(n) if n == "GITLAB_OIDC_TOKEN"));
        let s = detect(&Explicit::default(), &env(&all[4..])).unwrap();
        assert!(matches!(s, Source::Env(n) if n == "CIRCLE_OIDC_TOKEN_V2"));
        let s = detect(&Explicit::default(), &env(&all[5..])).unwrap();
        assert!(matches!(s, Source::File(p) if p == std::path::Path::new("/t")));
    }

    /// Variables any CI sets come before the Buildkite agent, which counts only in a job
    /// detected as Buildkite, and the web identity file comes last.
    #[test]
    fn agent_and_file_come_last() {
        let bk = [
            ("BUILDKITE", "true"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("BITBUCKET_STEP_OIDC_TOKEN", JWT),
        ];
        let s = detect(&Explicit::default(), &env(&bk)).unwrap();
        assert!(matches!(s, Source::Env(n) if n == "BITBUCKET_STEP_OIDC_TOKEN"));
        let s = detect(&Explicit::default(), &env(&bk[..2])).unwrap();
        assert!(matches!(s, Source::Buildkite));
        let both = [("BITBUCKET_BUILD_NUMBER", "7"), bk[0], bk[1]];
        let s = detect(&Explicit::default(), &env(&both)).unwrap();
        assert!(matches!(s, Source::File(p) if p == std::path::Path::new("/t")));
        let e = detect(&Explicit::default(), &env(&both[..2])).unwrap_err();
        assert!(matches!(e, TokenError::NotFound { ci } if ci == crate::ci::bitbucket::CI));
    }

    #[test]
    fn single_named_id_token() {
        let s = detect(
            &Explicit::default(),
            &env(&[("VAULT_ID_TOKEN", JWT), ("OTHER_ID_TOKEN", "x")]),
        )
        .unwrap();
        assert!(matches!(s, Source::Env(n) if n == "VAULT_ID_TOKEN"));
        let e = detect(
            &Explicit::default(),
            &env(&[("A_ID_TOKEN", JWT), ("B_ID_TOKEN", JWT)]),
        )
        .unwrap_err();
        assert!(matches!(e, TokenError::Ambiguous(v) if v == ["A_ID_TOKEN", "B_ID_TOKEN"]));
    }

    #[test]
    fn missing_token_hints_per_ci() {
        let e = detect(&Explicit::default(), &env(&[("GITHUB_ACTIONS", "true")])).unwrap_err();
        assert!(matches!(e, TokenError::NotFound { ci } if ci == crate::ci::github::CI));
        assert_eq!(
            e.to_string(),
            "GitHub Actions did not provide ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN"
        );
        assert!(
            e.hints("sts.amazonaws.com")
                .join("\n")
                .contains("id-token: write")
        );
        let e = detect(&Explicit::default(), &env(&[("GITLAB_CI", "true")])).unwrap_err();
        let hints = e.hints("sts.amazonaws.com").join("\n");
        assert!(hints.contains("id_tokens:") && hints.contains("aud: sts.amazonaws.com"));
        let s = detect(&Explicit::default(), &env(&[("BUILDKITE", "true")])).unwrap();
        assert!(matches!(s, Source::Buildkite));
    }

    #[test]
    fn command_arguments_stay_out_of_messages() {
        let s = Source::Command("get-token --password hunter2".into());
        assert_eq!(s.describe(), "command `get-token …`");
        assert_eq!(
            Source::Command("get-token".into()).describe(),
            "command `get-token`"
        );
    }

    #[test]
    fn minting_sources() {
        assert!(Source::Command("x".into()).can_mint());
        assert!(Source::Buildkite.can_mint());
        assert!(!Source::Env("X".into()).can_mint());
        assert!(!Source::File("x".into()).can_mint());
    }
}
