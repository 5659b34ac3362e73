//! Concept state: named collections of JSON documents, reached through the
//! action's or query's context.
//!
//! Concepts never write SQL. They describe operations ([`Op`]) on logical
//! collections (`Concept.collection`); a storage backend ([`StateBackend`],
//! implemented by `concord-store` for SQLite and PostgreSQL) carries them out.
//! Everything one action writes happens in one transaction ([`StateTx`]),
//! committed together with the action's log record, or not at all.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{BoxFuture, Record};

/// Why a state operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// A unique field already has this value in the collection.
    Unique {
        /// Logical collection name.
        collection: String,
        /// The unique field.
        field: String,
    },
    /// A document could not be converted to or from the concept's type.
    Decode(String),
    /// The concept has no storage (the app was built without a store).
    NoStore,
    /// A concurrent action changed what this one read; the engine runs the
    /// action again from the start.
    Conflict,
    /// The database failed (disk full, a statement refused, ...).
    Backend(String),
    /// The server ended the connection (a restart, a terminated backend):
    /// the operation did not run and may be tried again on a new one.
    Disconnected(String),
    /// Another node took over this flow (its lease had expired): this node
    /// must stop running it; nothing of this transaction was committed.
    FlowTakenOver,
}

/// A concept whose actions fail with a message (`Result<_, String>`) can
/// use `?` on state operations. That message may reach a client, so a
/// storage failure says only "storage failure": the backend's own text,
/// which can name tables, values or hosts, goes to the server's log.
impl From<StateError> for String {
    fn from(e: StateError) -> String {
        match e {
            StateError::Backend(_) | StateError::Disconnected(_) | StateError::Decode(_) => {
                tracing::error!(target: "concord::store", "{e}");
                "storage failure".to_string()
            }
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Unique { collection, field } => write!(f, "{collection}: `{field}` must be unique"),
            StateError::Decode(m) => write!(f, "document does not fit its type: {m}"),
            StateError::NoStore => write!(f, "no store is configured for concept state"),
            StateError::Conflict => write!(f, "a concurrent action changed the same state; retrying"),
            StateError::Backend(m) | StateError::Disconnected(m) => write!(f, "storage failure: {m}"),
            StateError::FlowTakenOver => write!(f, "another node took over this flow"),
        }
    }
}

impl std::error::Error for StateError {}

impl StateError {
    /// True for unique-constraint violations.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StateError::Unique { .. })
    }
}

/// A collection a concept declares, with its unique fields and indexes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionSpec {
    /// Logical name, `Concept.collection`.
    pub name: String,
    /// Fields whose values must be unique in the collection.
    pub unique: Vec<String>,
    /// Fields to index for lookups.
    pub indexes: Vec<String>,
}

/// A comparison on one document field (dotted paths are not supported: use
/// flat documents, as the reference does).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Field equals value.
    Eq(String, Value),
    /// Field differs from value (documents without the field match too).
    Ne(String, Value),
    /// Field is less than value.
    Lt(String, Value),
    /// Field is greater than value.
    Gt(String, Value),
    /// Field equals one of the values.
    In(String, Vec<Value>),
    /// The field is present (and not null) or absent.
    Exists(String, bool),
    /// The document's id equals.
    Id(String),
    /// The document's id is one of these.
    IdIn(Vec<String>),
}

/// Which documents, in which order, how many.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// All must hold.
    pub conds: Vec<Cond>,
    /// Sort keys: field and ascending?
    pub sort: Vec<(String, bool)>,
    /// At most this many.
    pub limit: Option<u64>,
    /// Skip this many first.
    pub offset: Option<u64>,
}

impl Query {
    /// Every document.
    pub fn all() -> Self {
        Self::default()
    }

    /// Documents whose `field` equals `value`.
    pub fn eq(field: &str, value: impl Serialize) -> Self {
        Self::all().and_eq(field, value)
    }

    /// The document with this id.
    pub fn id(id: &str) -> Self {
        Query {
            conds: vec![Cond::Id(id.to_string())],
            ..Self::default()
        }
    }

    /// Adds a condition.
    pub fn and(mut self, cond: Cond) -> Self {
        self.conds.push(cond);
        self
    }

