//! Wire formats written to the log, byte-compatible with upstream: the event
//! object `{"t":…,"d":…,"c":1,"s":{…}}`, the logtail entry wrapper with
//! `client_time`/`proc_id`/`proc_seq`, text entries, and our self-describing
//! header entry. Pure functions from values to bytes.

use crate::sampler::Event;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Upstream's cap on a text entry's text before escaping (logtail
/// `maxTextSize`): longer text is cut and the number of dropped bytes noted.
pub(crate) const MAX_TEXT_BYTES: usize = 16 << 10;
/// The most the logtail wrapper adds to an object: `{"logtail":{` … `}` with
/// the longest `client_time` (30 bytes), `proc_id` (10 digits) and
/// `proc_seq` (20 digits), the comma before the object's members, the closing
/// brace and the newline: 115 bytes, rounded up.
pub(crate) const MAX_WRAPPER_BYTES: usize = 128;
/// Room kept for the `…+N` note of dropped bytes (3 + 1 + at most 20 digits).
const CUT_NOTE_BYTES: usize = 24;
/// The longest escaped text a text entry carries, so that the whole encoded
/// line (`{"text":"…"}`, the note, the wrapper) fits the log's line limit:
/// control characters escape to six bytes each, so cutting the text before
/// escaping is not enough.
pub(crate) const MAX_ESCAPED_TEXT_BYTES: usize =
    crate::filch::MAX_LINE_BYTES - MAX_WRAPPER_BYTES - CUT_NOTE_BYTES - r#"{"text":""}"#.len();
/// Version of our header entry's schema, i.e. of the log format this build
/// writes (see "Format versions" in docs/contract.md): 2 since `proc_id` is
/// unique per log directory (and new entry kinds may appear); readers
/// accept 1 and 2.
pub(crate) const HEADER_VERSION: u32 = 2;

/// Appends an event object (no newline). Label keys are decimal ids sorted
/// as strings, as Go's encoder sorts map keys: `"10"` before `"2"`.
pub(crate) fn encode_event(ev: &Event, out: &mut String) {
    let _ = write!(out, "{{\"t\":{},\"d\":{}", ev.start_ms, ev.dur_ms);
    if ev.cellular {
        out.push_str(",\"c\":1");
    }
    out.push_str(",\"s\":{");
    let mut keyed: Vec<(String, u64, u64)> = ev.stats.iter().map(|&(l, tx, rx)| (l.to_string(), tx, rx)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (i, (key, tx, rx)) in keyed.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{key}\":[{tx},{rx}]");
    }
    out.push_str("}}");
}

impl Event {
    /// Appends the event as the log writes it (the JSON object, no newline):
    /// `{"t":…,"d":…,"c":1,"s":{"label":[tx,rx],…}}`, label keys sorted as
    /// strings like Go's encoder, `"c"` only for a cellular window. For the
    /// replay's callers (feature `replay`); the log writer encodes directly.
    #[cfg(feature = "replay")]
    pub fn write_json(&self, out: &mut String) {
        encode_event(self, out);
    }
}

/// The logtail metadata of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryMeta {
    /// When the entry was written, Unix nanoseconds.
    pub client_time_ns: u128,
    /// Random id of the writing process (logger instance).
    pub proc_id: u32,
    /// Entry counter of that process, from 1.
    pub proc_seq: u64,
}

/// Wraps a JSON object's text `{…}` as a logtail entry line ending in `\n`:
/// `{"logtail":{…},<the object's members>}`. An empty object gets only the
/// metadata.
pub(crate) fn wrap_object(meta: &EntryMeta, object: &str, out: &mut String) {
    debug_assert!(object.starts_with('{') && object.ends_with('}'));
    let members = &object[1..object.len() - 1];
    out.push_str("{\"logtail\":{\"client_time\":\"");
    format_client_time(meta.client_time_ns, out);
    let _ = write!(out, "\",\"proc_id\":{},\"proc_seq\":{}}}", meta.proc_id, meta.proc_seq);
    if !members.is_empty() {
        out.push(',');
        out.push_str(members);
    }
    out.push_str("}\n");
}

