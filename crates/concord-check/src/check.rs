//! Per-sync checks: names against signatures, bindings, patterns, then
//! invocations. Produces compiled syncs and the summaries the cross-sync
//! analysis (`coverage`) works on.

use std::collections::{HashMap, HashSet};

use concord_concept::{ActionSpec, ConceptSpec, EntryRole, ParamSpec, ParamType, QuerySpec};
use concord_syntax::ast::{self, Arg, ArgValue, ExprKind, Lit, Outputs, Pattern, QueryMode, UnOp};
use concord_syntax::expand::print_expr;
use concord_syntax::{Diagnostic, FileId, SourceFile, Span};
use serde_json::Value;

use crate::suggest::{closest, help_for};
use concord_program::{
    self, Builtin, CompiledSync, FieldMatch, Invocation, Matcher, Otherwise, OutcomeMatch, Slot, Step, WhenPattern,
};

/// What the cross-sync analysis needs to know about one checked sync.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub file: FileId,
    pub name: String,
    pub name_span: Span,
    pub when: Vec<PatternSummary>,
    /// The first step that can drop frames, if any.
    pub guard: Option<Guard>,
    pub guard_span: Option<Span>,
    /// Every step that can drop frames: the conditions a frame must meet.
    pub conditions: Vec<(Guard, Span)>,
    pub then: Vec<(String, String, Span)>,
    pub responds: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct PatternSummary {
    pub concept: String,
    pub action: String,
    /// The action's role when it is an entry action (its spec says so).
    pub entry: Option<EntryRole>,
    pub kind: OutcomeKind,
    pub literals: Vec<(String, Value)>,
    pub outcome_span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutcomeKind {
    /// `: (keys)`; `bare` is `: ()`.
    Success {
        bare: bool,
    },
    Error,
    Any,
}

impl PatternSummary {
    /// A pattern on this entry action (`concept`, `action`).
    pub fn is_entry(&self, (concept, action): (&str, &str)) -> bool {
        self.entry.is_some() && self.concept == concept && self.action == action
    }

    /// A pattern on some entry action.
    pub fn is_any_entry(&self) -> bool {
        self.entry.is_some()
    }

    /// The literal this pattern requires for `key`, if any.
    pub fn literal(&self, key: &str) -> Option<&Value> {
        self.literals.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The route this entry pattern requires (its route key's literal).
    pub fn route(&self) -> Option<&str> {
        let key = &self.entry.as_ref()?.route_key;
        self.literal(key).and_then(Value::as_str)
    }

    /// The method this entry pattern requires (its method key's literal).
    pub fn method(&self) -> Option<&str> {
        let key = self.entry.as_ref()?.method_key.as_ref()?;
        self.literal(key).and_then(Value::as_str)
    }

    pub fn matches_case(&self, error: bool) -> bool {
        match self.kind {
            OutcomeKind::Any => true,
            OutcomeKind::Error => error,
            OutcomeKind::Success { .. } => !error,
        }
    }
}

/// A step that may drop frames, in a form in which a guard and its negation
/// can be recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Guard {
    Has(String),
    HasNot(String),
    /// A filter: its condition as a boolean variable (`atom`), whether the
    /// filter asserts it, and the filter as written (for messages).
    Filter {
        atom: String,
        positive: bool,
        text: String,
    },
}

impl Guard {
    /// A filter's guard: `!e` is `e` negated, and a comparison and its
    /// complement (`a == b`, `a != b`) share one variable.
    pub fn filter(e: &ast::Expr) -> Guard {
        let (atom, positive) = filter_atom(e);
        Guard::Filter {
            atom,
            positive,
            text: print_expr(e),
        }
    }

    /// The condition as a boolean variable and whether this guard asserts
    /// it (`Q` and `not Q`, `e` and `!e` share a variable).
    pub fn atom(&self) -> (String, bool) {
        match self {
            Guard::Has(q) => (q.clone(), true),
            Guard::HasNot(q) => (q.clone(), false),
            Guard::Filter { atom, positive, .. } => (atom.clone(), *positive),
        }
    }

    pub fn complements(&self, other: &Guard) -> bool {
        match (self, other) {
            (Guard::Has(a), Guard::HasNot(b)) | (Guard::HasNot(a), Guard::Has(b)) => a == b,
            (Guard::Filter { .. }, Guard::Filter { .. }) => {
                let ((a, p), (b, q)) = (self.atom(), other.atom());
                a == b && p != q
            }
            _ => false,
        }
    }
}

impl Summary {
    /// No frame can meet both syncs' where clauses: one requires a query
    /// result or filter whose negation the other requires.
    pub fn excludes(&self, other: &Summary) -> bool {
        self.conditions
            .iter()
            .any(|(a, _)| other.conditions.iter().any(|(b, _)| a.complements(b)))
    }
}

/// A filter's boolean variable (the expression it asserts or denies, as
/// printed) and whether the filter asserts it. Of a comparison and its
/// complement, `!=`, `<` and `<=` are the asserted forms.
fn filter_atom(e: &ast::Expr) -> (String, bool) {
    match &e.kind {
        ExprKind::Unary(UnOp::Not, inner) => {
            let (atom, positive) = filter_atom(inner);
            (atom, !positive)
        }
        ExprKind::Binary(op, a, b) if op.complement().is_some() => {
            let asserted = matches!(op, ast::BinOp::Ne | ast::BinOp::Lt | ast::BinOp::Le);
            let op = if asserted { *op } else { op.complement().unwrap_or(*op) };
            let positive_form = ast::Expr {
                kind: ExprKind::Binary(op, a.clone(), b.clone()),
                span: e.span,
            };
            (print_expr(&positive_form), asserted)
        }
        _ => (print_expr(e), true),
    }
}

pub(crate) fn lit_value(l: &Lit) -> Value {
    match l {
        Lit::Null => Value::Null,
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Int(i) => Value::from(*i),
        Lit::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Lit::Str(s) => Value::String(s.clone()),
    }
}

/// A constant expression's value (literals, and lists/objects of them).
fn const_value(e: &ast::Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Lit(l) => Some(lit_value(l)),
        ExprKind::List(items) => items
            .iter()
            .map(const_value)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        ExprKind::Object(fields) => fields
            .iter()
            .map(|(k, v)| const_value(v).map(|v| (k.name.clone(), v)))
            .collect::<Option<serde_json::Map<_, _>>>()
            .map(Value::Object),
        _ => None,
    }
}

fn value_fits(v: &Value, ty: ParamType, optional: bool) -> bool {
    match (v, ty) {
        (Value::Null, _) => optional || ty == ParamType::Any,
        (_, ParamType::Any) => true,
        (Value::String(_), ParamType::String) => true,
        (Value::Number(n), ParamType::Integer) => n.is_i64() || n.is_u64(),
        (Value::Number(_), ParamType::Number) => true,
        (Value::Bool(_), ParamType::Bool) => true,
        (Value::Array(_), ParamType::List) => true,
        (Value::Object(_), ParamType::Object) => true,
        _ => false,
    }
}

fn with_article(noun: &str) -> String {
    match noun.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {noun}"),
        _ => format!("a {noun}"),
    }
}

