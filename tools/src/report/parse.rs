//! Reading a report's input into a [`Trace`]: a device log directory (the two
//! `sockstats.log*.txt` files), an exported file or a collector file (JSON
//! Lines, one logtail entry per line). Only this file touches the input.
//!
//! A device directory is read with plain read-only opens, not through
//! [`sockstatlog::filch::LogFiles`]: opening the log creates missing files and
//! discards a torn last line, and a report must never modify the evidence it
//! is reading. The file order follows filch's rule instead.

use super::ReportError;
use serde_json::{Map, Value};
use sockstatlog::filch::select_older;
use sockstatlog::labels::UPSTREAM_NAMES;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The two files of a device log directory, as filch names them.
pub use sockstatlog::filch::LOG_NAMES as LOG_FILE_NAMES;
/// Poll interval assumed when no header says otherwise: the logger's default.
pub const DEFAULT_POLL_MS: u64 = 100;

/// One event: a window `[t, t+d)` in Unix milliseconds and its per-label bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Start of the window, Unix milliseconds.
    pub t: i64,
    /// Length of the window, milliseconds.
    pub d: i64,
    /// Whether the bytes went over a cellular interface (`"c":1`).
    pub cellular: bool,
    /// `(label, tx, rx)`, by label id.
    pub stats: Vec<(u8, u64, u64)>,
}

impl Window {
    /// End of the window (exclusive), Unix milliseconds.
    pub fn end(&self) -> i64 {
        self.t + self.d
    }
}

/// Everything a report needs from its input.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Events, sorted by start time (stable for equal starts).
    pub windows: Vec<Window>,
    /// Label names: upstream's, overridden by any header in the input.
    pub names: BTreeMap<u8, String>,
    /// Poll interval from the last header, else [`DEFAULT_POLL_MS`].
    pub poll_ms: u64,
    /// Entries read (every non-blank line that was kept).
    pub entries: u64,
    /// Entries dropped because their `(proc_id, proc_seq)` was already seen
    /// (a line delivered twice to a collector).
    pub duplicates: u64,
    /// Unterminated last lines of a device file (a crash mid-write), skipped.
    pub torn_lines: u64,
}

impl Trace {
    /// A label's display name: from a header, upstream's, or `Label(N)`.
    pub fn name(&self, id: u8) -> String {
        self.names.get(&id).cloned().unwrap_or_else(|| format!("Label({id})"))
    }
}

/// Reads `path`: a device log directory, or a JSON Lines file.
pub fn read_trace(path: &Path) -> Result<Trace, ReportError> {
    let mut reader = Reader::default();
    if path.is_dir() {
        for file in device_files_in_order(path)? {
            let data = read(&file)?;
            reader.read_lines(&file, &data, true)?;
        }
    } else {
        let data = read(path)?;
        reader.read_lines(path, &data, false)?;
    }
    Ok(reader.finish())
}

fn read(path: &Path) -> Result<Vec<u8>, ReportError> {
    fs::read(path).map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}

/// The non-empty log files of a device directory, oldest first, in the
/// order the on-disk log itself would read them ([`select_older`]).
fn device_files_in_order(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let (mut lens, mut mtimes) = ([0u64; 2], [None; 2]);
    for (i, name) in LOG_FILE_NAMES.iter().enumerate() {
        let path = dir.join(name);
        match fs::metadata(&path) {
            Ok(meta) => {
                lens[i] = meta.len();
                mtimes[i] = Some(meta.modified().map_err(|source| ReportError::Io { path: path.clone(), source })?);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ReportError::Io { path, source }),
        }
    }
    if mtimes.iter().all(Option::is_none) {
        return Err(ReportError::NotALogDir(dir.to_path_buf()));
    }
    let older = select_older(lens, mtimes);
    Ok([older, 1 - older].into_iter().filter(|&i| lens[i] > 0).map(|i| dir.join(LOG_FILE_NAMES[i])).collect())
}

#[derive(Default)]
struct Reader {
    trace: Trace,
    poll_ms: Option<u64>,
    seen: HashSet<(u64, u64)>,
}

impl Reader {
    /// Reads one file's lines. `device` marks a filch file, whose unterminated
    /// last line is a torn write rather than data.
    fn read_lines(&mut self, file: &Path, data: &[u8], device: bool) -> Result<(), ReportError> {
        let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        // split leaves "" after a final '\n'; a non-empty tail is unterminated.
        if let Some(last) = lines.pop() {
            if !last.is_empty() {
                if device {
                    self.trace.torn_lines += 1;
                } else {
                    lines.push(last);
                }
            }
        }
        for (i, line) in lines.iter().enumerate() {
            let malformed = |msg: String| ReportError::Malformed { path: file.to_path_buf(), line: i + 1, msg };
            let text = std::str::from_utf8(line).map_err(|_| malformed("not UTF-8".into()))?;
            if text.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(text).map_err(|e| malformed(format!("not JSON: {e}")))?;
            let Value::Object(entry) = value else {
                return Err(malformed("not a JSON object".into()));
            };
            self.entry(&entry).map_err(malformed)?;
        }
        Ok(())
    }

    fn entry(&mut self, entry: &Map<String, Value>) -> Result<(), String> {
        if let Some(key) = proc_key(entry) {
            if !self.seen.insert(key) {
                self.trace.duplicates += 1;
                return Ok(());
            }
        }
        self.trace.entries += 1;
        if let Some(header) = entry.get("sockstatlog") {
            return self.header(header);
        }
        if entry.contains_key("s") {
            let window = event(entry)?;
            self.trace.windows.push(window);
        }
        Ok(())
    }

