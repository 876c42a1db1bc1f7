//! The log directory: one logger at a time (an exclusive lock, in this
//! process or another), a read-only export that works on a locked directory,
//! no file opened through a symlink, and owner-only modes whatever was there
//! before and whatever the umask.

use sockstatlog::error::FilchError;
use sockstatlog::logid::PublicId;
use sockstatlog::testing::{export_dir, FilchOptions, LogFiles};
use sockstatlog::{export_log_dir, Config, Error, Logger};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use std::{env, fs};

/// Set in a child's environment: `<what> <dir>`.
const CHILD_ENV: &str = "FILCH_DIR_CHILD";
/// The test function a child runs (libtest `--exact` filter).
const CHILD_TEST: &str = "the_child_process_runs_only_when_asked";
/// The library's default line limit, for `export_dir`.
const LINE_LIMIT: usize = 64 << 10;

fn open(dir: &Path) -> Result<LogFiles, FilchError> {
    LogFiles::open(dir, FilchOptions::default())
}

fn config(dir: &Path) -> Config {
    Config::new(dir, PublicId([9; 32]))
}

/// Every file in `dir` with its bytes (and whether it is a symlink).
fn snapshot(dir: &Path) -> BTreeMap<String, (bool, Vec<u8>)> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let link = e.file_type().unwrap().is_symlink();
            let bytes = if link { Vec::new() } else { fs::read(e.path()).unwrap() };
            (e.file_name().into_string().unwrap(), (link, bytes))
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_child_process_runs_only_when_asked() {
    let Ok(spec) = env::var(CHILD_ENV) else { return };
    let (what, dir) = spec.split_once(' ').unwrap();
    let dir = Path::new(dir);
    match what {
        // Holds the log until the parent closes our stdin.
        "hold" => {
            let _log = open(dir).unwrap();
            println!("locked");
            std::io::stdout().flush().unwrap();
            let _ = std::io::stdin().lines().count();
        }
        // Opens a log under a umask that would leave the owner nothing.
        "umask" => {
            // SAFETY: umask only sets the process's file-mode mask.
            unsafe { libc::umask(0o777) };
            let mut log = open(dir).unwrap();
            log.append(b"x\n").unwrap();
            log.sync().unwrap();
            // A first commit creates the state file (the read position).
            let batch = log.peek(1 << 10).unwrap();
            log.commit(batch.cursor).unwrap();
            log.sync_read_position().unwrap();
            println!("opened");
        }
        _ => panic!("unknown child {what}"),
    }
}

/// Reads the child's stdout until `want` (libtest prints its own lines too).
fn wait_for_line(out: &mut impl BufRead, want: &str) {
    for line in out.lines() {
        if line.unwrap().trim() == want {
            return;
        }
    }
    panic!("the child never reported {want:?}");
}

fn child(what: &str, dir: &Path) -> std::process::Child {
    Command::new(env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_ENV, format!("{what} {}", dir.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_second_log_on_a_held_directory_gets_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(&err, FilchError::DirInUse { dir: d } if d == dir.path()), "{err:?}");
    assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");
    drop(first);
    open(dir.path()).expect("free again once the first log is gone");
}

#[test]
fn a_second_logger_gets_a_typed_error_until_the_first_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let first = Logger::new(config(dir.path())).unwrap();
    let err = Logger::new(config(dir.path())).unwrap_err();
    assert!(matches!(&err, Error::Filch(FilchError::DirInUse { .. })), "{err:?}");
    assert!(err.to_string().contains("in use by another logger"), "{err}");
    // Shut down but not yet freed (a Kotlin object not yet closed): the
    // directory is free for the next logger already.
    first.shutdown(Duration::from_secs(5)).unwrap();
    let second = Logger::new(config(dir.path())).unwrap();
    second.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_directory_held_by_another_process_is_refused_until_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = child("hold", dir.path());
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    wait_for_line(&mut out, "locked");
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, FilchError::DirInUse { .. }), "{err:?}");
    assert!(matches!(Logger::new(config(dir.path())), Err(Error::Filch(FilchError::DirInUse { .. }))));
    drop(holder.stdin.take()); // the child exits at EOF
    let _ = std::io::copy(&mut out, &mut std::io::sink());
    assert!(holder.wait().unwrap().success());
    open(dir.path()).expect("the lock died with its process");
}

