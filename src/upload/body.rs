//! The upload request body: upstream logtail's `[line\n,line\n]` framing of
//! stored lines, the conversion of lines that are not JSON objects into
//! `{"text":…}` entries, the error entry for skipped long lines, and the zstd
//! compression rule. Pure functions, no I/O.

use crate::wire;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bodies at most this long are sent uncompressed (upstream's threshold):
/// a zstd frame header and checksum would eat most of the saving.
pub(crate) const COMPRESS_MIN_BODY_BYTES: usize = 256;
/// Compression is used only if it saves more than this many bytes, so that
/// the server is not made to decompress for nothing (upstream's rule).
pub(crate) const COMPRESS_MIN_SAVING_BYTES: usize = 64;
/// zstd level: 1 is the fastest regular level, matching upstream's
/// `SpeedFastest`; sockstat lines are repetitive, so it still compresses ~10x.
pub(crate) const ZSTD_LEVEL: i32 = 1;
/// zstd window log cap (2^18 = 256 KiB): one body before compression is at
/// most about that, so a bigger window would only cost memory on both ends.
pub(crate) const ZSTD_WINDOW_LOG: u32 = 18;

/// One request body ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Body {
    /// The bytes as sent (zstd frame when `compressed`).
    pub bytes: Vec<u8>,
    /// Length of the JSON array before compression.
    pub raw_len: usize,
    /// Whether `bytes` is a zstd frame.
    pub compressed: bool,
    /// Entries in the array (stored lines plus any error entry).
    pub entries: u64,
}

impl Body {
    /// The extra headers this body needs: `Content-Encoding: zstd` and
    /// `Orig-Content-Length` when compressed, none otherwise (no Content-Type,
    /// as upstream).
    pub(crate) fn headers(&self) -> Vec<(String, String)> {
        if self.compressed {
            vec![
                ("Content-Encoding".to_string(), "zstd".to_string()),
                ("Orig-Content-Length".to_string(), self.raw_len.to_string()),
            ]
        } else {
            Vec::new()
        }
    }
}

/// How one stored line appears in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Empty: left out, as upstream does.
    Skip,
    /// A JSON object, sent as stored.
    Object,
    /// Anything else, wrapped as `{"text":…}`.
    Text,
}

fn classify(line: &[u8]) -> Entry {
    if line.is_empty() {
        Entry::Skip
    } else if is_json_object(line) {
        Entry::Object
    } else {
        Entry::Text
    }
}

/// A batch's lines, each classified once (validating JSON is most of the
/// cost of a body), with the exact framed length: size the batch with
/// [`Framing::raw_len`], then [`Framing::build`] it without re-validating.
#[derive(Debug)]
pub(crate) struct Framing<'a> {
    lines: &'a [Vec<u8>],
    kinds: Vec<Entry>,
    error: Option<String>,
    len: usize,
}

/// Classifies the lines and computes the body length; `now` stamps the
/// long-line error entry when lines were skipped.
pub(crate) fn frame(lines: &[Vec<u8>], skipped_long_lines: u64, now: SystemTime) -> Framing<'_> {
    let error = (skipped_long_lines > 0).then(|| long_line_error_entry(lines, skipped_long_lines, now));
    let kinds: Vec<Entry> = lines.iter().map(|l| classify(l)).collect();
    let mut len = 2; // [ ]
    let mut count = 0usize;
    for (line, kind) in lines.iter().zip(&kinds) {
        len += match kind {
            Entry::Skip => continue,
            Entry::Object => line.len() + 1,
            Entry::Text => text_entry_len(line),
        };
        count += 1;
    }
    if let Some(e) = &error {
        len += e.len();
        count += 1;
    }
    Framing { lines, kinds, error, len: len + count.saturating_sub(1) } // commas
}

impl Framing<'_> {
    /// Body length before compression.
    pub(crate) fn raw_len(&self) -> usize {
        self.len
    }

    /// Frames the lines as upstream's JSON array, appends the long-line error
    /// entry when lines were skipped, and compresses if that pays off.
    pub(crate) fn build(&self) -> std::io::Result<Body> {
        let mut raw = Vec::with_capacity(self.len);
        raw.push(b'[');
        let mut entries = 0u64;
        let sep = |raw: &mut Vec<u8>, entries: &mut u64| {
            if *entries > 0 {
                raw.push(b',');
            }
            *entries += 1;
        };
        for (line, kind) in self.lines.iter().zip(&self.kinds) {
            match kind {
                Entry::Skip => continue,
                Entry::Object => {
                    sep(&mut raw, &mut entries);
                    raw.extend_from_slice(line);
                    raw.push(b'\n');
                }
                Entry::Text => {
                    sep(&mut raw, &mut entries);
                    push_text_entry(&mut raw, line);
                }
            }
        }
        if let Some(e) = &self.error {
            sep(&mut raw, &mut entries);
            raw.extend_from_slice(e.as_bytes());
        }
        raw.push(b']');
        debug_assert_eq!(raw.len(), self.len);
        let raw_len = raw.len();
        match compress(&raw)? {
            Some(bytes) => Ok(Body { bytes, raw_len, compressed: true, entries }),
            None => Ok(Body { bytes: raw, raw_len, compressed: false, entries }),
        }
    }
}

