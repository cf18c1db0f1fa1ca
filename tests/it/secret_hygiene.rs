//! Secret hygiene: every command, on success and on each kind of failure, at every verbosity
//! (default, `-v`, `-vv`, `-q`, `RUST_LOG=trace`, `AWS_OIDC_LOG=trace`, all at once with
//! `RUST_BACKTRACE=full`), must keep the secrets off stderr, and off stdout unless stdout is
//! where that secret was asked to go.
//!
//! The secrets are canaries, all starting with `CANARY`: the ID token's signature
//! (`CANARYjwtsig…`, see `mint_jwt`) and a custom claim (`CANARYclaim…`, which only `token`
//! shows, by design, since it prints every claim), the secret key and session token
//! (`Creds::canary`), the GitHub request token (`CANARYreqtok…`) and the console sign-in token
//! (`CANARYsignin…`). A check removes the values allowed on stdout and then looks for any
//! `CANARY` left, so partial leaks count too.
//!
//! Fakes that echo secrets back (a token endpoint quoting the bearer header, a federation
//! endpoint quoting the session, an STS error message quoting the token) check that aws-oidc
//! never prints a server's body or message as is, and redacts a token STS quotes.
//!
//! Panic paths: the messages of reachable panics (a closed stdout pipe, out-of-range claim
//! times) must hold no secret either.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::*;

const CHAIN_ROLE: &str = "arn:aws:iam::210987654321:role/target";

// ---------------------------------------------------------------------------------------------
// verbosity variants
// ---------------------------------------------------------------------------------------------

struct Variant {
    name: &'static str,
    flags: &'static [&'static str],
    envs: &'static [(&'static str, &'static str)],
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "default",
        flags: &[],
        envs: &[],
    },
    Variant {
        name: "-v",
        flags: &["-v"],
        envs: &[],
    },
    Variant {
        name: "-vv",
        flags: &["-vv"],
        envs: &[],
    },
    Variant {
        name: "-q",
        flags: &["-q"],
        envs: &[],
    },
    Variant {
        name: "RUST_LOG=trace",
        flags: &[],
        envs: &[("RUST_LOG", "trace")],
    },
    Variant {
        name: "AWS_OIDC_LOG=trace",
        flags: &[],
        envs: &[("AWS_OIDC_LOG", "trace")],
    },
    Variant {
        name: "-vv + every log variable",
        flags: &["-vv"],
        envs: &[
            ("RUST_LOG", "trace"),
            ("AWS_OIDC_LOG", "trace"),
            ("RUST_BACKTRACE", "full"),
            ("AWS_OIDC_TEST_SHOW", "1"),
        ],
    },
];

/// The diagnosis commands take no `-v`; `trust-policy` takes `-q`.
fn diagnose_variants(quiet: bool) -> Vec<&'static Variant> {
    VARIANTS
        .iter()
        .filter(|v| v.flags.is_empty() || (quiet && v.flags == ["-q"]))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// one prepared run
// ---------------------------------------------------------------------------------------------

/// What stdout may carry.
#[derive(Clone, Debug, PartialEq)]
enum Stdout {
    /// Nothing secret.
    Clean,
    /// Exactly `ok\n` (exec's command).
    ExecOk,
}

