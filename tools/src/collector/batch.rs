//! A request's entries in memory, and what they cost. The decoded body is
//! kept once, as the text the client sent; each entry is a range of it plus
//! its key (32 bytes), never a copy. Parsing stops at
//! [`MAX_ENTRIES_PER_REQUEST`] (413), and a request is charged to the
//! in-flight budget for its bytes *and* its entries ([`entry_charge`]), so a
//! small body of many tiny entries costs what it really costs.

use super::{Refusal, MAX_BODY_BYTES};
use axum::http::StatusCode;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::cell::Cell;
use std::io::Read;

/// The smallest entry a conforming client sends: logtail wraps every entry
/// with `"logtail":{"client_time":"<RFC 3339>","proc_id":N,"proc_seq":N}`,
/// over 70 bytes before any payload (our uploader's and upstream's).
pub const MIN_CLIENT_ENTRY_BYTES: usize = 64;
/// Entries accepted in one request (more: 413). A conforming client's batch
/// is at most 256 KiB (our uploader's default and upstream logtail's
/// limit), so at most ~4 000 entries; this is 16x that (a full
/// [`MAX_BODY_BYTES`] body of the smallest conforming entries), so no
/// conforming client meets it, and it bounds what one request's index costs.
pub const MAX_ENTRIES_PER_REQUEST: usize = MAX_BODY_BYTES / MIN_CLIENT_ENTRY_BYTES;
/// Bytes of memory one entry costs beyond its text while its request is in
/// flight: its index ([`EntryRef`]) and the share of the stores' per-entry
/// work (a statement chunk's parameters, a line's staging), rounded up.
pub const ENTRY_CHARGE_BYTES: usize = 64;
/// zstd window log the decoder accepts (2^23 = 8 MiB): bounds decoder memory
/// whatever a frame header claims; real clients use 256 KiB windows.
const MAX_WINDOW_LOG: u32 = 23;
/// Decompressed bytes read (and charged) at a time.
pub const DECODE_CHUNK_BYTES: usize = 64 << 10;

/// What the entries of a request are charged against the in-flight budget,
/// on top of its received and decompressed bytes.
pub fn entry_charge(entries: usize) -> usize {
    entries.saturating_mul(ENTRY_CHARGE_BYTES)
}

/// One entry: where its text is in the body, and its key.
#[derive(Debug, Clone, Copy)]
struct EntryRef {
    start: u32,
    len: u32,
    key: Option<(u64, u64)>,
}

/// A request's entries, in the order sent.
#[derive(Debug, Default)]
pub struct Batch {
    text: String,
    entries: Vec<EntryRef>,
    unkeyed: u64,
}

impl Batch {
    /// Entries in the request.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the request had no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entry `i`'s JSON text, byte-exact as sent.
    pub fn raw(&self, i: usize) -> &str {
        let e = self.entries[i];
        &self.text[e.start as usize..(e.start + e.len) as usize]
    }

    /// Entry `i`'s (`proc_id`, `proc_seq`), if it has both.
    pub fn key(&self, i: usize) -> Option<(u64, u64)> {
        self.entries[i].key
    }

    /// Entries without a key.
    pub fn unkeyed(&self) -> u64 {
        self.unkeyed
    }

    /// Bytes this batch holds (text and index), for the accounting test.
    pub fn held_bytes(&self) -> usize {
        self.text.capacity() + self.entries.capacity() * std::mem::size_of::<EntryRef>()
    }
}

/// Largest block a zstd frame may hold (the format's `Block_Maximum_Size`):
/// the decoder keeps one beside its window.
const ZSTD_BLOCK_MAX: usize = 128 << 10;
/// The zstd frame magic number, little-endian on the wire.
const ZSTD_MAGIC: u32 = 0xFD2F_B528;

/// What decoding a zstd body costs in memory beyond its output: the window
/// its frame header declares (capped at what the decoder accepts; a larger
/// one is refused by the decoder anyway) plus one block for input and one
/// for output. Charged to the in-flight budget before decoding starts, so a
/// request declaring an 8 MiB window pays for it. A body of more than one
/// frame, or a header this cannot read, is charged the largest window: the
/// decoder may need it, and our uploader and upstream's send a single frame.
pub fn decoder_charge(body: &[u8]) -> usize {
    let max_window = 1usize << MAX_WINDOW_LOG;
    let window = match (frame_window(body), zstd::zstd_safe::find_frame_compressed_size(body)) {
        (Some(w), Ok(len)) if len == body.len() => w.min(max_window as u64) as usize,
        _ => max_window,
    };
    window + 2 * ZSTD_BLOCK_MAX
}

