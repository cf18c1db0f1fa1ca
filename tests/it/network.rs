//! Network behaviour of the built binary against the fakes in `tests/it/support.rs`: redirects are
//! not followed (a token or credentials must not travel to another host, nor the URL leak
//! in `Referer`), and network failures are reported with the URL tried and a readable time.

use crate::support::*;

fn redirect_to(url: &str) -> Step {
    Step::Respond {
        status: 302,
        headers: vec![("Location".into(), url.into())],
        body: Vec::new(),
    }
}

fn assume(sts_url: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "assume",
        "--role-arn",
        ROLE_ARN,
        "--session-name",
        SESSION_NAME,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        sts_url,
        "--output",
        "env=aws.env",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run(env: &TestEnv, args: &[String], envs: &[(&str, &str)]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut all = vec![("AWS_OIDC_RETRY_BASE_DELAY_MS", "10")];
    all.extend_from_slice(envs);
    env.run(&args, &all)
}

fn error_line(run: &Run) -> String {
    run.stderr
        .lines()
        .find(|l| l.starts_with("aws-oidc: error: "))
        .unwrap_or_else(|| panic!("no error line\n{}", run.describe()))
        .to_string()
}

#[test]
fn token_endpoint_redirect_is_not_followed() {
    let env = TestEnv::new();
    let elsewhere = FakeServer::start(vec![Step::json(200, r#"{"value":"x"}"#)]);
    let gh = FakeServer::start(vec![redirect_to(&format!("{}/idtoken", elsewhere.url()))]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let url = format!("{}/idtoken?api-version=2.0", gh.url());
    let request_token = format!("CANARYreqtok{}", unique());
    let run = run(
        &env,
        &assume(&sts.url(), &[]),
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &request_token),
        ],
    );
    assert_eq!(
        elsewhere.request_count(),
        0,
        "the redirect was followed: {:?}\n{}",
        elsewhere.requests(),
        run.describe()
    );
    assert_eq!(gh.request_count(), 1, "{}", run.describe());
    assert_eq!(sts.request_count(), 0, "{}", run.describe());
    assert_eq!(run.code, Some(3), "{}", run.describe());
    let line = error_line(&run);
    assert!(
        line.contains("302") && line.contains("redirects are not followed"),
        "{line}"
    );
    assert!(
        run.hints().contains("never redirects"),
        "{}",
        run.describe()
    );
    env.assert_no_output(&run);
    assert_no_secrets(&run, &[&request_token], false);
}

#[test]
fn federation_redirect_is_not_followed() {
    let env = TestEnv::new();
    let elsewhere = FakeServer::start(vec![Step::json(200, r#"{"SigninToken":"x"}"#)]);
    let fed = FakeServer::start(vec![redirect_to(&format!(
        "{}/federation",
        elsewhere.url()
    ))]);
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let jwt = mint_jwt(gitlab_claims());
    let fed_url = format!("{}/federation", fed.url());
    let args: Vec<String> = [
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
        &sts.url(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = run(&env, &args, &[("AWS_ID_TOKEN", &jwt.token)]);
    assert_eq!(
        elsewhere.request_count(),
        0,
        "the redirect was followed (with the credentials in the URL)\n{}",
        run.describe()
    );
    assert_eq!(fed.request_count(), 1, "{}", run.describe());
    assert_eq!(run.code, Some(4), "{}", run.describe());
    let line = error_line(&run);
    assert!(
        line.contains("302") && line.contains("redirects are not followed"),
        "{line}"
    );
    assert!(
        run.hints().contains("never redirects"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.is_empty(), "{}", run.describe());
    let mut secrets = jwt.secrets();
    secrets.extend(creds.secrets());
    assert_no_secrets(&run, &secrets, false);
}

#[test]
fn sts_redirect_is_not_followed() {
    let env = TestEnv::new();
    let elsewhere = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let sts = FakeServer::start(vec![redirect_to(&format!("{}/", elsewhere.url()))]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run(
        &env,
        &assume(&sts.url(), &[]),
        &[("AWS_ID_TOKEN", &jwt.token)],
    );
    assert_eq!(elsewhere.request_count(), 0, "{}", run.describe());
    assert_eq!(sts.request_count(), 1, "{}", run.describe());
    assert_eq!(run.code, Some(4), "{}", run.describe());
    let line = error_line(&run);
    assert!(
        line.contains("302") && line.contains("redirects are not followed"),
        "{line}"
    );
    assert!(
        run.hints().contains("never redirects"),
        "{}",
        run.describe()
    );
    env.assert_no_output(&run);
    assert_no_secrets(&run, &jwt.secrets(), false);
}

#[test]
fn unreachable_sts_names_the_url() {
    let env = TestEnv::new();
    let url = format!("http://127.0.0.1:{}", refused_port());
    let jwt = mint_jwt(gitlab_claims());
    let run = run(
        &env,
        &assume(&url, &["--max-attempts", "1"]),
        &[("AWS_ID_TOKEN", &jwt.token)],
    );
    assert_eq!(run.code, Some(5), "{}", run.describe());
    let line = error_line(&run);
    assert!(
        line.contains(&format!("cannot reach STS at {url}: connection refused")),
        "{line}"
    );
}

#[test]
fn attempt_timeout_is_rounded() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::Hang]);
    let jwt = mint_jwt(gitlab_claims());
    // Each attempt may take a third of --timeout: 4 s / 3 = 1.333… s.
    let run = run(
        &env,
        &assume(&sts.url(), &["--max-attempts", "1", "--timeout", "4"]),
        &[("AWS_ID_TOKEN", &jwt.token)],
    );
    assert_eq!(run.code, Some(5), "{}", run.describe());
    let line = error_line(&run);
    assert!(line.contains("no answer within 1.3 s"), "{line}");
}
