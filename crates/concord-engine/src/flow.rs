//! One flow: records, per-flow indexes, and the depth-first work loop.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use concord_concept::state::LogEntry;
use concord_concept::{ActionContext, BoxFuture, FlowId, Outcome, QueryContext, Record, RecordId, StateError, Value};
use concord_program::{FieldMatch, Matcher, OutcomeMatch, QueryMode, Step, WhenPattern};

use crate::record::{ActionRecord, Json};
use crate::value::{Frame, eval, json_eq};
use crate::{ActionId, Inner, SyncTable};

/// How a flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowStatus {
    /// Nothing left to do.
    Quiescent,
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

/// Why an action is being invoked: which sync, on which records (indexes
/// into the flow).
struct Cause {
    sync: usize,
    matched: Vec<u32>,
}

enum Work {
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

struct Flow {
    id: FlowId,
    records: Vec<Arc<ActionRecord>>,
    actions: Vec<ActionId>,
    causes: Vec<Option<Cause>>,
    by_action: HashMap<ActionId, Vec<u32>>,
    errors: Vec<FlowError>,
    queries: QueryCache,
}

/// Query answers seen while evaluating the syncs of one record: sibling
/// syncs (a query and its `not` companion) see the same answer, read once.
/// An action of a concept drops that concept's answers, since only its own
/// actions change a concept's state.
#[derive(Default)]
struct QueryCache {
    record: u32,
    answers: HashMap<(usize, String, String), Arc<Vec<Record>>>,
}

impl QueryCache {
    fn scope(&mut self, record: u32) {
        if self.record != record {
            self.record = record;
            self.answers.clear();
        }
    }