/// Body length before compression for these lines (what `build` would frame).
#[cfg(test)]
fn raw_len(lines: &[Vec<u8>], skipped_long_lines: u64, now: SystemTime) -> usize {
    frame(lines, skipped_long_lines, now).raw_len()
}

/// Frames the lines as upstream's JSON array, appends the long-line error
/// entry when lines were skipped, and compresses if that pays off. Empty lines
/// are left out, as upstream does. (The uploader frames, checks the length,
/// then builds: this is both steps at once, for the tests.)
#[cfg(test)]
fn build(lines: &[Vec<u8>], skipped_long_lines: u64, now: SystemTime) -> std::io::Result<Body> {
    frame(lines, skipped_long_lines, now).build()
}

/// The zstd frame for `raw` if the rule says to compress: raw over
/// [`COMPRESS_MIN_BODY_BYTES`] and a saving of more than
/// [`COMPRESS_MIN_SAVING_BYTES`]. One frame, content size in the header
/// (so the decoder can allocate once), checksum on, small window.
pub(crate) fn compress(raw: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    use zstd::zstd_safe::CParameter;
    if raw.len() <= COMPRESS_MIN_BODY_BYTES {
        return Ok(None);
    }
    let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    c.set_parameter(CParameter::ChecksumFlag(true))?;
    c.set_parameter(CParameter::ContentSizeFlag(true))?;
    c.set_parameter(CParameter::WindowLog(ZSTD_WINDOW_LOG))?;
    // A buffer just short of the break-even point: if the frame does not
    // fit, compression does not save enough and we never need the bound-sized
    // buffer zstd would otherwise want.
    let mut out = Vec::with_capacity(raw.len() - COMPRESS_MIN_SAVING_BYTES - 1);
    match c.compress_to_buffer(raw, &mut out) {
        Ok(_) => {
            // The frame is ~10x smaller than the buffer; the request holds it
            // while the next batch is read and compressed (see the worker),
            // so give the rest back now.
            out.shrink_to_fit();
            Ok(Some(out))
        }
        Err(_) => Ok(None), // did not fit: not worth it
    }
}

/// `proc_id` of the entries the uploader itself makes (the long-line error
/// entry): writers draw theirs from 1 up, so 0 is never a writer's.
pub(crate) const UPLOADER_PROC_ID: u32 = 0;

/// The error entry for `skipped` long lines, keyed (`proc_id` 0, `proc_seq`
/// a hash of the batch it rides in) so that a collector recognises it when
/// a batch is re-sent after a lost acknowledgement, as it does every other
/// entry: the same lines and count always give the same key.
fn long_line_error_entry(lines: &[Vec<u8>], skipped: u64, now: SystemTime) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for l in lines {
        h.update((l.len() as u64).to_le_bytes());
        h.update(l);
    }
    h.update(skipped.to_le_bytes());
    let digest = h.finalize();
    // 63 bits: a positive i64 for any store, unique enough among a log's
    // few error entries.
    let seq = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")) >> 1;
    format!(
        "{{\"logtail\":{{\"client_time\":\"{}\",\"proc_id\":{UPLOADER_PROC_ID},\"proc_seq\":{seq},\
         \"error\":{{\"detail\":\"reading ringbuffer: {}\"}}}}}}\n",
        client_time(now),
        crate::filch::FilchError::LineTooLong
    )
}

/// Length of `{"text":"<escaped line + \n>"}\n` for this line.
fn text_entry_len(line: &[u8]) -> usize {
    "{\"text\":\"".len() + wire::escaped_len(&String::from_utf8_lossy(line)) + "\\n\"}\n".len()
}

/// Upstream's text entry for a stored line that is not a JSON object,
/// escaped by the one escaper the log's own text entries use.
fn push_text_entry(out: &mut Vec<u8>, line: &[u8]) {
    let mut text = String::with_capacity(line.len() + 16);
    text.push_str("{\"text\":\"");
    wire::escape_into(&String::from_utf8_lossy(line), &mut text);
    // The stored line lost its newline; upstream's text entry keeps it.
    text.push_str("\\n\"}\n");
    out.extend_from_slice(text.as_bytes());
}

