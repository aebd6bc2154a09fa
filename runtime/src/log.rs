//! Log lines in Pipy's shape: `2026-11-25 21:00:00.123 [INF] [listener] Listening on ...`.
//!
//! The tracing target is Pipy's log topic. Debug lines show only for the topics named in
//! `--log-level=debug:topic+topic` (all of them with plain `debug`).

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use crate::log_file::LogFile;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Debug, PartialEq)]
pub struct LogLevel {
    pub level: Level,
    /// With `debug`: the topics to show; empty means all.
    pub topics: Vec<String>,
}

impl LogLevel {
    pub fn parse(s: &str) -> Result<LogLevel, String> {
        let (name, topics) = s.split_once(':').unwrap_or((s, ""));
        let level = match name {
            "error" => Level::ERROR,
            "warn" => Level::WARN,
            "info" => Level::INFO,
            "debug" => Level::DEBUG,
            _ => return Err(format!("invalid log level: {s}")),
        };
        let topics = topics.split('+').filter(|t| !t.is_empty()).map(String::from).collect();
        Ok(LogLevel { level, topics })
    }

    fn enabled(&self, level: &Level, target: &str) -> bool {
        if *level == Level::DEBUG {
            return self.level == Level::DEBUG && (self.topics.is_empty() || self.topics.iter().any(|t| t == target));
        }
        *level <= self.level
    }
}

struct PipyFormat;

impl<S, N> FormatEvent<S, N> for PipyFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "ERR",
            Level::WARN => "WRN",
            Level::INFO => "INF",
            _ => "DBG",
        };
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f");
        write!(w, "{now} [{level}] ")?;
        let target = event.metadata().target();
        if target != "user" {
            write!(w, "[{target}] ")?;
        }
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Installs the stderr logger, and the `--log-file` one beside it when there is a file.
pub fn init(level: LogLevel, file: Option<LogFile>) {
    let filter = tracing_subscriber::filter::filter_fn(move |m| level.enabled(m.level(), m.target()));
    let fmt = tracing_subscriber::fmt::layer().event_format(PipyFormat).with_writer(std::io::stderr);
    let file = file.map(|f| tracing_subscriber::fmt::layer().event_format(PipyFormat).with_writer(Arc::new(f)));
    let _ = tracing_subscriber::registry().with(fmt.and_then(file).with_filter(filter)).try_init();
}

/// The formatter writes each event's text in one call: one call, whole lines.
impl Write for &LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_lines(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

use tracing_subscriber::Layer;

/// Writes and flushes at once: users pipe weir's stdout and expect each line as it happens
/// (`print`, `println`, the `print` filter).
pub fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels_and_topics() {
        let l = LogLevel::parse("debug:thread+listener").unwrap();
        assert!(l.enabled(&Level::DEBUG, "thread"));
        assert!(!l.enabled(&Level::DEBUG, "inbound"));
        assert!(l.enabled(&Level::INFO, "inbound"));
        let l = LogLevel::parse("warn").unwrap();
        assert!(!l.enabled(&Level::INFO, "x"));
        assert!(l.enabled(&Level::ERROR, "x"));
        assert!(LogLevel::parse("loud").is_err());
    }
}
