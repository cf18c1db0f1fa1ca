//! A SAML 2.0 assertion, read for what aws-oidc needs and wrapped for STS.
//!
//! * [`parse`]: the Issuer, the SubjectConfirmationData `Recipient` and `NotOnOrAfter`, the
//!   Audiences, the `https://aws.amazon.com/SAML/Attributes/Role` pairs (`role,provider` in
//!   either order), `RoleSessionName` and `SessionDuration`. Read with the shared scanner,
//!   [`crate::aws::xml`]: elements are matched by local name, whatever their prefix (`saml:`,
//!   `saml2:`, none); a DOCTYPE is refused (no entity expansion, ever).
//! * [`wrap`]: a `samlp:Response` around the **original assertion bytes**, spliced in
//!   verbatim (never re-serialized: the provider's exclusive-c14n signature stays valid),
//!   then standard base64 with padding, at most [`MAX_SAML_ASSERTION`] characters.
//! * [`pick`]: one role of the assertion, by exact ARN or a glob that matches exactly one.
//! * [`check_fresh`]: an assertion past its `NotOnOrAfter` is refused before STS is called.
//!
//! The assertion is a bearer credential: nothing here logs it or puts it in an error.

use base64::Engine;

use crate::aws::arn::RoleArn;
use crate::aws::xml::{self, Event, XmlError, unescape};
use crate::policy::document::glob;

/// The attribute that lists the roles.
pub const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
pub const SESSION_NAME_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
pub const SESSION_DURATION_ATTRIBUTE: &str =
    "https://aws.amazon.com/SAML/Attributes/SessionDuration";
/// STS's limit on `SAMLAssertion`.
pub const MAX_SAML_ASSERTION: usize = 100_000;

/// One role the assertion allows: the role and the IAM SAML provider that vouches for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolePair {
    pub role: RoleArn,
    /// `arn:<partition>:iam::<account>:saml-provider/<name>`
    pub principal_arn: String,
}

/// What aws-oidc reads from an assertion. Holds no signature and no assertion bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub issuer: Option<String>,
    pub recipient: Option<String>,
    /// SubjectConfirmationData's `NotOnOrAfter`, as written.
    pub not_on_or_after: Option<String>,
    /// Conditions' `NotOnOrAfter`, as written.
    pub conditions_not_on_or_after: Option<String>,
    pub audiences: Vec<String>,
    pub roles: Vec<RolePair>,
    /// Role attribute values that are not a role/provider pair (for a warning).
    pub bad_roles: Vec<String>,
    pub session_name: Option<String>,
    pub session_duration: Option<String>,
    /// Byte range of the `Assertion` element in the input (what [`wrap`] splices).
    span: (usize, usize),
}

impl Parsed {
    /// The role ARNs, in the assertion's order (for messages and `roles`).
    pub fn role_arns(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.role.arn.clone()).collect()
    }

    /// The `SessionDuration` attribute in seconds, when it is a number STS accepts
    /// (900 to 43200); `None` when absent or not one.
    pub fn session_duration_secs(&self) -> Option<i32> {
        self.session_duration
            .as_deref()
            .and_then(|d| d.trim().parse().ok())
            .filter(|d| (900..=43_200).contains(d))
    }
}

/// Why an assertion cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error(
        "the provider sent an EncryptedAssertion, which AWS cannot use: the SAML client requires encryption; turn it off for AWS (Keycloak: the client's Keys tab, \"Encrypt assertions\" off)"
    )]
    Encrypted,
    #[error("the SAML assertion is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the SAML answer's root element is <{0}>, not a saml:Assertion")]
    NotAnAssertion(String),
    #[error("the SAML assertion has a DOCTYPE; aws-oidc refuses those")]
    Doctype,
    #[error(
        "the SAML assertion has no SubjectConfirmationData Recipient to address the Response to"
    )]
    NoRecipient,
    #[error("the SAML assertion has no Issuer")]
    NoIssuer,
    #[error("the SAML assertion expired: NotOnOrAfter {not_on_or_after} is before now ({now})")]
    Expired {
        not_on_or_after: String,
        now: String,
    },
    #[error("the SAML assertion's NotOnOrAfter `{0}` is not an RFC 3339 time")]
    BadTime(String),
    #[error(
        "the wrapped SAML response is {0} characters; STS accepts at most 100,000 (fewer attributes or roles in the SAML client)"
    )]
    TooLarge(usize),
}

