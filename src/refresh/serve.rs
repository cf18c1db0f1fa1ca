//! `exec --serve`: a credential endpoint on 127.0.0.1 in the container-credentials
//! format SDKs read through `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`, alive exactly as long as the command.
//!
//! Every request must carry the random token; the credentials it serves come
//! from a [`Provider`], which refreshes them behind the scenes.

use std::ffi::OsString;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::failure::{Failure, Kind};
use crate::process;
use crate::refresh::Provider;
use crate::secret::Secret;

const MAX_REQUEST: usize = 16 * 1024;

/// Serves credentials to CMD and returns CMD's exit status. `remove` names a variable
/// to take out of CMD's environment (the ID token's).
pub async fn run(
    provider: Provider,
    argv: &[OsString],
    region: &str,
    remove: Option<&str>,
) -> Result<u8, Failure> {
    // Fail before starting CMD if no credentials can be had at all.
    provider.get().await?;
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| Failure::new(Kind::Internal, format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::new(Kind::Internal, e.to_string()))?
        .port();
    let token = Secret::new(format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    ));
    let provider = Arc::new(provider);
    let server = {
        let (provider, token) = (provider.clone(), token.clone());
        let listener = Arc::new(listener);
        tokio::spawn(accept_loop(
            move || {
                let listener = listener.clone();
                async move { accept(&listener).await }
            },
            move |stream| {
                let (provider, token) = (provider.clone(), token.clone());
                async move { handle(stream, &provider, &token).await }
            },
        ))
    };
    let mut base = process::base_command(argv);
    if let Some(name) = remove {
        base.env_remove(name);
    }
    let mut cmd = tokio::process::Command::from(base);
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("http://127.0.0.1:{port}/credentials"),
    )
    .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.expose())
    .env("AWS_REGION", region)
    .env("AWS_DEFAULT_REGION", region);
    tracing::info!("serving credentials on 127.0.0.1:{port} to the command");
    // Before CMD starts: a stop signal arriving at any time must reach it.
    let signals = Signals::install();
    let child = cmd.spawn();
    let code = match child {
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!(
                "aws-oidc: error: cannot run `{}`: {e}",
                argv[0].to_string_lossy()
            );
            code
        }
        Ok(mut child) => wait_forwarding_signals(&mut child, signals).await,
    };
    server.abort();
    Ok(code)
}

/// The next connection, with Nagle's algorithm off: an answer is one write, and an SDK's
/// client waits for it on a fresh connection each time, so nothing may sit in the socket
/// waiting for an ACK (a delayed ACK can hold a small segment back for up to 40 ms).
async fn accept(listener: &TcpListener) -> std::io::Result<TcpStream> {
    let (stream, _) = listener.accept().await?;
    // A client that has already reset the connection can make this fail (EINVAL on the
    // BSDs): that is no accept error to back off from, and serving it fails on its own.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Connections served at once; more wait in the listener's backlog until one ends.
const MAX_CONNECTIONS: usize = 64;
/// The pause after a failed `accept`, doubling from the first to the second.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));
/// While `accept` keeps failing, how often that is logged again.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(60);

/// Accepts connections and hands each to `handle`, for ever: at most [`MAX_CONNECTIONS`] at
/// once, and after a failed accept (out of file descriptors, typically: the pending
/// connection stays queued, so trying again at once would spin) a pause of 10 ms doubling
/// to 1 s. A run of failures is logged once, then every minute, and its end once.
async fn accept_loop<C, A, AF, H, HF>(mut accept: A, mut handle: H)
where
    A: FnMut() -> AF,
    AF: Future<Output = std::io::Result<C>>,
    H: FnMut(C) -> HF,
    HF: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut failures = Failures::default();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match accept().await {
            Ok(conn) => {
                failures.ended();
                let served = handle(conn);
                tokio::spawn(async move {
                    served.await;
                    drop(slot);
                });
            }
            Err(e) => {
                drop(slot);
                let pause = failures.failed(&e);
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Failed accepts: how many in the current run, the current pause, and when a failure was
/// last logged (across runs, so that accepts flapping between failure and success while
/// descriptors are scarce log once a minute, not once per run).
#[derive(Default)]
struct Failures {
    count: u64,
    pause: Duration,
    logged_at: Option<Instant>,
    run_logged: bool,
}

impl Failures {
    /// Counts a failure, logs it if due, and returns the pause before the next accept.
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.count += 1;
        self.pause = if self.count == 1 {
            ACCEPT_BACKOFF.0
        } else {
            (self.pause * 2).min(ACCEPT_BACKOFF.1)
        };
        if self
            .logged_at
            .is_none_or(|at| at.elapsed() >= ACCEPT_LOG_EVERY)
        {
            tracing::warn!(
                "credential endpoint: cannot accept a connection ({} in a row): {e}; retrying with backoff",
                self.count
            );
            self.logged_at = Some(Instant::now());
            self.run_logged = true;
        }
        self.pause
    }

    /// An accept worked: the end of a run of failures, if there was one (logged when its
    /// start was).
    fn ended(&mut self) {
        if self.count > 0 && self.run_logged {
            tracing::warn!(
                "credential endpoint: accepting connections again after {} failure(s)",
                self.count
            );
        }
        self.count = 0;
        self.run_logged = false;
    }
}

/// The stop signals a CI runner sends, caught so that they can be passed on to CMD.
struct Signals {
    #[cfg(unix)]
    rx: tokio::sync::mpsc::UnboundedReceiver<rustix::process::Signal>,
}

impl Signals {
    fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let kinds = [
                (SignalKind::interrupt(), rustix::process::Signal::INT),
                (SignalKind::terminate(), rustix::process::Signal::TERM),
                (SignalKind::hangup(), rustix::process::Signal::HUP),
                (SignalKind::quit(), rustix::process::Signal::QUIT),
            ];
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            for (kind, sig) in kinds {
                // Registered here, synchronously; the tasks only relay.
                if let Ok(mut stream) = signal(kind) {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while stream.recv().await.is_some() {
                            if tx.send(sig).is_err() {
                                break;
                            }
                        }
                    });
                }
            }
            Signals { rx }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }
}

