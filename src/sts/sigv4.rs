//! AWS Signature Version 4 for the one signed call, the chained `AssumeRole`: a POST whose
//! body is the whole payload (no query, no chunked upload, no presigning).
//!
//! Signed headers: the ones the caller passes (`content-type`, `host`) plus `x-amz-date`
//! and, with a session token, `x-amz-security-token`. The hashes come from
//! [`crypto`]: SHA-256 and HMAC-SHA256 of ring, the binary's one crypto provider.

use crate::net::url::encode;

/// The hash functions, in one place.
mod crypto {
    use ring::{digest, hmac};

    pub fn sha256(data: &[u8]) -> Vec<u8> {
        digest::digest(&digest::SHA256, data).as_ref().to_vec()
    }

    pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
            .as_ref()
            .to_vec()
    }
}

/// Who signs, where, when.
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    /// Empty for long-term keys: then no `x-amz-security-token`.
    pub session_token: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// Unix seconds.
    pub time: i64,
}

/// What is signed: `path` and `query` as they go on the wire (percent-encoded), `headers`
/// with lower-case names.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The path, each segment encoded once more (SigV4's double encoding, for every service
/// but S3).
fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// The query's pairs, sorted, as they go on the wire (an STS endpoint URL has none; one
/// given with a query is expected to encode it with the unreserved set already).
fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

