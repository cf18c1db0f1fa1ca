//! In-process fakes shared by the integration tests.
//!
//! * [`FakeServer`]: a scripted HTTP/1.1 server on `127.0.0.1:0` (std `TcpListener` + threads)
//!   that records every request. Used both as a fake STS and as a fake GitHub token endpoint.
//! * STS query-protocol XML builders ([`awwi_success`], [`assume_role_success`], [`sts_error`]).
//! * [`mint_jwt`]: an unsigned but well-formed JWT carrying a canary in its signature.
//! * [`TestEnv`]: a temp dir + a runner for the built binary with a cleared environment.
//! * [`assert_no_secrets`]: canary leak check on stdout/stderr.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Unique values / canaries
// ---------------------------------------------------------------------------------------------

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique alphanumeric suffix (process id, counter, clock), usable inside base64url and XML.
pub fn unique() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}x{:x}x{:08x}", std::process::id(), n, nanos)
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a unix timestamp.
pub fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

// ---------------------------------------------------------------------------------------------
// base64url / JWT
// ---------------------------------------------------------------------------------------------

pub fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len() * 4 / 3 + 3);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// An unsigned, well-formed JWT. The signature segment is a literal canary string (valid
/// base64url, length multiple of 4) so a leak of the token or its signature is detectable.
#[derive(Clone, Debug)]
pub struct Jwt {
    pub token: String,
    pub header_b64: String,
    pub payload_b64: String,
    pub signature: String,
    pub claims: serde_json::Value,
}

impl Jwt {
    /// Strings that must never appear on stderr (and stdout unless a stdout format was asked).
    pub fn secrets(&self) -> Vec<String> {
        vec![
            self.token.clone(),
            self.payload_b64.clone(),
            self.signature.clone(),
        ]
    }
}

pub fn mint_jwt(claims: serde_json::Value) -> Jwt {
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "fake-test-key"});
    let header_b64 = b64url(header.to_string().as_bytes());
    let payload_b64 = b64url(claims.to_string().as_bytes());
    let mut signature = format!("CANARYjwtsig{}", unique().replace('x', "X"));
    while !signature.len().is_multiple_of(4) || signature.len() < 40 {
        signature.push('Q');
    }
    let token = format!("{header_b64}.{payload_b64}.{signature}");
    Jwt {
        token,
        header_b64,
        payload_b64,
        signature,
        claims,
    }
}

pub const GITLAB_ISS: &str = "https://gitlab.example.com";
pub const GITLAB_SUB: &str = "project_path:acme/widgets:ref_type:branch:ref:main";
pub const GITHUB_ISS: &str = "https://token.actions.githubusercontent.com";
pub const GITHUB_SUB: &str = "repo:acme/widgets:ref:refs/heads/main";
pub const AUD: &str = "sts.amazonaws.com";

/// GitLab-style claims valid for an hour.
pub fn gitlab_claims() -> serde_json::Value {
    let now = now_secs();
    serde_json::json!({
        "iss": GITLAB_ISS,
        "aud": AUD,
        "sub": GITLAB_SUB,
        "namespace_path": "acme",
        "project_path": "acme/widgets",
        "ref": "main",
        "ref_type": "branch",
        "pipeline_id": "4242",
        "job_id": "777",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 3600,
    })
}

/// GitHub-style claims valid for 5 minutes.
pub fn github_claims() -> serde_json::Value {
    let now = now_secs();
    serde_json::json!({
        "iss": GITHUB_ISS,
        "aud": AUD,
        "sub": GITHUB_SUB,
        "repository": "acme/widgets",
        "repository_owner": "acme",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "run_id": "1234567890",
        "workflow_ref": "acme/widgets/.github/workflows/ci.yml@refs/heads/main",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
    })
}

// ---------------------------------------------------------------------------------------------
// STS XML
// ---------------------------------------------------------------------------------------------

pub const ACCOUNT: &str = "123456789012";
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/ci-role";
pub const ROLE_NAME: &str = "ci-role";
pub const SESSION_NAME: &str = "test-session";
const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Canary credentials for one STS answer.
#[derive(Clone, Debug)]
pub struct Creds {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: String,
}

