//! What a sync needs of the record of its entry action: the keys it
//! requires, the literals it matches, and the values it passes unconverted
//! into parameters of a known JSON type. The HTTP edge refuses, naming the
//! field, a request that no sync could start on or that would hand an
//! action a value of the wrong type; the API description lists the same
//! fields with their types.

use std::collections::HashMap;

use concord_concept::{ConceptSpec, ParamType};
use serde_json::Value;

use crate::routes::{EntryAction, entry_patterns};
use crate::{Builtin, CompiledSync, Expr, Matcher, Slot, Step};

/// One sync's needs of its entry record.
#[derive(Debug, Clone, Default)]
pub struct EntryNeeds {
    /// Its when clause is the entry pattern alone, so it can start on a
    /// request with nothing else in the flow.
    pub starts: bool,
    /// The method it requires, if any.
    pub method: Option<String>,
    /// Keys the pattern requires (besides the route and method keys).
    pub required: Vec<String>,
    /// Keys the pattern takes when present (`name?`).
    pub optional: Vec<String>,
    /// Keys that must have these values (besides route and method).
    pub literals: Vec<(String, Value)>,
    /// Values taken from the entry record that reach a typed parameter as
    /// they are.
    pub typed: Vec<TypedUse>,
    /// Fields inside keys that the sync reads (`["user", "email"]` for
    /// `form.email` where the pattern bound `user: form`).
    pub reads: Vec<Vec<String>>,
}

/// A value of the entry record (a key, or a field inside one) that a sync
/// passes as it is to a parameter of a known type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedUse {
    /// The key, then fields inside it: `["article", "tagList"]`.
    pub path: Vec<String>,
    /// The parameter's type.
    pub ty: ParamType,
    /// The parameter, as `Concept.action(param)`.
    pub into: String,
    /// Whether `null` may reach it: the parameter is optional, the value
    /// passes through `coalesce`, or it is a field inside a key (whose
    /// blankness the syncs check themselves).
    pub nullable: bool,
}

impl TypedUse {
    /// The path with dots: `article.tagList`.
    pub fn field(&self) -> String {
        self.path.join(".")
    }
}

/// Whether `v` is a value of type `ty` (`null` aside: absent and `null`
/// values are for the syncs to answer).
pub fn has_type(v: &Value, ty: ParamType) -> bool {
    match ty {
        ParamType::String => v.is_string(),
        ParamType::Integer => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        ParamType::Number => v.is_number(),
        ParamType::Bool => v.is_boolean(),
        ParamType::List => v.is_array(),
        ParamType::Object => v.is_object(),
        ParamType::Any => true,
    }
}

/// A parameter's name, type, and whether it is optional.
type ParamOf = (String, ParamType, bool);

/// Parameter types by concept, then action or query, then parameter.
#[derive(Debug, Clone, Default)]
pub struct ParamTypes {
    types: HashMap<(String, String), Vec<ParamOf>>,
}

impl ParamTypes {
    /// From the concepts' specs.
    pub fn of(specs: &[ConceptSpec]) -> Self {
        let mut types = HashMap::new();
        for spec in specs {
            let params =
                |ps: &[concord_concept::ParamSpec]| ps.iter().map(|p| (p.name.clone(), p.ty, p.optional)).collect();
            for a in &spec.actions {
                types.insert((spec.name.clone(), a.name.clone()), params(&a.params));
            }
            for q in &spec.queries {
                types.insert((spec.name.clone(), q.name.clone()), params(&q.params));
            }
        }
        ParamTypes { types }
    }

    fn get(&self, concept: &str, name: &str, param: &str) -> Option<(ParamType, bool)> {
        self.types
            .get(&(concept.to_string(), name.to_string()))?
            .iter()
            .find(|(p, ..)| p == param)
            .map(|&(_, ty, optional)| (ty, optional))
    }
}

impl EntryNeeds {
    /// What `sync` needs of `entry`'s record (`None` if it has no pattern on it).
    pub fn of(sync: &CompiledSync, entry: EntryAction<'_>, types: &ParamTypes) -> Option<Self> {
        let pattern = entry_patterns(sync, entry).next()?;
        let role = pattern.entry.as_ref()?;
        let mut needs = EntryNeeds {
            starts: sync.when.len() == 1,
            method: crate::routes::method_of(pattern).map(str::to_string),
            ..EntryNeeds::default()
        };
        let mut bound_from: HashMap<Slot, String> = HashMap::new();
        for m in &pattern.inputs {
            if m.key == role.route_key || Some(&m.key) == role.method_key.as_ref() {
                continue;
            }
            match (&m.matcher, m.optional) {
                (_, true) => needs.optional.push(m.key.clone()),
                (_, false) => needs.required.push(m.key.clone()),
            }
            match &m.matcher {
                Matcher::Literal(v) => needs.literals.push((m.key.clone(), v.clone())),
                Matcher::Bind(slot) => {
                    bound_from.entry(*slot).or_insert_with(|| m.key.clone());
                }
                Matcher::Present => {}
            }
        }
        let mut uses = Vec::new();
        let mut add = |concept: &str, name: &str, args: &[(String, Expr)]| {
            for (param, e) in args {
                let Some((ty, optional)) = types.get(concept, name, param).filter(|(t, _)| *t != ParamType::Any) else {
                    continue;
                };
                for (path, coalesced) in request_paths(e, &bound_from) {
                    uses.push(TypedUse {
                        nullable: optional || coalesced || path.len() > 1,
                        path,
                        ty,
                        into: format!("{concept}.{name}({param})"),
                    });
                }
            }
        };
        visit_queries(&sync.steps, &mut |concept, query, inputs| add(concept, query, inputs));
        for inv in sync.then.iter().chain(sync.otherwise.iter().map(|o| &o.invocation)) {
            add(&inv.concept, &inv.action, &inv.args);
        }
        uses.dedup();
        needs.typed = uses;
        let mut reads = Vec::new();
        let mut read = |e: &Expr| collect_reads(e, &bound_from, &mut reads);
        visit_exprs(&sync.steps, &mut read);
        for inv in sync.then.iter().chain(sync.otherwise.iter().map(|o| &o.invocation)) {
            inv.args.iter().for_each(|(_, e)| read(e));
        }
        reads.sort();
        reads.dedup();
        needs.reads = reads;
        Some(needs)
    }
}

