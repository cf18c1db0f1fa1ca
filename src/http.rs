//! HTTP clients: one for the SDK (STS) and one for token endpoints, both rustls,
//! both honouring `HTTPS_PROXY`/`NO_PROXY` and an extra CA bundle
//! (`AWS_CA_BUNDLE`; `SSL_CERT_FILE` is read by the native root loader).

use std::time::Duration;

use aws_sdk_sts::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

const USER_AGENT: &str = concat!("aws-oidc/", env!("CARGO_PKG_VERSION"));

/// The extra CA bundle named by `AWS_CA_BUNDLE`, if any.
fn ca_bundle() -> Result<Option<Vec<u8>>, String> {
    match std::env::var_os("AWS_CA_BUNDLE").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(path) => std::fs::read(&path)
            .map(Some)
            .map_err(|e| format!("cannot read AWS_CA_BUNDLE {}: {e}", path.to_string_lossy())),
    }
}

/// The client for token endpoints.
pub fn client() -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(5));
    if let Some(pem) = ca_bundle()? {
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("AWS_CA_BUNDLE is not a PEM bundle: {e}"))?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| describe(&e))
}

/// The SDK's HTTP client: hyper + rustls, proxy from the environment.
pub fn sts_client() -> Result<SharedHttpClient, String> {
    let mut trust = TrustStore::default();
    if let Some(pem) = ca_bundle()? {
        trust = trust.with_pem_certificate(pem);
    }
    let ctx = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    Ok(
        aws_smithy_http_client::Builder::new().build_with_connector_fn(
            move |settings, components| {
                let mut builder = aws_smithy_http_client::Connector::builder()
                    .proxy_config(ProxyConfig::from_env())
                    .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                    .tls_context(ctx.clone());
                builder.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    builder.set_sleep_impl(components.sleep_impl());
                }
                builder.build()
            },
        ),
    )
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