impl Creds {
    pub fn canary() -> Creds {
        let u = unique();
        // ASIA + 16 upper-case alphanumerics, like a real temporary access key id.
        let mut akid: String = u
            .to_uppercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        akid = format!("{:X<16}", akid);
        akid = akid[akid.len() - 16..].to_string();
        Creds {
            access_key_id: format!("ASIA{akid}"),
            secret_access_key: format!("CANARYsecret{u}/AbCdEfGhIjKlMnOp+QrStUvWx"),
            session_token: format!(
                "CANARYsession{u}IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+abc/def=="
            ),
            expiration: rfc3339(now_secs() + 3600),
        }
    }

    /// Values that must never appear on stderr (the access key id is not a secret).
    pub fn secrets(&self) -> Vec<String> {
        vec![self.secret_access_key.clone(), self.session_token.clone()]
    }
}

fn request_id() -> String {
    let u = unique();
    format!(
        "c6104cbe-af31-11e0-8154-{:0>12}",
        &u[u.len().saturating_sub(12)..]
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn credentials_xml(c: &Creds) -> String {
    format!(
        "    <Credentials>\n      <SessionToken>{}</SessionToken>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <Expiration>{}</Expiration>\n      <AccessKeyId>{}</AccessKeyId>\n    </Credentials>\n",
        xml_escape(&c.session_token),
        xml_escape(&c.secret_access_key),
        c.expiration,
        c.access_key_id
    )
}

/// A successful `AssumeRoleWithWebIdentityResponse` for `role_arn` (account + role name parsed
/// from the ARN) and `session`.
pub fn awwi_success_xml(c: &Creds, role_arn: &str, session: &str, sub: &str) -> String {
    let (account, role) = split_role_arn(role_arn);
    format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{STS_NS}\">\n  <AssumeRoleWithWebIdentityResult>\n    <SubjectFromWebIdentityToken>{sub}</SubjectFromWebIdentityToken>\n    <Audience>{AUD}</Audience>\n    <AssumedRoleUser>\n      <Arn>arn:aws:sts::{account}:assumed-role/{role}/{session}</Arn>\n      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:{session}</AssumedRoleId>\n    </AssumedRoleUser>\n{}    <PackedPolicySize>6</PackedPolicySize>\n    <Provider>{GITLAB_ISS}</Provider>\n  </AssumeRoleWithWebIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleWithWebIdentityResponse>\n",
        credentials_xml(c),
        request_id(),
        sub = xml_escape(sub),
    )
}

/// A successful `AssumeRoleResponse`.
pub fn assume_role_success_xml(c: &Creds, role_arn: &str, session: &str) -> String {
    let (account, role) = split_role_arn(role_arn);
    format!(
        "<AssumeRoleResponse xmlns=\"{STS_NS}\">\n  <AssumeRoleResult>\n    <SourceIdentity>ci</SourceIdentity>\n    <AssumedRoleUser>\n      <Arn>arn:aws:sts::{account}:assumed-role/{role}/{session}</Arn>\n      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:{session}</AssumedRoleId>\n    </AssumedRoleUser>\n{}    <PackedPolicySize>6</PackedPolicySize>\n  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n",
        credentials_xml(c),
        request_id(),
    )
}

/// `(account, role name)` from `arn:aws:iam::ACCOUNT:role/path/NAME`.
pub fn split_role_arn(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let account = parts.get(4).copied().unwrap_or(ACCOUNT).to_string();
    let role = parts
        .get(5)
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or(ROLE_NAME)
        .to_string();
    (account, role)
}

pub fn sts_error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{STS_NS}\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        xml_escape(code),
        xml_escape(message),
        request_id()
    )
}

/// HTTP status STS uses for an error code.
pub fn sts_error_status(code: &str) -> u16 {
    match code {
        "AccessDenied" | "IDPRejectedClaim" | "RegionDisabledException" => 403,
        "ServiceUnavailable" => 503,
        "InternalFailure" | "InternalError" => 500,
        _ => 400,
    }
}

// ---------------------------------------------------------------------------------------------
// Scripted HTTP server
// ---------------------------------------------------------------------------------------------

