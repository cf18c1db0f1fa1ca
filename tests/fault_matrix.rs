//! Fault matrix: every network fault × every credential command × "once, then success" and
//! "forever", against the in-process fake STS, fake GitHub token endpoint and fake federation
//! endpoint (`tests/support`). Each row checks the exit code, how many requests the faulted
//! server saw, the wall time, that a failure leaves no output (no env file, no cache entry, no
//! URL, the command not run) and that no canary secret reaches stdout/stderr.
//!
//! Then the kill test: `assume` writing an env file and a profile over previous ones is
//! SIGKILLed at many points (before STS answers, in 0.5 ms steps around the answer, at random);
//! every target must be byte-identical to the previous file or the complete new one.
//!
//! A `harness = false` target (Cargo.toml): libtest does not run it, so there are no
//! `#[test]` functions here. `fn main` runs each test in `TESTS` (the matrix: every row on 4
//! threads; then the kill test), catches a panic in one so the others still run, prints each
//! table, `test NAME ... ok|FAILED`, and last the line `N passed, M failed` (rows and kill runs;
//! a panicked test counts as one failure), and exits non-zero on any failure. A positional
//! argument filters rows (`cargo test --test fault_matrix -- console`; `kill` runs only the
//! kill test). `FAULT_MATRIX_VERBOSE=1` adds each failing run's stdout/stderr.
//!
//! Rows marked xfail are known gaps (listed with the reason under the table); they do not
//! fail the run, but an xfail row that starts passing does (XPASS), so that the mark goes.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::*;

const MAX_ATTEMPTS: &str = "3";
const THREADS: usize = 4;
/// `--timeout` for rows whose server hangs, and for the others (generous: no row needs it).
const HANG_TIMEOUT_S: u64 = 3;
const TIMEOUT_S: u64 = 10;

const VERIFICATION_KEY_MSG: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

// ---------------------------------------------------------------------------------------------
// the matrix
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Assume,
    Exec,
    Console,
    CredProc,
}

impl Cmd {
    const ALL: [Cmd; 4] = [Cmd::Assume, Cmd::Exec, Cmd::Console, Cmd::CredProc];
    fn name(self) -> &'static str {
        match self {
            Cmd::Assume => "assume",
            Cmd::Exec => "exec",
            Cmd::Console => "console",
            Cmd::CredProc => "credential-process",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The fault, then success.
    Once,
    /// The fault on every request.
    Forever,
}

/// Which fake carries the fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    Sts,
    Token,
    Federation,
}

impl Where {
    fn name(self) -> &'static str {
        match self {
            Where::Sts => "sts",
            Where::Token => "token",
            Where::Federation => "fed",
        }
    }
}

/// How the binary must treat the fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Retried: once → success after 2 requests; forever → exit 5 after --max-attempts.
    Transient,
    /// Not retried: exit with this code after 1 request, whatever follows.
    Permanent(i32),
    /// The server accepts and never answers (`--timeout 3`).
    Hang,
}

struct Fault {
    name: &'static str,
    at: Where,
    class: Class,
    /// The faulty step; `creds` are canaries the fault may carry (e.g. in a cut-off body).
    step: fn(&Creds) -> Step,
    /// Known gap: (modes it applies to, why). The row is XFAIL instead of FAIL.
    xfail: Option<(&'static [Mode], &'static str)>,
}

fn awwi_body(c: &Creds) -> String {
    awwi_success_xml(c, ROLE_ARN, SESSION_NAME, GITLAB_SUB)
}

