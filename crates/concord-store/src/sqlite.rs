//! Embedded SQLite: one writer connection (writes are serialised, as SQLite
//! requires), several reader connections in WAL mode, all in this process.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use concord_concept::state::{
    Claim, CollectionSpec, LogEntry, Op, OpResult, OpenFlow, Resumption, StateBackend, StateTx,
};
use concord_concept::{BoxFuture, StateError};
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::group_commit::{SharedWriter, Turn, Use};
use crate::journal::{self, Journal, open_claimed};
use crate::log_queue::{Batch, LogQueue};
use crate::schema::{self, LATEST};
use crate::sql::{self, Dialect, Param, Shape};
use crate::{Backend, FlowSummary, LogRow, Retention, StoreError};

pub(crate) struct Sqlite {
    writer: SharedWriter,
    readers: Vec<Mutex<Connection>>,
    next: AtomicUsize,
    log: LogQueue,
    journal: Arc<Journal>,
}

const READERS: usize = 4;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL: readers never block the writer. NORMAL: a commit survives the
    // process being killed (the WAL is in the OS cache); only a power loss
    // can cost the last commits.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Apps run a few hundred distinct statements (one per query shape and
    // collection); the default cache of 16 made SQLite re-parse them.
    conn.set_prepared_statement_cache_capacity(512);
    // Checkpoint the WAL every ~32 MiB rather than every 4 MiB: a log-heavy
    // load otherwise spends its time copying pages back and syncing.
    conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
    Ok(())
}

pub(crate) fn backend_error(e: rusqlite::Error) -> StateError {
    if let rusqlite::Error::SqliteFailure(err, Some(msg)) = &e
        && err.code == rusqlite::ErrorCode::ConstraintViolation
        && msg.starts_with("UNIQUE constraint failed")
    {
        // "UNIQUE constraint failed: index 'c__A__users__u__username'" or
        // "UNIQUE constraint failed: c__A__users.id"
        let name = msg.rsplit([' ', '\'']).find(|s| !s.is_empty()).unwrap_or_default();
        return StateError::Unique {
            collection: String::new(),
            field: sql::field_of_index(name),
        };
    }
    StateError::Backend(e.to_string())
}

fn store_error(e: rusqlite::Error) -> StoreError {
    StoreError::database(e.to_string(), e)
}

fn to_sql(p: &Param) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match p {
        Param::Text(s) => V::Text(s.clone()),
        Param::Json(v) => V::Text(v.to_string()),
        Param::Scalar(v) => match v {
            Value::Null => V::Null,
            Value::Bool(b) => V::Integer(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => V::Integer(i),
                None => V::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => V::Text(s.clone()),
            other => V::Text(other.to_string()),
        },
        // The SQLite dialect spells lists out (`IN (?1, ?2)`): never built.
        Param::TextArray(ids) => V::Text(serde_json::json!(ids).to_string()),
        Param::ScalarArray(vs) => V::Text(Value::Array(vs.clone()).to_string()),
    }
}

fn run_op(conn: &Connection, op: &Op) -> Result<OpResult, StateError> {
    run_statement(conn, op).map_err(|e| crate::name_collection(e, op))
}

