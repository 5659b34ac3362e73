//! One flow: its records, per-flow indexes, and the depth-first work loop.
//! Matching (`matching`), the where pipeline (`pipeline`), performing an
//! action (`perform`) and explanations (`explain`) are their own modules.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use concord_concept::{FlowId, Outcome, Record, RecordId, Value};

use crate::cache::QueryCache;
use crate::matching::{FlowRecords, literals_match};
use crate::perform::Provenance;
use crate::pipeline::{Pipeline, Row};
use crate::record::ActionRecord;
use crate::value::eval;
use crate::{ActionId, Inner, SyncTable};

/// How a flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowStatus {
    /// Nothing left to do.
    Quiescent,
    /// Stopped because another node took the flow over: this node was
    /// too slow to renew its lease, and the other finishes the flow.
    TakenOver,
    /// Stopped before writing anything because an action found a bounded
    /// resource full (the password hashing pool): the client should try
    /// again after `retry_after`.
    Overloaded {
        /// How long to wait before trying again.
        retry_after: std::time::Duration,
    },
    /// Stopped after exceeding the step quota.
    Runaway {
        /// Actions completed before stopping.
        steps: usize,
        /// The syncs that kept re-triggering each other, in causal order.
        cycle: Vec<String>,
    },
}

/// A problem met while running a sync (not an action's error outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    /// The sync being evaluated.
    pub sync: String,
    /// What went wrong.
    pub message: String,
}

/// Untrusted input a conversion refused (`integer(limit)` of `"1.5"`) where
/// no `else` answered it: the client's mistake, not the server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The sync that refused it.
    pub sync: String,
    /// The converted expression as written (`limit`, `form.count`).
    pub what: String,
    /// What it should have been (`an integer`).
    pub expected: String,
}

/// Everything a finished flow produced. The engine keeps none of it.
#[derive(Debug, Clone)]
pub struct FlowReport {
    /// The flow's id.
    pub flow: FlowId,
    /// Records in completion order; the first is the external invocation.
    pub records: Vec<Arc<ActionRecord>>,
    /// How it ended.
    pub status: FlowStatus,
    /// Evaluation problems (bad query rows, expression errors).
    pub errors: Vec<FlowError>,
    /// Refused input no `else` answered.
    pub rejections: Vec<Rejection>,
}

impl FlowReport {
    /// A report rebuilt from a flow's log entries (whose secrets are
    /// redacted), for explaining a flow after the fact.
    pub fn from_log(entries: &[concord_concept::state::LogEntry]) -> FlowReport {
        let id = |s: &str| s.parse().map(RecordId).unwrap_or_else(|_| RecordId::fresh());
        let time = |us: i64| std::time::UNIX_EPOCH + std::time::Duration::from_micros(us.max(0) as u64);
        let flow = entries
            .first()
            .and_then(|e| e.flow.parse().ok())
            .map(FlowId)
            .unwrap_or_else(FlowId::fresh);
        let records = entries
            .iter()
            .map(|e| {
                let outcome = if e.error {
                    Outcome::Error(
                        e.output
                            .get("error")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    )
                } else {
                    Outcome::Success(e.output.clone())
                };
                Arc::new(ActionRecord {
                    id: id(&e.id),
                    flow,
                    concept: e.concept.as_str().into(),
                    action: e.action.as_str().into(),
                    input: e.input.clone(),
                    outcome,
                    sync: e.sync.as_deref().map(Into::into),
                    matched: e.matched.iter().map(|m| id(m)).collect(),
                    started_at: time(e.started_at),
                    completed_at: time(e.completed_at),
                })
            })
            .collect();
        FlowReport {
            flow,
            records,
            status: FlowStatus::Quiescent,
            errors: Vec::new(),
            rejections: Vec::new(),
        }
    }

    /// `Concept.action` of every record, in order.
    pub fn action_names(&self) -> Vec<String> {
        self.records.iter().map(|r| r.name()).collect()
    }