    fn forget_concept(&mut self, concept: usize) {
        if !self.answers.is_empty() {
            self.answers.retain(|k, _| k.0 != concept);
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
    let mut flow = Flow {
        id,
        records: Vec::new(),
        actions: Vec::new(),
        causes: Vec::new(),
        by_action: HashMap::new(),
        errors: Vec::new(),
        queries: QueryCache::default(),
    };
    let mut stack = vec![Work::Invoke {
        action,
        input,
        cause: None,
        depth: 0,
    }];
    let mut status = FlowStatus::Quiescent;
    while let Some(work) = stack.pop() {
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
                let index = perform(inner, &table, &mut flow, action, input, cause, depth).await;
                if !table.by_action[action].is_empty() {
                    stack.push(Work::Syncs {
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
                    stack.push(Work::Syncs {
                        record,
                        next: end,
                        depth,
                    });
                }
                flow.queries.scope(record);
                let invocations = evaluate(inner, &table, &mut flow, sync, record, &positions).await;
                for (sync, action, input, matched) in invocations.into_iter().rev() {
                    stack.push(Work::Invoke {
                        action,
                        input,
                        cause: Some(Cause { sync, matched }),
                        depth: depth + 1,
                    });
                }
            }
        }
    }
    FlowReport {
        flow: flow.id,
        records: flow.records,
        status,
        errors: flow.errors,
    }
}

/// Runs one action, records it, logs it, and returns its index in the flow.
async fn perform(
    inner: &Inner,
    table: &SyncTable,
    flow: &mut Flow,
    action: ActionId,
    input: Record,
    cause: Option<Cause>,
    depth: u32,
) -> u32 {
    let info = &inner.actions[action];
    let record_id = RecordId::fresh();
    let started_at = SystemTime::now();
    let matched: Vec<RecordId> = cause
        .as_ref()
        .map(|c| c.matched.iter().map(|&i| flow.records[i as usize].id).collect())
        .unwrap_or_default();
    let sync_name = cause.as_ref().map(|c| table.syncs[c.sync].name.clone());
    let seq = flow.records.len() as u32;
    let outcome = match &inner.store {
        None => {
            let mut ctx = ActionContext::new(flow.id, record_id);
            run_action(inner, flow.id, action, &mut ctx, &input).await
        }
        Some(store) => {
            let entry = |outcome: &Outcome| LogEntry {
                id: record_id.to_string(),
                flow: flow.id.to_string(),
                seq,
                concept: info.concept_name.to_string(),
                action: info.name.to_string(),
                input: redact(input.clone(), &inner.sensitive),
                error: outcome.is_error(),
                output: redact(outcome.to_record(), &inner.sensitive),
                sync: sync_name.as_deref().map(str::to_string),
                matched: matched.iter().map(ToString::to_string).collect(),
                started_at: micros(started_at),
                completed_at: micros(SystemTime::now()),
            };
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut ctx = ActionContext::with_state(flow.id, record_id, info.concept_name.clone(), store.clone());
                let outcome = run_action(inner, flow.id, action, &mut ctx, &input).await;
                let conflicted = ctx.conflicted();
                let tx = ctx.take_transaction();
                drop(ctx);
                if conflicted && attempt < MAX_ATTEMPTS {
                    drop(tx);
                    backoff(attempt).await;
                    continue;
                }
                let result = match (&outcome, tx) {
                    (Outcome::Success(_), Some(tx)) => tx.commit(entry(&outcome)).await,
                    // Errors and panics leave no state behind: the
                    // transaction rolls back and the record is logged alone.
                    (_, tx) => {
                        drop(tx);
                        store.append_log(entry(&outcome)).await
                    }
                };
                match result {
                    Ok(()) => break outcome,
                    Err(StateError::Conflict) if attempt < MAX_ATTEMPTS => {
                        backoff(attempt).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(
                            target: "concord::flow",
                            flow = %flow.id,
                            "{}.{}: could not commit: {e}",
                            info.concept_name,
                            info.name
                        );
                        let failed = Outcome::Error(format!("storage failure in {}.{}", info.concept_name, info.name));
                        if !matches!(outcome, Outcome::Error(_)) {
                            let _ = store.append_log(entry(&failed)).await;
                        }
                        break failed;
                    }
                }
            }
        }
    };
    let record = Arc::new(ActionRecord {
        id: record_id,
        flow: flow.id,
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
        flow = %flow.id,
        sync = %record.sync.as_deref().unwrap_or("-"),
        "{:indent$}{}",
        "",
        record.display_redacted(&inner.sensitive),
        indent = (depth as usize) * 2
    );
    if let Some(log) = &inner.log {
        log.record(&record);
    }
    let index = flow.records.len() as u32;
    flow.records.push(record);
    flow.actions.push(action);
    flow.causes.push(cause);
    flow.by_action.entry(action).or_default().push(index);
    flow.queries.forget_concept(info.concept);
    index
}

/// How often an action is run again after conflicting with concurrent ones
/// (heavily contended rows need many rounds: each round one action wins).
const MAX_ATTEMPTS: u32 = 500;

async fn backoff(attempt: u32) {
    // Random delays, growing to a few milliseconds, spread the retries of
    // conflicting actions so that they stop colliding.
    let window = 200u128 << attempt.min(5);
    let random = RecordId::fresh().0.as_u128() as u64 as u128;
    tokio::time::sleep(std::time::Duration::from_micros((random % window) as u64 + 50)).await;
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `record` with sensitive values replaced, for the log.
fn redact(mut record: Record, sensitive: &std::collections::HashSet<String>) -> Record {
    for (k, v) in record.iter_mut() {
        if sensitive.contains(k) {
            *v = Value::from(crate::REDACTED);
        }
    }
    record
}

/// Runs the concept's action, turning a panic into the error outcome.
async fn run_action(inner: &Inner, flow: FlowId, action: ActionId, ctx: &mut ActionContext, input: &Record) -> Outcome {
    let info = &inner.actions[action];
    let concept = &inner.concepts[info.concept];
    match CatchUnwind(concept.perform(ctx, &info.name, input)).await {
        Ok(outcome) => outcome,
        Err(panic) => {
            tracing::error!(target: "concord::flow", flow = %flow, "{}.{} panicked: {panic}", info.concept_name, info.name);
            Outcome::Error(format!("internal error in {}.{}", info.concept_name, info.name))
        }
    }
}

/// Names the syncs of the cycle that led to `cause`, by following each
/// record's provenance back through its most recent matched record.
fn runaway_cycle(flow: &Flow, table: &SyncTable, cause: Option<&Cause>) -> Vec<String> {
    let mut chain: Vec<usize> = Vec::new();
    let mut current = cause;
    while let Some(c) = current {
        if let Some(first) = chain.iter().position(|&s| s == c.sync) {
            let mut cycle: Vec<String> = chain[first..]
                .iter()
                .rev()
                .map(|&s| table.syncs[s].name.to_string())
                .collect();
            cycle.push(cycle[0].clone());
            return cycle;
        }
        chain.push(c.sync);
        current = c
            .matched
            .iter()
            .max()
            .and_then(|&i| flow.causes.get(i as usize))
            .and_then(Option::as_ref);
    }
    chain.iter().rev().map(|&s| table.syncs[s].name.to_string()).collect()
}

/// An action to run: the sync that invokes it, the action, its input, and
/// the records the sync matched.
type Invocation = (usize, ActionId, Record, Vec<u32>);

/// Matches sync `sync` on the combinations that include `record` at one of
/// `positions`, runs its where pipeline, and returns its then invocations in
/// order (frame by frame, invocation by invocation).
async fn evaluate(
    inner: &Inner,
    table: &SyncTable,
    flow: &mut Flow,
    sync: usize,
    record: u32,
    positions: &[usize],
) -> Vec<Invocation> {
    let loaded = &table.syncs[sync];
    let s = &loaded.sync;
    let mut matches: Vec<(Frame, Vec<u32>)> = Vec::new();
    for &pos in positions {
        let mut chosen = Vec::with_capacity(s.when.len());
        enumerate(
            flow,
            loaded,
            record,
            pos,
            0,
            vec![None; s.vars.len()],
            &mut chosen,
            &mut matches,
        );
    }
    if matches.is_empty() {
        return Vec::new();
    }
    let mut frames: Vec<Frame> = Vec::with_capacity(matches.len());
    let mut provenance: Vec<Vec<u32>> = Vec::with_capacity(matches.len());
    // Keep each frame's matched records alongside it through the pipeline by
    // storing the match index in an extra slot.
    for (i, (mut frame, matched)) in matches.into_iter().enumerate() {
        frame.push(Some(Value::from(i)));
        frames.push(frame);
        provenance.push(matched);
    }
    let mut errors = Vec::new();
    let mut dropped = Vec::new();
    let frames = run_steps(
        inner,
        flow.id,
        &s.steps,
        frames,
        &s.vars,
        &loaded.name,
        &mut errors,
        &mut flow.queries,
        &mut dropped,
    )
    .await;
    flow.errors.extend(errors);
    let mut out = Vec::new();
    let then: Vec<(&concord_program::Invocation, ActionId)> =
        s.then.iter().zip(loaded.then_actions.iter().copied()).collect();
    for frame in frames {
        invoke_all(flow, table, sync, &then, &frame, &provenance, &mut out);
    }
    // The frames an `else` took: its invocation, recorded as its companion's.
    for (k, frame) in dropped {
        let (Some(o), Some(&(companion, action))) = (s.otherwise.get(k), loaded.otherwise.get(k)) else {
            continue;
        };
        invoke_all(
            flow,
            table,
            companion,
            &[(&o.invocation, action)],
            &frame,
            &provenance,
            &mut out,
        );
    }
    out
}

/// Evaluates `invocations` on `frame` for `sync`, appending what to run.
fn invoke_all(
    flow: &mut Flow,
    table: &SyncTable,
    sync: usize,
    invocations: &[(&concord_program::Invocation, ActionId)],
    frame: &Frame,
    provenance: &[Vec<u32>],
    out: &mut Vec<Invocation>,
) {
    let loaded = &table.syncs[sync];
    let which = frame
        .last()
        .and_then(|v| v.as_ref())
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    for &(inv, action) in invocations {
        let mut input = Record::new();
        let mut failed = None;
        for (key, e) in &inv.args {
            match eval(e, frame, &loaded.sync.vars) {
                Ok(v) => {
                    input.insert(key.clone(), v);
                }
                Err(msg) => {
                    failed = Some(format!("argument `{key}` of {}.{}: {msg}", inv.concept, inv.action));
                    break;
                }
            }
        }
        match failed {
            None => out.push((sync, action, input, provenance.get(which).cloned().unwrap_or_default())),
            Some(message) => report(flow, &loaded.name, message),
        }
    }
}

fn report(flow: &mut Flow, sync: &str, message: String) {
    tracing::error!(target: "concord::flow", flow = %flow.id, sync, "{message}");
    flow.errors.push(FlowError {
        sync: sync.to_string(),
        message,
    });
}

#[allow(clippy::too_many_arguments)]
fn enumerate(
    flow: &Flow,
    loaded: &crate::LoadedSync,
    record: u32,
    pos: usize,
    j: usize,
    frame: Frame,
    chosen: &mut Vec<u32>,
    out: &mut Vec<(Frame, Vec<u32>)>,
) {
    let when = &loaded.sync.when;
    if j == when.len() {
        out.push((frame, chosen.clone()));
        return;
    }
    let try_one = |candidate: u32, chosen: &mut Vec<u32>, out: &mut Vec<(Frame, Vec<u32>)>| {
        let mut f = frame.clone();
        if unify(&when[j], &flow.records[candidate as usize], &mut f) {
            chosen.push(candidate);
            enumerate(flow, loaded, record, pos, j + 1, f, chosen, out);
            chosen.pop();
        }
    };
    if j == pos {
        try_one(record, chosen, out);
        return;
    }
    let Some(candidates) = flow.by_action.get(&loaded.when_actions[j]) else {
        return;
    };
    // Every combination is evaluated exactly once: when its newest record is
    // the one being processed. So only records up to `record` take part
    // (later ones get their turn when they are processed), and before the new
    // record's position only strictly older records may appear.
    for &candidate in candidates {
        if candidate > record || (j < pos && candidate == record) {
            break;
        }
        try_one(candidate, chosen, out);
    }
}

fn unify(p: &WhenPattern, r: &ActionRecord, frame: &mut Frame) -> bool {
    if !p.inputs.iter().all(|m| match_field(m, r.input.get(&m.key), frame)) {
        return false;
    }
    match (&p.outcome, &r.outcome) {
        (OutcomeMatch::Any, _) => true,
        (OutcomeMatch::Success(ms), Outcome::Success(out)) => ms.iter().all(|m| match_field(m, out.get(&m.key), frame)),
        (OutcomeMatch::Error(ms), Outcome::Error(e)) => {
            let v = Value::String(e.clone());
            ms.iter().all(|m| match_field(m, Some(&v), frame))
        }
        _ => false,
    }
}

const NULL: Value = Value::Null;

fn match_field(m: &FieldMatch, value: Option<&Value>, frame: &mut Frame) -> bool {
    let v = match value {
        Some(v) => v,
        None if m.optional => &NULL,
        None => return false,
    };
    match &m.matcher {
        Matcher::Present => true,
        Matcher::Literal(l) => json_eq(l, v),
        Matcher::Bind(slot) => match frame.get_mut(*slot) {
            Some(Some(existing)) => json_eq(existing, v),
            Some(empty) => {
                *empty = Some(v.clone());
                true
            }
            None => false,
        },
    }
}

/// Runs where steps over frames. Boxed because `collect` recurses.
#[allow(clippy::too_many_arguments)]
fn run_steps<'a>(
    inner: &'a Inner,
    flow: FlowId,
    steps: &'a [Step],
    mut frames: Vec<Frame>,
    vars: &'a [String],
    sync: &'a str,
    errors: &'a mut Vec<crate::FlowError>,
    cache: &'a mut QueryCache,
    dropped: &'a mut Vec<(usize, Frame)>,
) -> BoxFuture<'a, Vec<Frame>> {
    Box::pin(async move {
        let fail = |errors: &mut Vec<crate::FlowError>, message: String| {
            tracing::error!(target: "concord::flow", flow = %flow, sync, "{message}");
            errors.push(crate::FlowError {
                sync: sync.to_string(),
                message,
            });
        };
        for step in steps {
            if frames.is_empty() {
                break;
            }
            let mut next = Vec::with_capacity(frames.len());
            match step {
                Step::Filter(e) => {
                    for f in frames {
                        match eval(e, &f, vars) {
                            Ok(Value::Bool(true)) => next.push(f),
                            Ok(Value::Bool(false)) => {}
                            Ok(other) => fail(errors, format!("a where filter must be true or false, got {other}")),
                            Err(m) => fail(errors, format!("where filter: {m}")),
                        }
                    }
                }
                Step::Let(slot, e) => {
                    for mut f in frames {
                        match eval(e, &f, vars) {
                            Ok(v) => {
                                f[*slot] = Some(v);
                                next.push(f);
                            }
                            Err(m) => fail(errors, format!("let {}: {m}", vars[*slot])),
                        }
                    }
                }
                Step::Query {
                    mode,
                    concept,
                    query,
                    inputs,
                    outputs,
                } => {
                    let Some(&ci) = inner.concept_index.get(concept) else {
                        fail(errors, format!("concept `{concept}` is not registered"));
                        return Vec::new();
                    };
                    let c = &inner.concepts[ci];
                    let ctx = QueryContext::with_state(flow, inner.concept_names[ci].clone(), inner.store.clone());
                    'frames: for f in frames {
                        let mut input = Record::new();
                        for (k, e) in inputs {
                            match eval(e, &f, vars) {
                                Ok(v) => {
                                    input.insert(k.clone(), v);
                                }
                                Err(m) => {
                                    fail(errors, format!("argument `{k}` of {concept}.{query}: {m}"));
                                    continue 'frames;
                                }
                            }
                        }
                        let key = (ci, query.clone(), serde_json::to_string(&input).unwrap_or_default());
                        let rows = match cache.answers.get(&key) {
                            Some(rows) => Ok(Ok(rows.clone())),
                            None => CatchUnwind(c.query(&ctx, query, &input)).await.map(|r| {
                                r.map(|rows| {
                                    let rows = Arc::new(rows);
                                    cache.answers.insert(key, rows.clone());
                                    rows
                                })
                            }),
                        };
                        let rows = match rows {
                            Ok(Ok(rows)) => rows,
                            Ok(Err(m)) => {
                                fail(errors, format!("{concept}.{query} failed: {m}"));
                                continue;
                            }
                            Err(panic) => {
                                fail(errors, format!("{concept}.{query} panicked: {panic}"));
                                continue;
                            }
                        };
                        match mode {
                            QueryMode::Not => {
                                if rows.is_empty() {
                                    next.push(f);
                                }
                            }
                            QueryMode::Optional if rows.is_empty() => {
                                let mut f = f;
                                for m in outputs {
                                    if let Matcher::Bind(s) = m.matcher
                                        && f[s].is_none()
                                    {
                                        f[s] = Some(Value::Null);
                                    }
                                }
                                next.push(f);
                            }
                            _ => {
                                // The last row takes the frame itself: most
                                // queries yield one row, so most steps copy nothing.
                                let mut f = Some(f);
                                for (n, row) in rows.iter().enumerate() {
                                    if let Some(missing) =
                                        outputs.iter().find(|m| !m.optional && !row.contains_key(&m.key))
                                    {
                                        fail(
                                            errors,
                                            format!(
                                                "{concept}.{query} returned a row without `{}`: {}",
                                                missing.key,
                                                Json(row, &inner.sensitive)
                                            ),
                                        );
                                        continue;
                                    }
                                    let mut g = if n + 1 == rows.len() {
                                        f.take().unwrap_or_default()
                                    } else {
                                        f.clone().unwrap_or_default()
                                    };
                                    if outputs.iter().all(|m| match_field(m, row.get(&m.key), &mut g)) {
                                        next.push(g);
                                    }
                                }
                            }
                        }
                    }
                }
                Step::Guarded { steps, otherwise } => {
                    // Per frame: if the guarded steps leave nothing of it,
                    // and not because of an evaluation error, its `else` runs.
                    for f in frames {
                        let errors_before = errors.len();
                        let kept =
                            run_steps(inner, flow, steps, vec![f.clone()], vars, sync, errors, cache, dropped).await;
                        if kept.is_empty() {
                            if errors.len() == errors_before {
                                dropped.push((*otherwise, f));
                            }
                        } else {
                            next.extend(kept);
                        }
                    }
                }
                Step::Collect { element, slot, steps } => {
                    for mut f in frames {
                        let inner_frames =
                            run_steps(inner, flow, steps, vec![f.clone()], vars, sync, errors, cache, dropped).await;
                        let mut items = Vec::with_capacity(inner_frames.len());
                        for g in &inner_frames {
                            match eval(element, g, vars) {
                                Ok(v) => items.push(v),
                                Err(m) => fail(errors, format!("collect element: {m}")),
                            }
                        }
                        f[*slot] = Some(Value::Array(items));
                        next.push(f);
                    }
                }
            }
            frames = next;
        }
        frames
    })
}

/// Turns a panic inside a concept's future into an error value.
struct CatchUnwind<'a, T>(BoxFuture<'a, T>);

