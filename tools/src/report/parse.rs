//! Reading a report's input into a [`Trace`]: a device log directory (the two
//! `sockstats.log*.txt` files), an exported file or a collector file (JSON
//! Lines, one logtail entry per line). Only this file touches the input.
//!
//! A device directory is read with plain read-only opens, not through
//! the library's log: opening it creates missing files and
//! discards a torn last line, and a report must never modify the evidence it
//! is reading. The file order is the log's own
//! ([`sockstatlog::log_files_oldest_first`]).

use super::ReportError;
use serde_json::{Map, Value};
use sockstatlog::labels::UPSTREAM_NAMES;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Poll interval assumed when no header says otherwise: the logger's default.
pub const DEFAULT_POLL_MS: u64 = 100;
/// Latest window start accepted, Unix ms: the end of year 9999. Past it a
/// `t` is corruption, and window ends and spans could overflow.
pub const MAX_T_MS: i64 = 253_402_300_799_999;
/// Longest window accepted, ms: windows are a poll interval, or several
/// merged when the writer fell behind; an hour-long one means a broken
/// clock, and would make the radio model split it into 3600 seconds.
pub const MAX_WINDOW_MS: i64 = 3_600_000;
/// Window-seconds (the seconds windows touch, summed) the report may
/// materialise per input line, plus [`SECONDS_ALLOWANCE`]: real logs touch
/// under 2 seconds per line, so this bounds the radio model's and charts'
/// memory and time by the input's size whatever the values.
pub const SECONDS_PER_LINE: u64 = 8;
/// Window-seconds allowed on top of [`SECONDS_PER_LINE`]: one day, so a
/// short log of long windows is still reported.
pub const SECONDS_ALLOWANCE: u64 = 86_400;
/// Longest label name kept, characters (longer ones are cut and counted):
/// a table column and a chart legend entry.
pub const MAX_LABEL_NAME_CHARS: usize = 64;

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
    /// Complete lines of a device file that are not entries (a bad byte, a
    /// run of NULs a crash left where a line should be), skipped.
    pub corrupt_lines: u64,
    /// The first of them, `file:line: what is wrong`.
    pub first_corrupt: Option<String>,
    /// Label names cut to [`MAX_LABEL_NAME_CHARS`].
    pub clamped_names: u64,
    /// The `os` entries (the OS's byte totals), in log order.
    pub os: Vec<super::unattributed::OsSample>,
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

/// Reads JSON Lines already in memory (e.g. from the database); `name`
/// stands for the file in messages.
pub fn read_trace_bytes(name: &Path, data: &[u8]) -> Result<Trace, ReportError> {
    let mut reader = Reader::default();
    reader.read_lines(name, data, false)?;
    Ok(reader.finish())
}

fn read(path: &Path) -> Result<Vec<u8>, ReportError> {
    fs::read(path).map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}

/// The log files of a device directory, oldest first, in the order the
/// on-disk log itself reads them ([`sockstatlog::log_files_oldest_first`],
/// which refuses a log file that is a symlink, as the log does).
fn device_files_in_order(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let files = sockstatlog::log_files_oldest_first(dir)?;
    if files.is_empty() {
        return Err(ReportError::NotALogDir(dir.to_path_buf()));
    }
    Ok(files)
}

#[derive(Default)]
struct Reader {
    trace: Trace,
    poll_ms: Option<u64>,
    seen: HashSet<(u64, u64)>,
    /// Lines read so far (all files) and window-seconds they touch.
    lines: u64,
    window_seconds: u64,
    /// Labels' bytes (tx + rx) read since the last `os` entry.
    since_os: u64,
    /// End of the latest window read so far, Unix ms.
    last_end: Option<i64>,
}