struct Setup {
    env: TestEnv,
    _servers: Vec<FakeServer>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    want_code: i32,
    stdout: Stdout,
    /// Values allowed on stdout (never on stderr).
    stdout_ok: Vec<String>,
    /// Every secret value in play (also checked by the `CANARY` prefix).
    secrets: Vec<String>,
    /// Extra stderr check, e.g. `token --raw` prints only its warning.
    stderr_exact: Option<String>,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            env: TestEnv::new(),
            _servers: Vec::new(),
            args: Vec::new(),
            envs: vec![("AWS_OIDC_RETRY_BASE_DELAY_MS".into(), "10".into())],
            want_code: 0,
            stdout: Stdout::Clean,
            stdout_ok: Vec::new(),
            secrets: Vec::new(),
            stderr_exact: None,
        }
    }
    fn arg(&mut self, a: impl Into<String>) -> &mut Self {
        self.args.push(a.into());
        self
    }
    fn args<S: Into<String> + Clone>(&mut self, a: &[S]) -> &mut Self {
        self.args.extend(a.iter().cloned().map(Into::into));
        self
    }
    fn set(&mut self, k: &str, v: impl Into<String>) -> &mut Self {
        self.envs.push((k.into(), v.into()));
        self
    }
    fn server(&mut self, steps: Vec<Step>) -> String {
        let s = FakeServer::start(steps);
        let url = s.url();
        self._servers.push(s);
        url
    }
    fn jwt(&mut self, claims: serde_json::Value) -> (Jwt, String) {
        let claim = format!("CANARYclaim{}", unique());
        let mut claims = claims;
        claims["deploy_secret_note"] = serde_json::Value::String(claim.clone());
        let jwt = mint_jwt(claims);
        self.secrets.extend(jwt.secrets());
        self.secrets.push(claim.clone());
        (jwt, claim)
    }
    fn creds(&mut self) -> Creds {
        let c = Creds::canary();
        self.secrets.extend(c.secrets());
        c
    }
    /// A GitHub token endpoint serving `steps`, with a canary request token.
    fn github(&mut self, steps: Vec<Step>) {
        self.github_with(|_| steps);
    }
    /// As [`Setup::github`], the steps made knowing the request token (to echo it).
    fn github_with(&mut self, steps: impl FnOnce(&str) -> Vec<Step>) {
        let request_token = format!("CANARYreqtok{}", unique());
        let url = self.server(steps(&request_token));
        self.secrets.push(request_token.clone());
        self.set(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{url}/idtoken?api-version=2.0"),
        );
        self.set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token);
    }

    /// Runs with the variant's flags (before `--` for exec) and variables; returns problems.
    fn run(&self, v: &Variant) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        let split = self
            .args
            .iter()
            .position(|a| a == "--")
            .unwrap_or(self.args.len());
        args.extend(self.args[..split].iter().cloned());
        args.extend(v.flags.iter().map(|s| s.to_string()));
        args.extend(self.args[split..].iter().cloned());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut envs: Vec<(&str, &str)> = self
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        envs.extend(v.envs.iter().copied());
        let run = self.env.run(&a, &envs);
        self.check(&run, v.flags == ["-q"])
    }

    fn check(&self, run: &Run, quiet: bool) -> Vec<String> {
        let mut p = Vec::new();
        if run.timed_out {
            p.push("hung".to_string());
        }
        if run.code != Some(self.want_code) {
            p.push(format!(
                "exit {:?}, want {} (the scenario did not run as intended)",
                run.code, self.want_code
            ));
        }
        for s in &self.secrets {
            if run.stderr.contains(s.as_str()) {
                p.push(format!("secret on stderr: {s}"));
            }
        }
        if let Some(i) = run.stderr.find("CANARY") {
            p.push(format!(
                "canary on stderr: {}",
                &run.stderr[i..(i + 40).min(run.stderr.len())]
            ));
        }
        let mut rest = run.stdout.clone();
        for ok in &self.stdout_ok {
            rest = rest.replace(ok.as_str(), "");
        }
        if let Some(i) = rest.find("CANARY") {
            p.push(format!(
                "canary on stdout: {}",
                &rest[i..(i + 40).min(rest.len())]
            ));
        }
        if self.stdout == Stdout::ExecOk && self.want_code == 0 && run.stdout != "ok\n" {
            p.push(format!("stdout {:?}, want \"ok\\n\"", run.stdout));
        }
        if let Some(want) = &self.stderr_exact
            && !quiet
            && run.stderr != *want
        {
            p.push(format!("stderr {:?}, want exactly {want:?}", run.stderr));
        }
        if run.stderr.contains("panicked") {
            p.push("panicked".into());
        }
        if !p.is_empty() {
            p.push(run.describe());
        }
        p
    }
}

