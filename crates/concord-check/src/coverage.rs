//! Cross-sync analysis of request handling: for every entry action (an
//! action whose concept's spec says it starts flows, like
//! `Requesting.request`) and each of its routes, does every outcome of every
//! action the request can cause lead to exactly one responder (an action its
//! spec marks as answering, like `Requesting.respond`)?
//!
//! This is a static approximation. A flow is modelled per route as the set of
//! actions reachable from the entry action; a sync "fires" for the route if
//! all its when actions are reachable. A where clause that can drop frames
//! makes a sync *guarded*; guarded syncs only cover an outcome together with
//! a sync whose guard is the negation (`Q` / `not Q`, `a == b` / `a != b`).

use std::collections::{BTreeSet, HashMap, HashSet};

use concord_concept::ConceptSpec;
use concord_syntax::{Diagnostic, Span};

use crate::check::{OutcomeKind, Summary};

type Action = (String, String);

pub(crate) fn analyse(summaries: &[Summary], concepts: &HashMap<String, &ConceptSpec>, diags: &mut Vec<Diagnostic>) {
    // Every entry action a sync waits for (their specs say which they are).
    let mut entries: Vec<Action> = Vec::new();
    for p in summaries
        .iter()
        .flat_map(|s| s.when.iter())
        .filter(|p| p.is_any_entry())
    {
        let action = (p.concept.clone(), p.action.clone());
        if !entries.contains(&action) {
            entries.push(action);
        }
    }
    for entry in &entries {
        let on_entry = |p: &&crate::check::PatternSummary| p.is_entry((&entry.0, &entry.1));
        let routes: BTreeSet<String> = summaries
            .iter()
            .flat_map(|s| s.when.iter())
            .filter(on_entry)
            .filter_map(|p| p.route().map(str::to_string))
            .collect();
        for route in &routes {
            // Requests to one route with different methods are different flows.
            let methods: BTreeSet<Option<String>> = summaries
                .iter()
                .flat_map(|s| s.when.iter())
                .filter(|p| on_entry(p) && p.route() == Some(route.as_str()))
                .map(|p| p.method().map(str::to_string))
                .collect();
            let methods: Vec<Option<String>> = if methods.iter().any(Option::is_some) {
                methods.into_iter().flatten().map(Some).collect()
            } else {
                vec![None]
            };
            for method in &methods {
                let mut a = PathAnalysis::new(entry, route, method.as_deref(), summaries, concepts);
                a.bare_success_patterns(diags);
                a.unanswered(diags);
                a.double_responders(diags);
            }
        }
    }
}

struct PathAnalysis<'a> {
    /// The entry action whose flows are analysed.
    entry: &'a Action,
    /// Its route (the literal of its route key).
    path: &'a str,
    syncs: &'a [Summary],
    concepts: &'a HashMap<String, &'a ConceptSpec>,
    /// Indexes of syncs that can fire in a flow of this path.
    firing: Vec<usize>,
    memo: HashMap<(Action, bool), Option<bool>>,
    reported: HashSet<(Action, bool)>,
}

impl<'a> PathAnalysis<'a> {
    fn new(
        entry: &'a Action,
        path: &'a str,
        method: Option<&str>,
        syncs: &'a [Summary],
        concepts: &'a HashMap<String, &'a ConceptSpec>,
    ) -> Self {
        let relevant = |s: &Summary| {
            s.when.iter().filter(|p| p.is_entry((&entry.0, &entry.1))).all(|p| {
                p.route().is_none_or(|x| x == path)
                    && match (method, p.method()) {
                        (Some(want), Some(m)) => m == want,
                        _ => true,
                    }
            })
        };
        let mut reachable: HashSet<Action> = HashSet::new();
        reachable.insert(entry.clone());
        let mut firing = Vec::new();
        loop {
            let mut changed = false;
            for (i, s) in syncs.iter().enumerate() {
                if firing.contains(&i) || !relevant(s) {
                    continue;
                }
                if s.when
                    .iter()
                    .all(|p| reachable.contains(&(p.concept.clone(), p.action.clone())))
                {
                    firing.push(i);
                    changed = true;
                    for (c, a, _) in &s.then {
                        reachable.insert((c.clone(), a.clone()));
                    }
                }
            }
            if !changed {
                break;
            }
        }
        firing.sort_unstable();
        PathAnalysis {
            entry,
            path,
            syncs,
            concepts,
            firing,
            memo: HashMap::new(),
            reported: HashSet::new(),
        }
    }