/// Waits for CMD, passing on the signals a CI runner sends to stop a job.
#[cfg_attr(not(unix), allow(unused_mut, unused_variables))]
async fn wait_forwarding_signals(child: &mut tokio::process::Child, mut signals: Signals) -> u8 {
    #[cfg(unix)]
    {
        loop {
            tokio::select! {
                status = child.wait() => return status_code(status),
                Some(sig) = signals.rx.recv() => {
                    if let Some(pid) = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32)) {
                        let _ = rustix::process::kill_process(pid, sig);
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        status_code(child.wait().await)
    }
}

fn status_code(status: std::io::Result<std::process::ExitStatus>) -> u8 {
    match status {
        Ok(s) => {
            if let Some(code) = s.code() {
                return code.clamp(0, 255) as u8;
            }
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(sig) = s.signal() {
                    return (128 + sig).clamp(0, 255) as u8;
                }
            }
            1
        }
        Err(_) => 1,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerCredentials<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    token: &'a str,
    expiration: String,
    account_id: &'a str,
    role_arn: &'a str,
}

async fn handle(mut stream: TcpStream, provider: &Provider, token: &Secret) {
    let head = match tokio::time::timeout(Duration::from_secs(5), read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return,
    };
    let (status, body) = respond(&head, provider, token).await;
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn respond(head: &str, provider: &Provider, token: &Secret) -> (u16, String) {
    let message = |m: &str| serde_json::json!({ "message": m }).to_string();
    let method = head.split(' ').next().unwrap_or_default();
    if method != "GET" {
        return (405, message("only GET"));
    }
    let auth = head.lines().skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_string())
    });
    match auth {
        None => return (401, message("missing Authorization")),
        Some(a) if !same(&a, token.expose()) => return (403, message("wrong Authorization")),
        Some(_) => {}
    }
    match provider.get().await {
        Ok(a) => {
            let c = &a.credentials;
            let body = ContainerCredentials {
                access_key_id: &c.access_key_id,
                secret_access_key: c.secret_access_key.expose(),
                token: c.session_token.expose(),
                expiration: c.expiration_rfc3339(),
                account_id: &a.account_id,
                role_arn: &a.assumed_role_arn,
            };
            (200, serde_json::to_string(&body).unwrap_or_default())
        }
        Err(f) => {
            eprint!("{f}");
            (500, message(&f.message))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// An accept that fails (EMFILE) while `failing` is set, and counts its calls.
    fn acceptor(
        failing: Arc<AtomicBool>,
        calls: Arc<AtomicUsize>,
    ) -> impl FnMut() -> std::future::Ready<std::io::Result<usize>> {
        move || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(if failing.load(Ordering::SeqCst) {
                Err(std::io::Error::from_raw_os_error(24))
            } else {
                Ok(n)
            })
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failing_accepts_back_off_then_recover() {
        let failing = Arc::new(AtomicBool::new(true));
        let calls = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let s = served.clone();
        let server = tokio::spawn(super::accept_loop(
            acceptor(failing.clone(), calls.clone()),
            move |_| {
                s.fetch_add(1, Ordering::SeqCst);
                async {}
            },
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        // 10, 20, 40 … 640 ms: about 7 tries in a second, not millions.
        let tried = calls.load(Ordering::SeqCst);
        assert!((3..=12).contains(&tried), "{tried} accepts in 1 s");
        failing.store(false, Ordering::SeqCst);
        let start = Instant::now();
        while served.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(served.load(Ordering::SeqCst) > 0, "not serving again");
        server.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connections_are_capped() {
        let calls = Arc::new(AtomicUsize::new(0));
        let server = tokio::spawn(super::accept_loop(
            acceptor(Arc::new(AtomicBool::new(false)), calls.clone()),
            // Connections that never end.
            |_| std::future::pending::<()>(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(calls.load(Ordering::SeqCst), super::MAX_CONNECTIONS);
        server.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connections_have_nagle_off() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr);
        let (accepted, _client) = tokio::join!(super::accept(&listener), client);
        assert!(accepted.unwrap().nodelay().unwrap(), "TCP_NODELAY is off");
    }

    #[test]
    fn constant_time_compare() {
        assert!(super::same("abc", "abc"));
        assert!(!super::same("abc", "abd"));
        assert!(!super::same("abc", "ab"));
    }
}
