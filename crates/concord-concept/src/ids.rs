use std::fmt;

/// Identifies a flow: the records caused by one external stimulus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub uuid::Uuid);

/// Identifies one action record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub uuid::Uuid);

impl FlowId {
    /// A new time-ordered id.
    pub fn fresh() -> Self {
        FlowId(uuid::Uuid::now_v7())
    }
}

impl RecordId {
    /// A new time-ordered id.
    pub fn fresh() -> Self {
        RecordId(uuid::Uuid::now_v7())
    }

    /// The id of the invocation `what` says in `flow` (its sync, the
    /// records it matched, its place among the sync's invocations): the
    /// same invocation gets the same id, also when a resumed flow makes it
    /// again after a crash, so it serves as an idempotency key.
    pub fn of_invocation(flow: FlowId, what: &str) -> Self {
        RecordId(uuid::Uuid::new_v5(&flow.0, what.as_bytes()))
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