fn faults() -> Vec<Fault> {
    vec![
        // ---- STS ----
        Fault {
            name: "HTTP 500 (text body)",
            at: Where::Sts,
            class: Class::Transient,
            step: |_| Step::text(500, "Internal Server Error"),
            xfail: None,
        },
        Fault {
            name: "HTTP 503 ServiceUnavailable",
            at: Where::Sts,
            class: Class::Transient,
            step: |_| Step::sts_error("ServiceUnavailable", "Service Unavailable"),
            xfail: None,
        },
        Fault {
            name: "Throttling (400 XML)",
            at: Where::Sts,
            class: Class::Transient,
            step: |_| Step::sts_error("Throttling", "Rate exceeded"),
            xfail: None,
        },
        Fault {
            name: "IDPCommunicationError",
            at: Where::Sts,
            class: Class::Transient,
            step: |_| {
                Step::sts_error(
                    "IDPCommunicationError",
                    "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached.",
                )
            },
            xfail: None,
        },
        Fault {
            name: "InvalidIdentityToken: verification key",
            at: Where::Sts,
            class: Class::Transient,
            step: |_| Step::sts_error("InvalidIdentityToken", VERIFICATION_KEY_MSG),
            xfail: None,
        },
        Fault {
            name: "reset mid-body",
            at: Where::Sts,
            class: Class::Transient,
            // Full Content-Length, a third of the body (well into <Credentials>), then close.
            step: |c| {
                let body = awwi_body(c);
                let n = body.find("</SessionToken>").unwrap_or(body.len() / 3);
                Step::truncate(Step::xml(200, body), n)
            },
            xfail: None,
        },
        Fault {
            name: "accepts, never answers",
            at: Where::Sts,
            class: Class::Hang,
            step: |_| Step::Hang,
            xfail: None,
        },
        Fault {
            name: "truncated XML (complete HTTP)",
            at: Where::Sts,
            class: Class::Transient,
            step: |c| {
                let body = awwi_body(c);
                let n = body.find("</SecretAccessKey>").unwrap_or(body.len() / 2);
                Step::xml(200, body[..n].to_string())
            },
            xfail: None,
        },
        Fault {
            name: "XML cut inside <AccessKeyId> (complete HTTP)",
            at: Where::Sts,
            class: Class::Transient,
            // STS sends AccessKeyId last: a cut inside its value leaves every field present.
            step: |c| {
                let body = awwi_body(c);
                let n = body.find("<AccessKeyId>").unwrap() + "<AccessKeyId>".len() + 8;
                Step::xml(200, body[..n].to_string())
            },
            xfail: None,
        },
        Fault {
            name: "malformed XML, 200",
            at: Where::Sts,
            class: Class::Transient,
            step: |_| Step::xml(200, "<<garbage \u{1}\u{2} not <xml>> at all &&;"),
            xfail: None,
        },
        Fault {
            name: "200 with an HTML body",
            at: Where::Sts,
            class: Class::Transient,
            step: |_| {
                Step::respond(
                    200,
                    "text/html; charset=utf-8",
                    "<!DOCTYPE html><html><head><title>Proxy</title></head><body><h1>Please log in to the proxy</h1></body></html>",
                )
            },
            xfail: None,
        },
        Fault {
            name: "AccessDenied (control)",
            at: Where::Sts,
            class: Class::Permanent(4),
            step: |_| {
                Step::sts_error(
                    "AccessDenied",
                    "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                )
            },
            xfail: None,
        },
        Fault {
            name: "InvalidIdentityToken other (control)",
            at: Where::Sts,
            class: Class::Permanent(4),
            step: |_| {
                Step::sts_error(
                    "InvalidIdentityToken",
                    "No OpenIDConnect provider found in your account for https://gitlab.example.com",
                )
            },
            xfail: None,
        },
        Fault {
            name: "endless chunked body",
            at: Where::Sts,
            class: Class::Transient,
            step: |_| Step::endless("text/xml"),
            xfail: None,
        },
        // ---- GitHub token endpoint ----
        Fault {
            name: "HTTP 401",
            at: Where::Token,
            class: Class::Permanent(3),
            step: |_| Step::json(401, r#"{"message":"Bad credentials"}"#),
            xfail: None,
        },
        Fault {
            name: "HTTP 403",
            at: Where::Token,
            class: Class::Permanent(3),
            step: |_| Step::json(403, r#"{"message":"Forbidden"}"#),
            xfail: None,
        },
        Fault {
            name: "HTTP 404",
            at: Where::Token,
            class: Class::Permanent(3),
            step: |_| Step::text(404, "Not Found"),
            xfail: None,
        },
        Fault {
            name: "HTTP 500",
            at: Where::Token,
            class: Class::Transient,
            step: |_| Step::text(500, "Internal Server Error"),
            xfail: None,
        },
        Fault {
            name: "HTTP 503",
            at: Where::Token,
            class: Class::Transient,
            step: |_| Step::text(503, "Service Unavailable"),
            xfail: None,
        },
        Fault {
            name: "non-JSON 200",
            at: Where::Token,
            class: Class::Permanent(3),
            step: |_| Step::respond(200, "text/html", "<html><body>proxy says hi</body></html>"),
            xfail: None,
        },
        Fault {
            name: "reset mid-body",
            at: Where::Token,
            class: Class::Transient,
            step: |_| {
                Step::truncate(
                    Step::json(
                        200,
                        r#"{"count":1,"value":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}"#,
                    ),
                    20,
                )
            },
            xfail: None,
        },
        Fault {
            name: "accepts, never answers",
            at: Where::Token,
            class: Class::Hang,
            step: |_| Step::Hang,
            xfail: None,
        },
        Fault {
            name: "endless chunked body",
            at: Where::Token,
            class: Class::Permanent(3),
            step: |_| Step::endless("application/json"),
            xfail: None,
        },
        // ---- federation endpoint (console only) ----
        Fault {
            name: "HTTP 500",
            at: Where::Federation,
            class: Class::Transient,
            step: |_| Step::text(500, "Internal Server Error"),
            xfail: None,
        },
        Fault {
            name: "HTTP 503",
            at: Where::Federation,
            class: Class::Transient,
            step: |_| Step::text(503, "Service Unavailable"),
            xfail: None,
        },
        Fault {
            name: "HTTP 400",
            at: Where::Federation,
            class: Class::Permanent(4),
            step: |_| Step::text(400, "Bad Request"),
            xfail: None,
        },
        Fault {
            name: "HTTP 403",
            at: Where::Federation,
            class: Class::Permanent(4),
            step: |_| Step::text(403, "Forbidden"),
            xfail: None,
        },
        Fault {
            name: "reset mid-body",
            at: Where::Federation,
            class: Class::Transient,
            step: |_| {
                Step::truncate(
                    Step::json(200, r#"{"SigninToken":"CANARYsigninTOKENxyz"}"#),
                    8,
                )
            },
            xfail: None,
        },
        Fault {
            name: "accepts, never answers",
            at: Where::Federation,
            class: Class::Hang,
            step: |_| Step::Hang,
            xfail: None,
        },
        Fault {
            name: "truncated JSON (complete HTTP)",
            at: Where::Federation,
            class: Class::Permanent(4),
            step: |_| Step::json(200, r#"{"SigninToken":"abc"#),
            xfail: None,
        },
        Fault {
            name: "garbage, 200",
            at: Where::Federation,
            class: Class::Permanent(4),
            step: |_| Step::text(200, "\u{1}\u{2}garbage{{{"),
            xfail: None,
        },
        Fault {
            name: "200 with an HTML body",
            at: Where::Federation,
            class: Class::Permanent(4),
            step: |_| Step::respond(200, "text/html", "<html><body>proxy</body></html>"),
            xfail: None,
        },
        Fault {
            name: "JSON without SigninToken",
            at: Where::Federation,
            class: Class::Permanent(4),
            step: |_| Step::json(200, r#"{"Error":"nope"}"#),
            xfail: None,
        },
        Fault {
            name: "endless chunked body",
            at: Where::Federation,
            class: Class::Permanent(4),
            step: |_| Step::endless("application/json"),
            xfail: None,
        },
    ]
}

struct Row {
    cmd: Cmd,
    fault: usize,
    mode: Mode,
}

fn rows(faults: &[Fault]) -> Vec<Row> {
    let mut v = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        for cmd in Cmd::ALL {
            if f.at == Where::Federation && cmd != Cmd::Console {
                continue;
            }
            for mode in [Mode::Once, Mode::Forever] {
                v.push(Row {
                    cmd,
                    fault: i,
                    mode,
                });
            }
        }
    }
    // Longest first (hanging servers), so that the threads finish together.
    v.sort_by_key(|r| faults[r.fault].class != Class::Hang);
    v
}

// ---------------------------------------------------------------------------------------------
// running one row
// ---------------------------------------------------------------------------------------------

struct Outcome {
    /// "ok" or a failure summary.
    outcome: String,
    attempts: usize,
    code: Option<i32>,
    secs: f64,
    /// Empty when every check passed.
    problems: Vec<String>,
}

const GH_PATH: &str = "/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/p1/jobs/j1/idtoken";

fn cache_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn run_row(row: &Row, fault: &Fault) -> Outcome {
    let env = TestEnv::new();
    let cache_dir: PathBuf = env.dir.path().join("cache");
    let fault_creds = Creds::canary();
    let creds = Creds::canary();
    let fed_token = format!("SIGNIN{}", unique());

    let faulty = (fault.step)(&fault_creds);
    let steps = |ok: Step| match row.mode {
        Mode::Once => vec![faulty.clone(), ok],
        Mode::Forever => vec![faulty.clone()],
    };
    let sts_steps = if fault.at == Where::Sts {
        steps(Step::awwi_ok(&creds))
    } else {
        vec![Step::awwi_ok(&creds)]
    };
    let sts = FakeServer::start(sts_steps);

    let jwt = mint_jwt(if fault.at == Where::Token {
        github_claims()
    } else {
        gitlab_claims()
    });
    let gh = (fault.at == Where::Token).then(|| FakeServer::start(steps(Step::gh_token(&jwt))));
    let signin_ok = Step::json(200, format!("{{\"SigninToken\":\"{fed_token}\"}}"));
    let fed = (row.cmd == Cmd::Console).then(|| {
        FakeServer::start(if fault.at == Where::Federation {
            steps(signin_ok.clone())
        } else {
            vec![signin_ok.clone()]
        })
    });
    let request_token = format!("CANARYreqtok{}", unique());

    let timeout = if fault.class == Class::Hang {
        HANG_TIMEOUT_S
    } else {
        TIMEOUT_S
    };
    let timeout_s = timeout.to_string();
    let sts_url = sts.url();
    let fed_url = fed.as_ref().map(|f| format!("{}/federation", f.url()));
    let env_out = env.output_arg();
    let cache_s = cache_dir.display().to_string();
    let mut args: Vec<&str> = vec![row.cmd.name()];
    match row.cmd {
        Cmd::Assume => args.extend(["--output", env_out.as_str()]),
        Cmd::Exec => {}
        Cmd::Console => args.extend(["--federation-endpoint", fed_url.as_deref().unwrap()]),
        Cmd::CredProc => args.extend(["--cache-dir", cache_s.as_str()]),
    }
    args.extend([
        "--role-arn",
        ROLE_ARN,
        "--session-name",
        SESSION_NAME,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        &sts_url,
        "--max-attempts",
        MAX_ATTEMPTS,
        "--timeout",
        &timeout_s,
    ]);
    if row.cmd == Cmd::Exec {
        args.extend(["--", "sh", "-c", "echo ok"]);
    }
    let gh_url = gh
        .as_ref()
        .map(|g| format!("{}{GH_PATH}?api-version=2.0", g.url()));
    let mut envs: Vec<(&str, &str)> = vec![("AWS_OIDC_RETRY_BASE_DELAY_MS", "10")];
    match &gh_url {
        Some(url) => envs.extend([
            ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token.as_str()),
        ]),
        None => envs.push(("AWS_ID_TOKEN", jwt.token.as_str())),
    }
    let run = env.run(&args, &envs);

    // ---- expectations ----
    let faulted = match fault.at {
        Where::Sts => &sts,
        Where::Token => gh.as_ref().unwrap(),
        Where::Federation => fed.as_ref().unwrap(),
    };
    let attempts = faulted.request_count();
    let max: usize = MAX_ATTEMPTS.parse().unwrap();
    let (want_code, want_attempts, max_secs): (i32, std::ops::RangeInclusive<usize>, f64) =
        match (fault.class, row.mode) {
            (Class::Transient, Mode::Once) => (0, 2..=2, 5.0),
            (Class::Transient, Mode::Forever) => (5, max..=max, 5.0),
            (Class::Permanent(code), _) => (code, 1..=1, 5.0),
            // Each attempt may wait a third of --timeout: a hung request leaves time to retry.
            (Class::Hang, Mode::Once) => (0, 2..=2, timeout as f64 + 2.0),
            // As many attempts as fit in the budget (timing decides between 2 and all).
            (Class::Hang, Mode::Forever) => (5, 2..=max, timeout as f64 + 2.0),
        };
    let secs = run.elapsed.as_secs_f64();
    let mut problems = Vec::new();
    if run.timed_out {
        problems.push("hung (killed after 30 s)".to_string());
    }
    if run.code != Some(want_code) {
        problems.push(format!("exit {:?}, want {want_code}", run.code));
    }
    if !want_attempts.contains(&attempts) {
        problems.push(format!(
            "{} requests to {}, want {want_attempts:?}",
            attempts,
            fault.at.name()
        ));
    }
    if secs > max_secs {
        problems.push(format!("took {secs:.1}s, want ≤ {max_secs:.0}s"));
    }
    let ok = run.code == Some(0);
    if ok {
        // Downstream servers saw exactly what a success needs.
        if fault.at != Where::Sts && sts.request_count() != 1 {
            problems.push(format!("{} STS requests, want 1", sts.request_count()));
        }
    } else {
        if fault.at == Where::Token && sts.request_count() != 0 {
            problems.push(format!(
                "STS called {} time(s) without a token",
                sts.request_count()
            ));
        }
        if !run
            .stderr
            .lines()
            .any(|l| l.starts_with("aws-oidc: error: "))
        {
            problems.push("no `aws-oidc: error:` line".into());
        }
    }
    // Outputs: complete on success, none on failure.
    let out = env.out_entries();
    match (row.cmd, ok) {
        (Cmd::Assume, true) => {
            let text = std::fs::read_to_string(env.env_file()).unwrap_or_default();
            let vars = parse_env_file(&text);
            let has = |k: &str, v: &str| vars.iter().any(|(a, b)| a == k && b == v);
            if !(has("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
                && has("AWS_SESSION_TOKEN", &creds.session_token))
            {
                problems.push("env file lacks the credentials".into());
            }
            if out != ["aws.env"] {
                problems.push(format!("output dir holds {out:?}"));
            }
        }
        (_, true) if !out.is_empty() => problems.push(format!("output dir holds {out:?}")),
        (_, false) if !out.is_empty() => {
            problems.push(format!("failed run left files: {out:?}"));
        }
        _ => {}
    }
    match (row.cmd, ok) {
        (Cmd::Exec, true) if run.stdout != "ok\n" => {
            problems.push(format!("stdout {:?}, want \"ok\\n\"", run.stdout));
        }
        (Cmd::Console, true) => {
            let want = format!("{}?Action=login&", fed_url.as_deref().unwrap());
            if !(run.stdout.starts_with(&want) && run.stdout.contains(&fed_token)) {
                problems.push(format!("stdout is not the login URL: {:?}", run.stdout));
            }
        }
        (Cmd::CredProc, true) => {
            let v: serde_json::Value =
                serde_json::from_str(&run.stdout).unwrap_or(serde_json::Value::Null);
            if v["AccessKeyId"] != creds.access_key_id.as_str()
                || v["SecretAccessKey"] != creds.secret_access_key.as_str()
            {
                problems.push(format!(
                    "stdout is not the credentials JSON: {:?}",
                    run.stdout
                ));
            }
        }
        (_, false) if !run.stdout.is_empty() => {
            problems.push(format!("failed run printed on stdout: {:?}", run.stdout));
        }
        _ => {}
    }
    if row.cmd == Cmd::CredProc {
        let entries = cache_entries(&cache_dir);
        let creds_files: Vec<&String> = entries
            .iter()
            .filter(|e| e.ends_with(".json") || e.ends_with(".tmp"))
            .collect();
        let want = usize::from(ok);
        if creds_files.len() != want || entries.iter().any(|e| e.ends_with(".tmp")) {
            problems.push(format!("cache dir holds {entries:?}"));
        }
    }
    // Secrets: never on stderr; on stdout only where stdout is the credential.
    let stdout_may = ok && matches!(row.cmd, Cmd::CredProc | Cmd::Console);
    let mut secrets = jwt.secrets();
    secrets.extend(creds.secrets());
    secrets.extend(fault_creds.secrets());
    secrets.push(request_token.clone());
    for s in &secrets {
        if run.stderr.contains(s.as_str()) {
            problems.push(format!("secret on stderr: {s}"));
        }
        if !stdout_may && run.stdout.contains(s.as_str()) {
            problems.push(format!("secret on stdout: {s}"));
        }
    }
    for prefix in [
        "CANARYsecret",
        "CANARYsession",
        "CANARYjwtsig",
        "CANARYreqtok",
        "CANARYsignin",
    ] {
        if run.stderr.contains(prefix) {
            problems.push(format!("canary {prefix} on stderr"));
        }
        if !stdout_may && run.stdout.contains(prefix) {
            problems.push(format!("canary {prefix} on stdout"));
        }
    }
    if run.stderr.contains(&fed_token) {
        problems.push("sign-in token on stderr".into());
    }

    let outcome = match run.code {
        Some(0) => "ok".to_string(),
        _ => run
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("aws-oidc: error: "))
            .map(|m| shorten(m, 70))
            .unwrap_or_else(|| "(no error line)".into()),
    };
    if !problems.is_empty() && std::env::var_os("FAULT_MATRIX_VERBOSE").is_some() {
        problems.push(run.describe());
    }
    Outcome {
        outcome,
        attempts,
        code: run.code,
        secs,
        problems,
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

// ---------------------------------------------------------------------------------------------
// running all rows, printing the table
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    XFail,
    XPass,
}

/// Runs every row, prints the table on stderr (unbuffered) and returns (passed, failed); xfail
/// rows count as neither.
fn run_matrix(filter: Option<&str>) -> (usize, usize) {
    let faults = faults();
    let rows = rows(&faults);
    let rows: Vec<Row> = rows
        .into_iter()
        .filter(|r| {
            filter.is_none_or(|f| {
                let f = f.to_ascii_lowercase();
                format!(
                    "{} {} {}",
                    r.cmd.name(),
                    faults[r.fault].at.name(),
                    faults[r.fault].name
                )
                .to_ascii_lowercase()
                .contains(&f)
            })
        })
        .collect();
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..rows.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..THREADS.min(rows.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(row) = rows.get(i) else { break };
                    let fault = &faults[row.fault];
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_row(row, fault)
                    }))
                    .unwrap_or_else(|p| Outcome {
                        outcome: "test panicked".into(),
                        attempts: 0,
                        code: None,
                        secs: 0.0,
                        problems: vec![format!(
                            "panic: {}",
                            p.downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default()
                        )],
                    });
                    results.lock().unwrap()[i] = Some(outcome);
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let results: Vec<Outcome> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .flatten()
        .collect();

    // Display order: by command, then fault, then mode.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| {
        let r = &rows[i];
        (
            Cmd::ALL.iter().position(|c| *c == r.cmd),
            r.fault,
            r.mode == Mode::Forever,
        )
    });

    let mut out = String::new();
    out.push_str(&format!(
        "\nfault matrix: {} rows, --max-attempts {MAX_ATTEMPTS}, AWS_OIDC_RETRY_BASE_DELAY_MS=10, --timeout {TIMEOUT_S} ({HANG_TIMEOUT_S} for servers that never answer)\n\n",
        rows.len()
    ));
    let header = format!(
        "{:<18} {:<5} {:<46} {:<7} {:<6} {:>8} {:>4} {:>6}  {}\n",
        "command", "at", "fault", "mode", "status", "attempts", "exit", "secs", "outcome"
    );
    out.push_str(&header);
    out.push_str(&format!("{}\n", "-".repeat(header.len() + 40)));
    let (mut passed, mut failed, mut xfailed) = (0, 0, 0);
    let mut details = String::new();
    let mut gaps: Vec<(&str, Vec<String>)> = Vec::new();
    for &i in &order {
        let r = &rows[i];
        let f = &faults[r.fault];
        let o = &results[i];
        let xfail = f
            .xfail
            .filter(|(modes, _)| modes.contains(&r.mode))
            .map(|(_, why)| why);
        let status = match (o.problems.is_empty(), xfail.is_some()) {
            (true, false) => Status::Pass,
            (false, false) => Status::Fail,
            (false, true) => Status::XFail,
            (true, true) => Status::XPass,
        };
        let label = match status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::XFail => "xfail",
            Status::XPass => "XPASS",
        };
        match status {
            Status::Pass => passed += 1,
            Status::XFail => xfailed += 1,
            Status::Fail | Status::XPass => failed += 1,
        }
        let code = o.code.map_or("sig".to_string(), |c| c.to_string());
        let mode = match r.mode {
            Mode::Once => "once",
            Mode::Forever => "forever",
        };
        out.push_str(&format!(
            "{:<18} {:<5} {:<46} {:<7} {:<6} {:>8} {:>4} {:>6.2}  {}\n",
            r.cmd.name(),
            f.at.name(),
            f.name,
            mode,
            label,
            o.attempts,
            code,
            o.secs,
            o.outcome
        ));
        let row_name = format!("{} / {} {} / {mode}", r.cmd.name(), f.at.name(), f.name);
        match (status, xfail) {
            (Status::XFail, Some(why)) => match gaps.iter_mut().find(|(w, _)| *w == why) {
                Some((_, names)) => names.push(row_name),
                None => gaps.push((why, vec![row_name])),
            },
            (Status::Fail | Status::XPass, _) => {
                details.push_str(&format!("{label}: {row_name}\n"));
                if status == Status::XPass {
                    details.push_str("    passes now: remove its xfail mark\n");
                }
                for p in &o.problems {
                    for line in p.lines() {
                        details.push_str(&format!("    {line}\n"));
                    }
                }
            }
            _ => {}
        }
    }
    if !gaps.is_empty() {
        out.push_str("\nknown gaps (xfail rows):\n");
        for (why, names) in &gaps {
            out.push_str(&format!("  - {why}\n"));
            for n in names {
                out.push_str(&format!("      {n}\n"));
            }
        }
    }
    if !details.is_empty() {
        out.push('\n');
        out.push_str(&details);
    }
    out.push_str(&format!(
        "\nfault matrix wall time {wall:.1}s\n{passed} passed, {failed} failed{}\n",
        if xfailed > 0 {
            format!(", {xfailed} xfail (known gaps)")
        } else {
            String::new()
        }
    ));
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
    (passed, failed)
}