fn visit_exprs(steps: &[Step], f: &mut impl FnMut(&Expr)) {
    for step in steps {
        match step {
            Step::Query { inputs, .. } => inputs.iter().for_each(|(_, e)| f(e)),
            Step::Filter(e) | Step::Let(_, e) => f(e),
            Step::Guarded { steps, .. } => visit_exprs(steps, f),
            Step::Collect { element, steps, .. } => {
                f(element);
                visit_exprs(steps, f);
            }
        }
    }
}

/// Every field chain of an entry-bound variable inside `e`.
fn collect_reads(e: &Expr, bound_from: &HashMap<Slot, String>, out: &mut Vec<Vec<String>>) {
    match e {
        Expr::Field(..) => match field_chain(e, bound_from) {
            Some(path) => out.push(path),
            None => {
                if let Expr::Field(base, _) = e {
                    collect_reads(base, bound_from, out);
                }
            }
        },
        Expr::Object(fields) => fields.iter().for_each(|(_, v)| collect_reads(v, bound_from, out)),
        Expr::List(items) | Expr::Call(_, items) => items.iter().for_each(|v| collect_reads(v, bound_from, out)),
        Expr::Not(b) | Expr::Neg(b) => collect_reads(b, bound_from, out),
        Expr::Binary(_, a, b) => {
            collect_reads(a, bound_from, out);
            collect_reads(b, bound_from, out);
        }
        Expr::Lit(_) | Expr::Var(_) => {}
    }
}

fn field_chain(e: &Expr, bound_from: &HashMap<Slot, String>) -> Option<Vec<String>> {
    match e {
        Expr::Var(slot) => bound_from.get(slot).map(|k| vec![k.clone()]),
        Expr::Field(base, field) => {
            let mut path = field_chain(base, bound_from)?;
            path.push(field.clone());
            Some(path)
        }
        _ => None,
    }
}

fn visit_queries(steps: &[Step], f: &mut impl FnMut(&str, &str, &[(String, Expr)])) {
    for step in steps {
        match step {
            Step::Query {
                concept, query, inputs, ..
            } => f(concept, query, inputs),
            Step::Guarded { steps, .. } | Step::Collect { steps, .. } => visit_queries(steps, f),
            Step::Filter(_) | Step::Let(..) => {}
        }
    }
}

/// The entry-record paths an argument may pass on as they are: a variable
/// the entry pattern bound, fields of it, the first choice of a `coalesce`
/// (then `true`: a `null` there is replaced), either branch of an `if`.
fn request_paths(e: &Expr, bound_from: &HashMap<Slot, String>) -> Vec<(Vec<String>, bool)> {
    match e {
        Expr::Var(slot) => bound_from
            .get(slot)
            .map(|k| vec![(vec![k.clone()], false)])
            .unwrap_or_default(),
        Expr::Field(base, field) => {
            let mut paths = request_paths(base, bound_from);
            for (p, _) in &mut paths {
                p.push(field.clone());
            }
            paths
        }
        Expr::Call(Builtin::Coalesce, args) if args.len() > 1 => args
            .first()
            .map(|a| {
                request_paths(a, bound_from)
                    .into_iter()
                    .map(|(p, _)| (p, true))
                    .collect()
            })
            .unwrap_or_default(),
        Expr::Call(Builtin::Coalesce, args) => args.first().map(|a| request_paths(a, bound_from)).unwrap_or_default(),
        Expr::Call(Builtin::If, args) => args.iter().skip(1).flat_map(|a| request_paths(a, bound_from)).collect(),
        _ => Vec::new(),
    }
}

/// The entry-record field a sync's expression as written (`form.count`, as
/// a refusal names it) reads: its variable replaced by the key the entry
/// pattern bound it from (`article.count`). Unchanged when the variable was
/// not bound there.
pub fn request_field(sync: &CompiledSync, written: &str) -> String {
    let (head, rest) = written.split_once('.').map_or((written, None), |(h, r)| (h, Some(r)));
    let key = sync.when.iter().filter(|p| p.entry.is_some()).find_map(|p| {
        p.inputs.iter().find_map(|m| match m.matcher {
            Matcher::Bind(slot) if sync.vars.get(slot).is_some_and(|v| v == head) => Some(m.key.as_str()),
            _ => None,
        })
    });
    match (key, rest) {
        (Some(k), Some(r)) => format!("{k}.{r}"),
        (Some(k), None) => k.to_string(),
        (None, _) => written.to_string(),
    }
}
