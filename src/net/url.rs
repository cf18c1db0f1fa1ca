//! Percent-encoding for query strings and form bodies (RFC 3986 unreserved set kept).

/// Encodes every byte outside `A-Z a-z 0-9 - . _ ~`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes() {
        assert_eq!(
            super::encode("a b/c?d=e&f~g.h-i_j"),
            "a%20b%2Fc%3Fd%3De%26f~g.h-i_j"
        );
        assert_eq!(super::encode("é"), "%C3%A9");
    }
}
