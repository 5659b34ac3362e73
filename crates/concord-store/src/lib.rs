//! Durable state and the action log for concord.
//!
//! This is the only crate that speaks SQL. Concepts describe operations on
//! logical collections (`concord_concept::state`); a [`Backend`] carries them
//! out on embedded SQLite (the default: a file, or memory for tests) or on
//! PostgreSQL (for servers and several engine processes sharing state).
//! Each action's writes and its log record commit in one transaction.
//!
//! Another backend (MongoDB, say) implements [`Backend`] for the same
//! operations, behind a feature, without touching concepts.

mod group_commit;
mod journal;
mod log_queue;
mod postgres;
mod schema;
mod sql;
mod sqlite;
mod statements;

use std::path::Path;
use std::sync::Arc;

use concord_concept::state::CollectionSpec;
use concord_concept::{BoxFuture, StateError};

pub use journal::NodeSettings;
pub use schema::LATEST as SCHEMA_VERSION;
pub use statements::StatementCounter;

/// The interface a store implements for concept state and the action log
/// (defined beside the contexts that use it, re-exported here for backends
/// and tools).
pub use concord_concept::state::{Change, Claim, LogEntry, Op, OpResult, OpenFlow, Resumption, StateBackend, StateTx};

/// Why the store could not be opened or used outside an action.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not understood.
    #[error("unsupported database URL `{0}`: use `sqlite://PATH`, `sqlite::memory:` or `postgres://...`")]
    Url(String),
    /// The database server could not be reached.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The database was written by a newer concord.
    #[error(
        "the database schema is version {found}, newer than this build supports ({supported}); \
         run a newer concord against it, or point DATABASE_URL at another database"
    )]
    TooNew {
        /// Version found in the database.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// The database reported an error.
    #[error("database error: {message}")]
    Database {
        /// What went wrong, as the database put it.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    /// A database error with its driver's error as the source.
    pub(crate) fn database(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Database {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// What the action log keeps, so that a team can run it for months.
///
/// Records of flows that changed state are kept in full until they are
/// older than `max_age` (a later issue resumes flows from them); records of
/// flows that changed nothing (most reads) are kept only in a window of the
/// `read_only_window` newest, for `trace`, `why` and the explorer. When the
/// log's stored size passes `max_bytes`, the oldest flows go first. Large
/// values are stubbed before they reach the store (see the engine's
/// redactor), so no single record is large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPolicy {
    /// Records of read-only flows kept, newest first (10,000).
    pub read_only_window: u64,
    /// How long a flow is kept after it ends (7 days); `None` keeps flows
    /// until the size limit.
    pub max_age: Option<std::time::Duration>,
    /// The most bytes of record values the log holds (1 GiB); `None` for no
    /// limit.
    pub max_bytes: Option<u64>,
}

impl Default for LogPolicy {
    fn default() -> Self {
        LogPolicy {
            read_only_window: 10_000,
            max_age: Some(std::time::Duration::from_secs(7 * 24 * 60 * 60)),
            max_bytes: Some(1 << 30),
        }
    }
}

/// What one pass of retention removes: flows that ended before `before`
/// (µs since the epoch), and the oldest flows beyond `max_bytes` of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Flows whose last record completed before this go.
    pub before: Option<i64>,
    /// The oldest flows go until the log's values fit in this many bytes.
    pub max_bytes: Option<u64>,
}

/// A flow in the log: when it ran and how many actions it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    /// Flow id.
    pub flow: String,
    /// First action's start, µs since the epoch.
    pub started_at: i64,
    /// Last action's completion, µs since the epoch.
    pub completed_at: i64,
    /// Number of records.
    pub actions: u64,
}

/// A storage backend: concept state (through [`StateBackend`]) plus what the
/// app runner needs: collection set-up and the action log.
pub trait Backend: StateBackend {
    /// `"sqlite"` or `"postgres"`.
    fn kind(&self) -> &'static str;
    /// Creates the tables and indexes the concepts declare (idempotent).
    fn ensure_collections(&self, specs: Vec<CollectionSpec>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Every record of one flow, in order.
    fn flow_log(&self, flow: String) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>>;
    /// Flows that started in `[since, until)` (µs), newest first.
    fn flows(&self, since: i64, until: i64, limit: u32) -> BoxFuture<'_, Result<Vec<FlowSummary>, StoreError>>;
    /// Deletes the records of flows that ended before `retention.before`,
    /// then of the oldest flows until the rest fit in `retention.max_bytes`;
    /// returns how many records went.
    fn prune(&self, retention: Retention) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// The number of records and the bytes of their stored values.
    fn log_size(&self) -> BoxFuture<'_, Result<(u64, u64), StoreError>>;
    /// The schema version of the database.
    fn schema_version(&self) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// The times a flow was interrupted and resumed, in order.
    fn resumptions(&self, flow: String) -> BoxFuture<'_, Result<Vec<Resumption>, StoreError>>;
    /// The node that owns `flow`'s journal, if the flow is still open: it
    /// is running there, or was interrupted and awaits resumption.
    fn open_flow_owner(&self, flow: String) -> BoxFuture<'_, Result<Option<String>, StoreError>>;
}

/// Opens the store a URL names, creating or migrating its schema:
/// `sqlite::memory:`, `sqlite://path/to/app.db` (or a plain file path), or
/// `postgres://user@host:port/db`.
pub async fn open(url: &str) -> Result<Arc<dyn Backend>, StoreError> {
    open_with(url, &LogPolicy::default()).await
}

/// [`open`], keeping read-only flows' records in `policy`'s window (the
/// age and size limits are applied by [`Backend::prune`]).
pub async fn open_with(url: &str, policy: &LogPolicy) -> Result<Arc<dyn Backend>, StoreError> {
    open_node(url, policy, &NodeSettings::default()).await
}

/// [`open_with`], as the node `node` names in the flow journal.
pub async fn open_node(url: &str, policy: &LogPolicy, node: &NodeSettings) -> Result<Arc<dyn Backend>, StoreError> {
    let window = policy.read_only_window;
    if url == "sqlite::memory:" || url == ":memory:" {
        let journal = journal::Journal::new(node, None)?;
        return Ok(Arc::new(sqlite::Sqlite::open(None, window, journal)?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let journal = journal::Journal::new(node, Some(Path::new("concord-journal.key")))?;
        return Ok(Arc::new(postgres::Postgres::open(url, 16, window, journal).await?));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || path.contains("://") {
        return Err(StoreError::Url(url.to_string()));
    }
    let path = Path::new(path).to_path_buf();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::database(format!("cannot create {}: {e}", dir.display()), e))?;
    }
    let journal = journal::Journal::new(node, Some(&journal::key_file_beside(&path)))?;
    tokio::task::spawn_blocking(move || sqlite::Sqlite::open(Some(&path), window, journal))
        .await
        .map_err(|e| StoreError::database(e.to_string(), e))?
        .map(|s| Arc::new(s) as Arc<dyn Backend>)
}

/// The stored text of a log value, with NUL characters (which PostgreSQL's
/// `jsonb` refuses, and which would fail a whole batch of other flows'
/// records) replaced by U+FFFD: the log describes what happened; it is not
/// the state.
pub(crate) fn log_json(v: &serde_json::Map<String, serde_json::Value>) -> String {
    let text = serde_json::to_string(v).unwrap_or_else(|_| "{}".into());
    if !text.contains("\\u0000") {
        return text;
    }
    fn clean(v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value as V;
        match v {
            V::String(s) => V::String(s.replace('\0', "\u{fffd}")),
            V::Array(a) => V::Array(a.iter().map(clean).collect()),
            V::Object(m) => V::Object(m.iter().map(|(k, v)| (k.replace('\0', "\u{fffd}"), clean(v))).collect()),
            other => other.clone(),
        }
    }
    clean(&serde_json::Value::Object(v.clone())).to_string()
}

/// A log record's columns as stored: the JSON texts of input, output and
/// matched, and the bytes they take.
pub(crate) struct LogRow<'e> {
    pub entry: &'e LogEntry,
    pub input: String,
    pub output: String,
    pub matched: String,
}

impl<'e> LogRow<'e> {
    pub(crate) fn new(entry: &'e LogEntry) -> Self {
        LogRow {
            entry,
            input: log_json(&entry.input),
            output: log_json(&entry.output),
            matched: serde_json::to_string(&entry.matched).unwrap_or_else(|_| "[]".into()),
        }
    }

    pub(crate) fn bytes(&self) -> i64 {
        (self.input.len() + self.output.len()) as i64
    }
}

/// Deletes read-only flows' records beyond the newest `window` of them
/// (whole flows: their records all share `kept = false`).
pub(crate) const TRIM_READ_ONLY: &str = "DELETE FROM concord_log WHERE NOT kept AND flow IN \
     (SELECT flow FROM concord_log WHERE NOT kept AND completed_at <= \
      (SELECT completed_at FROM concord_log WHERE NOT kept ORDER BY completed_at DESC LIMIT 1 OFFSET $1))";

/// The completion time at and before which the log's oldest records exceed
/// `$1` bytes counted from the newest.
pub(crate) const SIZE_CUTOFF: &str = "SELECT completed_at FROM \
     (SELECT completed_at, SUM(bytes) OVER (ORDER BY completed_at DESC ROWS UNBOUNDED PRECEDING) AS total \
      FROM concord_log) sized WHERE total > CAST($1 AS BIGINT) ORDER BY completed_at DESC LIMIT 1";

/// Deletes flows that have a record completed at or before `$1`.
pub(crate) const PRUNE_FROM: &str = "DELETE FROM concord_log WHERE flow IN \
     (SELECT flow FROM concord_log WHERE completed_at <= $1)";

/// Deletes flows whose last record completed before `$1`.
pub(crate) const PRUNE_BEFORE: &str = "DELETE FROM concord_log WHERE flow IN \
     (SELECT flow FROM concord_log GROUP BY flow HAVING MAX(completed_at) < $1)";

/// The registry form of a collection spec.
pub(crate) fn spec_json(spec: &CollectionSpec) -> String {
    serde_json::json!({ "unique": spec.unique, "indexes": spec.indexes }).to_string()
}

/// Fills in the logical collection of a unique violation.
pub(crate) fn name_collection(e: StateError, op: &Op) -> StateError {
    match e {
        StateError::Unique { field, .. } => {
            let collection = match op {
                Op::Insert { collection, .. }
                | Op::Find { collection, .. }
                | Op::Count { collection, .. }
                | Op::Distinct { collection, .. }
                | Op::CountBy { collection, .. }
                | Op::Update { collection, .. }
                | Op::Delete { collection, .. } => collection.clone(),
            };
            StateError::Unique { collection, field }
        }
        other => other,
    }
}

/// Microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Helpers for test suites that need a PostgreSQL server.
pub mod testing {
    /// A PostgreSQL database of its own for one test, for tests that act on
    /// the whole log (trimming, pruning, counting flows), dropped with it.
    pub struct ScratchDatabase {
        /// Its URL.
        pub url: String,
        admin_url: String,
        name: String,
    }

    impl ScratchDatabase {
        /// Creates one on [`postgres_url`]'s server (`None` where that is).
        ///
        /// # Panics
        /// If the server refuses: this is for tests.
        pub async fn create(prefix: &str) -> Option<ScratchDatabase> {
            let admin_url = postgres_url()?;
            let name = format!(
                "{prefix}_{}",
                concord_concept::RecordId::fresh().to_string().replace('-', "")
            );
            let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
                .await
                .expect("the test server accepts connections");
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .expect("a scratch database");
            let (base, _) = admin_url.rsplit_once('/').expect("a URL with a database");
            Some(ScratchDatabase {
                url: format!("{base}/{name}"),
                admin_url,
                name,
            })
        }
    }

    impl Drop for ScratchDatabase {
        fn drop(&mut self) {
            let (url, name) = (self.admin_url.clone(), self.name.clone());
            // The test's runtime may be gone by now: drop it from one of its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return;
                };
                rt.block_on(async {
                    if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }

    /// The server the test suites use: `CONCORD_TEST_POSTGRES_URL` (set by
    /// `eval "$(scripts/test-postgres.sh)"`), or `None` with a note. Under
    /// `CI=true` a missing server is a failure, never a silent skip.
    ///
    /// # Panics
    /// When `CI=true` and the variable is not set.
    pub fn postgres_url() -> Option<String> {
        match std::env::var("CONCORD_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but CONCORD_TEST_POSTGRES_URL is not set: the PostgreSQL suites must run under CI")
            }
            _ => {
                eprintln!(
                    "note: CONCORD_TEST_POSTGRES_URL is not set; PostgreSQL cases skipped (eval \"$(scripts/test-postgres.sh)\" starts one)"
                );
                None
            }
        }
    }
}
