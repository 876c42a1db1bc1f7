//! A hung database gets an answer: with the whole PostgreSQL cluster stopped
//! (SIGSTOP), a request is answered 503 with Retry-After once the database
//! deadline passes, its transaction goes nowhere, and the client's retry
//! after the database is back stores each entry once, rollups included.
//! Alone in its binary: stopping the cluster would stall other tests.
//!
//! Needs scripts/test-postgres.sh (`#[ignore]`d otherwise; with
//! `--include-ignored` it fails, never skips, without a cluster).

mod common {
    pub mod pg;
    pub mod upload;
}

use common::pg::{fresh_db, query, Hung};
use common::upload::*;
use sockstatlog_tools::collector::{Collector, Limits, StoreConfig};
use std::time::Duration;

fn post(addr: std::net::SocketAddr, seqs: std::ops::RangeInclusive<u64>) -> RawResponse {
    let body = format!("[{}]", seqs.map(|s| entry(6, s)).collect::<Vec<_>>().join(","));
    raw_request(addr, "POST", &format!("/c/{COLLECTION}/{}", test_id().to_hex()), &[], body.as_bytes())
}

#[test]
#[ignore = "needs SOCKSTATLOG_TEST_POSTGRES_URL (scripts/test-postgres.sh)"]
fn a_stopped_database_is_answered_503_with_retry_after_and_the_retry_stores_once() {
    let url = fresh_db("hung");
    let limits = Limits { db_deadline: Duration::from_millis(500), ..Limits::default() };
    let col = Collector::start_with(loopback(), StoreConfig::Postgres(url.clone()), limits, true).unwrap();
    assert_eq!(post(col.addr(), 1..=5).status, 200);
    let answer = {
        let _hung = Hung::stop();
        post(col.addr(), 6..=10)
    };
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    assert_eq!(answer.status, 503, "{text}");
    assert!(answer.header("retry-after").is_some(), "Retry-After is sent");
    assert!(text.contains("no answer within 500 ms") && text.contains("rolled back"), "{text}");
    // The database is back: the client's retry stores the batch, once.
    let retry = post(col.addr(), 6..=10);
    assert_eq!((retry.status, String::from_utf8_lossy(&retry.body).trim()), (200, "stored 5"));
    assert_eq!(post(col.addr(), 1..=10).status, 200);
    let row = &query(
        &url,
        "SELECT count(*), count(DISTINCT proc_seq), \
         (SELECT sum(windows)::int8 FROM sockstatlog_rollup), \
         (SELECT sum(tx)::int8 FROM sockstatlog_rollup WHERE label = 2), \
         (SELECT sum(entries)::int8 FROM sockstatlog_hours) FROM sockstatlog_entries",
    )[0];
    let got: (i64, i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    // entry(6, s) carries label 2 with tx = s and label 11: two windows each.
    assert_eq!(got, (10, 10, 20, 55, 10), "every entry and its rollup exactly once");
    assert!(col.stats().busy >= 1);
}
