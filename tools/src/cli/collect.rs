//! `sockstatlog collect --listen ADDR --dir DIR`: runs the reference logtail
//! collector (see [`crate::collector`]) until killed.

use crate::collector;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sockstatlog collect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory receiving `<collection>/<private id>.jsonl` files.
    #[arg(long)]
    pub dir: PathBuf,
}

/// Serves until killed; exits 1 if the address cannot be bound.
pub fn run(args: Args) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("starting runtime: {e}")),
    };
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => return fail(format!("binding {}: {e}", args.listen)),
        };
        match listener.local_addr() {
            Ok(addr) => println!("listening on http://{addr}"),
            Err(e) => return fail(format!("reading bound address: {e}")),
        }
        match collector::serve(listener, args.dir).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("serving: {e}")),
        }
    })
}

fn fail(msg: String) -> ExitCode {
    eprintln!("sockstatlog collect: {msg}");
    ExitCode::from(1)
}
