//! Explanations: for a finished flow, the syncs that came close to firing
//! and why they did not, as data that `why`, the explorer and the HTTP
//! edge's development-mode answer each format.

use std::fmt;
use std::sync::Arc;

use concord_concept::{Outcome, Value};
use concord_program::{CompiledSync, Expr, Matcher, OutcomeMatch, QueryMode, Step, WhenPattern};

use crate::cache::QueryCache;
use crate::matching::{literals_match, unify};
use crate::pipeline::{Pipeline, Row};
use crate::record::ActionRecord;
use crate::value::{Frame, eval};
use crate::{FlowReport, Inner, SyncTable};

/// A sync that came close to firing in a flow, and why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    /// The sync's full name.
    pub sync: String,
    /// The first reason found.
    pub reason: MissReason,
}

impl fmt::Display for NearMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.sync, self.reason)
    }
}

/// Which outcome a when pattern waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaited {
    /// `: (...)`
    Success,
    /// `: (error)`
    Error,
    /// `: *`
    Any,
}

/// How a record differs from the when pattern closest to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The input lacks a key the pattern requires.
    NoInput(String),
    /// The pattern waits for success; the action failed.
    EndedInError,
    /// The pattern waits for the error; the action succeeded.
    Succeeded,
    /// The output lacks a key the pattern requires.
    NoOutput(String),
}

/// Why a close sync did not fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissReason {
    /// A record of the flow has the pattern's literals but does not match it.
    RecordMismatch {
        /// `Concept.action` of the record.
        action: String,
        /// How it differs.
        mismatch: Mismatch,
    },
    /// A pattern no record matched.
    WaitsFor {
        /// The outcome it waits for.
        outcome: Awaited,
        /// `Concept.action`.
        action: String,
        /// Whether the action ran in the flow at all (with other fields).
        ran: bool,
    },
    /// Every pattern matched some record, never all at once.
    NeverTogether,
    /// The when patterns matched; the where clause dropped every frame (not
    /// yet re-run to say which step).
    WhereDropped,
    /// Where step `step` (1-based, as written) left no frame.
    StepDropped {
        /// The step.
        step: usize,
        /// What it did, with the values it saw (secrets redacted).
        detail: String,
    },
    /// Where step `step` reads a secret the log does not keep.
    StepNeedsSecret {
        /// The step.
        step: usize,
        /// The variable holding the secret.
        secret: String,
    },
    /// Where step `step` dropped every frame and its `else` answered.
    ElseAnswered {
        /// The step (1-based, as written).
        step: usize,
        /// The companion that ran (`module.Sync.else2`).
        companion: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::NoInput(k) => write!(f, "has no `{k}`"),
            Mismatch::EndedInError => f.write_str("ended in its error, not a success"),
            Mismatch::Succeeded => f.write_str("succeeded, and the pattern waits for its error"),
            Mismatch::NoOutput(k) => write!(f, "has no output `{k}`"),
        }
    }
}

impl fmt::Display for MissReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissReason::RecordMismatch { action, mismatch } => write!(f, "{action} {mismatch}"),
            MissReason::WaitsFor { outcome, action, ran } => {
                let outcome = match outcome {
                    Awaited::Success => "a success",
                    Awaited::Error => "an error",
                    Awaited::Any => "an outcome",
                };
                if *ran {
                    write!(f, "waits for {outcome} of {action} whose fields match; none did")
                } else {
                    write!(f, "waits for {outcome} of {action}, which did not run in this flow")
                }
            }
            MissReason::NeverTogether => {
                f.write_str("its patterns matched records, but never together (their shared variables differ)")
            }
            MissReason::WhereDropped => {
                f.write_str("its when patterns matched, but its where clause dropped every frame")
            }
            MissReason::StepDropped { step, detail } => write!(f, "where step {step} dropped every frame: {detail}"),
            MissReason::StepNeedsSecret { step, secret } => write!(
                f,
                "where step {step} depends on `{secret}`, a secret the log does not keep, so it cannot be re-checked"
            ),
            MissReason::ElseAnswered { step, companion } => {
                write!(
                    f,
                    "where step {step} dropped every frame, and its `else` ({companion}) answered"
                )
            }
        }
    }
}

