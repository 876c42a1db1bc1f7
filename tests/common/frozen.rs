//! A real stalled disk for tests: an ext4 image on a loop device, mounted in a
//! temporary directory, which [`FrozenFs::freeze`] freezes (`fsfreeze -f`):
//! from then on every write and fsync on it blocks in the kernel until
//! [`FrozenFs::thaw`]. Needs root (CI runs as root); a test that cannot make
//! its device fails, it never skips. Dropping it thaws, unmounts and
//! detaches whatever happened, a failed assertion included.
//!
//! Shared by the integration tests (`mod common`) and the library's unit
//! tests (`#[path]`), so it uses only the standard library.
#![allow(dead_code, unreachable_pub)] // each user takes a different subset; the library lints `pub`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Bytes of the image: room for a few 5 MiB logs, sparse on the host disk.
const IMAGE_BYTES: u64 = 64 << 20;
/// How long a test waits for a call that must return while the disk is
/// frozen before it calls the call blocked: generous, so a loaded machine
/// never fails a correct build. It bounds a hang; it times nothing.
pub const GENEROUS: Duration = Duration::from_secs(120);
/// Loop device nodes made when a container has none (`/dev/loopN`, block
/// major 7).
const LOOP_NODES: u32 = 16;

/// A mounted, freezable ext4 filesystem on a loop device.
pub struct FrozenFs {
    /// Holds the image file and the mount point.
    root: PathBuf,
    mount: PathBuf,
    device: String,
    mounted: bool,
    frozen: bool,
}

/// Runs a command, failing the test with its output if it fails.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("frozen fs: cannot run {program}: {e} (the test needs root and util-linux)"));
    assert!(
        out.status.success(),
        "frozen fs: {program} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Makes `/dev/loop0..` when the container has `/dev/loop-control` but no
/// nodes (losetup then has nothing to hand out).
fn make_loop_nodes() {
    for n in 0..LOOP_NODES {
        let node = format!("/dev/loop{n}");
        if !Path::new(&node).exists() {
            let _ = Command::new("mknod").args([&node, "b", "7", &n.to_string()]).status();
        }
    }
}

/// Attaches `image` to a free loop device and returns the device's path.
fn attach(image: &str) -> String {
    let first = Command::new("losetup").args(["-f", "--show", image]).output();
    match first {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => {
            make_loop_nodes();
            run("losetup", &["-f", "--show", image])
        }
    }
}

impl FrozenFs {
    /// Makes, formats, attaches and mounts a fresh image (not frozen yet).
    pub fn new() -> FrozenFs {
        let root = std::env::temp_dir().join(format!("sockstatlog-frozen-{}-{}", std::process::id(), unique()));
        let mount = root.join("mnt");
        std::fs::create_dir_all(&mount).expect("frozen fs: create the mount point");
        let image = root.join("disk.img");
        let f = std::fs::File::create(&image).expect("frozen fs: create the image");
        f.set_len(IMAGE_BYTES).expect("frozen fs: size the image");
        drop(f);
        let image = image.to_str().expect("utf-8 temp dir").to_string();
        run("mkfs.ext4", &["-q", "-F", &image]);
        let device = attach(&image);
        let mut fs = FrozenFs { root, mount, device, mounted: false, frozen: false };
        run("mount", &[&fs.device, fs.mount.to_str().expect("utf-8 temp dir")]);
        fs.mounted = true;
        fs
    }

    /// A directory on the filesystem (for a log directory).
    pub fn dir(&self) -> PathBuf {
        self.mount.join("log")
    }

    /// From now on every write and fsync on the filesystem blocks.
    pub fn freeze(&mut self) {
        run("fsfreeze", &["-f", self.mount.to_str().expect("utf-8")]);
        self.frozen = true;
    }

    /// Lets the blocked writes and fsyncs go on.
    pub fn thaw(&mut self) {
        if self.frozen {
            run("fsfreeze", &["-u", self.mount.to_str().expect("utf-8")]);
            self.frozen = false;
        }
    }
}

impl Drop for FrozenFs {
    fn drop(&mut self) {
        // Never panic here (it may run while a failed test unwinds).
        let mount = self.mount.to_string_lossy().to_string();
        if self.frozen {
            let _ = Command::new("fsfreeze").args(["-u", &mount]).status();
        }
        if self.mounted {
            // Lazy: a straggling thread may still hold a file open on it.
            let _ = Command::new("umount").args(["-l", &mount]).status();
        }
        // With the mount gone lazily the device may still be busy: -d then
        // sets autoclear, and the kernel detaches it when released.
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A number unique within this process, for parallel tests.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `f` on a new thread and waits for it at most [`GENEROUS`]: `Some`
/// with its result if it returned, `None` if it is still blocked (it is
/// left running; the thaw releases it).
pub fn returns<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(GENEROUS).ok()
}

/// Waits until a thread of this process whose name starts with `name` (the
/// kernel keeps 15 bytes of it) sleeps uninterruptibly (state `D`), as a
/// thread blocked on a frozen filesystem does. Fails the test after
/// [`GENEROUS`]. Polls /proc: the test waits for a state it cannot be told
/// about any other way.
pub fn wait_blocked_in_kernel(name: &str) {
    let prefix = &name[..name.len().min(15)];
    let start = std::time::Instant::now();
    loop {
        let tasks = std::fs::read_dir("/proc/self/task").expect("frozen fs: /proc/self/task");
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // `pid (comm) S ...`: the state follows the last ')'.
            let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
            if comm.trim_end().starts_with(prefix) && state == Some('D') {
                return;
            }
        }
        assert!(start.elapsed() < GENEROUS, "no {name} thread blocked on the frozen disk");
        std::thread::sleep(Duration::from_millis(5));
    }
}
