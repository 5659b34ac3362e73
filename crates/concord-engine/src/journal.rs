//! A flow's journal snapshot: what the engine needs to finish a flow after
//! a crash. Written in the transaction of each of the flow's writes, it holds
//! every record so far (values unredacted: the work left may need them) and
//! the work stack as it stands once that write commits. Actions and syncs are
//! named, not numbered, so a snapshot survives a restart with the same
//! program; one naming something the program no longer has is abandoned.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use concord_concept::{FlowId, Outcome, Record, RecordId};
use serde::{Deserialize, Serialize};

use crate::flow::{Cause, IdScheme, Work};
use crate::record::ActionRecord;
use crate::{ActionId, Inner, SyncTable};

/// The snapshot format: 2 for flows whose record ids are XXH3-derived, 1
/// for those (journaled by the first version) whose ids are UUID v5. Both
/// are resumed, each with its own ids; any other is not.
const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    records: Vec<SavedRecord>,
    stack: Vec<SavedWork>,
}

#[derive(Serialize, Deserialize)]
struct SavedRecord {
    id: String,
    concept: String,
    action: String,
    input: Record,
    ok: bool,
    output: Record,
    started_at: i64,
    completed_at: i64,
    cause: Option<SavedCause>,
}

#[derive(Serialize, Deserialize)]
struct SavedCause {
    sync: String,
    otherwise: Option<usize>,
    matched: Vec<u32>,
    ordinal: u32,
}

#[derive(Serialize, Deserialize)]
enum SavedWork {
    Invoke {
        concept: String,
        action: String,
        input: Record,
        cause: Option<SavedCause>,
        depth: u32,
    },
    /// `next` names the sync at that position, checked on resume.
    Syncs {
        record: u32,
        next: usize,
        next_sync: Option<String>,
        depth: u32,
    },
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

fn time(us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us.max(0) as u64)
}

fn save_cause(table: &SyncTable, c: &Cause) -> SavedCause {
    SavedCause {
        sync: table.syncs[c.sync].name.to_string(),
        otherwise: c.otherwise,
        matched: c.matched.clone(),
        ordinal: c.ordinal,
    }
}

fn save_record(r: &ActionRecord, cause: Option<&Cause>, table: &SyncTable) -> SavedRecord {
    let (ok, output) = match &r.outcome {
        Outcome::Success(out) => (true, out.clone()),
        Outcome::Error(_) => (false, r.output()),
    };
    SavedRecord {
        id: r.id.to_string(),
        concept: r.concept.to_string(),
        action: r.action.to_string(),
        input: r.input.clone(),
        ok,
        output,
        started_at: micros(r.started_at),
        completed_at: micros(r.completed_at),
        cause: cause.map(|c| save_cause(table, c)),
    }
}

fn save_work(w: &Work, inner: &Inner, table: &SyncTable, actions: &[ActionId], pending: Option<ActionId>) -> SavedWork {
    match w {
        Work::Invoke {
            action,
            input,
            cause,
            depth,
        } => SavedWork::Invoke {
            concept: inner.actions[*action].concept_name.to_string(),
            action: inner.actions[*action].name.to_string(),
            input: input.clone(),
            cause: cause.as_ref().map(|c| save_cause(table, c)),
            depth: *depth,
        },
        Work::Syncs { record, next, depth } => {
            let action = actions.get(*record as usize).copied().or(pending).unwrap_or_default();
            SavedWork::Syncs {
                record: *record,
                next: *next,
                next_sync: table.by_action[action]
                    .get(*next)
                    .map(|&(s, _)| table.syncs[s].name.to_string()),
                depth: *depth,
            }
        }
    }
}

/// The snapshot once `last` (the record of `last_action`, caused by
/// `last_cause`) commits: the flow's `records`, then `last`, and the work
/// `stack` with `last`'s syncs on top when it has any.
#[allow(clippy::too_many_arguments)]
pub(crate) fn snapshot(
    ids: IdScheme,
    inner: &Inner,
    table: &SyncTable,
    records: &[Arc<ActionRecord>],
    causes: &[Option<Cause>],
    actions: &[ActionId],
    stack: &[Work],
    last: &ActionRecord,
    last_action: ActionId,
    last_cause: Option<&Cause>,
    depth: u32,
) -> Vec<u8> {
    let mut saved: Vec<SavedRecord> = records
        .iter()
        .zip(causes)
        .map(|(r, c)| save_record(r, c.as_ref(), table))
        .collect();
    saved.push(save_record(last, last_cause, table));
    let mut work: Vec<SavedWork> = stack
        .iter()
        .map(|w| save_work(w, inner, table, actions, Some(last_action)))
        .collect();
    if !table.by_action[last_action].is_empty() {
        work.push(save_work(
            &Work::Syncs {
                record: records.len() as u32,
                next: 0,
                depth,
            },
            inner,
            table,
            actions,
            Some(last_action),
        ));
    }
    serde_json::to_vec(&Snapshot {
        version: match ids {
            IdScheme::Xxh3 => VERSION,
            IdScheme::V5 => 1,
        },
        records: saved,
        stack: work,
    })
    .unwrap_or_default()
}

