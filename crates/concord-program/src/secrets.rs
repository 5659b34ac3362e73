//! Which parts of which records are secret, derived from the program.
//!
//! Concepts mark secrets where they are born or consumed: a `#[sensitive]`
//! parameter (`Password.set (password)`), a concept-level sensitive key
//! (`JWT`'s `token`). Syncs then carry them around: a request field that a
//! sync passes to a sensitive parameter is secret in the request record
//! (conduit's `user.password`), and a token a sync puts into a response body
//! is secret in the responder's record (`body.user.token`). [`SecretMap`]
//! follows every variable of every sync, forwards (what a secret flows into)
//! and backwards (where a secret came from), through field access, objects,
//! lists, `let`, `collect`, `+` and the built-ins, until nothing changes.
//!
//! The result is per action and query: a [`Secret`] tree over its input
//! and one over its output. The engine redacts those positions in every
//! record it shows or logs.

use std::collections::BTreeMap;
use std::fmt;

use concord_concept::ConceptSpec;

use crate::{BinOp, Builtin, CompiledSync, Expr, FieldMatch, Matcher, OutcomeMatch, Program, Step};

/// Deepest nesting tracked; anything below is secret as a whole (a sync
/// that feeds a record back into itself would otherwise nest forever).
const MAX_DEPTH: usize = 8;

/// Which parts of a value are secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Secret {
    /// Nothing in it.
    #[default]
    None,
    /// All of it.
    Whole,
    /// These keys of an object (or of each object of a list).
    Fields(BTreeMap<String, Secret>),
}

impl Secret {
    /// Whether nothing in the value is secret.
    pub fn is_none(&self) -> bool {
        matches!(self, Secret::None)
    }

    /// The part under `key`.
    pub fn field(&self, key: &str) -> Secret {
        match self {
            Secret::None => Secret::None,
            Secret::Whole => Secret::Whole,
            Secret::Fields(f) => f.get(key).cloned().unwrap_or_default(),
        }
    }

    /// `{key: inner}`.
    pub fn nest(key: &str, inner: Secret) -> Secret {
        if inner.is_none() {
            return Secret::None;
        }
        Secret::Fields(BTreeMap::from([(key.to_string(), inner)])).bounded(MAX_DEPTH)
    }

    /// Adds `other`'s secrets; whether anything changed.
    pub fn join(&mut self, other: &Secret) -> bool {
        match (&mut *self, other) {
            (_, Secret::None) | (Secret::Whole, _) => false,
            (Secret::None, o) => {
                *self = o.clone().bounded(MAX_DEPTH);
                true
            }
            (Secret::Fields(_), Secret::Whole) => {
                *self = Secret::Whole;
                true
            }
            (Secret::Fields(mine), Secret::Fields(theirs)) => {
                let mut changed = false;
                for (k, v) in theirs {
                    changed |= mine.entry(k.clone()).or_default().join(v);
                }
                changed
            }
        }
    }

    fn bounded(self, depth: usize) -> Secret {
        match self {
            Secret::Fields(_) if depth == 0 => Secret::Whole,
            Secret::Fields(f) => Secret::Fields(f.into_iter().map(|(k, v)| (k, v.bounded(depth - 1))).collect()),
            other => other,
        }
    }

