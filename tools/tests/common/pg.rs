//! The private PostgreSQL cluster of scripts/test-postgres.sh, for tests: a
//! fresh database each, one-off queries, and stopping the whole cluster
//! (SIGSTOP to the postmaster and its children) to play a hung database.
#![allow(dead_code)]

/// A current-thread runtime for one call.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The cluster's URL (set by scripts/test-postgres.sh).
pub fn base_url() -> String {
    std::env::var("SOCKSTATLOG_TEST_POSTGRES_URL")
        .expect("SOCKSTATLOG_TEST_POSTGRES_URL must be set (scripts/test-postgres.sh does)")
}

/// A new, empty database on the test server; its URL.
pub fn fresh_db(name: &str) -> String {
    let base = base_url();
    let db = format!("sockstatlog_{name}_{:08x}", fastrand::u32(..));
    rt().block_on(async {
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("the test database at {base} is unreachable: {e}"));
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    });
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{db}")
}

/// Runs `sql` (any statements) and returns the last one's rows.
pub fn query(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    rt().block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.query(sql, &[]).await.unwrap()
    })
}

/// Runs statements that return nothing.
pub fn execute(url: &str, sql: &str) {
    rt().block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
    })
}

/// The cluster's processes: the postmaster (its pid from
/// SOCKSTATLOG_TEST_POSTGRES_PID) and its children.
fn cluster_pids() -> Vec<i32> {
    let main: i32 = std::env::var("SOCKSTATLOG_TEST_POSTGRES_PID")
        .expect("SOCKSTATLOG_TEST_POSTGRES_PID must be set (scripts/test-postgres.sh does)")
        .trim()
        .parse()
        .unwrap();
    let mut pids = vec![main];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // After the ")" closing the command name: state, then ppid.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok());
        if ppid == Some(main) {
            pids.push(pid);
        }
    }
    pids
}

/// The whole cluster stopped (SIGSTOP) until dropped (SIGCONT): a database
/// that accepts bytes and answers nothing.
pub struct Hung(Vec<i32>);

impl Hung {
    /// Stops every process of the cluster.
    pub fn stop() -> Hung {
        let pids = cluster_pids();
        for &p in &pids {
            // SAFETY: kill(2) on a process of the test's own cluster.
            assert_eq!(unsafe { libc::kill(p, libc::SIGSTOP) }, 0, "SIGSTOP {p}");
        }
        Hung(pids)
    }
}

impl Drop for Hung {
    fn drop(&mut self) {
        for &p in &self.0 {
            // SAFETY: as above.
            unsafe { libc::kill(p, libc::SIGCONT) };
        }
    }
}
