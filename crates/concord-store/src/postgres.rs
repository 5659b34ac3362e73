//! PostgreSQL: a small connection pool; each action's writes in one
//! transaction on one connection. Several engine processes can share one
//! database: uniqueness is enforced by the database's indexes, and schema
//! migrations take an advisory lock.

use std::collections::HashMap;
use std::sync::Arc;

use concord_concept::state::{
    Claim, CollectionSpec, LogEntry, Op, OpResult, OpenFlow, Resumption, StateBackend, StateTx,
};
use concord_concept::{BoxFuture, StateError};
use serde_json::Value;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::journal::{self, Journal, open_claimed};
use crate::log_queue::{Batch, LogQueue};
use crate::schema::{self, LATEST};
use crate::sql::{self, Dialect, Param, Shape};
use crate::{Backend, FlowSummary, LogRow, Retention, StoreError};

/// Shared read connections (see [`Postgres::reader`]): one per core, 2 to
/// 8. Fewer connections pipeline more; more let the server use more cores
/// (on 2 cores, 2 readers gave 575 list requests/s, 4 gave 534, 8 gave 489).
fn reader_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// Arbitrary constant for `pg_advisory_xact_lock` during migrations.
const MIGRATION_LOCK: i64 = 0x0063_6f6e_636f_7264;

struct Pool {
    url: String,
    idle: Mutex<Vec<PgConn>>,
    permits: Arc<Semaphore>,
}

/// A connection and the statements prepared on it: each operation is then
/// one round trip instead of two (prepare, execute).
struct PgConn {
    client: Client,
    statements: std::sync::Mutex<HashMap<String, Statement>>,
}

/// Prepared statements kept per connection (an app has a few hundred).
const STATEMENT_CACHE: usize = 1024;

impl PgConn {
    async fn prepare_cached(&self, text: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(found) = self.statements.lock().unwrap_or_else(|e| e.into_inner()).get(text) {
            return Ok(found.clone());
        }
        let prepared = self.client.prepare(text).await?;
        let mut cache = self.statements.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(text.to_string(), prepared.clone());
        Ok(prepared)
    }
}

impl std::ops::Deref for PgConn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

struct Pooled {
    client: Option<PgConn>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for Pooled {
    type Target = PgConn;
    fn deref(&self) -> &PgConn {
        self.client.as_ref().expect("present until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
            && let Ok(mut idle) = self.pool.idle.try_lock()
        {
            idle.push(client);
        }
    }
}

impl Pool {
    async fn get(self: &Arc<Self>) -> Result<Pooled, String> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        let reuse = {
            let mut idle = self.idle.lock().await;
            let mut found = None;
            while let Some(c) = idle.pop() {
                if !c.is_closed() {
                    found = Some(c);
                    break;
                }
            }
            found
        };
        let client = match reuse {
            Some(c) => c,
            None => connect(&self.url).await?,
        };
        Ok(Pooled {
            client: Some(client),
            pool: self.clone(),
            _permit: permit,
        })
    }
}

async fn connect(url: &str) -> Result<PgConn, String> {
    connect_as(url, "concord").await
}

/// Connects with `application_name` set, so an operator can tell the
/// store's connections apart in `pg_stat_activity`.
async fn connect_as(url: &str, application: &str) -> Result<PgConn, String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| e.to_string())?;
    if config.get_application_name().is_none() {
        config.application_name(application);
    }
    // The planner prices reading a jsonb field as one cheap operator, so on
    // tables of a few thousand documents it scans them all rather than use
    // the index a concept declared for the lookup, and is several times
    // slower for it (a batched `_tagsOf` over 900 tag links: a 0.5 ms scan
    // and a new plan per call, against 0.15 ms from the index and a cached
    // plan). Every lookup and sort the store sends is on an id or a declared
    // index, so it tells the planner to prefer them; a query no index
    // serves is still answered by a scan.
    let options = match config.get_options() {
        Some(o) => format!("{o} -c enable_seqscan=off"),
        None => "-c enable_seqscan=off".to_string(),
    };
    config.options(&options);
    let (client, connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(target: "concord::store", "postgres connection ended: {e}");
        }
    });
    Ok(PgConn {
        client,
        statements: std::sync::Mutex::new(HashMap::new()),
    })
}

