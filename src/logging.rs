//! Human messages on stderr, `aws-oidc: <level>: …`, for this crate only: dependencies stay
//! silent, so no library can log a request body holding a token. `-v`/`-vv`/`-q` pick the level.
//!
//! A subscriber of its own rather than `tracing_subscriber`'s registry: the registry sets up
//! span storage (a sharded slab sized for thousands of threads) that a one-shot CLI logging a
//! few lines never uses, and that was most of what a `credential-process` cache hit cost on top
//! of starting the process. Spans carry nothing here; events become one line each.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Human messages on stderr, `aws-oidc: <level>: …`, for this crate only (dependencies stay
/// silent, so no library can log a request body holding the token).
pub fn init(verbose: u8, quiet: bool) {
    let max = match (quiet, verbose) {
        (true, _) => Level::ERROR,
        (false, 0) => Level::WARN,
        (false, 1) => Level::INFO,
        (false, _) => Level::DEBUG,
    };
    let _ = tracing::subscriber::set_global_default(Plain { max });
}

/// Events of this crate at `max` or more severe, as `aws-oidc: warning: message` lines.
struct Plain {
    max: Level,
}

/// Whether `target` is this crate or one of its modules.
fn ours(target: &str) -> bool {
    target
        .strip_prefix("aws_oidc")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

impl Subscriber for Plain {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // tracing orders levels by verbosity: ERROR < WARN < INFO < DEBUG < TRACE.
        *metadata.level() <= self.max && ours(metadata.target())
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::from_level(self.max))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let line = line(event);
        let held = HELD.with_borrow_mut(|held| held.as_mut().map(|h| h.push_str(&line)));
        if held.is_none() {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

thread_local! {
    /// Messages held back on this thread (by [`held`]) instead of written.
    static HELD: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Messages held back while an attempt ran, to be written if its result is used, or dropped
/// if the work is done again (which says them again).
#[must_use]
pub struct Held(String);

impl Held {
    /// Writes the messages to stderr.
    pub fn emit(self) {
        if !self.0.is_empty() {
            let _ = std::io::stderr().write_all(self.0.as_bytes());
        }
    }
}

/// Runs `f`, holding back the messages it logs on this thread.
pub fn held<R>(f: impl FnOnce() -> R) -> (R, Held) {
    let outer = HELD.replace(Some(String::new()));
    let r = f();
    let messages = HELD.replace(outer).unwrap_or_default();
    (r, Held(messages))
}

/// `aws-oidc: <level>: <message>[ name=value…]\n`, written in one piece.
fn line(event: &Event<'_>) -> String {
    let level = match *event.metadata().level() {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    };
    let mut fields = Fields(format!("aws-oidc: {level}: "));
    event.record(&mut fields);
    fields.0.push('\n');
    fields.0
}

/// The message as written, other fields as ` name=value` (Debug), like tracing's default.
struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Control characters escaped, as tracing-subscriber does: a message or a field (`%`
        // takes a value's Display) may quote a hostile answer, which must not drive the
        // terminal.
        let mut out = Escaping(&mut self.0);
        let _ = if field.name() == "message" {
            write!(out, "{value:?}")
        } else {
            write!(out, " {}={value:?}", field.name())
        };
    }
}

/// Writes through to `W` with control characters (but line breaks and tabs) escaped: for
/// text on stderr that may quote an answer from a server (log lines, the final error).
pub struct Escaping<W: fmt::Write>(pub W);

impl<W: fmt::Write> fmt::Write for Escaping<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if c.is_control() && c != '\n' && c != '\t' {
                write!(self.0, "{}", c.escape_default())?;
            } else {
                self.0.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_crate_is_ours() {
        assert!(ours("aws_oidc"));
        assert!(ours("aws_oidc::cache"));
        assert!(!ours("aws_oidc_other"));
        assert!(!ours("hyper::proto"));
        assert!(!ours("rustls"));
    }

    #[test]
    fn levels() {
        let warn = Plain { max: Level::WARN };
        assert_eq!(
            warn.max_level_hint(),
            Some(tracing::level_filters::LevelFilter::WARN)
        );
        let enabled = tracing::subscriber::with_default(warn, || {
            (
                tracing::enabled!(Level::ERROR),
                tracing::enabled!(Level::WARN),
                tracing::enabled!(Level::INFO),
            )
        });
        assert_eq!(enabled, (true, true, false));
    }

    /// Review (issue 15): tracing-subscriber's formatter (main) escapes terminal control
    /// characters in messages (CVE-2025-58160); a message quoting a hostile answer (an STS
    /// error message in a retry warning) must not drive the terminal through this one either.
    #[test]
    fn control_characters_in_messages_are_escaped() {
        let warn = Plain { max: Level::WARN };
        let hostile = "\x1b]0;pwned\x07\x1b[2J\u{9b}31m";
        let ((), held) = tracing::subscriber::with_default(warn, || {
            super::held(|| {
                tracing::warn!("attempt 1/3 failed: {hostile}; retrying");
                tracing::warn!(answer = %hostile, "attempt 2/3 failed");
            })
        });
        assert!(held.0.contains(" answer=\\u{1b}]0;pwned"), "{:?}", held.0);
        assert!(
            !held.0.contains(['\x1b', '\x07', '\u{9b}']),
            "raw control characters on stderr: {:?}",
            held.0
        );
    }

    #[test]
    fn messages_can_be_held_back() {
        let warn = Plain { max: Level::WARN };
        let (r, held) = tracing::subscriber::with_default(warn, || {
            super::held(|| {
                tracing::warn!("cache entry {} ignored", 1);
                tracing::info!("not at this level");
                7
            })
        });
        assert_eq!(r, 7);
        assert_eq!(held.0, "aws-oidc: warning: cache entry 1 ignored\n");
        // Nothing stays held afterwards.
        assert!(HELD.with_borrow(Option::is_none));
    }
}
