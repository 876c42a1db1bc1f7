//! `sockstatlog collect --listen ADDR (--dir DIR | --postgres URL)`: runs the
//! reference logtail collector (see [`crate::collector`]) until killed.

use crate::collector::{self, Limits, StoreConfig};
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
    /// Directory receiving `<collection>/<private id>.jsonl` files.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Store in PostgreSQL instead (`postgres://user@host:port/db`); the
    /// schema is created and migrated at start.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Concurrent connections; more are answered 503 and closed.
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
    /// Stream files kept open (directory store).
    #[arg(long, default_value_t = collector::MAX_OPEN_FILES)]
    pub max_open_files: usize,
}

/// Serves until killed; exits 1 if the address cannot be bound or the store
/// cannot be opened.
pub fn run(args: Args) -> ExitCode {
    raise_fd_limit();
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
        ..Limits::default()
    };
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => return fail(format!("binding {}: {e}", args.listen)),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => return fail(format!("reading bound address: {e}")),
        };
        // The store is opened (and migrated) by serve before it accepts;
        // "listening" is printed once connections will be served.
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let serve = collector::serve_ready(listener, store, limits, ready_tx);
        tokio::pin!(serve);
        tokio::select! {
            r = &mut serve => return finish(r),
            Ok(()) = ready_rx => println!("listening on http://{addr}"),
        }
        finish(serve.await)
    })
}

fn finish(r: sockstatlog::error::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{e}")),
    }
}

/// Raises the soft open-file limit to the hard one: connections and stream
/// files are capped by the collector itself, not by a 1024 default.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn fail(msg: String) -> ExitCode {
    eprintln!("sockstatlog collect: {msg}");
    ExitCode::from(1)
}
