//! The one error type `main` sees: a category (which decides the exit code), one line of
//! message, and hints; and the mapping of module errors (token, output, command line) into it.
//! `obtain` makes the hints an STS error needs (they name the role and the token's claims).

use std::fmt;

/// Exit-code categories (documented in README.md and `--help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Internal = 1,
    Usage = 2,
    Token = 3,
    Denied = 4,
    Transient = 5,
    Output = 6,
}

#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    pub hints: Vec<String>,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Kind::Usage, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hints.push(hint.into());
        self
    }

    pub fn hints(mut self, hints: impl IntoIterator<Item = String>) -> Failure {
        self.hints.extend(hints);
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.kind as u8
    }

    /// A command-line error from clap, in the one error form: its message on one line, the
    /// usage line and where to read more as hints.
    pub fn from_clap(e: &clap::Error) -> Failure {
        let text = e.render().to_string();
        let mut message = Vec::new();
        let mut hints = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(usage) = line.strip_prefix("Usage: ") {
                hints.push(format!("usage: {usage}"));
            } else if line.starts_with("For more information") {
                hints.push(line.replace("try '--help'", "run with --help"));
            } else if hints.is_empty() {
                message.push(line.strip_prefix("error: ").unwrap_or(line));
            } else {
                hints.push(line.to_string());
            }
        }
        let message = message.join(" ");
        Failure::usage(message).hints(hints)
    }
}

impl fmt::Display for Failure {
    /// `aws-oidc: error: <message>` then `  hint: <hint>` lines (continuation lines indented).
    /// Control characters are escaped: a message may quote a server's answer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        let mut out = crate::logging::Escaping(f);
        writeln!(out, "aws-oidc: error: {}", self.message)?;
        for hint in &self.hints {
            let mut lines = hint.lines();
            if let Some(first) = lines.next() {
                writeln!(out, "  hint: {first}")?;
            }
            for line in lines {
                writeln!(out, "        {line}")?;
            }
        }
        Ok(())
    }
}

/// A token error as the edge reports it: usage, transient or token-unavailable.
pub fn token(e: crate::token::TokenError, audience: &str) -> Failure {
    use crate::token::TokenError;
    let kind = match e {
        TokenError::Ambiguous(_) | TokenError::EndpointTls(_) => Kind::Usage,
        ref e if e.is_transient() => Kind::Transient,
        _ => Kind::Token,
    };
    let hints = e.hints(audience);
    Failure::new(kind, e.to_string()).hints(hints)
}

/// An STS error: refused (exit 4), transient failures outlasted (5), an untrusted certificate
/// (usage, 2); `hints` are the ones the caller made for this role and token.
pub fn sts(e: crate::sts::StsError, hints: Vec<String>) -> Failure {
    use crate::sts::StsError;
    let kind = match e {
        StsError::Denied { .. } | StsError::ExpiredToken { .. } => Kind::Denied,
        StsError::Exhausted { .. } => Kind::Transient,
        StsError::Tls { .. } => Kind::Usage,
    };
    Failure::new(kind, e.to_string()).hints(hints)
}

/// A console sign-in error: bad options are usage errors, network trouble transient, a refusal
/// denied.
pub fn console(e: crate::console::ConsoleError, chained: bool) -> Failure {
    use crate::console::ConsoleError;
    let kind = match e {
        ConsoleError::NoFederation(_) | ConsoleError::Destination(_) | ConsoleError::Setup(_) => {
            Kind::Usage
        }
        ref e if e.is_transient() => Kind::Transient,
        _ => Kind::Denied,
    };
    let hints = e.hints(chained);
    Failure::new(kind, format!("console sign-in: {e}")).hints(hints)
}

/// An output error: a usage error (a bad destination) or exit 6, with nothing half-written.
pub fn output(e: crate::output::OutputError) -> Failure {
    match e {
        crate::output::OutputError::Usage(m) => Failure::usage(m),
        other => Failure::new(Kind::Output, other.to_string())
            .hint("nothing was left half-written; fix the path or permissions and run again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_message_and_hints() {
        let f = Failure::new(Kind::Token, "no ID token found")
            .hint("declare it:\n  id_tokens:")
            .hint("or use --token-env");
        assert_eq!(
            f.to_string(),
            "aws-oidc: error: no ID token found\n  hint: declare it:\n          id_tokens:\n  hint: or use --token-env\n"
        );
        assert_eq!(f.exit_code(), 3);
    }

    #[test]
    fn control_characters_of_a_server_are_escaped() {
        // An STS or token endpoint's message, quoted in the error: it must not drive the
        // terminal (clear the screen, retitle the window, hide the rest of the line).
        let f = Failure::new(
            Kind::Denied,
            "AccessDenied: \u{1b}[2J\u{1b}]0;pwned\u{7}\rok",
        )
        .hint("the server said: \u{9b}31m");
        let shown = f.to_string();
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown:?}"
        );
        assert!(
            shown.starts_with("aws-oidc: error: AccessDenied: \\u{1b}[2J"),
            "{shown}"
        );
        assert!(shown.ends_with("\n"));
    }

    #[test]
    fn clap_errors_become_one_line() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[arg(long)]
            need: String,
        }
        let e = Cli::try_parse_from(["x"]).unwrap_err();
        let f = Failure::from_clap(&e);
        assert_eq!(f.kind, Kind::Usage);
        assert_eq!(
            f.message,
            "the following required arguments were not provided: --need <NEED>"
        );
        assert_eq!(f.hints[0], "usage: x --need <NEED>");
    }
}
