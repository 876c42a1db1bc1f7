//! `sockstatlog collect --listen ADDR (--dir DIR | --postgres URL)`: runs the
//! reference logtail collector (see [`crate::collector`]) until killed. The
//! store is opened first (a directory created, checked writable and locked;
//! a database reached and migrated), so a store it cannot use fails the
//! command before it listens. The one `listening on http://ADDR` line goes
//! to stdout for scripts; every other line goes to stderr through `tracing`,
//! with a UTC timestamp, at the level `RUST_LOG` sets (default `info`).

use crate::collector::{self, Limits, Server, StoreConfig};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `sockstatlog collect`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("store").required(true).args(["dir", "postgres"])))]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory receiving `<collection>/<private id>.jsonl` files; created
    /// if missing, and locked: one collector per directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Store in PostgreSQL instead (`postgres://user@host:port/db`); the
    /// schema is created and migrated at start.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Concurrent connections; more are answered 503 and closed. Lowered to
    /// fit the open-file limit if it is too low for this many.
    #[arg(long, default_value_t = collector::MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Bytes of request bodies held across all connections; over it, 503
    /// with Retry-After.
    #[arg(long, default_value_t = collector::INFLIGHT_BODY_BYTES)]
    pub body_budget_bytes: usize,
    /// Seconds to receive a request's headers.
    #[arg(long, default_value_t = collector::HEADER_TIMEOUT.as_secs())]
    pub header_timeout_secs: u64,
    /// Seconds to receive a request's body.
    #[arg(long, default_value_t = collector::BODY_TIMEOUT.as_secs())]
    pub body_timeout_secs: u64,
    /// Stream files kept open (directory store); lowered to what the
    /// open-file limit leaves after the connections.
    #[arg(long, default_value_t = collector::MAX_OPEN_FILES)]
    pub max_open_files: usize,
    /// Milliseconds a database call may take (pool checkout, and each
    /// statement); past it the request is answered 503 with Retry-After and
    /// its transaction rolled back.
    #[arg(long, default_value_t = collector::DB_DEADLINE.as_millis() as u64)]
    pub db_deadline_ms: u64,
}

/// Serves until killed; exits 1 if the store cannot be opened or the
/// address cannot be bound.
pub fn run(args: Args) -> ExitCode {
    init_logging();
    let fd_limit = raise_fd_limit();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("starting runtime: {e}")),
    };
    let store = match (args.dir, args.postgres) {
        (Some(d), None) => StoreConfig::Dir(d),
        (None, Some(url)) => StoreConfig::Postgres(url),
        _ => return fail("give exactly one of --dir and --postgres".into()),
    };
    let limits = Limits {
        max_connections: args.max_connections,
        inflight_body_bytes: args.body_budget_bytes,
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        max_open_files: args.max_open_files,
        db_deadline: Duration::from_millis(args.db_deadline_ms),
        ..Limits::default()
    };
    let limits = match fd_limit {
        Some(n) => limits.fit_fd_limit(n),
        None => limits,
    };
    rt.block_on(async {
        let server = match Server::open(store, limits).await {
            Ok(s) => s,
            Err(e) => return fail(e.to_string()),
        };
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => return fail(format!("binding {}: {e}", args.listen)),
        };
        match listener.local_addr() {
            Ok(addr) => println!("listening on http://{addr}"),
            Err(e) => return fail(format!("reading bound address: {e}")),
        }
        server.serve(listener).await;
        ExitCode::SUCCESS
    })
}

/// Log lines to stderr: UTC timestamp (RFC 3339), level, message and
/// fields (peer, stream, outcome). `RUST_LOG` sets the level (`warn`,
/// `debug`, `sockstatlog_tools=debug`, ...); unset or unparsable, `info`.
fn init_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = tracing_subscriber::registry().with(fmt).with(filter).try_init();
}

/// Raises the soft open-file limit to the hard one (connections and stream
/// files are capped by the collector itself, not by a 1024 default) and
/// returns the limit now in force.
fn raise_fd_limit() -> Option<u64> {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
        Some(lim.rlim_cur as u64)
    }
}

fn fail(msg: String) -> ExitCode {
    tracing::error!("{msg}");
    ExitCode::from(1)
}
