//! The checked, compiled form of syncs that the engine runs (the IR):
//! `concord-check` produces a [`Program`], `concord-engine` runs it, and the
//! HTTP edge and the tools read it. Variables are resolved to frame slots;
//! every name refers to an existing action or query.

pub mod contract;
pub mod graph;
pub mod routes;
pub mod secrets;

pub use concord_concept::EntryRole;
pub use contract::{EntryNeeds, ParamTypes, TypedUse};
pub use routes::{EntryAction, Route, RouteTable, RouteTemplate};
pub use secrets::{RecordSecrets, Secret, SecretMap};

use serde_json::Value;

pub use concord_syntax::ast::{BinOp, QueryMode};

/// Index of a variable in a sync's frame.
pub type Slot = usize;

/// All syncs of an app, checked.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// The syncs as written, in load order (files sorted by path, syncs in
    /// file order). The companions of `else` clauses are inside them.
    pub syncs: Vec<CompiledSync>,
}

impl Program {
    /// Every sync, each followed by the companions of its `else` clauses
    /// (what traces, explanations, listings and the graph name).
    pub fn all_syncs(&self) -> Vec<&CompiledSync> {
        self.syncs.iter().flat_map(CompiledSync::with_companions).collect()
    }
}

/// One checked sync.
#[derive(Debug, Clone, Default)]
pub struct CompiledSync {
    /// Full name: the file's module path with dots, then the sync's name.
    pub name: String,
    /// `file:line:column` of the `sync` keyword.
    pub location: String,
    /// Variable names by slot.
    pub vars: Vec<String>,
    /// When patterns.
    pub when: Vec<WhenPattern>,
    /// Where pipeline.
    pub steps: Vec<Step>,
    /// Then invocations.
    pub then: Vec<Invocation>,
    /// Its `else` clauses, in the order of their [`Step::Guarded`]
    /// indexes: each runs for the frames its guarded steps drop.
    pub otherwise: Vec<Otherwise>,
    /// For each step of `steps`, the where step it was written as (0-based):
    /// a view's use becomes several steps. Empty when they are the same.
    pub written_steps: Vec<usize>,
}

impl CompiledSync {
    /// The sync, then the companions of its `else` clauses.
    pub fn with_companions(&self) -> impl Iterator<Item = &CompiledSync> {
        std::iter::once(self).chain(self.otherwise.iter().map(|o| &o.companion))
    }
}

/// An `else` clause: a guarded step's other branch. The engine runs it
/// inside its sync, for the frames the guarded steps drop (one pass over
/// the shared steps); its records name the companion.
#[derive(Debug, Clone)]
pub struct Otherwise {
    /// The where step it is written under (0-based, as written).
    pub step: usize,
    /// What it invokes, compiled in its sync's scope (on the sync's frames).
    pub invocation: Invocation,
    /// The same clause as a sync of its own, `module.Sync.else2`: the
    /// sync's when clause, the steps before the guarded one, that step
    /// negated, then the invocation. Checked with the sync; never run on its
    /// own. Explanations, traces, listings and the graph name it.
    pub companion: CompiledSync,
}

impl Otherwise {
    /// The companion's full name (`module.Sync.else2`).
    pub fn name(&self) -> &str {
        &self.companion.name
    }
}

/// A when pattern.
#[derive(Debug, Clone)]
pub struct WhenPattern {
    /// Concept name.
    pub concept: String,
    /// Action name.
    pub action: String,
    /// The action's role when its concept's spec makes it an entry action:
    /// which input key names routes (read by the route table).
    pub entry: Option<EntryRole>,
    /// Matches on the input record.
    pub inputs: Vec<FieldMatch>,
    /// Which outcomes match, and matches on the output record.
    pub outcome: OutcomeMatch,
}

/// Which outcomes a when pattern accepts.
#[derive(Debug, Clone)]
pub enum OutcomeMatch {
    /// Success outcomes only; the output must have these keys.
    Success(Vec<FieldMatch>),
    /// The error outcome only; matches on `{"error": message}`.
    Error(Vec<FieldMatch>),
    /// Any outcome (`: *`).
    Any,
}

/// A condition on one key of a record.
#[derive(Debug, Clone)]
pub struct FieldMatch {
    /// The key.
    pub key: String,
    /// Absent key counts as `null` instead of failing.
    pub optional: bool,
    /// What the value must be.
    pub matcher: Matcher,
}

/// What a field's value must be.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Binds the slot, or must equal it if already bound.
    Bind(Slot),
    /// Must equal this value.
    Literal(Value),
    /// Must be present; value ignored.
    Present,
}