fn run_statement(conn: &Connection, op: &Op) -> Result<OpResult, StateError> {
    let (stmt, shape) = sql::statement(Dialect::Sqlite, op)?;
    let params: Vec<rusqlite::types::Value> = stmt.params.iter().map(to_sql).collect();
    let mut prepared = conn.prepare_cached(&stmt.text).map_err(backend_error)?;
    match shape {
        Shape::Docs => {
            let rows = prepared
                .query_map(params_from_iter(params), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(backend_error)?;
            let mut docs = Vec::new();
            for row in rows {
                let (id, text) = row.map_err(backend_error)?;
                let doc = serde_json::from_str(&text).map_err(|e| StateError::Decode(e.to_string()))?;
                docs.push((id, doc));
            }
            Ok(OpResult::Docs(docs))
        }
        Shape::Count => {
            let n: i64 = prepared
                .query_row(params_from_iter(params), |r| r.get(0))
                .map_err(backend_error)?;
            Ok(OpResult::Count(n as u64))
        }
        Shape::Affected => Ok(OpResult::Count(
            prepared.execute(params_from_iter(params)).map_err(backend_error)? as u64,
        )),
    }
}

const LOG_INSERT: &str = "INSERT INTO concord_log \
     (id, flow, seq, concept, action, input, error, output, sync, matched, started_at, completed_at, kept, bytes) \
     VALUES ";

/// Log rows per INSERT statement when writing a batch: one statement for many
/// rows costs SQLite far less than one per row.
const LOG_ROWS_PER_INSERT: usize = 32;

fn log_params(row: LogRow<'_>) -> [rusqlite::types::Value; 14] {
    use rusqlite::types::Value as V;
    let e = row.entry;
    let bytes = row.bytes();
    [
        V::Text(e.id.clone()),
        V::Text(e.flow.clone()),
        V::Integer(i64::from(e.seq)),
        V::Text(e.concept.clone()),
        V::Text(e.action.clone()),
        V::Text(row.input),
        V::Integer(i64::from(e.error)),
        V::Text(row.output),
        e.sync.clone().map_or(V::Null, V::Text),
        V::Text(row.matched),
        V::Integer(e.started_at),
        V::Integer(e.completed_at),
        V::Integer(i64::from(e.kept)),
        V::Integer(bytes),
    ]
}

/// Inserts log rows, up to [`LOG_ROWS_PER_INSERT`] per statement.
fn insert_logs(conn: &Connection, entries: &[LogEntry]) -> Result<(), StateError> {
    for chunk in entries.chunks(LOG_ROWS_PER_INSERT) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut stmt = conn
            .prepare_cached(&format!("{LOG_INSERT}{rows}"))
            .map_err(backend_error)?;
        let params: Vec<rusqlite::types::Value> = chunk.iter().map(LogRow::new).flat_map(log_params).collect();
        stmt.execute(rusqlite::params_from_iter(params))
            .map_err(backend_error)?;
    }
    Ok(())
}

/// Runs `f` in a write transaction of its own, or in a savepoint of the
/// transaction already open.
fn in_transaction(conn: &Connection, f: impl FnOnce() -> Result<(), StateError>) -> Result<(), StateError> {
    let (begin, commit, rollback) = if conn.is_autocommit() {
        ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
    } else {
        (
            "SAVEPOINT concord_part",
            "RELEASE concord_part",
            "ROLLBACK TO concord_part; RELEASE concord_part",
        )
    };
    conn.execute_batch(begin).map_err(backend_error)?;
    match f().and_then(|()| conn.execute_batch(commit).map_err(backend_error)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = conn.execute_batch(rollback);
            Err(e)
        }
    }
}

/// Deletes the journals of the `closed` flows `node` owns.
fn close_journals(conn: &Connection, closed: &[String], node: &str) -> Result<(), StateError> {
    let mut delete = conn.prepare_cached(journal::DELETE).map_err(backend_error)?;
    for flow in closed {
        delete.execute(rusqlite::params![flow, node]).map_err(backend_error)?;
    }
    Ok(())
}

/// Writes a batch of records (and closes its flows' journals) in one
/// transaction; if that fails, each record on its own, so that one bad
/// record costs only itself.
fn write_batch(conn: &Connection, batch: &Batch, node: &str) -> Result<(), StateError> {
    let all = || insert_logs(conn, &batch.entries).and_then(|()| close_journals(conn, &batch.closed, node));
    // One INSERT is atomic by itself: a batch that is one statement needs
    // no BEGIN and COMMIT around it.
    let single = batch.closed.is_empty() && batch.entries.len() <= LOG_ROWS_PER_INSERT;
    let written = if single { all() } else { in_transaction(conn, all) };
    let Err(batch_error) = written else {
        return Ok(());
    };
    let mut lost = 0;
    for entry in &batch.entries {
        if in_transaction(conn, || insert_logs(conn, std::slice::from_ref(entry))).is_err() {
            lost += 1;
        }
    }
    in_transaction(conn, || close_journals(conn, &batch.closed, node))?;
    match lost {
        0 => Ok(()),
        _ => Err(StateError::Backend(format!(
            "{lost} of {} record(s) could not be written ({batch_error})",
            batch.entries.len()
        ))),
    }
}

/// Writes a log batch, then trims read-only flows' records when due.
fn write_and_trim(
    conn: &Connection,
    batch: &Batch,
    node: &str,
    trim: &crate::log_queue::TrimSchedule,
) -> Result<(), StateError> {
    let written = write_batch(conn, batch, node);
    if trim.due(&batch.entries) {
        let trimmed = conn
            .prepare_cached(crate::TRIM_READ_ONLY)
            .and_then(|mut s| s.execute([trim.window() as i64]));
        if let Err(e) = trimmed {
            tracing::warn!(target: "concord::store", "could not trim read-only flows from the log: {e}");
        }
    }
    written
}

