//! How many SQL statements a database has run, for benchmarks that report
//! statements per request: SQLite counts them as it runs them (a trace hook
//! on every connection this process opens), PostgreSQL from the server's
//! `pg_stat_statements`.

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use rusqlite::trace::TraceEventCodes;

use crate::StoreError;

/// Statements this process has started on any SQLite connection.
static SQLITE_STATEMENTS: AtomicU64 = AtomicU64::new(0);

/// Counts every statement `conn` starts, into [`SQLITE_STATEMENTS`]. An
/// atomic add per statement: cheap enough to leave on.
pub(crate) fn count_on(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(|_: rusqlite::trace::TraceEvent<'_>| {
            SQLITE_STATEMENTS.fetch_add(1, Ordering::Relaxed);
        }),
    )
}

/// Reads how many statements a database has run so far; the difference of
/// two readings is what ran in between.
pub struct StatementCounter {
    source: Source,
}

enum Source {
    Sqlite,
    Postgres(tokio_postgres::Client),
}

impl StatementCounter {
    /// Counts what `conn`, a SQLite connection opened outside the store
    /// (a benchmark's peer), runs, with the store's own statements.
    pub fn watch_sqlite(conn: &mut Connection) -> Result<(), StoreError> {
        count_on(conn).map_err(|e| StoreError::database("cannot watch the connection", e))
    }

    /// A counter for the database `url` names. For SQLite it counts what
    /// this process runs on every SQLite database; for PostgreSQL what any
    /// client ran on that database, from `pg_stat_statements`, and `None`
    /// when the server was not started with it in
    /// `shared_preload_libraries` (`scripts/test-postgres.sh` starts it so).
    pub async fn connect(url: &str) -> Result<Option<StatementCounter>, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Ok(Some(StatementCounter { source: Source::Sqlite }));
        }
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        tokio::spawn(connection);
        if client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await
            .is_err()
        {
            return Ok(None);
        }
        let mut counter = StatementCounter {
            source: Source::Postgres(client),
        };
        match counter.so_far().await {
            Ok(_) => Ok(Some(counter)),
            // "must be loaded via shared_preload_libraries"
            Err(_) => Ok(None),
        }
    }

    /// Statements run so far, less the counter's own readings.
    pub async fn so_far(&mut self) -> Result<u64, StoreError> {
        match &mut self.source {
            Source::Sqlite => Ok(SQLITE_STATEMENTS.load(Ordering::Relaxed)),
            Source::Postgres(client) => {
                let row = client
                    .query_one(
                        "SELECT COALESCE(SUM(calls), 0)::BIGINT, \
                         COALESCE(SUM(calls) FILTER (WHERE query LIKE '%FROM pg_stat_statements%'), 0)::BIGINT \
                         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                        &[],
                    )
                    .await
                    .map_err(|e| StoreError::database("cannot read pg_stat_statements", e))?;
                let (all, own): (i64, i64) = (row.get(0), row.get(1));
                Ok((all - own).max(0) as u64)
            }
        }
    }
}
