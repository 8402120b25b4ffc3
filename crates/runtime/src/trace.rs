//! `BERTH_TRACE=1`: a per-step timing trace on stderr, to see where a container start spends its time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// Reads `BERTH_TRACE` once, at the start of the program.
pub fn init() {
    if std::env::var_os("BERTH_TRACE").is_some_and(|v| v != "0" && !v.is_empty()) {
        ENABLED.store(true, Ordering::Relaxed);
        START.get_or_init(Instant::now);
    }
}

/// `--debug`: the same trace.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
    START.get_or_init(Instant::now);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Prints `[trace] +1234us pid=N label` when tracing is on.
pub fn mark(label: &str) {
    if !enabled() {
        return;
    }
    let us = START.get().map(|s| s.elapsed().as_micros()).unwrap_or(0);
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "[trace] {us:>7}us pid={} {label}",
        std::process::id()
    );
}
