//! The PostgreSQL schema and its versioned migrations, applied at start under
//! an advisory lock, one step at a time, each in the transaction that
//! records its version.
//!
//! Since version 2 every unique key includes `log_id` and no row takes a
//! number from a global sequence, so every table can be distributed by
//! `log_id`: the entries, the hourly rollups and the label names are
//! hash-partitioned by `log_id` in PostgreSQL itself (declarative
//! partitioning enforces the rule Citus does: a unique key must contain the
//! partition key). An entry's order within its log is `ord`, taken from its
//! log's row in `sockstatlog_logs` (which also serialises one log's writers).
//! Version 2 migrates a version-1 database keeping every row, in order.

use super::error::{describe, Error, Result};
use deadpool_postgres::Pool;

/// Arbitrary constant naming the migration advisory lock (so two collectors
/// starting at once migrate one after the other).
const MIGRATION_LOCK: i64 = 0x736f_636b_7374_6174; // "sockstat"

/// Hash partitions of each distributed table: enough that one partition of a
/// fleet's rollups stays a few GB; the Citus layout replaces them with
/// shards (see docs/contract.md).
pub const PARTITIONS: u32 = 8;

/// Version 1: one table, a global `bigserial` key (cannot be distributed).
const V1: &str = "CREATE TABLE sockstatlog_entries (
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
    CREATE INDEX sockstatlog_entries_log_t ON sockstatlog_entries (log_id, t);";

/// Version 2: distributable by `log_id`, with the fleet rollups; the
/// version-1 rows are moved over in their order and rolled up.
const V2: &str = r#"
    CREATE TABLE sockstatlog_logs (
        log_id text PRIMARY KEY,
        public_id text NOT NULL,
        collection text NOT NULL,
        next_ord bigint NOT NULL DEFAULT 0,
        first_seen timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX sockstatlog_logs_public ON sockstatlog_logs (public_id);

    ALTER TABLE sockstatlog_entries RENAME TO sockstatlog_entries_v1;
    ALTER TABLE sockstatlog_entries_v1 RENAME CONSTRAINT sockstatlog_entries_key TO sockstatlog_entries_v1_key;
    ALTER INDEX sockstatlog_entries_log_t RENAME TO sockstatlog_entries_v1_log_t;
    ALTER INDEX sockstatlog_entries_pkey RENAME TO sockstatlog_entries_v1_pkey;

    CREATE TABLE sockstatlog_entries (
        log_id text NOT NULL,
        ord bigint NOT NULL,
        collection text NOT NULL,
        proc_id bigint,
        proc_seq bigint,
        received_at timestamptz NOT NULL DEFAULT now(),
        raw text NOT NULL,
        t bigint,
        d bigint,
        cellular boolean,
        s jsonb,
        CONSTRAINT sockstatlog_entries_pkey PRIMARY KEY (log_id, ord),
        CONSTRAINT sockstatlog_entries_key UNIQUE (log_id, proc_id, proc_seq)
    ) PARTITION BY HASH (log_id);
    CREATE INDEX sockstatlog_entries_log_t ON sockstatlog_entries (log_id, t);

    CREATE TABLE sockstatlog_rollup (
        log_id text NOT NULL,
        hour bigint NOT NULL,
        label smallint NOT NULL,
        cellular boolean NOT NULL,
        tx bigint NOT NULL,
        rx bigint NOT NULL,
        windows bigint NOT NULL,
        PRIMARY KEY (log_id, hour, label, cellular)
    ) PARTITION BY HASH (log_id);
    CREATE INDEX sockstatlog_rollup_hour ON sockstatlog_rollup (hour);

    CREATE TABLE sockstatlog_hours (
        log_id text NOT NULL,
        hour bigint NOT NULL,
        entries bigint NOT NULL,
        first_t bigint NOT NULL,
        last_t bigint NOT NULL,
        PRIMARY KEY (log_id, hour)
    ) PARTITION BY HASH (log_id);
    CREATE INDEX sockstatlog_hours_hour ON sockstatlog_hours (hour);

    CREATE TABLE sockstatlog_label_names (
        log_id text NOT NULL,
        label smallint NOT NULL,
        name text NOT NULL,
        PRIMARY KEY (log_id, label, name)
    ) PARTITION BY HASH (log_id);

    DO $$
    DECLARE tbl text; i int;
    BEGIN
        FOREACH tbl IN ARRAY ARRAY['sockstatlog_entries', 'sockstatlog_rollup', 'sockstatlog_hours',
                                   'sockstatlog_label_names'] LOOP
            FOR i IN 0 .. {PARTITIONS} - 1 LOOP
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER %s)',
                               tbl || '_p' || i, tbl, i);
            END LOOP;
        END LOOP;
    END $$;

    INSERT INTO sockstatlog_logs (log_id, public_id, collection, next_ord)
        SELECT log_id, encode(sha256(decode(log_id, 'hex')), 'hex'), min(collection), count(*)
        FROM sockstatlog_entries_v1 GROUP BY log_id;
    INSERT INTO sockstatlog_entries (log_id, ord, collection, proc_id, proc_seq, received_at, raw, t, d, cellular, s)
        SELECT log_id, row_number() OVER (PARTITION BY log_id ORDER BY id) - 1, collection, proc_id, proc_seq,
               received_at, raw, t, d, cellular, s
        FROM sockstatlog_entries_v1;
    DROP TABLE sockstatlog_entries_v1;

    INSERT INTO sockstatlog_hours (log_id, hour, entries, first_t, last_t)
        SELECT log_id, {HOUR_OF_T}, count(*), min(t), max(t)
        FROM sockstatlog_entries WHERE t IS NOT NULL GROUP BY 1, 2;
    INSERT INTO sockstatlog_rollup (log_id, hour, label, cellular, tx, rx, windows)
        SELECT e.log_id, {HOUR_OF_T}, l.key::smallint, coalesce(e.cellular, false),
               sum((l.value->>0)::bigint), sum((l.value->>1)::bigint), count(*)
        FROM sockstatlog_entries e CROSS JOIN LATERAL jsonb_each(e.s) AS l
        WHERE e.t IS NOT NULL GROUP BY 1, 2, 3, 4;
    INSERT INTO sockstatlog_label_names (log_id, label, name)
        SELECT DISTINCT e.log_id, n.key::smallint, n.value
        FROM sockstatlog_entries e CROSS JOIN LATERAL jsonb_each_text(
            CASE WHEN jsonb_typeof(e.raw::jsonb->'sockstatlog'->'labels') = 'object'
                 THEN e.raw::jsonb->'sockstatlog'->'labels' ELSE '{}' END) AS n
        WHERE e.raw LIKE '%"labels"%' AND n.key IN (SELECT generate_series(0, 255)::text);
