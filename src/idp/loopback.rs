//! Authorization code + PKCE on a loopback redirect (RFC 8252, RFC 7636, RFC 9207).
//!
//! [`Loopback::bind`] listens on 127.0.0.1 (never another interface) before anything else
//! happens and returns the authorization URL to open; [`Loopback::wait`] then serves the
//! redirect: only `GET /callback` with the right `state` (compared in constant time, used
//! once) ends the wait, with the code, the provider's error, or an `iss` mix-up. Anything
//! else (another path such as `/favicon.ico`, another method, a wrong or missing `state`, an
//! oversized request) gets a 4xx page and is otherwise ignored, so a forged request cannot
//! end or spoil the sign-in. Pages are fixed text (nothing the request carried is shown
//! unescaped), never cached; the listener closes after one valid callback or the timeout.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::discovery::Discovery;
use super::pkce::{self, Pkce};
use crate::secret::Secret;

/// How long to wait for the browser to come back, by default (kubelogin's).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// The most of a request that is read: a callback is a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections read at once; more are closed at once.
const MAX_CONNECTIONS: usize = 32;
/// The path of the redirect URI.
pub const CALLBACK_PATH: &str = "/callback";

/// What the authorization request needs.
#[derive(Clone, Debug)]
pub struct AuthRequest {
    pub authorization_endpoint: String,
    /// The provider's issuer, which `iss` on the response must equal.
    pub issuer: String,
    pub client_id: String,
    /// Space-separated (`openid offline_access`).
    pub scope: String,
    /// Extra parameters (`audience`, `prompt`, …); they cannot replace the ones aws-oidc sets.
    pub extra: Vec<(String, String)>,
    /// The provider promises `iss` on every response (RFC 9207): its absence is an error.
    pub iss_required: bool,
    pub timeout: Duration,
}

impl AuthRequest {
    /// The request for a provider described by `discovery`, with [`DEFAULT_TIMEOUT`].
    pub fn new(
        discovery: &Discovery,
        client_id: &str,
        scope: &str,
        extra: Vec<(String, String)>,
    ) -> Result<AuthRequest, LoopbackError> {
        Ok(AuthRequest {
            authorization_endpoint: discovery
                .authorization_endpoint
                .clone()
                .ok_or(LoopbackError::NoAuthorizationEndpoint)?,
            issuer: discovery.issuer.clone(),
            client_id: client_id.to_string(),
            scope: scope.to_string(),
            extra,
            iss_required: discovery.authorization_response_iss_parameter_supported,
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// What the sign-in gave: everything the code exchange and the ID token check need.
#[derive(Debug)]
pub struct Authorized {
    pub code: Secret,
    pub verifier: Secret,
    /// The `nonce` the ID token must carry.
    pub nonce: Secret,
    pub redirect_uri: String,
}

/// Why the browser sign-in gave no code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoopbackError {
    #[error("the provider's discovery document has no authorization_endpoint")]
    NoAuthorizationEndpoint,
    #[error("`{0}` is set by aws-oidc itself and cannot be an extra parameter")]
    ReservedParam(String),
    #[error("cannot listen on 127.0.0.1 port {ports}: {last}")]
    Bind { ports: String, last: String },
    #[error("no sign-in came back to the loopback redirect within {0} s")]
    Timeout(u64),
    #[error("the provider refused the sign-in: {error}{}", .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Provider {
        error: String,
        description: Option<String>,
    },
    #[error(
        "the authorization response names the issuer `{found}`, not `{expected}`: refused (RFC 9207 mix-up defence)"
    )]
    IssuerMismatch { expected: String, found: String },
    #[error(
        "the provider promises `iss` on authorization responses (RFC 9207) but this one has none: refused"
    )]
    IssuerMissing,
    #[error("the callback carried neither a code nor an error")]
    NoCode,
}

/// A listener waiting for the provider's redirect.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
    redirect_uri: String,
    state: Secret,
    nonce: Secret,
    pkce: Pkce,
    issuer: String,
    iss_required: bool,
    timeout: Duration,
}