    /// The secret positions as dotted paths (`user.password`); `*` for a
    /// value that is secret as a whole.
    pub fn paths(&self) -> Vec<String> {
        fn walk(s: &Secret, prefix: &str, out: &mut Vec<String>) {
            match s {
                Secret::None => {}
                Secret::Whole => out.push(if prefix.is_empty() { "*".into() } else { prefix.into() }),
                Secret::Fields(f) => {
                    for (k, v) in f {
                        let path = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(v, &path, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(self, "", &mut out);
        out
    }
}

/// The secret parts of one action's or query's records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSecrets {
    /// In its input record.
    pub input: Secret,
    /// In its output record.
    pub output: Secret,
}

/// What is secret in the records of every action and query of an app.
#[derive(Debug, Clone, Default)]
pub struct SecretMap {
    actions: BTreeMap<(String, String), RecordSecrets>,
    queries: BTreeMap<(String, String), RecordSecrets>,
}

impl SecretMap {
    /// Seeds the map from the concepts' declarations, then follows the
    /// program's dataflow until nothing changes.
    pub fn derive(program: &Program, specs: &[ConceptSpec]) -> SecretMap {
        let mut map = SecretMap::default();
        for spec in specs {
            let declared = |name: &str| spec.sensitive.iter().any(|k| k == name);
            for a in &spec.actions {
                let entry = map.actions.entry((spec.name.clone(), a.name.clone())).or_default();
                for p in a.params.iter().filter(|p| p.sensitive || declared(&p.name)) {
                    entry.input.join(&Secret::nest(&p.name, Secret::Whole));
                }
                for k in a.success_keys().filter(|k| declared(k)) {
                    entry.output.join(&Secret::nest(k, Secret::Whole));
                }
            }
            for q in &spec.queries {
                let entry = map.queries.entry((spec.name.clone(), q.name.clone())).or_default();
                for p in q.params.iter().filter(|p| p.sensitive || declared(&p.name)) {
                    entry.input.join(&Secret::nest(&p.name, Secret::Whole));
                }
                for k in q.outputs.iter().filter(|k| declared(k)) {
                    entry.output.join(&Secret::nest(k, Secret::Whole));
                }
            }
        }
        let syncs = program.all_syncs();
        let mut slots: Vec<Vec<Secret>> = syncs.iter().map(|s| vec![Secret::None; s.vars.len()]).collect();
        // Each round only adds secrets, and there are finitely many
        // positions (bounded depth): this ends. The cap is a safety net.
        for _ in 0..64 {
            let mut changed = false;
            for (sync, slots) in syncs.iter().zip(&mut slots) {
                changed |= Flow { map: &mut map, slots }.sync(sync);
            }
            if !changed {
                break;
            }
        }
        map
    }

    /// The secret parts of `concept.action`'s records.
    pub fn action(&self, concept: &str, action: &str) -> Option<&RecordSecrets> {
        self.actions.get(&(concept.to_string(), action.to_string()))
    }

    /// Every action with something secret in its records, by name.
    pub fn actions(&self) -> impl Iterator<Item = (String, &RecordSecrets)> {
        self.actions
            .iter()
            .filter(|(_, r)| !r.input.is_none() || !r.output.is_none())
            .map(|((c, a), r)| (format!("{c}.{a}"), r))
    }
}

impl fmt::Display for SecretMap {
    /// One line per action: `Concept.action  input: a.b, c  output: d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<(String, &RecordSecrets)> = self.actions().collect();
        let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, r) in rows {
            let mut parts = Vec::new();
            if !r.input.is_none() {
                parts.push(format!("input: {}", r.input.paths().join(", ")));
            }
            if !r.output.is_none() {
                parts.push(format!("output: {}", r.output.paths().join(", ")));
            }
            writeln!(f, "  {name:width$}  {}", parts.join("  "))?;
        }
        Ok(())
    }
}

/// One sync's pass: its variables' secrets, forwards and backwards.
struct Flow<'a> {
    map: &'a mut SecretMap,
    slots: &'a mut Vec<Secret>,
}

impl Flow<'_> {
    fn sync(&mut self, s: &CompiledSync) -> bool {
        let mut changed = false;
        for p in &s.when {
            let key = (p.concept.clone(), p.action.clone());
            changed |= self.fields(&key, true, &p.inputs, |r| &mut r.input);
            match &p.outcome {
                OutcomeMatch::Success(fields) | OutcomeMatch::Error(fields) => {
                    changed |= self.fields(&key, true, fields, |r| &mut r.output);
                }
                OutcomeMatch::Any => {}
            }
        }
        changed |= self.steps(&s.steps);
        for inv in &s.then {
            let key = (inv.concept.clone(), inv.action.clone());
            changed |= self.arguments(&key, true, &inv.args);
        }
        changed
    }

    /// Binds variables from matched fields, and marks the fields a secret
    /// variable came from.
    fn fields(
        &mut self,
        key: &(String, String),
        action: bool,
        fields: &[FieldMatch],
        part: fn(&mut RecordSecrets) -> &mut Secret,
    ) -> bool {
        let mut changed = false;
        for m in fields {
            let Matcher::Bind(slot) = m.matcher else { continue };
            let table = if action {
                &mut self.map.actions
            } else {
                &mut self.map.queries
            };
            let record = part(table.entry(key.clone()).or_default());
            changed |= self.slots[slot].join(&record.field(&m.key));
            changed |= record.join(&Secret::nest(&m.key, self.slots[slot].clone()));
        }
        changed
    }

    /// Passes arguments: their secrets go into the record, and the record's
    /// secret parameters make what fed them secret.
    fn arguments(&mut self, key: &(String, String), action: bool, args: &[(String, Expr)]) -> bool {
        let mut changed = false;
        for (name, e) in args {
            let carried = self.forward(e);
            let table = if action {
                &mut self.map.actions
            } else {
                &mut self.map.queries
            };
            let record = table.entry(key.clone()).or_default();
            changed |= record.input.join(&Secret::nest(name, carried));
            let wanted = record.input.field(name);
            changed |= self.demand(e, &wanted);
        }
        changed
    }