    /// The records of one action.
    pub fn records_of(&self, concept: &str, action: &str) -> Vec<&ActionRecord> {
        self.records
            .iter()
            .filter(|r| &*r.concept == concept && &*r.action == action)
            .map(|r| &**r)
            .collect()
    }
}

/// Why an action is being invoked: which sync (and which of its `else`
/// clauses, if one), on which records (indexes into the flow).
pub(crate) struct Cause {
    pub sync: usize,
    pub otherwise: Option<usize>,
    pub matched: Vec<u32>,
    /// Its place among the invocations this evaluation of the sync made.
    pub ordinal: u32,
}

impl Cause {
    /// The name its record carries: the sync's, or its `else` companion's.
    pub(crate) fn name(&self, table: &SyncTable) -> Arc<str> {
        let loaded = &table.syncs[self.sync];
        match self.otherwise {
            Some(k) => loaded.otherwise[k].name.clone(),
            None => loaded.name.clone(),
        }
    }
}

/// An action a sync decided to invoke.
struct Pending {
    sync: usize,
    /// The `else` clause that invokes it, if one.
    otherwise: Option<usize>,
    action: ActionId,
    input: Record,
    /// The records the sync matched (indexes into the flow).
    matched: Vec<u32>,
}

pub(crate) enum Work {
    Invoke {
        action: ActionId,
        input: Record,
        cause: Option<Cause>,
        depth: u32,
    },
    /// Evaluate the syncs of `record`'s action starting at `next` in the
    /// action's sync list.
    Syncs { record: u32, next: usize, depth: u32 },
}

/// How a flow derives its records' ids (see [`RecordId::of_invocation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdScheme {
    /// XXH3-128: every flow started by this version.
    Xxh3,
    /// UUID v5: a flow resumed from a first-format journal.
    V5,
}

struct Flow {
    id: FlowId,
    ids: IdScheme,
    records: Vec<Arc<ActionRecord>>,
    actions: Vec<ActionId>,
    causes: Vec<Option<Cause>>,
    by_action: HashMap<ActionId, Vec<u32>>,
    errors: Vec<crate::FlowError>,
    rejections: Vec<Rejection>,
    queries: QueryCache,
    log: crate::perform::FlowLog,
    /// What is left to do, depth first.
    stack: Vec<Work>,
}

impl Flow {
    fn new(id: FlowId, stack: Vec<Work>) -> Flow {
        Flow {
            id,
            ids: IdScheme::Xxh3,
            records: Vec::new(),
            actions: Vec::new(),
            causes: Vec::new(),
            by_action: HashMap::new(),
            errors: Vec::new(),
            rejections: Vec::new(),
            queries: QueryCache::default(),
            log: Default::default(),
            stack,
        }
    }
}

pub(crate) async fn run(
    inner: &Inner,
    table: Arc<SyncTable>,
    id: FlowId,
    action: ActionId,
    input: Record,
) -> FlowReport {
    let flow = Flow::new(
        id,
        vec![Work::Invoke {
            action,
            input,
            cause: None,
            depth: 0,
        }],
    );
    drive(inner, table, flow).await
}

/// Continues an interrupted flow from its journal `snapshot`: the records
/// it had committed, and the work left once they had. `Err` says why the
/// snapshot does not fit the program in force.
pub(crate) async fn resume(
    inner: &Inner,
    table: Arc<SyncTable>,
    id: FlowId,
    snapshot: &[u8],
) -> Result<FlowReport, String> {
    let restored = crate::journal::restore(inner, &table, id, snapshot)?;
    let mut flow = Flow::new(id, restored.stack);
    flow.ids = restored.ids;
    for ((record, action), cause) in restored.records.into_iter().zip(restored.actions).zip(restored.causes) {
        let index = flow.records.len() as u32;
        flow.records.push(record);
        flow.actions.push(action);
        flow.causes.push(cause);
        flow.by_action.entry(action).or_default().push(index);
    }
    flow.log.resumed();
    Ok(drive(inner, table, flow).await)
}

