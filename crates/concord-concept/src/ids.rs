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