    fn steps(&mut self, steps: &[Step]) -> bool {
        let mut changed = false;
        for step in steps {
            match step {
                Step::Query {
                    concept,
                    query,
                    inputs,
                    outputs,
                    ..
                } => {
                    let key = (concept.clone(), query.clone());
                    changed |= self.arguments(&key, false, inputs);
                    changed |= self.fields(&key, false, outputs, |r| &mut r.output);
                }
                Step::Filter(_) => {}
                Step::Let(slot, e) => {
                    let carried = self.forward(e);
                    changed |= self.slots[*slot].join(&carried);
                    let wanted = self.slots[*slot].clone();
                    changed |= self.demand(e, &wanted);
                }
                Step::Guarded { steps, .. } => changed |= self.steps(steps),
                Step::Collect { element, slot, steps } => {
                    changed |= self.steps(steps);
                    // Secrets apply to each item of a list alike.
                    let carried = self.forward(element);
                    changed |= self.slots[*slot].join(&carried);
                    let wanted = self.slots[*slot].clone();
                    changed |= self.demand(element, &wanted);
                }
            }
        }
        changed
    }

    /// The secret parts of `e`'s value.
    fn forward(&self, e: &Expr) -> Secret {
        match e {
            Expr::Lit(_) | Expr::Not(_) | Expr::Neg(_) => Secret::None,
            Expr::Var(slot) => self.slots[*slot].clone(),
            Expr::Field(base, key) => self.forward(base).field(key),
            Expr::Object(fields) => {
                let mut s = Secret::None;
                for (k, v) in fields {
                    s.join(&Secret::nest(k, self.forward(v)));
                }
                s
            }
            Expr::List(items) => self.join_all(items),
            Expr::Binary(BinOp::Add, a, b) => {
                let mut s = self.forward(a);
                s.join(&self.forward(b));
                s
            }
            // Comparisons and arithmetic give booleans and numbers that
            // reveal no secret they read.
            Expr::Binary(..) => Secret::None,
            Expr::Call(builtin, args) => match builtin {
                Builtin::If => self.join_all(args.get(1..).unwrap_or_default()),
                Builtin::Coalesce | Builtin::Intersect => self.join_all(args),
                Builtin::Compact => args.first().map(|a| self.forward(a)).unwrap_or_default(),
                Builtin::Lower
                | Builtin::Upper
                | Builtin::Trim
                | Builtin::ToString
                | Builtin::Number
                | Builtin::Integer
                | Builtin::Boolean => {
                    if self.join_all(args).is_none() {
                        Secret::None
                    } else {
                        Secret::Whole
                    }
                }
                Builtin::Now | Builtin::Len | Builtin::Contains | Builtin::Blank | Builtin::Has => Secret::None,
            },
        }
    }

    fn join_all(&self, items: &[Expr]) -> Secret {
        let mut s = Secret::None;
        for i in items {
            s.join(&self.forward(i));
        }
        s
    }

    /// Marks what feeds `e` as secret where `wanted` says `e`'s value is.
    fn demand(&mut self, e: &Expr, wanted: &Secret) -> bool {
        if wanted.is_none() {
            return false;
        }
        match e {
            Expr::Var(slot) => self.slots[*slot].join(wanted),
            Expr::Field(base, key) => self.demand(base, &Secret::nest(key, wanted.clone())),
            Expr::Object(fields) => {
                let mut changed = false;
                for (k, v) in fields {
                    changed |= self.demand(v, &wanted.field(k));
                }
                changed
            }
            Expr::List(items) => self.demand_all(items, wanted),
            Expr::Binary(BinOp::Add, a, b) => self.demand(a, wanted) | self.demand(b, wanted),
            Expr::Call(builtin, args) => match builtin {
                Builtin::If => self.demand_all(args.get(1..).unwrap_or_default(), wanted),
                Builtin::Coalesce | Builtin::Intersect => self.demand_all(args, wanted),
                Builtin::Compact => args.first().is_some_and(|a| self.demand(a, wanted)),
                Builtin::Lower
                | Builtin::Upper
                | Builtin::Trim
                | Builtin::ToString
                | Builtin::Number
                | Builtin::Integer
                | Builtin::Boolean => self.demand_all(args, &Secret::Whole),
                Builtin::Now | Builtin::Len | Builtin::Contains | Builtin::Blank | Builtin::Has => false,
            },
            Expr::Lit(_) | Expr::Not(_) | Expr::Neg(_) | Expr::Binary(..) => false,
        }
    }

    fn demand_all(&mut self, items: &[Expr], wanted: &Secret) -> bool {
        let mut changed = false;
        for i in items {
            changed |= self.demand(i, wanted);
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_widens_and_reports_change() {
        let mut s = Secret::None;
        assert!(s.join(&Secret::nest("user", Secret::nest("password", Secret::Whole))));
        assert!(!s.join(&Secret::nest("user", Secret::nest("password", Secret::Whole))));
        assert!(s.join(&Secret::nest("token", Secret::Whole)));
        assert_eq!(s.paths(), ["token", "user.password"]);
        assert!(s.join(&Secret::Whole));
        assert_eq!(s.paths(), ["*"]);
    }

    #[test]
    fn depth_is_bounded() {
        let mut s = Secret::Whole;
        for i in 0..20 {
            s = Secret::nest(&format!("k{i}"), s);
        }
        assert_eq!(s.paths().len(), 1);
        assert!(s.paths()[0].split('.').count() <= MAX_DEPTH + 1);
    }
}
