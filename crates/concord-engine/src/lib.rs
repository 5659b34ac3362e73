//! The concord runtime: runs checked syncs over concepts.
//!
//! An external invocation starts a **flow**. Each completed action becomes an
//! [`ActionRecord`]; the syncs with a when pattern on that action are
//! evaluated on the combinations of the flow's records that include the new
//! one (`docs/semantics.md` §3.1), their where pipelines run, and their then
//! invocations run one by one, each cascading depth-first before the next.
//! A flow ends when nothing is left to do (quiescence) or when it exceeds its
//! step quota (a runaway). Flows run concurrently; a finished flow leaves
//! nothing behind in the engine.

mod cache;
mod explain;
mod flow;
mod journal;
mod matching;
mod perform;
mod pipeline;
mod record;
mod redact;
pub mod value;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use concord_concept::state::StateBackend;
use concord_concept::{Concept, ConceptSpec, FlowId, Record};
use concord_program::CompiledSync;
use concord_program::{Program, SecretMap};

pub use explain::{Awaited, Mismatch, MissReason, NearMiss};
pub use flow::{FlowError, FlowReport, FlowStatus, Rejection};
pub use record::{ActionLog, ActionRecord};
pub use redact::{OMITTED_PREFIX, Part, REDACTED, Redactor, SECRET_KEY_NAMES, ValueLimits, is_withheld};

/// Default per-flow step quota (actions per flow).
pub const DEFAULT_STEP_QUOTA: usize = 1_000;

/// Why the engine refused to start or to run something.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Two concepts registered under one name.
    #[error("concept `{0}` is registered twice")]
    DuplicateConcept(String),
    /// A program names a concept or action that is not registered (the
    /// program was checked against other concepts).
    #[error("sync `{sync}` refers to `{name}`, which is not registered; check the syncs against these concepts")]
    UnknownInProgram {
        /// The sync.
        sync: String,
        /// `Concept.action`.
        name: String,
    },
    /// An external invocation of something that does not exist.
    #[error("no action `{0}` is registered")]
    UnknownAction(String),
    /// A spec's `also_answers` names a query its rows cannot answer.
    #[error("`{concept}.{query}` says its rows also answer `{target}`, but {reason}")]
    AlsoAnswers {
        /// The concept.
        concept: String,
        /// The query whose rows would answer.
        query: String,
        /// The query they would answer.
        target: String,
        /// What is missing.
        reason: String,
    },
    /// A spawned flow's task failed.
    #[error("flow task failed: {0}")]
    Task(String),
}