impl Reader {
    /// Reads one file's lines. `device` marks a filch file, whose unterminated
    /// last line is a torn write rather than data, and whose corrupt lines
    /// are skipped and counted (a device writes whole entries; what is not
    /// one was damaged on the device, and the rest of the log is still good).
    /// Anywhere else a bad line is an error naming it.
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
            self.lines += 1;
            let mut line: &[u8] = line;
            if device && line.first() == Some(&0) {
                // A crash left zeros where a line was being written, and the
                // next line was appended after them: the hole is one lost
                // line, what follows it is an entry like any other.
                self.corrupt(malformed("NUL bytes (a hole a crash left in the file)".into()));
                line = &line[line.iter().position(|&b| b != 0).unwrap_or(line.len())..];
            }
            match self.line(line) {
                Ok(()) => {}
                Err(msg) if device => self.corrupt(malformed(msg)),
                Err(msg) => return Err(malformed(msg)),
            }
            self.within_budget().map_err(malformed)?;
        }
        Ok(())
    }

    /// Reads one line (without its `\n`); blank lines are nothing.
    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 (byte {})", e.valid_up_to() + 1))?;
        if text.trim().is_empty() {
            return Ok(());
        }
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(entry) = value else {
            return Err("not a JSON object".into());
        };
        self.entry(&entry)
    }

    /// Counts a skipped device line, keeping the first one's description.
    fn corrupt(&mut self, what: ReportError) {
        self.trace.corrupt_lines += 1;
        self.trace.first_corrupt.get_or_insert_with(|| what.to_string());
    }

    /// Whether the windows so far fit the budget the lines read allow.
    fn within_budget(&self) -> Result<(), String> {
        let budget = self.lines * SECONDS_PER_LINE + SECONDS_ALLOWANCE;
        if self.window_seconds > budget {
            return Err(format!(
                "windows so far cover {} seconds, over the {budget} this many lines can hold \
                 ({SECONDS_PER_LINE} per line + {SECONDS_ALLOWANCE}): not a real log",
                self.window_seconds
            ));
        }
        Ok(())
    }

    /// Reads one entry. Nothing is recorded unless the whole entry is valid,
    /// so that a skipped corrupt line leaves no trace in the report.
    fn entry(&mut self, entry: &Map<String, Value>) -> Result<(), String> {
        let key = proc_key(entry);
        if key.is_some_and(|k| self.seen.contains(&k)) {
            self.trace.duplicates += 1;
            return Ok(());
        }
        // Read before anything is recorded (a bad `os` entry leaves no trace).
        let os = entry.get("os").map(os_totals).transpose()?;
        if let Some(header) = entry.get("sockstatlog") {
            self.header(header)?;
        } else if entry.contains_key("s") {
            let window = event(entry)?;
            // Seconds it touches (+1 for a boundary): what the radio model
            // and the charts will split it into.
            self.window_seconds += window.d as u64 / 1000 + 2;
            let bytes = window.stats.iter().fold(0u64, |a, &(_, tx, rx)| a.saturating_add(tx).saturating_add(rx));
            self.since_os = self.since_os.saturating_add(bytes);
            self.last_end = Some(self.last_end.map_or(window.end(), |e| e.max(window.end())));
            self.trace.windows.push(window);
        }
        if let Some((tx, rx)) = os {
            // The labels' bytes since the last `os` entry go with this one.
            let label_bytes = std::mem::take(&mut self.since_os);
            self.trace.os.push(super::unattributed::OsSample { tx, rx, label_bytes, at_ms: self.last_end });
        }
        if let Some(k) = key {
            self.seen.insert(k);
        }
        self.trace.entries += 1;
        Ok(())
    }

    /// Applies a header once all of it has been read.
    fn header(&mut self, header: &Value) -> Result<(), String> {
        let poll = match header.get("poll_ms") {
            Some(p) => Some(p.as_u64().filter(|&p| p > 0).ok_or("header: poll_ms is not a positive integer")?),
            None => None,
        };
        let mut names = Vec::new();
        if let Some(labels) = header.get("labels") {
            let labels = labels.as_object().ok_or("header: labels is not an object")?;
            for (id, name) in labels {
                let id = label(id)?;
                let name = name.as_str().ok_or_else(|| format!("header: name of label {id} is not a string"))?;
                names.push((id, name));
            }
        }
        self.poll_ms = poll.or(self.poll_ms);
        for (id, name) in names {
            let name = if name.chars().count() > MAX_LABEL_NAME_CHARS {
                self.trace.clamped_names += 1;
                let cut: String = name.chars().take(MAX_LABEL_NAME_CHARS - 1).collect();
                format!("{cut}…")
            } else {
                name.to_string()
            };
            self.trace.names.insert(id, name);
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

/// An `{"os":{"tx":N,"rx":N}}` entry's totals.
fn os_totals(os: &Value) -> Result<(u64, u64), String> {
    let total =
        |key: &str| os.get(key).and_then(Value::as_u64).ok_or_else(|| format!("os: \"{key}\" is not a byte count"));
    Ok((total("tx")?, total("rx")?))
}

fn event(entry: &Map<String, Value>) -> Result<Window, String> {
    let int =
        |key: &str| entry.get(key).and_then(Value::as_i64).ok_or_else(|| format!("event: \"{key}\" is not an integer"));
    let (t, d) = (int("t")?, int("d")?);
    if d < 0 {
        return Err(format!("event: negative duration {d}"));
    }
    if !(0..=MAX_T_MS).contains(&t) {
        return Err(format!("event: start {t} is outside 0..={MAX_T_MS} (Unix ms up to year 9999)"));
    }
    if d > MAX_WINDOW_MS {
        return Err(format!("event: duration {d} ms is over {MAX_WINDOW_MS} (one hour)"));
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
    fn out_of_range_values_are_refused_with_their_line_or_clamped_and_counted() {
        let long = "x".repeat(65_536);
        let t = read_str(&format!("{{\"sockstatlog\":{{\"labels\":{{\"3\":\"{long}\"}}}}}}\n"), false).unwrap();
        assert_eq!((t.name(3).chars().count(), t.clamped_names), (MAX_LABEL_NAME_CHARS, 1));
        let err = read_str("{\"t\":0,\"d\":1,\"s\":{}}\n{\"t\":0,\"d\":100000000000000,\"c\":1,\"s\":{}}", false);
        assert!(err.unwrap_err().to_string().starts_with("x.jsonl:2: event: duration"));
        let err = read_str("{\"t\":9000000000000000000,\"d\":1,\"s\":{}}", false).unwrap_err();
        assert!(err.to_string().starts_with("x.jsonl:1: event: start"), "{err}");
        // Hour-long windows one after another: over the per-line budget.
        let lines: String =
            (0..100).map(|i| format!("{{\"t\":{},\"d\":3600000,\"c\":1,\"s\":{{}}}}\n", i * 3_600_000)).collect();
        let err = read_str(&lines, false).unwrap_err().to_string();
        assert!(err.contains("not a real log"), "{err}");
    }

    #[test]
    fn bad_lines_name_their_line_number() {
        let err = read_str("\n{\"t\":0,\"d\":1,\"s\":{}}\n[1]\n", false).unwrap_err();
        assert_eq!(err.to_string(), "x.jsonl:3: not a JSON object");
        let err = read_str("{\"t\":0,\"d\":1,\"s\":{\"256\":[1,1]}}", false).unwrap_err();
        assert_eq!(err.to_string(), "x.jsonl:1: label \"256\" is not an integer 0..=255");
    }
}