fn describe_value(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Where a pattern appears; decides what it may name and contain.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    When,
    Then,
}

/// Checks all syncs of one file.
pub(crate) struct FileChecker<'a> {
    pub file: FileId,
    pub src: &'a SourceFile,
    pub module: &'a str,
    pub concepts: &'a HashMap<String, &'a ConceptSpec>,
    pub concept_names: Vec<&'a str>,
    pub diags: &'a mut Vec<Diagnostic>,
    /// The file's views (for the coverage summary of syncs that use them).
    pub views: &'a [ast::View],
}

impl<'a> FileChecker<'a> {
    /// Whether the concept's spec declares `action` a responder.
    fn is_responder(&self, concept: &str, action: &str) -> bool {
        self.concepts.get(concept).is_some_and(|c| c.is_responder(action))
    }

    /// Checks and compiles `sync` (views inlined); `shape` is the sync as
    /// written (views as single steps), which the coverage summary reads.
    pub fn check_sync(&mut self, sync: &ast::Sync, shape: &ast::Sync, role: Role) -> Option<(CompiledSync, Summary)> {
        let errors_before = self.diags.iter().filter(|d| d.is_error()).count();
        let mut ck = SyncChecker {
            fc: self,
            sync,
            shape,
            role,
            vars: Vec::new(),
            slots: HashMap::new(),
            bound: HashSet::new(),
            occurrences: Vec::new(),
            then_outputs: Vec::new(),
            unbound: Vec::new(),
        };
        let compiled = ck.run();
        ck.explain_bound_later();
        let summary = ck.summary();
        ck.report_unused_if_clean(errors_before);
        let errors_after = self.diags.iter().filter(|d| d.is_error()).count();
        match (compiled, summary) {
            (Some(c), Some(s)) if errors_after == errors_before => Some((c, s)),
            _ => None,
        }
    }
}

struct ThenOutput<'s> {
    pattern: &'s Pattern,
    vars: Vec<String>,
    uses: Vec<(String, Span)>,
}

/// How a checked sync relates to the `else` clauses written in it.
pub(crate) enum Role {
    /// A sync as written: its `else` clauses are compiled into it, each
    /// guarding the steps its written step became (`ranges`, one per step).
    Main { ranges: Vec<std::ops::Range<usize>> },
    /// The companion of an `else`, compiled for its checks, coverage and
    /// explanations; it goes into its sync's [`Otherwise`], and the engine
    /// runs it as part of that sync.
    Companion,
}

struct SyncChecker<'f, 'a, 's> {
    fc: &'f mut FileChecker<'a>,
    sync: &'s ast::Sync,
    shape: &'s ast::Sync,
    role: Role,
    vars: Vec<String>,
    slots: HashMap<String, Slot>,
    bound: HashSet<Slot>,
    /// Per slot: how often the variable is written, and where first.
    occurrences: Vec<(usize, Span, &'static str)>,
    then_outputs: Vec<ThenOutput<'s>>,
    /// Unbound uses (diagnostic index, name), to explain those bound later.
    unbound: Vec<(usize, String)>,
}

impl<'f, 'a, 's> SyncChecker<'f, 'a, 's> {
    fn error(&mut self, code: &'static str, message: impl Into<String>, span: Span) -> &mut Diagnostic {
        self.fc.diags.push(Diagnostic::error(code, message, self.fc.file, span));
        self.fc.diags.last_mut().expect("just pushed")
    }

