//! The PostgreSQL store: one row per entry in `sockstatlog_entries`, keyed
//! uniquely by (log ID, `proc_id`, `proc_seq`), so exactly-once is the
//! database's job (`ON CONFLICT DO NOTHING`) and any number of collector
//! processes may serve one database. A request is one prepared statement
//! (the batch as arrays, `UNNEST`ed: one round trip) in its own transaction;
//! the 200 goes out after it commits. The schema is created and migrated
//! here, under an advisory lock, one versioned step at a time.

use super::error::{describe, server_name, Error, Result};
use super::{Batch, Refusal, Stored};
use axum::http::StatusCode;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::str::FromStr;
use tokio_postgres::NoTls;

/// Connections per collector process: a request holds one for one
/// statement, so a few serve thousands of requests a second.
pub const POOL_SIZE: usize = 8;
/// Arbitrary constant naming the migration advisory lock (so two collectors
/// starting at once migrate one after the other).
const MIGRATION_LOCK: i64 = 0x736f_636b_7374_6174; // "sockstat"

/// The versioned migrations, applied in order, each once. Never edit a
/// released step; add a new one.
pub const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    "CREATE TABLE sockstatlog_entries (
        id bigserial PRIMARY KEY,
        log_id text NOT NULL,
        collection text NOT NULL,
        proc_id bigint,
        proc_seq bigint,
        received_at timestamptz NOT NULL DEFAULT now(),
        raw text NOT NULL,
        t bigint,
        d bigint,
        cellular boolean,
        s jsonb,
        CONSTRAINT sockstatlog_entries_key UNIQUE (log_id, proc_id, proc_seq)
    );
    CREATE INDEX sockstatlog_entries_log_t ON sockstatlog_entries (log_id, t);",
)];

/// The insert: one row per entry, duplicates (by key) skipped.
const INSERT: &str = "INSERT INTO sockstatlog_entries (log_id, collection, proc_id, proc_seq, raw, t, d, cellular, s)
    SELECT $1, $2, u.* FROM UNNEST($3::int8[], $4::int8[], $5::text[], $6::int8[], $7::int8[], $8::bool[],
        $9::text[]::jsonb[]) AS u
    ON CONFLICT ON CONSTRAINT sockstatlog_entries_key DO NOTHING";

/// A pool of connections to one database.
pub struct PgStore {
    pool: Pool,
    /// `host:port/db`, for log lines.
    server: String,
}

/// A failure naming the server, what was being done and the database's own
/// message.
fn pg_err(server: &str, what: impl Into<String>, e: impl std::error::Error + 'static) -> Error {
    Error::Postgres { server: server.to_string(), what: what.into(), message: describe(&e) }
}

/// Opens a pool on `url` (checked by connecting once) and brings the schema
/// to the newest version; returns it with the server's name for messages.
pub async fn connect_pool(url: &str) -> Result<(Pool, String)> {
    let config = tokio_postgres::Config::from_str(url)
        .map_err(|e| Error::Invalid(format!("bad PostgreSQL URL: {}", describe(&e))))?;
    let server = server_name(&config);
    let mgr = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(mgr).max_size(POOL_SIZE).build().map_err(|e| pg_err(&server, "building the pool", e))?;
    migrate(&pool, &server).await?;
    Ok((pool, server))
}

