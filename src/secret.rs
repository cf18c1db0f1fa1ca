//! `Secret`: a string that never shows itself in `Debug` or `Display`.
//!
//! Every value that would let someone act as the job (the ID token, the secret
//! access key, the session token) is held in a `Secret`, so that a stray
//! `{:?}` in a log line, an error or a panic message prints `<redacted>`.

use std::fmt;

/// A secret string. Read it with [`Secret::expose`], on purpose, where it is written out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Call only where the value is meant to go.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG");
    }
}