/// How many records a journal snapshot holds (0 if unreadable).
pub(crate) fn committed_records(snapshot: &[u8]) -> u32 {
    crate::journal::record_count(snapshot)
}

async fn drive(inner: &Inner, table: Arc<SyncTable>, mut flow: Flow) -> FlowReport {
    let mut status = FlowStatus::Quiescent;
    while let Some(work) = flow.stack.pop() {
        match work {
            Work::Invoke {
                action,
                input,
                cause,
                depth,
            } => {
                if flow.records.len() >= inner.step_quota {
                    let cycle = runaway_cycle(&flow, &table, cause.as_ref());
                    tracing::warn!(
                        target: "concord::flow",
                        flow = %flow.id,
                        steps = flow.records.len(),
                        "runaway flow stopped after {} actions; cycle: {}",
                        flow.records.len(),
                        cycle.join(" -> ")
                    );
                    status = FlowStatus::Runaway {
                        steps: flow.records.len(),
                        cycle,
                    };
                    break;
                }
                let index = flow.perform(inner, &table, action, input, cause, depth).await;
                if let Some(retry_after) = flow.log.overloaded() {
                    tracing::warn!(
                        target: "concord::flow",
                        flow = %flow.id,
                        "overloaded: stopped before writing anything; the client may retry in {} ms",
                        retry_after.as_millis()
                    );
                    status = FlowStatus::Overloaded { retry_after };
                    break;
                }
                if flow.log.taken_over() {
                    tracing::warn!(
                        target: "concord::flow",
                        flow = %flow.id,
                        "another node took this flow over (its lease had expired); stopping here"
                    );
                    status = FlowStatus::TakenOver;
                    break;
                }
                if !table.by_action[action].is_empty() {
                    flow.stack.push(Work::Syncs {
                        record: index,
                        next: 0,
                        depth,
                    });
                }
            }
            Work::Syncs { record, next, depth } => {
                let entries = &table.by_action[flow.actions[record as usize]];
                // Most syncs on a busy action (every request) differ in a
                // literal, such as the path: skip those before any work.
                let found = {
                    let rec = &flow.records[record as usize];
                    let mut at = next;
                    loop {
                        if at >= entries.len() {
                            break None;
                        }
                        let sync = entries[at].0;
                        let end = entries[at..]
                            .iter()
                            .position(|&(s, _)| s != sync)
                            .map_or(entries.len(), |n| at + n);
                        let when = &table.syncs[sync].sync.when;
                        if entries[at..end].iter().any(|&(_, p)| literals_match(&when[p], rec)) {
                            break Some((sync, at, end));
                        }
                        at = end;
                    }
                };
                let Some((sync, start, end)) = found else {
                    continue;
                };
                let positions: Vec<usize> = entries[start..end].iter().map(|&(_, p)| p).collect();
                if end < entries.len() {
                    flow.stack.push(Work::Syncs {
                        record,
                        next: end,
                        depth,
                    });
                }
                flow.queries.scope(record);
                let invocations = flow.evaluate(inner, &table, sync, record, &positions).await;
                for (ordinal, p) in invocations.into_iter().enumerate().rev() {
                    flow.stack.push(Work::Invoke {
                        action: p.action,
                        input: p.input,
                        cause: Some(Cause {
                            sync: p.sync,
                            otherwise: p.otherwise,
                            matched: p.matched,
                            ordinal: ordinal as u32,
                        }),
                        depth: depth + 1,
                    });
                }
            }
        }
    }
    flow.log.finish(inner, flow.id).await;
    FlowReport {
        flow: flow.id,
        records: flow.records,
        status,
        errors: flow.errors,
        rejections: flow.rejections,
    }
}