    fn header(&mut self, header: &Value) -> Result<(), String> {
        if let Some(poll) = header.get("poll_ms") {
            self.poll_ms = Some(poll.as_u64().filter(|&p| p > 0).ok_or("header: poll_ms is not a positive integer")?);
        }
        if let Some(labels) = header.get("labels") {
            let labels = labels.as_object().ok_or("header: labels is not an object")?;
            for (id, name) in labels {
                let id = label(id)?;
                let name = name.as_str().ok_or_else(|| format!("header: name of label {id} is not a string"))?;
                self.trace.names.insert(id, name.to_string());
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Trace {
        for (id, name) in UPSTREAM_NAMES.iter().enumerate() {
            self.trace.names.entry(id as u8).or_insert_with(|| name.to_string());
        }
        self.trace.poll_ms = self.poll_ms.unwrap_or(DEFAULT_POLL_MS);
        self.trace.windows.sort_by_key(|w| w.t);
        self.trace
    }
}

/// The logtail `(proc_id, proc_seq)` pair that identifies an entry, if any.
fn proc_key(entry: &Map<String, Value>) -> Option<(u64, u64)> {
    let logtail = entry.get("logtail")?;
    Some((logtail.get("proc_id")?.as_u64()?, logtail.get("proc_seq")?.as_u64()?))
}

fn event(entry: &Map<String, Value>) -> Result<Window, String> {
    let int =
        |key: &str| entry.get(key).and_then(Value::as_i64).ok_or_else(|| format!("event: \"{key}\" is not an integer"));
    let (t, d) = (int("t")?, int("d")?);
    if d < 0 {
        return Err(format!("event: negative duration {d}"));
    }
    let cellular = match entry.get("c") {
        None => false,
        Some(c) => c.as_i64().ok_or("event: \"c\" is not an integer")? != 0,
    };
    let s = entry["s"].as_object().ok_or("event: \"s\" is not an object")?;
    let mut stats = Vec::with_capacity(s.len());
    for (id, pair) in s {
        let id = label(id)?;
        let bytes = pair.as_array().filter(|a| a.len() == 2).and_then(|a| Some((a[0].as_u64()?, a[1].as_u64()?)));
        let (tx, rx) = bytes.ok_or_else(|| format!("event: label {id} is not [tx, rx]"))?;
        stats.push((id, tx, rx));
    }
    stats.sort_by_key(|s| s.0);
    Ok(Window { t, d, cellular, stats })
}

fn label(key: &str) -> Result<u8, String> {
    key.parse::<u8>().map_err(|_| format!("label \"{key}\" is not an integer 0..=255"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(data: &str, device: bool) -> Result<Trace, ReportError> {
        let mut r = Reader::default();
        r.read_lines(Path::new("x.jsonl"), data.as_bytes(), device)?;
        Ok(r.finish())
    }

    #[test]
    fn events_headers_and_text_entries_are_told_apart() {
        let t = read_str(
            concat!(
                "{\"logtail\":{\"proc_id\":1,\"proc_seq\":1},\"sockstatlog\":{\"v\":1,\"poll_ms\":50,\"labels\":{\"200\":\"Video\"}}}\n",
                "\n",
                "{\"logtail\":{\"proc_id\":1,\"proc_seq\":2},\"text\":\"hello\"}\n",
                "{\"logtail\":{\"proc_id\":1,\"proc_seq\":3},\"t\":1000,\"d\":100,\"c\":1,\"s\":{\"200\":[1,2],\"3\":[4,0]}}",
            ),
            false,
        )
        .unwrap();
        assert_eq!(t.poll_ms, 50);
        assert_eq!(t.name(200), "Video");
        assert_eq!(t.name(3), "LogtailLogger");
        assert_eq!(t.name(99), "Label(99)");
        assert_eq!(t.windows, vec![Window { t: 1000, d: 100, cellular: true, stats: vec![(3, 4, 0), (200, 1, 2)] }]);
    }

    #[test]
    fn a_repeated_proc_seq_is_counted_once() {
        let line = "{\"logtail\":{\"proc_id\":7,\"proc_seq\":1},\"t\":0,\"d\":100,\"s\":{\"0\":[1,1]}}\n";
        let t = read_str(&line.repeat(3), false).unwrap();
        assert_eq!((t.windows.len(), t.duplicates), (1, 2));
    }

    #[test]
    fn an_unterminated_last_line_of_a_device_file_is_a_torn_write() {
        let t = read_str("{\"t\":0,\"d\":100,\"s\":{\"0\":[1,1]}}\n{\"t\":100,\"d\"", true).unwrap();
        assert_eq!((t.windows.len(), t.torn_lines), (1, 1));
    }

    #[test]
    fn bad_lines_name_their_line_number() {
        let err = read_str("\n{\"t\":0,\"d\":1,\"s\":{}}\n[1]\n", false).unwrap_err();
        assert_eq!(err.to_string(), "x.jsonl:3: not a JSON object");
        let err = read_str("{\"t\":0,\"d\":1,\"s\":{\"256\":[1,1]}}", false).unwrap_err();
        assert_eq!(err.to_string(), "x.jsonl:1: label \"256\" is not an integer 0..=255");
    }
}
