//! The collector never loses or corrupts an acknowledged entry (a full disk,
//! a torn tail, an unreadable stored line) and stays bounded under abuse
//! (bodies in flight, connections, slow clients, open files, memory), with
//! client errors answered 4xx and stored files private whatever the umask.

mod common {
    pub mod child;
    pub mod upload;
}

use common::child::{self, Setup};
use common::upload::*;
use sockstatlog_tools::collector::{stream_path, Collector, Limits, StoreConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

fn path_for(hex: &str) -> String {
    format!("/c/{COLLECTION}/{hex}")
}

fn body(proc_id: u32, seqs: impl IntoIterator<Item = u64>) -> String {
    let parts: Vec<String> = seqs.into_iter().map(|s| entry(proc_id, s)).collect();
    format!("[{}]", parts.join(","))
}

fn post(addr: SocketAddr, hex: &str, body: &str) -> RawResponse {
    raw_request(addr, "POST", &path_for(hex), &[], body.as_bytes())
}

fn collector_with(dir: &Path, limits: Limits) -> Collector {
    Collector::start_with(loopback(), StoreConfig::Dir(dir.to_path_buf()), limits, true).unwrap()
}

/// Polls a condition the collector reaches asynchronously (progress, not a
/// timing assumption); gives up after a minute.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never happened: {what}");
}

fn id_n(n: usize) -> String {
    format!("{n:064x}")
}

/// RLIMIT_FSIZE in a child collector: a write crossing it fails with EFBIG
/// after writing up to the limit, which is exactly a torn write on a full
/// disk, deterministically and without root (a small tmpfs needs mount
/// privileges; /dev/full cannot be a stream file; an injected writer would
/// not test the real write path).
#[test]
fn a_write_that_fails_midway_is_rolled_back_answered_5xx_and_stored_whole_on_retry() {
    let dir = tempfile::tempdir().unwrap();
    let hex = test_id().to_hex();
    let limit = 2048u64;
    let mut col = child::start_dir(dir.path(), &[], Setup { fsize: Some(limit), ..Setup::default() });
    assert_eq!(post(col.addr, &hex, &body(1, [1])).status, 200);
    let file = stream_path(dir.path(), COLLECTION, &hex);
    let before = std::fs::read(&file).unwrap();
    let batch = body(1, 2..=40); // ~7 KB: crosses the limit mid-write
    let r = post(col.addr, &hex, &batch);
    assert_eq!(r.status, 507, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("retry-after").is_some());
    assert_eq!(std::fs::read(&file).unwrap(), before, "rolled back to the length before the write");
    col.kill();
    // The disk has room again: the retry stores every entry once, whole.
    let col = child::start_dir(dir.path(), &[], Setup::default());
    let r = post(col.addr, &hex, &batch);
    assert_eq!((r.status, String::from_utf8_lossy(&r.body).trim()), (200, "stored 39"));
    let want: Vec<String> = (1..=40).map(|s| entry(1, s)).collect();
    assert_eq!(stored_lines(dir.path()), want);
}

#[test]
fn a_torn_last_line_is_cut_when_the_stream_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let hex = test_id().to_hex();
    let file = stream_path(dir.path(), COLLECTION, &hex);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let torn = &entry(1, 2)[..40];
    std::fs::write(&file, format!("{}\n{torn}", entry(1, 1))).unwrap();
    let col = collector(dir.path());
    assert_eq!(post(col.addr(), &hex, &body(1, [2, 3])).status, 200);
    assert_eq!(stored_lines(dir.path()), vec![entry(1, 1), entry(1, 2), entry(1, 3)]);
    assert_eq!(col.stats().torn_tails_cut, 1);
}

#[test]
fn an_unreadable_stored_line_is_skipped_and_counted_not_a_wedge() {
    let dir = tempfile::tempdir().unwrap();
    let hex = test_id().to_hex();
    let file = stream_path(dir.path(), COLLECTION, &hex);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mut data = format!("{}\n", entry(1, 1)).into_bytes();
    data.extend_from_slice(b"\xff\xfe not json\n");
    data.extend_from_slice(format!("{}\n", entry(1, 2)).as_bytes());
    std::fs::write(&file, &data).unwrap();
    let col = collector(dir.path());
    let r = post(col.addr(), &hex, &body(1, [2, 3]));
    assert_eq!((r.status, String::from_utf8_lossy(&r.body).trim()), (200, "stored 1"));
    let st = col.stats();
    assert_eq!((st.unreadable_lines, st.duplicates), (1, 1));
}

/// Writes the head of a POST and part of its body, leaving it open.
fn partial_upload(addr: SocketAddr, hex: &str, content_length: usize, send: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!("POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {content_length}\r\n\r\n", path_for(hex));
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&vec![b' '; send]).unwrap();
    s
}