// ---------------------------------------------------------------------------------------------
// the credential commands
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Assume,
    Exec,
    Console,
    CredProc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Success,
    AccessDenied,
    ExpiredTokenSts,
    Transient503,
    Hang,
    /// 200, complete HTTP, XML cut right after the secret key.
    TruncatedXmlWithSecret,
    /// 200, the connection closes inside the session token.
    ResetInsideSecret,
    /// Credentials with a line break in the secret key (rejected by aws-oidc).
    UnprintableSecret,
    JwtExpired,
    /// `AWS_ID_TOKEN` holds a canary that is not a JWT.
    NotAJwt,
    GhSuccess,
    /// 401 whose body quotes the bearer header.
    Gh401Echo,
    Gh500Forever,
    /// 200 with a non-JSON body quoting the bearer header.
    GhNonJsonEcho,
    ChainSuccess,
    ChainDenied,
    /// assume: output under a regular file; console: URL file under one; credential-process:
    /// cache dir under one; exec: a command that does not exist.
    WriteOrRunFailure,
    /// console: federation 400 whose body quotes the session (secret key + session token).
    FedDeniedEcho,
    /// console: federation 200 garbage quoting the session.
    FedGarbageEcho,
    FedForever503,
}

const KINDS: &[Kind] = &[
    Kind::Success,
    Kind::AccessDenied,
    Kind::ExpiredTokenSts,
    Kind::Transient503,
    Kind::Hang,
    Kind::TruncatedXmlWithSecret,
    Kind::ResetInsideSecret,
    Kind::UnprintableSecret,
    Kind::JwtExpired,
    Kind::NotAJwt,
    Kind::GhSuccess,
    Kind::Gh401Echo,
    Kind::Gh500Forever,
    Kind::GhNonJsonEcho,
    Kind::ChainSuccess,
    Kind::ChainDenied,
    Kind::WriteOrRunFailure,
    Kind::FedDeniedEcho,
    Kind::FedGarbageEcho,
    Kind::FedForever503,
];

fn awwi_xml(c: &Creds) -> String {
    awwi_success_xml(c, ROLE_ARN, SESSION_NAME, GITLAB_SUB)
}