pub(crate) struct Postgres {
    pool: Arc<Pool>,
    /// Connections shared by reads outside transactions: tokio-postgres
    /// pipelines concurrent queries on one connection, so many flows' reads
    /// travel together instead of each taking a connection of its own.
    readers: Vec<tokio::sync::RwLock<Arc<PgConn>>>,
    next_reader: std::sync::atomic::AtomicUsize,
    log: LogQueue,
    journal: Arc<Journal>,
    /// Open flows whose snapshots this node's key cannot open: given back,
    /// and not claimed again by this process.
    sealed_elsewhere: std::sync::Mutex<std::collections::HashSet<String>>,
}

fn backend_error(e: tokio_postgres::Error) -> StateError {
    use tokio_postgres::error::SqlState;
    if let Some(db) = e.as_db_error()
        && (db.code() == &SqlState::T_R_SERIALIZATION_FAILURE || db.code() == &SqlState::T_R_DEADLOCK_DETECTED)
    {
        return StateError::Conflict;
    }
    if let Some(db) = e.as_db_error()
        && db.code() == &SqlState::UNIQUE_VIOLATION
    {
        return StateError::Unique {
            collection: String::new(),
            field: sql::field_of_index(db.constraint().unwrap_or_default()),
        };
    }
    let message = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    let ended = connection_ended(&e);
    if ended {
        StateError::Disconnected(message)
    } else {
        StateError::Backend(message)
    }
}

/// Whether `e` says the connection is gone rather than the statement
/// failed: closed, broken at the socket, or ended by the server
/// (`57P01`–`57P03`: shutdown, crash, not accepting connections; class `08`:
/// connection exceptions). Whatever the timing, a terminated backend shows
/// as one of these.
fn connection_ended(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        return [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ]
        .contains(code)
            || code.code().starts_with("08");
    }
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

fn store_error(e: tokio_postgres::Error) -> StoreError {
    let message = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    StoreError::database(message, e)
}

fn to_sql(p: &Param) -> Box<dyn ToSql + Sync + Send> {
    match p {
        Param::Text(s) => Box::new(s.clone()),
        Param::Json(v) | Param::Scalar(v) => Box::new(Json(v.clone())),
        Param::TextArray(ids) => Box::new(ids.clone()),
        Param::ScalarArray(vs) => Box::new(vs.iter().cloned().map(Json).collect::<Vec<_>>()),
    }
}

async fn run_op(client: &PgConn, op: &Op) -> Result<OpResult, StateError> {
    let (stmt, shape) = sql::statement(Dialect::Postgres, op)?;
    let params: Vec<Box<dyn ToSql + Sync + Send>> = stmt.params.iter().map(to_sql).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    let prepared = client.prepare_cached(&stmt.text).await.map_err(backend_error)?;
    let named = |e| crate::name_collection(e, op);
    match shape {
        Shape::Docs => {
            let rows = client
                .query(&prepared, &refs)
                .await
                .map_err(backend_error)
                .map_err(named)?;
            let docs = rows
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Json<Value>>(1).0))
                .collect();
            Ok(OpResult::Docs(docs))
        }
        Shape::Count => {
            let row = client
                .query_one(&prepared, &refs)
                .await
                .map_err(backend_error)
                .map_err(named)?;
            Ok(OpResult::Count(row.get::<_, i64>(0) as u64))
        }
        Shape::Affected => Ok(OpResult::Count(
            client
                .execute(&prepared, &refs)
                .await
                .map_err(backend_error)
                .map_err(named)?,
        )),
    }
}

/// Log rows per INSERT statement: one statement (one round trip) for many.
const LOG_ROWS_PER_INSERT: usize = 32;