/// Applies the migrations newer than the database's version, each in a
/// transaction with its version row, under an advisory lock. Idempotent.
pub async fn migrate(pool: &Pool, server: &str) -> Result<()> {
    let mut client = pool.get().await.map_err(|e| pg_err(server, "connecting", e))?;
    let tx = client.transaction().await.map_err(|e| pg_err(server, "migrating", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| pg_err(server, "locking", e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sockstatlog_schema (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(|e| pg_err(server, "creating the schema table", e))?;
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM sockstatlog_schema", &[])
        .await
        .map_err(|e| pg_err(server, "reading the schema version", e))?;
    let current: i32 = row.get(0);
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await.map_err(|e| pg_err(server, &format!("migration {version}"), e))?;
        tx.execute("INSERT INTO sockstatlog_schema (version) VALUES ($1)", &[version])
            .await
            .map_err(|e| pg_err(server, "recording the schema version", e))?;
    }
    tx.commit().await.map_err(|e| pg_err(server, "committing the migration", e))
}

/// The fields of a sockstat event the schema makes queryable.
#[derive(Deserialize)]
struct EventFields {
    t: Option<serde_json::Value>,
    d: Option<serde_json::Value>,
    c: Option<serde_json::Value>,
    s: Option<BTreeMap<String, serde_json::Value>>,
}

/// Columns of one entry: `t`, `d` (integers that fit), `cellular`, and `s`
/// re-encoded as `{"label":[tx,rx]}` with only well-formed labels, so the
/// example query's casts can never fail on a hostile row.
type Columns = (Option<i64>, Option<i64>, Option<bool>, Option<String>);

fn columns(raw: &str) -> Columns {
    let Ok(f) = serde_json::from_str::<EventFields>(raw) else { return (None, None, None, None) };
    let int = |v: &Option<serde_json::Value>| v.as_ref().and_then(serde_json::Value::as_i64);
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

impl PgStore {
    /// Connects and migrates.
    pub async fn connect(url: &str) -> Result<PgStore> {
        let (pool, server) = connect_pool(url).await?;
        Ok(PgStore { pool, server })
    }

    /// Inserts the batch in one statement; duplicates by key are skipped.
    pub async fn append(&self, collection: &str, id: &str, batch: &Batch) -> Result<Stored, Refusal> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            Refusal::new(StatusCode::SERVICE_UNAVAILABLE, format!("{what}: {e}")).retry_after()
        };
        let n = batch.entries.len();
        let (mut pids, mut seqs, mut raws) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut ts, mut ds, mut cs, mut ss) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut unkeyed = 0;
        for e in &batch.entries {
            // u64 -> i64 by bits: a bijection, so keys stay distinct.
            pids.push(e.key.map(|k| k.0 as i64));
            seqs.push(e.key.map(|k| k.1 as i64));
            unkeyed += u64::from(e.key.is_none());
            raws.push(e.raw.as_str());
            let (t, d, c, s) = columns(&e.raw);
            ts.push(t);
            ds.push(d);
            cs.push(c);
            ss.push(s);
        }
        let client = self.pool.get().await.map_err(|e| unavailable("database unavailable", &e))?;
        let stmt = client.prepare_cached(INSERT).await.map_err(|e| unavailable("preparing the insert", &e))?;
        let stored = client
            .execute(&stmt, &[&id, &collection, &pids, &seqs, &raws, &ts, &ds, &cs, &ss])
            .await
            .map_err(|e| unavailable("storing", &e))?;
        Ok(Stored { stored, duplicates: n as u64 - stored, unkeyed })
    }
}

/// The raw lines stored for one log ID, in the order they were stored, one
/// per line as in a collector file (for `sockstatlog report --postgres`).
pub async fn read_log(url: &str, log_id: &str) -> Result<Vec<u8>> {
    let (pool, server) = connect_pool(url).await?;
    let server = server.as_str();
    let client = pool.get().await.map_err(|e| pg_err(server, "connecting", e))?;
    let rows = client
        .query("SELECT raw FROM sockstatlog_entries WHERE log_id = $1 ORDER BY id", &[&log_id])
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
        let (t, d, c, s) =
            columns(r#"{"t":5,"d":100,"c":1,"s":{"2":[3,4],"x":[1,1],"300":[1,1],"7":[-1,2],"8":"no"}}"#);
        assert_eq!((t, d, c), (Some(5), Some(100), Some(true)));
        assert_eq!(s.as_deref(), Some(r#"{"2":[3,4]}"#));
        let (t, _, c, s) = columns(r#"{"t":1e300,"s":{}}"#);
        assert_eq!((t, c, s.as_deref()), (None, Some(false), Some("{}")));
        assert_eq!(columns(r#"{"text":"hi"}"#), (None, None, None, None));
    }
}
