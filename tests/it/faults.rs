//! Fault-injection integration tests: the built `aws-oidc` binary against the in-process fakes
//! in `tests/it/support.rs` (scripted STS and GitHub token endpoint on 127.0.0.1).
//!
//! Every failing case asserts: exit code, an error + hint on stderr, how many requests the
//! fake STS saw, no secret on stdout/stderr, and that no output file was written.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::*;

const TARGET_ROLE: &str = "arn:aws:iam::210987654321:role/target";
const SIX_VARS: [&str; 6] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CREDENTIAL_EXPIRATION",
];

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// `assume` with the default role/session/region, STS at `sts_url`, env output into `out/`.
fn assume_args(env: &TestEnv, sts_url: &str, extra: &[&str]) -> Vec<String> {
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(env.output_arg());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_args(env: &TestEnv, args: &[String], envs: &[(&str, &str)]) -> Run {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run(&a, envs)
}

/// Run against `sts` with `jwt` in `AWS_ID_TOKEN` (GitLab style) and a 10 ms backoff base.
fn run_env_token(
    env: &TestEnv,
    sts_url: &str,
    jwt: &Jwt,
    extra_args: &[&str],
    extra_env: &[(&str, &str)],
) -> Run {
    let mut envs = vec![
        ("AWS_ID_TOKEN", jwt.token.as_str()),
        ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
    ];
    envs.extend_from_slice(extra_env);
    run_args(env, &assume_args(env, sts_url, extra_args), &envs)
}

fn secrets_of(jwt: &Jwt, creds: &[&Creds]) -> Vec<String> {
    let mut v = jwt.secrets();
    for c in creds {
        v.extend(c.secrets());
    }
    v
}

/// Exit code, error line + hint, no output, no secret.
fn assert_failed(env: &TestEnv, run: &Run, code: i32, secrets: &[String]) {
    assert!(!run.timed_out, "binary hung\n{}", run.describe());
    assert_eq!(run.code, Some(code), "wrong exit code\n{}", run.describe());
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("aws-oidc: error: ")),
        "no `aws-oidc: error: ` line on stderr\n{}",
        run.describe()
    );
    assert!(
        !run.hints().is_empty(),
        "no `hint:` line on stderr\n{}",
        run.describe()
    );
    env.assert_no_output(run);
    assert_no_secrets(run, secrets, false);
}

/// The env file holds exactly the six variables with `creds`, mode 0600.
fn assert_env_file(env: &TestEnv, run: &Run, creds: &Creds) {
    let path = env.env_file();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{}", path.display(), run.describe()));
    let vars = parse_env_file(&text);
    let mut keys: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort();
    let mut want = SIX_VARS.to_vec();
    want.sort();
    assert_eq!(keys, want, "env file keys\n{text}");
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("AWS_ACCESS_KEY_ID"), creds.access_key_id);
    assert_eq!(get("AWS_SECRET_ACCESS_KEY"), creds.secret_access_key);
    assert_eq!(get("AWS_SESSION_TOKEN"), creds.session_token);
    assert_eq!(get("AWS_REGION"), "us-east-1");
    assert_eq!(get("AWS_DEFAULT_REGION"), "us-east-1");
    let exp = get("AWS_CREDENTIAL_EXPIRATION");
    assert_eq!(
        exp.get(..19),
        creds.expiration.get(..19),
        "expiration {exp:?} vs {:?}",
        creds.expiration
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "env file mode {mode:o}");
    let leftovers: Vec<String> = env
        .out_entries()
        .into_iter()
        .filter(|n| n != "aws.env")
        .collect();
    assert!(
        leftovers.is_empty(),
        "stray files next to the output: {leftovers:?}"
    );
}

fn assert_ok(env: &TestEnv, run: &Run, creds: &Creds, secrets: &[String]) {
    assert!(!run.timed_out, "binary hung\n{}", run.describe());
    assert_eq!(run.code, Some(0), "expected success\n{}", run.describe());
    assert_env_file(env, run, creds);
    assert_no_secrets(run, secrets, false);
}