// ---------------------------------------------------------------------------------------------
// kill test: SIGKILL mid-run leaves the previous files intact
// ---------------------------------------------------------------------------------------------

const PREV_ENV: &str = "AWS_ACCESS_KEY_ID=ASIAPREVIOUSPREVIOUS\nAWS_SECRET_ACCESS_KEY=previous-secret\nAWS_SESSION_TOKEN=previous-session\nAWS_REGION=eu-west-1\nAWS_DEFAULT_REGION=eu-west-1\nAWS_CREDENTIAL_EXPIRATION=2026-01-01T00:00:00Z\n";
const PREV_CREDENTIALS: &str = "# kept by hand\n[default]\naws_access_key_id = AKIADEFAULTDEFAULT00\naws_secret_access_key = default-secret\n\n[ci]\naws_access_key_id = ASIAOLDOLDOLDOLDOLD0\naws_secret_access_key = old-secret\naws_session_token = old-session\n";
const PREV_CONFIG: &str =
    "[default]\nregion = eu-central-1\n\n[profile ci]\nregion = eu-west-1\noutput = json\n";

/// What one target file looks like after the kill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileState {
    Old,
    New,
    Corrupt,
}

struct KillRun {
    label: String,
    delay_ms: f64,
    exited_before_kill: bool,
    env: FileState,
    credentials: FileState,
    config: FileState,
    /// Leftover `.NAME.*.tmp` files (name, mode).
    leftovers: Vec<(String, u32)>,
}

