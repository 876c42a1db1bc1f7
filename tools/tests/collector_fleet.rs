//! The schema distributes by log ID and the fleet report is computed from
//! rollups kept with the inserts: a version-1 database migrates keeping its
//! rows; every table is hash-partitioned by `log_id` with `log_id` in every
//! unique key; `report --fleet` is exact under re-sent entries and names
//! labels and devices as the contract says; `--log-id` resolves any of a
//! device's IDs and refuses one with no log.
//!
//! Needs scripts/test-postgres.sh (`#[ignore]`d otherwise; with
//! `--include-ignored` it fails, never skips, without a cluster).

mod common {
    pub mod pg;
    pub mod upload;
}

use common::pg::{execute, fresh_db, query, rt};
use common::upload::*;
use serde_json::{json, Value};
use sockstatlog::logid::{sockstat_private_id, PrivateId, PublicId};
use sockstatlog_tools::collector::{pg, schema, Collector, Limits, StoreConfig};
use std::process::Command;

const HOUR: i64 = 3_600_000;
/// An hour start (2023-03-29 01:00 UTC) the events fall in.
const H0: i64 = 1_680_051_600_000;

fn pg_collector(url: &str) -> Collector {
    Collector::start_with(loopback(), StoreConfig::Postgres(url.to_string()), Limits::default(), true).unwrap()
}

fn post(addr: std::net::SocketAddr, id: &PrivateId, entries: &[String]) -> (u16, String) {
    let body = format!("[{}]", entries.join(","));
    let r = raw_request(addr, "POST", &format!("/c/{COLLECTION}/{}", id.to_hex()), &[], body.as_bytes());
    (r.status, String::from_utf8_lossy(&r.body).trim().to_string())
}

fn header(seq: u64, names: &[(u8, &str)]) -> String {
    let labels: serde_json::Map<String, Value> = names.iter().map(|(l, n)| (l.to_string(), json!(n))).collect();
    json!({"logtail": {"proc_id": 1, "proc_seq": seq}, "sockstatlog": {"v": 1, "poll_ms": 100, "labels": labels}})
        .to_string()
}

fn event(seq: u64, t: i64, cellular: bool, s: &[(u8, i64, i64)]) -> String {
    let s: serde_json::Map<String, Value> = s.iter().map(|(l, tx, rx)| (l.to_string(), json!([tx, rx]))).collect();
    json!({"logtail": {"proc_id": 1, "proc_seq": seq}, "t": t, "d": 1000, "c": i32::from(cellular), "s": s}).to_string()
}