fn read_log_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LogEntry> {
    let json = |i: usize| -> rusqlite::Result<Value> {
        let text: String = row.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let object = |v: Value| match v {
        Value::Object(m) => m,
        _ => Default::default(),
    };
    Ok(LogEntry {
        id: row.get(0)?,
        flow: row.get(1)?,
        seq: row.get(2)?,
        concept: row.get(3)?,
        action: row.get(4)?,
        input: object(json(5)?),
        error: row.get(6)?,
        output: object(json(7)?),
        sync: row.get(8)?,
        matched: match json(9)? {
            Value::Array(a) => a.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        },
        started_at: row.get(10)?,
        completed_at: row.get(11)?,
        kept: row.get(12)?,
    })
}

const LOG_COLUMNS: &str =
    "id, flow, seq, concept, action, input, error, output, sync, matched, started_at, completed_at, kept";

impl Sqlite {
    /// Opens (creating if needed) the database file at `path`, or an
    /// in-memory database for `None`, and brings its schema up to date.
    /// Records of read-only flows beyond the newest `read_only_window` are
    /// trimmed as new ones are written.
    pub(crate) fn open(path: Option<&Path>, read_only_window: u64, journal: Journal) -> Result<Self, StoreError> {
        let journal = Arc::new(journal);
        let open = || -> Result<Connection, StoreError> {
            let mut conn = match path {
                Some(p) => Connection::open(p),
                None => Connection::open_in_memory(),
            }
            .map_err(store_error)?;
            configure(&conn).map_err(store_error)?;
            crate::statements::count_on(&mut conn).map_err(store_error)?;
            Ok(conn)
        };
        if let Some(dir) = path.and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::database(format!("cannot create {}: {e}", dir.display()), e))?;
        }
        let writer = open()?;
        migrate(&writer)?;
        // An in-memory database exists only on its one connection.
        let readers = match path {
            Some(_) => (0..READERS).map(|_| open().map(Mutex::new)).collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let writer = SharedWriter::new(writer);
        let batch_writer = writer.clone();
        let trim = Arc::new(crate::log_queue::TrimSchedule::new(read_only_window));
        let batch_journal = journal.clone();
        let log = LogQueue::start(Arc::new(move |batch: Batch| {
            let writer = batch_writer.clone();
            let trim = trim.clone();
            let journal = batch_journal.clone();
            Box::pin(async move {
                // A batch joins the actions' group commit when there is one.
                match writer.turn_or_alone().await? {
                    Use::Alone(conn) => write_and_trim(&conn, &batch, &journal.node, &trim),
                    Use::Grouped(turn) => {
                        let written = write_and_trim(turn.conn()?, &batch, &journal.node, &trim);
                        turn.commit().await.and(written)
                    }
                }
            })
        }));
        Ok(Sqlite {
            writer,
            readers,
            next: AtomicUsize::new(0),
            log,
            journal,
        })
    }

    async fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        if self.readers.is_empty() {
            // What a read sees is committed: no group is left open.
            let conn = self.writer.settled().await;
            return f(&conn);
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = self.readers[i].lock().await;
        f(&conn)
    }
}

fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.execute_batch(schema::META).map_err(store_error)?;
    let v: Option<String> = conn
        .query_row("SELECT value FROM concord_meta WHERE key = 'schema_version'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(store_error)?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(store_error)?;
    let result = (|| {
        let found = schema_version(conn)?;
        if found > LATEST {
            return Err(schema::too_new(found));
        }
        for v in found + 1..=LATEST {
            for stmt in schema::migration(Dialect::Sqlite, v) {
                conn.execute_batch(&stmt).map_err(store_error)?;
            }
            conn.execute(
                "INSERT INTO concord_meta (key, value) VALUES ('schema_version', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [v.to_string()],
            )
            .map_err(store_error)?;
            if found > 0 {
                tracing::info!(target: "concord::store", "migrated the database schema to version {v}");
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(store_error),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

pub(crate) struct SqliteTx {
    turn: Option<Turn>,
    journal: Arc<Journal>,
}

impl SqliteTx {
    fn conn(&self) -> Result<&Connection, StateError> {
        match &self.turn {
            Some(turn) => turn.conn(),
            None => Err(StateError::Backend("transaction already finished".into())),
        }
    }
}

impl StateTx for SqliteTx {
    fn run(&mut self, op: Op) -> BoxFuture<'_, Result<OpResult, StateError>> {
        Box::pin(async move { run_op(self.conn()?, &op) })
    }

    fn write_journal(&mut self, flow: &str, snapshot: Option<Vec<u8>>) -> BoxFuture<'_, Result<(), StateError>> {
        let flow = flow.to_string();
        Box::pin(async move {
            let conn = self.conn()?;
            let journal = &self.journal;
            let changed = match snapshot {
                Some(snapshot) => conn
                    .prepare_cached(journal::UPSERT)
                    .and_then(|mut s| {
                        s.execute(rusqlite::params![
                            flow,
                            journal.node,
                            journal.lease_until(),
                            crate::now_micros(),
                            journal.seal(&snapshot)
                        ])
                    })
                    .map_err(backend_error)?,
                None => conn
                    .prepare_cached(journal::DELETE)
                    .and_then(|mut s| s.execute(rusqlite::params![flow, journal.node]))
                    .map_err(backend_error)?,
            };
            match changed {
                0 => Err(StateError::FlowTakenOver),
                _ => Ok(()),
            }
        })
    }

    fn commit(mut self: Box<Self>, entries: Vec<LogEntry>) -> BoxFuture<'static, Result<(), StateError>> {
        Box::pin(async move {
            let Some(turn) = self.turn.take() else {
                return Err(StateError::Backend("transaction already finished".into()));
            };
            // Dropped on failure, the turn undoes its writes.
            insert_logs(turn.conn()?, &entries)?;
            turn.commit().await
        })
    }
}

impl StateBackend for Sqlite {
    fn read(&self, op: Op) -> BoxFuture<'_, Result<OpResult, StateError>> {
        Box::pin(async move { self.with_reader(|c| run_op(c, &op)).await })
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn StateTx>, StateError>> {
        Box::pin(async move {
            Ok(Box::new(SqliteTx {
                turn: Some(self.writer.turn().await?),
                journal: self.journal.clone(),
            }) as Box<dyn StateTx>)
        })
    }

    fn append_log(&self, entry: LogEntry) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move { self.log.push(entry) })
    }

    fn flush_log(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.log.flush())
    }

    fn finish_flow(&self, flow: String, entries: Vec<LogEntry>) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move { self.log.finish(flow, entries) })
    }

    fn claim_flows(&self, claim: Claim) -> BoxFuture<'_, Result<Vec<OpenFlow>, StateError>> {
        Box::pin(async move {
            // One process owns an SQLite database: at its start every open
            // flow is an interrupted one of its own; later there are none.
            if claim == Claim::Expired {
                return Ok(Vec::new());
            }
            let conn = self.writer.settled().await;
            let journal = &self.journal;
            let mut rows = Vec::new();
            in_transaction(&conn, || {
                let mut select = conn
                    .prepare_cached("SELECT flow, owner, snapshot FROM concord_journal ORDER BY updated_at")
                    .map_err(backend_error)?;
                rows = select
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .and_then(|rows| rows.collect::<Result<Vec<(String, String, Vec<u8>)>, _>>())
                    .map_err(backend_error)?;
                conn.execute(
                    "UPDATE concord_journal SET owner = $1, lease_until = $2",
                    rusqlite::params![journal.node, journal.lease_until()],
                )
                .map_err(backend_error)?;
                Ok(())
            })?;
            // One node: a snapshot it cannot open stays for a restart with
            // the right key.
            Ok(open_claimed(journal, rows.into_iter()).0)
        })
    }

    fn renew_leases(&self) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async { Ok(()) })
    }

    fn note_resumption(
        &self,
        flow: String,
        from_seq: u32,
        previous_owner: String,
    ) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            let conn = self.writer.settled().await;
            conn.execute(
                journal::NOTE_RESUMPTION,
                rusqlite::params![flow, crate::now_micros(), from_seq, self.journal.node, previous_owner],
            )
            .map_err(backend_error)?;
            Ok(())
        })
    }
}