/// Why no role was picked. Lists the roles the assertion has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    #[error("the SAML assertion lists no role (attribute {ROLE_ATTRIBUTE})")]
    NoRoles,
    #[error("the SAML assertion lists several roles; choose one with --role-arn: {}", .0.join(", "))]
    Several(Vec<String>),
    #[error("the role {wanted} is not in the SAML assertion; it lists: {}", .roles.join(", "))]
    NotInAssertion { wanted: String, roles: Vec<String> },
    #[error("`{wanted}` matches several roles of the SAML assertion: {}", .matches.join(", "))]
    Ambiguous {
        wanted: String,
        matches: Vec<String>,
    },
}

// ---------------------------------------------------------------------------------------
// Reading

impl From<XmlError> for SamlError {
    fn from(e: XmlError) -> SamlError {
        match e {
            XmlError::Doctype => SamlError::Doctype,
            XmlError::Malformed(what) => malformed(what),
        }
    }
}

fn malformed(what: &str) -> SamlError {
    SamlError::Malformed(what.to_string())
}

/// Reads an assertion (the provider's bytes, an optional XML declaration before it).
pub fn parse(xml: &[u8]) -> Result<Parsed, SamlError> {
    let xml = std::str::from_utf8(xml).map_err(|_| malformed("not UTF-8"))?;
    let mut parsed = Parsed::default();
    // (attribute name, values) of the Attribute being read.
    let mut attribute: Option<(String, Vec<String>)> = None;
    xml::walk(xml, |event| {
        match event {
            Event::Start {
                open,
                name,
                attrs,
                empty,
                at,
            } => {
                if open.is_empty() {
                    match name {
                        "Assertion" => parsed.span.0 = at,
                        "EncryptedAssertion" => return Err(SamlError::Encrypted),
                        other => return Err(SamlError::NotAnAssertion(other.to_string())),
                    }
                }
                match (open.last().copied(), name) {
                    (Some("SubjectConfirmation"), "SubjectConfirmationData")
                        if parsed.recipient.is_none() && open.len() == 3 =>
                    {
                        if let Some(r) = xml::attr(attrs, "Recipient") {
                            parsed.recipient = Some(unescape(r)?);
                            parsed.not_on_or_after =
                                xml::attr(attrs, "NotOnOrAfter").map(unescape).transpose()?;
                        }
                    }
                    (Some("Assertion"), "Conditions") if open.len() == 1 => {
                        parsed.conditions_not_on_or_after =
                            xml::attr(attrs, "NotOnOrAfter").map(unescape).transpose()?;
                    }
                    (Some("AttributeStatement"), "Attribute") if open.len() == 2 => {
                        let n = xml::attr(attrs, "Name").map(unescape).transpose()?;
                        attribute = Some((n.unwrap_or_default(), Vec::new()));
                    }
                    _ => {}
                }
                if empty {
                    if open.is_empty() {
                        return Err(malformed("an empty Assertion"));
                    }
                    if name == "Attribute" {
                        attribute = None;
                    }
                }
            }
            Event::End {
                open,
                name,
                text,
                after,
            } => {
                let value = text.to_string();
                match (open.last().copied(), name) {
                    (Some("Assertion"), "Issuer") if open.len() == 1 => parsed.issuer = Some(value),
                    (Some("AudienceRestriction"), "Audience") if open.len() == 3 => {
                        parsed.audiences.push(value)
                    }
                    (Some("Attribute"), "AttributeValue") if open.len() == 3 => {
                        if let Some((_, values)) = attribute.as_mut() {
                            values.push(value);
                        }
                    }
                    (Some("AttributeStatement"), "Attribute") if open.len() == 2 => {
                        if let Some((n, values)) = attribute.take() {
                            match n.as_str() {
                                ROLE_ATTRIBUTE => {
                                    for v in values {
                                        match role_pair(&v) {
                                            Some(pair) => parsed.roles.push(pair),
                                            None => parsed.bad_roles.push(v),
                                        }
                                    }
                                }
                                SESSION_NAME_ATTRIBUTE => {
                                    parsed.session_name = values.into_iter().next()
                                }
                                SESSION_DURATION_ATTRIBUTE => {
                                    parsed.session_duration = values.into_iter().next()
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                if open.is_empty() {
                    parsed.span.1 = after;
                }
            }
        }
        Ok(())
    })?;
    Ok(parsed)
}

/// `arn:<partition>:iam::<12 digits>:saml-provider/<name>`
pub fn is_saml_provider_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [a, partition, iam, region, account, resource] = parts[..] else {
        return false;
    };
    a == "arn"
        && crate::aws::partition::Partition::from_name(partition).is_some()
        && iam == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("saml-provider/").is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
}

/// `role,provider` or `provider,role` → the pair; `None` when it is not one.
fn role_pair(value: &str) -> Option<RolePair> {
    let (a, b) = value.split_once(',')?;
    let (a, b) = (a.trim(), b.trim());
    let (role, provider) = if is_saml_provider_arn(b) {
        (a, b)
    } else {
        (b, a)
    };
    if !is_saml_provider_arn(provider) {
        return None;
    }
    Some(RolePair {
        role: RoleArn::parse(role).ok()?,
        principal_arn: provider.to_string(),
    })
}

/// Whether `url` is an AWS sign-in SAML endpoint (`https://signin.aws.amazon.com/saml`, or a
/// regional `https://<region>.signin.aws.amazon.com/saml`, and the other partitions' hosts).
pub fn is_aws_recipient(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some(host) = rest.strip_suffix("/saml") else {
        return false;
    };
    let region_ok = |r: &str| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    [
        "signin.aws.amazon.com",
        "signin.amazonaws.cn",
        "signin.amazonaws-us-gov.com",
    ]
    .iter()
    .any(|base| {
        host == *base
            || host
                .strip_suffix(base)
                .and_then(|r| r.strip_suffix('.'))
                .is_some_and(region_ok)
    })
}

/// Unix seconds of an RFC 3339 time (fractions allowed).
fn parse_time(s: &str) -> Result<i64, SamlError> {
    crate::aws::credentials::parse_rfc3339(s.trim())
        .ok_or_else(|| SamlError::BadTime(s.to_string()))
}

/// Refuses an assertion whose `NotOnOrAfter` (subject confirmation or conditions) is at or
/// before `now` (Unix seconds).
pub fn check_fresh(parsed: &Parsed, now: i64) -> Result<(), SamlError> {
    for limit in [&parsed.not_on_or_after, &parsed.conditions_not_on_or_after]
        .into_iter()
        .flatten()
    {
        if parse_time(limit)? <= now {
            return Err(SamlError::Expired {
                not_on_or_after: limit.clone(),
                now: crate::aws::credentials::rfc3339(now),
            });
        }
    }
    Ok(())
}

/// `s` escaped for an XML attribute value or text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The base64 `samlp:Response` STS wants, around the assertion `xml` (the bytes [`parse`]
/// read into `parsed`), issued at `now` (Unix seconds) with a random ID.
pub fn wrap(xml: &[u8], parsed: &Parsed, now: i64) -> Result<String, SamlError> {
    let id = format!("_{:032x}", rand::random::<u128>());
    wrap_with(xml, parsed, &id, &crate::aws::credentials::rfc3339(now))
}

fn wrap_with(xml: &[u8], parsed: &Parsed, id: &str, instant: &str) -> Result<String, SamlError> {
    let recipient = parsed.recipient.as_deref().ok_or(SamlError::NoRecipient)?;
    let issuer = parsed.issuer.as_deref().ok_or(SamlError::NoIssuer)?;
    let (start, end) = parsed.span;
    let assertion = xml
        .get(start..end)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| malformed("the assertion is not the one parsed"))?;
    let mut doc = Vec::with_capacity(assertion.len() + 512);
    doc.extend_from_slice(
        format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\"><saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">{}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>",
            escape(id),
            escape(instant),
            escape(recipient),
            escape(issuer)
        )
        .as_bytes(),
    );
    doc.extend_from_slice(assertion);
    doc.extend_from_slice(b"</samlp:Response>");
    let encoded = base64::engine::general_purpose::STANDARD.encode(doc);
    if encoded.len() > MAX_SAML_ASSERTION {
        return Err(SamlError::TooLarge(encoded.len()));
    }
    Ok(encoded)
}

/// The role to assume: the only one when `wanted` is `None`; else the exact ARN, or the
/// one role a glob (`*`, `?`) matches.
pub fn pick(roles: &[RolePair], wanted: Option<&str>) -> Result<RolePair, PickError> {
    let names = || roles.iter().map(|r| r.role.arn.clone()).collect::<Vec<_>>();
    if roles.is_empty() {
        return Err(PickError::NoRoles);
    }
    let Some(wanted) = wanted.map(str::trim) else {
        return match roles {
            [one] => Ok(one.clone()),
            _ => Err(PickError::Several(names())),
        };
    };
    if let Some(exact) = roles.iter().find(|r| r.role.arn == wanted) {
        return Ok(exact.clone());
    }
    let matches: Vec<&RolePair> = if wanted.contains(['*', '?']) {
        roles.iter().filter(|r| glob(wanted, &r.role.arn)).collect()
    } else {
        Vec::new()
    };
    match matches[..] {
        [one] => Ok(one.clone()),
        [] => Err(PickError::NotInAssertion {
            wanted: wanted.to_string(),
            roles: names(),
        }),
        _ => Err(PickError::Ambiguous {
            wanted: wanted.to_string(),
            matches: matches.iter().map(|r| r.role.arn.clone()).collect(),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const PROVIDER: &str = "arn:aws:iam::123456789012:saml-provider/keycloak";

    /// A Keycloak-shaped assertion (prefix `saml:`, milliseconds, a signature element).
    pub(crate) fn assertion(roles: &[&str], not_on_or_after: &str) -> String {
        let values: String = roles
            .iter()
            .map(|r| format!("<saml:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xsi:type=\"xs:string\">{r}</saml:AttributeValue>"))
            .collect();
        format!(
            concat!(
                "<saml:Assertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"ID_1\" IssueInstant=\"2026-12-02T05:00:00.123Z\" Version=\"2.0\">",
                "<saml:Issuer>https://kc.example.com/realms/corp</saml:Issuer>",
                "<dsig:Signature xmlns:dsig=\"http://www.w3.org/2000/09/xmldsig#\"><dsig:SignedInfo><dsig:Reference URI=\"#ID_1\"/></dsig:SignedInfo><dsig:SignatureValue>c2ln</dsig:SignatureValue></dsig:Signature>",
                "<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">alice</saml:NameID>",
                "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:SubjectConfirmationData NotOnOrAfter=\"{nooa}\" Recipient=\"https://signin.aws.amazon.com/saml\"/></saml:SubjectConfirmation></saml:Subject>",
                "<saml:Conditions NotBefore=\"2026-12-02T04:59:00.123Z\" NotOnOrAfter=\"{nooa}\"><saml:AudienceRestriction><saml:Audience>urn:amazon:webservices</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
                "<saml:AttributeStatement>",
                "<saml:Attribute FriendlyName=\"Session\" Name=\"https://aws.amazon.com/SAML/Attributes/RoleSessionName\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\"><saml:AttributeValue>alice@example.com</saml:AttributeValue></saml:Attribute>",
                "<saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/SessionDuration\"><saml:AttributeValue>7200</saml:AttributeValue></saml:Attribute>",
                "<saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/Role\">{values}</saml:Attribute>",
                "<!-- a comment --></saml:AttributeStatement></saml:Assertion>"
            ),
            nooa = not_on_or_after,
            values = values
        )
    }

    fn role(name: &str) -> String {
        format!("arn:aws:iam::123456789012:role/{name}")
    }

    #[test]
    fn reads_a_keycloak_assertion_with_roles_in_both_orders() {
        let xml = assertion(
            &[
                &format!("{},{PROVIDER}", role("dev")),
                &format!("{PROVIDER}, {}", role("admin")),
                "not a pair",
            ],
            "2026-12-02T05:01:00.123Z",
        );
        let p = parse(xml.as_bytes()).unwrap();
        assert_eq!(
            p.issuer.as_deref(),
            Some("https://kc.example.com/realms/corp")
        );
        assert_eq!(
            p.recipient.as_deref(),
            Some("https://signin.aws.amazon.com/saml")
        );
        assert_eq!(
            p.not_on_or_after.as_deref(),
            Some("2026-12-02T05:01:00.123Z")
        );
        assert_eq!(p.audiences, ["urn:amazon:webservices"]);
        assert_eq!(p.session_name.as_deref(), Some("alice@example.com"));
        assert_eq!(p.session_duration.as_deref(), Some("7200"));
        let arns: Vec<_> = p.roles.iter().map(|r| r.role.arn.as_str()).collect();
        assert_eq!(arns, [role("dev"), role("admin")]);
        assert!(p.roles.iter().all(|r| r.principal_arn == PROVIDER));
        assert_eq!(p.bad_roles, ["not a pair"]);
        assert_eq!(p.role_arns(), [role("dev"), role("admin")]);
        assert_eq!(p.session_duration_secs(), Some(7200));
        let mut q = p.clone();
        q.session_duration = Some("60".into());
        assert_eq!(q.session_duration_secs(), None);
        assert_eq!(p.span, (0, xml.len()));
    }

    #[test]
    fn any_prefix_or_none_and_entities() {
        let xml = r#"<?xml version="1.0"?>
<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"><saml2:Issuer>https://idp/?a=1&amp;b=2</saml2:Issuer><saml2:Subject><saml2:SubjectConfirmation><saml2:SubjectConfirmationData Recipient='https://eu-west-1.signin.aws.amazon.com/saml'/></saml2:SubjectConfirmation></saml2:Subject><saml2:AttributeStatement><saml2:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role"><saml2:AttributeValue><![CDATA[arn:aws:iam::123456789012:role/x,arn:aws:iam::123456789012:saml-provider/p]]></saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement></saml2:Assertion>
"#;
        let p = parse(xml.as_bytes()).unwrap();
        assert_eq!(p.issuer.as_deref(), Some("https://idp/?a=1&b=2"));
        assert!(is_aws_recipient(p.recipient.as_deref().unwrap()));
        assert_eq!(p.roles.len(), 1);
        assert_eq!(
            &xml[p.span.0..p.span.1],
            xml.trim().split_once('\n').unwrap().1
        );

        // Only the assertion's own statements count, not those of one nested in Advice.
        let nested = assertion(&[], "2026-12-02T05:01:00Z").replacen(
            "<saml:Subject>",
            &format!(
                "<saml:Advice>{}</saml:Advice><saml:Subject>",
                assertion(
                    &[&format!("{},{PROVIDER}", role("evil"))],
                    "2030-01-01T00:00:00Z"
                )
                .replace("signin.aws.amazon.com", "evil.example.com")
                .replace("urn:amazon:webservices", "evil")
            ),
            1,
        );
        let p = parse(nested.as_bytes()).unwrap();
        assert!(p.roles.is_empty(), "{:?}", p.roles);
        assert_eq!(
            p.recipient.as_deref(),
            Some("https://signin.aws.amazon.com/saml")
        );
        assert_eq!(p.audiences, ["urn:amazon:webservices"]);
        assert_eq!(p.not_on_or_after.as_deref(), Some("2026-12-02T05:01:00Z"));
        assert_eq!(p.span, (0, nested.len()));

        let bare = r#"<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><Issuer>i</Issuer></Assertion>"#;
        assert_eq!(parse(bare.as_bytes()).unwrap().issuer.as_deref(), Some("i"));
    }

    #[test]
    fn refuses_encrypted_doctype_and_garbage() {
        let enc = r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData/></saml:EncryptedAssertion>"#;
        let err = parse(enc.as_bytes()).unwrap_err();
        assert_eq!(err, SamlError::Encrypted);
        assert!(err.to_string().contains("turn it off for AWS"));
        assert_eq!(
            parse(b"<!DOCTYPE x [<!ENTITY a 'b'>]><Assertion/>").unwrap_err(),
            SamlError::Doctype
        );
        assert_eq!(
            parse(b"<samlp:Response/>").unwrap_err(),
            SamlError::NotAnAssertion("Response".into())
        );
        for bad in [
            &b"<Assertion><Issuer>x</Assertion>"[..],
            b"<Assertion>",
            b"<Assertion a=b></Assertion>",
            b"<Assertion>&bogus;</Assertion>",
            b"<Assertion></Assertion><Assertion></Assertion>",
            b"\xff",
            b"",
        ] {
            assert!(
                matches!(parse(bad), Err(SamlError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn wrapper_golden_bytes_and_the_assertion_verbatim() {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
            assertion(
                &[&format!("{},{PROVIDER}", role("dev"))],
                "2026-12-02T05:01:00.123Z"
            )
        );
        let mut p = parse(xml.as_bytes()).unwrap();
        p.issuer = Some("https://kc/\"<&>".into());
        let b64 = wrap_with(xml.as_bytes(), &p, "_00ff", "2026-12-02T05:00:01Z").unwrap();
        let doc = base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .unwrap();
        let doc = String::from_utf8(doc).unwrap();
        let expected = format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_00ff\" Version=\"2.0\" IssueInstant=\"2026-12-02T05:00:01Z\" Destination=\"https://signin.aws.amazon.com/saml\"><saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">https://kc/&quot;&lt;&amp;&gt;</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>{}</samlp:Response>",
            xml.trim().split_once('\n').unwrap().1
        );
        assert_eq!(doc, expected);
        // The provider's bytes, unchanged (milliseconds, prefixes, comment and all).
        assert!(doc.contains(xml.trim().split_once('\n').unwrap().1));
        // Standard base64 with padding.
        assert!(!b64.contains(['-', '_']));
        assert_eq!(b64.len() % 4, 0);
        // The wrapper parses back as a Response.
        assert!(matches!(
            parse(doc.as_bytes()),
            Err(SamlError::NotAnAssertion(_))
        ));

        let random = wrap(xml.as_bytes(), &p, 1_796_187_601).unwrap();
        assert_ne!(random, wrap(xml.as_bytes(), &p, 1_796_187_601).unwrap());
    }

    #[test]
    fn wrapper_refuses_too_large_and_incomplete() {
        let many: Vec<String> = (0..1200)
            .map(|i| format!("{},{PROVIDER}", role(&format!("role-{i:04}"))))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let xml = assertion(&many, "2026-12-02T05:01:00Z");
        let p = parse(xml.as_bytes()).unwrap();
        assert!(matches!(wrap(xml.as_bytes(), &p, 0), Err(SamlError::TooLarge(n)) if n > 100_000));
        let xml = r#"<Assertion><Issuer>i</Issuer></Assertion>"#;
        let p = parse(xml.as_bytes()).unwrap();
        assert_eq!(
            wrap(xml.as_bytes(), &p, 0).unwrap_err(),
            SamlError::NoRecipient
        );
    }

    #[test]
    fn expiry() {
        let xml = assertion(&[], "2026-12-02T05:01:00.500Z");
        let p = parse(xml.as_bytes()).unwrap();
        let at = parse_time("2026-12-02T05:01:00Z").unwrap();
        check_fresh(&p, at - 1).unwrap();
        let err = check_fresh(&p, at + 1).unwrap_err();
        assert!(
            err.to_string()
                .contains("expired: NotOnOrAfter 2026-12-02T05:01:00.500Z"),
            "{err}"
        );
        let mut p = p;
        p.not_on_or_after = Some("tomorrow".into());
        assert_eq!(
            check_fresh(&p, 0).unwrap_err(),
            SamlError::BadTime("tomorrow".into())
        );
    }

    #[test]
    fn picking_roles() {
        let xml = assertion(
            &[
                &format!("{},{PROVIDER}", role("dev")),
                &format!("{PROVIDER},{}", role("admin")),
                &format!("{},{PROVIDER}", role("ops/deployer")),
            ],
            "2026-12-02T05:01:00Z",
        );
        let roles = parse(xml.as_bytes()).unwrap().roles;
        assert_eq!(
            pick(&roles, Some(&role("admin"))).unwrap().role.name,
            "admin"
        );
        assert_eq!(
            pick(&roles, Some("*:role/ops/*")).unwrap().role.name,
            "deployer"
        );
        assert_eq!(pick(&roles, Some("*role/d?v")).unwrap().role.name, "dev");
        let err = pick(&roles, Some(&role("nope"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the role {} is not in the SAML assertion; it lists: {}, {}, {}",
                role("nope"),
                role("dev"),
                role("admin"),
                role("ops/deployer")
            )
        );
        assert!(
            matches!(pick(&roles, Some("*")), Err(PickError::Ambiguous { matches, .. }) if matches.len() == 3)
        );
        assert!(matches!(pick(&roles, None), Err(PickError::Several(r)) if r.len() == 3));
        assert_eq!(pick(&roles[..1], None).unwrap().role.name, "dev");
        assert_eq!(pick(&[], None).unwrap_err(), PickError::NoRoles);
    }

    #[test]
    fn recipients_and_provider_arns() {
        for ok in [
            "https://signin.aws.amazon.com/saml",
            "https://us-east-2.signin.aws.amazon.com/saml",
            "https://signin.amazonaws.cn/saml",
        ] {
            assert!(is_aws_recipient(ok), "{ok}");
        }
        for bad in [
            "http://signin.aws.amazon.com/saml",
            "https://signin.aws.amazon.com/saml/x",
            "https://evil.com/signin.aws.amazon.com/saml",
            "https://evilsignin.aws.amazon.com/saml",
            "https://kc.example.com/realms/corp/protocol/saml",
        ] {
            assert!(!is_aws_recipient(bad), "{bad}");
        }
        assert!(is_saml_provider_arn(PROVIDER));
        assert!(!is_saml_provider_arn(
            "arn:aws:iam::123456789012:oidc-provider/x"
        ));
        assert!(!is_saml_provider_arn("arn:aws:iam::12345:saml-provider/x"));
        assert!(!is_saml_provider_arn(
            "arn:nope:iam::123456789012:saml-provider/x"
        ));
    }

    #[test]
    fn globs() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*", ""));
        assert!(!glob("a*", "b"));
        assert!(glob("*b*b", "abab"));
    }
}
