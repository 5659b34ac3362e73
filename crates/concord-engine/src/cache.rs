//! Query answers shared by the syncs of one record.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use concord_concept::{ConceptSpec, QuerySpec, Record};

use crate::EngineError;

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

    /// Remembers what `rows`, just read from query `query` of concept
    /// `concept`, also answer (its spec's `also_answers`), unless an answer
    /// is known already.
    pub fn seed(&mut self, concept: usize, seeds: &[Seed], rows: &[Record]) {
        for seed in seeds {
            for row in rows {
                let (Some(input), Some(answer)) = (seed.input(row), seed.answer(row)) else {
                    continue;
                };
                self.answers
                    .entry((concept, seed.query.clone(), input_text(&input)))
                    .or_insert_with(|| Arc::new(vec![answer]));
            }
        }
    }
}

/// An input as cache key text: the same for the same arguments in any order.
pub(crate) fn input_text(input: &Record) -> String {
    if input.len() <= 1 {
        return serde_json::to_string(input).unwrap_or_default();
    }
    let sorted: BTreeMap<&String, &serde_json::Value> = input.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

/// A query another query's rows answer, and how a row becomes its input and
/// its answer.
#[derive(Debug, Clone)]
pub(crate) struct Seed {
    /// The query answered.
    pub query: String,
    /// Its parameters: each read from the row's field of that name.
    params: Vec<String>,
    /// Its output keys: the row's fields it answers with.
    outputs: Vec<String>,
}

impl Seed {
    /// The seeds `q`'s spec declares, checked against the concept's queries.
    pub fn all_of(spec: &ConceptSpec, q: &QuerySpec) -> Result<Vec<Seed>, EngineError> {
        q.also_answers
            .iter()
            .map(|target| {
                let fail = |reason: String| EngineError::AlsoAnswers {
                    concept: spec.name.clone(),
                    query: q.name.clone(),
                    target: target.clone(),
                    reason,
                };
                let t = spec
                    .query(target)
                    .ok_or_else(|| fail(format!("`{}` has no query `{target}`", spec.name)))?;
                if t.params.is_empty() || t.open_params {
                    return Err(fail("it takes no fixed parameters".into()));
                }
                let mut missing: Vec<&str> = Vec::new();
                for k in t
                    .params
                    .iter()
                    .map(|p| p.name.as_str())
                    .chain(t.outputs.iter().map(String::as_str))
                {
                    if !q.outputs.iter().any(|o| o == k) && !missing.contains(&k) {
                        missing.push(k);
                    }
                }
                if !missing.is_empty() {
                    return Err(fail(format!("its rows lack {}", missing.join(", "))));
                }
                Ok(Seed {
                    query: target.clone(),
                    params: t.params.iter().map(|p| p.name.clone()).collect(),
                    outputs: t.outputs.clone(),
                })
            })
            .collect()
    }

    fn input(&self, row: &Record) -> Option<Record> {
        self.params
            .iter()
            .map(|p| row.get(p).map(|v| (p.clone(), v.clone())))
            .collect()
    }

    fn answer(&self, row: &Record) -> Option<Record> {
        self.outputs
            .iter()
            .map(|k| row.get(k).map(|v| (k.clone(), v.clone())))
            .collect()
    }
}
