//! Tests only: an HTTP client for the official SDK (a dev-dependency, for differential tests),
//! over reqwest, HTTP/1.1, plain `http://` to the local fakes. With it the SDK brings no HTTP
//! stack of its own into the build (no hyper-rustls, no h2): `cargo tree -i h2` stays empty.
//! Used by the unit tests of `src/sts` and, through `#[path]`, by `tests/it/fakes_vs_sdk.rs`.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

#[derive(Clone, Debug)]
struct Reqwest(reqwest::Client);

impl HttpConnector for Reqwest {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let io = |e: reqwest::Error| ConnectorError::io(Box::new(e));
            let method = reqwest::Method::from_bytes(request.method().as_bytes())
                .map_err(|e| ConnectorError::user(Box::new(e)))?;
            let mut builder = client.request(method, request.uri());
            for (name, value) in request.headers() {
                builder = builder.header(name, value);
            }
            let body = request.body().bytes().unwrap_or_default().to_vec();
            let response = builder.body(body).send().await.map_err(io)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(io)?;
            let status = status
                .try_into()
                .map_err(|e| ConnectorError::other(Box::new(e), None))?;
            let mut out = HttpResponse::new(status, SdkBody::from(bytes.to_vec()));
            for (name, value) in &headers {
                if let Ok(value) = value.to_str() {
                    out.headers_mut()
                        .insert(name.as_str().to_string(), value.to_string());
                }
            }
            Ok(out)
        })
    }
}

impl HttpClient for Reqwest {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// The client to hand to `aws_sdk_sts::Config::builder().http_client(..)`.
pub fn http_client() -> SharedHttpClient {
    // reqwest carries no crypto provider of its own (the binary's is ring, see net::http).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a reqwest client");
    SharedHttpClient::new(Reqwest(client))
}