/// Old (byte-identical), New (every mark of the new credentials and every kept line), or
/// Corrupt (anything else: partial, empty, missing).
fn classify(path: &Path, old: &str, new_marks: &[&str], keep: &[&str]) -> FileState {
    match std::fs::read_to_string(path) {
        Ok(t) if t == old => FileState::Old,
        Ok(t) if new_marks.iter().chain(keep).all(|m| t.contains(m)) => FileState::New,
        _ => FileState::Corrupt,
    }
}

/// One `assume --output env=… --output profile=ci` against an STS that answers `sts_delay`
/// after the request, SIGKILLed `kill_after` after the STS request arrived (or after spawn
/// when `from_spawn`).
fn kill_once(label: &str, sts_delay: Duration, kill_after: Duration, from_spawn: bool) -> KillRun {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::slow(sts_delay, Step::awwi_ok(&creds))]);
    let jwt = mint_jwt(gitlab_claims());
    let env_file = env.env_file();
    let credentials = env.out.join("credentials");
    let config = env.out.join("config");
    for (p, text) in [
        (&env_file, PREV_ENV),
        (&credentials, PREV_CREDENTIALS),
        (&config, PREV_CONFIG),
    ] {
        std::fs::write(p, text).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut child = std::process::Command::new(BIN)
        .args([
            "assume",
            "--output",
            &env.output_arg(),
            "--output",
            "profile=ci",
            "--role-arn",
            ROLE_ARN,
            "--session-name",
            SESSION_NAME,
            "--region",
            "us-east-1",
            "--sts-endpoint",
            &sts.url(),
            "--max-attempts",
            "1",
            "--timeout",
            "20",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &env.home)
        .env("AWS_ID_TOKEN", &jwt.token)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", &config)
        .current_dir(&env.out)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn aws-oidc");
    let start = std::time::Instant::now();
    let mut t0 = start;
    if !from_spawn {
        while sts.request_count() == 0 && start.elapsed() < Duration::from_secs(10) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        t0 = std::time::Instant::now();
    }
    let deadline = t0 + kill_after;
    let mut exited_before_kill = false;
    loop {
        if child.try_wait().unwrap().is_some() {
            exited_before_kill = true;
            break;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_micros(200)));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let key = creds.access_key_id.as_str();
    let leftovers = env
        .out_entries()
        .into_iter()
        .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
        .map(|n| {
            let mode = std::fs::metadata(env.out.join(&n))
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            (n, mode)
        })
        .collect();
    KillRun {
        label: label.to_string(),
        delay_ms: kill_after.as_secs_f64() * 1000.0,
        exited_before_kill,
        env: classify(
            &env_file,
            PREV_ENV,
            &[
                key,
                &creds.secret_access_key,
                &creds.session_token,
                "AWS_CREDENTIAL_EXPIRATION=",
            ],
            &[],
        ),
        credentials: classify(
            &credentials,
            PREV_CREDENTIALS,
            &[key, &creds.secret_access_key, &creds.session_token],
            &["# kept by hand", "AKIADEFAULTDEFAULT00", "default-secret"],
        ),
        config: classify(
            &config,
            PREV_CONFIG,
            &["region = us-east-1"],
            &["region = eu-central-1", "output = json"],
        ),
        leftovers,
    }
}

/// Kills `assume` at many points and checks that every target is the previous file or the
/// whole new one. Returns (report, passed, failed).
fn run_kill_test() -> (String, usize, usize) {
    let mut plan: Vec<(String, Duration, Duration, bool)> = Vec::new();
    // While STS is still thinking (2 s): nothing may have changed, no temp file may exist.
    for ms in [100u64, 500, 900] {
        plan.push((
            format!("STS answers after 2 s; kill {ms} ms after spawn"),
            Duration::from_secs(2),
            Duration::from_millis(ms),
            true,
        ));
    }
    // Around the moment STS answers (300 ms after its request arrived): ~0.5 ms steps over the
    // window in which the answer is parsed, rendered, staged, synced and renamed.
    for i in 0..48u64 {
        let us = 295_000 + i * 500 + (i * 7919 % 400);
        plan.push((
            "STS answers after 300 ms; kill after its request".into(),
            Duration::from_millis(300),
            Duration::from_micros(us),
            false,
        ));
    }
    // Pseudo-random points over the whole run.
    let mut seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..12 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let ms = (seed >> 33) % 700;
        plan.push((
            "STS answers after 300 ms; kill after spawn".into(),
            Duration::from_millis(300),
            Duration::from_millis(ms),
            true,
        ));
    }
    let results: Mutex<Vec<KillRun>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((label, delay, kill, from_spawn)) = plan.get(i) else {
                        break;
                    };
                    let r = kill_once(label, *delay, *kill, *from_spawn);
                    results.lock().unwrap().push(r);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| {
        a.label
            .cmp(&b.label)
            .then(a.delay_ms.total_cmp(&b.delay_ms))
    });
    let (mut passed, mut failed) = (0, 0);
    let mut out = String::from(
        "\nkill test: assume --output env=aws.env --output profile=ci (previous aws.env, credentials, config present), SIGKILL at many points\n\n",
    );
    out.push_str(&format!(
        "{:<50} {:>8} {:<6} {:<7} {:<11} {:<7} leftover temp files (mode)\n",
        "case", "kill ms", "status", "aws.env", "credentials", "config"
    ));
    let mut tally: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &results {
        let states = [r.env, r.credentials, r.config];
        let intact = !states.contains(&FileState::Corrupt);
        let before_answer = r.label.contains("after 2 s");
        let untouched = states.iter().all(|s| *s == FileState::Old) && r.leftovers.is_empty();
        let ok = intact && (!before_answer || untouched);
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
        let key = format!(
            "{:?}/{:?}/{:?}{}{}",
            r.env,
            r.credentials,
            r.config,
            if r.leftovers.is_empty() {
                ""
            } else {
                " + temp files left"
            },
            if r.exited_before_kill {
                " (had exited before the kill)"
            } else {
                ""
            }
        );
        *tally.entry(key).or_default() += 1;
        let leftovers = if r.exited_before_kill {
            "(had exited before the kill)".to_string()
        } else {
            r.leftovers
                .iter()
                .map(|(n, m)| format!("{n} ({m:o})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "{:<50} {:>8.1} {:<6} {:<7} {:<11} {:<7} {leftovers}\n",
            r.label,
            r.delay_ms,
            if ok { "pass" } else { "FAIL" },
            format!("{:?}", r.env),
            format!("{:?}", r.credentials),
            format!("{:?}", r.config),
        ));
    }
    out.push_str("\nkill outcomes (aws.env/credentials/config):\n");
    for (k, n) in &tally {
        out.push_str(&format!("  {n:>3} × {k}\n"));
    }
    out.push_str(&format!("kill test: {passed} passed, {failed} failed\n"));
    (out, passed, failed)
}

