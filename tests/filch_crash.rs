//! Kill tests of the on-disk log. The test re-runs its own binary as a child
//! that appends numbered lines (and, in some modes, peeks and commits them),
//! reporting on stdout what it synced and committed; the parent SIGKILLs it
//! right after reading a random number of its `synced` reports (progress the
//! child signalled, never a number of milliseconds), so the kill lands
//! somewhere in the child's next steps. It then reopens a copy of the log and
//! checks that nothing torn, repeated, reordered, lost or already committed
//! comes back.
//!
//! Reproduce a failure with `FILCH_CRASH_SEED=<seed printed on failure>`.

mod common {
    pub mod filch;
}

use common::filch::{drain, opts};
use sockstatlog::testing::{FilchOptions, LogFiles};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::{env, fs};

/// Set in the child's environment: `<mode> <dir> <first number> <seed>`.
const CHILD_ENV: &str = "FILCH_CRASH_CHILD";
/// Overrides the random seed, to replay a failure.
const SEED_ENV: &str = "FILCH_CRASH_SEED";
/// The test function the child runs (libtest `--exact` filter).
const CHILD_TEST: &str = "the_child_process_runs_only_when_asked";
/// Kill rounds, spread over the modes.
const ROUNDS: usize = 21;
/// The kill follows the child's n-th `synced` report, n drawn from this
/// range: from its first batch to well into its run.
const KILL_AFTER_SYNCS: std::ops::RangeInclusive<u64> = 1..=MOST_SYNCS;
/// The last round of each mode waits this many syncs, so every mode gets far
/// enough (the rotating one through several rotations) whatever the seed.
const MOST_SYNCS: u64 = 80;
/// Lines per appended batch.
const MAX_BATCH_LINES: usize = 40;
/// Bytes: no round comes near this, so the no-drop modes never rotate as writers.
const NO_ROTATION_BUDGET: u64 = 1 << 34;
/// Bytes: small enough that the rotating mode rotates many times per round.
const SMALL_BUDGET: u64 = 16 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Appends only; nothing may ever be lost.
    Writer,
    /// Appends, peeks and commits; nothing uncommitted may be lost.
    Reader,
    /// Like `Reader` with a tiny budget, so writer rotations drop lines.
    Rotating,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Writer, Mode::Reader, Mode::Rotating];

    fn options(self) -> FilchOptions {
        let budget = if self == Mode::Rotating { SMALL_BUDGET } else { NO_ROTATION_BUDGET };
        opts(budget, 1 << 10)
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Writer => "writer",
            Mode::Reader => "reader",
            Mode::Rotating => "rotating",
        }
    }

    fn parse(name: &str) -> Mode {
        *Mode::ALL.iter().find(|m| m.name() == name).unwrap()
    }
}

/// Line `n`: its number twice around a padding whose length depends on `n`,
/// so a torn or spliced line cannot parse.
fn line(n: u64) -> String {
    format!("L{n:010} {} E{n:010}", "x".repeat((n % 61) as usize))
}

/// The number of a well-formed line, `None` for anything else.
fn parse(text: &str) -> Option<u64> {
    let (head, rest) = text.strip_prefix('L')?.split_once(' ')?;
    let (pad, tail) = rest.rsplit_once(' ')?;
    let n: u64 = head.parse().ok()?;
    (text == line(n) && pad.len() as u64 == n % 61 && tail.strip_prefix('E')? == head).then_some(n)
}

#[test]
fn the_child_process_runs_only_when_asked() {
    let Ok(spec) = env::var(CHILD_ENV) else { return };
    let parts: Vec<&str> = spec.split(' ').collect();
    let mode = Mode::parse(parts[0]);
    let first: u64 = parts[2].parse().unwrap();
    let seed: u64 = parts[3].parse().unwrap();
    run_child(mode, Path::new(parts[1]), first, seed);
}

/// Runs until killed, reporting `synced N`, `committing N`, `committed N` (line
/// numbers) and `dropped N` (lines this process dropped by rotating).
fn run_child(mode: Mode, dir: &Path, first: u64, seed: u64) -> ! {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut log = LogFiles::open(dir, mode.options()).unwrap();
    let mut out = std::io::stdout();
    let mut next = first;
    loop {
        let count = rng.u64(1..=MAX_BATCH_LINES as u64);
        let batch: String = (next..next + count).map(|n| line(n) + "\n").collect();
        log.append(batch.as_bytes()).unwrap();
        log.sync().unwrap();
        next += count;
        writeln!(out, "synced {}", next - 1).unwrap();
        let dropped = log.stats().dropped_lines;
        if dropped > 0 {
            writeln!(out, "dropped {dropped}").unwrap();
        }
        if mode != Mode::Writer && rng.bool() {
            let batch = log.peek(rng.usize(1..4096)).unwrap();
            // Upload "fails" a quarter of the time: peeked, never committed.
            if let (Some(last), true) = (batch.lines.last(), rng.u8(..4) != 0) {
                let n = parse(std::str::from_utf8(last).unwrap()).unwrap();
                writeln!(out, "committing {n}").unwrap();
                log.commit(batch.cursor).unwrap();
                writeln!(out, "committed {n}").unwrap();
            }
        }
    }
}

/// What the children of one mode reported, over all rounds so far.
#[derive(Debug, Default, Clone, Copy)]
struct Reported {
    synced: Option<u64>,
    committing: Option<u64>,
    committed: Option<u64>,
    /// Highest number ever written or seen on disk: the next child starts above.
    highest: Option<u64>,
    /// Lines the children dropped by rotating, summed over rounds.
    dropped: u64,
}

