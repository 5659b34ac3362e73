//! Action records and where they go.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use concord_concept::{FlowId, Outcome, Record, RecordId};

/// One completed action: what ran, with what, what came out, and why.
#[derive(Debug, Clone)]
pub struct ActionRecord {
    /// This record's id.
    pub id: RecordId,
    /// The flow it belongs to.
    pub flow: FlowId,
    /// Concept name.
    pub concept: Arc<str>,
    /// Action name.
    pub action: Arc<str>,
    /// Input arguments.
    pub input: Record,
    /// Outcome case and output.
    pub outcome: Outcome,
    /// The sync that invoked it; `None` for the external invocation that
    /// started the flow.
    pub sync: Option<Arc<str>>,
    /// The records the sync matched (its when patterns, in order).
    pub matched: Vec<RecordId>,
    /// When the action started.
    pub started_at: SystemTime,
    /// When it completed.
    pub completed_at: SystemTime,
}

impl ActionRecord {
    /// `Concept.action`
    pub fn name(&self) -> String {
        format!("{}.{}", self.concept, self.action)
    }

    /// The output record (`{"error": ...}` for the error case).
    pub fn output(&self) -> Record {
        self.outcome.to_record()
    }
}

impl ActionRecord {
    /// `Concept.action {input} => {output}`, the trace line format, with the
    /// values of `sensitive` keys replaced by `"<redacted>"`.
    pub fn display_redacted<'a>(&'a self, sensitive: &'a HashSet<String>) -> impl fmt::Display + 'a {
        TraceLine {
            record: self,
            sensitive,
        }
    }
}

struct TraceLine<'a> {
    record: &'a ActionRecord,
    sensitive: &'a HashSet<String>,
}

impl fmt::Display for TraceLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.record;
        write!(
            f,
            "{}.{} {} => {}",
            r.concept,
            r.action,
            Json(&r.input, self.sensitive),
            Json(&r.output(), self.sensitive)
        )
    }
}

/// Displays a record as compact JSON, redacting the values of sensitive keys.
pub struct Json<'a>(pub &'a Record, pub &'a HashSet<String>);

/// What a sensitive value is shown as.
pub const REDACTED: &str = "<redacted>";

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if self.0.keys().any(|k| self.1.contains(k)) {
            let redacted: Record = self
                .0
                .iter()
                .map(|(k, v)| {
                    let v = if self.1.contains(k) {
                        serde_json::Value::from(REDACTED)
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect();
            serde_json::to_string(&redacted)
        } else {
            serde_json::to_string(self.0)
        };
        f.write_str(text.as_deref().unwrap_or("{?}"))
    }
}

/// Receives every completed record, in flow order. The engine itself keeps
/// nothing after a flow ends; a log decides what outlives it.
pub trait ActionLog: Send + Sync + 'static {
    /// Called once per completed action.
    fn record(&self, record: &ActionRecord);
}