#[test]
fn a_held_directory_is_exported_read_only_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(config(dir.path())).unwrap();
    logger.enable().unwrap();
    logger.add(3, 10, 20).unwrap();
    logger.write_text("hello").unwrap();
    logger.disable().unwrap();
    let want = logger.export().unwrap();
    assert!(want.len() >= 3, "{want:?}");
    let before = snapshot(dir.path());
    assert_eq!(export_log_dir(dir.path()).unwrap(), want, "the same lines as the logger's own export");
    assert_eq!(snapshot(dir.path()), before, "nothing in the directory changed");
    logger.shutdown(Duration::from_secs(5)).unwrap();

    // A torn last line (a write in progress) is left out, and still not cut.
    let log1 = dir.path().join("sockstats.log1.txt");
    let log2 = dir.path().join("sockstats.log2.txt");
    let newer = if fs::metadata(&log2).unwrap().len() == 0 { &log2 } else { &log1 };
    fs::OpenOptions::new().append(true).open(newer).unwrap().write_all(b"{\"torn").unwrap();
    let before = snapshot(dir.path());
    assert_eq!(export_log_dir(dir.path()).unwrap(), want);
    assert_eq!(snapshot(dir.path()), before);

    // A copy with no state and no lock file: nothing is created.
    let copy = tempfile::tempdir().unwrap();
    fs::copy(&log1, copy.path().join("sockstats.log1.txt")).unwrap();
    fs::copy(&log2, copy.path().join("sockstats.log2.txt")).unwrap();
    assert_eq!(export_log_dir(copy.path()).unwrap(), want);
    assert_eq!(snapshot(copy.path()).len(), 2);
    assert!(export_log_dir(&copy.path().join("missing")).is_err());
}

#[test]
fn a_planted_temp_symlink_never_has_its_target_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let victim = tempfile::NamedTempFile::new().unwrap();
    fs::write(victim.path(), "precious").unwrap();
    symlink(victim.path(), dir.path().join("sockstats.state.tmp")).unwrap();
    // Opening a fresh log writes the state at once (through the temp file).
    let mut log = open(dir.path()).unwrap();
    log.append(b"a\nb\n").unwrap();
    let batch = log.peek(1 << 20).unwrap();
    log.commit(batch.cursor).unwrap();
    assert_eq!(fs::read_to_string(victim.path()).unwrap(), "precious");
    assert!(!dir.path().join("sockstats.state.tmp").exists(), "renamed into place, link gone");
    assert!(fs::symlink_metadata(dir.path().join("sockstats.state")).unwrap().is_file());
}

#[test]
fn a_symlinked_state_file_is_not_read_through() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = open(dir.path()).unwrap();
        log.append(b"one\ntwo\n").unwrap();
        let batch = log.peek(4).unwrap();
        log.commit(batch.cursor).unwrap(); // "one" committed
    }
    // A state elsewhere claiming everything was read: must be ignored.
    let elsewhere = tempfile::NamedTempFile::new().unwrap();
    fs::rename(dir.path().join("sockstats.state"), elsewhere.path()).unwrap();
    symlink(elsewhere.path(), dir.path().join("sockstats.state")).unwrap();
    let mut log = open(dir.path()).unwrap();
    let batch = log.peek(1 << 20).unwrap();
    assert_eq!(batch.lines, [b"one".to_vec(), b"two".to_vec()], "upstream's fallback, from the start");
    assert!(fs::symlink_metadata(dir.path().join("sockstats.state")).unwrap().is_file(), "replaced by a real state");
}