/// A permanent STS error: exit 4 after exactly one request. The script's second step would
/// succeed, so a wrong retry shows up as exit 0 / 2 requests.
fn permanent_case(code: &str, message: &str) -> (Run, FakeServer, Jwt) {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::sts_error(code, message), Step::awwi_ok(&creds)]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(&env, &sts.url(), &jwt, &[], &[]);
    assert_failed(&env, &run, 4, &secrets_of(&jwt, &[&creds]));
    assert_eq!(
        sts.request_count(),
        1,
        "permanent {code} must not be retried\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(code),
        "stderr lacks the STS error code {code}\n{}",
        run.describe()
    );
    (run, sts, jwt)
}

/// One transient fault then success: exit 0 after exactly two requests.
fn transient_case(fault: Step) -> (Run, FakeServer) {
    transient_case_with(fault, false)
}

fn transient_case_with(fault: Step, keep_alive: bool) -> (Run, FakeServer) {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start_with(vec![fault, Step::awwi_ok(&creds)], keep_alive);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(&env, &sts.url(), &jwt, &[], &[]);
    assert_ok(&env, &run, &creds, &secrets_of(&jwt, &[&creds]));
    assert_eq!(
        sts.request_count(),
        2,
        "expected one retry\n{}",
        run.describe()
    );
    for r in sts.requests() {
        assert_eq!(
            r.form_value("WebIdentityToken").as_deref(),
            Some(jwt.token.as_str())
        );
    }
    (run, sts)
}

/// GitHub token-endpoint environment: request URL already carrying `?api-version=2.0`.
struct Gh {
    server: FakeServer,
    request_token: String,
    path: String,
}

impl Gh {
    fn start(steps: Vec<Step>) -> Gh {
        let server = FakeServer::start(steps);
        Gh {
            server,
            request_token: format!("CANARYreqtok{}", unique()),
            path: "/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/p1/jobs/j1/idtoken"
                .to_string(),
        }
    }
    fn request_url(&self) -> String {
        format!("{}{}?api-version=2.0", self.server.url(), self.path)
    }
}

fn run_gh(env: &TestEnv, sts_url: &str, gh: &Gh, extra_args: &[&str]) -> Run {
    let url = gh.request_url();
    let envs = [
        ("GITHUB_ACTIONS", "true"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", gh.request_token.as_str()),
        ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
    ];
    run_args(env, &assume_args(env, sts_url, extra_args), &envs)
}

fn hint_mentions_github_permission(run: &Run) -> bool {
    let s = run.stderr.to_ascii_lowercase();
    s.contains("id-token: write")
        || s.contains("actions_id_token_request_token")
        || s.contains("request token")
}

// ---------------------------------------------------------------------------------------------
// success
// ---------------------------------------------------------------------------------------------

#[test]
fn success_writes_env_file_and_sends_unsigned_form_post() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(&env, &sts.url(), &jwt, &[], &[]);
    assert_ok(&env, &run, &creds, &secrets_of(&jwt, &[&creds]));

    let reqs = sts.requests();
    assert_eq!(reqs.len(), 1, "{}", run.describe());
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path(), "/");
    let ct = r
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        ct.starts_with("application/x-www-form-urlencoded"),
        "content-type {ct:?}"
    );
    let form = r.form_map();
    assert_eq!(
        form.get("Action").map(String::as_str),
        Some("AssumeRoleWithWebIdentity"),
        "{form:?}"
    );
    assert_eq!(form.get("Version").map(String::as_str), Some("2011-06-15"));
    assert_eq!(form.get("RoleArn").map(String::as_str), Some(ROLE_ARN));
    assert_eq!(
        form.get("RoleSessionName").map(String::as_str),
        Some(SESSION_NAME)
    );
    assert_eq!(
        form.get("WebIdentityToken").map(String::as_str),
        Some(jwt.token.as_str())
    );
    assert_eq!(
        form.get("DurationSeconds").map(String::as_str),
        Some("3600")
    );
    assert!(
        !form.contains_key("ProviderId"),
        "ProviderId must be omitted for OIDC: {form:?}"
    );
    assert!(
        r.header("authorization").is_none(),
        "AssumeRoleWithWebIdentity must be unsigned: {:?}",
        r.headers
    );
    assert!(
        r.header("x-amz-security-token").is_none(),
        "{:?}",
        r.headers
    );
    assert!(
        run.stdout.trim().is_empty(),
        "stdout must stay empty with a file output\n{}",
        run.describe()
    );
}

