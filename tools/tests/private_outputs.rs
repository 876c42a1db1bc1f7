//! The report's charts and the demo's outputs are private (0700
//! directories, 0600 files) whatever the umask: they describe a device's
//! traffic. Run as child processes, since the umask is process-wide.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

fn with_umask_0(cmd: &mut Command) -> &mut Command {
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        })
    }
}

/// Every directory and file under `root` (itself included), with its mode.
fn modes(root: &Path) -> Vec<(String, u32, bool)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.push((p.display().to_string(), m.permissions().mode() & 0o777, m.is_dir()));
        if m.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out
}

fn assert_private(root: &Path) {
    for (p, mode, dir) in modes(root) {
        assert_eq!(mode, if dir { 0o700 } else { 0o600 }, "{p}");
    }
}

#[test]
fn report_charts_are_private_under_umask_0() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log.jsonl");
    std::fs::write(&log, "{\"t\":1000,\"d\":100,\"c\":1,\"s\":{\"2\":[1,2]}}\n").unwrap();
    let out = tmp.path().join("charts/nested");
    let r =
        with_umask_0(Command::new(env!("CARGO_BIN_EXE_sockstatlog")).arg("report").arg(&log).arg("--out").arg(&out))
            .output()
            .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_private(&tmp.path().join("charts"));
}

#[test]
fn demo_outputs_are_private_under_umask_0() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let r = with_umask_0(
        Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
            .args(["demo", "--seconds", "10", "--speed", "200", "--dir"])
            .arg(&dir),
    )
    .output()
    .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let (_, top, _) = modes(&dir)[0].clone();
    assert_eq!(top, 0o700);
    // The log directory is the library's (filch); the collector's copy and
    // the report are the tools'.
    assert_private(&dir.join("collector"));
    assert_private(&dir.join("report"));
}
