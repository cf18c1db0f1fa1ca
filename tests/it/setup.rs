//! `aws-oidc setup` against a discovery document served on 127.0.0.1: a provider saved (mode
//! 0600, the rest of the file kept, readable by `config`), `--print` writing nothing, a flow the
//! provider does not offer refused before anything is written, and no terminal without the
//! required flags failing at once instead of waiting for input.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::BIN;

/// Serves `<issuer>/.well-known/openid-configuration` (and 404 elsewhere) until the test ends;
/// the document names the server's own URL as issuer. `device` adds the device grant.
fn discovery(device: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let mut doc = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "grant_types_supported": ["authorization_code", "refresh_token"],
    });
    if device {
        doc["device_authorization_endpoint"] = format!("{issuer}/device").into();
        doc["grant_types_supported"]
            .as_array_mut()
            .unwrap()
            .push("urn:ietf:params:oauth:grant-type:device_code".into());
    }
    let body = doc.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let found = String::from_utf8_lossy(&request)
                .starts_with("GET /.well-known/openid-configuration ");
            let (status, body) = if found {
                ("200 OK", body.as_str())
            } else {
                ("404 Not Found", "{}")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    issuer
}

fn setup(args: &[&str], home: &Path) -> Output {
    Command::new(BIN)
        .arg("setup")
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("AWS_OIDC_MAX_ATTEMPTS", "1")
        .env("AWS_OIDC_TIMEOUT", "10")
        .output()
        .expect("run aws-oidc setup")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const EXISTING: &str = "# kept: a comment\ntoken_store: file\nproviders:\n  other:\n    issuer: https://other.example.com\n    client_id: o   # its own comment\n\ntargets:\n  prod:\n    role_arn: arn:aws:iam::111111111111:role/deploy\n";

#[test]
fn saves_a_provider_keeping_the_rest_of_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let issuer = discovery(true);
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("cfg").join("config.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, EXISTING).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = file.to_str().unwrap();
    let out = Command::new(BIN)
        .args(["setup", "--provider", "corp", "--issuer", &issuer])
        .args([
            "--client-id",
            "aws-cli",
            "--flow",
            "device",
            "--config",
            config,
        ])
        .args(["--role-arn", "arn:aws:iam::123456789012:role/developer"])
        .args(["--duration", "1800", "--region", "eu-west-1"])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_OIDC_CLIENT_SECRET", "s3cr3t-setup-canary")
        .env("AWS_OIDC_MAX_ATTEMPTS", "1")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert!(
        err.contains(&format!(
            "aws-oidc: provider corp saved in {config} (device sign-in: yes, browser sign-in: yes)"
        )),
        "{err}"
    );
    assert!(
        err.contains("next: aws-oidc login --provider corp"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t-setup-canary"), "{err}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let text = std::fs::read_to_string(&file).unwrap();
    for line in EXISTING.lines() {
        assert!(text.contains(line), "lost {line:?}:\n{text}");
    }
    // What was written, read with the parser config.rs uses.
    let get = |p: &str, k: &str| field(&text, p, k);
    assert_eq!(get("corp", "issuer"), Some(issuer.clone()), "{text}");
    assert_eq!(get("corp", "client_id").as_deref(), Some("aws-cli"));
    assert_eq!(
        get("corp", "client_secret").as_deref(),
        Some("s3cr3t-setup-canary")
    );
    assert_eq!(get("corp", "flow").as_deref(), Some("device"));
    assert_eq!(get("corp", "duration").as_deref(), Some("1800"));
    assert_eq!(
        get("corp", "scopes").as_deref(),
        Some(r#"["openid","offline_access"]"#)
    );
    assert_eq!(get("other", "client_id").as_deref(), Some("o"));
    // The binary itself reads the file back: `logout` finds the provider (nothing stored yet).
    let logout = Command::new(BIN)
        .args(["logout", "--provider", "corp", "--config", config])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_OIDC_TOKEN_STORE", "file")
        .env("AWS_OIDC_CACHE_DIR", home.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(logout.status.code(), Some(0), "{}", stderr(&logout));

    // Again, with another flow and no secret: replaced in place, the secret kept.
    let out = setup(
        &[
            "--provider",
            "corp",
            "--issuer",
            &issuer,
            "--client-id",
            "aws-cli-2",
            "--config",
            config,
        ],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = std::fs::read_to_string(&file).unwrap();
    let get = |p: &str, k: &str| field(&again, p, k);
    assert_eq!(
        get("corp", "client_id").as_deref(),
        Some("aws-cli-2"),
        "{again}"
    );
    assert_eq!(get("corp", "flow").as_deref(), Some("auto"));
    assert_eq!(
        get("corp", "client_secret").as_deref(),
        Some("s3cr3t-setup-canary")
    );
    assert_eq!(again.matches("  corp:").count(), 1, "{again}");
}

#[test]
fn creates_the_default_file_in_a_private_directory() {
    use std::os::unix::fs::PermissionsExt;
    let issuer = discovery(false);
    let home = tempfile::tempdir().unwrap();
    let out = setup(
        &[
            "--provider",
            "corp",
            "--issuer",
            &issuer,
            "--client-id",
            "c",
        ],
        home.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("(device sign-in: no, browser sign-in: yes)"),
        "{err}"
    );
    let file = home.path().join("xdg/aws-oidc/config.yaml");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
}

#[test]
fn print_shows_yaml_and_writes_nothing() {
    let issuer = discovery(true);
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "setup",
            "--print",
            "--provider",
            "corp",
            "--issuer",
            &issuer,
        ])
        .args(["--client-id", "aws-cli", "--scopes", "openid,email"])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_OIDC_CLIENT_SECRET", "s3cr3t-print-canary")
        .output()
        .unwrap();
    let (stdout, err) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        stdout.starts_with(&format!(
            "providers:\n  corp:\n    issuer: {issuer}\n    client_id: aws-cli\n"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("    scopes: [openid, email]\n"), "{stdout}");
    assert!(stdout.contains("<set; not shown>"), "{stdout}");
    assert!(!stdout.contains("s3cr3t-print-canary") && !err.contains("s3cr3t-print-canary"));
    assert!(err.contains("client secret is not shown"), "{err}");
    assert!(
        std::fs::read_dir(home.path()).unwrap().next().is_none(),
        "--print wrote something"
    );
}

#[test]
fn a_flow_the_provider_does_not_offer_writes_nothing() {
    let issuer = discovery(false);
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("config.yaml");
    std::fs::write(&file, EXISTING).unwrap();
    let out = setup(
        &[
            "--provider",
            "corp",
            "--issuer",
            &issuer,
            "--client-id",
            "c",
            "--flow",
            "device",
            "--config",
            file.to_str().unwrap(),
        ],
        home.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("offers no device sign-in"), "{err}");
    assert!(err.contains("--flow browser"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), EXISTING);
}

#[test]
fn no_terminal_and_missing_flags_exits_at_once() {
    let home = tempfile::tempdir().unwrap();
    // stdin is a pipe held open and never written: waiting on it would hang.
    let mut child = Command::new(BIN)
        .args(["setup", "--provider", "corp"])
        .env_clear()
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("setup waited for input nobody sees");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--issuer URL, --client-id ID"), "{err}");
    assert!(std::fs::read_dir(home.path()).unwrap().next().is_none());
}

/// `providers.NAME.KEY` of the YAML text, as a string (numbers included).
fn field(text: &str, provider: &str, key: &str) -> Option<String> {
    let doc: serde_json::Value =
        serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    match &doc["providers"][provider][key] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}