/// Builds the run of `cmd` in situation `kind`, or `None` when it does not apply.
fn credential_case(cmd: Cmd, kind: Kind) -> Option<Setup> {
    use Kind::*;
    let fed_only = matches!(kind, FedDeniedEcho | FedGarbageEcho | FedForever503);
    if fed_only && cmd != Cmd::Console {
        return None;
    }
    let mut s = Setup::new();
    let github = matches!(kind, GhSuccess | Gh401Echo | Gh500Forever | GhNonJsonEcho);
    let (jwt, _claim) = s.jwt(if github {
        github_claims()
    } else if kind == JwtExpired {
        let mut c = gitlab_claims();
        c["exp"] = serde_json::json!(now_secs() - 7200);
        c["iat"] = serde_json::json!(now_secs() - 10800);
        c
    } else {
        gitlab_claims()
    });
    let creds = s.creds();
    let chained = s.creds();
    let ok = Step::awwi_ok(&creds);
    let mut timeout = "10";
    let sts_steps = match kind {
        AccessDenied => vec![Step::sts_error(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )],
        ExpiredTokenSts => vec![Step::sts_error(
            "ExpiredToken",
            "Token expired: current date/time 1795000000 must be before the expiration date/time 1794999000",
        )],
        Transient503 => vec![Step::sts_error("ServiceUnavailable", "Service Unavailable")],
        Hang => {
            timeout = "1";
            vec![Step::Hang]
        }
        TruncatedXmlWithSecret => {
            let body = awwi_xml(&creds);
            let n = body.find("</SecretAccessKey>").unwrap();
            vec![Step::xml(200, body[..n].to_string())]
        }
        ResetInsideSecret => {
            let body = awwi_xml(&creds);
            let n = body.find("</SessionToken>").unwrap() - 10;
            vec![Step::truncate(Step::xml(200, body), n)]
        }
        UnprintableSecret => {
            let mut bad = creds.clone();
            bad.secret_access_key = format!("{}\nAWS_EVIL=1", creds.secret_access_key);
            vec![Step::xml(200, awwi_xml(&bad))]
        }
        ChainSuccess => vec![
            ok.clone(),
            Step::xml(
                200,
                assume_role_success_xml(&chained, CHAIN_ROLE, SESSION_NAME),
            ),
        ],
        ChainDenied => vec![
            ok.clone(),
            Step::sts_error(
                "AccessDenied",
                "User: arn:aws:sts::123456789012:assumed-role/ci-role/test-session is not authorized to perform: sts:AssumeRole",
            ),
        ],
        _ => vec![ok.clone()],
    };
    let sts = s.server(sts_steps);
    match kind {
        GhSuccess => s.github(vec![Step::gh_token(&jwt)]),
        Gh401Echo | GhNonJsonEcho | Gh500Forever => s.github_with(|request_token| {
            // An endpoint that quotes the bearer header and the token in its body.
            let echo = format!(
                "{{\"message\":\"Bad credentials\",\"received\":\"Authorization: bearer {request_token}\",\"token\":\"{}\"}}",
                jwt.token
            );
            vec![match kind {
                Gh401Echo => Step::json(401, echo),
                GhNonJsonEcho => Step::respond(200, "text/html", format!("<html>{echo}</html>")),
                _ => Step::text(500, echo),
            }]
        }),
        NotAJwt => {
            let not_jwt = format!("CANARYjwtsig{}-not-a-jwt", unique());
            s.secrets.push(not_jwt.clone());
            s.set("AWS_ID_TOKEN", not_jwt);
        }
        _ => {
            s.set("AWS_ID_TOKEN", jwt.token.clone());
        }
    }

    let signin = format!("CANARYsignin{}", unique());
    s.secrets.push(signin.clone());
    let session_echo = format!(
        "{{\"sessionId\":\"{}\",\"sessionKey\":\"{}\",\"sessionToken\":\"{}\"}}",
        creds.access_key_id, creds.secret_access_key, creds.session_token
    );
    let fed_steps = match kind {
        FedDeniedEcho => vec![Step::text(
            400,
            format!("Bad Request: could not use Session={session_echo}"),
        )],
        FedGarbageEcho => vec![Step::respond(
            200,
            "text/html",
            format!("<html>Session={session_echo}</html>"),
        )],
        FedForever503 => vec![Step::text(503, format!("busy {session_echo}"))],
        _ => vec![Step::json(200, format!("{{\"SigninToken\":\"{signin}\"}}"))],
    };
    let fed = (cmd == Cmd::Console).then(|| format!("{}/federation", s.server(fed_steps)));

    let blocker = s.env.out.join("blocker");
    let cache = s.env.dir.path().join("cache").display().to_string();
    match cmd {
        Cmd::Assume => {
            let out = if kind == WriteOrRunFailure {
                std::fs::write(&blocker, "a file, not a directory").unwrap();
                format!("env={}", blocker.join("aws.env").display())
            } else {
                s.env.output_arg()
            };
            s.args(&["assume", "--output", out.as_str()]);
        }
        Cmd::Exec => {
            s.arg("exec");
        }
        Cmd::Console => {
            s.args(&["console", "--federation-endpoint", fed.as_deref().unwrap()]);
            if kind == WriteOrRunFailure {
                std::fs::write(&blocker, "a file, not a directory").unwrap();
                s.arg("--console-url")
                    .arg(blocker.join("url.txt").display().to_string());
            }
        }
        Cmd::CredProc => {
            s.arg("credential-process").arg("--cache-dir");
            if kind == WriteOrRunFailure {
                std::fs::write(&blocker, "a file, not a directory").unwrap();
                s.arg(blocker.join("cache").display().to_string());
            } else {
                s.arg(cache);
            }
        }
    }
    s.args(&[
        "--role-arn",
        ROLE_ARN,
        "--session-name",
        SESSION_NAME,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        sts.as_str(),
        "--max-attempts",
        "3",
        "--timeout",
        timeout,
    ]);
    if matches!(kind, ChainSuccess | ChainDenied) {
        s.args(&["--chain-role-arn", CHAIN_ROLE, "--external-id", "ext-123"]);
    }
    if cmd == Cmd::Exec {
        s.stdout = Stdout::ExecOk;
        if kind == WriteOrRunFailure {
            s.args(&["--", "/nonexistent/aws-oidc-test-cmd"]);
        } else {
            s.args(&["--", "sh", "-c", "echo ok"]);
        }
    }

    s.want_code = match kind {
        Success | GhSuccess | ChainSuccess => 0,
        AccessDenied | ExpiredTokenSts | ChainDenied | FedDeniedEcho | FedGarbageEcho => 4,
        Transient503
        | Hang
        | TruncatedXmlWithSecret
        | ResetInsideSecret
        | UnprintableSecret
        | Gh500Forever
        | FedForever503 => 5,
        JwtExpired | NotAJwt | Gh401Echo | GhNonJsonEcho => 3,
        WriteOrRunFailure if cmd == Cmd::Exec => 127,
        WriteOrRunFailure => 6,
    };
    // Where the credentials were asked to go.
    let final_creds = if kind == ChainSuccess {
        &chained
    } else {
        &creds
    };
    match cmd {
        Cmd::CredProc if s.want_code == 0 => s.stdout_ok.extend(final_creds.secrets()),
        Cmd::Console if s.want_code == 0 || kind == WriteOrRunFailure => {
            s.stdout_ok.push(signin.clone())
        }
        _ => {}
    }
    Some(s)
}

