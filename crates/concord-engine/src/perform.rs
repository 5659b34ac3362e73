//! Performing one action: its transaction, committed with its log record,
//! retried after a conflict, with a panic turned into its error outcome.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use concord_concept::state::LogEntry;
use concord_concept::{ActionContext, BoxFuture, FlowId, Outcome, Record, RecordId, StateError};

use crate::redact::{Part, Redactor};
use crate::{ActionId, Inner};

/// What the log record of an action says besides its input and outcome.
pub(crate) struct Provenance<'a> {
    pub record: RecordId,
    pub flow: FlowId,
    /// Position in the flow.
    pub seq: u32,
    /// The sync that invoked it (`None` for the external invocation).
    pub sync: Option<&'a str>,
    /// The records that sync matched.
    pub matched: &'a [RecordId],
    pub started_at: SystemTime,
}

/// The log records of one flow on their way to the store, and its journal.
/// A record that commits no state is held back and commits with the flow's
/// next write, so that the log holds exactly what the journal says happened;
/// what is held when the flow ends goes to the log then: as read-only
/// records (kept in a bounded window) if the flow changed nothing, else kept
/// for the retention period, with the journal's deletion.
#[derive(Default)]
pub(crate) struct FlowLog {
    wrote: bool,
    /// The flow has a journal row (its last write left work to do).
    journaled: bool,
    taken_over: bool,
    /// An action was refused for overload before the flow wrote anything:
    /// the flow stops, and its client should try again after this.
    overloaded: Option<std::time::Duration>,
    held: Vec<LogEntry>,
}

impl FlowLog {
    /// For a flow resumed from its journal: it has written, and has a row.
    pub(crate) fn resumed(&mut self) {
        self.wrote = true;
        self.journaled = true;
    }

    /// An action was refused for overload before the flow wrote anything.
    pub(crate) fn overloaded(&self) -> Option<std::time::Duration> {
        self.overloaded
    }

    /// Another node owns the flow now: this node must stop running it.
    pub(crate) fn taken_over(&self) -> bool {
        self.taken_over
    }

    /// Sends what is held back to the log, closing the journal with it.
    pub(crate) async fn finish(&mut self, inner: &Inner, flow: FlowId) {
        let Some(store) = &inner.store else { return };
        let kept = self.wrote;
        let held: Vec<LogEntry> = self.held.drain(..).map(|e| LogEntry { kept, ..e }).collect();
        if self.journaled && !self.taken_over {
            if let Err(e) = store.finish_flow(flow.to_string(), held).await {
                tracing::error!(target: "concord::store", "could not close the journal of flow {flow}: {e}");
            }
            return;
        }
        for entry in held {
            if let Err(e) = store.append_log(entry).await {
                tracing::error!(target: "concord::store", "could not log a record: {e}");
            }
        }
    }

    /// Logs a record that committed no state (with the next write, or when
    /// the flow ends).
    fn append(&mut self, entry: LogEntry) {
        self.held.push(entry);
    }

    /// The records to commit with the flow's write `entry`.
    fn with_write(&self, entry: LogEntry) -> Vec<LogEntry> {
        let mut entries: Vec<LogEntry> = self
            .held
            .iter()
            .cloned()
            .map(|e| LogEntry { kept: true, ..e })
            .collect();
        entries.push(entry);
        entries
    }
}

