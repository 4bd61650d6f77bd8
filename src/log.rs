//! The one logging facade, with Margo's levels.
//!
//! Library code logs only through here: its macros (`crate::debug!` ...) go
//! through the `log` facade (see [`MargoLog`]). Messages end in a
//! user-installed sink (the C face installs Margo-style loggers) or on
//! stderr. The threshold can be preset with
//! `MOCHI_LOG_LEVEL=trace|debug|info|warning|error|critical`.

use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

/// Margo's log levels, with Margo's numeric values.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    External = 0,
    Trace = 1,
    Debug = 2,
    Info = 3,
    Warning = 4,
    Error = 5,
    Critical = 6,
}

impl Level {
    pub fn from_i32(v: i32) -> Option<Level> {
        Some(match v {
            0 => Level::External,
            1 => Level::Trace,
            2 => Level::Debug,
            3 => Level::Info,
            4 => Level::Warning,
            5 => Level::Error,
            6 => Level::Critical,
            _ => return None,
        })
    }

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "external" => Level::External,
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warning" | "warn" => Level::Warning,
            "error" => Level::Error,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::External => "external",
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }
}

/// Where messages go when a user installed their own logger.
pub type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

static THRESHOLD: AtomicI32 = AtomicI32::new(-1);
/// The installed sink. Read without any lock: [`emit_with`] takes its own
/// reference and calls the user's logger with nothing held, so a logger
/// that logs, or installs another logger, cannot deadlock; a logger
/// replaced while a message is on its way still finishes that message.
static SINK: ArcSwapOption<Sink> = ArcSwapOption::const_empty();

fn threshold() -> i32 {
    let t = THRESHOLD.load(Ordering::Relaxed);
    if t >= 0 {
        return t;
    }
    static FROM_ENV: OnceLock<i32> = OnceLock::new();
    *FROM_ENV
        .get_or_init(|| std::env::var("MOCHI_LOG_LEVEL").ok().and_then(|s| Level::parse(&s)).unwrap_or(Level::Warning) as i32)
}

/// Sets the process-wide threshold (`margo_set_global_log_level`).
pub fn set_level(level: Level) {
    THRESHOLD.store(level as i32, Ordering::Relaxed);
}

/// Logs nothing at all, criticals included (`bedrock -v off`), until the
/// next [`set_level`].
pub fn set_off() {
    THRESHOLD.store(OFF, Ordering::Relaxed);
}

/// The threshold above every level.
const OFF: i32 = Level::Critical as i32 + 1;

/// The current threshold; `None` when logging is off.
pub fn level() -> Option<Level> {
    Level::from_i32(threshold())
}

/// Installs (or removes, with `None`) the process-wide sink.
pub fn set_sink(sink: Option<Sink>) {
    SINK.store(sink.map(Arc::new));
}

pub fn enabled(level: Level) -> bool {
    level as i32 >= threshold()
}

/// Emits one message if `level` passes `threshold` (an instance's own level).
pub fn emit_with(threshold: Level, level: Level, message: &str) {
    if level < threshold {
        return;
    }
    match SINK.load_full() {
        Some(sink) => sink(level, message),
        None => {
            // One write per line: lines of concurrent processes sharing a
            // terminal must not interleave mid-line.
            use std::io::Write;
            let line = format!("[{}] {}\n", level.name(), message);
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

pub fn emit(level: Level, message: &str) {
    if enabled(level) {
        emit_with(Level::External, level, message);
    }
}

/// The library's messages travel through the `log` facade (target
/// `mochi`), so a Rust program that installed its own logger before its
/// first call into the library receives them. Otherwise the first message
/// installs [`MargoLog`], which hands them to the Margo-level sink above
/// (stderr, or the C program's logger) under the threshold set here.
pub struct MargoLog;

static MARGO_LOG: MargoLog = MargoLog;
static INSTALL: std::sync::Once = std::sync::Once::new();

/// Makes sure library messages go somewhere: installs [`MargoLog`] as the
/// process's `log` logger unless the program installed one already.
pub fn install() {
    INSTALL.call_once(|| {
        if ::log::set_logger(&MARGO_LOG).is_ok() {
            // Our threshold filters (it can change at run time).
            ::log::set_max_level(::log::LevelFilter::Trace);
        }
    });
}

fn from_facade(level: ::log::Level) -> Level {
    match level {
        ::log::Level::Error => Level::Error,
        ::log::Level::Warn => Level::Warning,
        ::log::Level::Info => Level::Info,
        ::log::Level::Debug => Level::Debug,
        ::log::Level::Trace => Level::Trace,
    }
}

impl ::log::Log for MargoLog {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        enabled(from_facade(metadata.level()))
    }

    fn log(&self, record: &::log::Record<'_>) {
        let level = from_facade(record.level());
        if enabled(level) {
            emit_with(Level::External, level, &record.args().to_string());
        }
    }

    fn flush(&self) {}
}

// The library's logging macros: crate-internal (they used to leak into the
// crate's public namespace), each a `log` macro with our target.
#[allow(unused_macros)]
macro_rules! trace { ($($arg:tt)*) => {{ $crate::log::install(); ::log::trace!(target: "mochi", $($arg)*) }}; }
macro_rules! debug { ($($arg:tt)*) => {{ $crate::log::install(); ::log::debug!(target: "mochi", $($arg)*) }}; }
macro_rules! info { ($($arg:tt)*) => {{ $crate::log::install(); ::log::info!(target: "mochi", $($arg)*) }}; }
macro_rules! warning { ($($arg:tt)*) => {{ $crate::log::install(); ::log::warn!(target: "mochi", $($arg)*) }}; }
macro_rules! error { ($($arg:tt)*) => {{ $crate::log::install(); ::log::error!(target: "mochi", $($arg)*) }}; }
#[allow(unused_imports)]
pub(crate) use {debug, error, info, trace, warning};

/// Serializes the unit tests that change the process-wide threshold or sink.
#[cfg(test)]
pub(crate) static TEST_GLOBALS: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_silences_criticals_too() {
        let _globals = TEST_GLOBALS.lock();
        let before = THRESHOLD.load(Ordering::Relaxed);
        set_off();
        assert!(!enabled(Level::Critical));
        assert_eq!(level(), None);
        set_level(Level::Critical);
        assert!(enabled(Level::Critical) && !enabled(Level::Error));
        assert_eq!(level(), Some(Level::Critical));
        THRESHOLD.store(before, Ordering::Relaxed);
    }
}
