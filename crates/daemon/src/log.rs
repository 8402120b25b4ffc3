//! The daemon's log: logfmt lines on stderr, as dockerd writes them, filtered by `log-level`
//! (`debug` also comes with `--debug` / `"debug": true`).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(1);

fn rank(level: &str) -> u8 {
    match level {
        "debug" => 0,
        "info" => 1,
        "warn" | "warning" => 2,
        "error" => 3,
        _ => 4,
    }
}

/// Sets the lowest level written.
pub fn set_level(level: &str) {
    LEVEL.store(rank(level), Ordering::Relaxed);
}

pub fn enabled(level: &str) -> bool {
    rank(level) >= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line if `level` is enabled.
pub fn log(level: &str, msg: &str) {
    if !enabled(level) {
        return;
    }
    let _ = writeln!(
        std::io::stderr(),
        "time=\"{}\" level={level} msg=\"{}\"",
        crate::util::rfc3339_nano(crate::util::now_nanos()),
        msg.replace('\\', "\\\\").replace('"', "\\\"")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_filter() {
        set_level("warn");
        assert!(!enabled("info") && !enabled("debug"));
        assert!(enabled("warn") && enabled("error"));
        set_level("debug");
        assert!(enabled("debug"));
        set_level("info");
    }
}
