//! `exec --serve` out of file descriptors: the credential endpoint must not spin on failing
//! `accept` calls, and must serve again once descriptors are free.
//!
//! The binary runs under `prlimit --nofile=32` (skipped when `prlimit` is missing); the test
//! opens far more idle connections than that, measures the CPU time the process uses over a
//! second of failing accepts (`/proc/<pid>/stat`), then closes them and asks for credentials.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/pid/stat");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn wait_for(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn get_credentials(url: &str, token: &str) -> std::io::Result<String> {
    let addr = url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .unwrap();
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET /credentials HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn serve_backs_off_when_out_of_descriptors_and_recovers() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("prlimit not found: skipped");
        return;
    }
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let jwt = mint_jwt(gitlab_claims());
    let info = env.out.join("info");
    let stop = env.out.join("stop");
    let script = format!(
        "printf '%s\\n%s\\n' \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\" > {0}.tmp && mv {0}.tmp {0}; while [ ! -e {1} ]; do sleep 0.05; done",
        info.display(),
        stop.display()
    );
    let mut child = Command::new("prlimit")
        .args(["--nofile=32", "--", BIN, "exec", "--serve"])
        .args([
            "--role-arn",
            ROLE_ARN,
            "--session-name",
            SESSION_NAME,
            "--region",
            "us-east-1",
            "--sts-endpoint",
            &sts.url(),
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &env.home)
        .env("AWS_ID_TOKEN", &jwt.token)
        .current_dir(&env.out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn prlimit");
    let pid = child.id();
    let finish = |child: &mut std::process::Child| {
        let _ = std::fs::write(&stop, "");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        (status, stderr)
    };
    if !wait_for(&info, Duration::from_secs(10)) {
        let (status, stderr) = finish(&mut child);
        panic!("the command did not start: {status:?}\n{stderr}");
    }
    let text = std::fs::read_to_string(&info).unwrap();
    let mut lines = text.lines();
    let (url, token) = (
        lines.next().unwrap().to_string(),
        lines.next().unwrap().to_string(),
    );
    let addr = url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();

    // Far more idle connections than descriptors: the rest wait in the backlog, and every
    // accept fails with EMFILE.
    let idle: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    drop(idle);

    // Descriptors free again: credentials within a few seconds.
    let start = Instant::now();
    let answer = loop {
        match get_credentials(&url, &token) {
            Ok(a) if a.starts_with("HTTP/1.1 200") => break Some(a),
            _ if start.elapsed() > Duration::from_secs(8) => break None,
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let (status, stderr) = finish(&mut child);
    eprintln!("{used} CPU ticks in 1 s of failing accepts\n{stderr}");
    // Clock ticks are 1/100 s: a spinning loop uses ~100 in a second.
    assert!(
        used <= 20,
        "{used} CPU ticks in 1 s of failing accepts (spinning)\n{stderr}"
    );
    assert!(
        answer.is_some(),
        "no credentials once descriptors were free\n{stderr}"
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    // One warning for the run of failures, not one per failure.
    let warnings = stderr.matches("cannot accept").count();
    assert!(
        (1..=3).contains(&warnings),
        "{warnings} accept warnings\n{stderr}"
    );
    assert_no_secrets(
        &Run {
            code: status.code(),
            stdout: String::new(),
            stderr: stderr.clone(),
            elapsed: Duration::ZERO,
            timed_out: false,
        },
        &[&token, &jwt.token],
        false,
    );
}