/// Inserts log rows, up to [`LOG_ROWS_PER_INSERT`] per statement. Values go
/// as text cast to `jsonb`, serialised once (their length is the row's size).
async fn insert_logs(client: &PgConn, entries: &[LogEntry]) -> Result<(), StateError> {
    for chunk in entries.chunks(LOG_ROWS_PER_INSERT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| {
                let p = |c: usize| format!("${}", r * 14 + c);
                format!(
                    "({}, {}, {}, {}, {}, {}::text::jsonb, {}, {}::text::jsonb, {}, {}::text::jsonb, {}, {}, {}, {})",
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8),
                    p(9),
                    p(10),
                    p(11),
                    p(12),
                    p(13),
                    p(14)
                )
            })
            .collect();
        let text = format!(
            "INSERT INTO concord_log (id, flow, seq, concept, action, input, error, output, sync, matched, \
             started_at, completed_at, kept, bytes) VALUES {}",
            rows.join(", ")
        );
        let statement = client.prepare_cached(&text).await.map_err(backend_error)?;
        let owned: Vec<[Box<dyn ToSql + Sync + Send>; 14]> = chunk
            .iter()
            .map(|e| -> [Box<dyn ToSql + Sync + Send>; 14] {
                let row = LogRow::new(e);
                let bytes = row.bytes();
                [
                    Box::new(e.id.clone()),
                    Box::new(e.flow.clone()),
                    Box::new(i64::from(e.seq)),
                    Box::new(e.concept.clone()),
                    Box::new(e.action.clone()),
                    Box::new(row.input),
                    Box::new(e.error),
                    Box::new(row.output),
                    Box::new(e.sync.clone()),
                    Box::new(row.matched),
                    Box::new(e.started_at),
                    Box::new(e.completed_at),
                    Box::new(e.kept),
                    Box::new(bytes),
                ]
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = owned
            .iter()
            .flat_map(|row| row.iter().map(|p| &**p as &(dyn ToSql + Sync)))
            .collect();
        client.execute(&statement, &params).await.map_err(backend_error)?;
    }
    Ok(())
}

/// Runs `insert_logs` for `entries`, and deletes the journals of the
/// `closed` flows `node` owns, in a transaction of its own.
async fn insert_in_transaction(
    conn: &PgConn,
    entries: &[LogEntry],
    closed: &[String],
    node: &str,
) -> Result<(), StateError> {
    // One INSERT is atomic by itself: a batch that is one statement needs
    // no BEGIN and COMMIT around it (two round trips of three).
    if closed.is_empty() && entries.len() <= LOG_ROWS_PER_INSERT {
        return insert_logs(conn, entries).await;
    }
    conn.batch_execute("BEGIN").await.map_err(backend_error)?;
    let mut result = insert_logs(conn, entries).await;
    if result.is_ok() && !closed.is_empty() {
        result = async {
            let delete = conn.prepare_cached(journal::DELETE).await.map_err(backend_error)?;
            for flow in closed {
                conn.execute(&delete, &[flow, &node]).await.map_err(backend_error)?;
            }
            Ok(())
        }
        .await;
    }
    if let Err(err) = result {
        let _ = conn.batch_execute("ROLLBACK").await;
        return Err(err);
    }
    conn.batch_execute("COMMIT").await.map_err(backend_error)
}

/// Writes a batch of records (and closes its flows' journals) in one
/// transaction; if that fails, each record on its own, so that one bad
/// record costs only itself.
async fn write_batch(conn: &PgConn, batch: &Batch, node: &str) -> Result<(), StateError> {
    let Err(batch_error) = insert_in_transaction(conn, &batch.entries, &batch.closed, node).await else {
        return Ok(());
    };
    let mut lost = 0;
    for entry in &batch.entries {
        if insert_in_transaction(conn, std::slice::from_ref(entry), &[], node)
            .await
            .is_err()
        {
            lost += 1;
        }
    }
    insert_in_transaction(conn, &[], &batch.closed, node).await?;
    match lost {
        0 => Ok(()),
        _ => Err(StateError::Backend(format!(
            "{lost} of {} record(s) could not be written ({batch_error})",
            batch.entries.len()
        ))),
    }
}

fn read_log_row(r: &Row) -> LogEntry {
    let object = |v: Value| match v {
        Value::Object(m) => m,
        _ => Default::default(),
    };
    LogEntry {
        id: r.get(0),
        flow: r.get(1),
        seq: r.get::<_, i64>(2) as u32,
        concept: r.get(3),
        action: r.get(4),
        input: object(r.get::<_, Json<Value>>(5).0),
        error: r.get(6),
        output: object(r.get::<_, Json<Value>>(7).0),
        sync: r.get(8),
        matched: match r.get::<_, Json<Value>>(9).0 {
            Value::Array(a) => a.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        },
        started_at: r.get(10),
        completed_at: r.get(11),
        kept: r.get(12),
    }
}