/// For a finished flow: the syncs with a pattern whose literals a record of
/// the flow has, that did not fire, each with the first reason found — a when
/// pattern no record of the flow matches, or a where clause that dropped
/// every frame. A first answer to "why did nothing respond?"; [`explain`]
/// says more.
pub(crate) fn near_misses(table: &SyncTable, report: &FlowReport) -> Vec<NearMiss> {
    let fired: std::collections::HashSet<&str> = report.records.iter().filter_map(|r| r.sync.as_deref()).collect();
    fn records_of<'r>(report: &'r FlowReport, p: &'r WhenPattern) -> impl Iterator<Item = &'r Arc<ActionRecord>> {
        report
            .records
            .iter()
            .filter(move |r| p.concept == *r.concept && p.action == *r.action)
    }
    let records_of = |p| records_of(report, p);
    let mut out = Vec::new();
    for s in table.syncs.iter().flat_map(|l| l.sync.with_companions()) {
        if fired.contains(s.name.as_str()) {
            continue;
        }
        // Close means: every pattern that names literals (such as a request
        // path) has a record of the flow with those literals, and some pattern
        // has a record at all.
        let literal_ok = s.when.iter().all(|p| {
            p.inputs.iter().all(|m| !matches!(m.matcher, Matcher::Literal(_)))
                || records_of(p).any(|r| literals_match(p, r))
        });
        if !literal_ok {
            continue;
        }
        let close = s
            .when
            .iter()
            .find_map(|p| records_of(p).find(|r| literals_match(p, r)).map(|r| (p, r)));
        let Some((pattern, record)) = close else {
            continue;
        };
        let reason = match first_mismatch(pattern, record) {
            Some(mismatch) => MissReason::RecordMismatch {
                action: format!("{}.{}", record.concept, record.action),
                mismatch,
            },
            None => {
                let fresh = || vec![None; s.vars.len()];
                let missing = s
                    .when
                    .iter()
                    .find(|p| !records_of(p).any(|r| unify(p, r, &mut fresh())));
                match missing {
                    Some(p) => MissReason::WaitsFor {
                        outcome: match p.outcome {
                            OutcomeMatch::Success(_) => Awaited::Success,
                            OutcomeMatch::Error(_) => Awaited::Error,
                            OutcomeMatch::Any => Awaited::Any,
                        },
                        action: format!("{}.{}", p.concept, p.action),
                        ran: records_of(p).next().is_some(),
                    },
                    None if !s.steps.is_empty() => MissReason::WhereDropped,
                    None => MissReason::NeverTogether,
                }
            }
        };
        out.push(NearMiss {
            sync: s.name.clone(),
            reason,
        });
    }
    out
}

/// How `r` differs from `p`; `None` if it matches.
fn first_mismatch(p: &WhenPattern, r: &ActionRecord) -> Option<Mismatch> {
    if let Some(m) = p.inputs.iter().find(|m| r.input.get(&m.key).is_none() && !m.optional) {
        return Some(Mismatch::NoInput(m.key.clone()));
    }
    match (&p.outcome, &r.outcome) {
        (OutcomeMatch::Success(_), Outcome::Error(_)) => Some(Mismatch::EndedInError),
        (OutcomeMatch::Error(_), Outcome::Success(_)) => Some(Mismatch::Succeeded),
        (OutcomeMatch::Success(ms), Outcome::Success(out)) => ms
            .iter()
            .find(|m| !m.optional && !out.contains_key(&m.key))
            .map(|m| Mismatch::NoOutput(m.key.clone())),
        _ => None,
    }
}

