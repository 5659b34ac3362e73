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

mod log_queue;
mod postgres;
mod schema;
mod sql;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use concord_concept::state::CollectionSpec;
use concord_concept::{BoxFuture, StateError};

pub use schema::LATEST as SCHEMA_VERSION;

/// The interface a store implements for concept state and the action log
/// (defined beside the contexts that use it, re-exported here for backends
/// and tools).
pub use concord_concept::state::{Change, LogEntry, Op, OpResult, StateBackend, StateTx};

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
    /// Deletes the records of flows that ended before `before` (µs); returns
    /// how many records went.
    fn prune(&self, before: i64) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// The schema version of the database.
    fn schema_version(&self) -> BoxFuture<'_, Result<i64, StoreError>>;
}

/// Opens the store a URL names, creating or migrating its schema:
/// `sqlite::memory:`, `sqlite://path/to/app.db` (or a plain file path), or
/// `postgres://user@host:port/db`.
pub async fn open(url: &str) -> Result<Arc<dyn Backend>, StoreError> {
    if url == "sqlite::memory:" || url == ":memory:" {
        return Ok(Arc::new(sqlite::Sqlite::open(None)?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::Postgres::open(url, 16).await?));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || path.contains("://") {
        return Err(StoreError::Url(url.to_string()));
    }
    let path = Path::new(path).to_path_buf();
    tokio::task::spawn_blocking(move || sqlite::Sqlite::open(Some(&path)))
        .await
        .map_err(|e| StoreError::database(e.to_string(), e))?
        .map(|s| Arc::new(s) as Arc<dyn Backend>)
}

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
