//! STS's Query protocol, both ways: the form body of a request (`Action=…&Version=2011-06-15&…`,
//! values percent-encoded with the RFC 3986 unreserved set kept, parameters in the order of
//! the service model, as the AWS SDKs send them) and the XML of an answer
//! (`<…Response><…Result><Credentials>…` or `<ErrorResponse><Error><Code>…`), read with
//! [`crate::aws::xml`].

use crate::aws::xml::{self, Event, XmlError};
use crate::net::url::encode;

use super::{ChainRequest, SamlRequest, WebIdentityRequest};

/// The media type of a request body.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// A request body being written.
struct Form(String);

impl Form {
    fn new(action: &str) -> Form {
        Form(format!("Action={}&Version=2011-06-15", encode(action)))
    }

    fn add(mut self, name: &str, value: &str) -> Form {
        self.0.push('&');
        self.0.push_str(name);
        self.0.push('=');
        self.0.push_str(&encode(value));
        self
    }

    fn add_opt(self, name: &str, value: Option<&str>) -> Form {
        match value {
            Some(v) => self.add(name, v),
            None => self,
        }
    }

    /// `PolicyArns.member.N.arn`, N from 1; nothing when there are none.
    fn policy_arns(self, arns: &[String]) -> Form {
        arns.iter().enumerate().fold(self, |form, (i, arn)| {
            form.add(&format!("PolicyArns.member.{}.arn", i + 1), arn)
        })
    }
}

/// The body of `AssumeRoleWithWebIdentity`; `token` is the raw ID token.
pub fn web_identity(req: &WebIdentityRequest, token: &str) -> String {
    Form::new("AssumeRoleWithWebIdentity")
        .add("RoleArn", &req.role.arn)
        .add("RoleSessionName", &req.session_name)
        .add("WebIdentityToken", token)
        .policy_arns(&req.policy_arns)
        .add_opt("Policy", req.policy.as_deref())
        .add("DurationSeconds", &req.duration.to_string())
        .0
}

/// The body of `AssumeRoleWithSAML`.
pub fn saml(req: &SamlRequest) -> String {
    Form::new("AssumeRoleWithSAML")
        .add("RoleArn", &req.role.arn)
        .add("PrincipalArn", &req.principal_arn)
        .add("SAMLAssertion", req.assertion_b64.expose())
        .policy_arns(&req.policy_arns)
        .add_opt("Policy", req.policy.as_deref())
        .add("DurationSeconds", &req.duration.to_string())
        .0
}

/// The body of `AssumeRole`.
pub fn assume_role(req: &ChainRequest) -> String {
    Form::new("AssumeRole")
        .add("RoleArn", &req.role.arn)
        .add("RoleSessionName", &req.session_name)
        .policy_arns(&req.policy_arns)
        .add_opt("Policy", req.policy.as_deref())
        .add("DurationSeconds", &req.duration.to_string())
        .add_opt("ExternalId", req.external_id.as_deref())
        .0
}

/// The fields of a success answer, as sent (each `None` when absent).
#[derive(Default)]
pub struct Issued {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub expiration: Option<String>,
    pub arn: Option<String>,
}

/// Reads the success answer of `action`: `None` when the document's root is not
/// `<{action}Response>` (another document: an error, a proxy's page).
pub fn issued(body: &str, action: &str) -> Result<Option<Issued>, XmlError> {
    let (response, result) = (format!("{action}Response"), format!("{action}Result"));
    let mut out = Issued::default();
    let mut ours = false;
    xml::walk(body, |event| {
        match event {
            Event::Start { open: [], name, .. } => ours = name == response,
            Event::End {
                open: [root, res, group],
                name,
                text,
                ..
            } if ours && *root == response && *res == result => {
                let field = match (*group, name) {
                    ("Credentials", "AccessKeyId") => &mut out.access_key_id,
                    ("Credentials", "SecretAccessKey") => &mut out.secret_access_key,
                    ("Credentials", "SessionToken") => &mut out.session_token,
                    ("Credentials", "Expiration") => &mut out.expiration,
                    ("AssumedRoleUser", "Arn") => &mut out.arn,
                    _ => return Ok(()),
                };
                *field = Some(text.to_string());
            }
            _ => {}
        }
        Ok::<(), XmlError>(())
    })?;
    Ok(ours.then_some(out))
}

