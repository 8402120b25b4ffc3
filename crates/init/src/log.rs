//! Messages on stderr: formatted into a fixed buffer (no allocator) and written with one
//! `write`, so a line does not interleave with the child's output.
//!
//! Write errors are ignored: as PID 1, berth-init must outlive a closed or broken stderr.

use core::fmt::{self, Write};

use crate::sys;

#[derive(Debug, Clone, Copy)]
pub struct Log {
    verbosity: u8,
}

impl Log {
    pub fn new(verbosity: u8) -> Self {
        Self { verbosity }
    }

    pub fn error(&self, args: fmt::Arguments<'_>) {
        emit("", args);
    }

    pub fn warn(&self, args: fmt::Arguments<'_>) {
        if self.verbosity >= 1 {
            emit("warning: ", args);
        }
    }

    pub fn info(&self, args: fmt::Arguments<'_>) {
        if self.verbosity >= 2 {
            emit("", args);
        }
    }
}

fn emit(kind: &str, args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = write!(line, "berth-init: {kind}{args}");
    let _ = sys::write_all(libc::STDERR_FILENO, line.finish());
}

/// A line of at most `CAPACITY` bytes; longer text is cut and marked with "...".
#[derive(Debug)]
pub struct Line {
    buf: [u8; Self::CAPACITY],
    len: usize,
    truncated: bool,
}

impl Line {
    const CAPACITY: usize = 1024;
    const MARK: &'static [u8] = b"...\n";

    pub fn new() -> Self {
        Self {
            buf: [0; Self::CAPACITY],
            len: 0,
            truncated: false,
        }
    }

    /// The text with a final newline.
    pub fn finish(&mut self) -> &[u8] {
        let end = if self.truncated {
            let start = Self::CAPACITY - Self::MARK.len();
            self.buf[start..].copy_from_slice(Self::MARK);
            Self::CAPACITY
        } else {
            self.buf[self.len] = b'\n';
            self.len + 1
        };
        &self.buf[..end]
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // One byte stays free for the newline.
        let room = Self::CAPACITY - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            self.truncated = true;
        }
        Ok(())
    }
}

/// Displays bytes (a command name, an argument) as UTF-8, with U+FFFD for invalid sequences.
#[derive(Debug, Clone, Copy)]
pub struct Lossy<'a>(pub &'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_char(char::REPLACEMENT_CHARACTER)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_with_newline() {
        let mut line = Line::new();
        write!(line, "cannot exec `{}`: {}", Lossy(b"foo"), 2).unwrap();
        assert_eq!(line.finish(), b"cannot exec `foo`: 2\n");
    }

    #[test]
    fn long_line_is_cut_and_marked() {
        let mut line = Line::new();
        for _ in 0..300 {
            line.write_str("abcd").unwrap();
        }
        let text = line.finish();
        assert_eq!(text.len(), Line::CAPACITY);
        assert!(text.starts_with(b"abcd") && text.ends_with(b"abcd...\n"));
    }

    #[test]
    fn exact_fit_is_not_cut() {
        let mut line = Line::new();
        let text = "x".repeat(Line::CAPACITY - 1);
        line.write_str(&text).unwrap();
        assert_eq!(line.finish().len(), Line::CAPACITY);
        assert!(!line.truncated);
    }

    #[test]
    fn lossy_bytes() {
        assert_eq!(Lossy(b"caf\xc3\xa9").to_string(), "café");
        assert_eq!(Lossy(b"a\xffb").to_string(), "a\u{fffd}b");
    }
}
