//! Keeps the fakes honest: the official aws-sdk-sts client must understand the fake STS
//! answers exactly as it would understand the real service's (success XML, ErrorResponse
//! codes, SigV4 on AssumeRole, no auth on AssumeRoleWithWebIdentity, transport faults).
//! The SDK is a dev-dependency only, over reqwest (`src/sts/sdk_http.rs`); aws-oidc itself does
//! not use it.

use crate::support::*;
use aws_sdk_sts::config::retry::RetryConfig;

#[path = "../../src/sts/sdk_http.rs"]
mod sdk_http;
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sts::error::ProvideErrorMetadata;

fn client(url: &str) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .http_client(sdk_http::http_client())
        .retry_config(RetryConfig::disabled())
        .credentials_provider(Credentials::new(
            "ASIAFIRSTHOPEXAMPLE0",
            "hop1-secret",
            Some("hop1-token".into()),
            None,
            "test",
        ))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

async fn awwi(
    url: &str,
    token: &str,
) -> Result<
    aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput,
    aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError,
    >,
> {
    client(url)
        .assume_role_with_web_identity()
        .role_arn(ROLE_ARN)
        .role_session_name(SESSION_NAME)
        .web_identity_token(token)
        .duration_seconds(3600)
        .send()
        .await
}

#[tokio::test]
async fn sdk_parses_fake_success_and_sends_unsigned_form() {
    let c = Creds::canary();
    let sts = FakeServer::start(vec![Step::awwi_ok(&c)]);
    let jwt = mint_jwt(gitlab_claims());
    let out = awwi(&sts.url(), &jwt.token)
        .await
        .expect("fake success must parse");
    let cr = out.credentials().unwrap();
    assert_eq!(cr.access_key_id(), c.access_key_id);
    assert_eq!(cr.secret_access_key(), c.secret_access_key);
    assert_eq!(cr.session_token(), c.session_token);
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::123456789012:assumed-role/ci-role/test-session"
    );
    let r = &sts.requests()[0];
    assert_eq!(
        r.form_value("Action").as_deref(),
        Some("AssumeRoleWithWebIdentity")
    );
    assert_eq!(
        r.form_value("WebIdentityToken").as_deref(),
        Some(jwt.token.as_str())
    );
    assert!(r.header("authorization").is_none());
}

#[tokio::test]
async fn sdk_reads_fake_error_codes() {
    for (code, msg) in [
        (
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ),
        ("InvalidIdentityToken", "Incorrect token audience"),
        ("IDPCommunicationError", "IdP unreachable"),
        ("ExpiredToken", "Token expired"),
        ("Throttling", "Rate exceeded"),
    ] {
        let sts = FakeServer::start(vec![Step::sts_error(code, msg)]);
        let err = awwi(&sts.url(), &mint_jwt(gitlab_claims()).token)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(code), "{err:?}");
        assert_eq!(err.message(), Some(msg));
        assert_eq!(sts.request_count(), 1);
    }
}

#[tokio::test]
async fn sdk_sees_transport_faults() {
    let c = Creds::canary();
    for step in [
        Step::Close,
        Step::truncate(Step::awwi_ok(&c), 180),
        Step::text(503, "Service Unavailable"),
    ] {
        let sts = FakeServer::start(vec![step.clone()]);
        let r = awwi(&sts.url(), &mint_jwt(gitlab_claims()).token).await;
        assert!(r.is_err(), "{step:?} should fail: {r:?}");
        assert_eq!(sts.request_count(), 1);
    }
}

#[tokio::test]
async fn sdk_signs_assume_role_against_fake() {
    let c = Creds::canary();
    let target = "arn:aws:iam::210987654321:role/target";
    let sts = FakeServer::start(vec![Step::xml(
        200,
        assume_role_success_xml(&c, target, "s2"),
    )]);
    let out = client(&sts.url())
        .assume_role()
        .role_arn(target)
        .role_session_name("s2")
        .external_id("ext-123")
        .send()
        .await
        .expect("fake AssumeRole success must parse");
    assert_eq!(out.credentials().unwrap().access_key_id(), c.access_key_id);
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::210987654321:assumed-role/target/s2"
    );
    let r = &sts.requests()[0];
    assert_eq!(r.form_value("ExternalId").as_deref(), Some("ext-123"));
    assert!(
        r.header("authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256 Credential=ASIAFIRSTHOPEXAMPLE0/")
    );
    assert_eq!(r.header("x-amz-security-token"), Some("hop1-token"));
}