/// Why a query run outside a flow ([`Engine::query`]) gave no rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No concept of that name is registered.
    #[error("no concept `{0}`")]
    UnknownConcept(String),
    /// The concept's query failed (its message, which is the concept's data).
    #[error("{0}")]
    Failed(String),
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    concepts: Vec<Arc<dyn Concept>>,
    step_quota: usize,
    log: Option<Arc<dyn ActionLog>>,
    store: Option<Arc<dyn StateBackend>>,
    secret_key_names: Vec<String>,
    value_limits: ValueLimits,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineBuilder {
    /// No concepts, default quota, no log.
    pub fn new() -> Self {
        EngineBuilder {
            concepts: Vec::new(),
            step_quota: DEFAULT_STEP_QUOTA,
            log: None,
            store: None,
            secret_key_names: SECRET_KEY_NAMES.iter().map(|s| s.to_string()).collect(),
            value_limits: ValueLimits::default(),
        }
    }

    /// Replaces the safety net of key names redacted at any depth (default
    /// [`SECRET_KEY_NAMES`]); an empty list leaves only what concepts
    /// declare and the syncs' dataflow.
    pub fn secret_key_names(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.secret_key_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// The safety net's key names in force.
    pub fn secret_key_names_in_force(&self) -> &[String] {
        &self.secret_key_names
    }

    /// Sets the sizes above which values are kept in the log as a stub.
    pub fn value_limits(mut self, limits: ValueLimits) -> Self {
        self.value_limits = limits;
        self
    }

    /// Keeps concept state and the action log in `store`: each action's
    /// writes commit together with its log record.
    pub fn store(mut self, store: Arc<dyn StateBackend>) -> Self {
        self.store = Some(store);
        self
    }

    /// Registers a concept.
    pub fn concept<C: Concept>(self, concept: C) -> Self {
        self.concept_shared(Arc::new(concept))
    }

    /// Registers a concept the caller keeps a handle to.
    pub fn concept_shared(mut self, concept: Arc<dyn Concept>) -> Self {
        self.concepts.push(concept);
        self
    }

    /// The signatures of the registered concepts (what syncs are checked against).
    pub fn specs(&self) -> Vec<ConceptSpec> {
        self.concepts.iter().map(|c| c.spec()).collect()
    }

    /// Sets the per-flow step quota.
    pub fn step_quota(mut self, quota: usize) -> Self {
        self.step_quota = quota.max(1);
        self
    }

    /// Sends every completed record to `log`.
    pub fn log(mut self, log: Arc<dyn ActionLog>) -> Self {
        self.log = Some(log);
        self
    }

    /// Builds the engine with a checked program.
    pub fn build(self, program: Program) -> Result<Engine, EngineError> {
        let mut concept_index = HashMap::new();
        let mut actions = Vec::new();
        let mut action_index = HashMap::new();
        let mut concept_names = Vec::new();
        let mut seeds = HashMap::new();
        for (ci, c) in self.concepts.iter().enumerate() {
            let spec = c.spec();
            if concept_index.insert(spec.name.clone(), ci).is_some() {
                return Err(EngineError::DuplicateConcept(spec.name));
            }
            for q in &spec.queries {
                let found = cache::Seed::all_of(&spec, q)?;
                if !found.is_empty() {
                    seeds.insert((ci, q.name.clone()), found);
                }
            }
            let cname: Arc<str> = spec.name.as_str().into();
            concept_names.push(cname.clone());
            for a in &spec.actions {
                action_index.insert((spec.name.clone(), a.name.clone()), actions.len());
                actions.push(ActionInfo {
                    concept: ci,
                    concept_name: cname.clone(),
                    name: a.name.as_str().into(),
                });
            }
        }
        let mut inner = Inner {
            concepts: self.concepts,
            concept_index,
            actions,
            action_index,
            syncs: RwLock::new(Arc::new(SyncTable::default())),
            step_quota: self.step_quota,
            log: self.log,
            secret_key_names: self.secret_key_names,
            value_limits: self.value_limits,
            store: self.store,
            concept_names,
            seeds,
            version: std::sync::atomic::AtomicU64::new(0),
        };
        let table = inner.compile(program)?;
        inner.syncs = RwLock::new(Arc::new(table));
        Ok(Engine { inner: Arc::new(inner) })
    }
}

/// Index of an action among all registered actions.
pub(crate) type ActionId = usize;

pub(crate) struct ActionInfo {
    pub concept: usize,
    pub concept_name: Arc<str>,
    pub name: Arc<str>,
}

/// A sync with its names resolved to indexes.
pub(crate) struct LoadedSync {
    pub sync: CompiledSync,
    pub name: Arc<str>,
    pub when_actions: Vec<ActionId>,
    pub then_actions: Vec<ActionId>,
    /// Per `else` of the sync, in [`concord_program::Step::Guarded`] order.
    pub otherwise: Vec<LoadedElse>,
}

/// An `else` clause with its names resolved.
pub(crate) struct LoadedElse {
    /// The companion's name, which its records carry.
    pub name: Arc<str>,
    /// The action it invokes.
    pub action: ActionId,
}

/// The syncs in force, indexed by the actions their when patterns mention.
#[derive(Default)]
pub(crate) struct SyncTable {
    pub syncs: Vec<LoadedSync>,
    /// For each action: (sync, pattern position), in sync order.
    pub by_action: Vec<Vec<(usize, usize)>>,
    /// What this program makes secret, and how records are made safe.
    pub redactor: Arc<Redactor>,
}

pub(crate) struct Inner {
    pub concepts: Vec<Arc<dyn Concept>>,
    pub concept_index: HashMap<String, usize>,
    pub actions: Vec<ActionInfo>,
    pub action_index: HashMap<(String, String), ActionId>,
    pub syncs: RwLock<Arc<SyncTable>>,
    pub step_quota: usize,
    pub log: Option<Arc<dyn ActionLog>>,
    /// The safety net of key names, for each program's [`Redactor`].
    pub secret_key_names: Vec<String>,
    pub value_limits: ValueLimits,
    pub store: Option<Arc<dyn StateBackend>>,
    pub concept_names: Vec<Arc<str>>,
    /// By (concept, query): the other queries its rows also answer.
    pub seeds: HashMap<(usize, String), Vec<cache::Seed>>,
    pub version: std::sync::atomic::AtomicU64,
}

impl Inner {
    fn action_id(&self, sync: &str, concept: &str, action: &str) -> Result<ActionId, EngineError> {
        self.action_index
            .get(&(concept.to_string(), action.to_string()))
            .copied()
            .ok_or_else(|| EngineError::UnknownInProgram {
                sync: sync.to_string(),
                name: format!("{concept}.{action}"),
            })
    }

    fn compile(&self, program: Program) -> Result<SyncTable, EngineError> {
        let specs: Vec<ConceptSpec> = self.concepts.iter().map(|c| c.spec()).collect();
        let secrets = SecretMap::derive(&program, &specs);
        let mut table = SyncTable {
            syncs: Vec::new(),
            by_action: vec![Vec::new(); self.actions.len()],
            redactor: Arc::new(Redactor::new(
                secrets,
                &specs,
                &self.secret_key_names,
                self.value_limits,
            )),
        };
        for sync in program.syncs {
            let when_actions = sync
                .when
                .iter()
                .map(|p| self.action_id(&sync.name, &p.concept, &p.action))
                .collect::<Result<Vec<_>, _>>()?;
            let then_actions = sync
                .then
                .iter()
                .map(|i| self.action_id(&sync.name, &i.concept, &i.action))
                .collect::<Result<Vec<_>, _>>()?;
            // A companion is never run, but explanations run its steps.
            for step in sync.with_companions().flat_map(|s| &s.steps) {
                self.check_queries(&sync.name, step)?;
            }
            let otherwise = sync
                .otherwise
                .iter()
                .map(|o| {
                    Ok(LoadedElse {
                        name: o.name().into(),
                        action: self.action_id(o.name(), &o.invocation.concept, &o.invocation.action)?,
                    })
                })
                .collect::<Result<Vec<_>, EngineError>>()?;
            let index = table.syncs.len();
            for (pos, &a) in when_actions.iter().enumerate() {
                table.by_action[a].push((index, pos));
            }
            table.syncs.push(LoadedSync {
                name: sync.name.as_str().into(),
                sync,
                when_actions,
                then_actions,
                otherwise,
            });
        }
        Ok(table)
    }

    fn check_queries(&self, sync: &str, step: &concord_program::Step) -> Result<(), EngineError> {
        use concord_program::Step;
        match step {
            Step::Query { concept, query, .. } => {
                let known = self
                    .concept_index
                    .get(concept)
                    .is_some_and(|&c| self.concepts[c].spec().query(query).is_some());
                if !known {
                    return Err(EngineError::UnknownInProgram {
                        sync: sync.to_string(),
                        name: format!("{concept}.{query}"),
                    });
                }
                Ok(())
            }
            Step::Collect { steps, .. } | Step::Guarded { steps, .. } => {
                steps.iter().try_for_each(|s| self.check_queries(sync, s))
            }
            _ => Ok(()),
        }
    }
}

/// The running engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Starts a flow with an external invocation and runs it to quiescence
    /// (or until it exceeds the step quota).
    pub async fn run(&self, concept: &str, action: &str, input: Record) -> Result<FlowReport, EngineError> {
        self.run_in(FlowId::fresh(), concept, action, input).await
    }

    /// Like [`Engine::run`], with a flow id chosen by the caller (so that it
    /// can wait for things keyed by the flow before the flow starts).
    pub async fn run_in(
        &self,
        flow: FlowId,
        concept: &str,
        action: &str,
        input: Record,
    ) -> Result<FlowReport, EngineError> {
        let id = self
            .inner
            .action_index
            .get(&(concept.to_string(), action.to_string()))
            .copied()
            .ok_or_else(|| EngineError::UnknownAction(format!("{concept}.{action}")))?;
        let table = self.sync_table();
        Ok(flow::run(&self.inner, table, flow, id, input).await)
    }

    /// Claims the interrupted flows `claim` names and finishes each (on its
    /// own task, all at once), returning their reports. Call it with
    /// [`Claim::AtStart`] before serving, and with [`Claim::Expired`] from
    /// time to time on a store shared by several nodes. A flow whose
    /// journal no longer fits the program (an action or sync it names is
    /// gone) is abandoned, with an error in the server's log.
    ///
    /// [`Claim::AtStart`]: concord_concept::state::Claim::AtStart
    /// [`Claim::Expired`]: concord_concept::state::Claim::Expired
    pub async fn resume_interrupted(&self, claim: concord_concept::state::Claim) -> Vec<FlowReport> {
        let Some(store) = self.inner.store.clone() else {
            return Vec::new();
        };
        let open = match store.claim_flows(claim).await {
            Ok(open) => open,
            Err(e) => {
                tracing::error!(target: "concord::flow", "could not claim interrupted flows: {e}");
                return Vec::new();
            }
        };
        let mut tasks = Vec::new();
        for open in open {
            let engine = self.clone();
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let Ok(id) = open.flow.parse().map(FlowId) else {
                    tracing::error!(target: "concord::flow", "journal row {} is not a flow id; abandoned", open.flow);
                    let _ = store.finish_flow(open.flow, Vec::new()).await;
                    return None;
                };
                let from_seq = flow::committed_records(&open.snapshot);
                tracing::info!(
                    target: "concord::flow",
                    flow = %id,
                    "resuming interrupted flow {id} from record #{from_seq} (it ran on {})",
                    open.previous_owner
                );
                if let Err(e) = store
                    .note_resumption(open.flow.clone(), from_seq, open.previous_owner)
                    .await
                {
                    tracing::warn!(target: "concord::flow", flow = %id, "could not record the resumption: {e}");
                }
                match flow::resume(&engine.inner, engine.sync_table(), id, &open.snapshot).await {
                    Ok(report) => Some(report),
                    Err(why) => {
                        tracing::error!(
                            target: "concord::flow",
                            flow = %id,
                            "interrupted flow {id} cannot be resumed and is abandoned: {why}"
                        );
                        let _ = store.finish_flow(open.flow, Vec::new()).await;
                        None
                    }
                }
            }));
        }
        let mut reports = Vec::new();
        for task in tasks {
            if let Ok(Some(report)) = task.await {
                reports.push(report);
            }
        }
        reports
    }

    /// Waits until every action record so far is in the store's log (records
    /// of actions that changed no state are written in batches).
    pub async fn flush_log(&self) {
        if let Some(store) = &self.inner.store {
            store.flush_log().await;
        }
    }

    /// For a finished flow, the syncs that matched its first record but did
    /// not fire, with the first reason found for each (what a developer needs
    /// when a request got no answer).
    pub fn near_misses(&self, report: &FlowReport) -> Vec<NearMiss> {
        explain::near_misses(&self.sync_table(), report)
    }

    /// [`Engine::near_misses`], naming for syncs whose where clause stopped
    /// them the step that did and the values it saw (it runs the where steps
    /// again, reading the state as it is now).
    pub async fn explain(&self, report: &FlowReport) -> Vec<NearMiss> {
        explain::explain(&self.inner, &self.sync_table(), report).await
    }

    /// Runs a query outside any flow (for passthrough routes and tools).
    pub async fn query(&self, concept: &str, query: &str, input: Record) -> Result<Vec<Record>, QueryError> {
        let Some(&ci) = self.inner.concept_index.get(concept) else {
            return Err(QueryError::UnknownConcept(concept.to_string()));
        };
        let ctx = concord_concept::QueryContext::with_state(
            FlowId::fresh(),
            self.inner.concept_names[ci].clone(),
            self.inner.store.clone(),
        );
        self.inner.concepts[ci]
            .query(&ctx, query, &input)
            .await
            .map_err(QueryError::Failed)
    }

    /// Like [`Engine::run`], on its own task, so that flows run concurrently.
    pub fn spawn(
        &self,
        concept: &str,
        action: &str,
        input: Record,
    ) -> tokio::task::JoinHandle<Result<FlowReport, EngineError>> {
        let engine = self.clone();
        let (concept, action) = (concept.to_string(), action.to_string());
        tokio::spawn(async move { engine.run(&concept, &action, input).await })
    }

    /// Replaces the syncs in force. Flows already running finish with the
    /// set they started with; new flows use the new one.
    pub fn replace_program(&self, program: Program) -> Result<(), EngineError> {
        let table = Arc::new(self.inner.compile(program)?);
        match self.inner.syncs.write() {
            Ok(mut guard) => *guard = table,
            Err(poisoned) => *poisoned.into_inner() = table,
        }
        self.inner.version.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Counts program replacements, so that what is derived from the syncs
    /// (such as route tables) knows when to derive it again.
    pub fn program_version(&self) -> u64 {
        self.inner.version.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The syncs in force.
    pub fn program(&self) -> Program {
        Program {
            syncs: self.sync_table().syncs.iter().map(|s| s.sync.clone()).collect(),
        }
    }

    /// Names of the syncs in force, in load order, each followed by its
    /// `else` companions.
    pub fn sync_names(&self) -> Vec<String> {
        self.sync_table()
            .syncs
            .iter()
            .flat_map(|s| s.sync.with_companions().map(|c| c.name.clone()))
            .collect()
    }

    /// How the program in force makes records safe to show and keep: what
    /// is secret (by dataflow, declaration and key name) and the size limits.
    pub fn redactor(&self) -> Arc<Redactor> {
        self.sync_table().redactor.clone()
    }

    /// Signatures of the registered concepts.
    pub fn specs(&self) -> Vec<ConceptSpec> {
        self.inner.concepts.iter().map(|c| c.spec()).collect()
    }

    fn sync_table(&self) -> Arc<SyncTable> {
        match self.inner.syncs.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