impl<T> Future for CatchUnwind<'_, T> {
    type Output = Result<T, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                Poll::Ready(Err(msg))
            }
        }
    }
}

/// For a finished flow: the syncs with a pattern whose literals a record of
/// the flow has, that did not fire, each with the first reason found — a when
/// pattern no record of the flow matches, or a where clause that dropped
/// every frame. A first answer to "why did nothing respond?"; the full
/// why-not explanation is a separate tool.
pub(crate) fn near_misses(table: &SyncTable, report: &FlowReport) -> Vec<String> {
    let fired: std::collections::HashSet<&str> = report.records.iter().filter_map(|r| r.sync.as_deref()).collect();
    let mut out = Vec::new();
    for loaded in &table.syncs {
        let s = &loaded.sync;
        if fired.contains(&*loaded.name) {
            continue;
        }
        let fresh = || vec![None; s.vars.len()];
        // Close means: every pattern that names literals (such as a request
        // path) has a record of the flow with those literals, and some pattern
        // has a record at all.
        let literal_ok = s.when.iter().all(|p| {
            p.inputs.iter().all(|m| !matches!(m.matcher, Matcher::Literal(_)))
                || report
                    .records
                    .iter()
                    .any(|r| p.concept == *r.concept && p.action == *r.action && literals_match(p, r))
        });
        if !literal_ok {
            continue;
        }
        let close = s.when.iter().find_map(|p| {
            report
                .records
                .iter()
                .find(|r| p.concept == *r.concept && p.action == *r.action && literals_match(p, r))
                .map(|r| (p, r))
        });
        let Some((pattern, record)) = close else {
            continue;
        };
        if let Some(why) = first_mismatch(pattern, record) {
            out.push(format!("{}: {}.{} {why}", loaded.name, record.concept, record.action));
            continue;
        }
        let missing = s.when.iter().find(|p| {
            !report
                .records
                .iter()
                .any(|r| p.concept == *r.concept && p.action == *r.action && unify(p, r, &mut fresh()))
        });
        let reason = match missing {
            Some(p) => {
                let outcome = match p.outcome {
                    OutcomeMatch::Success(_) => "a success",
                    OutcomeMatch::Error(_) => "an error",
                    OutcomeMatch::Any => "an outcome",
                };
                let happened = report
                    .records
                    .iter()
                    .any(|r| p.concept == *r.concept && p.action == *r.action);
                if happened {
                    format!(
                        "{}: waits for {outcome} of {}.{} whose fields match; none did",
                        loaded.name, p.concept, p.action
                    )
                } else {
                    format!(
                        "{}: waits for {outcome} of {}.{}, which did not run in this flow",
                        loaded.name, p.concept, p.action
                    )
                }
            }
            None if !s.steps.is_empty() => format!("{}{WHERE_DROPPED}", loaded.name),
            None => format!(
                "{}: its patterns matched records, but never together (their shared variables differ)",
                loaded.name
            ),
        };
        out.push(reason);
    }
    out
}

