//! `sockstatlog logid HEX`: prints the sockstat private and public IDs of a
//! node, given its backend public log ID.

use sockstatlog::logid::{sockstat_private_id, PublicId};
use std::process::ExitCode;

/// Arguments of `sockstatlog logid`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node's backend public log ID: 64 hex characters.
    pub backend_public_id: String,
}

/// Prints `private: <hex>` and `public: <hex>`; a bad ID exits 2 with the
/// parse error on stderr.
pub fn run(args: Args) -> ExitCode {
    match PublicId::parse(&args.backend_public_id) {
        Ok(id) => {
            let private = sockstat_private_id(&id);
            println!("private: {}", private.to_hex());
            println!("public: {}", private.public().to_hex());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sockstatlog logid: {e}");
            ExitCode::from(2)
        }
    }
}