#[test]
fn slow_sts_answer_within_timeout_is_not_a_failure() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::slow(
        Duration::from_millis(700),
        Step::awwi_ok(&creds),
    )]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(&env, &sts.url(), &jwt, &["--timeout", "10"], &[]);
    assert_ok(&env, &run, &creds, &secrets_of(&jwt, &[&creds]));
    assert_eq!(sts.request_count(), 1, "{}", run.describe());
}

// ---------------------------------------------------------------------------------------------
// permanent STS errors: exit 4, one request
// ---------------------------------------------------------------------------------------------

#[test]
fn access_denied_is_permanent_and_shows_token_claims() {
    let (run, _sts, _jwt) = permanent_case(
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    for claim in [GITLAB_ISS, AUD, GITLAB_SUB] {
        assert!(
            run.stderr.contains(claim),
            "stderr should show claim {claim:?}\n{}",
            run.describe()
        );
    }
}

#[test]
fn no_oidc_provider_is_permanent_and_hints_to_create_it() {
    let msg = format!("No OpenIDConnect provider found in your account for {GITLAB_ISS}");
    let (run, _sts, _jwt) = permanent_case("InvalidIdentityToken", &msg);
    let h = run.hints();
    assert!(
        h.contains("provider")
            && (h.contains("creat") || h.contains("add") || h.contains("register")),
        "hint should say to create the OIDC provider\n{}",
        run.describe()
    );
}

#[test]
fn incorrect_audience_is_permanent() {
    let (run, _sts, _jwt) = permanent_case("InvalidIdentityToken", "Incorrect token audience");
    assert!(
        run.stderr.contains(AUD),
        "stderr should show the token's aud\n{}",
        run.describe()
    );
}

#[test]
fn idp_rejected_claim_is_permanent() {
    permanent_case(
        "IDPRejectedClaim",
        "Token has been revoked or has an invalid claim",
    );
}

#[test]
fn validation_error_duration_is_permanent() {
    permanent_case(
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
}

#[test]
fn region_disabled_is_permanent() {
    permanent_case(
        "RegionDisabledException",
        "STS is not activated in this region for account:123456789012. Your account administrator can activate STS in this region using the IAM Console.",
    );
}

#[test]
fn malformed_policy_document_is_permanent() {
    permanent_case("MalformedPolicyDocument", "Syntax errors in policy.");
}

#[test]
fn packed_policy_too_large_is_permanent() {
    permanent_case(
        "PackedPolicyTooLarge",
        "Packed size of the policies and session tags exceeds 100% of the allowed limit.",
    );
}

#[test]
fn expired_token_from_env_var_cannot_be_reminted() {
    permanent_case(
        "ExpiredToken",
        "Token expired: current date/time 1700000000 must be before the expiration date/time 1699999000",
    );
}

// ---------------------------------------------------------------------------------------------
// transient STS faults then success: exit 0, two requests
// ---------------------------------------------------------------------------------------------

#[test]
fn http_503_then_success() {
    transient_case(Step::text(503, "Service Unavailable"));
}

#[test]
fn http_503_then_success_on_keep_alive_connection() {
    transient_case_with(Step::text(503, "Service Unavailable"), true);
}

#[test]
fn throttling_then_success() {
    transient_case(Step::xml(400, sts_error_xml("Throttling", "Rate exceeded")));
}

#[test]
fn idp_communication_error_then_success() {
    transient_case(Step::sts_error(
        "IDPCommunicationError",
        "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached.",
    ));
}

#[test]
fn jwks_fetch_failure_then_success() {
    transient_case(Step::sts_error(
        "InvalidIdentityToken",
        "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
    ));
}

#[test]
fn http_500_html_body_then_success() {
    transient_case(Step::respond(
        500,
        "text/html",
        "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>",
    ));
}

#[test]
fn truncated_xml_then_success() {
    let full = Step::awwi_ok(&Creds::canary());
    // Cut in the middle of the <Credentials> element.
    transient_case(Step::truncate(full, 180));
}

#[test]
fn connection_closed_then_success() {
    transient_case(Step::Close);
}

// ---------------------------------------------------------------------------------------------
// transient failures that never clear: exit 5
// ---------------------------------------------------------------------------------------------

#[test]
fn transient_forever_exhausts_max_attempts() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::text(503, "Service Unavailable")]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(&env, &sts.url(), &jwt, &["--max-attempts", "3"], &[]);
    assert_failed(&env, &run, 5, &jwt.secrets());
    assert_eq!(
        sts.request_count(),
        3,
        "--max-attempts 3 means exactly 3 requests\n{}",
        run.describe()
    );
}