#[test]
fn bodies_in_flight_are_bounded_by_a_budget_and_over_it_is_a_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { inflight_body_bytes: 64 << 10, ..Limits::default() };
    let col = collector_with(dir.path(), limits);
    let hex = test_id().to_hex();
    let a = partial_upload(col.addr(), &hex, 50_000, 40_000);
    let b = partial_upload(col.addr(), &hex, 50_000, 20_000);
    wait_until("60 000 body bytes held", || col.stats().inflight_body_bytes == 60_000);
    let big = format!("[{}]{}", entry(1, 1), " ".repeat(10_000));
    let r = post(col.addr(), &hex, &big);
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("retry-after").is_some());
    assert_eq!(col.stats().busy, 1);
    drop((a, b));
    wait_until("the budget released", || col.stats().inflight_body_bytes == 0);
    assert_eq!(post(col.addr(), &hex, &big).status, 200);
    assert_eq!(stored_lines(dir.path()), vec![entry(1, 1)]);
}

/// A small body of many tiny entries costs what its entries cost: it is
/// charged per entry, so a budget its bytes fit in but its entries do not
/// refuses it (503, Retry-After), and past the per-request entry cap it is
/// a 413 whatever the budget.
#[test]
fn a_request_is_charged_for_its_entries_not_only_its_bytes() {
    use sockstatlog_tools::collector::batch::entry_charge;
    let n = 10_000;
    let tiny = format!("[{}{{}}]", "{},".repeat(n - 1));
    let bytes = tiny.len();
    let cases = [
        ("bytes-fit-entries-do-not", bytes * 2, n, 503),
        ("both-fit", bytes + entry_charge(n), n, 200),
        ("over-the-entry-cap", bytes * 100 + entry_charge(n), n - 1, 413),
    ];
    for (name, budget, max_entries, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let col = collector_with(dir.path(), Limits { inflight_body_bytes: budget, max_entries, ..Limits::default() });
        let r = post(col.addr(), &test_id().to_hex(), &tiny);
        assert_eq!(r.status, want, "{name}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("retry-after").is_some(), want == 503, "{name}");
        assert_eq!(col.stats().inflight_body_bytes, 0, "{name}: the charge is given back");
    }
}

#[test]
fn a_zstd_request_is_charged_the_window_its_frame_declares() {
    use sockstatlog_tools::collector::batch::{decoder_charge, entry_charge};
    let text = format!("[{}]", (1..=50).map(|seq| entry(7, seq)).collect::<Vec<_>>().join(","));
    // An 8 MiB window declared for a tiny body: what a hostile client sends
    // to make the decoder allocate memory the bytes do not account for.
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    enc.window_log(23).unwrap();
    enc.include_contentsize(false).unwrap();
    enc.write_all(text.as_bytes()).unwrap();
    let body = enc.finish().unwrap();
    let window = decoder_charge(&body);
    assert!(window > 8 << 20, "the declared window is charged: {window}");
    let rest = body.len() + text.len() + entry_charge(50);
    let cases = [("window-does-not-fit", rest * 4, 503), ("window-fits", window + rest, 200)];
    for (name, budget, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let col = collector_with(dir.path(), Limits { inflight_body_bytes: budget, ..Limits::default() });
        let olen = text.len().to_string();
        let headers = [("Content-Encoding", "zstd"), ("Orig-Content-Length", olen.as_str())];
        let r = raw_request(col.addr(), "POST", &path_for(&test_id().to_hex()), &headers, &body);
        assert_eq!(r.status, want, "{name}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(col.stats().inflight_body_bytes, 0, "{name}: the charge is given back");
    }
}

#[test]
fn idle_streams_leave_memory_and_their_dedupe_state_comes_back_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let col = collector_with(dir.path(), Limits { stream_idle: Duration::ZERO, ..Limits::default() });
    for n in 0..50 {
        assert_eq!(post(col.addr(), &id_n(n), &body(1, [1, 2])).status, 200);
    }
    assert!(col.stats().streams <= 1, "{:?}", col.stats());
    let r = post(col.addr(), &id_n(3), &body(1, [2, 3]));
    assert_eq!(String::from_utf8_lossy(&r.body).trim(), "stored 1", "seq 2 remembered from the file");
}

#[test]
fn more_streams_than_file_descriptors_all_get_stored() {
    let dir = tempfile::tempdir().unwrap();
    let col = child::start_dir(dir.path(), &["--max-open-files", "8"], Setup { nofile: Some(64), ..Setup::default() });
    for n in 0..200 {
        let r = post(col.addr, &id_n(n), &body(1, [1]));
        assert_eq!(r.status, 200, "stream {n}: {}", String::from_utf8_lossy(&r.body));
    }
    let fds = std::fs::read_dir(format!("/proc/{}/fd", col.child.id())).unwrap().count();
    assert!(fds < 64, "{fds} descriptors open");
}

/// `ulimit -n 128` set in the child (soft and hard, so it cannot raise it):
/// the caps fit under it, every stream is stored while connections are
/// held open, and connections past the fitted cap get 503, never a 500.
#[test]
fn under_a_low_fd_limit_the_caps_fit_and_nothing_is_answered_500() {
    const NOFILE: u64 = 128;
    let dir = tempfile::tempdir().unwrap();
    let col = child::start_dir(dir.path(), &[], Setup { nofile: Some(NOFILE), ..Setup::default() });
    let idle: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(col.addr).unwrap()).collect();
    for n in 0..300 {
        let r = post(col.addr, &id_n(n), &body(1, [1]));
        assert_eq!(r.status, 200, "stream {n}: {}", String::from_utf8_lossy(&r.body));
    }
    // Over the fitted cap (48) even if the first ones had timed out.
    let more: Vec<TcpStream> = (0..60).map(|_| TcpStream::connect(col.addr).unwrap()).collect();
    let r = post(col.addr, &id_n(7), &body(1, [2]));
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("retry-after").is_some());
    drop((idle, more));
    let fds = std::fs::read_dir(format!("/proc/{}/fd", col.child.id())).unwrap().count();
    assert!(fds < NOFILE as usize, "{fds} descriptors open");
}