/// [`near_misses`], with "its where clause dropped every frame" made
/// precise: the where steps are run again, one at a time, on the flow's
/// matches, and the first step that leaves no frame is named with the values
/// it saw (secrets redacted). Queries read the state as it is now.
pub(crate) async fn explain(inner: &Inner, table: &SyncTable, report: &FlowReport) -> Vec<NearMiss> {
    let mut misses = near_misses(table, report);
    let mut answered_by_sibling = Vec::new();
    for (n, miss) in misses.iter_mut().enumerate() {
        if miss.reason != MissReason::WhereDropped {
            continue;
        }
        // The sync as written that the missed one is, or whose `else` it is.
        let Some(owner) = table
            .syncs
            .iter()
            .map(|l| &l.sync)
            .find(|s| s.with_companions().any(|c| c.name == miss.sync))
        else {
            continue;
        };
        let is_companion = owner.name != miss.sync;
        let fired = |name: &str| report.records.iter().any(|r| r.sync.as_deref() == Some(name));
        if is_companion && owner.otherwise.iter().any(|o| fired(o.name())) {
            // Its sibling answered; the sync's own line says which step.
            answered_by_sibling.push(n);
            continue;
        }
        // For a sync as written, the first of its `else` clauses that
        // answered says exactly which step dropped the frames.
        let answered = match is_companion {
            true => None,
            false => report
                .records
                .iter()
                .filter_map(|r| r.sync.as_deref())
                .find_map(|name| owner.otherwise.iter().find(|o| o.name() == name)),
        };
        if let Some(o) = answered {
            miss.reason = MissReason::ElseAnswered {
                step: o.step + 1,
                companion: o.name().to_string(),
            };
            continue;
        }
        let missed = owner.with_companions().find(|c| c.name == miss.sync).unwrap_or(owner);
        if let Some(reason) = where_failure(inner, &table.redactor, missed, report).await {
            miss.reason = reason;
        }
    }
    for n in answered_by_sibling.into_iter().rev() {
        misses.remove(n);
    }
    misses
}

/// Every combination of the flow's records that matches all of `when`.
fn all_matches(when: &[WhenPattern], records: &[Arc<ActionRecord>], frame: Frame, out: &mut Vec<Frame>) {
    const CAP: usize = 50;
    let Some((p, rest)) = when.split_first() else {
        out.push(frame);
        return;
    };
    for r in records
        .iter()
        .filter(|r| p.concept == *r.concept && p.action == *r.action)
    {
        if out.len() >= CAP {
            return;
        }
        let mut f = frame.clone();
        if unify(p, r, &mut f) {
            all_matches(rest, records, f, out);
        }
    }
}

/// The first variable a step reads whose value is a redacted secret.
fn secret_used(step: &Step, frame: &Frame, vars: &[String]) -> Option<String> {
    fn walk(e: &Expr, frame: &Frame, vars: &[String]) -> Option<String> {
        match e {
            Expr::Var(slot) => match frame.get(*slot) {
                Some(Some(v)) if crate::is_withheld(v) => vars.get(*slot).cloned(),
                _ => None,
            },
            Expr::Lit(_) => None,
            Expr::Field(b, _) | Expr::Not(b) | Expr::Neg(b) => walk(b, frame, vars),
            Expr::Object(fields) => fields.iter().find_map(|(_, v)| walk(v, frame, vars)),
            Expr::List(items) | Expr::Call(_, items) => items.iter().find_map(|i| walk(i, frame, vars)),
            Expr::Binary(_, a, b) => walk(a, frame, vars).or_else(|| walk(b, frame, vars)),
        }
    }
    match step {
        Step::Query { inputs, .. } => inputs.iter().find_map(|(_, e)| walk(e, frame, vars)),
        Step::Filter(e) | Step::Let(_, e) => walk(e, frame, vars),
        Step::Collect { element, steps, .. } => {
            walk(element, frame, vars).or_else(|| steps.iter().find_map(|s| secret_used(s, frame, vars)))
        }
        Step::Guarded { steps, .. } => steps.iter().find_map(|s| secret_used(s, frame, vars)),
    }
}