#[test]
fn throttling_forever_exhausts_max_attempts() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::xml(
        400,
        sts_error_xml("Throttling", "Rate exceeded"),
    )]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(&env, &sts.url(), &jwt, &["--max-attempts", "3"], &[]);
    assert_failed(&env, &run, 5, &jwt.secrets());
    assert_eq!(sts.request_count(), 3, "{}", run.describe());
    assert!(run.stderr.contains("Throttling"), "{}", run.describe());
}

#[test]
fn server_that_never_answers_times_out() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::Hang]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(&env, &sts.url(), &jwt, &["--timeout", "2"], &[]);
    assert_failed(&env, &run, 5, &jwt.secrets());
    assert!(sts.request_count() >= 1, "{}", run.describe());
    assert!(
        run.elapsed >= Duration::from_millis(1500) && run.elapsed <= Duration::from_secs(8),
        "--timeout 2 should end the run after ~2-4 s, took {:?}\n{}",
        run.elapsed,
        run.describe()
    );
}

#[test]
fn connection_refused_is_transient() {
    let env = TestEnv::new();
    let url = format!("http://127.0.0.1:{}", refused_port());
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(&env, &url, &jwt, &["--max-attempts", "3"], &[]);
    assert_failed(&env, &run, 5, &jwt.secrets());
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
}

// ---------------------------------------------------------------------------------------------
// GitHub token endpoint
// ---------------------------------------------------------------------------------------------

#[test]
fn github_token_request_appends_audience_and_sends_bearer() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let jwt = mint_jwt(github_claims());
    let gh = Gh::start(vec![Step::gh_token(&jwt)]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let run = run_gh(&env, &sts.url(), &gh, &[]);
    let mut secrets = secrets_of(&jwt, &[&creds]);
    secrets.push(gh.request_token.clone());
    assert_ok(&env, &run, &creds, &secrets);

    let reqs = gh.server.requests();
    assert_eq!(reqs.len(), 1, "{}", run.describe());
    let r = &reqs[0];
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.target,
        format!("{}?api-version=2.0&audience=sts.amazonaws.com", gh.path)
    );
    let auth = r
        .header("authorization")
        .expect("Authorization header on the token request");
    let (scheme, tok) = auth.split_once(' ').expect("`bearer <token>`");
    assert!(scheme.eq_ignore_ascii_case("bearer"), "{auth:?}");
    assert_eq!(tok, gh.request_token);
    assert_eq!(sts.request_count(), 1);
    assert_eq!(
        sts.requests()[0].form_value("WebIdentityToken").as_deref(),
        Some(jwt.token.as_str())
    );
}