fn literals_match(p: &WhenPattern, r: &ActionRecord) -> bool {
    p.inputs.iter().all(|m| match &m.matcher {
        Matcher::Literal(l) => r.input.get(&m.key).is_some_and(|v| json_eq(l, v)),
        _ => true,
    })
}

/// Why `r` does not match `p`, in words; `None` if it does.
fn first_mismatch(p: &WhenPattern, r: &ActionRecord) -> Option<String> {
    for m in &p.inputs {
        if r.input.get(&m.key).is_none() && !m.optional {
            return Some(format!("has no `{}`", m.key));
        }
    }
    match (&p.outcome, &r.outcome) {
        (OutcomeMatch::Success(_), Outcome::Error(_)) => return Some("ended in its error, not a success".into()),
        (OutcomeMatch::Error(_), Outcome::Success(_)) => {
            return Some("succeeded, and the pattern waits for its error".into());
        }
        _ => {}
    }
    let outputs = match (&p.outcome, &r.outcome) {
        (OutcomeMatch::Success(ms), Outcome::Success(out)) => {
            ms.iter().find(|m| !m.optional && !out.contains_key(&m.key))
        }
        _ => None,
    };
    if let Some(m) = outputs {
        return Some(format!("has no output `{}`", m.key));
    }
    None
}

