//! The diagnosis commands run as the built binary: `token`, `trust-policy`, `explain` (exit
//! codes 0/1/2, JSON output, stdin), and `assume --trust-policy` explaining an AccessDenied from
//! the fake STS. The raw token never appears without `--raw`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::*;
use serde_json::{Value, json};

const ACCOUNT_ARG: [&str; 2] = ["--account", ACCOUNT];

fn gitlab_env(jwt: &Jwt) -> Vec<(&str, &str)> {
    vec![("AWS_ID_TOKEN", jwt.token.as_str()), ("GITLAB_CI", "true")]
}

fn write(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", run.describe()))
}

/// The trust policy `trust-policy` generates for GitLab's main branch of acme/widgets.
fn generated_gitlab_policy(env: &TestEnv) -> String {
    let run = env.run(
        &[
            "trust-policy",
            "--ci",
            "gitlab",
            "--project",
            "acme/widgets",
            "--branch",
            "main",
            "--issuer",
            GITLAB_ISS,
            "--account",
            ACCOUNT,
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    json_of(&run);
    run.stdout
}

#[test]
fn token_shows_header_claims_times_and_condition_keys_without_the_token() {
    let env = TestEnv::new();
    let jwt = mint_jwt(gitlab_claims());
    let run = env.run(&["token", "--account", ACCOUNT], &gitlab_env(&jwt));
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let out = &run.stdout;
    assert!(out.contains("alg=RS256 kid=fake-test-key typ=JWT"), "{out}");
    assert!(out.contains("GitLab CI"), "{out}");
    assert!(out.contains("expires in"), "{out}");
    assert!(
        out.contains(&format!("gitlab.example.com:sub  {GITLAB_SUB}")),
        "{out}"
    );
    assert!(
        out.contains("gitlab.example.com:aud  sts.amazonaws.com"),
        "{out}"
    );
    assert!(
        out.contains("arn:aws:iam::123456789012:oidc-provider/gitlab.example.com"),
        "{out}"
    );
    assert!(
        out.contains("namespace_path"),
        "every claim is shown\n{out}"
    );
    assert_no_secrets(&run, &jwt.secrets(), false);
}

#[test]
fn token_json_is_parseable() {
    let env = TestEnv::new();
    let jwt = mint_jwt(gitlab_claims());
    let run = env.run(&["token", "--json"], &gitlab_env(&jwt));
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let j = json_of(&run);
    assert_eq!(j["header"]["alg"], "RS256");
    assert_eq!(j["claims"]["sub"], GITLAB_SUB);
    assert_eq!(j["expired"], false);
    assert_eq!(j["provider"], "gitlab.example.com");
    let keys: Vec<&str> = j["condition_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"gitlab.example.com:sub"), "{keys:?}");
    assert!(
        j["not_condition_keys"]
            .as_array()
            .unwrap()
            .contains(&json!("project_path"))
    );
    assert_no_secrets(&run, &jwt.secrets(), false);
}

#[test]
fn token_shows_an_expired_token_instead_of_failing() {
    let env = TestEnv::new();
    let mut claims = gitlab_claims();
    claims["exp"] = json!(now_secs() - 3600);
    let jwt = mint_jwt(claims);
    let run = env.run(&["token"], &gitlab_env(&jwt));
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains("expired 1h 0m ago"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.contains("STS refuses it"), "{}", run.describe());
}

#[test]
fn token_raw_prints_the_token_only_when_asked_and_warns() {
    let env = TestEnv::new();
    let jwt = mint_jwt(gitlab_claims());
    let run = env.run(&["token", "--raw"], &gitlab_env(&jwt));
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(run.stdout.trim(), jwt.token);
    assert!(run.stderr.contains("warning"), "{}", run.describe());
    assert_no_secrets(&run, &jwt.secrets(), true);
}

#[test]
fn token_from_the_github_endpoint_with_the_default_audience() {
    let env = TestEnv::new();
    let jwt = mint_jwt(github_claims());
    let gh = FakeServer::start(vec![Step::gh_token(&jwt)]);
    let url = format!("{}/idtoken?api-version=2.0", gh.url());
    let run = env.run(
        &["token"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "CANARYreqtokX"),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains("GitHub Actions"), "{}", run.describe());
    assert!(run.stdout.contains(&format!(
        "token.actions.githubusercontent.com:sub  {GITHUB_SUB}"
    )));
    assert!(run.stdout.contains("job_workflow_ref") || run.stdout.contains("workflow_ref"));
    assert_eq!(
        gh.requests()[0].target,
        "/idtoken?api-version=2.0&audience=sts.amazonaws.com"
    );
    assert_no_secrets(&run, &jwt.secrets(), false);
}

#[test]
fn token_without_a_token_is_exit_3() {
    let env = TestEnv::new();
    let run = env.run(&["token"], &[("GITLAB_CI", "true")]);
    assert_eq!(run.code, Some(3), "{}", run.describe());
    assert!(run.hints().contains("id_tokens:"), "{}", run.describe());
}

#[test]
fn trust_policy_prints_valid_json_and_the_provider_command_on_stderr() {
    let env = TestEnv::new();
    let run = env.run(
        &[
            "trust-policy",
            "--ci",
            "github",
            "--repo",
            "acme/widgets",
            "--tag",
            "v*",
            "--account",
            ACCOUNT,
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let p = json_of(&run);
    let cond = &p["Statement"][0]["Condition"];
    assert_eq!(
        cond["StringLike"]["token.actions.githubusercontent.com:sub"],
        "repo:acme/widgets:ref:refs/tags/v*"
    );
    assert_eq!(
        cond["StringEquals"]["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    assert!(
        run.stderr
            .contains("aws iam create-open-id-connect-provider --url https://token.actions.githubusercontent.com --client-id-list sts.amazonaws.com"),
        "{}",
        run.describe()
    );
    let quiet = env.run(
        &[
            "trust-policy",
            "--ci",
            "github",
            "--repo",
            "acme/widgets",
            "-q",
            "--account",
            ACCOUNT,
        ],
        &[],
    );
    assert_eq!(quiet.code, Some(0), "{}", quiet.describe());
    assert!(quiet.stderr.is_empty(), "{}", quiet.describe());
    let tf = env.run(
        &[
            "trust-policy",
            "--ci",
            "gitlab",
            "--project",
            "g/p",
            "--branch",
            "main",
            "--format",
            "terraform",
            "--account",
            ACCOUNT,
        ],
        &[],
    );
    assert_eq!(tf.code, Some(0), "{}", tf.describe());
    assert!(
        tf.stdout.contains("aws_iam_openid_connect_provider"),
        "{}",
        tf.describe()
    );
}

#[test]
fn trust_policy_usage_errors_are_exit_2() {
    let env = TestEnv::new();
    for args in [
        vec![
            "trust-policy",
            "--ci",
            "gitlab",
            "--project",
            "g/p",
            "--environment",
            "prod",
        ],
        vec!["trust-policy", "--ci", "github"],
        vec![
            "trust-policy",
            "--ci",
            "github",
            "--repo",
            "o/r",
            "--partition",
            "aws-moon",
        ],
        vec![
            "trust-policy",
            "--ci",
            "github",
            "--repo",
            "o/r",
            "--account",
            "12",
        ],
    ] {
        let mut a = args.clone();
        if !a.contains(&"--account") {
            a.extend(ACCOUNT_ARG);
        }
        let run = env.run(&a, &[]);
        assert_eq!(run.code, Some(2), "{args:?}\n{}", run.describe());
        assert!(run.stdout.is_empty(), "{}", run.describe());
    }
}

#[test]
fn from_token_policy_is_admitted_by_explain_and_a_neighbour_is_refused() {
    let env = TestEnv::new();
    let jwt = mint_jwt(gitlab_claims());
    let run = env.run(
        &["trust-policy", "--from-token", "--account", ACCOUNT],
        &gitlab_env(&jwt),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let p = json_of(&run);
    assert_eq!(
        p["Statement"][0]["Condition"]["StringEquals"]["gitlab.example.com:sub"],
        GITLAB_SUB
    );
    assert_no_secrets(&run, &jwt.secrets(), false);
    let file = write(&env, "trust.json", &run.stdout);
    let role = "arn:aws:iam::123456789012:role/deploy";
    let ok = env.run(
        &["explain", "--trust-policy", &file, "--role-arn", role],
        &gitlab_env(&jwt),
    );
    assert_eq!(ok.code, Some(0), "{}", ok.describe());
    assert!(ok.stdout.contains("ALLOWED"), "{}", ok.describe());

    let mut claims = gitlab_claims();
    claims["sub"] = json!("project_path:acme/widgets:ref_type:branch:ref:feature-x");
    let other = mint_jwt(claims);
    let denied = env.run(
        &["explain", "--trust-policy", &file, "--role-arn", role],
        &gitlab_env(&other),
    );
    assert_eq!(denied.code, Some(1), "{}", denied.describe());
    assert!(
        denied
            .stdout
            .contains("add `project_path:acme/widgets:ref_type:branch:ref:feature-x` to `gitlab.example.com:sub`"),
        "{}",
        denied.describe()
    );
    assert_no_secrets(&denied, &other.secrets(), false);
}

#[test]
fn explain_exit_codes_and_json() {
    let env = TestEnv::new();
    let jwt = mint_jwt(gitlab_claims());
    let policy = generated_gitlab_policy(&env);
    let file = write(&env, "trust.json", &policy);

    let run = env.run(
        &["explain", "--trust-policy", &file, "--json"],
        &gitlab_env(&jwt),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let j = json_of(&run);
    assert_eq!(j["verdict"], "allowed");
    assert!(
        j["notes"].to_string().contains("any account"),
        "no account given: said so\n{}",
        run.describe()
    );

    let mut claims = gitlab_claims();
    claims["sub"] = json!("project_path:acme/widgets:ref_type:tag:ref:v1.0");
    let tag = mint_jwt(claims);
    let run = env.run(
        &["explain", "--trust-policy", &file, "--json"],
        &gitlab_env(&tag),
    );
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let j = json_of(&run);
    assert_eq!(j["verdict"], "denied");
    let failing = j["evaluations"][0]["statements"][0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["result"] == "fail")
        .cloned()
        .unwrap();
    assert_eq!(failing["key"], "gitlab.example.com:sub");
    assert_eq!(
        failing["token"],
        json!(["project_path:acme/widgets:ref_type:tag:ref:v1.0"])
    );
    assert_eq!(
        failing["wants"],
        json!(["project_path:acme/widgets:ref_type:branch:ref:main"])
    );
    assert!(!j["edits"].as_array().unwrap().is_empty());

    // Another account than the policy's provider.
    let run = env.run(
        &[
            "explain",
            "--trust-policy",
            &file,
            "--account",
            "210987654321",
        ],
        &gitlab_env(&jwt),
    );
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stdout.contains(
            "Federated must be `arn:aws:iam::210987654321:oidc-provider/gitlab.example.com`"
        ),
        "{}",
        run.describe()
    );

    // Input errors: bad JSON, unreadable file, not a policy.
    let bad = write(&env, "bad.json", "{\"Statement\": [");
    for f in [bad.as_str(), "/nonexistent/trust.json"] {
        let run = env.run(&["explain", "--trust-policy", f], &gitlab_env(&jwt));
        assert_eq!(run.code, Some(2), "{}", run.describe());
        assert!(run.stderr.contains("error"), "{}", run.describe());
    }
    let not_policy = write(&env, "np.json", "{\"Version\": \"2012-10-17\"}");
    let run = env.run(
        &["explain", "--trust-policy", &not_policy],
        &gitlab_env(&jwt),
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
}

#[test]
fn explain_reads_get_role_output_from_stdin() {
    let env = TestEnv::new();
    let jwt = mint_jwt(gitlab_claims());
    let policy: Value = serde_json::from_str(&generated_gitlab_policy(&env)).unwrap();
    let get_role = json!({"Role": {"RoleName": "deploy", "AssumeRolePolicyDocument": policy}});
    let mut child = Command::new(BIN)
        .args(["explain", "--trust-policy", "-"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &env.home)
        .env("AWS_ID_TOKEN", &jwt.token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(get_role.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ALLOWED"), "{stdout}");
}

#[test]
fn explain_names_keys_iam_does_not_provide() {
    let env = TestEnv::new();
    let jwt = mint_jwt(github_claims());
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:repository": "acme/widgets"
        }}
    }]});
    let file = write(&env, "trust.json", &policy.to_string());
    let run = env.run(
        &[
            "explain",
            "--trust-policy",
            &file,
            "--token-env",
            "MY_TOKEN",
        ],
        &[("MY_TOKEN", jwt.token.as_str())],
    );
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stdout
            .contains("IAM does not provide the `repository` claim as a condition key"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout
            .contains("without any condition on `token.actions.githubusercontent.com:sub`: every GitHub Actions workflow of any repository"),
        "{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// assume --trust-policy: explaining an AccessDenied
// ---------------------------------------------------------------------------------------------

fn assume_denied(
    env: &TestEnv,
    jwt: &Jwt,
    extra: &[&str],
    extra_env: &[(&str, &str)],
) -> (Run, FakeServer) {
    let sts = FakeServer::start(vec![Step::sts_error(
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    )]);
    let out = format!("env={}", env.env_file().display());
    let url = sts.url();
    let mut args = vec![
        "assume",
        "--role-arn",
        ROLE_ARN,
        "--session-name",
        SESSION_NAME,
        "--region",
        "us-east-1",
        "--sts-endpoint",
        url.as_str(),
        "--output",
        out.as_str(),
    ];
    args.extend_from_slice(extra);
    let mut envs = gitlab_env(jwt);
    envs.extend_from_slice(extra_env);
    let run = env.run(&args, &envs);
    (run, sts)
}

#[test]
fn access_denied_with_trust_policy_explains_the_refusal() {
    let env = TestEnv::new();
    let mut claims = gitlab_claims();
    claims["sub"] = json!("project_path:acme/widgets:ref_type:branch:ref:feature-x");
    let jwt = mint_jwt(claims);
    let file = write(&env, "trust.json", &generated_gitlab_policy(&env));
    let (run, sts) = assume_denied(&env, &jwt, &["--trust-policy", &file], &[]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert_eq!(sts.request_count(), 1);
    let hints = run.hints();
    assert!(hints.contains("the trust policy in"), "{}", run.describe());
    assert!(hints.contains("denies this token"), "{}", run.describe());
    assert!(
        run.stderr
            .contains("`StringEquals gitlab.example.com:sub` wants"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(
            "smallest edit: in statement 0, add `project_path:acme/widgets:ref_type:branch:ref:feature-x` to `gitlab.example.com:sub`"
        ),
        "{}",
        run.describe()
    );
    env.assert_no_output(&run);
    assert_no_secrets(&run, &jwt.secrets(), false);

    // Without --trust-policy, the hint says how to get one.
    let (run, _) = assume_denied(&env, &jwt, &[], &[]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(
        run.stderr.contains(
            "aws iam get-role --role-name ci-role --query Role.AssumeRolePolicyDocument > trust.json, then add --trust-policy trust.json"
        ),
        "{}",
        run.describe()
    );

    // The same through the environment variable.
    let (run, _) = assume_denied(&env, &jwt, &[], &[("AWS_OIDC_TRUST_POLICY", file.as_str())]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(
        run.hints().contains("denies this token"),
        "{}",
        run.describe()
    );
}

#[test]
fn access_denied_when_the_local_policy_allows_says_the_real_one_differs() {
    let env = TestEnv::new();
    let jwt = mint_jwt(gitlab_claims());
    let file = write(&env, "trust.json", &generated_gitlab_policy(&env));
    let (run, _) = assume_denied(&env, &jwt, &["--trust-policy", &file], &[]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(
        run.hints()
            .contains("allows this token, so the role's actual trust policy differs"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("aws iam get-role --role-name ci-role"),
        "{}",
        run.describe()
    );

    let (run, _) = assume_denied(&env, &jwt, &["--trust-policy", "/nonexistent.json"], &[]);
    assert_eq!(
        run.code,
        Some(4),
        "an unreadable --trust-policy only adds a hint\n{}",
        run.describe()
    );
    assert!(
        run.hints().contains("cannot read --trust-policy"),
        "{}",
        run.describe()
    );
}

#[test]
fn command_line_errors_use_the_one_error_form() {
    let env = TestEnv::new();
    let run = env.run(&["explain"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr.starts_with(
            "aws-oidc: error: the following required arguments were not provided: --trust-policy <FILE|->\n"
        ),
        "{}",
        run.describe()
    );
    assert!(
        run.hints()
            .contains("usage: aws-oidc explain --trust-policy <file|->"),
        "{}",
        run.describe()
    );
    let run = env.run(&["assume", "--duration", "5"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr.starts_with(
            "aws-oidc: error: invalid value '5' for '--duration <SECONDS>': 5 is not in 900..=43200\n"
        ),
        "{}",
        run.describe()
    );
    assert!(run.stdout.is_empty());
    // Help and version still go to stdout with exit 0.
    let run = env.run(&["explain", "--help"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains("--trust-policy"));
    let run = env.run(&["--version"], &[]);
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.starts_with("aws-oidc "));
}