    /// The outcome cases an action has: `false` for success, `true` for error.
    fn cases(&self, action: &Action) -> Vec<bool> {
        let Some(spec) = self.concepts.get(&action.0).and_then(|c| c.action(&action.1)) else {
            return Vec::new();
        };
        let mut cases = Vec::new();
        if !spec.success.is_empty() {
            cases.push(false);
        }
        if spec.error {
            cases.push(true);
        }
        cases
    }

    /// Syncs triggered by an outcome of `action`. The request is the context
    /// every other event of the flow happens in, so a sync is triggered by the
    /// request only if the request is all it waits for, and otherwise by its
    /// other patterns.
    fn matching(&self, action: &Action, error: bool) -> Vec<usize> {
        let root = action == self.entry;
        self.firing
            .iter()
            .copied()
            .filter(|&i| {
                let when = &self.syncs[i].when;
                if root {
                    when.iter().all(|p| self.is_entry(p))
                } else {
                    when.iter().any(|p| {
                        !self.is_entry(p) && p.concept == action.0 && p.action == action.1 && p.matches_case(error)
                    })
                }
            })
            .collect()
    }

    fn covered_by(&self, candidates: &[usize]) -> bool {
        self.uncovered(candidates).is_none()
    }

    /// A combination of where conditions under which none of `candidates`
    /// fires, if there is one: each distinct condition (a query having rows,
    /// a filter) is a boolean, and a sync fires when all of its conditions
    /// hold. `None` when the candidates cover every combination.
    fn uncovered(&self, candidates: &[usize]) -> Option<HashMap<String, bool>> {
        if candidates.iter().any(|&i| self.syncs[i].conditions.is_empty()) {
            return None;
        }
        let mut atoms: Vec<String> = candidates
            .iter()
            .flat_map(|&i| self.syncs[i].conditions.iter().map(|(g, _)| g.atom().0))
            .collect();
        atoms.sort();
        atoms.dedup();
        if atoms.len() > 16 {
            // Too many to enumerate: fall back to pairs of complementary
            // first conditions.
            let pair = candidates.iter().any(|&i| {
                candidates
                    .iter()
                    .any(|&j| match (&self.syncs[i].guard, &self.syncs[j].guard) {
                        (Some(a), Some(b)) => a.complements(b),
                        _ => false,
                    })
            });
            return if pair { None } else { Some(HashMap::new()) };
        }
        for bits in 0u32..(1 << atoms.len()) {
            let value: HashMap<String, bool> = atoms
                .iter()
                .enumerate()
                .map(|(k, a)| (a.clone(), bits & (1 << k) != 0))
                .collect();
            let fires = |i: usize| {
                self.syncs[i].conditions.iter().all(|(g, _)| {
                    let (atom, positive) = g.atom();
                    value[&atom] == positive
                })
            };
            if !candidates.iter().any(|&i| fires(i)) {
                return Some(value);
            }
        }
        None
    }

    fn answered_event(&mut self, action: &Action, error: bool) -> bool {
        let key = (action.clone(), error);
        match self.memo.get(&key) {
            Some(Some(v)) => return *v,
            Some(None) => return false, // a cycle: does not answer by itself
            None => {}
        }
        self.memo.insert(key.clone(), None);
        let answered: Vec<usize> = self
            .matching(action, error)
            .into_iter()
            .filter(|&i| self.answered_sync(i))
            .collect();
        let result = self.covered_by(&answered);
        self.memo.insert(key, Some(result));
        result
    }

