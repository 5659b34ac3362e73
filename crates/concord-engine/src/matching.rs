//! Matching when patterns against a flow's records.

use std::collections::HashMap;
use std::sync::Arc;

use concord_concept::{Outcome, Value};
use concord_program::{FieldMatch, Matcher, OutcomeMatch, WhenPattern};

use crate::record::ActionRecord;
use crate::value::{Frame, json_eq};
use crate::{ActionId, LoadedSync};

/// One combination of records that matches all of a sync's when patterns.
pub(crate) struct Match {
    /// The bindings the patterns made.
    pub frame: Frame,
    /// The records, by pattern position (indexes into the flow).
    pub records: Vec<u32>,
}

/// The records of a flow, as matching reads them.
pub(crate) struct FlowRecords<'a> {
    pub records: &'a [Arc<ActionRecord>],
    /// For each action, the indexes of its records, oldest first.
    pub by_action: &'a HashMap<ActionId, Vec<u32>>,
}

/// The combinations of records that match `loaded`'s when patterns and
/// have `record` at one of `positions`.
pub(crate) fn matches(flow: &FlowRecords<'_>, loaded: &LoadedSync, record: u32, positions: &[usize]) -> Vec<Match> {
    let mut out = Vec::new();
    for &pos in positions {
        let mut search = Search {
            flow,
            loaded,
            record,
            pos,
            chosen: Vec::with_capacity(loaded.sync.when.len()),
            out: &mut out,
        };
        search.extend(0, vec![None; loaded.sync.vars.len()]);
    }
    out
}

/// A depth-first search for the combinations with `record` at `pos`.
struct Search<'a, 'f> {
    flow: &'a FlowRecords<'f>,
    loaded: &'a LoadedSync,
    record: u32,
    pos: usize,
    /// The records chosen for the patterns before the current one.
    chosen: Vec<u32>,
    out: &'a mut Vec<Match>,
}

impl Search<'_, '_> {
    /// Chooses a record for pattern `j`, given the bindings so far.
    fn extend(&mut self, j: usize, frame: Frame) {
        let when = &self.loaded.sync.when;
        if j == when.len() {
            self.out.push(Match {
                frame,
                records: self.chosen.clone(),
            });
            return;
        }
        if j == self.pos {
            self.try_one(j, self.record, &frame);
            return;
        }
        let flow = self.flow;
        let Some(candidates) = flow.by_action.get(&self.loaded.when_actions[j]) else {
            return;
        };
        // Every combination is evaluated exactly once: when its newest record
        // is the one being processed. So only records up to `record` take
        // part (later ones get their turn when they are processed), and
        // before the new record's position only strictly older records may
        // appear.
        for &candidate in candidates {
            if candidate > self.record || (j < self.pos && candidate == self.record) {
                break;
            }
            self.try_one(j, candidate, &frame);
        }
    }

    fn try_one(&mut self, j: usize, candidate: u32, frame: &Frame) {
        let mut f = frame.clone();
        if unify(
            &self.loaded.sync.when[j],
            &self.flow.records[candidate as usize],
            &mut f,
        ) {
            self.chosen.push(candidate);
            self.extend(j + 1, f);
            self.chosen.pop();
        }
    }
}

/// Whether `r` matches `p`, binding `frame`'s slots as it goes.
pub(crate) fn unify(p: &WhenPattern, r: &ActionRecord, frame: &mut Frame) -> bool {
    if !p.inputs.iter().all(|m| match_field(m, r.input.get(&m.key), frame)) {
        return false;
    }
    match (&p.outcome, &r.outcome) {
        (OutcomeMatch::Any, _) => true,
        (OutcomeMatch::Success(ms), Outcome::Success(out)) => ms.iter().all(|m| match_field(m, out.get(&m.key), frame)),
        (OutcomeMatch::Error(ms), Outcome::Error(e)) => {
            let v = Value::String(e.clone());
            ms.iter().all(|m| match_field(m, Some(&v), frame))
        }
        _ => false,
    }
}

/// Whether `r`'s input has every literal `p` requires.
pub(crate) fn literals_match(p: &WhenPattern, r: &ActionRecord) -> bool {
    p.inputs.iter().all(|m| match &m.matcher {
        Matcher::Literal(l) => r.input.get(&m.key).is_some_and(|v| json_eq(l, v)),
        _ => true,
    })
}

const NULL: Value = Value::Null;

/// Whether `value` meets `m`, binding its slot if it is still free.
pub(crate) fn match_field(m: &FieldMatch, value: Option<&Value>, frame: &mut Frame) -> bool {
    let v = match value {
        Some(v) => v,
        None if m.optional => &NULL,
        None => return false,
    };
    match &m.matcher {
        Matcher::Present => true,
        Matcher::Literal(l) => json_eq(l, v),
        Matcher::Bind(slot) => match frame.get_mut(*slot) {
            Some(Some(existing)) => json_eq(existing, v),
            Some(empty) => {
                *empty = Some(v.clone());
                true
            }
            None => false,
        },
    }
}