const LOG_COLUMNS: &str =
    "id, flow, seq, concept, action, input, error, output, sync, matched, started_at, completed_at, kept";

impl Postgres {
    pub(crate) async fn open(
        url: &str,
        max_connections: usize,
        read_only_window: u64,
        journal: Journal,
    ) -> Result<Self, StoreError> {
        let journal = Arc::new(journal);
        let pool = Arc::new(Pool {
            url: url.to_string(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
        });
        let mut conn = pool.get().await.map_err(StoreError::Connect)?;
        migrate(&mut conn).await?;
        drop(conn);
        let batch_pool = pool.clone();
        let trim = Arc::new(crate::log_queue::TrimSchedule::new(read_only_window));
        let batch_journal = journal.clone();
        let log = LogQueue::start(Arc::new(move |batch: Batch| {
            let pool = batch_pool.clone();
            let trim = trim.clone();
            let journal = batch_journal.clone();
            Box::pin(async move {
                let conn = pool.get().await.map_err(StateError::Backend)?;
                let written = write_batch(&conn, &batch, &journal.node).await;
                if trim.due(&batch.entries) {
                    // Its own statement, after the batch committed: nodes
                    // trimming at once delete overlapping rows, and a
                    // deadlock there must not cost the batch.
                    if let Err(e) = conn.execute(crate::TRIM_READ_ONLY, &[&(trim.window() as i64)]).await {
                        tracing::warn!(target: "concord::store", "could not trim read-only flows from the log: {e}");
                    }
                }
                written
            })
        }));
        let mut readers = Vec::new();
        for _ in 0..reader_count() {
            let reader = connect_as(url, "concord-reader").await.map_err(StoreError::Connect)?;
            readers.push(tokio::sync::RwLock::new(Arc::new(reader)));
        }
        Ok(Postgres {
            pool,
            log,
            journal,
            sealed_elsewhere: Default::default(),
            readers,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A shared read connection, reconnected if the server closed it.
    async fn reader(&self, i: usize) -> Result<Arc<PgConn>, StateError> {
        let current = self.readers[i].read().await.clone();
        if !current.is_closed() {
            return Ok(current);
        }
        self.replace_reader(i, &current).await
    }

    /// Replaces reader `i` by a new connection unless another read already
    /// replaced `stale`.
    async fn replace_reader(&self, i: usize, stale: &Arc<PgConn>) -> Result<Arc<PgConn>, StateError> {
        let mut slot = self.readers[i].write().await;
        if Arc::ptr_eq(&slot, stale) {
            *slot = Arc::new(
                connect_as(&self.pool.url, "concord-reader")
                    .await
                    .map_err(StateError::Backend)?,
            );
        }
        Ok(slot.clone())
    }

    /// Runs a read on a shared connection; if the connection turns out to be
    /// gone (a restart, a terminated backend: its last answer may say so
    /// before the client sees it closed), again on a new one, a few times.
    async fn read_shared(&self, op: &Op) -> Result<OpResult, StateError> {
        const ATTEMPTS: u32 = 4;
        let i = self.next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.readers.len();
        let mut reader = self.reader(i).await?;
        let mut attempt = 1;
        loop {
            match run_op(&reader, op).await {
                Err(e) if attempt < ATTEMPTS && (reader.is_closed() || matches!(e, StateError::Disconnected(_))) => {
                    tracing::debug!(target: "concord::store", "read on a lost connection ({e}); reconnecting");
                    if attempt > 1 {
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    }
                    attempt += 1;
                    reader = match self.replace_reader(i, &reader).await {
                        Ok(fresh) => fresh,
                        Err(_) if attempt < ATTEMPTS => continue,
                        Err(e) => return Err(e),
                    };
                }
                result => return result,
            }
        }
    }

    async fn conn(&self) -> Result<Pooled, StateError> {
        self.pool.get().await.map_err(StateError::Backend)
    }
}

async fn current_version(client: &Client) -> Result<i64, StoreError> {
    client.batch_execute(schema::META).await.map_err(store_error)?;
    let row = client
        .query_opt("SELECT value FROM concord_meta WHERE key = 'schema_version'", &[])
        .await
        .map_err(store_error)?;
    Ok(row.and_then(|r| r.get::<_, String>(0).parse().ok()).unwrap_or(0))
}

async fn migrate(client: &mut Pooled) -> Result<(), StoreError> {
    client.batch_execute("BEGIN").await.map_err(store_error)?;
    let result = async {
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(store_error)?;
        let found = current_version(client).await?;
        if found > LATEST {
            return Err(schema::too_new(found));
        }
        for v in found + 1..=LATEST {
            for stmt in schema::migration(Dialect::Postgres, v) {
                client.batch_execute(&stmt).await.map_err(store_error)?;
            }
            client
                .execute(
                    "INSERT INTO concord_meta (key, value) VALUES ('schema_version', $1) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&v.to_string()],
                )
                .await
                .map_err(store_error)?;
            if found > 0 {
                tracing::info!(target: "concord::store", "migrated the database schema to version {v}");
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => client.batch_execute("COMMIT").await.map_err(store_error),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

pub(crate) struct PgTx {
    conn: Option<Pooled>,
    journal: Arc<Journal>,
    /// The journal write to make at commit: the flow, and its sealed
    /// snapshot or `None` to delete it.
    staged_journal: Option<(String, Option<Vec<u8>>)>,
}

/// Writes (or deletes) a flow's journal row as this node; `FlowTakenOver`
/// when another node owns it.
async fn write_journal_row(
    conn: &PgConn,
    journal: &Journal,
    flow: &str,
    sealed: Option<&[u8]>,
) -> Result<(), StateError> {
    let changed = match sealed {
        Some(sealed) => {
            let statement = conn.prepare_cached(journal::UPSERT).await.map_err(backend_error)?;
            conn.execute(
                &statement,
                &[
                    &flow,
                    &journal.node,
                    &journal.lease_until(),
                    &crate::now_micros(),
                    &sealed,
                ],
            )
            .await
            .map_err(backend_error)?
        }
        None => {
            let statement = conn.prepare_cached(journal::DELETE).await.map_err(backend_error)?;
            conn.execute(&statement, &[&flow, &journal.node])
                .await
                .map_err(backend_error)?
        }
    };
    match changed {
        0 => Err(StateError::FlowTakenOver),
        _ => Ok(()),
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Roll back before the connection goes back to the pool.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = conn.batch_execute("ROLLBACK").await;
                    drop(conn);
                });
            }
        }
    }
}

impl StateTx for PgTx {
    fn run(&mut self, op: Op) -> BoxFuture<'_, Result<OpResult, StateError>> {
        Box::pin(async move {
            match &self.conn {
                Some(c) => run_op(c, &op).await,
                None => Err(StateError::Backend("transaction already finished".into())),
            }
        })
    }

    fn write_journal(&mut self, flow: &str, snapshot: Option<Vec<u8>>) -> BoxFuture<'_, Result<(), StateError>> {
        // Staged, and sent with the log records at commit: the two travel
        // pipelined on the connection, one round trip instead of two.
        self.staged_journal = Some((flow.to_string(), snapshot.map(|s| self.journal.seal(&s))));
        Box::pin(async { Ok(()) })
    }

    fn commit(mut self: Box<Self>, entries: Vec<LogEntry>) -> BoxFuture<'static, Result<(), StateError>> {
        Box::pin(async move {
            let Some(conn) = self.conn.take() else {
                return Err(StateError::Backend("transaction already finished".into()));
            };
            let journal = async {
                match &self.staged_journal {
                    Some((flow, sealed)) => write_journal_row(&conn, &self.journal, flow, sealed.as_deref()).await,
                    None => Ok(()),
                }
            };
            let (logged, journaled) = tokio::join!(insert_logs(&conn, &entries), journal);
            // When one fails, the other meets an aborted transaction: the
            // cause (a conflict to retry, a takeover) is the error to report.
            let first = match (logged, journaled) {
                (Err(StateError::Conflict), _) | (_, Err(StateError::Conflict)) => Err(StateError::Conflict),
                (_, Err(StateError::FlowTakenOver)) => Err(StateError::FlowTakenOver),
                (logged, journaled) => logged.and(journaled),
            };
            let result = match first {
                Ok(()) => conn.batch_execute("COMMIT").await.map_err(backend_error),
                Err(e) => Err(e),
            };
            if result.is_err() {
                let _ = conn.batch_execute("ROLLBACK").await;
            }
            result
        })
    }
}

impl StateBackend for Postgres {
    fn read(&self, op: Op) -> BoxFuture<'_, Result<OpResult, StateError>> {
        Box::pin(async move { self.read_shared(&op).await })
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn StateTx>, StateError>> {
        Box::pin(async move {
            let conn = self.conn().await?;
            // Serializable: whatever a concurrent action changed since this one
            // read it (an updated row, or a row inserted where this one saw
            // none) is a conflict the engine retries, never a lost update.
            conn.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                .await
                .map_err(backend_error)?;
            Ok(Box::new(PgTx {
                conn: Some(conn),
                journal: self.journal.clone(),
                staged_journal: None,
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
            let conn = self.conn().await?;
            // Rows another node is writing or claiming right now are locked:
            // skipped, they stay with it.
            // Flows this node found sealed with another key are left alone.
            let which = match claim {
                Claim::AtStart => "(owner = $1 OR lease_until < $3) AND NOT (flow = ANY($4))",
                Claim::Expired => "owner <> $1 AND lease_until < $3 AND NOT (flow = ANY($4))",
            };
            let text = format!(
                "UPDATE concord_journal j SET owner = $1, lease_until = $2 FROM \
                 (SELECT flow, owner FROM concord_journal WHERE {which} FOR UPDATE SKIP LOCKED) c \
                 WHERE j.flow = c.flow RETURNING j.flow, c.owner, j.snapshot"
            );
            let journal = &self.journal;
            let skipped: Vec<String> = self
                .sealed_elsewhere
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect();
            let rows = conn
                .query(
                    &text,
                    &[&journal.node, &journal.lease_until(), &crate::now_micros(), &skipped],
                )
                .await
                .map_err(backend_error)?;
            let (opened, sealed_elsewhere) = open_claimed(journal, rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))));
            for (flow, previous_owner) in sealed_elsewhere {
                conn.execute(journal::GIVE_BACK, &[&flow, &journal.node, &previous_owner])
                    .await
                    .map_err(backend_error)?;
                self.sealed_elsewhere
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(flow);
            }
            Ok(opened)
        })
    }

