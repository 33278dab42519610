//! Printing: tidy tables for people, stable JSON for programs.

use std::io::{self, Write};

use serde::Serialize;

/// Write `value` as pretty JSON and a newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)
}

/// Write lines of text.
pub fn lines<I: IntoIterator<Item = S>, S: AsRef<str>>(lines: I) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for line in lines {
        writeln!(out, "{}", line.as_ref())?;
    }
    Ok(())
}

/// Characters of one table cell shown at most. Cells come from the vault, where an agent or
/// a child server may have put anything: each is escaped and bounded before it is padded.
const MAX_CELL_CHARS: usize = 512;

/// A table with left-aligned columns two spaces apart, or `empty` when there are no rows.
/// Control characters and escape codes in cells are shown escaped, never sent to the terminal.
pub fn table(headers: &[&str], rows: &[Vec<String>], empty: &str) -> io::Result<()> {
    if rows.is_empty() {
        return lines([empty]);
    }
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|cell| keygate_mcp::printable(cell, MAX_CELL_CHARS)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: &mut dyn Iterator<Item = &str>| {
        // Padded by hand: `format!`'s width panics past u16::MAX.
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell}{}", " ".repeat(w.saturating_sub(cell.chars().count()))))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let header = render(&mut headers.iter().copied());
    let body = rows.iter().map(|row| render(&mut row.iter().map(String::as_str)));
    lines(std::iter::once(header).chain(body))
}

/// Print `items` as JSON, or as a table with one `row(item)` per item under `headers`.
pub fn listing<T: Serialize>(
    items: &[T],
    json: bool,
    headers: &[&str],
    empty: &str,
    row: impl Fn(&T) -> Vec<String>,
) -> io::Result<()> {
    if json {
        return self::json(items);
    }
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    table(headers, &rows, empty)
}

/// `-` for a missing value.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}