/// A text entry's object `{"text":"…"}`. The text is cut on a character
/// boundary at [`MAX_TEXT_BYTES`] (upstream's cut) or where its escaped form
/// would pass [`MAX_ESCAPED_TEXT_BYTES`], whichever comes first, and `…+N`
/// notes the dropped bytes, as upstream does: the entry always fits a line.
pub(crate) fn text_object(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT_BYTES) + 16);
    out.push_str("{\"text\":\"");
    let body_start = out.len();
    let mut kept = 0;
    for c in text.chars() {
        if kept + c.len_utf8() > MAX_TEXT_BYTES {
            break;
        }
        let e = escape(c);
        if out.len() - body_start + e.len() > MAX_ESCAPED_TEXT_BYTES {
            break;
        }
        e.push_to(&mut out);
        kept += c.len_utf8();
    }
    if kept < text.len() {
        let _ = write!(out, "…+{}", text.len() - kept);
    }
    out.push_str("\"}");
    out
}

/// Our header object, written first at each enable so a log explains itself:
/// `{"sockstatlog":{"v":2,"poll_ms":P,"labels":{"0":"ControlClientAuto",…}}}`.
pub(crate) fn header_object(poll_ms: u64, labels: &[(u8, String)]) -> String {
    let mut out = String::new();
    let _ = write!(out, "{{\"sockstatlog\":{{\"v\":{HEADER_VERSION},\"poll_ms\":{poll_ms},\"labels\":{{");
    let mut keyed: Vec<(String, &str)> = labels.iter().map(|(id, n)| (id.to_string(), n.as_str())).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (i, (key, name)) in keyed.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{key}\":\"");
        escape_into(name, &mut out);
        out.push('"');
    }
    out.push_str("}}}");
    out
}

/// JSON string escaping as upstream's logtail writes it: `\b \f \n \r \t \" \\`
/// and `\u00XX` for other control characters; `<>&` and non-ASCII stay as is.
pub(crate) fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        escape(c).push_to(out);
    }
}

/// The length of `s` once escaped by [`escape_into`], without escaping it.
pub(crate) fn escaped_len(s: &str) -> usize {
    s.chars().map(|c| escape(c).len()).sum()
}

/// One character as it appears inside a JSON string: the one table both
/// the escaping and its length come from.
enum Escaped {
    /// A two-character escape such as `\n`.
    Short(&'static str),
    /// Another control character, written `\u00XX`.
    Control(u32),
    /// Written as itself.
    Plain(char),
}

/// `\u00XX`: six bytes.
const CONTROL_ESCAPE_LEN: usize = 6;

fn escape(c: char) -> Escaped {
    match c {
        '"' => Escaped::Short("\\\""),
        '\\' => Escaped::Short("\\\\"),
        '\n' => Escaped::Short("\\n"),
        '\r' => Escaped::Short("\\r"),
        '\t' => Escaped::Short("\\t"),
        '\u{8}' => Escaped::Short("\\b"),
        '\u{c}' => Escaped::Short("\\f"),
        c if (c as u32) < 0x20 => Escaped::Control(c as u32),
        c => Escaped::Plain(c),
    }
}

impl Escaped {
    fn len(&self) -> usize {
        match self {
            Escaped::Short(s) => s.len(),
            Escaped::Control(_) => CONTROL_ESCAPE_LEN,
            Escaped::Plain(c) => c.len_utf8(),
        }
    }

    fn push_to(&self, out: &mut String) {
        match *self {
            Escaped::Short(s) => out.push_str(s),
            Escaped::Control(u) => {
                let _ = write!(out, "\\u{u:04x}");
            }
            Escaped::Plain(c) => out.push(c),
        }
    }
}

/// Now, in Unix nanoseconds.
pub(crate) fn now_unix_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// UTC RFC 3339 with nanoseconds, trailing fractional zeros trimmed (and the
/// dot with them), as Go's `RFC3339Nano`: `2023-03-29T01:44:44.508Z`.
pub(crate) fn format_client_time(unix_ns: u128, out: &mut String) {
    let secs = (unix_ns / 1_000_000_000) as i64;
    let nanos = (unix_ns % 1_000_000_000) as u32;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's well-known algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(start: u64, dur: u64, cellular: bool, stats: &[(u8, u64, u64)]) -> Event {
        Event { start_ms: start, dur_ms: dur, cellular, stats: stats.to_vec() }
    }

    fn event_json(e: &Event) -> String {
        let mut s = String::new();
        encode_event(e, &mut s);
        s
    }