impl Loopback {
    /// Listens on 127.0.0.1: the first of `ports` that is free (0 = any; empty = any), and
    /// returns the authorization URL to open, and the listener. The listener is up when this
    /// returns: open the browser afterwards.
    pub async fn bind(
        request: &AuthRequest,
        ports: &[u16],
    ) -> Result<(String, Loopback), LoopbackError> {
        const RESERVED: [&str; 8] = [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        ];
        if let Some((k, _)) = request
            .extra
            .iter()
            .find(|(k, _)| RESERVED.contains(&k.as_str()))
        {
            return Err(LoopbackError::ReservedParam(k.clone()));
        }
        let listener = listen(ports).await?;
        let port = listener
            .local_addr()
            .map_err(|e| LoopbackError::Bind {
                ports: "0".into(),
                last: e.to_string(),
            })?
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");
        let (state, nonce, pkce) = (pkce::state(), pkce::nonce(), Pkce::new());
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &request.client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", &request.scope),
            ("state", state.expose()),
            ("nonce", nonce.expose()),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", pkce::METHOD),
        ];
        params.extend(request.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let sep = if request.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{sep}{}",
            request.authorization_endpoint,
            super::form_encode(&params)
        );
        Ok((
            url,
            Loopback {
                listener,
                redirect_uri,
                state,
                nonce,
                pkce,
                issuer: request.issuer.clone(),
                iss_required: request.iss_required,
                timeout: request.timeout,
            },
        ))
    }

    /// `http://127.0.0.1:<port>/callback`
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The address listened on.
    #[cfg(test)]
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves the redirect until one `GET /callback` with the right `state` arrives (or the
    /// timeout), then closes the listener.
    pub async fn wait(self) -> Result<Authorized, LoopbackError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut readers = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    return Err(LoopbackError::Timeout(self.timeout.as_secs()));
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) if readers.len() < MAX_CONNECTIONS => {
                        readers.spawn(read_request(stream));
                    }
                    Ok(_) => tracing::debug!("loopback: too many connections; one closed"),
                    Err(e) => {
                        tracing::debug!("loopback: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                Some(joined) = readers.join_next(), if !readers.is_empty() => {
                    let Ok(Some((mut stream, request))) = joined else { continue };
                    let (page, outcome) = self.judge(request);
                    // The last page is sent before the listener closes; others in the
                    // background, so that a slow reader holds nothing up.
                    match outcome {
                        Some(result) => {
                            let _ = tokio::time::timeout(Duration::from_secs(2), page.send(&mut stream)).await;
                            return result.map(|code| Authorized {
                                code,
                                verifier: self.pkce.verifier.clone(),
                                nonce: self.nonce.clone(),
                                redirect_uri: self.redirect_uri.clone(),
                            });
                        }
                        None => {
                            tokio::spawn(async move {
                                let _ = tokio::time::timeout(Duration::from_secs(2), page.send(&mut stream)).await;
                            });
                        }
                    }
                }
            }
        }
    }

    /// The page for one request, and, for the one callback with the right `state`, how the
    /// wait ends.
    fn judge(&self, request: Result<Head, Page>) -> (Page, Option<Result<Secret, LoopbackError>>) {
        let ignored = |page: Page| (page, None);
        let head = match request {
            Ok(head) => head,
            Err(page) => return ignored(page),
        };
        if head.method != "GET" {
            return ignored(Page::error(405, "Only GET is served here."));
        }
        let (path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
        if path != CALLBACK_PATH {
            return ignored(Page::error(404, "Nothing here."));
        }
        let Some(params) = super::form_decode(query) else {
            return ignored(Page::error(400, "The request is malformed."));
        };
        let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return ignored(Page::error(400, "A parameter is repeated."));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        match get("state") {
            Some(state) if pkce::constant_time_eq(state, self.state.expose()) => {}
            Some(_) => {
                tracing::warn!("loopback: a callback with a wrong state was refused");
                return ignored(Page::error(
                    400,
                    "This sign-in response is not for this login (wrong state).",
                ));
            }
            None => {
                tracing::warn!("loopback: a callback without state was refused");
                return ignored(Page::error(400, "This sign-in response has no state."));
            }
        }
        // The one answer to this login: whatever it says, the wait ends here.
        let end = |page: Page, result| (page, Some(result));
        match get("iss") {
            Some(iss) if iss != self.issuer => {
                return end(
                    Page::error(400, "The sign-in response came from another provider."),
                    Err(LoopbackError::IssuerMismatch {
                        expected: self.issuer.clone(),
                        found: super::sanitize(iss),
                    }),
                );
            }
            None if self.iss_required => {
                return end(
                    Page::error(400, "The sign-in response does not name its provider."),
                    Err(LoopbackError::IssuerMissing),
                );
            }
            _ => {}
        }
        if let Some(error) = get("error") {
            let error = super::sanitize(error);
            let page = Page::error(
                400,
                &format!("The provider refused the sign-in: {}.", html_escape(&error)),
            );
            return end(
                page,
                Err(LoopbackError::Provider {
                    error,
                    description: get("error_description").map(super::sanitize),
                }),
            );
        }
        match get("code").filter(|c| !c.is_empty()) {
            Some(code) => end(Page::done(), Ok(Secret::new(code))),
            None => end(
                Page::error(400, "The sign-in response has no code."),
                Err(LoopbackError::NoCode),
            ),
        }
    }
}

