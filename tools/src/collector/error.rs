//! The collector's own error type, for what stops it from starting or a
//! reader from reading the database: an I/O failure with what was being
//! done, a directory another collector holds, and a PostgreSQL failure named
//! by server (host and port) with the database's own message. A refused
//! request is not an error of this kind (see [`super::Refusal`]).

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

/// Why the collector (or a reader of its database) could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another collector process serves this directory store.
    #[error("{} is in use by another collector (its lock file {} is held); one collector per directory", .dir.display(), .lock.display())]
    DirInUse {
        /// The store's directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A PostgreSQL operation failed.
    #[error("PostgreSQL at {server}: {what}: {message}")]
    Postgres {
        /// `host:port` (or the socket directory) of the server.
        server: String,
        /// What was being done.
        what: String,
        /// The database's own message (or the connection's cause).
        message: String,
    },
    /// Input the caller gave is unusable (a bad URL, an unknown log ID).
    #[error("{0}")]
    Invalid(String),
}

/// The collector's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io { what: what.into(), source }
    }
}

/// The most useful text of an error chain: a database error's own message
/// (with its detail and hint), else every distinct cause joined by ": "
/// (deadpool and tokio-postgres wrap the cause, e.g. "Connection refused",
/// under generic words that alone say nothing).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(db) = err.downcast_ref::<tokio_postgres::error::DbError>() {
            return db_message(db);
        }
        if let Some(pg) = err.downcast_ref::<tokio_postgres::Error>() {
            if let Some(db) = pg.as_db_error() {
                return db_message(db);
            }
        }
        cur = err.source();
    }
    let mut out = String::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        cur = err.source();
    }
    out
}

fn db_message(db: &tokio_postgres::error::DbError) -> String {
    let mut s = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
    if let Some(d) = db.detail() {
        let _ = write!(s, "; detail: {d}");
    }
    if let Some(h) = db.hint() {
        let _ = write!(s, "; hint: {h}");
    }
    s
}

/// `host:port[, host:port…]/dbname` of a connection config, for messages
/// (never the password).
pub fn server_name(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect();
    let host = if hosts.is_empty() { "localhost:5432".to_string() } else { hosts.join(",") };
    format!("{host}/{}", config.get_dbname().unwrap_or("(default database)"))
}