/// A where step.
#[derive(Debug, Clone)]
pub enum Step {
    /// A query call.
    Query {
        /// Join, optional or not.
        mode: QueryMode,
        /// Concept name.
        concept: String,
        /// Query name.
        query: String,
        /// Arguments.
        inputs: Vec<(String, Expr)>,
        /// Matches on each row.
        outputs: Vec<FieldMatch>,
    },
    /// Keeps frames where the expression is `true`.
    Filter(Expr),
    /// Binds a slot.
    Let(Slot, Expr),
    /// Steps with an `else`: frames for which they yield nothing (without an
    /// evaluation error) go to the sync's `otherwise[index]`.
    Guarded {
        /// The guarded steps (one step, or a view's inlined steps).
        steps: Vec<Step>,
        /// Index into [`CompiledSync::otherwise`].
        otherwise: usize,
    },
    /// Nested pipeline collected into a list.
    Collect {
        /// Evaluated on each inner frame.
        element: Expr,
        /// Slot of the list.
        slot: Slot,
        /// Nested steps.
        steps: Vec<Step>,
    },
}

/// A then invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Concept name.
    pub concept: String,
    /// Action name.
    pub action: String,
    /// Arguments.
    pub args: Vec<(String, Expr)>,
    /// Whether its concept's spec makes the action a responder (it answers
    /// the flow's entry).
    pub responds: bool,
}

/// A checked expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A constant.
    Lit(Value),
    /// A bound variable.
    Var(Slot),
    /// Field access (`null` when the field is absent).
    Field(Box<Expr>, String),
    /// Object construction.
    Object(Vec<(String, Expr)>),
    /// List construction.
    List(Vec<Expr>),
    /// `!e`
    Not(Box<Expr>),
    /// `-e`
    Neg(Box<Expr>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// A built-in function.
    Call(Builtin, Vec<Expr>),
}

/// The built-in functions. Deliberately few; each is documented in the
/// language reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `now()`: milliseconds since the Unix epoch.
    Now,
    /// `len(x)`: characters of a string, items of a list, keys of an object.
    Len,
    /// `lower(s)`
    Lower,
    /// `upper(s)`
    Upper,
    /// `trim(s)`
    Trim,
    /// `coalesce(a, b, ...)`: the first argument that is not `null`.
    Coalesce,
    /// `contains(list_or_string, x)`
    Contains,
    /// `string(x)`: a string as is, anything else as JSON text.
    ToString,
    /// `if(condition, a, b)`: `a` when the condition is `true`, else `b`.
    If,
    /// `number(x)`: a number as is, a numeric string parsed, `null` as
    /// `null`; anything else is refused (the step's `else` answers it).
    Number,
    /// `integer(x)`: like `number`, for integers only (`"20"`, not `"1.5"`).
    Integer,
    /// `boolean(x)`: `true`/`false`, or the text `"true"`/`"false"`.
    Boolean,
    /// `has(o, key)`: `o` is an object with the key, even if its value is `null`.
    Has,
    /// `blank(x)`: `x` is `null` or a string of only whitespace.
    Blank,
    /// `intersect(a, b)`: the items of list `a` that list `b` has, in `a`'s order.
    Intersect,
    /// `compact(o)`: object `o` without its `null` fields.
    Compact,
}

impl Builtin {
    /// Every built-in: name, minimum and maximum argument count.
    pub const ALL: [(&'static str, Builtin, usize, usize); 16] = [
        ("now", Builtin::Now, 0, 0),
        ("len", Builtin::Len, 1, 1),
        ("lower", Builtin::Lower, 1, 1),
        ("upper", Builtin::Upper, 1, 1),
        ("trim", Builtin::Trim, 1, 1),
        ("coalesce", Builtin::Coalesce, 1, usize::MAX),
        ("contains", Builtin::Contains, 2, 2),
        ("string", Builtin::ToString, 1, 1),
        ("if", Builtin::If, 3, 3),
        ("number", Builtin::Number, 1, 1),
        ("integer", Builtin::Integer, 1, 1),
        ("boolean", Builtin::Boolean, 1, 1),
        ("has", Builtin::Has, 2, 2),
        ("blank", Builtin::Blank, 1, 1),
        ("intersect", Builtin::Intersect, 2, 2),
        ("compact", Builtin::Compact, 1, 1),
    ];

    /// Looks a built-in up by name.
    pub fn lookup(name: &str) -> Option<(Builtin, usize, usize)> {
        Self::ALL
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|&(_, b, min, max)| (b, min, max))
    }

    /// Source name.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, b, ..)| *b == self).map_or("?", |(n, ..)| n)
    }
}
