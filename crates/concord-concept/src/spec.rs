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
    /// What the action is for in the app as a whole, declared by its
    /// concept (`#[concept(entry = "...", responds = "...")]`).
    pub role: ActionRole,
    /// Where its Rust method is, when the concept macro could tell.
    pub source: Option<SourceSpot>,
}

/// A place in a Rust source file (for an editor's "go to definition").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpot {
    /// The file, absolute when the compiler said where it was.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// The part an action plays beyond its signature. Only a concept's spec
/// says which actions start flows and which answer them: the checker's
/// coverage analysis, the route table, the route listing and the explorer
/// read it from here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ActionRole {
    /// An ordinary action.
    #[default]
    Plain,
    /// Starts flows from outside (an HTTP request, a command, a message).
    Entry(EntryRole),
    /// Answers a flow its concept's entry action started.
    Responder,
}

/// How the flows an entry action starts are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRole {
    /// The input key whose literal in a when pattern names a route
    /// (`path` for `Requesting.request`): coverage is analysed per route.
    pub route_key: String,
    /// The input key that tells flows on one route apart (`method`), if any.
    pub method_key: Option<String>,
    /// Routes are URL paths and templates (`/profiles/:username`), checked
    /// as such; otherwise any string names a route.
    pub templates: bool,
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
    /// Where its Rust method is, when the concept macro could tell.
    pub source: Option<SourceSpot>,
    /// Queries of the same concept that each of this query's rows also
    /// answers: a row is what such a query returns (its output keys, as one
    /// row) for the input the row's own fields give its parameters. A flow
    /// that lists articles then asks `_get` of each is answered from the
    /// list, not by reading every article again.
    pub also_answers: Vec<String>,
}

/// `(a: string, b?: integer, ...)`: parameters as a sync writes them, with
/// types, `?` for optional ones and `secret` for sensitive ones.
fn params_text(params: &[ParamSpec], open: bool) -> String {
    let mut parts: Vec<String> = params
        .iter()
        .map(|p| {
            let optional = if p.optional { "?" } else { "" };
            let secret = if p.sensitive { " (secret)" } else { "" };
            format!("{}{optional}: {}{secret}", p.name, p.ty.name())
        })
        .collect();
    if open {
        parts.push("...".into());
    }
    format!("({})", parts.join(", "))
}

impl ActionSpec {
    /// The action as a sync sees it: `create (user: string) : (session) | (error)`.
    pub fn signature(&self) -> String {
        let mut cases: Vec<String> = self
            .success
            .iter()
            .map(|keys| format!("({})", keys.join(", ")))
            .collect();
        if self.error {
            cases.push("(error)".into());
        }
        format!(
            "{} {} : {}",
            self.name,
            params_text(&self.params, self.open_params),
            cases.join(" | ")
        )
    }
}

impl QuerySpec {
    /// The query as a sync sees it: `_getUser (session: string) : (user)`,
    /// with `-> one row` when it always returns exactly one.
    pub fn signature(&self) -> String {
        let one = if self.exactly_one { " -> one row" } else { "" };
        format!(
            "{} {} : ({}){one}",
            self.name,
            params_text(&self.params, self.open_params),
            self.outputs.join(", ")
        )
    }
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
    /// Its entry actions with their roles.
    pub fn entries(&self) -> impl Iterator<Item = (&ActionSpec, &EntryRole)> {
        self.actions.iter().filter_map(|a| match &a.role {
            ActionRole::Entry(e) => Some((a, e)),
            _ => None,
        })
    }

    /// Its responders, in declaration order.
    pub fn responders(&self) -> impl Iterator<Item = &ActionSpec> {
        self.actions.iter().filter(|a| a.role == ActionRole::Responder)
    }

    /// Whether `action` is one of its responders.
    pub fn is_responder(&self, action: &str) -> bool {
        self.action(action).is_some_and(|a| a.role == ActionRole::Responder)
    }

    /// The entry role of `action`, if it is an entry action.
    pub fn entry_role(&self, action: &str) -> Option<&EntryRole> {
        self.action(action)?.entry_role()
    }

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
    /// Its entry role, if it is an entry action.
    pub fn entry_role(&self) -> Option<&EntryRole> {
        match &self.role {
            ActionRole::Entry(e) => Some(e),
            _ => None,
        }
    }

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