    fn text(&self, span: Span) -> &'a str {
        self.fc.src.slice(span)
    }

    fn slot(&mut self, name: &str, span: Span, how: &'static str) -> Slot {
        let slot = match self.slots.get(name) {
            Some(&s) => s,
            None => {
                self.vars.push(name.to_string());
                self.occurrences.push((0, span, how));
                self.slots.insert(name.to_string(), self.vars.len() - 1);
                self.vars.len() - 1
            }
        };
        self.occurrences[slot].0 += 1;
        slot
    }

    fn run(&mut self) -> Option<CompiledSync> {
        let sync = self.sync;
        let mut ok = true;
        let mut when = Vec::new();
        for p in &sync.when {
            match self.when_pattern(p) {
                Some(w) => when.push(w),
                None => ok = false,
            }
        }
        let steps = self.steps(&sync.where_steps, &mut ok);
        let mut then = Vec::new();
        let mut responds: Option<Span> = None;
        for p in &sync.then {
            if self.fc.is_responder(&p.concept.name, &p.action.name) {
                if let Some(first) = responds {
                    let file = self.fc.file;
                    // Suggest the concept's first responder (`respond`).
                    let responder = self
                        .fc
                        .concepts
                        .get(&p.concept.name)
                        .and_then(|c| c.responders().next())
                        .map_or(p.action.name.as_str(), |a| a.name.as_str());
                    let help = format!(
                        "a request is answered once; put all fields in one `{}.{responder}`, or split the sync by outcome",
                        p.concept.name
                    );
                    self.error("E0270", "this sync responds twice", p.span)
                        .label("second respond")
                        .also(file, first, "first respond")
                        .help = Some(help);
                    ok = false;
                }
                responds = Some(p.span);
            }
            match self.invocation(p) {
                Some(i) => then.push(i),
                None => ok = false,
            }
        }
        if !self.then_outputs.is_empty() {
            self.report_then_outputs();
            ok = false;
        }
        let full = |fc: &FileChecker<'_>, name: &str| {
            if fc.module.is_empty() {
                name.to_string()
            } else {
                format!("{}.{name}", fc.module)
            }
        };
        let mut steps = steps;
        let mut otherwise = Vec::new();
        let mut written_steps = Vec::new();
        match &self.role {
            Role::Main { ranges } => {
                let ranges = ranges.clone();
                let mut elses: Vec<&'s ast::Otherwise> = self.shape.otherwise.iter().collect();
                elses.sort_by_key(|o| o.step);
                let mut guards: Vec<(std::ops::Range<usize>, usize)> = Vec::new();
                for o in elses {
                    match self.invocation(&o.invocation) {
                        Some(invocation) => {
                            guards.push((ranges.get(o.step).cloned().unwrap_or(0..0), otherwise.len()));
                            // The companion itself is checked next and put
                            // here (`crate::check`); until then, its name.
                            otherwise.push(Otherwise {
                                step: o.step,
                                invocation,
                                companion: CompiledSync {
                                    name: full(
                                        self.fc,
                                        &concord_syntax::expand::companion_name(&sync.name.name, o.step),
                                    ),
                                    ..CompiledSync::default()
                                },
                            });
                        }
                        None => ok = false,
                    }
                }
                if ok && steps.len() == sync.where_steps.len() {
                    steps = group_guarded(steps, &guards);
                    if ranges.len() != steps.len() {
                        // Each compiled step: the written step its first part came from.
                        let mut at = 0;
                        for step in &steps {
                            written_steps.push(ranges.iter().position(|r| r.contains(&at)).unwrap_or(0));
                            at += match step {
                                Step::Guarded { steps, .. } => steps.len(),
                                _ => 1,
                            };
                        }
                    }
                }
            }
            Role::Companion => {}
        }
        if !ok {
            return None;
        }
        let (line, col) = self.fc.src.line_col(sync.span.start);
        Some(CompiledSync {
            name: full(self.fc, &sync.name.name),
            location: format!("{}:{line}:{col}", self.fc.src.name()),
            vars: self.vars.clone(),
            when,
            steps,
            then,
            otherwise,
            written_steps,
        })
    }

    // ---- names --------------------------------------------------------

    fn concept(&mut self, p: &Pattern) -> Option<&'a ConceptSpec> {
        if let Some(c) = self.fc.concepts.get(&p.concept.name) {
            return Some(c);
        }
        let help = if self.fc.concept_names.is_empty() {
            "no concepts are registered; register the concept with the app before loading syncs".to_string()
        } else {
            help_for(&p.concept.name, "registered concepts", &self.fc.concept_names)
        };
        self.error("E0201", format!("unknown concept `{}`", p.concept.name), p.concept.span)
            .label("no concept of this name is registered")
            .help = Some(help);
        None
    }

    fn action(&mut self, p: &Pattern, place: Place) -> Option<&'a ActionSpec> {
        let c = self.concept(p)?;
        let name = &p.action.name;
        if let Some(a) = c.action(name) {
            return Some(a);
        }
        let full = format!("{}.{}", c.name, name);
        if c.query(name).is_some() {
            let (msg, help) = match place {
                Place::When => (
                    format!("`{full}` is a query; when patterns match actions"),
                    format!(
                        "queries are not recorded, so nothing can match them; call it in `where`: `{full} (...) : (...)`"
                    ),
                ),
                _ => (
                    format!("`{full}` is a query; then invokes actions"),
                    format!("queries only read; call it in `where` and use its outputs: `{full} (...) : (...)`"),
                ),
            };
            self.error(if place == Place::When { "E0203" } else { "E0250" }, msg, p.action.span)
                .label("a query")
                .help = Some(help);
            return None;
        }
        let names: Vec<&str> = c.actions.iter().map(|a| a.name.as_str()).collect();
        self.error("E0202", format!("`{}` has no action `{name}`", c.name), p.action.span)
            .label("unknown action")
            .help = Some(help_for(name, "its actions", &names));
        None
    }

    fn query(&mut self, p: &Pattern) -> Option<&'a QuerySpec> {
        let c = self.concept(p)?;
        let name = &p.action.name;
        if let Some(q) = c.query(name) {
            return Some(q);
        }
        if c.action(name).is_some() {
            self.error(
                "E0220",
                format!("`{}.{name}` is an action; where only calls queries", c.name),
                p.action.span,
            )
            .label("an action")
            .help = Some(
                "actions change state, so they run in `then`; where steps call queries (names starting with `_`)"
                    .into(),
            );
            return None;
        }
        let names: Vec<&str> = c.queries.iter().map(|q| q.name.as_str()).collect();
        self.error("E0202", format!("`{}` has no query `{name}`", c.name), p.action.span)
            .label("unknown query")
            .help = Some(help_for(name, "its queries", &names));
        None
    }

    /// Unknown and duplicate keys; missing required ones when `complete`.
    fn check_keys(
        &mut self,
        args: &[Arg],
        params: &[ParamSpec],
        open: bool,
        full: &str,
        complete: bool,
        args_span: Span,
    ) -> bool {
        let mut ok = true;
        let mut seen: Vec<&str> = Vec::new();
        for a in args {
            if seen.contains(&a.key.name.as_str()) {
                self.error("E0206", format!("`{}` is given twice", a.key.name), a.key.span)
                    .label("repeated")
                    .help = Some("give each argument once".into());
                ok = false;
            }
            seen.push(&a.key.name);
            if !open && !params.iter().any(|p| p.name == a.key.name) {
                let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                let help = if names.is_empty() {
                    format!("`{full}` takes no arguments; write `{full} ()`")
                } else {
                    help_for(&a.key.name, "its parameters", &names)
                };
                self.error(
                    "E0204",
                    format!("`{full}` has no parameter `{}`", a.key.name),
                    a.key.span,
                )
                .label("unknown parameter")
                .help = Some(help);
                ok = false;
            }
        }
        // A misspelled key already explains the missing one.
        if complete && ok {
            for p in params.iter().filter(|p| !p.optional) {
                if !seen.contains(&p.name.as_str()) {
                    self.error("E0208", format!("`{full}` needs argument `{}`", p.name), args_span)
                        .label(format!("`{}` is missing", p.name))
                        .help = Some(format!(
                        "add `{}: <value>` (or just `{}` if a variable of that name is bound)",
                        p.name, p.name
                    ));
                    ok = false;
                }
            }
        }
        ok
    }

    fn check_literal_type(&mut self, arg: &Arg, value: &Value, params: &[ParamSpec], full: &str) -> bool {
        let Some(p) = params.iter().find(|p| p.name == arg.key.name) else {
            return true;
        };
        if value_fits(value, p.ty, p.optional) {
            return true;
        }
        let span = match &arg.value {
            ArgValue::Expr(e) => e.span,
            _ => arg.span,
        };
        self.error(
            "E0207",
            format!(
                "`{}` of `{full}` expects {}, not {}",
                p.name,
                p.ty.name(),
                describe_value(value)
            ),
            span,
        )
        .label(format!("{} here", describe_value(value)))
        .help = Some(format!("give {} value", with_article(p.ty.name())));
        false
    }

    // ---- when -----------------------------------------------------------

    fn when_pattern(&mut self, p: &'s Pattern) -> Option<WhenPattern> {
        let spec = self.action(p, Place::When);
        let full = format!("{}.{}", p.concept.name, p.action.name);
        let mut ok = spec.is_some();
        if let Some(a) = spec {
            ok &= self.check_keys(&p.args, &a.params, a.open_params, &full, false, p.args_span);
        }
        let mut inputs = Vec::new();
        for arg in &p.args {
            match self.pattern_field(arg, "when") {
                Some(m) => {
                    if let (Matcher::Literal(v), Some(a)) = (&m.matcher, spec) {
                        ok &= self.check_literal_type(arg, v, &a.params, &full);
                    }
                    if let (Matcher::Literal(Value::String(path)), true) = (
                        &m.matcher,
                        spec.and_then(|a| a.entry_role())
                            .is_some_and(|e| e.templates && e.route_key == m.key),
                    ) {
                        ok &= self.check_route(path, arg);
                    }
                    inputs.push(m);
                }
                None => ok = false,
            }
        }
        let outcome = match &p.outputs {
            None => {
                self.error("E0210", format!("when pattern `{full}` needs an outcome"), p.span)
                    .label("which outcome should match?")
                    .help = Some(format!(
                    "add `: ()` to match success, `: (error)` to match the error, or `: *` for any outcome, e.g. `{} : ()`",
                    self.text(p.span)
                ));
                ok = false;
                OutcomeMatch::Any
            }
            Some(Outputs::Any(_)) => OutcomeMatch::Any,
            Some(Outputs::List(outs, span)) => match self.outcome(outs, *span, spec, &full) {
                Some(o) => o,
                None => {
                    ok = false;
                    OutcomeMatch::Any
                }
            },
        };
        for arg in &p.args {
            if let ArgValue::Shorthand = arg.value {
                self.mark_bound(&arg.key.name);
            } else if let ArgValue::Expr(ast::Expr {
                kind: ExprKind::Var(v), ..
            }) = &arg.value
            {
                self.mark_bound(v);
            }
        }
        if let Some(Outputs::List(outs, _)) = &p.outputs {
            for arg in outs {
                match &arg.value {
                    ArgValue::Shorthand => self.mark_bound(&arg.key.name),
                    ArgValue::Expr(ast::Expr {
                        kind: ExprKind::Var(v), ..
                    }) => self.mark_bound(v),
                    _ => {}
                }
            }
        }
        ok.then(|| WhenPattern {
            concept: p.concept.name.clone(),
            action: p.action.name.clone(),
            entry: spec.and_then(|a| a.entry_role()).cloned(),
            inputs,
            outcome,
        })
    }

    /// A request path: `/a/b`, or a template `/profiles/:username` whose
    /// parameters are distinct names.
    fn check_route(&mut self, path: &str, arg: &Arg) -> bool {
        let span = match &arg.value {
            ArgValue::Expr(e) => e.span,
            _ => arg.span,
        };
        let problem = concord_program::RouteTemplate::parse(path).err().map(|e| e.to_string());
        match problem {
            None => true,
            Some(help) => {
                self.error("E0290", format!("malformed request path `{path}`"), span)
                    .label("not a path or route template")
                    .help = Some(help);
                false
            }
        }
    }

    fn mark_bound(&mut self, name: &str) {
        if let Some(&s) = self.slots.get(name) {
            self.bound.insert(s);
        }
    }

    /// A key in a when pattern or query output: variable, literal or `_`.
    fn pattern_field(&mut self, arg: &Arg, place: &str) -> Option<FieldMatch> {
        let matcher = match &arg.value {
            ArgValue::Shorthand => Matcher::Bind(self.slot(&arg.key.name, arg.key.span, "pattern")),
            ArgValue::Wildcard(_) => Matcher::Present,
            ArgValue::Expr(e) => match &e.kind {
                ExprKind::Var(v) => Matcher::Bind(self.slot(v, e.span, "pattern")),
                _ => match const_value(e) {
                    Some(v) => Matcher::Literal(v),
                    None => {
                        self.error(
                            "E0301",
                            format!("expressions are not allowed in {place} patterns"),
                            e.span,
                        )
                        .label("only a variable, a literal or `_` can go here")
                        .help = Some(format!(
                            "bind a variable and compare it in where: `{}: x` and then `where` ... `x == {}`",
                            arg.key.name,
                            self.text(e.span)
                        ));
                        return None;
                    }
                },
            },
        };
        Some(FieldMatch {
            key: arg.key.name.clone(),
            optional: arg.optional,
            matcher,
        })
    }

    fn outcome(&mut self, outs: &[Arg], span: Span, spec: Option<&ActionSpec>, full: &str) -> Option<OutcomeMatch> {
        let error_arg = outs.iter().find(|a| a.key.name == "error");
        if let Some(err) = error_arg {
            if outs.len() > 1 {
                let other = outs.iter().find(|a| a.key.name != "error").map_or(span, |a| a.key.span);
                let file = self.fc.file;
                self.error(
                    "E0211",
                    "this output pattern mixes success keys and `error`; it can never match",
                    span,
                )
                .label("success and error in one pattern")
                .also(file, err.key.span, "only the error outcome has `error`")
                .also(file, other, "only success outcomes have this")
                .help = Some("write two syncs: one with `: (error)` and one with the success keys".into());
                return None;
            }
            if let Some(a) = spec
                && !a.error
            {
                self.error(
                    "E0212",
                    format!("`{full}` has no error outcome; this pattern never matches"),
                    span,
                )
                .label("never matches")
                .help = Some(format!("its outcomes are {}", a.describe_outcomes()));
                return None;
            }
            return self.pattern_field(err, "output").map(|m| OutcomeMatch::Error(vec![m]));
        }
        let mut fields = Vec::new();
        let mut ok = true;
        if let Some(a) = spec {
            let keys: Vec<&str> = a.success_keys().collect();
            for arg in outs {
                if !keys.contains(&arg.key.name.as_str()) {
                    let help = match closest(&arg.key.name, keys.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`? its outcomes are {}", a.describe_outcomes()),
                        None => format!("its outcomes are {}", a.describe_outcomes()),
                    };
                    self.error(
                        "E0205",
                        format!("`{full}` has no output `{}`", arg.key.name),
                        arg.key.span,
                    )
                    .label("unknown output")
                    .help = Some(help);
                    ok = false;
                }
            }
            if a.success.is_empty() {
                self.error(
                    "E0212",
                    format!("`{full}` has no success outcome; this pattern never matches"),
                    span,
                )
                .label("never matches")
                .help = Some(format!("its outcomes are {}", a.describe_outcomes()));
                ok = false;
            }
        }
        for arg in outs {
            match self.pattern_field(arg, "output") {
                Some(m) => fields.push(m),
                None => ok = false,
            }
        }
        ok.then_some(OutcomeMatch::Success(fields))
    }

    // ---- where ------------------------------------------------------------

    fn steps(&mut self, steps: &'s [ast::Step], ok: &mut bool) -> Vec<Step> {
        let mut out = Vec::new();
        for step in steps {
            match self.step(step) {
                Some(s) => out.push(s),
                None => *ok = false,
            }
        }
        out
    }

    fn step(&mut self, step: &'s ast::Step) -> Option<Step> {
        match step {
            ast::Step::Query { mode, pattern, .. } => self.query_step(*mode, pattern),
            ast::Step::Filter(e) => self.expr(e, "a where filter").map(Step::Filter),
            // Uses are replaced by their views' steps before checking; one
            // left means the view does not exist (reported there).
            ast::Step::Use { .. } => None,
            ast::Step::Let { name, value, .. } => {
                let value = self.expr(value, "a let");
                if let Some(&s) = self.slots.get(&name.name)
                    && self.bound.contains(&s)
                {
                    self.error("E0231", format!("`{}` is already bound", name.name), name.span)
                        .label("bound earlier in this sync")
                        .help = Some("variables are bound once; choose a new name".into());
                    return None;
                }
                let slot = self.slot(&name.name, name.span, "let");
                self.bound.insert(slot);
                value.map(|v| Step::Let(slot, v))
            }
            ast::Step::Collect {
                element, name, steps, ..
            } => {
                let outer = self.bound.clone();
                let mut ok = true;
                let inner = self.steps(steps, &mut ok);
                let element = self.expr(element, "a collect element");
                self.bound = outer;
                if let Some(&s) = self.slots.get(&name.name)
                    && self.bound.contains(&s)
                {
                    self.error("E0231", format!("`{}` is already bound", name.name), name.span)
                        .label("bound earlier in this sync")
                        .help = Some("variables are bound once; choose a new name for the collected list".into());
                    return None;
                }
                let slot = self.slot(&name.name, name.span, "collect");
                self.bound.insert(slot);
                match (ok, element) {
                    (true, Some(element)) => Some(Step::Collect {
                        element,
                        slot,
                        steps: inner,
                    }),
                    _ => None,
                }
            }
        }
    }

    fn query_step(&mut self, mode: QueryMode, p: &'s Pattern) -> Option<Step> {
        let spec = self.query(p);
        let full = format!("{}.{}", p.concept.name, p.action.name);
        let mut ok = spec.is_some();
        if let Some(q) = spec {
            ok &= self.check_keys(&p.args, &q.params, q.open_params, &full, true, p.args_span);
        }
        let inputs = self.call_args(p, &full, spec.map(|q| q.params.as_slice()), "a query input");
        ok &= inputs.is_some();
        let mut outputs = Vec::new();
        match &p.outputs {
            None => {}
            Some(Outputs::Any(span)) => {
                self.error("E0221", "queries have no outcome cases", *span)
                    .label("`*` is for actions")
                    .help = Some(format!("list the row keys you need: `{full} (...) : (key, ...)`"));
                ok = false;
            }
            Some(Outputs::List(outs, span)) => {
                if mode == QueryMode::Not && !outs.is_empty() {
                    self.error("E0222", "a `not` query binds nothing", *span)
                        .label("these outputs would never be bound")
                        .help = Some(format!(
                        "drop the outputs: `not {full} ({})`",
                        self.text(p.args_span).trim_matches(['(', ')'])
                    ));
                    ok = false;
                } else {
                    for arg in outs {
                        if let Some(q) = spec
                            && !q.outputs.contains(&arg.key.name)
                        {
                            let keys: Vec<&str> = q.outputs.iter().map(String::as_str).collect();
                            self.error(
                                "E0205",
                                format!("`{full}` has no output `{}`", arg.key.name),
                                arg.key.span,
                            )
                            .label("unknown output")
                            .help = Some(help_for(&arg.key.name, "its rows have", &keys));
                            ok = false;
                        }
                        match self.pattern_field(arg, "query output") {
                            Some(m) => outputs.push(m),
                            None => ok = false,
                        }
                    }
                    for arg in outs {
                        match &arg.value {
                            ArgValue::Shorthand => self.mark_bound(&arg.key.name),
                            ArgValue::Expr(ast::Expr {
                                kind: ExprKind::Var(v), ..
                            }) => self.mark_bound(v),
                            _ => {}
                        }
                    }
                }
            }
        }
        match (ok, inputs) {
            (true, Some(inputs)) => Some(Step::Query {
                mode,
                concept: p.concept.name.clone(),
                query: p.action.name.clone(),
                inputs,
                outputs,
            }),
            _ => None,
        }
    }

    /// Arguments of a query call or then invocation: expressions over bound
    /// variables.
    fn call_args(
        &mut self,
        p: &'s Pattern,
        full: &str,
        params: Option<&[ParamSpec]>,
        role: &str,
    ) -> Option<Vec<(String, concord_program::Expr)>> {
        let mut out = Vec::new();
        let mut ok = true;
        for arg in &p.args {
            if arg.optional {
                self.error(
                    "E0303",
                    format!("`{}?` only makes sense in patterns", arg.key.name),
                    arg.span,
                )
                .label("`?` here")
                .help = Some(format!(
                    "an argument you pass is either given or not; write `{}` or `{}: coalesce(x, default)`",
                    arg.key.name, arg.key.name
                ));
                ok = false;
                continue;
            }
            let value = match &arg.value {
                ArgValue::Wildcard(span) => {
                    self.error("E0302", "`_` cannot be passed as an argument", *span)
                        .label("`_` matches anything, but here a value is needed")
                        .help = Some(format!("give a value: `{}: \"...\"` or a bound variable", arg.key.name));
                    ok = false;
                    continue;
                }
                ArgValue::Shorthand => self
                    .var_use(&arg.key.name, arg.key.span, role)
                    .map(concord_program::Expr::Var),
                ArgValue::Expr(e) => {
                    if let (Some(v), Some(params)) = (const_value(e), params)
                        && !self.check_literal_type(arg, &v, params, full)
                    {
                        ok = false;
                    }
                    self.expr(e, role)
                }
            };
            match value {
                Some(v) => out.push((arg.key.name.clone(), v)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn var_use(&mut self, name: &str, span: Span, role: &str) -> Option<Slot> {
        if let Some(&s) = self.slots.get(name)
            && self.bound.contains(&s)
        {
            self.occurrences[s].0 += 1;
            return Some(s);
        }
        if let Some(t) = self.then_outputs.iter_mut().find(|t| t.vars.iter().any(|v| v == name)) {
            t.uses.push((name.to_string(), span));
            return None;
        }
        let bound_names: Vec<&str> = self
            .bound
            .iter()
            .filter_map(|&s| self.vars.get(s).map(String::as_str))
            .collect();
        let help = match closest(name, bound_names.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!(
                "bind `{name}` before this use: in a when pattern (e.g. `Concept.action ({name}) : ()`), \
                 a where query's outputs, or `let {name} = ...`"
            ),
        };
        let d = self.error("E0230", format!("`{name}` is not bound"), span);
        d.primary.message = format!("used in {role}, but nothing before it binds `{name}`");
        d.help = Some(help);
        self.unbound.push((self.fc.diags.len() - 1, name.to_string()));
        None
    }

    fn explain_bound_later(&mut self) {
        for (index, name) in std::mem::take(&mut self.unbound) {
            if self.slots.contains_key(&name)
                && let Some(d) = self.fc.diags.get_mut(index)
            {
                d.notes.push(format!(
                    "`{name}` is bound later in this sync (or inside a collect block); where steps run top to bottom, \
                     so move the step that binds it above this use"
                ));
            }
        }
    }

    fn expr(&mut self, e: &ast::Expr, role: &str) -> Option<concord_program::Expr> {
        use concord_program::Expr as P;
        Some(match &e.kind {
            ExprKind::Lit(l) => P::Lit(lit_value(l)),
            ExprKind::Var(v) => P::Var(self.var_use(v, e.span, role)?),
            ExprKind::Field(b, f) => P::Field(Box::new(self.expr(b, role)?), f.name.clone()),
            ExprKind::Object(fields) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (k, v) in fields {
                    match self.expr(v, role) {
                        Some(v) => out.push((k.name.clone(), v)),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                P::Object(out)
            }
            ExprKind::List(items) => {
                let items: Vec<Option<P>> = items.iter().map(|i| self.expr(i, role)).collect();
                P::List(items.into_iter().collect::<Option<Vec<_>>>()?)
            }
            ExprKind::Unary(UnOp::Not, b) => P::Not(Box::new(self.expr(b, role)?)),
            ExprKind::Unary(UnOp::Neg, b) => P::Neg(Box::new(self.expr(b, role)?)),
            ExprKind::Binary(op, a, b) => {
                let a = self.expr(a, role);
                let b = self.expr(b, role);
                P::Binary(*op, Box::new(a?), Box::new(b?))
            }
            ExprKind::Call(f, _) if f.name == "untranslated" => {
                self.error(
                    "E0295",
                    "a part of this sync was not translated from TypeScript",
                    e.span,
                )
                .label("left by `import-ts`")
                .help = Some(
                    "rewrite the TypeScript kept in the comment above as where steps, patterns or values \
                     (docs/sync-language.md), then delete this line"
                        .into(),
                );
                return None;
            }
            ExprKind::Call(f, args) => {
                let compiled: Vec<Option<P>> = args.iter().map(|a| self.expr(a, role)).collect();
                let Some((builtin, min, max)) = Builtin::lookup(&f.name) else {
                    let names: Vec<&str> = Builtin::ALL.iter().map(|(n, ..)| *n).collect();
                    self.error("E0240", format!("unknown function `{}`", f.name), f.span)
                        .label("not a built-in")
                        .help = Some(help_for(&f.name, "the built-in functions are", &names));
                    return None;
                };
                if args.len() < min || args.len() > max {
                    let expected = match (min, max) {
                        (a, b) if a == b => format!("{a}"),
                        (a, usize::MAX) => format!("at least {a}"),
                        (a, b) => format!("{a} to {b}"),
                    };
                    self.error(
                        "E0241",
                        format!("`{}` takes {expected} argument(s), not {}", f.name, args.len()),
                        e.span,
                    )
                    .label("wrong number of arguments")
                    .help = Some(format!(
                        "see the built-in `{}` in the language reference",
                        builtin.name()
                    ));
                    return None;
                }
                P::Call(builtin, compiled.into_iter().collect::<Option<Vec<_>>>()?)
            }
        })
    }

    // ---- then ---------------------------------------------------------------

    fn invocation(&mut self, p: &'s Pattern) -> Option<Invocation> {
        let spec = self.action(p, Place::Then);
        let full = format!("{}.{}", p.concept.name, p.action.name);
        let mut ok = spec.is_some();
        if let Some(a) = spec {
            ok &= self.check_keys(&p.args, &a.params, a.open_params, &full, true, p.args_span);
        }
        let args = self.call_args(p, &full, spec.map(|a| a.params.as_slice()), "a then argument");
        if let Some(outs) = &p.outputs {
            let vars = match outs {
                Outputs::List(args, _) => args
                    .iter()
                    .filter_map(|a| match &a.value {
                        ArgValue::Shorthand => Some(a.key.name.clone()),
                        ArgValue::Expr(ast::Expr {
                            kind: ExprKind::Var(v), ..
                        }) => Some(v.clone()),
                        _ => None,
                    })
                    .collect(),
                Outputs::Any(_) => Vec::new(),
            };
            self.then_outputs.push(ThenOutput {
                pattern: p,
                vars,
                uses: Vec::new(),
            });
            ok = false;
        }
        match (ok, args) {
            (true, Some(args)) => Some(Invocation {
                concept: p.concept.name.clone(),
                action: p.action.name.clone(),
                args,
                responds: self.fc.is_responder(&p.concept.name, &p.action.name),
            }),
            _ => None,
        }
    }

    /// E0260: the seeds' `Missing binding: Symbol(session)` bug, caught at
    /// load time, with the two-sync split spelled out.
    fn report_then_outputs(&mut self) {
        let outputs = std::mem::take(&mut self.then_outputs);
        for t in &outputs {
            let p = t.pattern;
            let out_span = p.outputs.as_ref().map_or(p.span, Outputs::span);
            let invocation = self.text(p.span).to_string();
            let mut d = Diagnostic::error(
                "E0260",
                format!(
                    "a then invocation cannot bind outputs: `{}.{}` has an output pattern",
                    p.concept.name, p.action.name
                ),
                self.fc.file,
                out_span,
            )
            .with_label("then invocations have no outputs");
            for (var, span) in &t.uses {
                d = d.with_secondary(
                    self.fc.file,
                    *span,
                    format!("`{var}` is used here, but the then output above never binds it"),
                );
            }
            let is_last = self.sync.then.last().is_some_and(|last| std::ptr::eq(last, p));
            d = if is_last && t.uses.is_empty() {
                let outputs = self.text(out_span);
                let call = self.text(Span {
                    start: p.span.start,
                    end: p.args_span.end,
                });
                d.with_help(format!(
                    "remove the output pattern: `{call}`; a sync that needs its outputs matches them in its when clause: \
                     `{}.{} () : {outputs}`",
                    p.concept.name, p.action.name
                ))
            } else {
                d.with_help(format!(
                    "outputs of a then action cannot be used in the same sync; move `{invocation}` into the when clause of a new sync:\n\n{}",
                    self.split_suggestion(p)
                ))
            };
            d = d.with_note(
                "each then invocation runs after the when/where match is complete; its results arrive as a new action record, \
                 which only a when pattern can match (the reference engine ignored such outputs and failed at run time \
                 with `Missing binding`)",
            );
            self.fc.diags.push(d);
        }
    }

    fn split_suggestion(&self, offending: &Pattern) -> String {
        let sync = self.sync;
        let idx = sync.then.iter().position(|p| std::ptr::eq(p, offending)).unwrap_or(0);
        let when: Vec<&str> = sync.when.iter().map(|p| self.text(p.span)).collect();
        let steps: Vec<&str> = sync.where_steps.iter().map(|s| self.text(s.span())).collect();
        let without_outputs = |p: &Pattern| {
            self.text(Span {
                start: p.span.start,
                end: p.args_span.end,
            })
        };
        let mut first_then: Vec<String> = sync.then[..idx].iter().map(|p| self.text(p.span).to_string()).collect();
        first_then.push(without_outputs(offending).to_string());
        let rest: Vec<String> = sync.then[idx + 1..]
            .iter()
            .map(|p| self.text(p.span).to_string())
            .collect();
        let mut second_when: Vec<&str> = when.clone();
        second_when.push(self.text(offending.span));
        let block = |name: &str, when: &[&str], then: &[String]| {
            let mut s = format!("    sync {name}\n    when\n");
            for w in when {
                s.push_str(&format!("        {w}\n"));
            }
            if !steps.is_empty() {
                s.push_str("    where\n");
                for st in &steps {
                    s.push_str(&format!("        {st}\n"));
                }
            }
            s.push_str("    then\n");
            for t in then {
                s.push_str(&format!("        {t}\n"));
            }
            s
        };
        let mut action = offending.action.name.clone();
        if let Some(c) = action.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        let mut out = block(&sync.name.name, &when, &first_then);
        if !rest.is_empty() {
            out.push('\n');
            out.push_str(&block(&format!("{}After{action}", sync.name.name), &second_when, &rest));
        }
        out
    }

    // ---- summaries and warnings ------------------------------------------------

    fn summary(&self) -> Option<Summary> {
        let sync = self.sync;
        let when = sync
            .when
            .iter()
            .map(|p| {
                let kind = match &p.outputs {
                    Some(Outputs::List(outs, _)) if outs.iter().any(|a| a.key.name == "error") => OutcomeKind::Error,
                    Some(Outputs::List(outs, _)) => OutcomeKind::Success { bare: outs.is_empty() },
                    _ => OutcomeKind::Any,
                };
                let literals = p
                    .args
                    .iter()
                    .filter_map(|a| match &a.value {
                        ArgValue::Expr(e) => const_value(e).map(|v| (a.key.name.clone(), v)),
                        _ => None,
                    })
                    .collect();
                PatternSummary {
                    concept: p.concept.name.clone(),
                    action: p.action.name.clone(),
                    entry: self
                        .fc
                        .concepts
                        .get(&p.concept.name)
                        .and_then(|c| c.entry_role(&p.action.name))
                        .cloned(),
                    kind,
                    literals,
                    outcome_span: p.outputs.as_ref().map_or(p.span, Outputs::span),
                }
            })
            .collect();
        let conditions: Vec<(Guard, Span)> = self
            .shape
            .where_steps
            .iter()
            .filter_map(|s| match s {
                ast::Step::Use {
                    name, negated, span, ..
                } if self.view_drops(&name.name, 0) => Some((
                    if *negated {
                        Guard::HasNot(format!("view {}", name.name))
                    } else {
                        Guard::Has(format!("view {}", name.name))
                    },
                    *span,
                )),
                ast::Step::Query {
                    mode: QueryMode::Join,
                    pattern,
                    span,
                } if !self.exactly_one(pattern) => Some((
                    Guard::Has(format!("{}.{}", pattern.concept.name, pattern.action.name)),
                    *span,
                )),
                ast::Step::Query {
                    mode: QueryMode::Not,
                    pattern,
                    span,
                } => Some((
                    Guard::HasNot(format!("{}.{}", pattern.concept.name, pattern.action.name)),
                    *span,
                )),
                ast::Step::Filter(e) => Some((Guard::filter(e), e.span)),
                _ => None,
            })
            .collect();
        let first_guard = conditions.first().cloned();
        Some(Summary {
            file: self.fc.file,
            name: sync.name.name.clone(),
            name_span: sync.name.span,
            when,
            guard: first_guard.as_ref().map(|(g, _)| g.clone()),
            guard_span: first_guard.map(|(_, s)| s),
            conditions,
            then: sync
                .then
                .iter()
                .map(|p| (p.concept.name.clone(), p.action.name.clone(), p.span))
                .collect(),
            responds: sync
                .then
                .iter()
                .any(|p| self.fc.is_responder(&p.concept.name, &p.action.name)),
        })
    }

    /// A query that yields exactly one row for any input, with no literal
    /// among its outputs to compare with: it cannot drop a frame (joining an
    /// output with a variable bound before still can; that case is not
    /// detected).
    fn exactly_one(&self, pattern: &Pattern) -> bool {
        let compares_literal = match &pattern.outputs {
            Some(Outputs::List(outs, _)) => outs
                .iter()
                .any(|a| matches!(&a.value, ArgValue::Expr(e) if const_value(e).is_some())),
            _ => false,
        };
        !compares_literal
            && self
                .fc
                .concepts
                .get(&pattern.concept.name)
                .and_then(|c| c.query(&pattern.action.name))
                .is_some_and(|q| q.exactly_one)
    }

    /// Whether a view has a step that can drop frames.
    fn view_drops(&self, view: &str, depth: usize) -> bool {
        fn drops(ck: &SyncChecker<'_, '_, '_>, steps: &[ast::Step], depth: usize) -> bool {
            steps.iter().any(|s| match s {
                ast::Step::Query {
                    mode: QueryMode::Join,
                    pattern,
                    ..
                } => !ck.exactly_one(pattern),
                ast::Step::Query {
                    mode: QueryMode::Not, ..
                }
                | ast::Step::Filter(_) => true,
                ast::Step::Use { name, .. } => ck.view_drops(&name.name, depth + 1),
                _ => false,
            })
        }
        depth < 16
            && self
                .fc
                .views
                .iter()
                .find(|v| v.name.name == view)
                .is_some_and(|v| drops(self, &v.steps, depth))
    }

    fn report_unused_if_clean(&mut self, errors_before: usize) {
        if self.sync.generated || self.fc.diags.iter().filter(|d| d.is_error()).count() != errors_before {
            return;
        }
        let used_by_else = concord_syntax::expand::else_variables(self.sync);
        for (slot, &(count, span, how)) in self.occurrences.iter().enumerate() {
            let name = &self.vars[slot];
            if count != 1 || name.starts_with('_') || used_by_else.contains(name) {
                continue;
            }
            let help = match how {
                "pattern" => format!(
                    "use it, or write `{name}: _` to only require the key (or drop the key if its presence does not matter)"
                ),
                _ => "use it or remove the step".to_string(),
            };
            self.fc.diags.push(
                Diagnostic::warning("W0301", format!("`{name}` is bound but never used"), self.fc.file, span)
                    .with_label("bound here only")
                    .with_help(help),
            );
        }
    }
}

/// Wraps the steps of each guarded range into a [`Step::Guarded`].
fn group_guarded(steps: Vec<Step>, guards: &[(std::ops::Range<usize>, usize)]) -> Vec<Step> {
    let mut out = Vec::new();
    let mut steps = steps.into_iter().enumerate().peekable();
    while let Some((i, step)) = steps.next() {
        match guards.iter().find(|(r, _)| r.start == i && !r.is_empty()) {
            Some((range, index)) => {
                let mut inner = vec![step];
                while steps.peek().is_some_and(|(j, _)| range.contains(j)) {
                    inner.extend(steps.next().map(|(_, s)| s));
                }
                out.push(Step::Guarded {
                    steps: inner,
                    otherwise: *index,
                });
            }
            None => out.push(step),
        }
    }
    out
}

/// Small helper so diagnostics can be built in place.
trait LabelMut {
    fn label(&mut self, message: impl Into<String>) -> &mut Self;
    fn also(&mut self, file: FileId, span: Span, message: impl Into<String>) -> &mut Self;
}

impl LabelMut for Diagnostic {
    fn label(&mut self, message: impl Into<String>) -> &mut Self {
        self.primary.message = message.into();
        self
    }
    fn also(&mut self, file: FileId, span: Span, message: impl Into<String>) -> &mut Self {
        self.secondary.push(concord_syntax::Label::new(file, span, message));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guards of the filters in `where`, in order.
    fn filters(text: &str) -> Vec<Guard> {
        let src = format!("sync S\nwhen\n    A.a (x, y) : ()\nwhere\n{text}\nthen\n    B.b (x)\n");
        let (file, _) = concord_syntax::parse(FileId(0), &src);
        file.syncs[0]
            .where_steps
            .iter()
            .filter_map(|s| match s {
                ast::Step::Filter(e) => Some(Guard::filter(e)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_comparison_and_its_complement_share_a_variable() {
        let g = filters("    x == y\n    x != y\n    !(x == y)\n    x + 1 >= y\n    !(x + 1 < y)\n    x + 1 < y\n");
        assert!(g[0].complements(&g[1]));
        assert!(g[0].complements(&g[2]));
        assert!(!g[1].complements(&g[2]), "`x != y` and `!(x == y)` say the same");
        assert!(!g[3].complements(&g[4]));
        assert!(g[3].complements(&g[5]), "operands of any shape");
        assert_eq!(g[0].atom(), ("x != y".to_string(), false));
    }

    #[test]
    fn other_filters_are_their_own_variable() {
        let g = filters("    contains(x, y)\n    !contains(x, y)\n    x && y\n");
        assert!(g[0].complements(&g[1]));
        assert!(!g[0].complements(&g[2]));
        assert!(matches!(&g[1], Guard::Filter { text, .. } if text == "!contains(x, y)"));
    }
}
