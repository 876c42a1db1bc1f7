//! `sockstatlog collect` as a child process, for what only a process can
//! have: resource limits (RLIMIT_FSIZE, RLIMIT_NOFILE), a umask, SIGKILL.
//! The test waits for its "listening on" line (progress), never a sleep.
//! Its log lines (stderr) are relayed to the test's stderr and handed to the
//! test one by one.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// A running collector process; killed when dropped.
pub struct ChildCollector {
    pub child: Child,
    pub addr: SocketAddr,
    /// Its log lines (stderr; one per request it answered, among others).
    pub lines: std::sync::mpsc::Receiver<String>,
}

/// What to set in the child before it runs.
#[derive(Default, Clone, Copy)]
pub struct Setup {
    /// RLIMIT_FSIZE in bytes (and SIGXFSZ ignored, so a write past it fails
    /// with EFBIG instead of killing the process).
    pub fsize: Option<u64>,
    /// RLIMIT_NOFILE (soft and hard).
    pub nofile: Option<u64>,
    /// umask.
    pub umask: Option<u32>,
}

/// Starts `sockstatlog ARGS` (which must print `listening on http://ADDR`)
/// and waits for that line; later output is drained on a thread.
pub fn start(args: &[&str], setup: Setup) -> ChildCollector {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sockstatlog"));
    // stderr through a pipe the parent relays: with a file-size limit the
    // child could not write its diagnostics to a test log that is a file.
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (setrlimit, signal, umask) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(n) = setup.fsize {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let lim = libc::rlimit { rlim_cur: n, rlim_max: n };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(n) = setup.nofile {
                let lim = libc::rlimit { rlim_cur: n, rlim_max: n };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(m) = setup.umask {
                libc::umask(m as libc::mode_t);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("starting sockstatlog");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            eprint!("{line}");
            let _ = tx.send(std::mem::take(&mut line));
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    ChildCollector { child, addr, lines }
}

/// `collect --listen 127.0.0.1:0 --dir DIR EXTRA...`.
pub fn start_dir(dir: &std::path::Path, extra: &[&str], setup: Setup) -> ChildCollector {
    let d = dir.to_str().unwrap();
    let mut args = vec!["collect", "--listen", "127.0.0.1:0", "--dir", d];
    args.extend_from_slice(extra);
    start(&args, setup)
}

impl ChildCollector {
    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildCollector {
    fn drop(&mut self) {
        self.kill();
    }
}