fn sockstatlog(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sockstatlog")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
#[ignore = "needs SOCKSTATLOG_TEST_POSTGRES_URL (scripts/test-postgres.sh)"]
fn a_version_1_database_migrates_keeping_its_rows_in_order_and_rolled_up() {
    let url = fresh_db("migrate_v1");
    let (pool, server) = pg::pool_without_migrating(&url).unwrap();
    rt().block_on(schema::migrate_to(&pool, &server, 1)).unwrap();
    let (a, b) = (PrivateId([0xa1; 32]), PrivateId([0xb2; 32]));
    let rows = [
        (a, Some(1), header(1, &[(200, "Video")]), None, None, None),
        (b, Some(1), event(1, H0 + 5, false, &[(200, 1, 2)]), Some(H0 + 5), Some(false), Some(r#"{"200":[1,2]}"#)),
        (a, Some(2), event(2, H0 + 10, true, &[(200, 10, 20)]), Some(H0 + 10), Some(true), Some(r#"{"200":[10,20]}"#)),
        (a, None, r#"{"text":"unkeyed"}"#.to_string(), None, None, None),
        (a, Some(3), event(3, H0 + HOUR, false, &[(7, 3, 4)]), Some(H0 + HOUR), Some(false), Some(r#"{"7":[3,4]}"#)),
    ];
    for (id, seq, raw, t, c, s) in &rows {
        let lit = |v: Option<String>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
        execute(
            &url,
            &format!(
                "INSERT INTO sockstatlog_entries (log_id, collection, proc_id, proc_seq, raw, t, d, cellular, s) \
                 VALUES ('{}', 'c', {}, {}, '{raw}', {}, NULL, {}, {})",
                id.to_hex(),
                seq.map_or("NULL".into(), |_| "1".to_string()),
                seq.map_or("NULL".into(), |s| s.to_string()),
                t.map_or("NULL".into(), |t| t.to_string()),
                c.map_or("NULL".into(), |c| c.to_string()),
                lit(s.map(|s| s.to_string())),
            ),
        );
    }
    rt().block_on(pg::connect_pool(&url)).unwrap();
    // Every row kept, each log's in its old order.
    let got: Vec<(String, i64, String)> =
        query(&url, "SELECT log_id, ord, raw FROM sockstatlog_entries ORDER BY log_id, ord")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
    let want: Vec<(String, i64, String)> =
        [(a, 0, &rows[0].2), (a, 1, &rows[2].2), (a, 2, &rows[3].2), (a, 3, &rows[4].2), (b, 0, &rows[1].2)]
            .iter()
            .map(|(id, ord, raw)| (id.to_hex(), *ord, raw.to_string()))
            .collect();
    assert_eq!(got, want);
    let logs: Vec<(String, String, i64)> =
        query(&url, "SELECT log_id, public_id, next_ord FROM sockstatlog_logs ORDER BY log_id")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
    assert_eq!(logs, vec![(a.to_hex(), a.public().to_hex(), 4), (b.to_hex(), b.public().to_hex(), 1)]);
    let roll: Vec<(String, i64, i16, bool, i64, i64, i64)> = query(
        &url,
        "SELECT log_id, hour, label, cellular, tx, rx, windows FROM sockstatlog_rollup ORDER BY log_id, hour, label",
    )
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)))
    .collect();
    assert_eq!(
        roll,
        vec![
            (a.to_hex(), H0, 200, true, 10, 20, 1),
            (a.to_hex(), H0 + HOUR, 7, false, 3, 4, 1),
            (b.to_hex(), H0, 200, false, 1, 2, 1)
        ]
    );
    let names: Vec<(String, i16, String)> = query(&url, "SELECT log_id, label, name FROM sockstatlog_label_names")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(names, vec![(a.to_hex(), 200, "Video".to_string())]);
    // New uploads continue the log: the old keys are duplicates, new rows
    // come after the old ones.
    let col = pg_collector(&url);
    let next = event(4, H0 + 20, false, &[(200, 1, 1)]);
    assert_eq!(post(col.addr(), &a, &[rows[2].2.clone(), next.clone()]), (200, "stored 1".into()));
    let last = &query(
        &url,
        &format!("SELECT ord, raw FROM sockstatlog_entries WHERE log_id = '{}' ORDER BY ord DESC LIMIT 1", a.to_hex()),
    )[0];
    assert!(last.get::<_, i64>(0) > 3, "after the migrated rows");
    assert_eq!(last.get::<_, String>(1), next);
}

#[test]
#[ignore = "needs SOCKSTATLOG_TEST_POSTGRES_URL (scripts/test-postgres.sh)"]
fn every_table_is_hash_partitioned_by_log_id_with_log_id_in_every_unique_key() {
    let url = fresh_db("partitioned");
    rt().block_on(pg::connect_pool(&url)).unwrap();
    let partitioned: Vec<(String, String)> = query(
        &url,
        "SELECT c.relname::text, pg_get_partkeydef(c.oid) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid \
         ORDER BY 1",
    )
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let want: Vec<(String, String)> =
        ["sockstatlog_entries", "sockstatlog_hours", "sockstatlog_label_names", "sockstatlog_rollup"]
            .iter()
            .map(|t| (t.to_string(), "HASH (log_id)".to_string()))
            .collect();
    assert_eq!(partitioned, want);
    // Every unique index of every sockstatlog table (the schema version
    // table aside) contains log_id: what Citus requires too.
    let without: Vec<String> = query(
        &url,
        "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
         WHERE i.indisunique AND t.relname LIKE 'sockstatlog%' AND t.relname <> 'sockstatlog_schema' \
         AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = 'log_id' \
                         AND a.attnum = ANY (i.indkey))",
    )
    .iter()
    .map(|r| r.get(0))
    .collect();
    assert!(without.is_empty(), "unique keys without log_id: {without:?}");
    let serials: i64 =
        query(&url, "SELECT count(*) FROM pg_sequences WHERE sequencename LIKE 'sockstatlog%'")[0].get(0);
    assert_eq!(serials, 0, "no global sequence");
}

/// Three devices over two hours, every batch sent twice.
struct Fleet {
    url: String,
    backend: PublicId,
    ids: [PrivateId; 3],
}

fn upload_fleet() -> Fleet {
    let url = fresh_db("fleet");
    let backend = PublicId([0x42; 32]);
    let ids = [sockstat_private_id(&backend), PrivateId([0xb0; 32]), PrivateId([0xc0; 32])];
    let col = pg_collector(&url);
    let batches: [Vec<String>; 3] = [
        vec![
            header(1, &[(200, "Video")]),
            event(2, H0 + 1_000, true, &[(200, 5_000, 70_000), (7, 100, 200)]),
            event(3, H0 + 2_000, false, &[(200, 1_000, 2_000)]),
            event(4, H0 + HOUR + 1_000, false, &[(7, 50, 50)]),
        ],
        vec![header(1, &[(200, "Video"), (7, "Chat")]), event(2, H0 + 500, false, &[(200, 300, 400)])],
        vec![header(1, &[(200, "Vid")]), event(2, H0 + HOUR + 9_000, true, &[(9, 1, 1)])],
    ];
    for _ in 0..2 {
        for (id, batch) in ids.iter().zip(&batches) {
            assert_eq!(post(col.addr(), id, batch).0, 200);
        }
    }
    Fleet { url, backend, ids }
}

fn fleet_json(url: &str, extra: &[&str]) -> Value {
    let mut args = vec!["report", "--postgres", url, "--fleet", "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = sockstatlog(&args);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
#[ignore = "needs SOCKSTATLOG_TEST_POSTGRES_URL (scripts/test-postgres.sh)"]
fn the_fleet_report_is_exact_under_re_sent_entries_and_shaped_as_the_contract_says() {
    let f = upload_fleet();
    let pubs: Vec<String> = f.ids.iter().map(|i| i.public().to_hex()).collect();
    let want = json!({
        "devices": 3,
        "entries": 5,
        "from": H0 + 500,
        "to": H0 + HOUR + 9_000,
        "labels": [
            {"label": 200, "name": "Video", "tx": 6_300, "rx": 72_400, "cellular_tx": 5_000, "cellular_rx": 70_000, "devices": 2},
            {"label": 7, "name": "Chat", "tx": 150, "rx": 250, "cellular_tx": 100, "cellular_rx": 200, "devices": 1},
            {"label": 9, "name": null, "tx": 1, "rx": 1, "cellular_tx": 1, "cellular_rx": 1, "devices": 1},
        ],
        "top_devices": [
            {"log_id": pubs[0], "tx": 6_150, "rx": 72_250, "cellular_tx": 5_100, "cellular_rx": 70_200},
            {"log_id": pubs[1], "tx": 300, "rx": 400, "cellular_tx": 0, "cellular_rx": 0},
        ],
    });
    assert_eq!(fleet_json(&f.url, &["--top", "2"]), want);
    // --since inside the second hour keeps that whole hour only.
    let since = format!("{}", H0 + HOUR + 30 * 60_000);
    let since = sockstatlog_tools::report::calendar::datetime(since.parse().unwrap()).replace(' ', "T") + "Z";
    let later = fleet_json(&f.url, &["--since", &since]);
    assert_eq!((later["devices"].clone(), later["entries"].clone()), (json!(2), json!(2)));
    assert_eq!(later["labels"].as_array().unwrap().len(), 2);
    let (code, text, err) = sockstatlog(&["report", "--postgres", &f.url, "--fleet"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("3 devices") && text.contains("Video") && text.contains(&pubs[0]), "{text}");
    assert!(!text.contains(&f.ids[0].to_hex()), "never a private ID");
    let (code, _, err) = sockstatlog(&["report", "--postgres", &f.url, "--fleet", "--since", "yesterday"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--since"), "{err}");
}

#[test]
#[ignore = "needs SOCKSTATLOG_TEST_POSTGRES_URL (scripts/test-postgres.sh)"]
fn log_id_accepts_the_backend_id_and_either_sockstat_id_and_refuses_an_unknown_one() {
    let f = upload_fleet();
    let device = f.ids[0];
    let public = device.public().to_hex();
    let cases = [
        ("backend", f.backend.to_hex(), "backend ID"),
        ("private", device.to_hex(), "sockstat private ID"),
        ("public", public.clone(), "sockstat public ID"),
    ];
    let mut reports = Vec::new();
    for (name, id, said) in cases {
        let (code, out, err) = sockstatlog(&["report", "--json", "--postgres", &f.url, "--log-id", &id]);
        assert_eq!(code, Some(0), "{name}: {err}");
        assert!(err.contains(&public) && err.contains(said), "{name}: {err}");
        reports.push(serde_json::from_str::<Value>(&out).unwrap());
    }
    assert!(reports.windows(2).all(|w| w[0] == w[1]), "one log whichever ID named it");
    let unknown = PrivateId([0x77; 32]).to_hex();
    let (code, out, err) = sockstatlog(&["report", "--postgres", &f.url, "--log-id", &unknown]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty() && err.contains("no log in the database"), "{err}");
}