async fn listen(ports: &[u16]) -> Result<TcpListener, LoopbackError> {
    let ports = if ports.is_empty() { &[0][..] } else { ports };
    let mut last = String::new();
    for &port in ports {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e.to_string(),
        }
    }
    Err(LoopbackError::Bind {
        ports: ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        last,
    })
}

/// A request line. No `Debug`: the target of the callback holds the authorization code.
struct Head {
    method: String,
    target: String,
}

/// Reads one request's head (at most [`MAX_REQUEST`] bytes, within [`READ_TIMEOUT`]).
/// `None` when the connection sent nothing usable in time (a browser's preconnect).
async fn read_request(mut stream: TcpStream) -> Option<(TcpStream, Result<Head, Page>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            if buf.len() > MAX_REQUEST {
                return Some(false);
            }
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(true);
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let complete = tokio::time::timeout(READ_TIMEOUT, read).await.ok()??;
    if !complete {
        return Some((stream, Err(Page::error(431, "The request is too large."))));
    }
    let line = buf.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let head = match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version)) if version.starts_with("HTTP/1.") => Ok(Head {
            method: method.to_string(),
            target: target.to_string(),
        }),
        _ => Err(Page::error(400, "The request is malformed.")),
    };
    Some((stream, head))
}

/// An HTML page sent as the whole answer.
#[derive(Debug)]
struct Page {
    status: u16,
    body: String,
}

impl Page {
    fn done() -> Page {
        Page {
            status: 200,
            body: page(
                "Signed in",
                "aws-oidc has the sign-in. You can close this window and go back to the terminal.",
            ),
        }
    }

    /// `text` must already be HTML (escaped).
    fn error(status: u16, text: &str) -> Page {
        Page {
            status,
            body: page("aws-oidc: sign-in not accepted", text),
        }
    }