    #[test]
    fn upstream_event_vector_is_byte_identical() {
        let e = ev(1680054284508, 99, true, &[(3, 672, 97)]);
        assert_eq!(event_json(&e), r#"{"t":1680054284508,"d":99,"c":1,"s":{"3":[672,97]}}"#);
    }

    #[test]
    fn cellular_flag_is_omitted_when_false_and_keys_sort_as_strings() {
        let e = ev(5, 100, false, &[(2, 1, 0), (10, 0, 7), (100, 3, 3)]);
        assert_eq!(event_json(&e), r#"{"t":5,"d":100,"s":{"10":[0,7],"100":[3,3],"2":[1,0]}}"#);
    }

    #[test]
    fn client_time_is_rfc3339_nano_with_trailing_zeros_trimmed() {
        let cases: &[(u128, &str)] = &[
            (1680054284508000000, "2023-03-29T01:44:44.508Z"),
            (1680054284000000000, "2023-03-29T01:44:44Z"),
            (1680054284000000001, "2023-03-29T01:44:44.000000001Z"),
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
            (4_102_444_799_120_000_000, "2099-12-31T23:59:59.12Z"),
        ];
        for (ns, want) in cases {
            let mut s = String::new();
            format_client_time(*ns, &mut s);
            assert_eq!(s, *want);
        }
    }

    #[test]
    fn entries_are_wrapped_with_logtail_metadata_first() {
        let meta = EntryMeta { client_time_ns: 1680054284508000000, proc_id: 7, proc_seq: 3 };
        let mut line = String::new();
        wrap_object(&meta, r#"{"t":1,"d":2,"s":{"3":[4,5]}}"#, &mut line);
        assert_eq!(
            line,
            "{\"logtail\":{\"client_time\":\"2023-03-29T01:44:44.508Z\",\"proc_id\":7,\"proc_seq\":3},\"t\":1,\"d\":2,\"s\":{\"3\":[4,5]}}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["logtail"]["proc_seq"], 3);
    }

    #[test]
    fn text_is_escaped_like_upstream_and_cut_at_16_kib() {
        assert_eq!(text_object("a\"b\\c\nd\u{1}<&>é"), "{\"text\":\"a\\\"b\\\\c\\nd\\u0001<&>é\"}");
        let long = "é".repeat(MAX_TEXT_BYTES); // 2 bytes each
        let obj = text_object(&long);
        assert!(obj.ends_with(&format!("…+{}\"}}", MAX_TEXT_BYTES)));
        let v: serde_json::Value = serde_json::from_str(&obj).unwrap();
        assert!(v["text"].as_str().unwrap().starts_with('é'));
    }

    #[test]
    fn text_of_control_characters_is_cut_by_its_escaped_length_and_the_line_fits() {
        // 11 000 control characters: under the 16 KiB raw cut, but 66 000
        // bytes once escaped (`\u0001` each), past the 64 KiB line limit.
        for text in ["\u{1}".repeat(11_000), "\u{1}".repeat(MAX_TEXT_BYTES + 5), "\"".repeat(40_000)] {
            let obj = text_object(&text);
            let meta = EntryMeta { client_time_ns: u128::from(u64::MAX), proc_id: u32::MAX, proc_seq: u64::MAX };
            let mut line = String::new();
            wrap_object(&meta, &obj, &mut line);
            assert!(line.len() <= crate::filch::MAX_LINE_BYTES, "{} bytes", line.len());
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let kept = v["text"].as_str().unwrap();
            let (body, note) = kept.rsplit_once("…+").unwrap();
            assert_eq!(body.len() + note.parse::<usize>().unwrap(), text.len(), "the note counts what was cut");
        }
    }

    #[test]
    fn the_wrapper_bound_covers_the_longest_metadata() {
        // The year 9999 gives the longest client_time RFC 3339 can write here.
        let meta = EntryMeta { client_time_ns: 253_402_300_799_123_456_789, proc_id: u32::MAX, proc_seq: u64::MAX };
        let mut line = String::new();
        wrap_object(&meta, "{\"x\":1}", &mut line);
        assert!(line.len() - "\"x\":1".len() <= MAX_WRAPPER_BYTES, "{line}");
    }

    #[test]
    fn header_lists_labels_sorted_as_strings() {
        let h = header_object(100, &[(2, "DERPHTTPClient".into()), (10, "Net\"log".into())]);
        assert_eq!(h, r#"{"sockstatlog":{"v":2,"poll_ms":100,"labels":{"10":"Net\"log","2":"DERPHTTPClient"}}}"#);
    }
}