#[test]
fn github_token_request_without_query_uses_question_mark() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let jwt = mint_jwt(github_claims());
    let gh = Gh::start(vec![Step::gh_token(&jwt)]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let url = format!("{}/idtoken", gh.server.url());
    let envs = [
        ("GITHUB_ACTIONS", "true"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", gh.request_token.as_str()),
        ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
    ];
    let run = run_args(&env, &assume_args(&env, &sts.url(), &[]), &envs);
    let mut secrets = secrets_of(&jwt, &[&creds]);
    secrets.push(gh.request_token.clone());
    assert_ok(&env, &run, &creds, &secrets);
    let reqs = gh.server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].target, "/idtoken?audience=sts.amazonaws.com");
}

#[test]
fn expired_token_with_github_source_remints_once() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let jwt1 = mint_jwt(github_claims());
    let jwt2 = mint_jwt(github_claims());
    let gh = Gh::start(vec![Step::gh_token(&jwt1), Step::gh_token(&jwt2)]);
    let sts = FakeServer::start(vec![
        Step::sts_error(
            "ExpiredToken",
            "Token expired: current date/time 1700000400 must be before the expiration date/time 1700000300",
        ),
        Step::awwi_ok(&creds),
    ]);
    let run = run_gh(&env, &sts.url(), &gh, &[]);
    let mut secrets = secrets_of(&jwt1, &[&creds]);
    secrets.extend(jwt2.secrets());
    secrets.push(gh.request_token.clone());
    assert_ok(&env, &run, &creds, &secrets);
    assert_eq!(
        gh.server.request_count(),
        2,
        "token endpoint: one re-mint\n{}",
        run.describe()
    );
    let reqs = sts.requests();
    assert_eq!(reqs.len(), 2, "{}", run.describe());
    assert_eq!(
        reqs[0].form_value("WebIdentityToken").as_deref(),
        Some(jwt1.token.as_str())
    );
    assert_eq!(
        reqs[1].form_value("WebIdentityToken").as_deref(),
        Some(jwt2.token.as_str()),
        "the retry must use the re-minted token"
    );
}

#[test]
fn expired_token_with_github_source_remints_only_once() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let jwt = mint_jwt(github_claims());
    let gh = Gh::start(vec![Step::gh_token(&jwt)]);
    let sts = FakeServer::start(vec![
        Step::sts_error(
            "ExpiredToken",
            "Token expired: current date/time 1700000400 must be before the expiration date/time 1700000300",
        ),
        Step::sts_error(
            "ExpiredToken",
            "Token expired: current date/time 1700000400 must be before the expiration date/time 1700000300",
        ),
        Step::awwi_ok(&creds),
    ]);
    let run = run_gh(&env, &sts.url(), &gh, &[]);
    let mut secrets = secrets_of(&jwt, &[&creds]);
    secrets.push(gh.request_token.clone());
    assert_failed(&env, &run, 4, &secrets);
    assert_eq!(gh.server.request_count(), 2, "{}", run.describe());
    assert_eq!(sts.request_count(), 2, "{}", run.describe());
}