fn print_raw(s: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(s.as_bytes());
    let _ = err.flush();
}

/// The fault matrix: every row passes (or is a known gap that still fails). Returns (passed,
/// failed) rows.
fn fault_matrix(filter: Option<&str>) -> (usize, usize) {
    run_matrix(filter)
}

/// SIGKILL at many points of `assume` leaves every target the previous file or the whole new
/// one. Returns (passed, failed) kill runs.
fn kill_mid_write_leaves_previous_files_intact(_filter: Option<&str>) -> (usize, usize) {
    let (report, passed, failed) = run_kill_test();
    print_raw(&report);
    (passed, failed)
}

/// One test of this file: `main` runs those whose `selected` accepts the filter.
struct Test {
    name: &'static str,
    /// Returns (passed, failed) checks.
    run: fn(Option<&str>) -> (usize, usize),
    selected: fn(Option<&str>) -> bool,
}

/// What `main` runs, in order.
const TESTS: &[Test] = &[
    Test {
        name: "fault_matrix",
        run: fault_matrix,
        selected: |f| f != Some("kill"),
    },
    Test {
        name: "kill_mid_write_leaves_previous_files_intact",
        run: kill_mid_write_leaves_previous_files_intact,
        selected: |f| f.is_none_or(|f| f == "kill"),
    },
];

/// `harness = false` entry point. Like libtest: `--list` lists the tests, and a positional
/// argument (`cargo test --test fault_matrix -- console`) filters the rows (`kill` selects the
/// kill test); other flags (`--nocapture`, …) are ignored.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for test in TESTS {
            println!("{}: test", test.name);
        }
        return;
    }
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let filter = filter.as_deref();
    let (mut passed, mut failed) = (0, 0);
    let mut verdicts = String::new();
    for test in TESTS {
        if !(test.selected)(filter) {
            continue;
        }
        let name = test.name;
        verdicts.push_str(&match std::panic::catch_unwind(|| (test.run)(filter)) {
            Ok((p, 0)) => {
                passed += p;
                format!("test {name} ... ok ({p} passed)\n")
            }
            Ok((p, f)) => {
                passed += p;
                failed += f;
                format!("test {name} ... FAILED ({p} passed, {f} failed: see its table above)\n")
            }
            Err(_) => {
                failed += 1;
                format!("test {name} ... FAILED (panicked)\n")
            }
        });
    }
    print_raw(&format!("\n{verdicts}{passed} passed, {failed} failed\n"));
    std::process::exit(i32::from(failed > 0));
}
