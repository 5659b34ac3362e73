//! The where pipeline: queries, filters, `let`, `collect` and guarded steps
//! run over the frames a sync's when patterns matched.

use std::collections::HashMap;
use std::sync::Arc;

use concord_concept::{BoxFuture, FlowId, QueryContext, Record, Value};
use concord_program::{Matcher, QueryMode, Step};

use crate::cache::{QueryCache, QueryKey, input_text};
use crate::matching::match_field;
use crate::perform::CatchUnwind;
use crate::value::{EvalError, Frame, eval};
use crate::{FlowError, Inner, Rejection};

/// A frame on its way through the pipeline, with the match it came from
/// (an index into the sync's matches, for the provenance of what it invokes).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Variable bindings.
    pub frame: Frame,
    /// Which match of the when patterns it descends from.
    pub origin: usize,
}

/// A row a guarded step dropped, for the `else` it belongs to.
pub(crate) struct Dropped {
    /// Index into the sync's `otherwise`.
    pub otherwise: usize,
    /// The row as it entered the guarded step.
    pub row: Row,
}

/// What one run of a sync's where steps works with and writes to.
pub(crate) struct Pipeline<'a> {
    pub inner: &'a Inner,
    pub flow: FlowId,
    /// The sync's variable names, by slot.
    pub vars: &'a [String],
    /// The sync's name, for errors.
    pub sync: &'a str,
    pub errors: &'a mut Vec<FlowError>,
    pub cache: &'a mut QueryCache,
    /// Rows guarded steps dropped without an error, for their `else`.
    pub dropped: &'a mut Vec<Dropped>,
    /// Refused input no `else` answers.
    pub rejections: &'a mut Vec<Rejection>,
    /// How many guarded steps the current step is inside.
    pub guarded: usize,
    /// Refusals so far (answered or not), to tell which rows had one.
    pub refused: usize,
}

impl<'a> Pipeline<'a> {
    fn fail(&mut self, message: String) {
        tracing::error!(target: "concord::flow", flow = %self.flow, sync = self.sync, "{message}");
        self.errors.push(FlowError {
            sync: self.sync.to_string(),
            message,
        });
    }

    /// A row's expression failed: a refusal drops the row (for the `else`
    /// of a guarded step around it, if any); anything else is an error.
    fn failed(&mut self, e: EvalError, context: impl FnOnce() -> String) {
        match e {
            EvalError::Rejected(r) => {
                self.refused += 1;
                if self.guarded == 0 {
                    tracing::debug!(target: "concord::flow", flow = %self.flow, sync = self.sync, "refused: `{}` is not {}", r.what, r.expected);
                    self.rejections.push(Rejection {
                        sync: self.sync.to_string(),
                        what: r.what,
                        expected: r.expected.to_string(),
                    });
                }
            }
            EvalError::Failed(m) => self.fail(format!("{}: {m}", context())),
        }
    }

    /// Runs `steps` over `rows`. Boxed because `collect` and guarded steps
    /// recurse.
    pub fn run<'s>(&'s mut self, steps: &'s [Step], mut rows: Vec<Row>) -> BoxFuture<'s, Vec<Row>> {
        Box::pin(async move {
            for step in steps {
                if rows.is_empty() {
                    break;
                }
                rows = self.step(step, rows).await;
            }
            rows
        })
    }