    /// Adds `field == value`.
    pub fn and_eq(self, field: &str, value: impl Serialize) -> Self {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.and(Cond::Eq(field.to_string(), v))
    }

    /// Sorts by `field`, ascending or descending; earlier sorts take
    /// precedence, and ties go by document id in the direction of the last
    /// sort (ids from `fresh_id` are time-ordered).
    pub fn sort(mut self, field: &str, ascending: bool) -> Self {
        self.sort.push((field.to_string(), ascending));
        self
    }

    /// Returns at most `n` documents.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` documents.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }
}

/// One operation on a collection.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Adds a document (fails on a duplicate id or unique field).
    Insert {
        /// Logical collection.
        collection: String,
        /// Document id.
        id: String,
        /// The document (a JSON object).
        doc: Value,
    },
    /// Matching documents with their ids.
    Find {
        /// Logical collection.
        collection: String,
        /// Which.
        query: Query,
    },
    /// How many documents match (limit and offset ignored).
    Count {
        /// Logical collection.
        collection: String,
        /// Which.
        query: Query,
    },
    /// The distinct values of one field among the matching documents, in
    /// ascending order (documents without it aside; limit and offset apply
    /// to the values). An index on the field answers it without reading the
    /// documents. Returned as documents `{field: value}` with empty ids.
    Distinct {
        /// Logical collection.
        collection: String,
        /// The field.
        field: String,
        /// Which documents.
        query: Query,
    },
    /// How many matching documents have each value of one field (documents
    /// without it aside; limit and offset ignored), in ascending order of
    /// the value. Returned as documents `{field: value, "count": n}` with
    /// empty ids.
    CountBy {
        /// Logical collection.
        collection: String,
        /// The field.
        field: String,
        /// Which documents.
        query: Query,
    },
    /// Sets fields (merge) or replaces whole documents of every match.
    Update {
        /// Logical collection.
        collection: String,
        /// Which (limit applies: `limit(1)` updates one).
        query: Query,
        /// New field values, or the whole new document.
        change: Change,
    },
    /// Removes every match (limit applies).
    Delete {
        /// Logical collection.
        collection: String,
        /// Which.
        query: Query,
    },
}

/// How an update changes documents.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Sets these fields, keeping the others.
    Set(Record),
    /// Replaces the document.
    Replace(Value),
}

/// The result of an [`Op`].
#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// Documents with their ids, in query order.
    Docs(Vec<(String, Value)>),
    /// A count, or how many documents were inserted, updated or deleted.
    Count(u64),
}

/// An action record as the log stores it: secrets already redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Record id.
    pub id: String,
    /// Flow id.
    pub flow: String,
    /// Position in the flow (0 = the external invocation).
    pub seq: u32,
    /// Concept.
    pub concept: String,
    /// Action.
    pub action: String,
    /// Input, redacted.
    pub input: Record,
    /// `true` for the error outcome.
    pub error: bool,
    /// Output (`{"error": ...}` for the error case), redacted.
    pub output: Record,
    /// Firing sync, if any.
    pub sync: Option<String>,
    /// Ids of the records the sync matched.
    pub matched: Vec<String>,
    /// Microseconds since the Unix epoch.
    pub started_at: i64,
    /// Microseconds since the Unix epoch.
    pub completed_at: i64,
    /// The record belongs to a flow that changed state: kept for the whole
    /// retention period. Records of flows that changed nothing are kept in
    /// a bounded window of recent ones.
    pub kept: bool,
}

/// An interrupted flow this node has claimed to finish: its journal, as the
/// engine wrote it with the flow's last commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFlow {
    /// Flow id.
    pub flow: String,
    /// The engine's snapshot of the flow (its records and what is left).
    pub snapshot: Vec<u8>,
    /// The node that ran it before.
    pub previous_owner: String,
}

/// An interrupted flow was resumed: when, by which node, and from which
/// record on (the records before it had committed before the interruption).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumption {
    /// Flow id.
    pub flow: String,
    /// Microseconds since the Unix epoch.
    pub at: i64,
    /// The position of the first record the resumed flow made.
    pub from_seq: u32,
    /// The node that resumed it.
    pub node: String,
    /// The node that ran it until the interruption.
    pub previous_owner: String,
}