const WHERE_DROPPED: &str = ": its when patterns matched, but its where clause dropped every frame";

/// [`near_misses`], with "its where clause dropped every frame" made
/// precise: the where steps are run again, one at a time, on the flow's
/// matches, and the first step that leaves no frame is named with the values
/// it saw (secrets redacted). Queries read the state as it is now.
pub(crate) async fn explain(inner: &Inner, table: &SyncTable, report: &FlowReport) -> Vec<String> {
    let mut lines = near_misses(table, report);
    for line in &mut lines {
        let Some(name) = line.strip_suffix(WHERE_DROPPED).map(str::to_string) else {
            continue;
        };
        // A companion written as `else` under one of its steps that fired
        // says exactly which step dropped the frames, with the real values.
        let base = match name.rsplit_once(".else") {
            Some((base, n)) if n.parse::<usize>().is_ok() => base,
            _ => name.as_str(),
        };
        let prefix = format!("{base}.else");
        if base != name
            && report
                .records
                .iter()
                .filter_map(|r| r.sync.as_deref())
                .any(|s| s.starts_with(&prefix))
        {
            // Its sibling answered; the sync's own line says which step.
            line.clear();
            continue;
        }
        if let Some(companion) = report.records.iter().filter_map(|r| r.sync.as_deref()).find(|s| {
            s.strip_prefix(prefix.as_str())
                .is_some_and(|n| n.parse::<usize>().is_ok())
        }) {
            let step = &companion[prefix.len()..];
            *line = format!("{name}: where step {step} dropped every frame, and its `else` ({companion}) answered");
            continue;
        }
        let Some(loaded) = table.syncs.iter().find(|s| *s.name == *name) else {
            continue;
        };
        if let Some(detail) = where_failure(inner, loaded, report).await {
            *line = format!("{name}: {detail}");
        }
    }
    lines.retain(|l| !l.is_empty());
    lines
}

