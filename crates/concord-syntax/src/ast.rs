//! The syntax tree of `.sync` files. Every node keeps its span so later
//! stages can point at the exact source.

use crate::source::Span;

/// A parsed `.sync` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct File {
    /// Syncs in source order.
    pub syncs: Vec<Sync>,
    /// Views (named where pipelines) in source order.
    pub views: Vec<View>,
}

/// `view Name (param, ...) : (output, ...)` followed by where steps: a
/// pipeline that where clauses of the same file use by name, like a query.
/// Each use is replaced by the view's steps ([`crate::expand::inline_views`]).
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The view's name (capitalised, like a sync's).
    pub name: Ident,
    /// Its parameters: variables bound by the caller's arguments.
    pub params: Vec<Ident>,
    /// Its outputs: variables of its steps the caller may bind.
    pub outputs: Vec<Ident>,
    /// The steps.
    pub steps: Vec<Step>,
    /// From `view` to the end of the last step.
    pub span: Span,
    /// The parser reported errors inside it.
    pub recovered: bool,
}

/// A name with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// `sync Name when ... where ... then ...`
#[derive(Debug, Clone, PartialEq)]
pub struct Sync {
    /// The name after `sync`.
    pub name: Ident,
    /// From `sync` to the end of the last invocation.
    pub span: Span,
    /// The `when` keyword.
    pub when_span: Span,
    /// Patterns of the when clause.
    pub when: Vec<Pattern>,
    /// Steps of the where clause (empty if absent).
    pub where_steps: Vec<Step>,
    /// The `then` keyword, if present.
    pub then_span: Option<Span>,
    /// Invocations of the then clause.
    pub then: Vec<Pattern>,
    /// `else` invocations under where steps: what to do with the frames a
    /// step drops. Each becomes a companion sync ([`crate::expand`]).
    pub otherwise: Vec<Otherwise>,
    /// This sync was written as an `else` of another one (its name says
    /// which); its parts keep the spans of the source they came from.
    pub generated: bool,
    /// The parser reported errors inside this sync and skipped parts of it;
    /// later stages should not check it (their findings would be noise).
    pub recovered: bool,
}

/// `else Concept.action (...)` under a where step.
#[derive(Debug, Clone, PartialEq)]
pub struct Otherwise {
    /// Index of the where step it follows.
    pub step: usize,
    /// The `else` keyword.
    pub keyword: Span,
    /// What to invoke for each frame the step drops.
    pub invocation: Pattern,
}

/// `Concept.action (args) : (outputs)`: a when pattern, a where query or a
/// then invocation (which must have no outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The concept name.
    pub concept: Ident,
    /// The action or query name.
    pub action: Ident,
    /// Input arguments.
    pub args: Vec<Arg>,
    /// The parenthesised argument list.
    pub args_span: Span,
    /// The output part after `:`, if written.
    pub outputs: Option<Outputs>,
    /// Whole pattern.
    pub span: Span,
}

/// The part after `:`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outputs {
    /// `(a, b: v)`, `()` or `(error: e)`: classified by the checker.
    List(Vec<Arg>, Span),
    /// `*`: any outcome, success or error.
    Any(Span),
}

impl Outputs {
    /// Span including the `(`…`)` or `*`.
    pub fn span(&self) -> Span {
        match self {
            Outputs::List(_, s) | Outputs::Any(s) => *s,
        }
    }
}

/// `key`, `key: value`, `key?`, `key?: var`, `key: _`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// Parameter or output name.
    pub key: Ident,
    /// Written with `?`: absent binds `null`.
    pub optional: bool,
    /// What the key is matched against or given.
    pub value: ArgValue,
    /// The whole argument.
    pub span: Span,
}

/// Right side of an argument.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    /// `key` alone: the variable of the same name.
    Shorthand,
    /// `key: _`: present, value ignored.
    Wildcard(Span),
    /// `key: expr` (only variables and literals are valid in patterns).
    Expr(Expr),
}

