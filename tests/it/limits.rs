//! Bounded reads: an answer or a token source that never ends must not be read to the end.
//!
//! Each case runs the built binary against a source that produces data without end (an
//! endless chunked HTTP body from the fakes in `tests/it/support.rs`, `yes`, `/dev/zero`) and
//! checks that it fails within seconds, with the expected exit code and a message naming
//! the source and the limit, while its peak resident memory (`VmHWM`, sampled from
//! `/proc/<pid>/status` as it runs) stays small. A run whose memory passes the ceiling is
//! killed at once, so that the unbounded behaviour cannot take the machine down.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// Peak RSS a failing run may reach (the binary itself needs ~10-20 MiB).
const RSS_CEILING_KIB: u64 = 64 * 1024;
/// A run taking longer than this is not "failing fast".
const FAST: Duration = Duration::from_secs(5);

struct Measured {
    run: Run,
    /// Highest `VmHWM` seen, in KiB.
    peak_kib: u64,
    /// Killed because its memory passed [`RSS_CEILING_KIB`].
    over_ceiling: bool,
}

impl Measured {
    fn describe(&self) -> String {
        format!(
            "peak {} KiB{}\n{}",
            self.peak_kib,
            if self.over_ceiling {
                " (killed: over the ceiling)"
            } else {
                ""
            },
            self.run.describe()
        )
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs the binary with a cleared environment (PATH, HOME, `envs`), sampling its peak RSS
/// every few milliseconds; kills it past the ceiling or after 20 s.
fn run_measured(
    env: &TestEnv,
    args: &[&str],
    envs: &[(&str, &str)],
    path: Option<&Path>,
) -> Measured {
    let mut cmd = Command::new(BIN);
    let search = match path {
        Some(dir) => format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        ),
        None => std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
    };
    cmd.args(args)
        .env_clear()
        .env("PATH", search)
        .env("HOME", &env.home)
        .current_dir(&env.out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn the binary");
    let pid = child.id();
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
    let (mut peak, mut over, mut timed_out) = (0u64, false, false);
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if peak > RSS_CEILING_KIB || start.elapsed() > Duration::from_secs(20) {
            over = peak > RSS_CEILING_KIB;
            timed_out = !over;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    let run = Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&to.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&te.join().unwrap()).into_owned(),
        elapsed,
        timed_out,
    };
    Measured {
        run,
        peak_kib: peak,
        over_ceiling: over,
    }
}

/// Fast, small, the right exit code, and an error line holding every one of `words`.
fn assert_bounded(m: &Measured, code: i32, words: &[&str]) {
    assert!(
        !m.over_ceiling,
        "memory grew without bound\n{}",
        m.describe()
    );
    assert!(!m.run.timed_out, "hung\n{}", m.describe());
    assert!(
        m.run.elapsed < FAST,
        "took {:?}, want < {FAST:?}\n{}",
        m.run.elapsed,
        m.describe()
    );
    assert!(
        m.peak_kib < RSS_CEILING_KIB,
        "peak RSS {} KiB\n{}",
        m.peak_kib,
        m.describe()
    );
    assert_eq!(m.run.code, Some(code), "exit code\n{}", m.describe());
    let line = m
        .run
        .stderr
        .lines()
        .find(|l| l.starts_with("aws-oidc: error: "))
        .unwrap_or_else(|| panic!("no error line\n{}", m.describe()));
    for w in words {
        assert!(
            line.contains(w),
            "error line lacks {w:?}: {line}\n{}",
            m.describe()
        );
    }
    assert!(m.run.stdout.is_empty(), "stdout: {}", m.describe());
}

fn base_args(sts_url: &str) -> Vec<String> {
    [
        "assume",
        "--role-arn",
        ROLE_ARN,
        "--session-name",
        SESSION_NAME,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        sts_url,
        "--max-attempts",
        "3",
        "--timeout",
        "20",
        "--output",
        "env=aws.env",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_with(
    env: &TestEnv,
    sts_url: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
    path: Option<&Path>,
) -> Measured {
    let mut args = base_args(sts_url);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut all = vec![("AWS_OIDC_RETRY_BASE_DELAY_MS", "10")];
    all.extend_from_slice(envs);
    let m = run_measured(env, &args, &all, path);
    if std::env::var_os("AWS_OIDC_TEST_SHOW").is_some() {
        eprintln!("=== {args:?}\n{}", m.describe());
    }
    m
}

#[test]
fn endless_sts_answer_is_cut_off() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::endless("text/xml")]);
    let jwt = mint_jwt(gitlab_claims());
    let m = run_with(&env, &sts.url(), &[], &[("AWS_ID_TOKEN", &jwt.token)], None);
    // Transient (a broken proxy may be), so retried up to --max-attempts.
    assert_bounded(&m, 5, &["STS", &sts.url(), "1 MiB"]);
    assert_eq!(sts.request_count(), 3, "{}", m.describe());
    env.assert_no_output(&m.run);
}