/// Spawns a child, kills it right after its `kill_after`-th `synced` report,
/// and folds its reports into `seen`.
fn run_round(mode: Mode, dir: &Path, seed: u64, kill_after: u64, seen: &mut Reported) {
    let first = seen.highest.map_or(0, |h| h + 1);
    let mut child = Command::new(env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_ENV, format!("{} {} {first} {seed}", mode.name(), dir.display()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reports = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
    let mut syncs = 0;
    for line in lines.by_ref() {
        syncs += u64::from(line.starts_with("synced "));
        reports.push(line);
        if syncs == kill_after {
            break;
        }
    }
    if syncs < kill_after {
        panic!("the child exited by itself after {syncs} syncs: {:?}", child.wait());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What it reported before the kill landed is still in the pipe.
    reports.extend(lines);
    // Cumulative within one child: keep its last report.
    let mut dropped = 0;
    for report in reports {
        let Some((what, n)) = report.split_once(' ') else { continue };
        let Ok(n) = n.parse::<u64>() else { continue };
        let last = match what {
            "synced" => &mut seen.synced,
            "committing" => &mut seen.committing,
            "committed" => &mut seen.committed,
            "dropped" => {
                dropped = n;
                continue;
            }
            _ => continue,
        };
        *last = Some(n);
        seen.highest = seen.highest.max(Some(n));
    }
    seen.dropped += dropped;
}

/// Copies the log (keeping mtimes, which restart selection may use) so the
/// check can drain it without disturbing the next round.
fn copy_log(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        fs::copy(entry.path(), &target).unwrap();
        let mtime = entry.metadata().unwrap().modified().unwrap();
        fs::File::options().write(true).open(&target).unwrap().set_modified(mtime).unwrap();
    }
}

fn numbers(lines: &[String], ctx: &str) -> Vec<u64> {
    lines.iter().map(|l| parse(l).unwrap_or_else(|| panic!("{ctx}: malformed line {l:?}"))).collect()
}

/// Reopens a copy of `dir` and checks it against what the children reported.
fn check(mode: Mode, dir: &Path, scratch: &Path, seen: &mut Reported, ctx: &str) {
    let _ = fs::remove_dir_all(scratch);
    copy_log(dir, scratch);
    let mut log = LogFiles::open(scratch, mode.options()).unwrap();
    let exported: Vec<String> = log.export().unwrap().into_iter().map(|l| String::from_utf8(l).unwrap()).collect();
    let on_disk = numbers(&exported, ctx);
    let unread = drain(&mut log, 4096);
    let rest = numbers(&unread, ctx);

    for (name, list) in [("on disk", &on_disk), ("unread", &rest)] {
        assert!(list.windows(2).all(|w| w[0] < w[1]), "{ctx}: {name} not strictly increasing: {list:?}");
    }
    assert!(exported.ends_with(&unread), "{ctx}: the unread lines are not the tail of the log");
    seen.highest = seen.highest.max(on_disk.last().copied());

    match (rest.first(), rest.last()) {
        (Some(&first), Some(&last)) => {
            if let Some(c) = seen.committed {
                assert!(first > c, "{ctx}: line {first} came back after {c} was committed");
            }
            if let Some(s) = seen.synced {
                assert!(last >= s, "{ctx}: synced line {s} lost; unread ends at {last}");
            }
            if mode != Mode::Rotating {
                assert!(rest.windows(2).all(|w| w[1] == w[0] + 1), "{ctx}: a gap in {rest:?}");
                let most = seen.committing.map_or(0, |c| c + 1);
                assert!(first <= most, "{ctx}: unread starts at {first}, at most {most} was committed");
            }
        }
        _ => assert!(
            seen.synced <= seen.committing,
            "{ctx}: nothing unread, but synced {:?} > committing {:?}",
            seen.synced,
            seen.committing
        ),
    }
}

#[test]
fn killed_writers_and_readers_leave_a_consistent_log() {
    let seed = env::var(SEED_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{SEED_ENV}={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let root = tempfile::tempdir().unwrap();
    let mut seen = [Reported::default(); 3];
    for round in 0..ROUNDS {
        let (i, mode) = (round % Mode::ALL.len(), Mode::ALL[round % Mode::ALL.len()]);
        let dir = root.path().join(mode.name());
        let last_of_mode = round + Mode::ALL.len() >= ROUNDS;
        let syncs = if last_of_mode { MOST_SYNCS } else { rng.u64(KILL_AFTER_SYNCS) };
        let ctx = format!("{SEED_ENV}={seed} round {round} ({}, killed after {syncs} syncs)", mode.name());
        run_round(mode, &dir, rng.u64(..), syncs, &mut seen[i]);
        check(mode, &dir, &root.path().join("scratch"), &mut seen[i], &ctx);
    }
    for (mode, s) in Mode::ALL.iter().zip(seen) {
        assert!(s.synced.is_some(), "the {} children never synced anything", mode.name());
        if *mode != Mode::Writer {
            assert!(s.committed.is_some(), "the {} children never committed anything", mode.name());
        }
    }
    let rotating = seen[Mode::ALL.iter().position(|m| *m == Mode::Rotating).unwrap()];
    assert!(rotating.dropped > 0, "the tiny budget never made a writer drop lines");
}