/// A named way to build a fresh setup (its fakes are scripted per run), and the variant to
/// run it with.
type Job = (String, Box<dyn Fn() -> Setup + Sync>, &'static Variant);

/// Runs every job on a few threads, building each setup just before its run (so that only
/// a few fakes live at once); panics with every problem found.
fn run_all(jobs: Vec<Job>) {
    let next = AtomicUsize::new(0);
    let problems: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..3 {
            sc.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::SeqCst);
                    let Some((name, build, v)) = jobs.get(j) else {
                        break;
                    };
                    let p = build().run(v);
                    if !p.is_empty() {
                        problems.lock().unwrap().push(format!(
                            "[{name} | {}]\n{}",
                            v.name,
                            p.join("\n")
                        ));
                    }
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(
        problems.is_empty(),
        "{} of {} runs leaked or misbehaved:\n\n{}",
        problems.len(),
        jobs.len(),
        problems.join("\n\n")
    );
}

fn credential_cases(cmd: Cmd) {
    let mut jobs: Vec<Job> = Vec::new();
    for &kind in KINDS {
        if credential_case(cmd, kind).is_none() {
            continue;
        }
        for v in VARIANTS {
            jobs.push((
                format!("{cmd:?} {kind:?}"),
                Box::new(move || credential_case(cmd, kind).unwrap()),
                v,
            ));
        }
    }
    run_all(jobs);
}

#[test]
fn assume_keeps_secrets_off_stdout_and_stderr() {
    credential_cases(Cmd::Assume);
}

#[test]
fn exec_keeps_secrets_off_stdout_and_stderr() {
    credential_cases(Cmd::Exec);
}

#[test]
fn console_keeps_credentials_off_stdout_and_everything_off_stderr() {
    credential_cases(Cmd::Console);
}

#[test]
fn credential_process_prints_credentials_only_on_success() {
    credential_cases(Cmd::CredProc);
}

// ---------------------------------------------------------------------------------------------
// the diagnosis commands
// ---------------------------------------------------------------------------------------------

const RAW_WARNING: &str = "aws-oidc: warning: printing the raw ID token: anyone who sees it can assume the roles that trust this job until it expires; never put it in a log\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Diag {
    Token,
    TokenJson,
    TokenRaw,
    TokenGitHub,
    TokenRawGitHub,
    TokenNotAJwt,
    TokenGh401Echo,
    ExplainAllowed,
    ExplainDenied,
    ExplainDeniedJson,
    TrustPolicyFromToken,
    TrustPolicyFromTokenGitHub,
    TrustPolicyFromTokenTerraform,
}