/// One scripted reaction to one request.
#[derive(Clone, Debug)]
pub enum Step {
    /// A complete response.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request, then close the connection without answering.
    Close,
    /// Send status + headers (with the full Content-Length) and the first `send` bytes of the
    /// body, then close.
    Truncated {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        send: usize,
    },
    /// Read the request and never answer (until the server is dropped).
    Hang,
    /// Wait `delay`, then do `then`.
    Slow { delay: Duration, then: Box<Step> },
    /// Send status + headers, then a chunked body that never ends (until the client goes).
    Endless {
        status: u16,
        headers: Vec<(String, String)>,
    },
}

impl Step {
    pub fn respond(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Step {
        Step::Respond {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }
    pub fn xml(status: u16, body: impl Into<Vec<u8>>) -> Step {
        let mut s = Step::respond(status, "text/xml", body);
        if let Step::Respond { headers, .. } = &mut s {
            headers.push(("x-amzn-RequestId".into(), request_id()));
        }
        s
    }
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Step {
        Step::respond(status, "application/json; charset=utf-8", body)
    }
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Step {
        Step::respond(status, "text/plain", body)
    }
    /// STS `AssumeRoleWithWebIdentity` success for the default role/session.
    pub fn awwi_ok(c: &Creds) -> Step {
        Step::xml(200, awwi_success_xml(c, ROLE_ARN, SESSION_NAME, GITLAB_SUB))
    }
    /// STS `ErrorResponse` with the status STS uses for `code`.
    pub fn sts_error(code: &str, message: &str) -> Step {
        Step::xml(sts_error_status(code), sts_error_xml(code, message))
    }
    /// GitHub token endpoint success.
    pub fn gh_token(jwt: &Jwt) -> Step {
        Step::json(
            200,
            serde_json::json!({ "count": 1, "value": jwt.token }).to_string(),
        )
    }
    /// First `send` bytes of `inner` (a `Respond`) then close.
    pub fn truncate(inner: Step, send: usize) -> Step {
        match inner {
            Step::Respond {
                status,
                headers,
                body,
            } => Step::Truncated {
                status,
                headers,
                body,
                send,
            },
            other => panic!("truncate() needs Step::Respond, got {other:?}"),
        }
    }
    /// `200`, `content_type`, then an endless chunked body.
    pub fn endless(content_type: &str) -> Step {
        Step::Endless {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
        }
    }
    pub fn slow(delay: Duration, then: Step) -> Step {
        Step::Slow {
            delay,
            then: Box::new(then),
        }
    }
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query, exactly as sent on the request line.
    pub target: String,
    /// Header names as sent (compare case-insensitively with [`Request::header`]).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Decoded `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> Vec<(String, String)> {
        parse_form(&self.body_str())
    }
    pub fn form_map(&self) -> HashMap<String, String> {
        self.form().into_iter().collect()
    }
    pub fn form_value(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

struct State {
    steps: Vec<Step>,
    next: AtomicUsize,
    requests: Mutex<Vec<Request>>,
    shutdown: AtomicBool,
    keep_alive: bool,
}

/// Scripted HTTP/1.1 server. Each request takes the next step; the last step repeats.
/// Dropping the server stops it (hanging connections are then closed).
pub struct FakeServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Start a server that answers with `Connection: close` (one request per connection).
    pub fn start(steps: Vec<Step>) -> FakeServer {
        FakeServer::start_with(steps, false)
    }

    /// Start a server; with `keep_alive` connections are reused as HTTP/1.1 allows.
    pub fn start_with(steps: Vec<Step>, keep_alive: bool) -> FakeServer {
        assert!(!steps.is_empty(), "FakeServer needs at least one step");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            steps,
            next: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            keep_alive,
        });
        let st = state.clone();
        let accept = thread::spawn(move || {
            while !st.shutdown.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let st = st.clone();
                        thread::spawn(move || serve_connection(stream, st));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        FakeServer {
            addr,
            state,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }
    pub fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    drop(l);
    p
}

enum ReadOutcome {
    Request(Request),
    Closed,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Read more bytes into `buf`; `Ok(false)` on EOF or shutdown.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, st: &State) -> std::io::Result<bool> {
    let mut tmp = [0u8; 16 * 1024];
    loop {
        if st.shutdown.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match stream.read(&mut tmp) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
}

fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    st: &State,
) -> std::io::Result<ReadOutcome> {
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p;
        }
        if !fill(stream, buf, st)? {
            return Ok(ReadOutcome::Closed);
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };

    if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }

    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let line_end = loop {
                if let Some(p) = find(buf, b"\r\n") {
                    break p;
                }
                if !fill(stream, buf, st)? {
                    return Ok(ReadOutcome::Closed);
                }
            };
            let size_line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("0").trim(), 16)
                .unwrap_or(0);
            buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers until empty line.
                loop {
                    if let Some(p) = find(buf, b"\r\n") {
                        let empty = p == 0;
                        buf.drain(..p + 2);
                        if empty {
                            break;
                        }
                    } else if !fill(stream, buf, st)? {
                        break;
                    }
                }
                break;
            }
            while buf.len() < size + 2 {
                if !fill(stream, buf, st)? {
                    return Ok(ReadOutcome::Closed);
                }
            }
            body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
        }
    } else {
        let len: usize = get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < len {
            if !fill(stream, buf, st)? {
                return Ok(ReadOutcome::Closed);
            }
        }
        body = buf.drain(..len).collect();
    }
    Ok(ReadOutcome::Request(Request {
        method,
        target,
        headers,
        body,
        at: Instant::now(),
    }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn head_bytes(
    status: u16,
    headers: &[(String, String)],
    body_len: usize,
    keep_alive: bool,
) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has("content-length") {
        h.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    if !has("date") {
        h.push_str("Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n");
    }
    if !keep_alive && !has("connection") {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// Sleep up to `d`, returning early (false) on shutdown.
fn sleep_unless_shutdown(d: Duration, st: &State) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if st.shutdown.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep(Duration::from_millis(10).min(end.saturating_duration_since(Instant::now())));
    }
    true
}

/// Perform one step; returns whether the connection may be reused.
fn perform(stream: &mut TcpStream, step: &Step, st: &State) -> std::io::Result<bool> {
    match step {
        Step::Respond {
            status,
            headers,
            body,
        } => {
            let mut out = head_bytes(*status, headers, body.len(), st.keep_alive);
            out.extend_from_slice(body);
            stream.write_all(&out)?;
            stream.flush()?;
            let close_hdr = headers.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
            });
            Ok(st.keep_alive && !close_hdr)
        }
        Step::Close => Ok(false),
        Step::Truncated {
            status,
            headers,
            body,
            send,
        } => {
            let mut out = head_bytes(*status, headers, body.len(), st.keep_alive);
            out.extend_from_slice(&body[..(*send).min(body.len())]);
            stream.write_all(&out)?;
            stream.flush()?;
            thread::sleep(Duration::from_millis(20));
            Ok(false)
        }
        Step::Hang => {
            while !st.shutdown.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            Ok(false)
        }
        Step::Slow { delay, then } => {
            if !sleep_unless_shutdown(*delay, st) {
                return Ok(false);
            }
            perform(stream, then, st)
        }
        Step::Endless { status, headers } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(*status));
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes())?;
            let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
            chunk.extend(std::iter::repeat_n(b'A', 64 * 1024));
            chunk.extend_from_slice(b"\r\n");
            // Until the client closes (a write error) or the server stops.
            while !st.shutdown.load(Ordering::SeqCst) {
                stream.write_all(&chunk)?;
            }
            Ok(false)
        }
    }
}