/// Which interrupted flows a node claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// At start, before serving: this node's own flows (from before its
    /// restart) and any whose lease has expired.
    AtStart,
    /// While running: other nodes' flows whose lease has expired.
    Expired,
}

/// A storage backend for concept state and the action log.
pub trait StateBackend: Send + Sync + 'static {
    /// Runs a read outside any transaction (sees committed state).
    fn read(&self, op: Op) -> BoxFuture<'_, Result<OpResult, StateError>>;
    /// Starts a write transaction.
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn StateTx>, StateError>>;
    /// Appends a log entry on its own (for actions that changed no state).
    /// Backends may write such entries in batches shortly afterwards; readers
    /// of the log see them.
    fn append_log(&self, entry: LogEntry) -> BoxFuture<'_, Result<(), StateError>>;
    /// Waits until every entry appended so far is written.
    fn flush_log(&self) -> BoxFuture<'_, ()>;
    /// A flow with a journal ended: appends its last `entries` and deletes
    /// its journal, together (in the log's batches).
    fn finish_flow(&self, flow: String, entries: Vec<LogEntry>) -> BoxFuture<'_, Result<(), StateError>>;
    /// Takes over the interrupted flows `claim` names (this node becomes
    /// their owner, under a fresh lease) and returns their journals. A flow
    /// another node is claiming at the same moment goes to one of them.
    fn claim_flows(&self, claim: Claim) -> BoxFuture<'_, Result<Vec<OpenFlow>, StateError>>;
    /// Extends the lease of every flow this node owns (call well within
    /// the lease, so that live flows are never taken over).
    fn renew_leases(&self) -> BoxFuture<'_, Result<(), StateError>>;
    /// Records that this node resumed `flow` (from its record `from_seq`
    /// on, after `previous_owner` ran it), for `trace` and `why`.
    fn note_resumption(
        &self,
        flow: String,
        from_seq: u32,
        previous_owner: String,
    ) -> BoxFuture<'_, Result<(), StateError>>;
}

/// One action's write transaction. Dropping it without commit rolls back.
pub trait StateTx: Send {
    /// Runs an operation inside the transaction (reads see its own writes).
    fn run(&mut self, op: Op) -> BoxFuture<'_, Result<OpResult, StateError>>;
    /// Writes `flow`'s journal in this transaction: its `snapshot`, or for
    /// `None` its deletion (the flow has nothing left to do). Fails with
    /// [`StateError::FlowTakenOver`] when another node owns the flow now.
    fn write_journal(&mut self, flow: &str, snapshot: Option<Vec<u8>>) -> BoxFuture<'_, Result<(), StateError>>;
    /// Writes the log entries (the action's, after any earlier records of
    /// its flow still to be written) and commits everything together.
    fn commit(self: Box<Self>, entries: Vec<LogEntry>) -> BoxFuture<'static, Result<(), StateError>>;
}

/// How an action reaches state: reads before its first write go to
/// committed state; the first write starts the action's transaction.
pub(crate) struct ActionState {
    pub backend: std::sync::Arc<dyn StateBackend>,
    pub tx: Option<Box<dyn StateTx>>,
    /// Some operation met a [`StateError::Conflict`]: whatever the action
    /// concluded, the engine must run it again.
    pub conflicted: bool,
}

/// A typed view of one collection, for the duration of one call.
pub struct Collection<'c, T> {
    target: Target<'c>,
    name: String,
    _doc: PhantomData<fn() -> T>,
}

