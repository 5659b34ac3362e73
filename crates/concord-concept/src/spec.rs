//! Concept signatures: what the checker checks syncs against.

/// The JSON type a parameter expects (from its Rust type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// `true` / `false`.
    Bool,
    /// A JSON array.
    List,
    /// A JSON object.
    Object,
    /// Anything (a type the engine cannot describe).
    Any,
}

impl ParamType {
    /// Name used in diagnostics.
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Bool => "boolean",
            ParamType::List => "list",
            ParamType::Object => "object",
            ParamType::Any => "any value",
        }
    }
}

/// One named parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// camelCase name.
    pub name: String,
    /// Expected JSON type.
    pub ty: ParamType,
    /// May be absent (`Option<_>` in Rust).
    pub optional: bool,
    /// A secret (password, token): never written to traces or logs in clear.
    /// Marked with `#[sensitive]` on the parameter.
    pub sensitive: bool,
}

/// An action's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSpec {
    /// camelCase name.
    pub name: String,
    /// Doc comment.
    pub doc: String,
    /// Declared parameters.
    pub params: Vec<ParamSpec>,
    /// Accepts any further keys (a `#[rest]` parameter).
    pub open_params: bool,
    /// Keys of each success case (`[]` is the `()` case).
    pub success: Vec<Vec<String>>,
    /// Whether the `(error)` case exists.
    pub error: bool,
}

/// A query's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    /// camelCase name, starting with `_`.
    pub name: String,
    /// Doc comment.
    pub doc: String,
    /// Declared parameters.
    pub params: Vec<ParamSpec>,
    /// Accepts any further keys.
    pub open_params: bool,
    /// Keys every row has.
    pub outputs: Vec<String>,
    /// Exactly one row for any input (the query returns a row, not a list):
    /// a where step with it never drops a frame.
    pub exactly_one: bool,
}

/// A concept's whole signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConceptSpec {
    /// Name used in syncs, e.g. `Sessioning`.
    pub name: String,
    /// Doc comment (purpose, principle, state).
    pub doc: String,
    /// Actions in declaration order.
    pub actions: Vec<ActionSpec>,
    /// Queries in declaration order.
    pub queries: Vec<QuerySpec>,
    /// Collections the concept stores its state in.
    pub collections: Vec<crate::state::CollectionSpec>,
    /// Input or output keys whose values are secrets (besides `#[sensitive]`
    /// parameters): written as `<redacted>` in traces and the log.
    pub sensitive: Vec<String>,
}

impl ConceptSpec {
    /// The action with this name.
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The query with this name.
    pub fn query(&self, name: &str) -> Option<&QuerySpec> {
        self.queries.iter().find(|q| q.name == name)
    }
}

impl ActionSpec {
    /// The parameter with this name.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Every key some success case has.
    pub fn success_keys(&self) -> impl Iterator<Item = &str> {
        let mut seen: Vec<&str> = Vec::new();
        for case in &self.success {
            for k in case {
                if !seen.contains(&k.as_str()) {
                    seen.push(k);
                }
            }
        }
        seen.into_iter()
    }

    /// `(a, b) | () | (error)`-style description of the outcomes.
    pub fn describe_outcomes(&self) -> String {
        let mut cases: Vec<String> = self.success.iter().map(|c| format!("({})", c.join(", "))).collect();
        if self.error {
            cases.push("(error)".into());
        }
        cases.join(" | ")
    }
}