    async fn send(&self, stream: &mut TcpStream) -> std::io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Error",
        };
        let allow = if self.status == 405 {
            "Allow: GET\r\n"
        } else {
            ""
        };
        let head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nPragma: no-cache\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(self.body.as_bytes()).await?;
        stream.shutdown().await
    }
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    )
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::SocketAddr;

    const ISSUER: &str = "https://idp.example.com";

    fn request(timeout: Duration, iss_required: bool) -> AuthRequest {
        AuthRequest {
            authorization_endpoint: format!("{ISSUER}/auth"),
            issuer: ISSUER.into(),
            client_id: "cli".into(),
            scope: "openid offline_access".into(),
            extra: vec![("prompt".into(), "consent".into())],
            iss_required,
            timeout,
        }
    }

    /// Binds, and returns the authorization URL's parameters, the address and the wait.
    async fn started(
        req: &AuthRequest,
    ) -> (
        HashMap<String, String>,
        SocketAddr,
        tokio::task::JoinHandle<Result<Authorized, LoopbackError>>,
    ) {
        let (url, lb) = Loopback::bind(req, &[0]).await.unwrap();
        let query = url.split_once('?').unwrap().1;
        let params = crate::idp::form_decode(query)
            .unwrap()
            .into_iter()
            .collect();
        let addr = lb.local_addr().unwrap();
        (params, addr, tokio::spawn(lb.wait()))
    }

    /// Sends `raw` and returns the whole answer.
    async fn send(addr: SocketAddr, raw: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    async fn get(addr: SocketAddr, target: &str) -> String {
        send(
            addr,
            &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        )
        .await
    }

    fn status(answer: &str) -> u16 {
        answer[9..12].parse().unwrap()
    }

    fn callback(p: &HashMap<String, String>, extra: &str) -> String {
        format!(
            "/callback?code=THE-CODE&state={}&iss={}{extra}",
            p["state"],
            crate::net::url::encode(ISSUER)
        )
    }

    #[tokio::test(flavor = "current_thread")]
    async fn success() {
        let req = request(Duration::from_secs(10), true);
        let (p, addr, wait) = started(&req).await;
        assert!(addr.ip().is_loopback());
        let redirect = format!("http://127.0.0.1:{}/callback", addr.port());
        assert_eq!(p["response_type"], "code");
        assert_eq!(p["client_id"], "cli");
        assert_eq!(p["redirect_uri"], redirect);
        assert_eq!(p["scope"], "openid offline_access");
        assert_eq!(p["code_challenge_method"], "S256");
        assert_eq!(p["prompt"], "consent");
        assert!(p["state"].len() >= 43 && p["nonce"].len() >= 43);
        assert_ne!(p["state"], p["nonce"]);
        let answer = get(addr, &callback(&p, "")).await;
        assert_eq!(status(&answer), 200, "{answer}");
        assert!(answer.contains("\r\nCache-Control: no-store\r\n"));
        let got = wait.await.unwrap().unwrap();
        assert_eq!(got.code.expose(), "THE-CODE");
        assert_eq!(got.redirect_uri, redirect);
        assert_eq!(got.nonce.expose(), p["nonce"]);
        assert_eq!(
            crate::idp::pkce::challenge_s256(got.verifier.expose()),
            p["code_challenge"]
        );
        assert!(!format!("{got:?}").contains("THE-CODE"));
        // The listener is closed: a second callback finds nobody.
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn forged_and_stray_requests_are_refused_and_ignored() {
        let (p, addr, wait) = started(&request(Duration::from_secs(10), false)).await;
        // A browser's preconnect that never sends anything holds nothing up.
        let _silent = TcpStream::connect(addr).await.unwrap();
        let wrong = get(addr, "/callback?code=EVIL&state=forged").await;
        assert_eq!(status(&wrong), 400, "{wrong}");
        assert!(wrong.contains("wrong state"));
        let missing = get(addr, "/callback?code=EVIL").await;
        assert_eq!(status(&missing), 400);
        let error_without_state = get(addr, "/callback?error=access_denied").await;
        assert_eq!(status(&error_without_state), 400);
        let favicon = get(addr, "/favicon.ico").await;
        assert_eq!(status(&favicon), 404);
        assert!(favicon.contains("Cache-Control: no-store"));
        let root = get(addr, &callback(&p, "").replace("/callback", "/")).await;
        assert_eq!(status(&root), 404);
        let post = send(
            addr,
            &format!(
                "POST {} HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                callback(&p, "")
            ),
        )
        .await;
        assert_eq!(status(&post), 405);
        let repeated = get(addr, &callback(&p, "&code=OTHER")).await;
        assert_eq!(status(&repeated), 400);
        let huge = get(addr, &format!("/callback?x={}", "a".repeat(MAX_REQUEST))).await;
        assert_eq!(status(&huge), 431);
        assert_eq!(status(&send(addr, "garbage\r\n\r\n").await), 400);
        assert!(!wait.is_finished());
        // The real callback still completes.
        assert_eq!(status(&get(addr, &callback(&p, "")).await), 200);
        assert_eq!(wait.await.unwrap().unwrap().code.expose(), "THE-CODE");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn times_out() {
        let (_, addr, wait) = started(&request(Duration::from_millis(50), false)).await;
        assert_eq!(wait.await.unwrap().unwrap_err(), LoopbackError::Timeout(0));
        assert!(TcpStream::connect(addr).await.is_err());
        assert_eq!(
            LoopbackError::Timeout(180).to_string(),
            "no sign-in came back to the loopback redirect within 180 s"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn another_issuer_is_a_mix_up() {
        let (p, addr, wait) = started(&request(Duration::from_secs(10), false)).await;
        let target = format!(
            "/callback?code=C&state={}&iss=https%3A%2F%2Fevil.example.com",
            p["state"]
        );
        assert_eq!(status(&get(addr, &target).await), 400);
        assert_eq!(
            wait.await.unwrap().unwrap_err(),
            LoopbackError::IssuerMismatch {
                expected: ISSUER.into(),
                found: "https://evil.example.com".into()
            }
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn iss_is_required_when_the_provider_promises_it() {
        let (p, addr, wait) = started(&request(Duration::from_secs(10), true)).await;
        let target = format!("/callback?code=C&state={}", p["state"]);
        assert_eq!(status(&get(addr, &target).await), 400);
        assert_eq!(
            wait.await.unwrap().unwrap_err(),
            LoopbackError::IssuerMissing
        );
        // Without the promise, no iss is fine.
        let (p, addr, wait) = started(&request(Duration::from_secs(10), false)).await;
        let target = format!("/callback?code=C&state={}", p["state"]);
        assert_eq!(status(&get(addr, &target).await), 200);
        assert_eq!(wait.await.unwrap().unwrap().code.expose(), "C");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_provider_error_ends_the_wait_and_is_not_reflected() {
        let (p, addr, wait) = started(&request(Duration::from_secs(10), false)).await;
        let target = format!(
            "/callback?error=access_denied%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_description=%3Cb%3Enope%3C%2Fb%3E&state={}",
            p["state"]
        );
        let answer = get(addr, &target).await;
        assert_eq!(status(&answer), 400);
        assert!(!answer.contains("<script>"), "{answer}");
        assert!(!answer.contains("nope"), "{answer}");
        assert!(answer.contains("access_denied&lt;script&gt;"), "{answer}");
        let err = wait.await.unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the provider refused the sign-in: access_denied<script>alert(1)</script>: <b>nope</b>"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn ports_and_parameters() {
        let taken = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let busy = taken.local_addr().unwrap().port();
        let free = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let req = request(Duration::from_secs(1), false);
        let (_, lb) = Loopback::bind(&req, &[busy, free]).await.unwrap();
        assert_eq!(
            lb.redirect_uri(),
            format!("http://127.0.0.1:{free}/callback")
        );
        drop(lb);
        let err = Loopback::bind(&req, &[busy]).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot listen on 127.0.0.1 port {busy}: ")),
            "{err}"
        );
        let mut bad = req.clone();
        bad.extra = vec![("redirect_uri".into(), "https://evil".into())];
        assert_eq!(
            Loopback::bind(&bad, &[0]).await.unwrap_err(),
            LoopbackError::ReservedParam("redirect_uri".into())
        );
        let mut with_query = req.clone();
        with_query.authorization_endpoint = format!("{ISSUER}/auth?tenant=x");
        let (url, _) = Loopback::bind(&with_query, &[0]).await.unwrap();
        assert!(url.starts_with(&format!("{ISSUER}/auth?tenant=x&response_type=code&")));
        let d = crate::idp::discovery::parse(
            ISSUER,
            "x",
            crate::idp::discovery::tests::document(ISSUER)
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let from = AuthRequest::new(&d, "cli", "openid", vec![]).unwrap();
        assert!(from.iss_required);
        assert_eq!(from.timeout, DEFAULT_TIMEOUT);
        assert_eq!(from.authorization_endpoint, format!("{ISSUER}/auth"));
    }
}