impl Flow {
    /// Runs one action, records it, logs it, and returns its index in the flow.
    async fn perform(
        &mut self,
        inner: &Inner,
        table: &SyncTable,
        action: ActionId,
        input: Record,
        cause: Option<Cause>,
        depth: u32,
    ) -> u32 {
        let info = &inner.actions[action];
        let started_at = SystemTime::now();
        let matched: Vec<RecordId> = cause
            .as_ref()
            .map(|c| c.matched.iter().map(|&i| self.records[i as usize].id).collect())
            .unwrap_or_default();
        let sync_name = cause.as_ref().map(|c| c.name(table));
        // The same invocation (same sync, same matched records, same place)
        // gets the same id, also when a resumed flow makes it again.
        let (name, ordinal) = match (&sync_name, &cause) {
            (Some(name), Some(c)) => (&**name, c.ordinal),
            _ => ("", 0),
        };
        let record_id = match self.ids {
            IdScheme::Xxh3 => RecordId::of_invocation(self.id, name, &matched, ordinal),
            IdScheme::V5 => RecordId::of_invocation_v5(self.id, name, &matched, ordinal),
        };
        let provenance = Provenance {
            record: record_id,
            flow: self.id,
            seq: self.records.len() as u32,
            sync: sync_name.as_deref(),
            matched: &matched,
            started_at,
        };
        // Whether anything is left once this action is done: if so, its
        // commit writes the journal that lets a crash resume the flow.
        let work_left = !self.stack.is_empty() || !table.by_action[action].is_empty();
        let mut log = std::mem::take(&mut self.log);
        let outcome = {
            let journal = |outcome: &Outcome| -> Option<Vec<u8>> {
                if !work_left {
                    return None;
                }
                let last = ActionRecord {
                    id: record_id,
                    flow: self.id,
                    concept: info.concept_name.clone(),
                    action: info.name.clone(),
                    input: input.clone(),
                    outcome: outcome.clone(),
                    sync: sync_name.clone(),
                    matched: matched.clone(),
                    started_at,
                    completed_at: SystemTime::now(),
                };
                Some(crate::journal::snapshot(
                    self.ids,
                    inner,
                    table,
                    &self.records,
                    &self.causes,
                    &self.actions,
                    &self.stack,
                    &last,
                    action,
                    cause.as_ref(),
                    depth,
                ))
            };
            crate::perform::perform(inner, &table.redactor, &mut log, action, &input, &provenance, &journal).await
        };
        self.log = log;
        let record = Arc::new(ActionRecord {
            id: record_id,
            flow: self.id,
            concept: info.concept_name.clone(),
            action: info.name.clone(),
            input,
            outcome,
            sync: sync_name,
            matched,
            started_at,
            completed_at: SystemTime::now(),
        });
        tracing::info!(
            target: "concord::action",
            flow = %self.id,
            sync = %record.sync.as_deref().unwrap_or("-"),
            "{:indent$}{}",
            "",
            record.display_redacted(&table.redactor),
            indent = (depth as usize) * 2
        );
        if let Some(log) = &inner.log {
            log.record(&record);
        }
        let index = self.records.len() as u32;
        self.records.push(record);
        self.actions.push(action);
        self.causes.push(cause);
        self.by_action.entry(action).or_default().push(index);
        self.queries.forget_concept(info.concept);
        index
    }