enum Target<'c> {
    Action(&'c mut Option<ActionState>),
    Query(Option<&'c std::sync::Arc<dyn StateBackend>>),
}

impl<'c, T: Serialize + DeserializeOwned> Collection<'c, T> {
    pub(crate) fn for_action(state: &'c mut Option<ActionState>, name: String) -> Self {
        Collection {
            target: Target::Action(state),
            name,
            _doc: PhantomData,
        }
    }

    pub(crate) fn for_query(backend: Option<&'c std::sync::Arc<dyn StateBackend>>, name: String) -> Self {
        Collection {
            target: Target::Query(backend),
            name,
            _doc: PhantomData,
        }
    }

    /// The logical name, `Concept.collection`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `op` in the action's transaction, starting it on first use, so
    /// that everything an action reads and writes is one consistent unit.
    async fn in_transaction(&mut self, op: Op) -> Result<OpResult, StateError> {
        match &mut self.target {
            Target::Action(Some(state)) => {
                let result = async {
                    if state.tx.is_none() {
                        state.tx = Some(state.backend.begin().await?);
                    }
                    match state.tx.as_mut() {
                        Some(tx) => tx.run(op).await,
                        None => Err(StateError::Backend("transaction vanished".into())),
                    }
                }
                .await;
                if result == Err(StateError::Conflict) {
                    state.conflicted = true;
                }
                result
            }
            Target::Action(None) | Target::Query(None) => Err(StateError::NoStore),
            Target::Query(Some(backend)) => match op {
                Op::Find { .. } | Op::Count { .. } | Op::Distinct { .. } | Op::CountBy { .. } => backend.read(op).await,
                _ => Err(StateError::Backend("queries are read-only".into())),
            },
        }
    }

    /// Runs a read on committed state, outside the action's transaction.
    async fn committed(&mut self, op: Op) -> Result<OpResult, StateError> {
        match &mut self.target {
            Target::Action(Some(state)) => state.backend.read(op).await,
            Target::Query(Some(backend)) => backend.read(op).await,
            Target::Action(None) | Target::Query(None) => Err(StateError::NoStore),
        }
    }

    fn to_doc(doc: &T) -> Result<Value, StateError> {
        match serde_json::to_value(doc) {
            Ok(Value::Object(mut m)) => {
                m.remove("_id");
                Ok(Value::Object(m))
            }
            Ok(_) => Err(StateError::Decode("documents must serialise to JSON objects".into())),
            Err(e) => Err(StateError::Decode(e.to_string())),
        }
    }

    fn from_docs(result: OpResult) -> Result<Vec<(String, T)>, StateError> {
        match result {
            OpResult::Docs(docs) => docs
                .into_iter()
                .map(|(id, mut doc)| {
                    if let Value::Object(m) = &mut doc {
                        m.insert("_id".into(), Value::String(id.clone()));
                    }
                    serde_json::from_value(doc)
                        .map(|t| (id, t))
                        .map_err(|e| StateError::Decode(e.to_string()))
                })
                .collect(),
            OpResult::Count(_) => Err(StateError::Backend("expected documents".into())),
        }
    }

    fn count_of(result: OpResult) -> Result<u64, StateError> {
        match result {
            OpResult::Count(n) => Ok(n),
            OpResult::Docs(d) => Ok(d.len() as u64),
        }
    }

    /// Inserts a document under `id`. A document field `_id` is ignored
    /// (the id is stored beside the document and given back as `_id`).
    pub async fn insert(&mut self, id: &str, doc: &T) -> Result<(), StateError> {
        let op = Op::Insert {
            collection: self.name.clone(),
            id: id.to_string(),
            doc: Self::to_doc(doc)?,
        };
        self.in_transaction(op).await.map(|_| ())
    }

    /// The document with this id.
    pub async fn get(&mut self, id: &str) -> Result<Option<T>, StateError> {
        Ok(self.find(Query::id(id).limit(1)).await?.into_iter().next())
    }

    /// The first matching document.
    pub async fn find_one(&mut self, query: Query) -> Result<Option<T>, StateError> {
        Ok(self.find(query.limit(1)).await?.into_iter().next())
    }

    /// Matching documents.
    pub async fn find(&mut self, query: Query) -> Result<Vec<T>, StateError> {
        Ok(self.find_with_ids(query).await?.into_iter().map(|(_, t)| t).collect())
    }

    /// Matching documents with their ids.
    pub async fn find_with_ids(&mut self, query: Query) -> Result<Vec<(String, T)>, StateError> {
        let op = Op::Find {
            collection: self.name.clone(),
            query,
        };
        Self::from_docs(self.in_transaction(op).await?)
    }

    /// Matching documents in committed state, outside the action's
    /// transaction: does not see this action's own writes and does not hold
    /// the transaction open. For read-only lookups before slow work (such as
    /// checking a password hash), so that the slow part blocks nobody.
    pub async fn find_committed(&mut self, query: Query) -> Result<Vec<T>, StateError> {
        let op = Op::Find {
            collection: self.name.clone(),
            query,
        };
        Ok(Self::from_docs(self.committed(op).await?)?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }

    /// The distinct values of `field` among the matching documents, in
    /// ascending order (limit and offset apply to the values): with an
    /// `index` on the field, the store answers from the index.
    pub async fn distinct(&mut self, field: &str, query: Query) -> Result<Vec<Value>, StateError> {
        let op = Op::Distinct {
            collection: self.name.clone(),
            field: field.to_string(),
            query,
        };
        match self.in_transaction(op).await? {
            OpResult::Docs(docs) => Ok(docs
                .into_iter()
                .filter_map(|(_, mut d)| d.as_object_mut().and_then(|o| o.remove(field)))
                .collect()),
            OpResult::Count(_) => Err(StateError::Backend("distinct returned a count".into())),
        }
    }

    /// The documents with these ids, by id (ids without one are absent):
    /// one statement for all of them, for a query's batched form.
    pub async fn get_many(&mut self, ids: &[String]) -> Result<std::collections::HashMap<String, T>, StateError> {
        if ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        Ok(self
            .find_with_ids(Query::all().and(Cond::IdIn(ids.to_vec())))
            .await?
            .into_iter()
            .collect())
    }

    /// Which of `ids` have a document: one statement, for a batched
    /// membership query (is this pair favored, followed, ...).
    pub async fn existing(&mut self, ids: &[String]) -> Result<std::collections::HashSet<String>, StateError> {
        Ok(self.get_many(ids).await?.into_keys().collect())
    }

    /// How many matching documents have each value of `field`, in
    /// ascending order of the value (documents without it aside): one
    /// statement where counting one value at a time would take one each.
    pub async fn count_by(&mut self, field: &str, query: Query) -> Result<Vec<(Value, u64)>, StateError> {
        let op = Op::CountBy {
            collection: self.name.clone(),
            field: field.to_string(),
            query,
        };
        match self.in_transaction(op).await? {
            OpResult::Docs(docs) => docs
                .into_iter()
                .map(|(_, mut d)| {
                    let o = d.as_object_mut();
                    let value = o.as_ref().and_then(|o| o.get(field)).cloned();
                    let count = o.and_then(|o| o.get("count")).and_then(Value::as_u64);
                    match (value, count) {
                        (Some(v), Some(n)) => Ok((v, n)),
                        _ => Err(StateError::Backend("count_by returned a malformed group".into())),
                    }
                })
                .collect(),
            OpResult::Count(_) => Err(StateError::Backend("count_by returned a count".into())),
        }
    }

    /// How many documents match.
    pub async fn count(&mut self, query: Query) -> Result<u64, StateError> {
        let op = Op::Count {
            collection: self.name.clone(),
            query,
        };
        Self::count_of(self.in_transaction(op).await?)
    }

    /// Sets fields on every match; returns how many were updated.
    pub async fn update(&mut self, query: Query, set: impl Serialize) -> Result<u64, StateError> {
        let set = match serde_json::to_value(set) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(StateError::Decode("`set` must be an object of fields".into())),
            Err(e) => return Err(StateError::Decode(e.to_string())),
        };
        let op = Op::Update {
            collection: self.name.clone(),
            query,
            change: Change::Set(set),
        };
        Self::count_of(self.in_transaction(op).await?)
    }

    /// Replaces the document with this id; returns whether it existed.
    pub async fn replace(&mut self, id: &str, doc: &T) -> Result<bool, StateError> {
        let op = Op::Update {
            collection: self.name.clone(),
            query: Query::id(id),
            change: Change::Replace(Self::to_doc(doc)?),
        };
        Ok(Self::count_of(self.in_transaction(op).await?)? > 0)
    }

    /// Deletes every match; returns how many.
    pub async fn delete(&mut self, query: Query) -> Result<u64, StateError> {
        let op = Op::Delete {
            collection: self.name.clone(),
            query,
        };
        Self::count_of(self.in_transaction(op).await?)
    }

    /// Deletes the first match; returns whether there was one.
    pub async fn delete_one(&mut self, query: Query) -> Result<bool, StateError> {
        Ok(self.delete(query.limit(1)).await? > 0)
    }
}
