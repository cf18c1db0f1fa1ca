//! The network layer: HTTP clients and trust roots, the retry budget, URL encoding.

pub mod http;
pub mod retry;
pub mod url;