// ---- self-tests of the helpers and the scripted server (raw TCP) ----

mod self_tests {
    use crate::support::*;

    #[test]
    fn b64url_matches_known_vectors() {
        assert_eq!(b64url(b""), "");
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(b"foob"), "Zm9vYg");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn rfc3339_formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn form_decoding() {
        let f = parse_form("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&A=b+c&E=");
        assert_eq!(f[1].1, "arn:aws:iam::1:role/x");
        assert_eq!(f[2].1, "b c");
        assert_eq!(f[3], ("E".to_string(), String::new()));
    }
}

mod server_self_tests {
    use crate::support::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    fn raw(server: &FakeServer, req: &str) -> (String, Duration) {
        let start = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
    }

    const POST: &str = "POST /x?a=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\nAction=Go";

    #[test]
    fn fake_server_scripts_steps_and_records_requests() {
        let body = "0123456789".repeat(10);
        let server = FakeServer::start(vec![
            Step::text(503, "busy"),
            Step::Close,
            Step::truncate(Step::text(200, body.clone()), 5),
            Step::slow(Duration::from_millis(100), Step::text(200, "late")),
            Step::Hang,
        ]);
        let (r, _) = raw(&server, POST);
        assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
        assert!(r.ends_with("\r\n\r\nbusy"), "{r}");
        assert!(
            r.contains("Content-Length: 4\r\n") && r.contains("Connection: close\r\n"),
            "{r}"
        );
        let (r, _) = raw(&server, POST);
        assert_eq!(r, "");
        let (r, _) = raw(&server, POST);
        assert!(
            r.contains("Content-Length: 100\r\n") && r.ends_with("\r\n\r\n01234"),
            "{r}"
        );
        let (r, t) = raw(&server, POST);
        assert!(
            r.ends_with("late") && t >= Duration::from_millis(100),
            "{r}"
        );
        let (r, t) = raw(&server, POST);
        assert_eq!(r, "");
        assert!(t >= Duration::from_millis(450), "hang should not answer");
        // the last step repeats
        let (r, _) = raw(&server, POST);
        assert_eq!(r, "");
        let reqs = server.requests();
        assert_eq!(reqs.len(), 6);
        assert_eq!(server.request_count(), 6);
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].target, "/x?a=1");
        assert_eq!(reqs[0].path(), "/x");
        assert_eq!(reqs[0].query(), Some("a=1"));
        assert_eq!(
            reqs[0].header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(reqs[0].form_value("Action").as_deref(), Some("Go"));
    }

    #[test]
    fn fake_server_keep_alive_and_chunked() {
        let server =
            FakeServer::start_with(vec![Step::text(200, "one"), Step::text(200, "two")], true);
        let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        s.write_all(POST.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.contains("\r\n\r\none") && out.ends_with("\r\n\r\ntwo"),
            "{out}"
        );
        assert!(!out.contains("Connection: close"));
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].body, b"abcde");
        assert_eq!(reqs[1].body, b"Action=Go");
    }

    #[test]
    fn jwt_and_xml_helpers_are_well_formed() {
        let jwt = mint_jwt(gitlab_claims());
        let parts: Vec<&str> = jwt.token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts[2].starts_with("CANARYjwtsig") && parts[2].len().is_multiple_of(4));
        assert!(
            jwt.token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        let c = Creds::canary();
        assert!(
            c.access_key_id.starts_with("ASIA") && c.access_key_id.len() == 20,
            "{}",
            c.access_key_id
        );
        let x = awwi_success_xml(&c, ROLE_ARN, SESSION_NAME, GITLAB_SUB);
        assert!(
            x.contains("<Arn>arn:aws:sts::123456789012:assumed-role/ci-role/test-session</Arn>"),
            "{x}"
        );
        assert!(x.contains(&format!("<AccessKeyId>{}</AccessKeyId>", c.access_key_id)));
        let e = sts_error_xml(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        );
        assert!(e.contains("<Type>Sender</Type>") && e.contains("<Code>AccessDenied</Code>"));
        assert_eq!(sts_error_status("AccessDenied"), 403);
        assert_eq!(sts_error_status("Throttling"), 400);
    }
}
