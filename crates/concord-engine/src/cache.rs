//! Query answers shared by the syncs of one record.

use std::collections::HashMap;
use std::sync::Arc;

use concord_concept::Record;

/// A query's identity: concept index, query name, input as JSON text.
pub(crate) type QueryKey = (usize, String, String);

/// Query answers seen while evaluating the syncs of one record: sibling
/// syncs (a query and its `not` companion) see the same answer, read once.
/// An action of a concept drops that concept's answers, since only its own
/// actions change a concept's state.
#[derive(Default)]
pub(crate) struct QueryCache {
    record: u32,
    answers: HashMap<QueryKey, Arc<Vec<Record>>>,
}

impl QueryCache {
    /// Keeps the answers only while the syncs of one record are evaluated.
    pub fn scope(&mut self, record: u32) {
        if self.record != record {
            self.record = record;
            self.answers.clear();
        }
    }

    /// Forgets the answers of a concept whose state an action may have changed.
    pub fn forget_concept(&mut self, concept: usize) {
        if !self.answers.is_empty() {
            self.answers.retain(|k, _| k.0 != concept);
        }
    }

    /// A remembered answer.
    pub fn get(&self, key: &QueryKey) -> Option<Arc<Vec<Record>>> {
        self.answers.get(key).cloned()
    }

    /// Remembers an answer.
    pub fn insert(&mut self, key: QueryKey, rows: Arc<Vec<Record>>) {
        self.answers.insert(key, rows);
    }
}
