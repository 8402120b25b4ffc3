//! Go's `text/tabwriter` (flags 0), which the Docker CLI prints tables with.
//!
//! Ref: Go src/text/tabwriter/tabwriter.go. Text is cut into cells by tabs
//! (`\t`, `\v`); a cell belongs to a column only if a tab ends it, so the last
//! cell of a line is never padded. A column's width is the widest cell plus
//! padding (at least `minwidth`) over a block of consecutive lines that all
//! have that column. `\f` ends a line and also every block, and prints as a
//! newline.

/// A buffering tab writer: [`write_str`](Self::write_str) collects text,
/// [`finish`](Self::finish) lays it out (Go's `Flush`).
#[derive(Debug, Clone)]
pub struct TabWriter {
    minwidth: usize,
    tabwidth: usize,
    padding: usize,
    padchar: char,
    buf: String,
}

/// The writer Docker's formatter uses:
/// `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
///
/// Ref: docker/cli cli/command/formatter/formatter.go `Context.postFormat`.
pub fn docker_tabwriter() -> TabWriter {
    TabWriter::new(10, 1, 3, ' ')
}

impl TabWriter {
    pub fn new(minwidth: usize, tabwidth: usize, padding: usize, padchar: char) -> Self {
        TabWriter {
            minwidth,
            tabwidth,
            padding,
            padchar,
            buf: String::new(),
        }
    }

    pub fn write_str(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    pub fn finish(self) -> String {
        // Lines, each a list of cells; `true` marks a line ended by '\f'.
        let mut lines: Vec<(Vec<&str>, bool)> = Vec::new();
        let mut rest = self.buf.as_str();
        loop {
            match rest.find(['\n', '\x0c']) {
                Some(i) => {
                    lines.push((split_cells(&rest[..i]), rest.as_bytes()[i] == b'\x0c'));
                    rest = &rest[i + 1..];
                }
                None => {
                    lines.push((split_cells(rest), false));
                    break;
                }
            }
        }
        let mut out = String::with_capacity(self.buf.len() * 2);
        let mut start = 0;
        for i in 0..lines.len() {
            if lines[i].1 || i + 1 == lines.len() {
                self.format_block(&lines[start..=i], i + 1 == lines.len(), &mut out);
                start = i + 1;
            }
        }
        out
    }

    /// Lays out lines that share column blocks; `last` if the final line is
    /// the end of the text (and so gets no newline).
    fn format_block(&self, lines: &[(Vec<&str>, bool)], last: bool, out: &mut String) {
        let cols = lines.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
        // widths[i][j]: width of cell j of line i, for tab-terminated cells.
        let mut widths: Vec<Vec<usize>> = lines
            .iter()
            .map(|(c, _)| vec![0; c.len().saturating_sub(1)])
            .collect();
        for col in 0..cols.saturating_sub(1) {
            let mut i = 0;
            while i < lines.len() {
                if lines[i].0.len() <= col + 1 {
                    i += 1;
                    continue;
                }
                let begin = i;
                let mut width = self.minwidth;
                while i < lines.len() && lines[i].0.len() > col + 1 {
                    width = width.max(lines[i].0[col].chars().count() + self.padding);
                    i += 1;
                }
                for w in &mut widths[begin..i] {
                    w[col] = width;
                }
            }
        }
        for (i, (cells, _)) in lines.iter().enumerate() {
            for (j, cell) in cells.iter().enumerate() {
                out.push_str(cell);
                if let Some(&w) = widths[i].get(j) {
                    self.write_padding(out, cell.chars().count(), w);
                }
            }
            if !(last && i + 1 == lines.len()) {
                out.push('\n');
            }
        }
    }

    fn write_padding(&self, out: &mut String, textw: usize, cellw: usize) {
        if self.padchar == '\t' {
            if self.tabwidth == 0 {
                return;
            }
            let cellw = cellw.div_ceil(self.tabwidth) * self.tabwidth;
            let n = cellw.saturating_sub(textw);
            out.extend(std::iter::repeat_n('\t', n.div_ceil(self.tabwidth)));
        } else {
            out.extend(std::iter::repeat_n(self.padchar, cellw.saturating_sub(textw)));
        }
    }
}

fn split_cells(line: &str) -> Vec<&str> {
    line.split(['\t', '\x0b']).collect()
}