impl Backend for Sqlite {
    fn open_flow_owner(&self, flow: String) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            self.with_reader(|conn| {
                conn.prepare_cached(journal::OWNER)?
                    .query_row([&flow], |r| r.get(0))
                    .optional()
            })
            .await
            .map_err(store_error)
        })
    }

    fn resumptions(&self, flow: String) -> BoxFuture<'_, Result<Vec<Resumption>, StoreError>> {
        Box::pin(async move {
            self.with_reader(|conn| {
                let mut select = conn.prepare_cached(journal::RESUMPTIONS)?;
                let rows = select.query_map([&flow], |r| {
                    Ok(Resumption {
                        flow: r.get(0)?,
                        at: r.get(1)?,
                        from_seq: r.get(2)?,
                        node: r.get(3)?,
                        previous_owner: r.get(4)?,
                    })
                })?;
                rows.collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(store_error)
        })
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn ensure_collections(&self, specs: Vec<CollectionSpec>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let conn = self.writer.settled().await;
            for spec in &specs {
                for stmt in
                    sql::create_collection(Dialect::Sqlite, spec).map_err(|e| StoreError::database(e.to_string(), e))?
                {
                    conn.execute_batch(&stmt).map_err(store_error)?;
                }
                conn.execute(
                    "INSERT INTO concord_collections (name, spec) VALUES (?1, ?2) \
                     ON CONFLICT (name) DO UPDATE SET spec = excluded.spec",
                    [spec.name.clone(), crate::spec_json(spec)],
                )
                .map_err(store_error)?;
            }
            Ok(())
        })
    }

    fn flow_log(&self, flow: String) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>> {
        Box::pin(async move {
            self.log.flush().await;
            self.with_reader(|c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {LOG_COLUMNS} FROM concord_log WHERE flow = ?1 ORDER BY seq"
                    ))
                    .map_err(store_error)?;
                let rows = s.query_map([flow], read_log_row).map_err(store_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(store_error)
            })
            .await
        })
    }

    fn flows(&self, since: i64, until: i64, limit: u32) -> BoxFuture<'_, Result<Vec<FlowSummary>, StoreError>> {
        Box::pin(async move {
            self.log.flush().await;
            self.with_reader(|c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT flow, MIN(started_at), MAX(completed_at), COUNT(*) FROM concord_log \
                         GROUP BY flow HAVING MIN(started_at) >= ?1 AND MIN(started_at) < ?2 \
                         ORDER BY MIN(started_at) DESC LIMIT ?3",
                    )
                    .map_err(store_error)?;
                let rows = s
                    .query_map(rusqlite::params![since, until, limit], |r| {
                        Ok(FlowSummary {
                            flow: r.get(0)?,
                            started_at: r.get(1)?,
                            completed_at: r.get(2)?,
                            actions: r.get::<_, i64>(3)? as u64,
                        })
                    })
                    .map_err(store_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(store_error)
            })
            .await
        })
    }

    fn prune(&self, retention: Retention) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            self.log.flush().await;
            let mut pruned = 0;
            if let Some(before) = retention.before {
                let conn = self.writer.settled().await;
                pruned += conn.execute(crate::PRUNE_BEFORE, [before]).map_err(store_error)? as u64;
                conn.execute(journal::PRUNE_RESUMPTIONS, [before])
                    .map_err(store_error)?;
            }
            if let Some(max) = retention.max_bytes {
                let cutoff = self
                    .with_reader(|c| {
                        c.query_row(crate::SIZE_CUTOFF, [max as i64], |r| r.get::<_, i64>(0))
                            .optional()
                            .map_err(store_error)
                    })
                    .await?;
                if let Some(cutoff) = cutoff {
                    let conn = self.writer.settled().await;
                    pruned += conn.execute(crate::PRUNE_FROM, [cutoff]).map_err(store_error)? as u64;
                }
            }
            Ok(pruned)
        })
    }

    fn log_size(&self) -> BoxFuture<'_, Result<(u64, u64), StoreError>> {
        Box::pin(async move {
            self.log.flush().await;
            self.with_reader(|c| {
                c.query_row("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM concord_log", [], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
                })
                .map_err(store_error)
            })
            .await
        })
    }

    fn schema_version(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move { schema_version(&*self.writer.settled().await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_transaction_inside_an_open_one_is_a_savepoint() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT PRIMARY KEY)").unwrap();
        // Alone: its own transaction, undone whole when it fails.
        let failed = in_transaction(&conn, || {
            conn.execute("INSERT INTO t VALUES ('a')", []).map_err(backend_error)?;
            Err(StateError::Backend("refused".into()))
        });
        assert!(failed.is_err());
        assert_eq!(count(&conn), 0);
        assert!(conn.is_autocommit());
        // Inside a group's transaction: only its own part is undone, and
        // the transaction stays open for the group to commit.
        conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES ('group')")
            .unwrap();
        let failed = in_transaction(&conn, || {
            conn.execute("INSERT INTO t VALUES ('part')", [])
                .map_err(backend_error)?;
            Err(StateError::Backend("refused".into()))
        });
        assert!(failed.is_err());
        assert!(!conn.is_autocommit());
        in_transaction(&conn, || {
            conn.execute("INSERT INTO t VALUES ('kept')", [])
                .map(drop)
                .map_err(backend_error)
        })
        .unwrap();
        conn.execute_batch("COMMIT").unwrap();
        let rows: Vec<String> = conn
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows, ["group", "kept"]);
    }
}
