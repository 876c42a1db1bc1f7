//! The PostgreSQL store: one row per entry in `sockstatlog_entries`, keyed
//! uniquely by (log ID, `proc_id`, `proc_seq`), so exactly-once is the
//! database's job (`ON CONFLICT DO NOTHING`) and any number of collector
//! processes may serve one database. A request is one transaction: its log's
//! row hands out the entries' order (`ord`), the entries go in bounded chunks
//! (one prepared statement each, the chunk as arrays `UNNEST`ed), and each
//! chunk's *newly inserted* rows (`RETURNING`) are added to the hourly
//! rollups in the same statement, so a re-sent entry adds nothing anywhere.
//! The 200 goes out after the commit. Every database call has a deadline;
//! past it the connection is dropped (the server rolls the transaction
//! back) and the request is answered 503 with Retry-After. The schema is in
//! [`super::schema`].

use super::error::{describe, server_name, Error, Result};
use super::schema;
use super::{Batch, Refusal, Stored};
use axum::http::StatusCode;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use serde::Deserialize;
use sockstatlog::logid::PrivateId;
use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Connections per collector process: a request holds one for one
/// transaction of a few statements, so a few serve thousands of requests a
/// second.
pub const POOL_SIZE: usize = 8;
/// Entries sent to the database in one statement: bounds the parameter
/// arrays built for a statement (a chunk of 4 MiB-body's worth of tiny
/// entries would otherwise be millions of array elements at once) while
/// keeping a typical 256 KiB batch (~1000 entries) to one round trip.
pub const CHUNK_ROWS: usize = 1024;

/// Hands out `n` positions in the log's order (and creates its row on first
/// sight); locks the log's row until commit, so one log's writers queue.
const TAKE_ORD: &str = "INSERT INTO sockstatlog_logs AS l (log_id, public_id, collection, next_ord)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (log_id) DO UPDATE SET next_ord = l.next_ord + excluded.next_ord
    RETURNING next_ord - $4";

/// One chunk: the entries not stored before, then their hourly rollups.
fn insert_sql() -> String {
    let hour = schema::HOUR_OF_T;
    format!(
        "WITH ins AS (
            INSERT INTO sockstatlog_entries (log_id, ord, collection, proc_id, proc_seq, raw, t, d, cellular, s)
            SELECT $1, $3 + u.n - 1, $2, u.pid, u.seq, u.raw, u.t, u.d, u.c, u.s
            FROM UNNEST($4::int8[], $5::int8[], $6::text[], $7::int8[], $8::int8[], $9::bool[], $10::text[]::jsonb[])
                WITH ORDINALITY AS u(pid, seq, raw, t, d, c, s, n)
            ON CONFLICT (log_id, proc_id, proc_seq) DO NOTHING
            RETURNING t, cellular, s
        ), hours AS (
            INSERT INTO sockstatlog_hours AS h (log_id, hour, entries, first_t, last_t)
            SELECT $1, {hour}, count(*), min(t), max(t) FROM ins WHERE t IS NOT NULL GROUP BY 2
            ON CONFLICT (log_id, hour) DO UPDATE SET entries = h.entries + excluded.entries,
                first_t = least(h.first_t, excluded.first_t), last_t = greatest(h.last_t, excluded.last_t)
            RETURNING 1
        ), roll AS (
            INSERT INTO sockstatlog_rollup AS r (log_id, hour, label, cellular, tx, rx, windows)
            SELECT $1, {hour}, l.key::smallint, coalesce(ins.cellular, false),
                sum((l.value->>0)::bigint), sum((l.value->>1)::bigint), count(*)
            FROM ins CROSS JOIN LATERAL jsonb_each(ins.s) AS l WHERE ins.t IS NOT NULL GROUP BY 2, 3, 4
            ON CONFLICT (log_id, hour, label, cellular) DO UPDATE SET tx = r.tx + excluded.tx,
                rx = r.rx + excluded.rx, windows = r.windows + excluded.windows
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM hours), (SELECT count(*) FROM roll)"
    )
}

/// Label names the log registered (header entries), idempotent.
const INSERT_NAMES: &str = "INSERT INTO sockstatlog_label_names (log_id, label, name)
    SELECT $1, u.l, u.n FROM UNNEST($2::int2[], $3::text[]) AS u(l, n)
    ON CONFLICT DO NOTHING";

/// A pool of connections to one database.
pub struct PgStore {
    pool: Pool,
    /// `host:port/db`, for messages.
    server: String,
    /// Deadline of each database call.
    deadline: Duration,
}

/// A failure naming the server, what was being done and the database's own
/// message.
pub(crate) fn pg_err(server: &str, what: impl Into<String>, e: impl std::error::Error + 'static) -> Error {
    Error::Postgres { server: server.to_string(), what: what.into(), message: describe(&e) }
}