fn token_endpoint_refusal(status: u16) {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let jwt = mint_jwt(github_claims());
    let gh = Gh::start(vec![
        Step::json(
            status,
            r#"{"message":"Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable"}"#,
        ),
        Step::gh_token(&jwt),
    ]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let run = run_gh(&env, &sts.url(), &gh, &[]);
    let mut secrets = secrets_of(&jwt, &[&creds]);
    secrets.push(gh.request_token.clone());
    assert_failed(&env, &run, 3, &secrets);
    assert_eq!(
        gh.server.request_count(),
        1,
        "a {status} is not retried\n{}",
        run.describe()
    );
    assert_eq!(sts.request_count(), 0);
    assert!(
        hint_mentions_github_permission(&run),
        "hint should mention `permissions: id-token: write` / the request token\n{}",
        run.describe()
    );
}

#[test]
fn token_endpoint_401_is_exit_3() {
    token_endpoint_refusal(401);
}

#[test]
fn token_endpoint_403_is_exit_3() {
    token_endpoint_refusal(403);
}

#[test]
fn token_endpoint_500_then_success() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let jwt = mint_jwt(github_claims());
    let gh = Gh::start(vec![
        Step::text(500, "Internal Server Error"),
        Step::gh_token(&jwt),
    ]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let run = run_gh(&env, &sts.url(), &gh, &[]);
    let mut secrets = secrets_of(&jwt, &[&creds]);
    secrets.push(gh.request_token.clone());
    assert_ok(&env, &run, &creds, &secrets);
    assert_eq!(gh.server.request_count(), 2, "{}", run.describe());
    assert_eq!(sts.request_count(), 1);
}

#[test]
fn token_endpoint_non_json_body_is_exit_3() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let gh = Gh::start(vec![Step::respond(
        200,
        "text/html",
        "<html><body>Sign in to GitHub</body></html>",
    )]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let run = run_gh(&env, &sts.url(), &gh, &[]);
    assert_failed(&env, &run, 3, std::slice::from_ref(&gh.request_token));
    assert!(gh.server.request_count() >= 1);
    assert_eq!(sts.request_count(), 0, "{}", run.describe());
}

// ---------------------------------------------------------------------------------------------
// token problems caught before STS
// ---------------------------------------------------------------------------------------------

#[test]
fn expired_jwt_fails_before_sts_and_says_when() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let now = now_secs();
    let exp = now - 3600;
    let mut claims = gitlab_claims();
    claims["iat"] = serde_json::json!(now - 7200);
    claims["nbf"] = serde_json::json!(now - 7205);
    claims["exp"] = serde_json::json!(exp);
    let jwt = mint_jwt(claims);
    let run = run_env_token(&env, &sts.url(), &jwt, &[], &[]);
    assert_failed(&env, &run, 3, &jwt.secrets());
    assert_eq!(
        sts.request_count(),
        0,
        "an expired token must not reach STS\n{}",
        run.describe()
    );
    let lower = run.stderr.to_ascii_lowercase();
    assert!(lower.contains("expir"), "{}", run.describe());
    let when = rfc3339(exp);
    let (date, time) = (&when[..10], &when[11..16]);
    let says_when = run.stderr.contains(&format!("{date}T{time}"))
        || run.stderr.contains(&format!("{date} {time}"))
        || run.stderr.contains(&exp.to_string())
        || lower.contains(" ago");
    assert!(
        says_when,
        "stderr should say when the token expired ({when})\n{}",
        run.describe()
    );
}

#[test]
fn non_jwt_token_is_rejected_clearly() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let not_jwt = format!("CANARYjwtsig-opaque-access-token-{}", unique());
    let envs = [
        ("AWS_ID_TOKEN", not_jwt.as_str()),
        ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
    ];
    let run = run_args(&env, &assume_args(&env, &sts.url(), &[]), &envs);
    assert!(
        matches!(run.code, Some(2) | Some(3)),
        "expected exit 2 or 3\n{}",
        run.describe()
    );
    assert!(
        run.stderr.to_ascii_lowercase().contains("jwt"),
        "message should say it is not a JWT\n{}",
        run.describe()
    );
    env.assert_no_output(&run);
    assert_no_secrets(&run, &[not_jwt.as_str()], false);
    assert_eq!(sts.request_count(), 0, "{}", run.describe());
}

#[test]
fn github_actions_without_id_token_permission() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let run = run_args(
        &env,
        &assume_args(&env, &sts.url(), &[]),
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_failed(&env, &run, 3, &[] as &[String]);
    assert!(
        run.hints().contains("id-token: write"),
        "{}",
        run.describe()
    );
    assert_eq!(sts.request_count(), 0);
}

