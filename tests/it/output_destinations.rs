//! Where outputs go, against the built binary and the fake STS of `tests/it/support.rs`:
//! devices, fifos and shared profile files.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::support::*;

/// A private character device like /dev/null (never the real one); `None`, with the reason
/// printed, where mknod is not allowed (it needs root).
fn private_null(dir: &Path) -> Option<PathBuf> {
    let p = dir.join("null");
    let status = std::process::Command::new("mknod")
        .args(["-m", "666"])
        .arg(&p)
        .args(["c", "1", "3"])
        .status();
    match status {
        Ok(s) if s.success() => Some(p),
        other => {
            eprintln!(
                "skipped: mknod {} failed ({other:?}); it needs root",
                p.display()
            );
            None
        }
    }
}

fn is_char_device(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

fn assume(sts: &FakeServer, jwt: &Jwt, outputs: &[&str], extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "assume",
        "--role-arn",
        ROLE_ARN,
        "--session-name",
        SESSION_NAME,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        &sts.url(),
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(
        outputs
            .iter()
            .flat_map(|o| ["--output".to_string(), o.to_string()]),
    )
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    let _ = jwt;
    v
}

fn run(env: &TestEnv, args: &[String], jwt: &Jwt, envs: &[(&str, &str)]) -> Run {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut all = vec![("AWS_ID_TOKEN", jwt.token.as_str())];
    all.extend_from_slice(envs);
    env.run(&a, &all)
}

#[test]
fn profile_on_a_device_is_refused_before_sts() {
    let env = TestEnv::new();
    let Some(null) = private_null(env.dir.path()) else {
        return;
    };
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let jwt = mint_jwt(gitlab_claims());
    let null_s = null.display().to_string();
    let creds_file = env.dir.path().join("credentials").display().to_string();
    for extra in [&[][..], &["--refreshable"][..]] {
        let args = assume(&sts, &jwt, &["profile=x"], extra);
        for (config, credentials, var) in [
            (&null_s, &creds_file, "AWS_CONFIG_FILE"),
            (&creds_file, &null_s, "AWS_SHARED_CREDENTIALS_FILE"),
        ] {
            let r = run(
                &env,
                &args,
                &jwt,
                &[
                    ("AWS_CONFIG_FILE", config),
                    ("AWS_SHARED_CREDENTIALS_FILE", credentials),
                ],
            );
            assert_eq!(r.code, Some(2), "{}", r.describe());
            assert!(
                r.stderr.contains(&format!("{var} is {null_s}, not a file")),
                "{}",
                r.describe()
            );
            assert!(is_char_device(&null), "the device was replaced");
            assert!(!Path::new(&creds_file).exists());
            assert_eq!(sts.request_count(), 0, "STS was called\n{}", r.describe());
            assert_no_secrets(&r, &secrets_of(&jwt, &creds), false);
        }
    }
}

#[test]
fn env_output_to_a_fifo_reaches_the_reader() {
    let env = TestEnv::new();
    let fifo = env.dir.path().join("fifo");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read_to_string(reader));
    });
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let jwt = mint_jwt(gitlab_claims());
    let args = assume(&sts, &jwt, &[&format!("env={}", fifo.display())], &[]);
    let r = run(&env, &args, &jwt, &[]);
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the fifo was replaced by a file"
    );
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the reader got nothing")
        .unwrap();
    let vars = parse_env_file(&got);
    assert!(
        vars.iter()
            .any(|(k, v)| k == "AWS_SECRET_ACCESS_KEY" && *v == creds.secret_access_key),
        "{got}"
    );
}

fn secrets_of(jwt: &Jwt, creds: &Creds) -> Vec<String> {
    let mut v = jwt.secrets();
    v.extend(creds.secrets());
    v
}

/// Twelve runs at once, each writing its own profile into the same two files: every profile
/// survives (the read-merge-replace of each file is serialized by a lock).
#[test]
fn parallel_profile_writes_keep_every_profile() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let jwt = mint_jwt(gitlab_claims());
    let config = env.dir.path().join("aws").join("config");
    let credentials = env.dir.path().join("aws").join("credentials");
    std::fs::create_dir(env.dir.path().join("aws")).unwrap();
    std::fs::write(&config, "[profile mine]\nregion = eu-west-1\n").unwrap();
    let n = 12;
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let args = assume(&sts, &jwt, &[&format!("profile=p{i}")], &[]);
                let (env, jwt, config, credentials) = (&env, &jwt, &config, &credentials);
                s.spawn(move || {
                    run(
                        env,
                        &args,
                        jwt,
                        &[
                            ("AWS_CONFIG_FILE", &config.display().to_string()),
                            (
                                "AWS_SHARED_CREDENTIALS_FILE",
                                &credentials.display().to_string(),
                            ),
                        ],
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &runs {
        assert_eq!(r.code, Some(0), "{}", r.describe());
    }
    let config_text = std::fs::read_to_string(&config).unwrap();
    let credentials_text = std::fs::read_to_string(&credentials).unwrap();
    assert!(config_text.contains("[profile mine]\n"), "{config_text}");
    for i in 0..n {
        assert!(
            config_text.contains(&format!("[profile p{i}]\n")),
            "profile p{i} lost from config:\n{config_text}"
        );
        assert!(
            credentials_text.contains(&format!("[p{i}]\n")),
            "profile p{i} lost from credentials:\n{credentials_text}"
        );
    }
    assert_eq!(
        config_text.matches("[profile ").count(),
        n + 1,
        "{config_text}"
    );
    assert_eq!(
        credentials_text.matches('[').count(),
        n,
        "{credentials_text}"
    );
}