/// The window size a zstd frame header declares (RFC 8878, 3.1.1.1): from
/// its Window_Descriptor, or for a single-segment frame its content size;
/// `None` when `body` does not start with a readable frame header.
fn frame_window(body: &[u8]) -> Option<u64> {
    let magic = u32::from_le_bytes(body.get(..4)?.try_into().ok()?);
    if magic != ZSTD_MAGIC {
        return None;
    }
    let descriptor = *body.get(4)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let wd = *body.get(5)?;
        let window_log = 10 + u32::from(wd >> 3);
        let base = 1u64.checked_shl(window_log)?;
        return Some(base + (base / 8) * u64::from(wd & 7));
    }
    let did_len = [0usize, 1, 2, 4][usize::from(descriptor & 3)];
    let fcs_len = [1usize, 2, 4, 8][usize::from(descriptor >> 6)];
    let at = 5 + did_len;
    let field = body.get(at..at + fcs_len)?;
    let mut le = [0u8; 8];
    le[..fcs_len].copy_from_slice(field);
    let size = u64::from_le_bytes(le);
    // A 2-byte content size is stored minus 256.
    Some(if fcs_len == 2 { size + 256 } else { size })
}

/// Undoes zstd within `max` bytes, calling `charge` with each decompressed
/// chunk's size before keeping it (so the budget refuses before memory is
/// taken); blocking.
pub fn decompress(
    body: &[u8],
    max: usize,
    want_len: Option<usize>,
    mut charge: impl FnMut(usize) -> Result<(), Refusal>,
) -> Result<Vec<u8>, Refusal> {
    let bad = |e: std::io::Error| Refusal::new(StatusCode::BAD_REQUEST, format!("bad zstd body: {e}"));
    let mut dec = zstd::stream::read::Decoder::new(body).map_err(bad)?;
    dec.window_log_max(MAX_WINDOW_LOG).map_err(bad)?;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; DECODE_CHUNK_BYTES];
    loop {
        let n = dec.read(&mut chunk).map_err(bad)?;
        if n == 0 {
            break;
        }
        if out.len() + n > max {
            return Err(Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("body decompresses to over {max} bytes")));
        }
        charge(n)?;
        out.extend_from_slice(&chunk[..n]);
    }
    if let Some(n) = want_len {
        if n != out.len() {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("Orig-Content-Length says {n} but the body decompressed to {} bytes", out.len()),
            ));
        }
    }
    Ok(out)
}

/// Why parsing stopped before the end of the array.
#[derive(Clone, Copy)]
enum Stop {
    TooMany,
    NotObject(usize),
}

/// Indexes the array's entries without copying them, up to `max_entries`.
struct Index<'b> {
    base: usize,
    max_entries: usize,
    stop: &'b Cell<Option<Stop>>,
}

impl<'de> Visitor<'de> for Index<'_> {
    type Value = (Vec<EntryRef>, u64);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut out = Vec::new();
        let mut unkeyed = 0;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let text = raw.get();
            if out.len() == self.max_entries {
                self.stop.set(Some(Stop::TooMany));
                return Err(A::Error::custom("too many entries"));
            }
            if !text.starts_with('{') {
                self.stop.set(Some(Stop::NotObject(out.len())));
                return Err(A::Error::custom("not an object"));
            }
            let key = entry_key(text.as_bytes()).unwrap_or(None);
            unkeyed += u64::from(key.is_none());
            // Offsets fit u32: bodies are at most MAX_BODY_BYTES.
            let start = (text.as_ptr() as usize - self.base) as u32;
            out.push(EntryRef { start, len: text.len() as u32, key });
        }
        Ok((out, unkeyed))
    }
}

/// Parses the body as a JSON array of objects, keeping it as the batch's
/// text; at most `max_entries` entries (413 past it).
pub fn parse(body: Vec<u8>, max_entries: usize) -> Result<Batch, Refusal> {
    let stop = Cell::new(None);
    let parsed = {
        let mut de = serde_json::Deserializer::from_slice(&body);
        let index = Index { base: body.as_ptr() as usize, max_entries, stop: &stop };
        de.deserialize_seq(index).and_then(|v| de.end().map(|()| v))
    };
    let (entries, unkeyed) = parsed.map_err(|e| match stop.get() {
        Some(Stop::TooMany) => Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("over {max_entries} entries in one request; send smaller batches"),
        ),
        Some(Stop::NotObject(i)) => Refusal::new(StatusCode::BAD_REQUEST, format!("entry {i} is not a JSON object")),
        None => Refusal::new(StatusCode::BAD_REQUEST, format!("body is not a JSON array of objects: {e}")),
    })?;
    let mut entries = entries;
    entries.shrink_to_fit();
    // Valid JSON is valid UTF-8 (serde_json checked every string): no copy.
    let text = String::from_utf8(body)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("body is not UTF-8: {e}")))?;
    Ok(Batch { text, entries, unkeyed })
}