    fn answered_sync(&mut self, i: usize) -> bool {
        let s = &self.syncs[i];
        if s.responds {
            return true;
        }
        let thens: Vec<Action> = s.then.iter().map(|(c, a, _)| (c.clone(), a.clone())).collect();
        thens.iter().any(|b| {
            let cases = self.cases(b);
            !cases.is_empty() && cases.into_iter().all(|err| self.answered_event(b, err))
        })
    }

    fn unanswered(&mut self, diags: &mut Vec<Diagnostic>) {
        let root: Action = self.entry.clone();
        let mut visited = HashSet::new();
        self.explain_event(&root, false, None, &mut visited, diags);
    }

    /// Reports why an outcome can go unanswered: no sync takes it up, only
    /// guarded ones do, or the syncs that take it up lead nowhere.
    fn explain_event(
        &mut self,
        action: &Action,
        error: bool,
        origin: Option<(&Summary, Span)>,
        visited: &mut HashSet<usize>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let matching = self.matching(action, error);
        let answered: Vec<usize> = matching.iter().copied().filter(|&j| self.answered_sync(j)).collect();
        if self.covered_by(&answered) {
            return;
        }
        // Syncs that take this event up but whose own actions can go
        // unanswered: the gap is further down, explain it there.
        let before = diags.len();
        for &j in &matching {
            if answered.contains(&j) || !visited.insert(j) {
                continue;
            }
            let s = self.syncs[j].clone();
            for (c, a, span) in &s.then {
                let b: Action = (c.clone(), a.clone());
                for err in self.cases(&b) {
                    if !self.answered_event(&b, err) {
                        self.explain_event(&b, err, Some((&s, *span)), visited, diags);
                    }
                }
            }
        }
        if diags.len() > before {
            return;
        }
        if !answered.is_empty() {
            self.report_guarded(action, error, &answered, diags);
        } else if matching.is_empty() {
            match origin {
                Some((s, span)) => self.report_unanswered(s, action, error, span, diags),
                None => self.report_unhandled_request(diags),
            }
        }
    }

    fn report_unhandled_request(&mut self, diags: &mut Vec<Diagnostic>) {
        let Some(s) = self
            .syncs
            .iter()
            .find(|s| s.when.iter().any(|p| self.is_entry(p) && p.route() == Some(self.path)))
        else {
            return;
        };
        let waits: Vec<String> = s
            .when
            .iter()
            .filter(|p| !self.is_entry(p))
            .map(|p| format!("`{}.{}`", p.concept, p.action))
            .collect();
        diags.push(
            Diagnostic::warning(
                "W0401",
                format!(
                    "requests to `{}` get no answer: no sync is triggered by the request itself",
                    self.path
                ),
                s.file,
                s.name_span,
            )
            .with_label(format!(
                "waits for {}, which nothing invokes for this path",
                waits.join(" and ")
            ))
            .with_help(format!(
                "add a sync with `when {}` that invokes the first action",
                self.entry_pattern()
            )),
        );
    }

    /// Whether `p` is a pattern on the analysed entry action.
    fn is_entry(&self, p: &crate::check::PatternSummary) -> bool {
        p.is_entry((&self.entry.0, &self.entry.1))
    }

