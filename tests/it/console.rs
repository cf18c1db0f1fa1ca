//! `aws-oidc console` and `assume --console-url` against the project's fake STS and a fake
//! federation endpoint: the exact getSigninToken request, SessionDuration for first-hop vs
//! chained credentials, destinations, partitions, errors, retries, and where the URL goes.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

use crate::support::*;

const TARGET_ROLE: &str = "arn:aws:iam::210987654321:role/target";

struct Setup {
    env: TestEnv,
    sts: FakeServer,
    fed: FakeServer,
    jwt: Jwt,
    creds: Creds,
}

fn setup(fed_steps: Vec<Step>) -> Setup {
    let creds = Creds::canary();
    Setup {
        env: TestEnv::new(),
        sts: FakeServer::start(vec![Step::awwi_ok(&creds)]),
        fed: FakeServer::start(fed_steps),
        jwt: mint_jwt(gitlab_claims()),
        creds,
    }
}

fn signin_ok(token: &str) -> Step {
    Step::json(200, format!("{{\"SigninToken\":\"{token}\"}}"))
}

impl Setup {
    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let fed = format!("{}/federation", self.fed.url());
        let mut a = vec![
            "--role-arn",
            ROLE_ARN,
            "--session-name",
            SESSION_NAME,
            "--region",
            "eu-west-1",
            "--sts-endpoint",
        ];
        let sts = self.sts.url();
        a.push(&sts);
        a.extend(["--federation-endpoint", &fed]);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(a);
        let mut e = vec![
            ("AWS_ID_TOKEN", self.jwt.token.as_str()),
            ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
        ];
        e.extend_from_slice(envs);
        self.env.run(&all, &e)
    }

    fn secrets(&self) -> Vec<String> {
        let mut v = self.jwt.secrets();
        v.extend(self.creds.secrets());
        v
    }
}

fn query_map(q: &str) -> HashMap<String, String> {
    parse_form(q).into_iter().collect()
}

#[test]
fn console_prints_the_login_url_after_an_exact_getsignintoken_request() {
    let s = setup(vec![signin_ok("SIGNIN+tok/en=")]);
    let run = s.run(&["console", "--console-duration", "7200"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());

    let reqs = s.fed.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.path(), "/federation");
    let raw = r.query().unwrap();
    assert!(
        raw.starts_with(
            "Action=getSigninToken&SessionDuration=7200&Session=%7B%22sessionId%22%3A%22"
        ),
        "{raw}"
    );
    let q = query_map(raw);
    assert_eq!(q["Action"], "getSigninToken");
    assert_eq!(q["SessionDuration"], "7200");
    let session: serde_json::Value = serde_json::from_str(&q["Session"]).unwrap();
    let obj = session.as_object().unwrap();
    assert_eq!(
        obj.len(),
        3,
        "Session carries exactly three keys: {session}"
    );
    assert_eq!(obj["sessionId"], s.creds.access_key_id.as_str());
    assert_eq!(obj["sessionKey"], s.creds.secret_access_key.as_str());
    assert_eq!(obj["sessionToken"], s.creds.session_token.as_str());

    let url = run.stdout.trim();
    let (base, q) = url.split_once('?').unwrap();
    assert_eq!(base, format!("{}/federation", s.fed.url()));
    assert!(q.starts_with("Action=login&"), "{q}");
    let q = query_map(q);
    assert_eq!(q["SigninToken"], "SIGNIN+tok/en=");
    assert_eq!(
        q["Destination"],
        "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
    );
    assert!(!q.contains_key("Issuer"), "no CI job URL is known here");
    assert!(
        run.stderr.contains("bearer credential"),
        "warns what the URL is: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("SIGNIN+tok"),
        "the sign-in token is not logged"
    );
    assert_no_secrets(&run, &s.secrets(), true);
}