/// Reads until the server closes or answers; the client timeout only stops
/// a test against a server that never would.
fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => buf,
        Err(e) => panic!("the server kept the connection open: {e} (read {} bytes)", buf.len()),
    }
}

#[test]
fn slow_headers_and_slow_bodies_are_timed_out() {
    let dir = tempfile::tempdir().unwrap();
    let limits =
        Limits { header_timeout: Duration::from_secs(1), body_timeout: Duration::from_secs(1), ..Limits::default() };
    let col = collector_with(dir.path(), limits);
    let mut idle = TcpStream::connect(col.addr()).unwrap();
    let mut trickle = TcpStream::connect(col.addr()).unwrap();
    trickle.write_all(b"POST /c/").unwrap();
    let mut slow_body = partial_upload(col.addr(), &test_id().to_hex(), 1000, 10);
    assert!(!String::from_utf8_lossy(&read_until_closed(&mut idle)).contains(" 200 "));
    assert!(!String::from_utf8_lossy(&read_until_closed(&mut trickle)).contains(" 200 "));
    let answer = String::from_utf8_lossy(&read_until_closed(&mut slow_body)).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    wait_until("connections released", || col.stats().connections == 0);
}

#[test]
fn connections_over_the_cap_are_answered_503_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let col = collector_with(dir.path(), Limits { max_connections: 2, ..Limits::default() });
    let _a = TcpStream::connect(col.addr()).unwrap();
    let _b = TcpStream::connect(col.addr()).unwrap();
    wait_until("two connections held", || col.stats().connections == 2);
    let r = post(col.addr(), &test_id().to_hex(), &body(1, [1]));
    assert_eq!(r.status, 503);
    assert!(String::from_utf8_lossy(&r.body).contains("too many connections"));
    assert!(stored_lines(dir.path()).is_empty());
    assert_eq!(col.stats().connections_refused, 1);
}

/// A FIFO as one stream's file: reading it blocks forever (the collector
/// holds its own write end). With file I/O on the runtime thread, every
/// other request would wait behind it.
#[test]
fn a_stream_stuck_in_file_io_does_not_stall_other_streams() {
    let dir = tempfile::tempdir().unwrap();
    let stuck = id_n(1);
    let fifo = stream_path(dir.path(), COLLECTION, &stuck);
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let col = child::start_dir(dir.path(), &[], Setup::default());
    let addr = col.addr;
    let mut s = TcpStream::connect(addr).unwrap();
    let b = body(1, [1]);
    let req = format!("POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{b}", path_for(&stuck), b.len());
    s.write_all(req.as_bytes()).unwrap();
    for n in 2..5 {
        assert_eq!(post(addr, &id_n(n), &body(1, [1])).status, 200);
    }
    drop(col); // SIGKILL: the stuck request ends with the process
}

#[test]
fn a_collection_name_too_long_is_a_client_error_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let col = collector(dir.path());
    let name = "a".repeat(256);
    let r = raw_request(col.addr(), "POST", &format!("/c/{name}/{}", test_id().to_hex()), &[], body(1, [1]).as_bytes());
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("over 128"), "{:?}", String::from_utf8_lossy(&r.body));
    let created: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != sockstatlog_tools::collector::dir::LOCK_FILE)
        .collect();
    assert!(created.is_empty(), "nothing created: {created:?}");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn stored_files_are_private_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let col = child::start_dir(&dir, &[], Setup { umask: Some(0), ..Setup::default() });
    let hex = test_id().to_hex();
    assert_eq!(post(col.addr, &hex, &body(1, [1])).status, 200);
    let file = stream_path(&dir, COLLECTION, &hex);
    assert_eq!((mode(&dir), mode(file.parent().unwrap()), mode(&file)), (0o700, 0o700, 0o600));
}
