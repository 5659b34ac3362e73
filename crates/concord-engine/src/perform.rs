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

/// The log records of one flow on their way to the store. Until an action of
/// the flow changes state, its records are held back: if the flow ends
/// having changed nothing, they go to the log as read-only (kept in a
/// bounded window); at its first write they commit with that write, and
/// every record of the flow from then on is kept for the retention period.
#[derive(Default)]
pub(crate) struct FlowLog {
    wrote: bool,
    held: Vec<LogEntry>,
}

impl FlowLog {
    /// Sends what is held back to the log as read-only records.
    pub(crate) async fn finish(&mut self, inner: &Inner) {
        let Some(store) = &inner.store else { return };
        for entry in self.held.drain(..) {
            if let Err(e) = store.append_log(LogEntry { kept: false, ..entry }).await {
                tracing::error!(target: "concord::store", "could not log a record: {e}");
            }
        }
    }

    /// Logs a record that committed no state.
    async fn append(
        &mut self,
        store: &dyn concord_concept::state::StateBackend,
        mut entry: LogEntry,
    ) -> Result<(), StateError> {
        if self.wrote {
            entry.kept = true;
            store.append_log(entry).await
        } else {
            self.held.push(entry);
            Ok(())
        }
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
pub(crate) async fn perform(
    inner: &Inner,
    redactor: &Redactor,
    log: &mut FlowLog,
    action: ActionId,
    input: &Record,
    p: &Provenance<'_>,
) -> Outcome {
    let info = &inner.actions[action];
    let name = format!("{}.{}", info.concept_name, info.name);
    let Some(store) = &inner.store else {
        let mut ctx = ActionContext::new(p.flow, p.record);
        return run_action(inner, p.flow, action, &mut ctx, input).await;
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
        let tx = ctx.take_transaction();
        drop(ctx);
        if conflicted && attempt < MAX_ATTEMPTS {
            drop(tx);
            backoff(attempt).await;
            continue;
        }
        let result = match (&outcome, tx) {
            (Outcome::Success(_), Some(tx)) => match tx.commit(log.with_write(entry(&outcome))).await {
                Ok(()) => {
                    log.held.clear();
                    log.wrote = true;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            // Errors and panics leave no state behind: the transaction rolls
            // back and the record is logged alone.
            (_, tx) => {
                drop(tx);
                log.append(&**store, entry(&outcome)).await
            }
        };
        match result {
            Ok(()) => return outcome,
            Err(StateError::Conflict) if attempt < MAX_ATTEMPTS => {
                backoff(attempt).await;
                continue;
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
                    let _ = log.append(&**store, entry(&failed)).await;
                }
                return failed;
            }
        }
    }
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