/// Opens a pool on `url` and brings the schema to the newest version
/// (connecting once, so an unreachable server fails here); returns it with
/// the server's name for messages.
pub async fn connect_pool(url: &str) -> Result<(Pool, String)> {
    let (pool, server) = pool_without_migrating(url)?;
    schema::migrate_to(&pool, &server, schema::LATEST).await?;
    Ok((pool, server))
}

/// A pool on `url`, not yet connected.
pub fn pool_without_migrating(url: &str) -> Result<(Pool, String)> {
    let config = tokio_postgres::Config::from_str(url)
        .map_err(|e| Error::Invalid(format!("bad PostgreSQL URL: {}", describe(&e))))?;
    let server = server_name(&config);
    let mgr = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(mgr).max_size(POOL_SIZE).build().map_err(|e| pg_err(&server, "building the pool", e))?;
    Ok((pool, server))
}

/// Why a request's transaction did not commit.
enum Fail {
    /// A call passed its deadline: the connection's state is unknown.
    Deadline(&'static str),
    /// The database answered with an error.
    Db(&'static str, String),
}

/// Runs one database call within `deadline`.
async fn within<T, E: std::error::Error + 'static>(
    deadline: Duration,
    what: &'static str,
    call: impl Future<Output = std::result::Result<T, E>>,
) -> std::result::Result<T, Fail> {
    match tokio::time::timeout(deadline, call).await {
        Err(_) => Err(Fail::Deadline(what)),
        Ok(Err(e)) => Err(Fail::Db(what, describe(&e))),
        Ok(Ok(v)) => Ok(v),
    }
}

/// The fields of a sockstat event the schema makes queryable, and a header's
/// label names.
#[derive(Deserialize)]
struct EventFields {
    t: Option<serde_json::Value>,
    d: Option<serde_json::Value>,
    c: Option<serde_json::Value>,
    s: Option<BTreeMap<String, serde_json::Value>>,
    sockstatlog: Option<Header>,
}

/// The `sockstatlog` member of a header entry.
#[derive(Deserialize)]
struct Header {
    labels: Option<BTreeMap<String, serde_json::Value>>,
}

/// Columns of one entry: `t`, `d` (integers that fit), `cellular`, and `s`
/// re-encoded as `{"label":[tx,rx]}` with only well-formed labels, so the
/// rollup's and the example query's casts can never fail on a hostile row.
type Columns = (Option<i64>, Option<i64>, Option<bool>, Option<String>);

fn columns(raw: &str, names: &mut Vec<(i16, String)>) -> Columns {
    let Ok(f) = serde_json::from_str::<EventFields>(raw) else { return (None, None, None, None) };
    let int = |v: &Option<serde_json::Value>| v.as_ref().and_then(serde_json::Value::as_i64);
    for (k, v) in f.sockstatlog.and_then(|h| h.labels).unwrap_or_default() {
        if let (Ok(label), Some(name)) = (k.parse::<u8>(), v.as_str()) {
            names.push((i16::from(label), name.to_string()));
        }
    }
    let s = f.s.map(|s| {
        let mut out = serde_json::Map::new();
        for (k, v) in s {
            let pair = v.as_array().filter(|a| a.len() == 2).and_then(|a| Some((a[0].as_i64()?, a[1].as_i64()?)));
            if let (Ok(label), Some((tx, rx))) = (k.parse::<u8>(), pair) {
                if tx >= 0 && rx >= 0 {
                    out.insert(label.to_string(), serde_json::json!([tx, rx]));
                }
            }
        }
        serde_json::Value::Object(out).to_string()
    });
    let c = f.c.as_ref().and_then(serde_json::Value::as_i64) == Some(1);
    (int(&f.t), int(&f.d), s.as_ref().map(|_| c), s)
}

/// One chunk's statement parameters, reused from chunk to chunk.
#[derive(Default)]
struct Chunk<'a> {
    pids: Vec<Option<i64>>,
    seqs: Vec<Option<i64>>,
    raws: Vec<&'a str>,
    ts: Vec<Option<i64>>,
    ds: Vec<Option<i64>>,
    cs: Vec<Option<bool>>,
    ss: Vec<Option<String>>,
}

impl<'a> Chunk<'a> {
    fn fill(&mut self, batch: &'a Batch, range: std::ops::Range<usize>, names: &mut Vec<(i16, String)>) {
        self.pids.clear();
        self.seqs.clear();
        self.raws.clear();
        self.ts.clear();
        self.ds.clear();
        self.cs.clear();
        self.ss.clear();
        for i in range {
            let (raw, key) = (batch.raw(i), batch.key(i));
            // u64 -> i64 by bits: a bijection, so keys stay distinct.
            self.pids.push(key.map(|k| k.0 as i64));
            self.seqs.push(key.map(|k| k.1 as i64));
            self.raws.push(raw);
            let (t, d, c, s) = columns(raw, names);
            self.ts.push(t);
            self.ds.push(d);
            self.cs.push(c);
            self.ss.push(s);
        }
    }
}

impl PgStore {
    /// Connects and migrates; each later database call gets `deadline`.
    pub async fn connect(url: &str, deadline: Duration) -> Result<PgStore> {
        let (pool, server) = connect_pool(url).await?;
        Ok(PgStore { pool, server, deadline })
    }