#[test]
fn gitlab_without_id_tokens() {
    let env = TestEnv::new();
    let sts = FakeServer::start(vec![Step::awwi_ok(&Creds::canary())]);
    let run = run_args(
        &env,
        &assume_args(&env, &sts.url(), &[]),
        &[("GITLAB_CI", "true")],
    );
    assert_failed(&env, &run, 3, &[] as &[String]);
    assert!(run.hints().contains("id_tokens:"), "{}", run.describe());
    assert_eq!(sts.request_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// account allow-list, role chaining
// ---------------------------------------------------------------------------------------------

#[test]
fn allowed_account_ids_mismatch_is_denied() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(
        &env,
        &sts.url(),
        &jwt,
        &["--allowed-account-ids", "111111111111"],
        &[],
    );
    assert_failed(&env, &run, 4, &secrets_of(&jwt, &[&creds]));
    assert!(sts.request_count() <= 1, "{}", run.describe());
    assert!(
        run.stderr.contains(ACCOUNT),
        "stderr should name the role's account\n{}",
        run.describe()
    );
}

#[test]
fn chained_role_is_sigv4_signed_with_first_hop_credentials() {
    let env = TestEnv::new();
    let hop1 = Creds::canary();
    let hop2 = Creds::canary();
    let sts = FakeServer::start(vec![
        Step::awwi_ok(&hop1),
        Step::xml(
            200,
            assume_role_success_xml(&hop2, TARGET_ROLE, SESSION_NAME),
        ),
    ]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(
        &env,
        &sts.url(),
        &jwt,
        &["--chain-role-arn", TARGET_ROLE, "--external-id", "ext-123"],
        &[],
    );
    assert_ok(&env, &run, &hop2, &secrets_of(&jwt, &[&hop1, &hop2]));

    let reqs = sts.requests();
    assert_eq!(reqs.len(), 2, "{}", run.describe());
    assert_eq!(
        reqs[0].form_value("Action").as_deref(),
        Some("AssumeRoleWithWebIdentity")
    );
    assert!(reqs[0].header("authorization").is_none());

    let r = &reqs[1];
    assert_eq!(r.method, "POST");
    let form = r.form_map();
    assert_eq!(
        form.get("Action").map(String::as_str),
        Some("AssumeRole"),
        "{form:?}"
    );
    assert_eq!(form.get("RoleArn").map(String::as_str), Some(TARGET_ROLE));
    assert_eq!(form.get("ExternalId").map(String::as_str), Some("ext-123"));
    assert!(
        form.get("RoleSessionName").is_some_and(|s| !s.is_empty()),
        "{form:?}"
    );
    let auth = r
        .header("authorization")
        .unwrap_or_else(|| panic!("AssumeRole must be signed: {:?}", r.headers));
    let prefix = format!("AWS4-HMAC-SHA256 Credential={}/", hop1.access_key_id);
    assert!(
        auth.starts_with(&prefix),
        "Authorization {auth:?} should start with {prefix:?}"
    );
    assert!(auth.contains("/us-east-1/sts/aws4_request"), "{auth:?}");
    assert_eq!(
        r.header("x-amz-security-token"),
        Some(hop1.session_token.as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// more faults: body-level truncation, verbose logging, chained-hop faults, token endpoint
// exhaustion
// ---------------------------------------------------------------------------------------------

#[test]
fn complete_http_answer_with_truncated_xml_then_success() {
    // Unlike `truncated_xml_then_success`, the HTTP message itself is complete (Content-Length
    // matches); only the XML document is cut short.
    let xml = awwi_success_xml(&Creds::canary(), ROLE_ARN, SESSION_NAME, GITLAB_SUB);
    transient_case(Step::xml(200, &xml.as_bytes()[..xml.len() / 2]));
}

#[test]
fn verbose_logs_each_attempt_without_secrets() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let sts = FakeServer::start(vec![
        Step::text(503, "Service Unavailable"),
        Step::text(503, "Service Unavailable"),
        Step::awwi_ok(&creds),
    ]);
    let jwt = mint_jwt(gitlab_claims());
    // -vv is the most talkative level: the likeliest place for a secret to slip out.
    let run = run_env_token(&env, &sts.url(), &jwt, &["-vv"], &[]);
    assert_ok(&env, &run, &creds, &secrets_of(&jwt, &[&creds]));
    assert_eq!(sts.request_count(), 3, "{}", run.describe());
    for n in 1..=3 {
        assert!(
            run.stderr.contains(&format!("attempt {n}/5")),
            "--verbose should log attempt {n}/5\n{}",
            run.describe()
        );
    }
    assert!(!run.stderr.contains("attempt 4/5"), "{}", run.describe());
}

#[test]
fn chained_hop_transient_then_success() {
    let env = TestEnv::new();
    let hop1 = Creds::canary();
    let hop2 = Creds::canary();
    let sts = FakeServer::start(vec![
        Step::awwi_ok(&hop1),
        Step::text(503, "Service Unavailable"),
        Step::xml(
            200,
            assume_role_success_xml(&hop2, TARGET_ROLE, SESSION_NAME),
        ),
    ]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(
        &env,
        &sts.url(),
        &jwt,
        &["--chain-role-arn", TARGET_ROLE],
        &[],
    );
    assert_ok(&env, &run, &hop2, &secrets_of(&jwt, &[&hop1, &hop2]));
    let reqs = sts.requests();
    assert_eq!(reqs.len(), 3, "{}", run.describe());
    let actions: Vec<Option<String>> = reqs.iter().map(|r| r.form_value("Action")).collect();
    assert_eq!(
        actions,
        [
            Some("AssumeRoleWithWebIdentity".to_string()),
            Some("AssumeRole".to_string()),
            Some("AssumeRole".to_string())
        ],
        "only the failed hop is retried"
    );
    for r in &reqs[1..] {
        let auth = r.header("authorization").unwrap_or_default();
        assert!(
            auth.starts_with(&format!(
                "AWS4-HMAC-SHA256 Credential={}/",
                hop1.access_key_id
            )),
            "{auth:?}"
        );
    }
}

#[test]
fn chained_hop_access_denied_is_permanent() {
    let env = TestEnv::new();
    let hop1 = Creds::canary();
    let hop2 = Creds::canary();
    let sts = FakeServer::start(vec![
        Step::awwi_ok(&hop1),
        Step::sts_error(
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/ci-role/test-session is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::210987654321:role/target",
        ),
        Step::xml(
            200,
            assume_role_success_xml(&hop2, TARGET_ROLE, SESSION_NAME),
        ),
    ]);
    let jwt = mint_jwt(gitlab_claims());
    let run = run_env_token(
        &env,
        &sts.url(),
        &jwt,
        &["--chain-role-arn", TARGET_ROLE, "--external-id", "ext-123"],
        &[],
    );
    // The first hop's credentials must not be written or printed when the chain fails.
    assert_failed(&env, &run, 4, &secrets_of(&jwt, &[&hop1, &hop2]));
    assert!(
        !run.stdout.contains(&hop1.access_key_id),
        "{}",
        run.describe()
    );
    assert_eq!(sts.request_count(), 2, "{}", run.describe());
    assert!(run.stderr.contains("AccessDenied"), "{}", run.describe());
    assert!(
        run.hints().contains(TARGET_ROLE),
        "hint should name the chained role\n{}",
        run.describe()
    );
}

#[test]
fn token_endpoint_failing_forever_is_transient() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let gh = Gh::start(vec![Step::text(502, "Bad Gateway")]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let run = run_gh(&env, &sts.url(), &gh, &["--max-attempts", "3"]);
    assert_failed(&env, &run, 5, std::slice::from_ref(&gh.request_token));
    assert_eq!(gh.server.request_count(), 3, "{}", run.describe());
    assert_eq!(sts.request_count(), 0);
}

#[test]
fn token_endpoint_that_never_answers_times_out() {
    let env = TestEnv::new();
    let creds = Creds::canary();
    let gh = Gh::start(vec![Step::Hang]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let run = run_gh(&env, &sts.url(), &gh, &["--timeout", "2"]);
    assert_failed(&env, &run, 5, std::slice::from_ref(&gh.request_token));
    assert!(
        run.elapsed >= Duration::from_millis(1500) && run.elapsed <= Duration::from_secs(8),
        "--timeout 2 should bound the token request too, took {:?}\n{}",
        run.elapsed,
        run.describe()
    );
    assert_eq!(sts.request_count(), 0);
}