    fn renew_leases(&self) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            let conn = self.conn().await?;
            conn.execute(journal::RENEW, &[&self.journal.node, &self.journal.lease_until()])
                .await
                .map_err(backend_error)?;
            Ok(())
        })
    }

    fn note_resumption(
        &self,
        flow: String,
        from_seq: u32,
        previous_owner: String,
    ) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            let conn = self.conn().await?;
            conn.execute(
                journal::NOTE_RESUMPTION,
                &[
                    &flow,
                    &crate::now_micros(),
                    &i64::from(from_seq),
                    &self.journal.node,
                    &previous_owner,
                ],
            )
            .await
            .map_err(backend_error)?;
            Ok(())
        })
    }
}

impl Backend for Postgres {
    fn open_flow_owner(&self, flow: String) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let conn = self.pool.get().await.map_err(StoreError::Connect)?;
            let row = conn.query_opt(journal::OWNER, &[&flow]).await.map_err(store_error)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn resumptions(&self, flow: String) -> BoxFuture<'_, Result<Vec<Resumption>, StoreError>> {
        Box::pin(async move {
            let conn = self.pool.get().await.map_err(StoreError::Connect)?;
            let rows = conn.query(journal::RESUMPTIONS, &[&flow]).await.map_err(store_error)?;
            Ok(rows
                .iter()
                .map(|r| Resumption {
                    flow: r.get(0),
                    at: r.get(1),
                    from_seq: r.get::<_, i64>(2) as u32,
                    node: r.get(3),
                    previous_owner: r.get(4),
                })
                .collect())
        })
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn ensure_collections(&self, specs: Vec<CollectionSpec>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let conn = self.pool.get().await.map_err(StoreError::Connect)?;
            conn.batch_execute("BEGIN").await.map_err(store_error)?;
            let result = async {
                conn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                    .await
                    .map_err(store_error)?;
                for spec in &specs {
                    for stmt in sql::create_collection(Dialect::Postgres, spec)
                        .map_err(|e| StoreError::database(e.to_string(), e))?
                    {
                        conn.batch_execute(&stmt).await.map_err(store_error)?;
                    }
                    conn.execute(
                        "INSERT INTO concord_collections (name, spec) VALUES ($1, $2) \
                         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec",
                        &[&spec.name, &crate::spec_json(spec)],
                    )
                    .await
                    .map_err(store_error)?;
                }
                Ok(())
            }
            .await;
            match result {
                Ok(()) => conn.batch_execute("COMMIT").await.map_err(store_error),
                Err(e) => {
                    let _ = conn.batch_execute("ROLLBACK").await;
                    Err(e)
                }
            }
        })
    }

    fn flow_log(&self, flow: String) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>> {
        Box::pin(async move {
            self.log.flush().await;
            let conn = self.pool.get().await.map_err(StoreError::Connect)?;
            let rows = conn
                .query(
                    &format!("SELECT {LOG_COLUMNS} FROM concord_log WHERE flow = $1 ORDER BY seq"),
                    &[&flow],
                )
                .await
                .map_err(store_error)?;
            Ok(rows.iter().map(read_log_row).collect())
        })
    }

    fn flows(&self, since: i64, until: i64, limit: u32) -> BoxFuture<'_, Result<Vec<FlowSummary>, StoreError>> {
        Box::pin(async move {
            self.log.flush().await;
            let conn = self.pool.get().await.map_err(StoreError::Connect)?;
            let rows = conn
                .query(
                    "SELECT flow, MIN(started_at), MAX(completed_at), COUNT(*) FROM concord_log \
                     GROUP BY flow HAVING MIN(started_at) >= $1 AND MIN(started_at) < $2 \
                     ORDER BY MIN(started_at) DESC LIMIT $3",
                    &[&since, &until, &(limit as i64)],
                )
                .await
                .map_err(store_error)?;
            Ok(rows
                .iter()
                .map(|r| FlowSummary {
                    flow: r.get(0),
                    started_at: r.get(1),
                    completed_at: r.get(2),
                    actions: r.get::<_, i64>(3) as u64,
                })
                .collect())
        })
    }

    fn prune(&self, retention: Retention) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            self.log.flush().await;
            let conn = self.pool.get().await.map_err(StoreError::Connect)?;
            let mut pruned = 0;
            if let Some(before) = retention.before {
                pruned += conn
                    .execute(crate::PRUNE_BEFORE, &[&before])
                    .await
                    .map_err(store_error)?;
                conn.execute(journal::PRUNE_RESUMPTIONS, &[&before])
                    .await
                    .map_err(store_error)?;
            }
            if let Some(max) = retention.max_bytes {
                let cutoff = conn
                    .query_opt(crate::SIZE_CUTOFF, &[&(max as i64)])
                    .await
                    .map_err(store_error)?;
                if let Some(row) = cutoff {
                    let cutoff: i64 = row.get(0);
                    pruned += conn.execute(crate::PRUNE_FROM, &[&cutoff]).await.map_err(store_error)?;
                }
            }
            Ok(pruned)
        })
    }

    fn log_size(&self) -> BoxFuture<'_, Result<(u64, u64), StoreError>> {
        Box::pin(async move {
            self.log.flush().await;
            let conn = self.pool.get().await.map_err(StoreError::Connect)?;
            let row = conn
                .query_one("SELECT COUNT(*), COALESCE(SUM(bytes), 0)::BIGINT FROM concord_log", &[])
                .await
                .map_err(store_error)?;
            Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
        })
    }

    fn schema_version(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move {
            let conn = self.pool.get().await.map_err(StoreError::Connect)?;
            current_version(&conn).await
        })
    }
}