#[test]
fn a_symlinked_log_file_is_replaced_and_its_target_never_read_or_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let target = tempfile::NamedTempFile::new().unwrap();
    fs::write(target.path(), "secret line\n").unwrap();
    let log1 = dir.path().join("sockstats.log1.txt");
    symlink(target.path(), &log1).unwrap();

    assert!(export_dir(dir.path(), LINE_LIMIT).unwrap().is_empty(), "export does not read through the link");
    let mut log = open(dir.path()).unwrap();
    assert!(log.export().unwrap().is_empty(), "the target's lines are not the log's");
    assert!(fs::symlink_metadata(&log1).unwrap().is_file(), "the link was replaced by a file");
    // Fill and rotate both files several times: the target is never touched.
    let opts = FilchOptions { max_total_bytes: 64, ..FilchOptions::default() };
    drop(log);
    let mut log = LogFiles::open(dir.path(), opts).unwrap();
    for i in 0..20 {
        log.append(format!("line {i}\n").as_bytes()).unwrap();
    }
    let batch = log.peek(1 << 20).unwrap();
    assert!(batch.lines.iter().all(|l| !l.starts_with(b"secret")));
    assert_eq!(fs::read_to_string(target.path()).unwrap(), "secret line\n");
}

#[test]
fn something_other_than_a_file_in_a_log_files_place_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sockstats.log2.txt")).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, FilchError::Io { .. }) && err.to_string().contains("sockstats.log2.txt"), "{err}");
}

#[test]
fn an_existing_directory_and_files_are_tightened_to_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    for name in ["sockstats.log1.txt", "sockstats.log2.txt", "sockstats.state", "sockstats.lock"] {
        let p = logs.join(name);
        fs::write(&p, "").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o666)).unwrap();
    }
    fs::set_permissions(&logs, fs::Permissions::from_mode(0o777)).unwrap();
    let log = open(&logs).unwrap();
    assert_eq!(mode(&logs), 0o700);
    for e in fs::read_dir(&logs).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    drop(log);
}

#[test]
fn a_new_directory_and_files_are_owner_only_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("a/b");
    let mut c = child("umask", &logs);
    drop(c.stdin.take());
    let mut out = BufReader::new(c.stdout.take().unwrap());
    wait_for_line(&mut out, "opened");
    let _ = std::io::copy(&mut out, &mut std::io::sink());
    assert!(c.wait().unwrap().success());
    assert_eq!(mode(&logs), 0o700);
    let names: Vec<_> = fs::read_dir(&logs).unwrap().map(|e| e.unwrap().path()).collect();
    // The two log files, the lock and the state file (which the child's
    // first commit created: a fresh log has no read position to keep yet).
    for want in ["sockstats.log1.txt", "sockstats.log2.txt", "sockstats.lock", "sockstats.state"] {
        assert!(names.iter().any(|p| p.ends_with(want)), "{want} missing: {names:?}");
    }
    for p in names {
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

/// The complete lines of `files`, read in the given order.
fn lines_in(files: &[std::path::PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(f).unwrap();
        out.extend(text.split_inclusive('\n').filter(|l| l.ends_with('\n')).map(|l| l.trim_end().to_string()));
    }
    out
}

#[test]
fn the_log_files_are_listed_in_the_logs_own_order_even_when_mtimes_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), FilchOptions { max_total_bytes: 200, max_line_bytes: 100 }).unwrap();
    for i in 0..5 {
        log.append(format!("{{\"line\":{i},\"pad\":\"xxxxxxxxxx\"}}\n").as_bytes()).unwrap();
    }
    let batch = log.peek(40).unwrap(); // commit one line so the read position is on disk
    log.commit(batch.cursor).unwrap();
    drop(log);
    let [log1, log2] = ["sockstats.log1.txt", "sockstats.log2.txt"].map(|n| dir.path().join(n));
    assert!(fs::metadata(&log1).unwrap().len() > 0 && fs::metadata(&log2).unwrap().len() > 0, "the log rotated once");
    let (older, newer) =
        if fs::read_to_string(&log1).unwrap().contains("\"line\":0") { (log1, log2) } else { (log2, log1) };
    // Make the newer file look older: upstream's mtime rule alone would now
    // read it first.
    let now = std::time::SystemTime::now();
    fs::File::options().write(true).open(&older).unwrap().set_modified(now).unwrap();
    fs::File::options().write(true).open(&newer).unwrap().set_modified(now - Duration::from_secs(100)).unwrap();

    let files = sockstatlog::log_files_oldest_first(dir.path()).unwrap();
    assert_eq!(files, vec![older.clone(), newer.clone()], "the read position names the older file");
    let exported = export_log_dir(dir.path()).unwrap();
    assert_eq!(lines_in(&files), exported, "reading the files in that order gives what export gives");
    assert_ne!(lines_in(&[newer, older]), exported, "the other order would not (the test can fail)");
    assert_eq!(exported.len(), 5);
}