/// One step of a where clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `Concept._query (...) : (...)`, optionally prefixed.
    Query {
        /// Plain, `optional` or `not`.
        mode: QueryMode,
        /// The query call.
        pattern: Pattern,
        /// Whole step including the keyword.
        span: Span,
    },
    /// A boolean expression.
    Filter(Expr),
    /// `let name = expr`
    Let {
        /// Bound name.
        name: Ident,
        /// Its value.
        value: Expr,
        /// Whole step.
        span: Span,
    },
    /// `View (param: expr, ...) : (output: var, ...)`: a use of a view.
    Use {
        /// The view's name.
        name: Ident,
        /// Arguments for its parameters.
        args: Vec<Arg>,
        /// Which of its outputs to bind, and to what.
        outputs: Vec<Arg>,
        /// Keeps the frame only if the view yields nothing (written only by
        /// `else` expansion: the companion of an `else` under a view).
        negated: bool,
        /// Whole step.
        span: Span,
    },
    /// `collect element as name { steps }`
    Collect {
        /// Built once per inner frame.
        element: Expr,
        /// Variable bound to the list.
        name: Ident,
        /// The nested pipeline.
        steps: Vec<Step>,
        /// Whole step.
        span: Span,
    },
}

impl Step {
    /// Whole step.
    pub fn span(&self) -> Span {
        match self {
            Step::Query { span, .. } | Step::Let { span, .. } | Step::Collect { span, .. } | Step::Use { span, .. } => {
                *span
            }
            Step::Filter(e) => e.span,
        }
    }
}

/// How a where query treats its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryMode {
    /// One frame per row; no rows drops the frame.
    Join,
    /// No rows keeps the frame with outputs bound to `null`.
    Optional,
    /// Keeps the frame only when there are no rows.
    Not,
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// Expression forms.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal value.
    Lit(Lit),
    /// A variable.
    Var(String),
    /// `e.field`
    Field(Box<Expr>, Ident),
    /// `{ k: e, k2 }`
    Object(Vec<(Ident, Expr)>),
    /// `[e, e]`
    List(Vec<Expr>),
    /// `!e`, `-e`
    Unary(UnOp, Box<Expr>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(args)`: a built-in function.
    Call(Ident, Vec<Expr>),
}

/// Literal values.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal.
    Float(f64),
    /// A string.
    Str(String),
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `!`
    Not,
    /// `-`
    Neg,
}

/// Infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+` (numbers add, strings concatenate)
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinOp {
    /// The comparison that holds exactly when this one does not (`==` and
    /// `!=`, `<` and `>=`, `>` and `<=`); `None` for the others.
    pub fn complement(self) -> Option<BinOp> {
        Some(match self {
            BinOp::Eq => BinOp::Ne,
            BinOp::Ne => BinOp::Eq,
            BinOp::Lt => BinOp::Ge,
            BinOp::Ge => BinOp::Lt,
            BinOp::Gt => BinOp::Le,
            BinOp::Le => BinOp::Gt,
            _ => return None,
        })
    }

    /// Source spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

impl Expr {
    /// Calls `f` on every variable use with its span, in source order.
    pub fn for_each_var<'a>(&'a self, f: &mut impl FnMut(&'a str, Span)) {
        match &self.kind {
            ExprKind::Lit(_) => {}
            ExprKind::Var(v) => f(v, self.span),
            ExprKind::Field(e, _) | ExprKind::Unary(_, e) => e.for_each_var(f),
            ExprKind::Object(fields) => fields.iter().for_each(|(_, e)| e.for_each_var(f)),
            ExprKind::List(items) | ExprKind::Call(_, items) => items.iter().for_each(|e| e.for_each_var(f)),
            ExprKind::Binary(_, a, b) => {
                a.for_each_var(f);
                b.for_each_var(f);
            }
        }
    }
}