/// The part of an entry that identifies it (other members are skipped
/// without being built).
#[derive(Deserialize)]
struct EntryMeta {
    logtail: Option<serde_json::Value>,
}

/// The entry's (`proc_id`, `proc_seq`); `Ok(None)` if it lacks either (or
/// they are not unsigned integers), `Err` if it is not a JSON object.
pub(crate) fn entry_key(entry: &[u8]) -> Result<Option<(u64, u64)>, ()> {
    let m: EntryMeta = serde_json::from_slice(entry).map_err(|_| ())?;
    let lt = m.logtail;
    let field = |name: &str| lt.as_ref().and_then(|l| l.get(name)).and_then(serde_json::Value::as_u64);
    Ok(field("proc_id").zip(field("proc_seq")))
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_decoder_is_charged_the_window_its_frame_declares() {
        use super::{decoder_charge, MAX_WINDOW_LOG, ZSTD_BLOCK_MAX};
        let overhead = 2 * ZSTD_BLOCK_MAX;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let with_window = |log: u32| {
            let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
            enc.window_log(log).unwrap();
            // No content size in the header: the window descriptor is used.
            enc.include_contentsize(false).unwrap();
            std::io::Write::write_all(&mut enc, &data).unwrap();
            enc.finish().unwrap()
        };
        let cases: Vec<(&str, Vec<u8>, usize)> = vec![
            ("window-1-MiB", with_window(20), (1 << 20) + overhead),
            ("window-8-MiB", with_window(23), (1 << 23) + overhead),
            // bulk::compress writes a single-segment frame: its content size.
            ("single-segment", zstd::bulk::compress(b"[{}]", 1).unwrap(), 4 + overhead),
            ("two-frames", [with_window(20), with_window(20)].concat(), (1 << MAX_WINDOW_LOG) + overhead),
            ("not-zstd", b"not a frame".to_vec(), (1 << MAX_WINDOW_LOG) + overhead),
        ];
        for (name, body, want) in cases {
            assert_eq!(decoder_charge(&body), want, "{name}");
        }
    }
    use super::*;

    #[test]
    fn entries_are_ranges_of_the_body_with_their_keys() {
        let body = br#"[ {"logtail":{"proc_id":1,"proc_seq":0}} ,{"x" : 1}]"#.to_vec();
        let b = parse(body, 10).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.raw(0), r#"{"logtail":{"proc_id":1,"proc_seq":0}}"#);
        assert_eq!(b.raw(1), r#"{"x" : 1}"#);
        assert_eq!((b.key(0), b.key(1), b.unkeyed()), (Some((1, 0)), None, 1));
    }

    #[test]
    fn the_entry_cap_is_a_413_and_a_non_object_a_400_naming_it() {
        let over = parse(b"[{},{},{}]".to_vec(), 2).unwrap_err();
        assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(parse(b"[{},{}]".to_vec(), 2).unwrap().len(), 2);
        let bad = parse(b"[{},3]".to_vec(), 10).unwrap_err();
        assert_eq!((bad.status, bad.reason.as_str()), (StatusCode::BAD_REQUEST, "entry 1 is not a JSON object"));
        assert_eq!(parse(b"{}".to_vec(), 10).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(parse(b"[{}] x".to_vec(), 10).unwrap_err().status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_cap_is_far_above_a_conforming_clients_batch() {
        let client_batch = sockstatlog::config::DEFAULT_MAX_BODY_BYTES;
        let smallest = r#"{"logtail":{"client_time":"2023-03-29T01:44:44.508Z","proc_id":1,"proc_seq":1}}"#;
        assert!(smallest.len() >= MIN_CLIENT_ENTRY_BYTES);
        assert!(MAX_ENTRIES_PER_REQUEST >= 16 * (client_batch / smallest.len()));
    }

    #[test]
    fn what_a_batch_holds_is_its_text_plus_a_small_index_per_entry() {
        // 1.4 M tiny entries in 4 MiB would be refused; the cap's worth is
        // held in the text plus 32 bytes an entry, under its charge.
        let n = MAX_ENTRIES_PER_REQUEST;
        let body = format!("[{}{{}}]", "{},".repeat(n - 1)).into_bytes();
        let len = body.len();
        let b = parse(body, n).unwrap();
        assert_eq!(b.len(), n);
        assert!(b.held_bytes() <= len + entry_charge(n), "{} > {}", b.held_bytes(), len + entry_charge(n));
    }
}