/// True if `line` starts with `{` and is exactly one valid JSON value with no
/// duplicate member names in any object (upstream rejects those too). The
/// check walks the value once with borrowed keys; it allocates only for keys
/// containing escapes and for objects with many members.
pub(crate) fn is_json_object(line: &[u8]) -> bool {
    if line.first() != Some(&b'{') {
        return false;
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    UniqueKeys.deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// Validates a JSON value, failing on a duplicate member name.
#[derive(Clone, Copy)]
struct UniqueKeys;

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        while let Some(k) = map.next_key_seed(Key)? {
            if keys.contains(&k) {
                return Err(de::Error::custom("duplicate key"));
            }
            keys.push(k);
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
}

/// Upstream's `client_time` of a moment (the one formatter lives in
/// [`crate::wire`]).
pub(crate) fn client_time(t: SystemTime) -> String {
    let ns = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut s = String::with_capacity(32);
    crate::wire::format_client_time(ns, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn lines(ls: &[&str]) -> Vec<Vec<u8>> {
        ls.iter().map(|l| l.as_bytes().to_vec()).collect()
    }

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn framing_matches_upstream_bytes() {
        let b = build(&lines(&[r#"{"a":1}"#, r#"{"b":2}"#]), 0, at(0, 0)).unwrap();
        assert_eq!(b.bytes, b"[{\"a\":1}\n,{\"b\":2}\n]");
        assert!(!b.compressed);
        assert_eq!(b.entries, 2);
        assert!(b.headers().is_empty());
    }

    #[test]
    fn empty_lines_are_left_out() {
        let b = build(&lines(&["", r#"{"a":1}"#, ""]), 0, at(0, 0)).unwrap();
        assert_eq!(b.bytes, b"[{\"a\":1}\n]");
        assert_eq!(b.entries, 1);
    }

    #[test]
    fn non_objects_become_text_entries() {
        let cases: &[(&str, &str)] = &[
            ("plain", "{\"text\":\"plain\\n\"}\n"),
            ("[1,2]", "{\"text\":\"[1,2]\\n\"}\n"),
            (" {\"a\":1}", "{\"text\":\" {\\\"a\\\":1}\\n\"}\n"),
            ("{\"a\":1", "{\"text\":\"{\\\"a\\\":1\\n\"}\n"),
            ("{\"a\":1,\"a\":2}", "{\"text\":\"{\\\"a\\\":1,\\\"a\\\":2}\\n\"}\n"),
            ("{\"o\":{\"k\":1,\"k\":1}}", "{\"text\":\"{\\\"o\\\":{\\\"k\\\":1,\\\"k\\\":1}}\\n\"}\n"),
            ("{} {}", "{\"text\":\"{} {}\\n\"}\n"),
            ("tab\there\u{1}<&>", "{\"text\":\"tab\\there\\u0001<&>\\n\"}\n"),
            ("back\\slash\r", "{\"text\":\"back\\\\slash\\r\\n\"}\n"),
        ];
        for (line, want) in cases {
            let b = build(&lines(&[line]), 0, at(0, 0)).unwrap();
            let want = format!("[{want}]");
            assert_eq!(String::from_utf8(b.bytes).unwrap(), want, "line {line:?}");
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_character() {
        let b = build(&[b"a\xffb".to_vec()], 0, at(0, 0)).unwrap();
        assert_eq!(String::from_utf8(b.bytes).unwrap(), "[{\"text\":\"a\u{fffd}b\\n\"}\n]");
    }

    #[test]
    fn valid_objects_are_sent_as_stored() {
        for l in [r#"{}"#, r#"{"a":{"b":[1,{"c":null}]},"d":"\u00e9"}"#, "{\"a\":1} "] {
            assert!(is_json_object(l.as_bytes()), "{l}");
        }
        assert!(!is_json_object(br#"{"a":1,"\u0061":2}"#), "escaped duplicate");
    }

    #[test]
    fn skipped_long_lines_add_one_error_entry() {
        let b = build(&lines(&[r#"{"a":1}"#]), 3, at(1_680_054_284, 508_000_000)).unwrap();
        let text = String::from_utf8(b.bytes).unwrap();
        assert!(
            text.starts_with("[{\"a\":1}\n,{\"logtail\":{\"client_time\":\"2023-03-29T01:44:44.508Z\",\"proc_id\":0,")
        );
        assert!(text.ends_with(",\"error\":{\"detail\":\"reading ringbuffer: filch: line too long\"}}}\n]"), "{text}");
        assert_eq!(b.entries, 2);
        // The key is the batch's: the same lines give the same key, other
        // lines another.
        let key = |ls: &[&str], n| {
            let t = String::from_utf8(build(&lines(ls), n, at(5, 0)).unwrap().bytes).unwrap();
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            let lt = &v.as_array().unwrap().last().unwrap()["logtail"];
            (lt["proc_id"].as_u64().unwrap(), lt["proc_seq"].as_u64().unwrap())
        };
        assert_eq!(key(&[r#"{"a":1}"#], 3), key(&[r#"{"a":1}"#], 3));
        assert_ne!(key(&[r#"{"a":1}"#], 3).1, key(&[r#"{"a":2}"#], 3).1);
        assert_ne!(key(&[r#"{"a":1}"#], 3).1, key(&[r#"{"a":1}"#], 4).1);
        let only = build(&[], 1, at(0, 0)).unwrap();
        assert_eq!(only.entries, 1);
        assert!(only.bytes.starts_with(b"[{\"logtail\""));
    }

    #[test]
    fn client_time_trims_trailing_zeros() {
        assert_eq!(client_time(at(0, 0)), "1970-01-01T00:00:00Z");
        assert_eq!(client_time(at(1_680_054_284, 508_000_000)), "2023-03-29T01:44:44.508Z");
        assert_eq!(client_time(at(951_782_400, 1)), "2000-02-29T00:00:00.000000001Z");
    }

    #[test]
    fn raw_len_predicts_the_framed_length() {
        let ls = lines(&["x\u{1}\"y", r#"{"a":1}"#, "", "é"]);
        let b = build(&ls, 2, at(5, 0)).unwrap();
        assert_eq!(raw_len(&ls, 2, at(5, 0)), b.raw_len);
    }

    #[test]
    fn small_bodies_are_never_compressed() {
        let line = format!("{{\"k\":\"{}\"}}", "a".repeat(COMPRESS_MIN_BODY_BYTES - 11));
        let b = build(&[line.into_bytes()], 0, at(0, 0)).unwrap();
        assert_eq!(b.raw_len, COMPRESS_MIN_BODY_BYTES);
        assert!(!b.compressed, "exactly the threshold stays raw");
    }

    #[test]
    fn compressible_bodies_over_the_threshold_are_zstd_frames() {
        let line = format!("{{\"k\":\"{}\"}}", "a".repeat(COMPRESS_MIN_BODY_BYTES - 10));
        let b = build(&[line.into_bytes()], 0, at(0, 0)).unwrap();
        assert_eq!(b.raw_len, COMPRESS_MIN_BODY_BYTES + 1);
        assert!(b.compressed);
        assert_eq!(
            b.headers(),
            vec![
                ("Content-Encoding".into(), "zstd".into()),
                ("Orig-Content-Length".into(), (COMPRESS_MIN_BODY_BYTES + 1).to_string()),
            ]
        );
        let raw = zstd::bulk::decompress(&b.bytes, 1 << 20).unwrap();
        assert_eq!(raw.len(), b.raw_len);
        // Content size in the header and a checksum (frame header descriptor bits).
        let fhd = b.bytes[4];
        assert_ne!(fhd & 0x04, 0, "checksum flag");
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&b.bytes).ok(), Some(Some(b.raw_len as u64)));
    }

    #[test]
    fn incompressible_bodies_stay_raw() {
        let mut rng = fastrand::Rng::with_seed(7);
        let noise: String = (0..400).map(|_| rng.alphanumeric()).collect();
        let b = build(&[format!("{{\"n\":\"{noise}\"}}").into_bytes()], 0, at(0, 0)).unwrap();
        assert!(!b.compressed, "random text saves less than 64 bytes");
    }

    #[test]
    fn saving_must_exceed_the_minimum() {
        // Whatever the input, the rule holds at the boundary.
        let mut rng = fastrand::Rng::with_seed(1);
        for n in [300usize, 400, 600, 1000] {
            for repeat in [1usize, 2, 4, 8] {
                let chunk: Vec<u8> = (0..n / repeat).map(|_| rng.alphanumeric() as u8).collect();
                let raw: Vec<u8> = chunk.iter().cycle().take(n).copied().collect();
                if let Some(z) = compress(&raw).unwrap() {
                    assert!(raw.len() - z.len() > COMPRESS_MIN_SAVING_BYTES);
                }
            }
        }
    }
}