#[test]
fn endless_token_endpoint_answer_is_cut_off() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let gh = FakeServer::start(vec![Step::endless("application/json")]);
    let url = format!("{}/idtoken?api-version=2.0", gh.url());
    let m = run_with(
        &env,
        &sts.url(),
        &[],
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "CANARYreqtokLimits"),
        ],
        None,
    );
    assert_bounded(&m, 3, &["token endpoint", "1 MiB"]);
    assert_eq!(gh.request_count(), 1, "{}", m.describe());
    assert_eq!(sts.request_count(), 0, "{}", m.describe());
    assert_no_secrets(&m.run, &["CANARYreqtokLimits"], false);
}

#[test]
fn endless_federation_answer_is_cut_off() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let fed = FakeServer::start(vec![Step::endless("application/json")]);
    let jwt = mint_jwt(gitlab_claims());
    let fed_url = format!("{}/federation", fed.url());
    let sts_url = sts.url();
    let args = [
        "console",
        "--federation-endpoint",
        &fed_url,
        "--role-arn",
        ROLE_ARN,
        "--session-name",
        SESSION_NAME,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        &sts_url,
        "--max-attempts",
        "3",
    ];
    let m = run_measured(
        &env,
        &args,
        &[
            ("AWS_ID_TOKEN", &jwt.token),
            ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
        ],
        None,
    );
    assert_bounded(&m, 4, &["federation endpoint", "1 MiB"]);
    assert_eq!(fed.request_count(), 1, "{}", m.describe());
}

#[test]
fn token_command_printing_forever_is_cut_off() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let m = run_with(&env, &sts.url(), &["--token-command", "yes"], &[], None);
    assert_bounded(&m, 3, &["token command", "64 KiB"]);
    assert_eq!(sts.request_count(), 0, "{}", m.describe());
}

#[test]
fn buildkite_agent_printing_forever_is_cut_off() {
    let env = TestEnv::new();
    let bin = env.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let agent = bin.join("buildkite-agent");
    std::fs::write(&agent, "#!/bin/sh\nexec yes eyJ\n").unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let m = run_with(&env, &sts.url(), &[], &[("BUILDKITE", "true")], Some(&bin));
    assert_bounded(&m, 3, &["buildkite-agent", "64 KiB"]);
    assert_eq!(sts.request_count(), 0, "{}", m.describe());
}

#[test]
fn endless_token_file_is_cut_off() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let m = run_with(&env, &sts.url(), &["--token-file", "/dev/zero"], &[], None);
    assert_bounded(&m, 3, &["/dev/zero", "64 KiB"]);
    assert_eq!(sts.request_count(), 0, "{}", m.describe());
}

#[test]
fn huge_token_variable_is_refused_at_once() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    // Close to the kernel's limit for one environment string (128 KiB).
    let huge = format!("eyJ{}", "A".repeat(120 * 1024));
    let m = run_with(&env, &sts.url(), &[], &[("AWS_ID_TOKEN", &huge)], None);
    assert_bounded(&m, 3, &["$AWS_ID_TOKEN"]);
    assert_eq!(sts.request_count(), 0, "{}", m.describe());
    assert!(!m.run.stderr.contains("AAAAAAAA"), "{}", m.describe());
}