fn diagnose_case(d: Diag) -> Setup {
    use Diag::*;
    let mut s = Setup::new();
    let github = matches!(
        d,
        TokenGitHub | TokenRawGitHub | TrustPolicyFromTokenGitHub | TokenGh401Echo
    );
    let (jwt, claim) = s.jwt(if github {
        github_claims()
    } else {
        gitlab_claims()
    });
    if github {
        if d == TokenGh401Echo {
            // The 401 body quotes the bearer header.
            s.github_with(|rt| {
                vec![Step::json(
                    401,
                    format!("{{\"message\":\"Bad credentials: bearer {rt}\"}}"),
                )]
            });
        } else {
            s.github(vec![Step::gh_token(&jwt)]);
        }
    } else if d == TokenNotAJwt {
        let not_jwt = format!("eyJCANARYjwtsig{}.only-two", unique());
        s.secrets.push(not_jwt.clone());
        s.set("AWS_ID_TOKEN", not_jwt);
    } else {
        s.set("AWS_ID_TOKEN", jwt.token.clone());
    }
    let policy = |sub: &str| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "Deploy",
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.example.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    "gitlab.example.com:aud": AUD,
                    "gitlab.example.com:sub": sub,
                }}
            }]
        })
        .to_string()
    };
    let policy_file = s.env.dir.path().join("trust.json");
    match d {
        Token | TokenGitHub | TokenNotAJwt | TokenGh401Echo => {
            s.arg("token");
        }
        TokenJson => {
            s.args(&["token", "--json"]);
        }
        TokenRaw | TokenRawGitHub => {
            s.args(&["token", "--raw"]);
        }
        ExplainAllowed | ExplainDenied | ExplainDeniedJson => {
            let sub = if d == ExplainAllowed {
                GITLAB_SUB
            } else {
                "project_path:acme/widgets:ref_type:branch:ref:release"
            };
            std::fs::write(&policy_file, policy(sub)).unwrap();
            let path = policy_file.display().to_string();
            s.args(&[
                "explain",
                "--trust-policy",
                path.as_str(),
                "--role-arn",
                ROLE_ARN,
            ]);
            if d == ExplainDeniedJson {
                s.arg("--json");
            }
        }
        TrustPolicyFromToken | TrustPolicyFromTokenGitHub => {
            s.args(&["trust-policy", "--from-token", "--account", ACCOUNT]);
        }
        TrustPolicyFromTokenTerraform => {
            s.args(&[
                "trust-policy",
                "--from-token",
                "--account",
                ACCOUNT,
                "--format",
                "terraform",
            ]);
        }
    }
    s.want_code = match d {
        TokenNotAJwt | TokenGh401Echo => 3,
        ExplainDenied | ExplainDeniedJson => 1,
        _ => 0,
    };
    match d {
        // `token` prints every claim by design: the custom claim, never the signature.
        Token | TokenJson | TokenGitHub => s.stdout_ok.push(claim),
        TokenRaw | TokenRawGitHub => {
            s.stdout_ok.push(jwt.token.clone());
            s.stderr_exact = Some(RAW_WARNING.to_string());
        }
        _ => {}
    }
    s
}

#[test]
fn diagnosis_commands_never_show_the_token_or_the_request_token() {
    use Diag::*;
    let mut jobs: Vec<Job> = Vec::new();
    for d in [
        Token,
        TokenJson,
        TokenRaw,
        TokenGitHub,
        TokenRawGitHub,
        TokenNotAJwt,
        TokenGh401Echo,
        ExplainAllowed,
        ExplainDenied,
        ExplainDeniedJson,
        TrustPolicyFromToken,
        TrustPolicyFromTokenGitHub,
        TrustPolicyFromTokenTerraform,
    ] {
        let quiet = matches!(
            d,
            TrustPolicyFromToken | TrustPolicyFromTokenGitHub | TrustPolicyFromTokenTerraform
        );
        for v in diagnose_variants(quiet) {
            jobs.push((format!("{d:?}"), Box::new(move || diagnose_case(d)), v));
        }
    }
    run_all(jobs);
}