/// Runs `action` on `input` and, with a store, commits its writes together
/// with its log record (or, for an error outcome, rolls them back and logs
/// the record alone). Returns the outcome.
/// `journal` gives the flow's snapshot once this action is done, or `None`
/// when nothing would be left to do: written in the same transaction.
pub(crate) async fn perform(
    inner: &Inner,
    redactor: &Redactor,
    log: &mut FlowLog,
    action: ActionId,
    input: &Record,
    p: &Provenance<'_>,
    journal: &(dyn Fn(&Outcome) -> Option<Vec<u8>> + Sync),
) -> Outcome {
    let info = &inner.actions[action];
    let name = format!("{}.{}", info.concept_name, info.name);
    let Some(store) = &inner.store else {
        loop {
            let mut ctx = ActionContext::new(p.flow, p.record);
            let outcome = run_action(inner, p.flow, action, &mut ctx, input).await;
            match ctx.overloaded_for() {
                Some(wait) if !log.wrote => {
                    log.overloaded = Some(wait);
                    return outcome;
                }
                Some(wait) => tokio::time::sleep(wait.min(OVERLOAD_PAUSE)).await,
                None => return outcome,
            }
        }
    };
    let entry = |outcome: &Outcome| LogEntry {
        id: p.record.to_string(),
        flow: p.flow.to_string(),
        seq: p.seq,
        concept: info.concept_name.to_string(),
        action: info.name.to_string(),
        input: redactor.for_log(&name, Part::Input, input),
        error: outcome.is_error(),
        output: redactor.for_log(&name, Part::Output, &outcome.to_record()),
        sync: p.sync.map(str::to_string),
        matched: p.matched.iter().map(ToString::to_string).collect(),
        started_at: micros(p.started_at),
        completed_at: micros(SystemTime::now()),
        kept: true,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut ctx = ActionContext::with_state(p.flow, p.record, info.concept_name.clone(), store.clone());
        let outcome = run_action(inner, p.flow, action, &mut ctx, input).await;
        let conflicted = ctx.conflicted();
        let overloaded = ctx.overloaded_for();
        let tx = ctx.take_transaction();
        drop(ctx);
        if let Some(wait) = overloaded {
            drop(tx);
            // Nothing written yet: stopping leaves nothing half done.
            if !log.wrote && !log.journaled {
                log.overloaded = Some(wait);
                log.append(entry(&outcome));
                return outcome;
            }
            tokio::time::sleep(wait.min(OVERLOAD_PAUSE)).await;
            continue;
        }
        if conflicted && attempt < MAX_ATTEMPTS {
            drop(tx);
            backoff(attempt).await;
            continue;
        }
        let result = match (&outcome, tx) {
            (Outcome::Success(_), Some(mut tx)) => {
                let snapshot = journal(&outcome);
                let journaled = snapshot.is_some();
                // The journal changes with the write: a new snapshot, or the
                // deletion of the last one when nothing is left.
                let committed = async {
                    if journaled || log.journaled {
                        tx.write_journal(&p.flow.to_string(), snapshot).await?;
                    }
                    tx.commit(log.with_write(entry(&outcome))).await
                }
                .await;
                if committed.is_ok() {
                    log.held.clear();
                    log.wrote = true;
                    log.journaled = journaled;
                }
                committed
            }
            // Errors and panics leave no state behind: the transaction rolls
            // back and the record is logged alone.
            (_, tx) => {
                drop(tx);
                log.append(entry(&outcome));
                Ok(())
            }
        };
        match result {
            Ok(()) => return outcome,
            Err(StateError::Conflict) if attempt < MAX_ATTEMPTS => {
                backoff(attempt).await;
                continue;
            }
            Err(StateError::FlowTakenOver) => {
                log.taken_over = true;
                return Outcome::Error(format!(
                    "{}.{}: another node took this flow over",
                    info.concept_name, info.name
                ));
            }
            Err(e) => {
                tracing::error!(
                    target: "concord::flow",
                    flow = %p.flow,
                    "{}.{}: could not commit: {e}",
                    info.concept_name,
                    info.name
                );
                let failed = Outcome::Error(format!("storage failure in {}.{}", info.concept_name, info.name));
                if !matches!(outcome, Outcome::Error(_)) {
                    log.append(entry(&failed));
                }
                return failed;
            }
        }
    }
}

/// The longest pause before an overloaded action of a flow that has
/// already written runs again.
const OVERLOAD_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

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

/// Turns a panic inside a concept's future into an error value.
pub(crate) struct CatchUnwind<'a, T>(pub BoxFuture<'a, T>);

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