#[test]
fn session_duration_defaults_for_first_hop_and_is_omitted_for_chained_credentials() {
    let s = setup(vec![signin_ok("t")]);
    let run = s.run(&["console"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(
        query_map(s.fed.requests()[0].query().unwrap())["SessionDuration"],
        "3600"
    );

    let chained = Creds::canary();
    let s2 = Setup {
        sts: FakeServer::start(vec![
            Step::awwi_ok(&s.creds),
            Step::xml(
                200,
                assume_role_success_xml(&chained, TARGET_ROLE, SESSION_NAME),
            ),
        ]),
        ..setup(vec![signin_ok("t")])
    };
    let run = s2.run(
        &[
            "console",
            "--console-duration",
            "7200",
            "--chain-role-arn",
            TARGET_ROLE,
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let q = query_map(s2.fed.requests()[0].query().unwrap());
    assert!(!q.contains_key("SessionDuration"), "{q:?}");
    let session: serde_json::Value = serde_json::from_str(&q["Session"]).unwrap();
    assert_eq!(session["sessionId"], chained.access_key_id.as_str());
}

#[test]
fn destination_service_and_url_and_issuer_from_the_ci_job() {
    let s = setup(vec![signin_ok("t")]);
    let run = s.run(
        &["console", "--destination", "cloudformation"],
        &[
            ("GITLAB_CI", "true"),
            (
                "CI_JOB_URL",
                "https://gitlab.example.com/acme/widgets/-/jobs/42",
            ),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let q = query_map(run.stdout.trim().split_once('?').unwrap().1);
    assert_eq!(
        q["Destination"],
        "https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1"
    );
    assert_eq!(
        q["Issuer"],
        "https://gitlab.example.com/acme/widgets/-/jobs/42"
    );

    let s = setup(vec![signin_ok("t")]);
    let dest = "https://console.aws.amazon.com/s3/buckets/my-bucket?region=eu-west-1&tab=objects";
    let run = s.run(
        &[
            "console",
            "--destination",
            dest,
            "--issuer",
            "https://ci.example.com/",
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let raw = run.stdout.trim().split_once('?').unwrap().1.to_string();
    assert!(raw.contains("&Destination=https%3A%2F%2Fconsole.aws.amazon.com%2Fs3%2Fbuckets%2Fmy-bucket%3Fregion%3Deu-west-1%26tab%3Dobjects&"), "{raw}");
    assert_eq!(query_map(&raw)["Issuer"], "https://ci.example.com/");
}

#[test]
fn destination_of_another_partition_is_a_usage_error_before_any_call() {
    let s = setup(vec![signin_ok("t")]);
    let run = s.run(
        &[
            "console",
            "--destination",
            "https://console.amazonaws.cn/s3/home",
        ],
        &[],
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert_eq!(s.sts.request_count(), 0);
    assert_eq!(s.fed.request_count(), 0);
    assert!(run.stdout.is_empty());
}

#[test]
fn partitions_without_federation_fail_clearly() {
    let creds = Creds::canary();
    let iso_role = "arn:aws-iso:iam::123456789012:role/ci-role";
    let sts = FakeServer::start(vec![Step::xml(
        200,
        awwi_success_xml(&creds, iso_role, SESSION_NAME, GITLAB_SUB),
    )]);
    let env = TestEnv::new();
    let jwt = mint_jwt(gitlab_claims());
    let sts_url = sts.url();
    let run = env.run(
        &[
            "console",
            "--role-arn",
            iso_role,
            "--sts-endpoint",
            &sts_url,
        ],
        &[("AWS_ID_TOKEN", jwt.token.as_str())],
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains("no public federation endpoint"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    assert_eq!(
        sts.request_count(),
        0,
        "checked before credentials are requested"
    );
}

#[test]
fn federation_errors_are_clear_and_leave_no_output() {
    for (step, code, needle, attempts) in [
        (
            Step::text(400, "Invalid credentials parameter"),
            4,
            "HTTP 400",
            1,
        ),
        (
            Step::text(200, "<html>proxy login</html>"),
            4,
            "not JSON",
            1,
        ),
        (Step::json(200, "{\"Other\":1}"), 4, "SigninToken", 1),
        (Step::text(503, "busy"), 5, "HTTP 503", 3),
    ] {
        let s = setup(vec![step]);
        let out = s.env.out.join("aws.env");
        let url_file = s.env.out.join("url.txt");
        let run = s.run(
            &[
                "assume",
                "--max-attempts",
                "3",
                "--output",
                &format!("env={}", out.display()),
                &format!("--console-url={}", url_file.display()),
            ],
            &[],
        );
        assert_eq!(run.code, Some(code), "{needle}: {}", run.describe());
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
        assert!(run.stderr.contains("console sign-in"), "{}", run.stderr);
        assert_eq!(s.fed.request_count(), attempts, "{needle}");
        s.env.assert_no_output(&run);
        assert_no_secrets(&run, &s.secrets(), false);
    }
}

#[test]
fn transient_federation_failure_is_retried() {
    let s = setup(vec![Step::text(502, "bad gateway"), signin_ok("t")]);
    let run = s.run(&["console"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(s.fed.request_count(), 2);
}

#[test]
fn assume_with_console_url_to_a_private_file_and_to_the_job_summary() {
    let s = setup(vec![signin_ok("tok")]);
    let url_file = s.env.out.join("console-url.txt");
    let run = s.run(
        &[
            "assume",
            "--output",
            &s.env.output_arg(),
            &format!("--console-url={}", url_file.display()),
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let url = std::fs::read_to_string(&url_file).unwrap();
    assert!(url.contains("Action=login") && url.contains("SigninToken=tok"));
    let mode = std::fs::metadata(&url_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(s.env.env_file().exists());
    assert!(run.stdout.is_empty());

    let s = setup(vec![signin_ok("tok")]);
    let summary = s.env.out.join("summary.md");
    let genv = s.env.out.join("github_env");
    std::fs::write(&summary, "# earlier step\n").unwrap();
    let summary_s = summary.display().to_string();
    let genv_s = genv.display().to_string();
    let run = s.run(
        &[
            "assume",
            "--output",
            "github",
            "--console-url=github-summary",
        ],
        &[
            ("GITHUB_STEP_SUMMARY", summary_s.as_str()),
            ("GITHUB_ENV", genv_s.as_str()),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("# earlier step\n"));
    assert!(
        md.contains("](http://127.0.0.1:") && md.contains("SigninToken=tok)"),
        "{md}"
    );
    assert!(
        !run.stdout.contains("SigninToken"),
        "the URL stays out of the log"
    );
}

#[test]
fn console_url_and_stdout_output_conflict() {
    let s = setup(vec![signin_ok("t")]);
    let run = s.run(&["assume", "--output", "sh", "--console-url"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert_eq!(s.sts.request_count(), 0);
}
