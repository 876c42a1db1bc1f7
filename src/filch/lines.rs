//! Reading lines out of a log file in bounded memory, and finding where a file's
//! last complete line ends. Nothing here keeps more than one chunk plus one
//! line (at most the line limit) in memory, whatever is on disk.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;

/// Bytes read per `pread`: large enough that scanning a 2.5 MiB file takes a
/// few dozen syscalls, small enough to be a negligible allocation on a phone.
const READ_CHUNK: usize = 64 << 10;

/// One `\n`-terminated line as found on disk.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line<'a> {
    /// The line without its `\n` (may be empty).
    Text(&'a [u8]),
    /// A line longer than the limit; its bytes were not kept.
    TooLong,
}

/// True when a line of `len` bytes plus its `\n` exceeds `max_line_bytes`.
pub(super) fn too_long(len: usize, max_line_bytes: usize) -> bool {
    len.saturating_add(1) > max_line_bytes
}

/// Calls `visit(line, end)` for each `\n`-terminated line in `file[start..end]`,
/// `end` being the offset just past that line's `\n`, until `visit` breaks. A
/// trailing fragment without `\n` is never visited.
pub(super) fn scan(
    file: &File,
    start: u64,
    end: u64,
    max_line_bytes: usize,
    mut visit: impl FnMut(Line<'_>, u64) -> ControlFlow<()>,
) -> io::Result<()> {
    if start >= end {
        return Ok(());
    }
    let mut chunk = vec![0u8; chunk_len(end - start)];
    // The start of a line that spans chunks; never longer than the limit.
    let mut partial = Vec::new();
    // Inside a line already known to be too long: drop bytes until its `\n`.
    let mut skipping = false;
    let mut pos = start;
    while pos < end {
        let buf = &mut chunk[..chunk_len(end - pos)];
        file.read_exact_at(buf, pos)?;
        let mut rest: &[u8] = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            let line_end = pos + (buf.len() - rest.len() + i + 1) as u64;
            let piece = &rest[..i];
            rest = &rest[i + 1..];
            let flow = if skipping || too_long(partial.len() + piece.len(), max_line_bytes) {
                visit(Line::TooLong, line_end)
            } else if partial.is_empty() {
                visit(Line::Text(piece), line_end)
            } else {
                partial.extend_from_slice(piece);
                visit(Line::Text(&partial), line_end)
            };
            partial.clear();
            skipping = false;
            if flow.is_break() {
                return Ok(());
            }
        }
        if !skipping {
            if too_long(partial.len() + rest.len(), max_line_bytes) {
                skipping = true;
                partial = Vec::new();
            } else {
                partial.extend_from_slice(rest);
            }
        }
        pos += buf.len() as u64;
    }
    Ok(())
}

/// The length of `file[..len]` up to and including its last `\n` (0 if none):
/// everything after it is a torn write or the zero-filled tail power loss can
/// leave behind.
pub(super) fn complete_len(file: &File, len: u64) -> io::Result<u64> {
    let mut chunk = vec![0u8; chunk_len(len)];
    let mut end = len;
    while end > 0 {
        let n = chunk_len(end);
        let start = end - n as u64;
        file.read_exact_at(&mut chunk[..n], start)?;
        if let Some(i) = chunk[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// True when `offset` is the start of a line in `file`: 0, or just past a `\n`.
pub(super) fn at_line_start(file: &File, offset: u64) -> io::Result<bool> {
    if offset == 0 {
        return Ok(true);
    }
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset - 1)?;
    Ok(byte[0] == b'\n')
}

fn chunk_len(remaining: u64) -> usize {
    usize::try_from(remaining).map_or(READ_CHUNK, |r| r.min(READ_CHUNK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    /// Every visited line as `Some(text)` or `None` for too long, with its end.
    fn scan_all(bytes: &[u8], start: u64, max: usize) -> Vec<(Option<Vec<u8>>, u64)> {
        let file = file_with(bytes);
        let mut seen = Vec::new();
        scan(&file, start, bytes.len() as u64, max, |line, end| {
            seen.push((
                match line {
                    Line::Text(t) => Some(t.to_vec()),
                    Line::TooLong => None,
                },
                end,
            ));
            ControlFlow::Continue(())
        })
        .unwrap();
        seen
    }

    fn text(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn scanning_splits_lines_and_flags_long_ones() {
        let big = "y".repeat(3 * READ_CHUNK);
        let spanning = format!("{}\nab\n", "z".repeat(READ_CHUNK - 2));
        // (name, file contents, start offset, max line length, visited (line, end offset))
        type Case = (&'static str, String, u64, usize, Vec<(Option<Vec<u8>>, u64)>);
        let cases: Vec<Case> = vec![
            ("empty file", String::new(), 0, 10, vec![]),
            ("two lines", "a\nbc\n".into(), 0, 10, vec![(text("a"), 2), (text("bc"), 5)]),
            ("from an offset", "a\nbc\n".into(), 2, 10, vec![(text("bc"), 5)]),
            ("empty line is visited", "\nx\n".into(), 0, 10, vec![(text(""), 1), (text("x"), 3)]),
            ("fragment is not visited", "a\nbro".into(), 0, 10, vec![(text("a"), 2)]),
            ("exactly the limit", "abc\n".into(), 0, 4, vec![(text("abc"), 4)]),
            ("one over the limit", "abcd\ne\n".into(), 0, 4, vec![(None, 5), (text("e"), 7)]),
            (
                "long line across chunks",
                format!("{big}\nok\n"),
                0,
                100,
                vec![(None, big.len() as u64 + 1), (text("ok"), big.len() as u64 + 4)],
            ),
            (
                "line spanning a chunk boundary",
                spanning.clone(),
                0,
                READ_CHUNK,
                vec![(Some(vec![b'z'; READ_CHUNK - 2]), READ_CHUNK as u64 - 1), (text("ab"), spanning.len() as u64)],
            ),
        ];
        for (name, bytes, start, max, want) in cases {
            assert_eq!(scan_all(bytes.as_bytes(), start, max), want, "case {name}");
        }
    }

    #[test]
    fn scanning_stops_when_the_visitor_breaks() {
        let file = file_with(b"a\nb\nc\n");
        let mut seen = 0;
        scan(&file, 0, 6, 10, |_, _| {
            seen += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(seen, 1);
    }

    #[test]
    fn complete_length_ends_after_the_last_newline() {
        let long_tail = format!("a\n{}", "t".repeat(2 * READ_CHUNK));
        let cases: Vec<(&str, Vec<u8>, u64)> = vec![
            ("empty", vec![], 0),
            ("whole lines", b"a\nb\n".to_vec(), 4),
            ("torn tail", b"a\nb\npart".to_vec(), 4),
            ("no newline at all", b"part".to_vec(), 0),
            ("zero-filled tail", b"a\n\0\0\0\0".to_vec(), 2),
            ("tail longer than a chunk", long_tail.into_bytes(), 2),
        ];
        for (name, bytes, want) in cases {
            let file = file_with(&bytes);
            assert_eq!(complete_len(&file, bytes.len() as u64).unwrap(), want, "case {name}");
        }
    }

    #[test]
    fn line_starts_are_offset_zero_or_just_after_a_newline() {
        let file = file_with(b"ab\ncd\n");
        let cases = [("zero", 0, true), ("mid-line", 1, false), ("after newline", 3, true), ("end", 6, true)];
        for (name, offset, want) in cases {
            assert_eq!(at_line_start(&file, offset).unwrap(), want, "case {name}");
        }
    }
}
