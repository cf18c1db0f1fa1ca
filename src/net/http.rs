//! The HTTP client of the process (reqwest, rustls, HTTP/1.1 only), for every endpoint: STS,
//! CI token endpoints, identity providers, the federation endpoint. It honours
//! `HTTPS_PROXY`/`NO_PROXY` and trusts the system's roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` say
//! where they are), or, where the system has none (a `FROM scratch` image), Mozilla's roots
//! built into the binary; plus the PEM bundle named by `AWS_CA_BUNDLE`. Those variables are
//! read from the one environment snapshot, handed over once with [`configure`].

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::env::Env;

/// What to do when a server's certificate is not trusted.
pub const TLS_HINT: &str = "if a proxy or a private CA signs this endpoint's certificate, point AWS_CA_BUNDLE at its PEM bundle (SSL_CERT_FILE replaces the whole trust store)";

/// The most of an HTTP answer (STS, token endpoint, federation endpoint) that is read:
/// real ones are a few KiB, so more is a broken or hostile endpoint, never read to its end.
pub const MAX_ANSWER: usize = 1024 * 1024;
/// [`MAX_ANSWER`] for messages.
pub const MAX_ANSWER_TEXT: &str = "1 MiB";

const USER_AGENT: &str = concat!("aws-oidc/", env!("CARGO_PKG_VERSION"));

/// What the HTTP layer takes from the environment: where the trusted roots are. Read from
/// the one snapshot ([`Env`]), never from the process directly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `AWS_CA_BUNDLE`: a PEM bundle trusted on top of the system's roots.
    ca_bundle: Option<PathBuf>,
    /// `SSL_CERT_FILE`: replaces the system's roots (with `SSL_CERT_DIR`).
    cert_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`, split like `PATH`.
    cert_dirs: Vec<PathBuf>,
}

impl Config {
    pub fn from_env(env: &Env) -> Config {
        Config {
            ca_bundle: env.get("AWS_CA_BUNDLE").map(PathBuf::from),
            cert_file: env.get("SSL_CERT_FILE").map(PathBuf::from),
            cert_dirs: env
                .get("SSL_CERT_DIR")
                .map(|dirs| {
                    std::env::split_paths(dirs)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Takes the HTTP layer's settings from the environment snapshot. Call it once, before the
/// first client is built; later calls change nothing.
pub fn configure(env: &Env) {
    let _ = CONFIG.set(Config::from_env(env));
}

/// The settings given to [`configure`]; a snapshot taken now if it was never called.
fn config() -> &'static Config {
    CONFIG.get_or_init(|| Config::from_env(&Env::from_process()))
}

/// The trusted roots as rustls takes them, built when the first TLS client is: every
/// certificate is decoded and parsed once, and one that is in both the system's bundle and
/// `AWS_CA_BUNDLE` (a bundle made by appending a private CA to the system's) once in all.
/// Certificates rustls cannot use are left out.
fn root_store(config: &Config) -> Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    let mut seen = std::collections::HashSet::new();
    // True when the certificate is trusted, by now or already.
    let mut add = |store: &mut rustls::RootCertStore, cert: CertificateDer<'static>| {
        !seen.insert(cert.to_vec()) || store.add(cert).is_ok()
    };
    for cert in system_roots(config) {
        add(&mut store, cert);
    }
    if store.is_empty() {
        tracing::debug!("no system CA certificates; using the built-in Mozilla roots");
        for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            add(&mut store, cert.clone());
        }
    }
    if let Some(path) = &config.ca_bundle {
        let shown = path.display();
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read AWS_CA_BUNDLE {shown}: {e}"))?;
        let extra = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("AWS_CA_BUNDLE {shown} is not a PEM bundle: {e}"))?;
        let mut any = false;
        for cert in extra {
            any |= add(&mut store, cert);
        }
        if !any {
            return Err(format!(
                "AWS_CA_BUNDLE {shown} holds no usable PEM certificate"
            ));
        }
    }
    Ok(store)
}

/// The system's roots. `SSL_CERT_FILE`/`SSL_CERT_DIR` when set; else the distribution's
/// bundle file, read once (scanning /etc/ssl/certs as well would read every certificate
/// two or three times over); else whatever the platform store has.
fn system_roots(config: &Config) -> Vec<CertificateDer<'static>> {
    if config.cert_file.is_some() || !config.cert_dirs.is_empty() {
        let mut certs =
            rustls_native_certs::load_certs_from_paths(config.cert_file.as_deref(), None).certs;
        for dir in &config.cert_dirs {
            certs.extend(rustls_native_certs::load_certs_from_paths(None, Some(dir)).certs);
        }
        return certs;
    }
    const BUNDLES: [&str; 5] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ];
    for path in BUNDLES {
        if let Ok(iter) = CertificateDer::pem_file_iter(path) {
            let certs: Vec<_> = iter.filter_map(Result::ok).collect();
            if !certs.is_empty() {
                return certs;
            }
        }
    }
    // Neither variable is set (so the platform store's own look at them finds nothing).
    rustls_native_certs::load_native_certs().certs
}

/// The client for every endpoint (STS, token, federation), built once per process. A plain `http://`
/// URL (a local endpoint) gets a client that never loads the trusted roots. Redirects are
/// not followed: neither endpoint redirects, and following one would send the request (the
/// federation URL holds the credentials) to another host, with the URL in `Referer`.
pub fn client(url: &str) -> Result<reqwest::Client, String> {
    static TLS: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    static PLAIN: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    if url.starts_with("http://") {
        // No trusted roots at all: a client that never makes a TLS connection.
        PLAIN
            .get_or_init(|| build_client(rustls::RootCertStore::empty()))
            .clone()
    } else {
        TLS.get_or_init(|| build_client(root_store(config())?))
            .clone()
    }
}