    /// The entry action's spec.
    fn entry_spec(&self) -> Option<&'a concord_concept::ActionSpec> {
        self.concepts.get(&self.entry.0).and_then(|c| c.action(&self.entry.1))
    }

    /// The key of the entry action's output that identifies the flow (the
    /// first key of its first success case: `request`).
    fn entry_output(&self) -> String {
        self.entry_spec()
            .and_then(|a| a.success.first())
            .and_then(|case| case.first())
            .cloned()
            .unwrap_or_default()
    }

    /// The when pattern on the entry action for this route, as written.
    fn entry_pattern(&self) -> String {
        let route_key = self
            .entry_spec()
            .and_then(|a| a.entry_role())
            .map_or("", |e| e.route_key.as_str());
        format!(
            "{}.{} ({route_key}: \"{}\") : ({})",
            self.entry.0,
            self.entry.1,
            self.path,
            self.entry_output()
        )
    }

    /// `Concept.responder` of the entry's concept, for suggestions: its first
    /// responder, or with `last` its last (by convention the one that says
    /// more, like `respondWith`'s code).
    fn responder(&self, last: bool) -> String {
        let concept = self.concepts.get(&self.entry.0);
        let mut responders = concept.into_iter().flat_map(|c| c.responders());
        let chosen = if last { responders.last() } else { responders.next() };
        format!("{}.{}", self.entry.0, chosen.map_or("<responder>", |a| a.name.as_str()))
    }

    fn outcome_words(error: bool) -> &'static str {
        if error { "returns its error" } else { "succeeds" }
    }

    fn report_unanswered(&mut self, s: &Summary, b: &Action, error: bool, span: Span, diags: &mut Vec<Diagnostic>) {
        if !self.reported.insert((b.clone(), error)) {
            return;
        }
        let responder = self.responder(false);
        let (outcome, respond) = if error {
            ("(error)", format!("{responder} ({}, error)", self.entry_output()))
        } else {
            ("()", format!("{responder} ({})", self.entry_output()))
        };
        diags.push(
            Diagnostic::warning(
                "W0401",
                format!(
                    "requests to `{}` may get no answer: when `{}.{}` {}, no sync responds",
                    self.path,
                    b.0,
                    b.1,
                    Self::outcome_words(error)
                ),
                s.file,
                span,
            )
            .with_label(format!("invoked here by `{}`", s.name))
            .with_help(format!(
                "add a sync that answers this outcome, e.g.\n\n    sync {}{}{}\n    when\n        {}\n        {}.{} () : {outcome}\n    then\n        {respond}",
                capitalise(&b.0),
                capitalise(&b.1),
                if error { "Error" } else { "Response" },
                self.entry_pattern(),
                b.0,
                b.1
            )),
        );
    }

    fn report_guarded(&mut self, b: &Action, error: bool, answered: &[usize], diags: &mut Vec<Diagnostic>) {
        if !self.reported.insert((b.clone(), error)) {
            return;
        }
        // Blame the sync that comes closest under a combination no sync
        // covers, at its first condition that does not hold there.
        let value = self.uncovered(answered).unwrap_or_default();
        let failing = |i: usize| -> Vec<usize> {
            self.syncs[i]
                .conditions
                .iter()
                .enumerate()
                .filter(|(_, (g, _))| {
                    let (atom, positive) = g.atom();
                    value.get(&atom).is_some_and(|v| *v != positive)
                })
                .map(|(k, _)| k)
                .collect()
        };
        // Closest first; among equals the one with most conditions (the sync
        // itself rather than one of its `else` companions).
        let &blamed = answered
            .iter()
            .min_by_key(|&&i| (failing(i).len(), std::cmp::Reverse(self.syncs[i].conditions.len())))
            .unwrap_or(&answered[0]);
        let s = &self.syncs[blamed];
        let condition = failing(blamed).first().map(|&k| s.conditions[k].clone());
        let (span, guard) = match &condition {
            Some((g, span)) => (*span, Some(g)),
            None => (s.guard_span.unwrap_or(s.name_span), s.guard.as_ref()),
        };
        let guard = match guard {
            Some(crate::check::Guard::Has(q)) => format!("not {q} (...)"),
            Some(crate::check::Guard::HasNot(q)) => format!("{q} (...)"),
            Some(crate::check::Guard::Filter { text, .. }) => format!("the opposite of `{text}`"),
            None => String::new(),
        };
        diags.push(
            Diagnostic::warning(
                "W0401",
                format!(
                    "requests to `{}` may get no answer: when `{}.{}` {} but the where clause of `{}` drops the frame, no sync responds",
                    self.path,
                    b.0,
                    b.1,
                    Self::outcome_words(error),
                    s.name
                ),
                s.file,
                span,
            )
            .with_label("frames can be dropped here")
            .with_help(format!(
                "answer those frames: put `else {} (...)` under this step, or add a companion sync whose where clause is {guard} and that responds",
                self.responder(true)
            )),
        );
    }

    /// `: ()` on an action with an error case, in a responding sync, while no
    /// sync answers that error for this path.
    fn bare_success_patterns(&mut self, diags: &mut Vec<Diagnostic>) {
        let firing = self.firing.clone();
        for &i in &firing {
            let s = &self.syncs[i];
            if !s.responds || !s.when.iter().any(|p| self.is_entry(p) && p.route() == Some(self.path)) {
                continue;
            }
            for p in &s.when {
                if p.kind != (OutcomeKind::Success { bare: true }) || self.is_entry(p) {
                    continue;
                }
                let action: Action = (p.concept.clone(), p.action.clone());
                if !self.cases(&action).contains(&true) || !self.matching(&action, true).is_empty() {
                    continue;
                }
                if !self.reported.insert((action.clone(), true)) {
                    continue;
                }
                diags.push(
                    Diagnostic::warning(
                        "W0403",
                        format!("`: ()` matches only success, and no sync answers `{}.{}`'s error for `{}`", p.concept, p.action, self.path),
                        s.file,
                        p.outcome_span,
                    )
                    .with_label("success only")
                    .with_help(format!(
                        "say which case you mean: add a sync with `{}.{} () : (error)` that responds, or write `: *` here to answer both outcomes",
                        p.concept, p.action
                    ))
                    .with_note("unlike the reference engine, `: ()` never matches an error outcome"),
                );
            }
        }
    }

    /// Two syncs that respond to the same outcome of the same actions.
    fn double_responders(&mut self, diags: &mut Vec<Diagnostic>) {
        let responders: Vec<usize> = self
            .firing
            .iter()
            .copied()
            .filter(|&i| self.syncs[i].responds)
            .collect();
        let signature = |s: &Summary| {
            let mut sig: Vec<(String, String, Option<bool>)> = s
                .when
                .iter()
                .filter(|p| !self.is_entry(p))
                .map(|p| {
                    let case = match p.kind {
                        OutcomeKind::Error => Some(true),
                        OutcomeKind::Success { .. } => Some(false),
                        OutcomeKind::Any => None,
                    };
                    (p.concept.clone(), p.action.clone(), case)
                })
                .collect();
            sig.sort();
            sig
        };
        for (n, &i) in responders.iter().enumerate() {
            for &j in &responders[..n] {
                let (a, b) = (&self.syncs[j], &self.syncs[i]);
                if a.excludes(b) || disjoint_literals(a, b) {
                    continue;
                }
                let (sa, sb) = (signature(a), signature(b));
                let same_trigger = sa.len() == sb.len()
                    && sa
                        .iter()
                        .zip(&sb)
                        .all(|(x, y)| x.0 == y.0 && x.1 == y.1 && (x.2 == y.2 || x.2.is_none() || y.2.is_none()));
                let direct = (sa.is_empty() && a.guard.is_none()) || (sb.is_empty() && b.guard.is_none());
                if !(same_trigger || direct) {
                    continue;
                }
                diags.push(
                    Diagnostic::warning(
                        "W0402",
                        format!("`{}` and `{}` can both respond to the same request to `{}`", a.name, b.name, self.path),
                        b.file,
                        b.name_span,
                    )
                    .with_label("responds")
                    .with_secondary(a.file, a.name_span, "also responds")
                    .with_help(
                        "a request is answered once; the second respond fails. Make their when patterns or where clauses exclusive \
                         (e.g. `: ()` and `: (error)`, or a query and its `not`)",
                    ),
                );
            }
        }
    }
}

/// Two syncs whose patterns on the same action require different literals
/// for the same key can never match the same record.
fn disjoint_literals(a: &Summary, b: &Summary) -> bool {
    a.when.iter().any(|pa| {
        b.when.iter().any(|pb| {
            pa.concept == pb.concept
                && pa.action == pb.action
                && pa
                    .literals
                    .iter()
                    .any(|(k, v)| pb.literals.iter().any(|(k2, v2)| k == k2 && v != v2))
        })
    })
}

fn capitalise(s: &str) -> String {
    let s = s.trim_start_matches('_');
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