#[test]
fn token_raw_prints_the_token_only_on_stdout_and_only_the_warning_on_stderr() {
    let s = diagnose_case(Diag::TokenRaw);
    let a: Vec<&str> = s.args.iter().map(String::as_str).collect();
    let envs: Vec<(&str, &str)> = s
        .envs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let run = s.env.run(&a, &envs);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(run.stdout, format!("{}\n", s.stdout_ok[0]));
    assert_eq!(run.stderr, RAW_WARNING);
}

// ---------------------------------------------------------------------------------------------
// an STS error message that quotes the token
// ---------------------------------------------------------------------------------------------

fn sts_echo_case() -> Setup {
    let mut s = Setup::new();
    let (jwt, _) = s.jwt(gitlab_claims());
    let sts = s.server(vec![Step::sts_error(
        "ValidationError",
        &format!(
            "1 validation error detected: Value '{}' at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000",
            jwt.token
        ),
    )]);
    s.set("AWS_ID_TOKEN", jwt.token.clone());
    let out = s.env.output_arg();
    s.args(&[
        "assume",
        "--output",
        out.as_str(),
        "--role-arn",
        ROLE_ARN,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        sts.as_str(),
    ]);
    s.want_code = 4;
    s
}

/// An STS (or a proxy or WAF in front of it) whose error message quotes the request's
/// `WebIdentityToken`. aws-oidc prints STS's message as is, so the token lands on stderr.
/// README: "Secrets (the ID token, …) never reach stderr or logs"; the token is known, so it
/// could be cut out of any message before printing.
#[test]
fn sts_error_messages_quoting_the_token_are_redacted() {
    let jobs: Vec<Job> = VARIANTS
        .iter()
        .map(|v| -> Job {
            (
                "ValidationError quoting the token".to_string(),
                Box::new(sts_echo_case),
                v,
            )
        })
        .collect();
    run_all(jobs);
}

// ---------------------------------------------------------------------------------------------
// panic paths
// ---------------------------------------------------------------------------------------------

/// Spawns the binary with stdout a pipe whose reading end is already closed, so the first
/// write fails with EPIPE (Rust ignores SIGPIPE). Returns (exit code, stderr).
fn run_with_closed_stdout(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("RUST_BACKTRACE", "full")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    (status.code(), err)
}

fn assert_no_canary(stderr: &str, what: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !stderr.contains(s.as_str()),
            "{what}: secret on stderr\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("CANARY"),
        "{what}: canary on stderr\n{stderr}"
    );
}