#[test]
fn listing_log_files_refuses_what_the_log_refuses_and_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(sockstatlog::log_files_oldest_first(dir.path()).unwrap(), Vec::<std::path::PathBuf>::new());
    assert!(snapshot(dir.path()).is_empty(), "nothing created");
    let missing = dir.path().join("missing");
    let err = sockstatlog::log_files_oldest_first(&missing).unwrap_err();
    assert!(matches!(err, Error::Io { .. }) && err.to_string().contains("missing"), "{err}");

    let target = dir.path().join("elsewhere.txt");
    fs::write(&target, "{\"secret\":1}\n").unwrap();
    let logs = tempfile::tempdir().unwrap();
    fs::write(logs.path().join("sockstats.log1.txt"), "{\"a\":1}\n").unwrap();
    symlink(&target, logs.path().join("sockstats.log2.txt")).unwrap();
    let err = sockstatlog::log_files_oldest_first(logs.path()).unwrap_err();
    assert!(err.to_string().contains("sockstats.log2.txt") && err.to_string().contains("symlink"), "{err}");

    let other = tempfile::tempdir().unwrap();
    fs::create_dir(other.path().join("sockstats.log1.txt")).unwrap();
    let err = sockstatlog::log_files_oldest_first(other.path()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn uploading_a_held_log_directory_is_refused_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(config(dir.path())).unwrap();
    logger.write_text("kept").unwrap();
    let before = snapshot(dir.path());
    let upload = sockstatlog::UploadConfig { base_url: "https://log.example".into(), ..Default::default() };
    let err = sockstatlog::upload_log_dir(dir.path(), &upload, sockstatlog::logid::PrivateId([1; 32]), Duration::ZERO)
        .unwrap_err();
    assert!(matches!(&err, Error::Filch(FilchError::DirInUse { .. })), "{err:?}");
    assert_eq!(snapshot(dir.path()), before, "nothing touched");
    logger.shutdown(Duration::from_secs(5)).unwrap();
}

/// A FIFO planted where the log keeps a file: opening the log or exporting
/// the directory must neither block (a FIFO's open and read wait for a
/// writer that never comes) nor read it, and says which file is wrong.
#[test]
fn a_fifo_in_place_of_the_state_or_a_log_file_is_refused_without_blocking() {
    use std::os::unix::fs::FileTypeExt;
    for name in ["sockstats.state", "sockstats.log1.txt", "sockstats.log2.txt"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {name}");
        let d = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let opened = sockstatlog::Logger::new(sockstatlog::Config::new(&d, sockstatlog::logid::PublicId([1; 32])));
            let exported = sockstatlog::export_log_dir(&d);
            let _ = tx.send((opened.map(|_| ()), exported.map(|_| ())));
        });
        // A generous bound: it detects a hang, it times nothing.
        let (opened, exported) =
            rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap_or_else(|_| panic!("{name}: blocked"));
        for (what, result) in [("Logger::new", opened), ("export_log_dir", exported)] {
            match result {
                Err(Error::Filch(FilchError::NotRegularFile { path: p })) => assert_eq!(p, path, "{name}: {what}"),
                other => panic!("{name}: {what} must refuse the FIFO: {other:?}"),
            }
        }
        assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_fifo(), "{name}: left in place");
    }
}