/// The `Code` and `Message` of an `<ErrorResponse><Error>` answer; `None` for a document
/// that is not one (or no XML at all).
pub fn error(body: &str) -> Option<(String, String)> {
    let (mut code, mut message) = (None, String::new());
    let mut ours = false;
    xml::walk(body, |event| {
        match event {
            Event::Start { open: [], name, .. } => ours = name == "ErrorResponse",
            Event::End {
                open: ["ErrorResponse", "Error"],
                name,
                text,
                ..
            } if ours => match name {
                "Code" => code = Some(text.to_string()),
                "Message" => message = text.to_string(),
                _ => {}
            },
            _ => {}
        }
        Ok::<(), XmlError>(())
    })
    .ok()?;
    code.filter(|c| !c.is_empty()).map(|c| (c, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::arn::RoleArn;
    use crate::secret::Secret;

    const ROLE: &str = "arn:aws:iam::123456789012:role/dev";

    fn chain(policy: Option<&str>, arns: &[&str], external_id: Option<&str>) -> ChainRequest {
        ChainRequest {
            role: RoleArn::parse(ROLE).unwrap(),
            session_name: "s@x.y".into(),
            external_id: external_id.map(str::to_string),
            duration: 900,
            policy: policy.map(str::to_string),
            policy_arns: arns.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn bodies_in_model_order_with_unreserved_encoding() {
        assert_eq!(
            assume_role(&chain(
                Some(r#"{"a": "é ~*"}"#),
                &["arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B"],
                Some("-ext+1=2"),
            )),
            "Action=AssumeRole&Version=2011-06-15\
             &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdev\
             &RoleSessionName=s%40x.y\
             &PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FA\
             &PolicyArns.member.2.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FB\
             &Policy=%7B%22a%22%3A%20%22%C3%A9%20~%2A%22%7D\
             &DurationSeconds=900\
             &ExternalId=-ext%2B1%3D2"
        );
        assert_eq!(
            assume_role(&chain(None, &[], None)),
            "Action=AssumeRole&Version=2011-06-15\
             &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdev\
             &RoleSessionName=s%40x.y&DurationSeconds=900"
        );
        let saml_req = SamlRequest {
            role: RoleArn::parse(ROLE).unwrap(),
            principal_arn: "arn:aws:iam::123456789012:saml-provider/kc".into(),
            assertion_b64: Secret::new("PHg+/a=="),
            duration: 3600,
            policy: None,
            policy_arns: vec![],
        };
        assert_eq!(
            saml(&saml_req),
            "Action=AssumeRoleWithSAML&Version=2011-06-15\
             &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdev\
             &PrincipalArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Asaml-provider%2Fkc\
             &SAMLAssertion=PHg%2B%2Fa%3D%3D&DurationSeconds=3600"
        );
    }

    /// The body the official SDK sends for the same request, recorded by a fake.
    async fn sdk_body(call: impl AsyncFnOnce(aws_sdk_sts::Client)) -> String {
        let fake = crate::idp::fake::serve(|_, _| (400, String::new())).await;
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&fake.url)
            .http_client(super::super::sdk_http::http_client())
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "ASIAFIRSTHOPEXAMPLE0",
                "secret",
                Some("token".into()),
                None,
                "test",
            ))
            .build();
        call(aws_sdk_sts::Client::from_conf(config)).await;
        let requests = fake.requests();
        assert_eq!(requests.len(), 1);
        requests[0].body.clone()
    }

    fn descriptors(arns: &[String]) -> Option<Vec<aws_sdk_sts::types::PolicyDescriptorType>> {
        (!arns.is_empty()).then(|| {
            arns.iter()
                .map(|a| {
                    aws_sdk_sts::types::PolicyDescriptorType::builder()
                        .arn(a)
                        .build()
                })
                .collect()
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn bodies_are_the_sdk_s() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"a b","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/\"q\" é ☺ 100%+&=/*"}]}"#;
        let arns = [
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::123456789012:policy/path/x+y=z,w.v@u_t-s",
        ];
        for (policy, arns) in [(None, &arns[..0]), (Some(policy), &arns[..])] {
            let chained = chain(policy, arns, Some("-ext+1=2,x@y:z/w"));
            let sdk = sdk_body(async |c| {
                let _ = c
                    .assume_role()
                    .role_arn(&chained.role.arn)
                    .role_session_name(&chained.session_name)
                    .set_external_id(chained.external_id.clone())
                    .duration_seconds(chained.duration)
                    .set_policy(chained.policy.clone())
                    .set_policy_arns(descriptors(&chained.policy_arns))
                    .send()
                    .await;
            })
            .await;
            assert_eq!(assume_role(&chained), sdk);

            let web = WebIdentityRequest {
                role: chained.role.clone(),
                session_name: "repo:o/r:ref:refs/heads/main".into(),
                duration: 43_200,
                policy: chained.policy.clone(),
                policy_arns: chained.policy_arns.clone(),
            };
            let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln_-";
            let sdk = sdk_body(async |c| {
                let _ = c
                    .assume_role_with_web_identity()
                    .role_arn(&web.role.arn)
                    .role_session_name(&web.session_name)
                    .web_identity_token(token)
                    .duration_seconds(web.duration)
                    .set_policy(web.policy.clone())
                    .set_policy_arns(descriptors(&web.policy_arns))
                    .send()
                    .await;
            })
            .await;
            assert_eq!(web_identity(&web, token), sdk);

            let saml_req = SamlRequest {
                role: chained.role.clone(),
                principal_arn: "arn:aws:iam::123456789012:saml-provider/kc".into(),
                assertion_b64: Secret::new("PHNhbWxwOlJlc3BvbnNlLz4+/w=="),
                duration: 900,
                policy: chained.policy.clone(),
                policy_arns: chained.policy_arns.clone(),
            };
            let sdk = sdk_body(async |c| {
                let _ = c
                    .assume_role_with_saml()
                    .role_arn(&saml_req.role.arn)
                    .principal_arn(&saml_req.principal_arn)
                    .saml_assertion(saml_req.assertion_b64.expose())
                    .duration_seconds(saml_req.duration)
                    .set_policy(saml_req.policy.clone())
                    .set_policy_arns(descriptors(&saml_req.policy_arns))
                    .send()
                    .await;
            })
            .await;
            assert_eq!(saml(&saml_req), sdk);
        }
    }

    const OK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>x</SourceIdentity>
    <AssumedRoleUser>
      <AssumedRoleId>AROA:s</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/dev/s</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLEEXAMPLE12</AccessKeyId>
      <SecretAccessKey>se/cr+et&amp;</SecretAccessKey>
      <SessionToken><![CDATA[to&ken]]></SessionToken>
      <Expiration>2026-11-18T11:06:40Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;

    #[test]
    fn reads_a_success_answer_by_local_names() {
        let i = issued(OK, "AssumeRole").unwrap().unwrap();
        assert_eq!(i.access_key_id.as_deref(), Some("ASIAEXAMPLEEXAMPLE12"));
        assert_eq!(i.secret_access_key.as_deref(), Some("se/cr+et&"));
        assert_eq!(i.session_token.as_deref(), Some("to&ken"));
        assert_eq!(i.expiration.as_deref(), Some("2026-11-18T11:06:40Z"));
        assert_eq!(
            i.arn.as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/dev/s")
        );
        let prefixed = OK
            .replace("<", "<sts:")
            .replace("<sts:/", "</sts:")
            .replace("<sts:?", "<?")
            .replace("<sts:![CDATA[", "<![CDATA[")
            .replace("xmlns=", "xmlns:sts=");
        let p = issued(&prefixed, "AssumeRole").unwrap().unwrap();
        assert_eq!(p.session_token.as_deref(), Some("to&ken"));
        // Another operation's answer, or credentials elsewhere, are not this answer's.
        assert!(issued(OK, "AssumeRoleWithSAML").unwrap().is_none());
        let moved = OK.replace("AssumeRoleResult>", "Other>");
        let m = issued(&moved, "AssumeRole").unwrap().unwrap();
        assert!(m.access_key_id.is_none() && m.arn.is_none());
        assert!(issued(&OK[..OK.len() / 2], "AssumeRole").is_err());
        assert!(issued("<!DOCTYPE html><html/>", "AssumeRole").is_err());
    }

    #[test]
    fn reads_an_error_answer() {
        let e = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n    <Message>Not authorized &lt;x&gt;</Message>\n  </Error>\n  <RequestId>r</RequestId>\n</ErrorResponse>\n";
        assert_eq!(
            error(e),
            Some(("AccessDenied".into(), "Not authorized <x>".into()))
        );
        assert_eq!(
            error("<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"),
            Some(("Throttling".into(), String::new()))
        );
        for other in [
            "Internal Server Error",
            "",
            "<ErrorResponse><Error><Code></Code></Error></ErrorResponse>",
            "<Response><Errors><Error><Code>X</Code></Error></Errors></Response>",
            "<ErrorResponse><Error><Code>X</Code></Error>",
        ] {
            assert_eq!(error(other), None, "{other}");
        }
    }
}