/// Runs `loaded`'s where steps again, one at a time, on the flow's matches:
/// the first step that leaves nothing, with what it saw.
async fn where_failure(
    inner: &Inner,
    redactor: &crate::Redactor,
    s: &CompiledSync,
    report: &FlowReport,
) -> Option<MissReason> {
    let mut frames = Vec::new();
    all_matches(&s.when, &report.records, vec![None; s.vars.len()], &mut frames);
    let mut rows: Vec<Row> = frames.into_iter().map(|frame| Row { frame, origin: 0 }).collect();
    let mut errors = Vec::new();
    let mut cache = QueryCache::default();
    let mut dropped = Vec::new();
    let mut rejections = Vec::new();
    for (i, step) in s.steps.iter().enumerate() {
        // Numbered as written (a view's use is one step however many it became).
        let step_number = s.written_steps.get(i).copied().unwrap_or(i) + 1;
        let first = rows.first()?.frame.clone();
        // The log keeps secrets as `<redacted>`: re-running a step on them
        // would give a wrong reason, so say why it cannot be re-checked.
        if let Some(secret) = secret_used(step, &first, &s.vars) {
            return Some(MissReason::StepNeedsSecret {
                step: step_number,
                secret,
            });
        }
        let mut pipeline = Pipeline {
            inner,
            flow: report.flow,
            vars: &s.vars,
            sync: &s.name,
            errors: &mut errors,
            cache: &mut cache,
            dropped: &mut dropped,
            rejections: &mut rejections,
            guarded: 0,
            refused: 0,
        };
        rows = pipeline.run(std::slice::from_ref(step), rows).await;
        if rows.is_empty() {
            let shown = |key: &str, v: &Value| {
                if redactor.is_secret_key(key) || crate::is_withheld(v) {
                    crate::REDACTED.to_string()
                } else {
                    let text = v.to_string();
                    if text.chars().count() > 60 {
                        format!("{}…", text.chars().take(60).collect::<String>())
                    } else {
                        text
                    }
                }
            };
            let what = match step {
                _ if !rejections.is_empty() => {
                    let r = &rejections[0];
                    format!("`{}` is not {} (the request's mistake)", r.what, r.expected)
                }
                Step::Query {
                    mode,
                    concept,
                    query,
                    inputs,
                    ..
                } => {
                    let args: Vec<String> = inputs
                        .iter()
                        .map(|(k, e)| match eval(e, &first, &s.vars) {
                            Ok(v) => format!("{k}: {}", shown(k, &v)),
                            Err(_) => format!("{k}: ?"),
                        })
                        .collect();
                    let call = format!("{concept}.{query} ({})", args.join(", "));
                    match mode {
                        _ if !errors.is_empty() => format!("`{call}` failed"),
                        QueryMode::Not => format!("`not {call}` found rows"),
                        _ => format!("`{call}` returned no rows"),
                    }
                }
                Step::Filter(_) => {
                    let bound: Vec<String> = s
                        .vars
                        .iter()
                        .zip(&first)
                        .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name} = {}", shown(name, v))))
                        .collect();
                    format!("a filter was false for {}", bound.join(", "))
                }
                Step::Let(slot, _) => format!("`let {}` could not be computed", s.vars[*slot]),
                Step::Collect { .. } => "a collect step failed".to_string(),
                Step::Guarded { .. } => "the step under an `else` yielded nothing".to_string(),
            };
            let failure = match errors.last() {
                Some(e) => format!(" ({})", e.message),
                None => String::new(),
            };
            return Some(MissReason::StepDropped {
                step: step_number,
                detail: format!("{what}{failure}"),
            });
        }
    }
    None
}