/// A client trusting `roots`, with rustls on ring, the binary's one crypto provider, set
/// up here rather than by reqwest (which would parse every root a second time).
fn build_client(roots: rustls::RootCertStore) -> Result<reqwest::Client, String> {
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup failed: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| describe(&e))
}

/// Why a body was not read: too large, or the connection failed on the way.
pub enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

/// Reads an answer's body up to [`MAX_ANSWER`] bytes.
pub async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut read = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if read.len() + chunk.len() > MAX_ANSWER {
            return Err(BodyError::TooLarge);
        }
        read.extend_from_slice(&chunk);
    }
    Ok(read)
}

/// What a message adds after `HTTP <status>` for a redirect.
pub fn redirect_note(status: u16) -> &'static str {
    if (300..400).contains(&status) {
        " (a redirect; redirects are not followed)"
    } else {
        ""
    }
}

/// A one-line description of a reqwest error with its causes (URLs carry no secrets here).
pub fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn pem_bundle(certs: &[CertificateDer<'_>]) -> Vec<u8> {
        let mut out = String::new();
        for cert in certs {
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
            for line in b64.as_bytes().chunks(64) {
                out.push_str(std::str::from_utf8(line).unwrap_or_default());
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        out.into_bytes()
    }

    #[test]
    fn pem_bundle_round_trips() {
        let certs: Vec<CertificateDer<'static>> =
            webpki_root_certs::TLS_SERVER_ROOT_CERTS[..3].to_vec();
        let pem = pem_bundle(&certs);
        let back = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(back, certs);
    }

    fn pem_file(dir: &std::path::Path, name: &str, certs: &[CertificateDer<'static>]) -> String {
        let path = dir.join(name);
        std::fs::write(&path, pem_bundle(certs)).unwrap();
        path.to_str().unwrap().to_string()
    }

    #[test]
    fn trust_settings_come_from_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        let system = pem_file(dir.path(), "system.pem", &mozilla[..3]);
        let extra = pem_file(dir.path(), "extra.pem", &mozilla[3..4]);
        let certs_dir = dir.path().join("certs");
        std::fs::create_dir(&certs_dir).unwrap();
        pem_file(&certs_dir, "a.pem", &mozilla[4..6]);
        let env = Env::from_pairs([
            ("SSL_CERT_FILE", system.as_str()),
            ("AWS_CA_BUNDLE", extra.as_str()),
            ("SSL_CERT_DIR", certs_dir.to_str().unwrap()),
        ]);
        let got = root_store(&Config::from_env(&env)).unwrap();
        assert_eq!(
            got.len(),
            6,
            "3 from SSL_CERT_FILE, 2 from SSL_CERT_DIR, 1 from AWS_CA_BUNDLE"
        );
    }

    #[test]
    fn a_certificate_in_both_bundles_is_trusted_once() {
        let dir = tempfile::tempdir().unwrap();
        let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        let system = pem_file(dir.path(), "system.pem", &mozilla[..3]);
        // A private CA appended to a copy of the system's bundle, as people make them.
        let extra = pem_file(dir.path(), "extra.pem", &mozilla[..4]);
        let env = Env::from_pairs([
            ("SSL_CERT_FILE", system.as_str()),
            ("AWS_CA_BUNDLE", extra.as_str()),
        ]);
        assert_eq!(root_store(&Config::from_env(&env)).unwrap().len(), 4);
        // Nothing new in it is no error: its certificates are trusted.
        let same = pem_file(dir.path(), "same.pem", &mozilla[..2]);
        let env = Env::from_pairs([
            ("SSL_CERT_FILE", system.as_str()),
            ("AWS_CA_BUNDLE", same.as_str()),
        ]);
        assert_eq!(root_store(&Config::from_env(&env)).unwrap().len(), 3);
    }

    #[test]
    fn blank_variables_are_unset() {
        let env = Env::from_pairs([
            ("SSL_CERT_FILE", ""),
            ("SSL_CERT_DIR", " "),
            ("AWS_CA_BUNDLE", ""),
        ]);
        assert_eq!(Config::from_env(&env), Config::default());
    }

    #[test]
    fn an_unreadable_ca_bundle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let system = pem_file(
            dir.path(),
            "system.pem",
            &webpki_root_certs::TLS_SERVER_ROOT_CERTS[..1],
        );
        let env = Env::from_pairs([
            ("SSL_CERT_FILE", system.as_str()),
            ("AWS_CA_BUNDLE", "/nonexistent/bundle.pem"),
        ]);
        let err = root_store(&Config::from_env(&env)).unwrap_err();
        assert!(
            err.starts_with("cannot read AWS_CA_BUNDLE /nonexistent/bundle.pem: "),
            "{err}"
        );
    }
}
