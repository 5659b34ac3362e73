//! Action records and where they go.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use concord_concept::{FlowId, Outcome, Record, RecordId};

use crate::redact::{Part, Redactor};

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
    /// `Concept.action {input} => {output}`, the trace line format, made
    /// safe as the log keeps it: secrets redacted, large values stubbed.
    pub fn display_redacted<'a>(&'a self, redactor: &'a Redactor) -> impl fmt::Display + 'a {
        TraceLine { record: self, redactor }
    }
}

struct TraceLine<'a> {
    record: &'a ActionRecord,
    redactor: &'a Redactor,
}

impl fmt::Display for TraceLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.record;
        let name = r.name();
        let input = self.redactor.for_log(&name, Part::Input, &r.input);
        let output = self.redactor.for_log(&name, Part::Output, &r.output());
        let json = |rec: &Record| serde_json::to_string(rec).unwrap_or_else(|_| "{?}".into());
        write!(f, "{name} {} => {}", json(&input), json(&output))
    }
}

/// Receives every completed record, in flow order. The engine itself keeps
/// nothing after a flow ends; a log decides what outlives it.
pub trait ActionLog: Send + Sync + 'static {
    /// Called once per completed action.
    fn record(&self, record: &ActionRecord);
}
