//! What `exec` and `exec --serve` leave in CMD's environment: the ID token variable aws-oidc
//! consumed is removed unless `--keep-token-env`; GitHub's request variables stay.

use crate::support::*;

/// Runs `exec [--serve] [extra] -- sh -c <print which of VARS are set>` against a fake STS.
fn exec_seen(
    serve: bool,
    extra: &[&str],
    envs: &[(&str, &str)],
    vars: &[&str],
) -> (Run, Vec<String>) {
    let env = TestEnv::new();
    // Several answers: --serve asks again when the command's SDK asks (it does not here).
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let sts_url = sts.url();
    let script: String = vars
        .iter()
        .map(|v| format!("if [ -n \"${{{v}+x}}\" ]; then echo {v}; fi; "))
        .collect();
    let mut args = vec![
        "exec",
        "--role-arn",
        ROLE_ARN,
        "--session-name",
        SESSION_NAME,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        &sts_url,
    ];
    if serve {
        args.push("--serve");
    }
    args.extend_from_slice(extra);
    args.extend(["--", "sh", "-c", &script]);
    let run = env.run(&args, envs);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let seen = run.stdout.lines().map(str::to_string).collect();
    (run, seen)
}

#[test]
fn exec_removes_the_consumed_token_variable() {
    let jwt = mint_jwt(gitlab_claims());
    for serve in [false, true] {
        let (run, seen) = exec_seen(
            serve,
            &[],
            &[("AWS_ID_TOKEN", &jwt.token), ("OTHER", "x")],
            &["AWS_ID_TOKEN", "OTHER"],
        );
        assert_eq!(seen, ["OTHER"], "serve={serve}\n{}", run.describe());
    }
}

#[test]
fn exec_keeps_the_token_variable_when_asked() {
    let jwt = mint_jwt(gitlab_claims());
    for serve in [false, true] {
        let (run, seen) = exec_seen(
            serve,
            &["--keep-token-env"],
            &[("AWS_ID_TOKEN", &jwt.token)],
            &["AWS_ID_TOKEN"],
        );
        assert_eq!(seen, ["AWS_ID_TOKEN"], "serve={serve}\n{}", run.describe());
    }
}

#[test]
fn exec_removes_a_named_token_variable_only() {
    let jwt = mint_jwt(gitlab_claims());
    let other = mint_jwt(gitlab_claims());
    for serve in [false, true] {
        let (run, seen) = exec_seen(
            serve,
            &["--token-env", "MY_TOKEN"],
            &[
                ("MY_TOKEN", &jwt.token),
                ("GITLAB_OIDC_TOKEN", &other.token),
            ],
            &["MY_TOKEN", "GITLAB_OIDC_TOKEN"],
        );
        // Only the variable read is removed.
        assert_eq!(
            seen,
            ["GITLAB_OIDC_TOKEN"],
            "serve={serve}\n{}",
            run.describe()
        );
    }
}

#[test]
fn exec_leaves_github_request_variables() {
    let jwt = mint_jwt(github_claims());
    let gh = FakeServer::start(vec![Step::gh_token(&jwt)]);
    let url = format!("{}/idtoken?api-version=2.0", gh.url());
    let (run, seen) = exec_seen(
        false,
        &[],
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "CANARYreqtokExecEnv"),
        ],
        &[
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ],
    );
    assert_eq!(
        seen,
        [
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
        ],
        "{}",
        run.describe()
    );
}