/// Every combination of the flow's records that matches all of `when`.
fn all_matches(when: &[WhenPattern], records: &[Arc<ActionRecord>], frame: Frame, out: &mut Vec<Frame>) {
    const CAP: usize = 50;
    let Some((p, rest)) = when.split_first() else {
        out.push(frame);
        return;
    };
    for r in records
        .iter()
        .filter(|r| p.concept == *r.concept && p.action == *r.action)
    {
        if out.len() >= CAP {
            return;
        }
        let mut f = frame.clone();
        if unify(p, r, &mut f) {
            all_matches(rest, records, f, out);
        }
    }
}

/// The first variable a step reads whose value is a redacted secret.
fn secret_used(step: &Step, frame: &Frame, vars: &[String]) -> Option<String> {
    use concord_program::Expr;
    fn walk(e: &Expr, frame: &Frame, vars: &[String]) -> Option<String> {
        match e {
            Expr::Var(slot) => match frame.get(*slot) {
                Some(Some(Value::String(v))) if v == crate::REDACTED => vars.get(*slot).cloned(),
                _ => None,
            },
            Expr::Lit(_) => None,
            Expr::Field(b, _) | Expr::Not(b) | Expr::Neg(b) => walk(b, frame, vars),
            Expr::Object(fields) => fields.iter().find_map(|(_, v)| walk(v, frame, vars)),
            Expr::List(items) | Expr::Call(_, items) => items.iter().find_map(|i| walk(i, frame, vars)),
            Expr::Binary(_, a, b) => walk(a, frame, vars).or_else(|| walk(b, frame, vars)),
        }
    }
    match step {
        Step::Query { inputs, .. } => inputs.iter().find_map(|(_, e)| walk(e, frame, vars)),
        Step::Filter(e) | Step::Let(_, e) => walk(e, frame, vars),
        Step::Collect { element, steps, .. } => {
            walk(element, frame, vars).or_else(|| steps.iter().find_map(|s| secret_used(s, frame, vars)))
        }
        Step::Guarded { steps, .. } => steps.iter().find_map(|s| secret_used(s, frame, vars)),
    }
}

