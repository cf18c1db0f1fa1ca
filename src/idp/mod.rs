//! Interactive identity providers: discovery, device grant, auth code + PKCE loopback,
//! refresh, token exchange, and the token store (keyring / file) their logins fill.

// Until `login` is wired, nothing outside the tests calls into this module: this goes away then.
#![cfg_attr(not(test), allow(dead_code))]

pub mod store;