    /// Matches sync `sync` on the combinations that include `record` at one
    /// of `positions`, runs its where pipeline, and returns its then
    /// invocations in order (frame by frame, invocation by invocation), then
    /// those of its `else` clauses for the frames they took.
    async fn evaluate(
        &mut self,
        inner: &Inner,
        table: &SyncTable,
        sync: usize,
        record: u32,
        positions: &[usize],
    ) -> Vec<Pending> {
        let loaded = &table.syncs[sync];
        let s = &loaded.sync;
        let records = FlowRecords {
            records: &self.records,
            by_action: &self.by_action,
        };
        let matches = crate::matching::matches(&records, loaded, record, positions);
        if matches.is_empty() {
            return Vec::new();
        }
        let mut rows = Vec::with_capacity(matches.len());
        let mut provenance = Vec::with_capacity(matches.len());
        for (origin, m) in matches.into_iter().enumerate() {
            rows.push(Row { frame: m.frame, origin });
            provenance.push(m.records);
        }
        let mut errors = Vec::new();
        let mut dropped = Vec::new();
        let mut pipeline = Pipeline {
            inner,
            flow: self.id,
            vars: &s.vars,
            sync: &loaded.name,
            errors: &mut errors,
            cache: &mut self.queries,
            dropped: &mut dropped,
            rejections: &mut self.rejections,
            guarded: 0,
            refused: 0,
        };
        let rows = pipeline.run(&s.steps, rows).await;
        self.errors.extend(errors);
        let mut out = Vec::new();
        let then: Vec<(&concord_program::Invocation, ActionId)> =
            s.then.iter().zip(loaded.then_actions.iter().copied()).collect();
        for row in &rows {
            self.invoke_all(table, sync, None, &then, row, &provenance, &mut out);
        }
        // The frames an `else` took: its invocation, recorded as its companion's.
        for d in dropped {
            let (Some(o), Some(loaded_else)) = (s.otherwise.get(d.otherwise), loaded.otherwise.get(d.otherwise)) else {
                continue;
            };
            self.invoke_all(
                table,
                sync,
                Some(d.otherwise),
                &[(&o.invocation, loaded_else.action)],
                &d.row,
                &provenance,
                &mut out,
            );
        }
        out
    }

    /// Evaluates `invocations` on `row` for `sync` (or its `else` clause
    /// `otherwise`), appending what to run.
    #[allow(clippy::too_many_arguments)]
    fn invoke_all(
        &mut self,
        table: &SyncTable,
        sync: usize,
        otherwise: Option<usize>,
        invocations: &[(&concord_program::Invocation, ActionId)],
        row: &Row,
        provenance: &[Vec<u32>],
        out: &mut Vec<Pending>,
    ) {
        let loaded = &table.syncs[sync];
        for &(inv, action) in invocations {
            let mut input = Record::new();
            let mut complete = true;
            for (key, e) in &inv.args {
                match eval(e, &row.frame, &loaded.sync.vars) {
                    Ok(v) => {
                        input.insert(key.clone(), v);
                    }
                    Err(crate::value::EvalError::Rejected(r)) => {
                        self.rejections.push(Rejection {
                            sync: loaded.name.to_string(),
                            what: r.what,
                            expected: r.expected.to_string(),
                        });
                        complete = false;
                        break;
                    }
                    Err(crate::value::EvalError::Failed(msg)) => {
                        let message = format!("argument `{key}` of {}.{}: {msg}", inv.concept, inv.action);
                        self.report(&loaded.name, message);
                        complete = false;
                        break;
                    }
                }
            }
            if complete {
                out.push(Pending {
                    sync,
                    otherwise,
                    action,
                    input,
                    matched: provenance.get(row.origin).cloned().unwrap_or_default(),
                });
            }
        }
    }

    fn report(&mut self, sync: &str, message: String) {
        tracing::error!(target: "concord::flow", flow = %self.id, sync, "{message}");
        self.errors.push(crate::FlowError {
            sync: sync.to_string(),
            message,
        });
    }
}

/// Names the syncs of the cycle that led to `cause`, by following each
/// record's provenance back through its most recent matched record.
fn runaway_cycle(flow: &Flow, table: &SyncTable, cause: Option<&Cause>) -> Vec<String> {
    // A sync and one of its `else` clauses are different steps of a cycle.
    let mut chain: Vec<&Cause> = Vec::new();
    let same = |a: &Cause, b: &Cause| a.sync == b.sync && a.otherwise == b.otherwise;
    let mut current = cause;
    while let Some(c) = current {
        if let Some(first) = chain.iter().position(|s| same(s, c)) {
            let mut cycle: Vec<String> = chain[first..].iter().rev().map(|c| c.name(table).to_string()).collect();
            cycle.push(cycle[0].clone());
            return cycle;
        }
        chain.push(c);
        current = c
            .matched
            .iter()
            .max()
            .and_then(|&i| flow.causes.get(i as usize))
            .and_then(Option::as_ref);
    }
    chain.iter().rev().map(|c| c.name(table).to_string()).collect()
}