impl Signer<'_> {
    /// `YYYYMMDDTHHMMSSZ`
    fn amz_date(&self) -> String {
        let (y, mo, d, h, mi, s) = crate::aws::credentials::civil(self.time);
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
    }

    /// The headers to add to `request`: `x-amz-date`, `x-amz-security-token` (with a
    /// session token) and `authorization`.
    pub fn sign(&self, request: &Request<'_>) -> Vec<(&'static str, String)> {
        let amz_date = self.amz_date();
        let mut added = vec![("x-amz-date", amz_date.clone())];
        if !self.session_token.is_empty() {
            added.push(("x-amz-security-token", self.session_token.to_string()));
        }
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .chain(added.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .map(|(k, v)| (k, v.split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect();
        headers.sort();
        let signed = headers
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{signed}\n{}",
            request.method,
            canonical_path(request.path),
            canonical_query(request.query),
            headers
                .iter()
                .map(|(k, v)| format!("{k}:{v}\n"))
                .collect::<String>(),
            hex(&crypto::sha256(request.body)),
        );
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&crypto::sha256(canonical.as_bytes()))
        );
        let mut key = format!("AWS4{}", self.secret_access_key).into_bytes();
        for part in [date, self.region, self.service, "aws4_request"] {
            key = crypto::hmac_sha256(&key, part.as_bytes());
        }
        let signature = hex(&crypto::hmac_sha256(&key, to_sign.as_bytes()));
        added.push((
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                self.access_key_id
            ),
        ));
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// 2015-08-30T12:36:00Z
    const EXAMPLE_TIME: i64 = 1_440_938_160;

    #[test]
    fn aws_published_example() {
        // AWS General Reference, "Signature Version 4 signing process" (2015 edition): IAM
        // ListUsers, whose string to sign hashes the canonical request to f536975d…1a59.
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: SECRET,
            session_token: "",
            region: "us-east-1",
            service: "iam",
            time: EXAMPLE_TIME,
        };
        let headers = signer.sign(&Request {
            method: "GET",
            path: "/",
            query: Some("Version=2010-05-08&Action=ListUsers"),
            headers: &[
                (
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
                ("host", "iam.amazonaws.com"),
            ],
            body: b"",
        });
        assert_eq!(
            headers,
            [
                ("x-amz-date", "20150830T123600Z".to_string()),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7".to_string()
                ),
            ]
        );
    }

    /// The signature aws-sigv4 (the SDK's signer) computes for the same request.
    fn sdk_signature(signer: &Signer<'_>, url: &str, request: &Request<'_>) -> String {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let token = Some(signer.session_token.to_string()).filter(|t| !t.is_empty());
        let identity = aws_credential_types::Credentials::new(
            signer.access_key_id,
            signer.secret_access_key,
            token,
            None,
            "test",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(signer.region)
            .name(signer.service)
            .time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(signer.time as u64))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            request.method,
            url,
            request.headers.iter().copied(),
            SignableBody::Bytes(request.body),
        )
        .unwrap();
        let (instructions, signature) = sign(signable, &params).unwrap().into_parts();
        let authorization = instructions
            .headers()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.to_string())
            .unwrap();
        assert!(authorization.ends_with(&format!("Signature={signature}")));
        authorization
    }

    /// Endpoints with a path, a non-default port, an IPv6 host or a query sign as the SDK's.
    #[test]
    fn review_endpoint_shapes_sign_as_the_sdk() {
        for url in [
            "https://sts.example.com:8443/sts/",
            "https://sts.example.com/a%20b/c/",
            "https://sts.example.com/a+b~c/",
            "http://[::1]:4566/",
            "https://sts.example.com/x/?b=2&a=1",
        ] {
            let parsed = reqwest::Url::parse(url).unwrap();
            let host = match (parsed.host_str(), parsed.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => String::new(),
            };
            let signer = Signer {
                access_key_id: "ASIAFIRSTHOPEXAMPLE0",
                secret_access_key: SECRET,
                session_token: "tok",
                region: "us-east-1",
                service: "sts",
                time: EXAMPLE_TIME,
            };
            let request = Request {
                method: "POST",
                path: parsed.path(),
                query: parsed.query(),
                headers: &[
                    ("content-type", super::super::wire::CONTENT_TYPE),
                    ("host", &host),
                ],
                body: b"Action=AssumeRole",
            };
            let ours = signer.sign(&request);
            assert_eq!(
                ours.last().unwrap().1,
                sdk_signature(&signer, url, &request),
                "{url}"
            );
        }
    }

    #[test]
    fn same_signature_as_the_sdk_signer() {
        let body = super::super::wire::assume_role(&super::super::ChainRequest {
            role: crate::aws::arn::RoleArn::parse("arn:aws:iam::210987654321:role/target")
                .unwrap(),
            session_name: "s2".into(),
            external_id: Some("-ext 1".into()),
            duration: 3600,
            policy: Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Sid":"é x"}]}"#.into()),
            policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
        });
        for (token, url, host, region) in [
            (
                "",
                "https://sts.eu-west-1.amazonaws.com/",
                "sts.eu-west-1.amazonaws.com",
                "eu-west-1",
            ),
            (
                "FwoGZXIvYXdzEJr//////////wEaDO+token=",
                "http://127.0.0.1:4566/",
                "127.0.0.1:4566",
                "us-east-1",
            ),
        ] {
            for time in [EXAMPLE_TIME, 1_795_000_000] {
                let signer = Signer {
                    access_key_id: "ASIAFIRSTHOPEXAMPLE0",
                    secret_access_key: SECRET,
                    session_token: token,
                    region,
                    service: "sts",
                    time,
                };
                let request = Request {
                    method: "POST",
                    path: "/",
                    query: None,
                    headers: &[
                        ("content-type", super::super::wire::CONTENT_TYPE),
                        ("host", host),
                    ],
                    body: body.as_bytes(),
                };
                let ours = signer.sign(&request);
                let authorization = &ours.last().unwrap().1;
                assert_eq!(*authorization, sdk_signature(&signer, url, &request));
                let security_token = ours
                    .iter()
                    .find(|(k, _)| *k == "x-amz-security-token")
                    .map(|(_, v)| v.as_str());
                assert_eq!(security_token, Some(token).filter(|t| !t.is_empty()));
                let signed = if token.is_empty() {
                    "content-type;host;x-amz-date,"
                } else {
                    "content-type;host;x-amz-date;x-amz-security-token,"
                };
                assert!(authorization.contains(signed), "{authorization}");
            }
        }
    }
}