async fn where_failure(inner: &Inner, loaded: &crate::LoadedSync, report: &FlowReport) -> Option<String> {
    let s = &loaded.sync;
    let mut frames = Vec::new();
    all_matches(&s.when, &report.records, vec![None; s.vars.len()], &mut frames);
    let mut errors = Vec::new();
    let mut cache = QueryCache::default();
    for (i, step) in s.steps.iter().enumerate() {
        // Numbered as written (a view's use is one step however many it became).
        let i = s.written_steps.get(i).copied().unwrap_or(i);
        let first = frames.first()?.clone();
        // The log keeps secrets as `<redacted>`: re-running a step on them
        // would give a wrong reason, so say why it cannot be re-checked.
        if let Some(secret) = secret_used(step, &first, &s.vars) {
            return Some(format!(
                "where step {} depends on `{secret}`, a secret the log does not keep, so it cannot be re-checked",
                i + 1
            ));
        }
        frames = run_steps(
            inner,
            report.flow,
            std::slice::from_ref(step),
            frames,
            &s.vars,
            &loaded.name,
            &mut errors,
            &mut cache,
            &mut Vec::new(),
        )
        .await;
        if frames.is_empty() {
            let shown = |key: &str, v: &Value| {
                if inner.sensitive.contains(key) {
                    crate::REDACTED.to_string()
                } else {
                    let text = v.to_string();
                    if text.chars().count() > 60 {
                        format!("{}…", text.chars().take(60).collect::<String>())
                    } else {
                        text
                    }
                }
            };
            let what = match step {
                Step::Query {
                    mode,
                    concept,
                    query,
                    inputs,
                    ..
                } => {
                    let args: Vec<String> = inputs
                        .iter()
                        .map(|(k, e)| match eval(e, &first, &s.vars) {
                            Ok(v) => format!("{k}: {}", shown(k, &v)),
                            Err(_) => format!("{k}: ?"),
                        })
                        .collect();
                    let call = format!("{concept}.{query} ({})", args.join(", "));
                    match mode {
                        _ if !errors.is_empty() => format!("`{call}` failed"),
                        QueryMode::Not => format!("`not {call}` found rows"),
                        _ => format!("`{call}` returned no rows"),
                    }
                }
                Step::Filter(_) => {
                    let bound: Vec<String> = s
                        .vars
                        .iter()
                        .zip(&first)
                        .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name} = {}", shown(name, v))))
                        .collect();
                    format!("a filter was false for {}", bound.join(", "))
                }
                Step::Let(slot, _) => format!("`let {}` could not be computed", s.vars[*slot]),
                Step::Collect { .. } => "a collect step failed".to_string(),
                Step::Guarded { .. } => "the step under an `else` yielded nothing".to_string(),
            };
            let failure = match errors.last() {
                Some(e) => format!(" ({})", e.message),
                None => String::new(),
            };
            return Some(format!("where step {} dropped every frame: {what}{failure}", i + 1));
        }
    }
    None
}