fn serve_connection(mut stream: TcpStream, st: Arc<State>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    while let Ok(ReadOutcome::Request(req)) = read_request(&mut stream, &mut buf, &st) {
        let idx = st.next.fetch_add(1, Ordering::SeqCst);
        let step = st.steps[idx.min(st.steps.len() - 1)].clone();
        st.requests.lock().unwrap().push(req);
        match perform(&mut stream, &step, &st) {
            Ok(true) => continue,
            _ => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

pub const BIN: &str = env!("CARGO_BIN_EXE_aws-oidc");

#[derive(Debug)]
pub struct Run {
    /// `None` when killed by a signal or by the watchdog.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

impl Run {
    pub fn describe(&self) -> String {
        format!(
            "exit={:?} elapsed={:?} timed_out={}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.elapsed, self.timed_out, self.stdout, self.stderr
        )
    }
    /// The `hint:` lines of stderr plus their indented continuation lines, lower-cased.
    pub fn hints(&self) -> String {
        let mut out = Vec::new();
        let mut in_hint = false;
        for line in self.stderr.lines() {
            let t = line.trim_start();
            if t.to_ascii_lowercase().starts_with("hint:") {
                in_hint = true;
                out.push(t);
            } else if in_hint && line.starts_with(' ') && !t.is_empty() {
                out.push(t);
            } else {
                in_hint = false;
            }
        }
        out.join("\n").to_ascii_lowercase()
    }
}

/// A temp dir with `home/` (HOME) and `out/` (where outputs go), plus the binary runner.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub out: PathBuf,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let out = dir.path().join("out");
        std::fs::create_dir(&home).unwrap();
        std::fs::create_dir(&out).unwrap();
        TestEnv { dir, home, out }
    }

    /// `<tmp>/out/aws.env`
    pub fn env_file(&self) -> PathBuf {
        self.out.join("aws.env")
    }

    /// `--output env=<tmp>/out/aws.env`
    pub fn output_arg(&self) -> String {
        format!("env={}", self.env_file().display())
    }

    /// Names of everything in `out/` (should be empty after a failed run).
    pub fn out_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    pub fn assert_no_output(&self, run: &Run) {
        assert!(
            !self.env_file().exists(),
            "output file exists after a failed run\n{}",
            run.describe()
        );
        assert!(
            self.out_entries().is_empty(),
            "output dir not empty after a failed run: {:?}\n{}",
            self.out_entries(),
            run.describe()
        );
    }

    /// Run the binary with a cleared environment: only PATH, HOME=<tmp>/home and `envs`.
    /// The working directory is `<tmp>/out`. Killed after 30 s.
    pub fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        run_bin(&self.home, &self.out, args, envs, Duration::from_secs(30))
    }
}

pub fn run_bin(
    home: &Path,
    cwd: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    limit: Duration,
) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("HOME", home)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {BIN}: {e}"));
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let to = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = so.read_to_end(&mut s);
        s
    });
    let te = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        s
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&to.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&te.join().unwrap()).into_owned();
    let run = Run {
        code: status.code(),
        stdout,
        stderr,
        elapsed,
        timed_out,
    };
    // `AWS_OIDC_TEST_SHOW=1 cargo test --test it faults:: -- --nocapture` prints every run.
    if std::env::var_os("AWS_OIDC_TEST_SHOW").is_some() {
        eprintln!("=== {BIN} {args:?}\n{}", run.describe());
    }
    run
}

/// Assert that no secret occurs on stderr, nor on stdout unless `stdout_may_hold_secrets`.
pub fn assert_no_secrets<S: AsRef<str>>(run: &Run, secrets: &[S], stdout_may_hold_secrets: bool) {
    for s in secrets {
        let s = s.as_ref();
        assert!(!s.is_empty());
        assert!(
            !run.stderr.contains(s),
            "secret {s:?} leaked on stderr\n{}",
            run.describe()
        );
        if !stdout_may_hold_secrets {
            assert!(
                !run.stdout.contains(s),
                "secret {s:?} leaked on stdout\n{}",
                run.describe()
            );
        }
    }
    // The canary prefixes catch partial leaks (e.g. a truncated secret).
    for prefix in [
        "CANARYsecret",
        "CANARYsession",
        "CANARYjwtsig",
        "CANARYreqtok",
    ] {
        assert!(
            !run.stderr.contains(prefix),
            "canary {prefix} leaked on stderr\n{}",
            run.describe()
        );
        if !stdout_may_hold_secrets {
            assert!(
                !run.stdout.contains(prefix),
                "canary {prefix} leaked on stdout\n{}",
                run.describe()
            );
        }
    }
}

/// Parse `KEY=value` lines.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not KEY=value: {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}