    fn unavailable(&self, why: String) -> Refusal {
        Refusal::new(StatusCode::SERVICE_UNAVAILABLE, format!("database {}: {why}", self.server)).retry_after()
    }

    /// Stores the batch in one transaction; duplicates by key are skipped.
    pub async fn append(&self, collection: &str, id: &str, batch: &Batch) -> Result<Stored, Refusal> {
        let ms = self.deadline.as_millis();
        let mut client = match tokio::time::timeout(self.deadline, self.pool.get()).await {
            Err(_) => return Err(self.unavailable(format!("no connection within {ms} ms"))),
            Ok(Err(e)) => return Err(self.unavailable(format!("connecting: {}", describe(&e)))),
            Ok(Ok(c)) => c,
        };
        match self.store(&mut client, collection, id, batch).await {
            Ok(s) => Ok(s),
            Err(Fail::Deadline(what)) => {
                // Out of the pool and closed: the server rolls back what
                // this connection began once it reads the close.
                drop(Object::take(client));
                Err(self.unavailable(format!("{what}: no answer within {ms} ms; rolled back")))
            }
            Err(Fail::Db(what, msg)) => Err(self.unavailable(format!("{what}: {msg}; rolled back"))),
        }
    }

    async fn store(
        &self,
        client: &mut Object,
        collection: &str,
        id: &str,
        batch: &Batch,
    ) -> std::result::Result<Stored, Fail> {
        let d = self.deadline;
        let n = batch.len();
        let public = PrivateId::parse(id).map(|p| p.public().to_hex()).unwrap_or_default();
        let tx = within(d, "beginning", client.transaction()).await?;
        let insert = within(d, "preparing the insert", tx.prepare_cached(&insert_sql())).await?;
        let row = within(d, "ordering", tx.query_one(TAKE_ORD, &[&id, &public, &collection, &(n as i64)])).await?;
        let base: i64 = row.get(0);
        let (mut stored, mut names, mut chunk) = (0u64, Vec::new(), Chunk::default());
        for start in (0..n).step_by(CHUNK_ROWS) {
            chunk.fill(batch, start..(start + CHUNK_ROWS).min(n), &mut names);
            let c = &chunk;
            let first = base + start as i64;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] =
                [&id, &collection, &first, &c.pids, &c.seqs, &c.raws, &c.ts, &c.ds, &c.cs, &c.ss];
            let row = within(d, "storing", tx.query_one(&insert, &params)).await?;
            stored += row.get::<_, i64>(0) as u64;
        }
        drop(chunk);
        if !names.is_empty() {
            names.sort();
            names.dedup();
            let (labels, texts): (Vec<i16>, Vec<String>) = names.into_iter().unzip();
            within(d, "storing label names", tx.execute(INSERT_NAMES, &[&id, &labels, &texts])).await?;
        }
        within(d, "committing", tx.commit()).await?;
        Ok(Stored { stored, duplicates: n as u64 - stored, unkeyed: batch.unkeyed() })
    }
}

/// The raw lines stored for one log ID, in the order they were stored, one
/// per line as in a collector file (for `sockstatlog report --postgres`).
pub async fn read_log(pool: &Pool, server: &str, log_id: &str) -> Result<Vec<u8>> {
    let client = pool.get().await.map_err(|e| pg_err(server, "connecting", e))?;
    let rows = client
        .query("SELECT raw FROM sockstatlog_entries WHERE log_id = $1 ORDER BY ord", &[&log_id])
        .await
        .map_err(|e| pg_err(server, "reading entries", e))?;
    let mut out = Vec::new();
    for row in rows {
        let raw: &str = row.get(0);
        out.extend(raw.bytes().filter(|b| !matches!(b, b'\n' | b'\r')));
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_only_well_formed_labels_and_integers() {
        let mut names = Vec::new();
        let (t, d, c, s) =
            columns(r#"{"t":5,"d":100,"c":1,"s":{"2":[3,4],"x":[1,1],"300":[1,1],"7":[-1,2],"8":"no"}}"#, &mut names);
        assert_eq!((t, d, c), (Some(5), Some(100), Some(true)));
        assert_eq!(s.as_deref(), Some(r#"{"2":[3,4]}"#));
        let (t, _, c, s) = columns(r#"{"t":1e300,"s":{}}"#, &mut names);
        assert_eq!((t, c, s.as_deref()), (None, Some(false), Some("{}")));
        assert_eq!(columns(r#"{"text":"hi"}"#, &mut names), (None, None, None, None));
        assert!(names.is_empty());
    }

    #[test]
    fn a_header_gives_its_well_formed_label_names() {
        let mut names = Vec::new();
        columns(r#"{"sockstatlog":{"v":1,"labels":{"200":"Video","999":"x","3":7,"4":"Chat"}}}"#, &mut names);
        assert_eq!(names, vec![(200, "Video".to_string()), (4, "Chat".to_string())]);
    }
}