/// Known reachable panic (reported): `println!` on a closed stdout panics with "failed
/// printing to stdout: Broken pipe" (exit 101; SIGABRT in release, `panic = "abort"`).
/// Whatever the exit, the message must not hold the token.
#[test]
fn closed_stdout_never_puts_the_token_on_stderr() {
    let mut setup = Setup::new();
    let (jwt, _) = setup.jwt(gitlab_claims());
    let creds = setup.creds();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let sts_url = sts.url();
    let cache = setup.env.dir.path().join("cache").display().to_string();
    let out = setup.env.out.join("ignored.env").display().to_string();
    let common = [
        "--role-arn",
        ROLE_ARN,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        sts_url.as_str(),
    ];
    let env_out = format!("env={out}");
    let with_common = |head: &[&str]| -> Vec<String> {
        head.iter()
            .chain(common.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let runs: Vec<(&str, Vec<String>)> = vec![
        ("token --raw", vec!["token".into(), "--raw".into()]),
        ("token", vec!["token".into()]),
        ("token --json", vec!["token".into(), "--json".into()]),
        (
            "trust-policy --from-token",
            vec![
                "trust-policy".into(),
                "--from-token".into(),
                "--account".into(),
                ACCOUNT.into(),
            ],
        ),
        (
            "credential-process",
            with_common(&["credential-process", "--cache-dir", cache.as_str()]),
        ),
        (
            "assume -o json (stdout)",
            with_common(&["assume", "--output", "json"]),
        ),
        (
            "assume -o sh (stdout) + env file",
            with_common(&["assume", "--output", "sh", "--output", env_out.as_str()]),
        ),
    ];
    let mut report = Vec::new();
    for (name, args) in runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr) = run_with_closed_stdout(
            &args,
            &[
                ("AWS_ID_TOKEN", jwt.token.as_str()),
                ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
            ],
        );
        assert_no_canary(&stderr, name, &setup.secrets);
        report.push(format!(
            "{name}: exit {code:?}{}",
            if stderr.contains("panicked") {
                " (panicked)"
            } else {
                ""
            }
        ));
    }
    eprintln!("closed stdout:\n  {}", report.join("\n  "));
}

/// Known reachable panic (reported): `token --json` with an `exp` near the i64 limits
/// overflows `exp - now` / `exp + 300` in the JSON report (debug builds panic; release builds
/// print wrapped numbers). The panic message must hold no secret.
#[test]
fn out_of_range_claim_times_never_put_the_token_on_stderr() {
    for exp in [
        serde_json::json!(i64::MAX),
        serde_json::json!(i64::MIN),
        serde_json::json!(1e300),
        serde_json::json!(-1e300),
    ] {
        for args in [
            vec!["token", "--json"],
            vec!["token"],
            vec!["trust-policy", "--from-token", "--account", ACCOUNT],
            vec![
                "assume",
                "-vv",
                "--role-arn",
                ROLE_ARN,
                "--sts-endpoint",
                "http://127.0.0.1:9",
                "--max-attempts",
                "1",
                "--output",
                "json",
            ],
        ] {
            let mut s = Setup::new();
            let mut claims = gitlab_claims();
            claims["exp"] = exp.clone();
            claims["nbf"] = exp.clone();
            let (jwt, _) = s.jwt(claims);
            let run = s.env.run(
                &args,
                &[
                    ("AWS_ID_TOKEN", jwt.token.as_str()),
                    ("RUST_BACKTRACE", "full"),
                ],
            );
            assert!(!run.timed_out, "{}", run.describe());
            assert_no_canary(&run.stderr, &format!("{args:?} exp={exp}"), &s.secrets);
            if args[0] != "token" {
                assert!(
                    !run.stdout.contains("CANARY"),
                    "{args:?}: canary on stdout\n{}",
                    run.describe()
                );
            }
        }
    }
}

/// The request token is a secret too: a token endpoint that is slow, answers 502, then drops
/// the connection, then serves the token; at every verbosity the retries never print it.
#[test]
fn github_request_token_is_never_printed_while_retrying() {
    fn case() -> Setup {
        let mut s = Setup::new();
        let (jwt, _) = s.jwt(github_claims());
        let creds = s.creds();
        let sts = s.server(vec![Step::awwi_ok(&creds)]);
        s.github(vec![
            Step::slow(Duration::from_millis(200), Step::text(502, "bad gateway")),
            Step::Close,
            Step::gh_token(&jwt),
        ]);
        let out = s.env.output_arg();
        s.args(&[
            "assume",
            "--output",
            out.as_str(),
            "--role-arn",
            ROLE_ARN,
            "--region",
            "us-east-1",
            "--sts-endpoint",
            sts.as_str(),
            "--max-attempts",
            "3",
        ]);
        s
    }
    let jobs: Vec<Job> = VARIANTS
        .iter()
        .map(|v| -> Job {
            (
                "GitHub 502, close, then token".to_string(),
                Box::new(case),
                v,
            )
        })
        .collect();
    run_all(jobs);
}