    async fn step(&mut self, step: &Step, rows: Vec<Row>) -> Vec<Row> {
        let vars = self.vars;
        let mut next = Vec::with_capacity(rows.len());
        match step {
            Step::Filter(e) => {
                for r in rows {
                    match eval(e, &r.frame, vars) {
                        Ok(Value::Bool(true)) => next.push(r),
                        Ok(Value::Bool(false)) => {}
                        Ok(other) => self.fail(format!("a where filter must be true or false, got {other}")),
                        Err(e) => self.failed(e, || "where filter".into()),
                    }
                }
            }
            Step::Let(slot, e) => {
                for mut r in rows {
                    match eval(e, &r.frame, vars) {
                        Ok(v) => {
                            r.frame[*slot] = Some(v);
                            next.push(r);
                        }
                        Err(e) => self.failed(e, || format!("let {}", vars[*slot])),
                    }
                }
            }
            Step::Query {
                mode,
                concept,
                query,
                inputs,
                outputs,
            } => {
                let inner = self.inner;
                let Some(&ci) = inner.concept_index.get(concept) else {
                    self.fail(format!("concept `{concept}` is not registered"));
                    return Vec::new();
                };
                let c = &inner.concepts[ci];
                let ctx = QueryContext::with_state(self.flow, inner.concept_names[ci].clone(), inner.store.clone());
                // Every row's input first, then one call for the distinct
                // inputs not answered yet: a step over N frames asks the
                // concept once (its batched form), not N times in turn.
                let mut asked: Vec<(Row, usize)> = Vec::with_capacity(rows.len());
                let mut keys: Vec<QueryKey> = Vec::new();
                let mut answers: Vec<Option<Result<Arc<Vec<Record>>, String>>> = Vec::new();
                let mut by_key: HashMap<String, usize> = HashMap::new();
                let mut missing: Vec<(usize, Record)> = Vec::new();
                'rows: for r in rows {
                    let mut input = Record::new();
                    for (k, e) in inputs {
                        match eval(e, &r.frame, vars) {
                            Ok(v) => {
                                input.insert(k.clone(), v);
                            }
                            Err(e) => {
                                self.failed(e, || format!("argument `{k}` of {concept}.{query}"));
                                continue 'rows;
                            }
                        }
                    }
                    let text = input_text(&input);
                    let answer = match by_key.get(&text) {
                        Some(&n) => n,
                        None => {
                            let n = answers.len();
                            let key = (ci, query.clone(), text.clone());
                            let cached = self.cache.get(&key);
                            if cached.is_none() {
                                missing.push((n, input));
                            }
                            answers.push(cached.map(Ok));
                            keys.push(key);
                            by_key.insert(text, n);
                            n
                        }
                    };
                    asked.push((r, answer));
                }
                let found_now: Vec<Result<Vec<Record>, String>> = match missing.len() {
                    0 => Vec::new(),
                    1 => vec![match CatchUnwind(c.query(&ctx, query, &missing[0].1)).await {
                        Ok(Ok(found)) => Ok(found),
                        Ok(Err(m)) => Err(format!("{concept}.{query} failed: {m}")),
                        Err(panic) => Err(format!("{concept}.{query} panicked: {panic}")),
                    }],
                    _ => {
                        let batch: Vec<Record> = missing.iter().map(|(_, input)| input.clone()).collect();
                        match CatchUnwind(c.query_batch(&ctx, query, &batch)).await {
                            Ok(found) if found.len() == batch.len() => found
                                .into_iter()
                                .map(|f| f.map_err(|m| format!("{concept}.{query} failed: {m}")))
                                .collect(),
                            Ok(found) => {
                                let m = format!(
                                    "{concept}.{query} failed: {} answers for {} inputs",
                                    found.len(),
                                    batch.len()
                                );
                                batch.iter().map(|_| Err(m.clone())).collect()
                            }
                            Err(panic) => {
                                let m = format!("{concept}.{query} panicked: {panic}");
                                batch.iter().map(|_| Err(m.clone())).collect()
                            }
                        }
                    }
                };
                let seeds = inner.seeds.get(&(ci, query.clone()));
                for ((n, _), found) in missing.iter().zip(found_now) {
                    answers[*n] = Some(found.map(|found| {
                        if let Some(seeds) = seeds {
                            self.cache.seed(ci, seeds, &found);
                        }
                        let found = Arc::new(found);
                        self.cache.insert(keys[*n].clone(), found.clone());
                        found
                    }));
                }
                for (r, n) in asked {
                    let found = match &answers[n] {
                        Some(Ok(found)) => found.clone(),
                        Some(Err(m)) => {
                            let m = m.clone();
                            self.fail(m);
                            continue;
                        }
                        None => continue,
                    };
                    match mode {
                        QueryMode::Not => {
                            if found.is_empty() {
                                next.push(r);
                            }
                        }
                        QueryMode::Optional if found.is_empty() => {
                            let mut r = r;
                            for m in outputs {
                                if let Matcher::Bind(s) = m.matcher
                                    && r.frame[s].is_none()
                                {
                                    r.frame[s] = Some(Value::Null);
                                }
                            }
                            next.push(r);
                        }
                        _ => {
                            // The last row found takes the frame itself: most
                            // queries yield one row, so most steps copy nothing.
                            let mut r = Some(r);
                            for (n, found_row) in found.iter().enumerate() {
                                if let Some(missing) =
                                    outputs.iter().find(|m| !m.optional && !found_row.contains_key(&m.key))
                                {
                                    self.fail(format!(
                                        "{concept}.{query} returned a row without `{}` (it has {})",
                                        missing.key,
                                        found_row
                                            .keys()
                                            .map(|k| format!("`{k}`"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    ));
                                    continue;
                                }
                                let Some(mut g) = (if n + 1 == found.len() { r.take() } else { r.clone() }) else {
                                    continue;
                                };
                                if outputs
                                    .iter()
                                    .all(|m| match_field(m, found_row.get(&m.key), &mut g.frame))
                                {
                                    next.push(g);
                                }
                            }
                        }
                    }
                }
            }
            Step::Guarded { steps, otherwise } => {
                // Per row: if the guarded steps leave nothing of it, and not
                // because of an evaluation error, its `else` runs.
                for r in rows {
                    let errors_before = self.errors.len();
                    self.guarded += 1;
                    let kept = self.run(steps, vec![r.clone()]).await;
                    self.guarded -= 1;
                    if kept.is_empty() {
                        if self.errors.len() == errors_before {
                            self.dropped.push(Dropped {
                                otherwise: *otherwise,
                                row: r,
                            });
                        }
                    } else {
                        next.extend(kept);
                    }
                }
            }
            Step::Collect { element, slot, steps } => {
                for mut r in rows {
                    let refused_before = self.refused;
                    let inner_rows = self.run(steps, vec![r.clone()]).await;
                    let mut items = Vec::with_capacity(inner_rows.len());
                    for g in &inner_rows {
                        match eval(element, &g.frame, vars) {
                            Ok(v) => items.push(v),
                            Err(e) => self.failed(e, || "collect element".into()),
                        }
                    }
                    // A refusal inside makes the list wrong, not shorter: the
                    // row goes (to an `else` around the collect, if any).
                    if self.refused > refused_before {
                        continue;
                    }
                    r.frame[*slot] = Some(Value::Array(items));
                    next.push(r);
                }
            }
        }
        next
    }
}