"#;

/// The start of the hour (ms since the epoch) of an event time `t` (ms),
/// rounding down for times before 1970 too.
pub const HOUR_OF_T: &str = "(t - ((t % 3600000) + 3600000) % 3600000)";

/// The migrations, in order: (version, SQL). Never edit a released step; add
/// a new one.
pub fn migrations() -> Vec<(i32, String)> {
    let v2 = V2.replace("{PARTITIONS}", &PARTITIONS.to_string()).replace("{HOUR_OF_T}", HOUR_OF_T);
    vec![(1, V1.to_string()), (2, v2)]
}

/// The newest schema version.
pub const LATEST: i32 = 2;

/// Applies the migrations newer than the database's version (up to
/// `target`), each with its version row, under an advisory lock, in one
/// transaction. Idempotent.
pub async fn migrate_to(pool: &Pool, server: &str, target: i32) -> Result<()> {
    let err = |what: &str, e: &(dyn std::error::Error + 'static)| Error::Postgres {
        server: server.to_string(),
        what: what.to_string(),
        message: describe(e),
    };
    let mut client = pool.get().await.map_err(|e| err("connecting", &e))?;
    let tx = client.transaction().await.map_err(|e| err("migrating", &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(|e| err("locking", &e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sockstatlog_schema (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(|e| err("creating the schema table", &e))?;
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM sockstatlog_schema", &[])
        .await
        .map_err(|e| err("reading the schema version", &e))?;
    let current: i32 = row.get(0);
    for (version, sql) in migrations().into_iter().filter(|(v, _)| *v > current && *v <= target) {
        tx.batch_execute(&sql).await.map_err(|e| err(&format!("migration {version}"), &e))?;
        tx.execute("INSERT INTO sockstatlog_schema (version) VALUES ($1)", &[&version])
            .await
            .map_err(|e| err("recording the schema version", &e))?;
    }
    tx.commit().await.map_err(|e| err("committing the migration", &e))
}
