//! Action records and where they go.

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

/// `Concept.action {input} => {output}`: the trace line format.
impl fmt::Display for ActionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} {} => ", self.concept, self.action, Json(&self.input))?;
        match &self.outcome {
            Outcome::Success(out) => write!(f, "{}", Json(out)),
            Outcome::Error(e) => write!(f, "{{\"error\":{}}}", serde_json::Value::String(e.clone())),
        }
    }
}

/// Displays a record as compact JSON.
pub struct Json<'a>(pub &'a Record);

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self.0) {
            Ok(s) => f.write_str(&s),
            Err(_) => f.write_str("{?}"),
        }
    }
}

/// Receives every completed record, in flow order. The engine itself keeps
/// nothing after a flow ends; a log decides what outlives it.
pub trait ActionLog: Send + Sync + 'static {
    /// Called once per completed action.
    fn record(&self, record: &ActionRecord);
}

/// Keeps every record in memory: for tests and small tools, never for
/// long-running servers (it grows without bound).
#[derive(Debug, Default)]
pub struct MemoryLog {
    records: std::sync::Mutex<Vec<ActionRecord>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far.
    pub fn records(&self) -> Vec<ActionRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl ActionLog for MemoryLog {
    fn record(&self, record: &ActionRecord) {
        if let Ok(mut r) = self.records.lock() {
            r.push(record.clone());
        }
    }
}
