//! Human messages on stderr, `aws-oidc: <level>: …`, for this crate only: dependencies stay
//! silent, so no library can log a request body holding a token. `-v`/`-vv`/`-q` pick the level.

/// Human messages on stderr, `aws-oidc: <level>: …`, for this crate only (dependencies stay
/// silent, so no library can log a request body holding the token).
pub fn init(verbose: u8, quiet: bool) {
    use tracing_subscriber::filter::LevelFilter;
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, _) => LevelFilter::DEBUG,
    };
    let filter = tracing_subscriber::filter::Targets::new().with_target("aws_oidc", level);
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .event_format(log_format::Plain),
        )
        .with(filter)
        .try_init();
}

mod log_format {
    //! `aws-oidc: warning: message` lines.
    use std::fmt;
    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::fmt::FmtContext;
    use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
    use tracing_subscriber::registry::LookupSpan;

    pub struct Plain;

    impl<S, N> FormatEvent<S, N> for Plain
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(
            &self,
            ctx: &FmtContext<'_, S, N>,
            mut writer: Writer<'_>,
            event: &Event<'_>,
        ) -> fmt::Result {
            let level = match *event.metadata().level() {
                Level::ERROR => "error",
                Level::WARN => "warning",
                Level::INFO => "info",
                Level::DEBUG => "debug",
                Level::TRACE => "trace",
            };
            write!(writer, "aws-oidc: {level}: ")?;
            ctx.field_format().format_fields(writer.by_ref(), event)?;
            writeln!(writer)
        }
    }
}