/// How many records `bytes` holds (0 if unreadable).
pub(crate) fn record_count(bytes: &[u8]) -> u32 {
    #[derive(Deserialize)]
    struct Count {
        records: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Count>(bytes).map_or(0, |c| c.records.len() as u32)
}

/// A flow rebuilt from its snapshot.
pub(crate) struct Restored {
    pub records: Vec<Arc<ActionRecord>>,
    pub actions: Vec<ActionId>,
    pub causes: Vec<Option<Cause>>,
    pub stack: Vec<Work>,
    /// How the flow's ids are derived.
    pub ids: IdScheme,
}

/// Rebuilds flow `flow` from `bytes` for the program in `table`, or says
/// why it cannot be.
pub(crate) fn restore(inner: &Inner, table: &SyncTable, flow: FlowId, bytes: &[u8]) -> Result<Restored, String> {
    let snapshot: Snapshot = serde_json::from_slice(bytes).map_err(|e| format!("unreadable snapshot: {e}"))?;
    let ids = match snapshot.version {
        VERSION => IdScheme::Xxh3,
        1 => IdScheme::V5,
        other => return Err(format!("snapshot format {other} (this build reads 1 and {VERSION})")),
    };
    let sync_index: HashMap<&str, usize> = table.syncs.iter().enumerate().map(|(i, s)| (&*s.name, i)).collect();
    let action = |concept: &str, name: &str| {
        inner
            .action_index
            .get(&(concept.to_string(), name.to_string()))
            .copied()
            .ok_or_else(|| format!("the program has no action {concept}.{name}"))
    };
    let cause = |c: SavedCause| -> Result<Cause, String> {
        let sync = *sync_index
            .get(c.sync.as_str())
            .ok_or_else(|| format!("the program has no sync {}", c.sync))?;
        if c.otherwise.is_some_and(|k| k >= table.syncs[sync].otherwise.len()) {
            return Err(format!("sync {} has changed its else clauses", c.sync));
        }
        Ok(Cause {
            sync,
            otherwise: c.otherwise,
            matched: c.matched,
            ordinal: c.ordinal,
        })
    };
    let mut restored = Restored {
        records: Vec::new(),
        actions: Vec::new(),
        causes: Vec::new(),
        stack: Vec::new(),
        ids,
    };
    for r in snapshot.records {
        let id =
            r.id.parse()
                .map(RecordId)
                .map_err(|e| format!("record id {}: {e}", r.id))?;
        let a = action(&r.concept, &r.action)?;
        let c = r.cause.map(cause).transpose()?;
        let outcome = if r.ok {
            Outcome::Success(r.output)
        } else {
            Outcome::Error(
                r.output
                    .get("error")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        restored.records.push(Arc::new(ActionRecord {
            id,
            flow,
            concept: inner.actions[a].concept_name.clone(),
            action: inner.actions[a].name.clone(),
            input: r.input,
            outcome,
            sync: c.as_ref().map(|c| c.name(table)),
            matched: c
                .as_ref()
                .map(|c| {
                    c.matched
                        .iter()
                        .filter_map(|&i| restored.records.get(i as usize).map(|r| r.id))
                        .collect()
                })
                .unwrap_or_default(),
            started_at: time(r.started_at),
            completed_at: time(r.completed_at),
        }));
        restored.actions.push(a);
        restored.causes.push(c);
    }
    for w in snapshot.stack {
        restored.stack.push(match w {
            SavedWork::Invoke {
                concept,
                action: name,
                input,
                cause: c,
                depth,
            } => Work::Invoke {
                action: action(&concept, &name)?,
                input,
                cause: c.map(cause).transpose()?,
                depth,
            },
            SavedWork::Syncs {
                record,
                next,
                next_sync,
                depth,
            } => {
                let a = *restored
                    .actions
                    .get(record as usize)
                    .ok_or_else(|| format!("work on record {record}, which the snapshot lacks"))?;
                let entries = &table.by_action[a];
                let next = match next_sync {
                    None => entries.len(),
                    Some(name) if entries.get(next).is_some_and(|&(s, _)| *table.syncs[s].name == *name) => next,
                    Some(name) => entries
                        .iter()
                        .position(|&(s, _)| *table.syncs[s].name == *name)
                        .ok_or_else(|| format!("the program has no sync {name} on {}", inner.actions[a].name))?,
                };
                Work::Syncs { record, next, depth }
            }
        });
    }
    Ok(restored)
}
