//! What a concept is, as the engine sees it.
//!
//! A concept is a Rust type whose actions and queries are ordinary methods.
//! The `#[concept]` attribute (crate `concord-macros`) implements [`Concept`]
//! for it: the engine learns the signature ([`ConceptSpec`]) at start-up and
//! calls actions and queries by their camelCase names with JSON records.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use serde_json::Value;

/// A flat record of named values: an action's input or output, a query row.
pub type Record = serde_json::Map<String, Value>;

/// A boxed, sendable future (what [`Concept`] methods return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

mod spec;
pub use spec::*;

mod ids;
pub use ids::*;

pub mod state;
pub mod time;
pub use state::{Collection, CollectionSpec, Cond, Query, StateError};

/// The result of an action: one success case or the error case.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A success case with its output record (`{}` for `()`).
    Success(Record),
    /// The error case, with a human-readable message.
    Error(String),
}

impl Outcome {
    /// True for the error case.
    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Error(_))
    }

    /// The output as a record: success fields, or `{"error": message}`.
    pub fn to_record(&self) -> Record {
        match self {
            Outcome::Success(r) => r.clone(),
            Outcome::Error(e) => {
                let mut r = Record::new();
                r.insert("error".into(), Value::String(e.clone()));
                r
            }
        }
    }
}

/// A concept the engine can drive. Implemented by `#[concept]`; implement it
/// by hand only for concepts whose signature is computed at run time.
pub trait Concept: Send + Sync + 'static {
    /// The concept's signature: name, actions, queries.
    fn spec(&self) -> ConceptSpec;

    /// Runs an action. Bad arguments (missing, mistyped, unknown) are error
    /// outcomes, never panics.
    fn perform<'a>(&'a self, ctx: &'a mut ActionContext, action: &'a str, input: &'a Record) -> BoxFuture<'a, Outcome>;

    /// Runs a query and returns its rows, or a message for a failure that is
    /// the concept's fault (bad arguments, unavailable storage).
    fn query<'a>(
        &'a self,
        ctx: &'a QueryContext,
        query: &'a str,
        input: &'a Record,
    ) -> BoxFuture<'a, Result<Vec<Record>, String>>;

    /// Runs a query for several inputs at once: one answer per input, in
    /// order, each what [`Concept::query`] would give for it. The engine
    /// calls this when a where step has several frames, so a concept that
    /// can answer them together (one statement instead of one each) should;
    /// `#[concept]` does so for a query marked `#[batch(method)]`. This
    /// default asks one input at a time.
    fn query_batch<'a>(
        &'a self,
        ctx: &'a QueryContext,
        query: &'a str,
        inputs: &'a [Record],
    ) -> BoxFuture<'a, Vec<Result<Vec<Record>, String>>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(inputs.len());
            for input in inputs {
                answers.push(self.query(ctx, query, input).await);
            }
            answers
        })
    }
}

/// What an action can see of the engine while it runs: its flow and record
/// ids, and its concept's state. Actions that need neither leave it out of
/// their parameter list.
///
/// The action's first state operation starts its transaction; every read and
/// write after that is in it. The engine commits it together with the
/// action's log record when the action succeeds, rolls it back when the
/// action returns its error case or panics, and runs the action again when
/// the database reports a conflict with a concurrent action.
pub struct ActionContext {
    flow: FlowId,
    record: RecordId,
    concept: std::sync::Arc<str>,
    state: Option<state::ActionState>,
    overloaded: Option<std::time::Duration>,
}

impl std::fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionContext")
            .field("flow", &self.flow)
            .field("record", &self.record)
            .field("concept", &self.concept)
            .field("has_store", &self.state.is_some())
            .finish()
    }
}

impl ActionContext {
    /// Context for an action without storage (state calls fail with
    /// [`StateError::NoStore`]).
    pub fn new(flow: FlowId, record: RecordId) -> Self {
        ActionContext {
            flow,
            record,
            concept: "".into(),
            state: None,
            overloaded: None,
        }
    }

    /// Context for an action of `concept` whose state lives in `backend`.
    pub fn with_state(
        flow: FlowId,
        record: RecordId,
        concept: std::sync::Arc<str>,
        backend: std::sync::Arc<dyn state::StateBackend>,
    ) -> Self {
        ActionContext {
            flow,
            record,
            concept,
            state: Some(state::ActionState {
                backend,
                tx: None,
                conflicted: false,
            }),
            overloaded: None,
        }
    }

    /// The flow this action belongs to.
    pub fn flow(&self) -> FlowId {
        self.flow
    }

    /// The id this action's record will have: the invocation's identity.
    /// It is derived from the flow, the sync and the records it matched, so
    /// an invocation a resumed flow makes again after a crash has the same
    /// id. An action whose effects reach outside its state (an email, a
    /// webhook) may run again after a crash before its commit: pass this as
    /// the idempotency key.
    pub fn record(&self) -> RecordId {
        self.record
    }

    /// A fresh, time-ordered identifier (UUID v7) for new entities. Not for
    /// secrets: it is partly predictable.
    pub fn fresh_id(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    /// The concept's collection `name` (stored as `Concept.name`).
    pub fn collection<T: serde::Serialize + serde::de::DeserializeOwned>(&mut self, name: &str) -> Collection<'_, T> {
        let full = format!("{}.{name}", self.concept);
        Collection::for_action(&mut self.state, full)
    }

    /// True if a state operation met a concurrent change: the engine discards
    /// this attempt and runs the action again.
    pub fn conflicted(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.conflicted)
    }

    /// Says the action could not run because a bounded resource (the
    /// password hashing pool) is full. Its outcome is then discarded: a flow
    /// that has written nothing yet stops (HTTP answers 503 with
    /// `Retry-After: retry_after`), one that has runs the action again
    /// after a pause, so no flow is left half done.
    pub fn overloaded(&mut self, retry_after: std::time::Duration) {
        self.overloaded = Some(retry_after);
    }

    /// Whether [`ActionContext::overloaded`] was called, with its pause.
    pub fn overloaded_for(&self) -> Option<std::time::Duration> {
        self.overloaded
    }

    /// Takes the action's open transaction, if it wrote anything (for the
    /// engine, which commits it with the log record).
    pub fn take_transaction(&mut self) -> Option<Box<dyn state::StateTx>> {
        self.state.as_mut().and_then(|s| s.tx.take())
    }
}

/// What a query can see of the engine while it runs: its flow, and its
/// concept's committed state, read-only.
pub struct QueryContext {
    flow: FlowId,
    concept: std::sync::Arc<str>,
    backend: Option<std::sync::Arc<dyn state::StateBackend>>,
}

impl std::fmt::Debug for QueryContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryContext")
            .field("flow", &self.flow)
            .field("concept", &self.concept)
            .finish()
    }
}

impl QueryContext {
    /// Context for a query without storage.
    pub fn new(flow: FlowId) -> Self {
        QueryContext {
            flow,
            concept: "".into(),
            backend: None,
        }
    }

    /// Context for a query of `concept` whose state lives in `backend`.
    pub fn with_state(
        flow: FlowId,
        concept: std::sync::Arc<str>,
        backend: Option<std::sync::Arc<dyn state::StateBackend>>,
    ) -> Self {
        QueryContext { flow, concept, backend }
    }

    /// The flow whose sync evaluates this query.
    pub fn flow(&self) -> FlowId {
        self.flow
    }

    /// The concept's collection `name`, read-only.
    pub fn collection<T: serde::Serialize + serde::de::DeserializeOwned>(&self, name: &str) -> Collection<'_, T> {
        let full = format!("{}.{name}", self.concept);
        Collection::for_query(self.backend.as_ref(), full)
    }
}

/// Turns an action method's return value into an [`Outcome`], and tells the
/// signature which outcome cases it has.
///
/// `T` where `T: Outputs` has only success cases; `Result<T, E>` adds the
/// error case, whose message is `E`'s `Display`.
pub trait IntoOutcome {
    /// The success cases' output keys.
    fn success_cases() -> Vec<Vec<String>>;
    /// Whether the error case exists.
    fn has_error() -> bool;
    /// The value as an outcome.
    fn into_outcome(self) -> Outcome;
}

impl<T: Outputs> IntoOutcome for T {
    fn success_cases() -> Vec<Vec<String>> {
        T::cases()
    }
    fn has_error() -> bool {
        false
    }
    fn into_outcome(self) -> Outcome {
        match self.into_record() {
            Ok(r) => Outcome::Success(r),
            Err(e) => Outcome::Error(e),
        }
    }
}

impl<T: Outputs, E: fmt::Display> IntoOutcome for Result<T, E> {
    fn success_cases() -> Vec<Vec<String>> {
        T::cases()
    }
    fn has_error() -> bool {
        true
    }
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(v) => v.into_outcome(),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }
}

/// Turns a query method's return value into rows.
pub trait IntoRows {
    /// The type of one row.
    type Row: Outputs;
    /// The keys every row has.
    fn row_keys() -> Vec<String>;
    /// The value as rows, or the failure message.
    fn into_rows(self) -> Result<Vec<Record>, String>;
    /// Yields exactly one row whatever the input (the query returns a row,
    /// not a list of them), so a where step with it never drops a frame.
    fn exactly_one() -> bool {
        false
    }
}

impl<T: Outputs> IntoRows for T {
    type Row = T;
    fn row_keys() -> Vec<String> {
        T::cases().into_iter().next().unwrap_or_default()
    }
    fn into_rows(self) -> Result<Vec<Record>, String> {
        Ok(vec![self.into_record()?])
    }
    fn exactly_one() -> bool {
        true
    }
}

impl<T: Outputs, E: fmt::Display> IntoRows for Result<T, E> {
    type Row = T;
    fn row_keys() -> Vec<String> {
        T::row_keys()
    }
    fn into_rows(self) -> Result<Vec<Record>, String> {
        self.map_err(|e| e.to_string())?.into_rows()
    }
    fn exactly_one() -> bool {
        true
    }
}

impl<T: Outputs> IntoRows for Vec<T> {
    type Row = T;
    fn row_keys() -> Vec<String> {
        T::cases().into_iter().next().unwrap_or_default()
    }
    fn into_rows(self) -> Result<Vec<Record>, String> {
        self.into_iter().map(Outputs::into_record).collect()
    }
}

impl<T: Outputs, E: fmt::Display> IntoRows for Result<Vec<T>, E> {
    type Row = T;
    fn row_keys() -> Vec<String> {
        <Vec<T>>::row_keys()
    }
    fn into_rows(self) -> Result<Vec<Record>, String> {
        self.map_err(|e| e.to_string())?.into_rows()
    }
}

/// A type that is an action's success output or a query's row: a record with
/// known keys. Derive it with `#[derive(Outputs)]` on a struct (one case) or an
/// enum of struct and unit variants (one case per variant).
pub trait Outputs {
    /// The keys of each case, camelCase.
    fn cases() -> Vec<Vec<String>>;
    /// The value as a record.
    fn into_record(self) -> Result<Record, String>;
}

impl Outputs for () {
    fn cases() -> Vec<Vec<String>> {
        vec![Vec::new()]
    }
    fn into_record(self) -> Result<Record, String> {
        Ok(Record::new())
    }
}

/// What the code `#[concept]` and `#[derive(Outputs)]` generate calls;
/// not for use by hand.
#[doc(hidden)]
pub mod __private {
    use crate::{IntoRows, Record, Value};

    /// What a query's batched form returns: one answer per input, or a
    /// failure of the whole batch.
    pub trait IntoAnswers {
        /// One input's answer, as the query would return it.
        type Item: IntoRows;
        /// The answers, or the failure message.
        fn into_answers(self) -> Result<Vec<Self::Item>, String>;
    }

    impl<T: IntoRows> IntoAnswers for Vec<T> {
        type Item = T;
        fn into_answers(self) -> Result<Vec<T>, String> {
            Ok(self)
        }
    }

    impl<T: IntoRows, E: std::fmt::Display> IntoAnswers for Result<Vec<T>, E> {
        type Item = T;
        fn into_answers(self) -> Result<Vec<T>, String> {
            self.map_err(|e| e.to_string())
        }
    }

    /// Passes a batched form's answers through, and fails to compile when
    /// their rows are not the query `Q`'s.
    pub fn same_rows<Q: IntoRows, I: IntoRows<Row = Q::Row>>(
        answers: Result<Vec<I>, String>,
    ) -> Result<Vec<I>, String> {
        answers
    }

    /// Decodes one argument of `action` from its input record.
    ///
    /// Absent (or `null`) arguments are allowed only when `optional` (the
    /// parameter's type is `Option<_>`).
    pub fn decode_arg<T: serde::de::DeserializeOwned>(
        input: &Record,
        key: &str,
        optional: bool,
        action: &str,
    ) -> Result<T, String> {
        match input.get(key) {
            None | Some(Value::Null) if !optional => Err(format!("{action}: missing argument `{key}`")),
            None => T::deserialize(&Value::Null).map_err(|e| format!("{action}: argument `{key}`: {e}")),
            Some(v) => T::deserialize(v).map_err(|e| format!("{action}: argument `{key}`: {e}")),
        }
    }

    /// Rejects input keys the action does not declare (called by generated code
    /// for actions without a `#[rest]` parameter).
    pub fn reject_unknown_args(input: &Record, known: &[&str], action: &str) -> Result<(), String> {
        match input.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => {
                let expected = if known.is_empty() {
                    "it takes no arguments".to_string()
                } else {
                    format!("its parameters are {}", known.join(", "))
                };
                Err(format!("{action}: unknown argument `{k}`; {expected}"))
            }
        }
    }

    /// Serialises one output field (called by `#[derive(Outputs)]`).
    pub fn encode_field<T: serde::Serialize>(value: T, key: &str) -> Result<Value, String> {
        serde_json::to_value(value).map_err(|e| format!("output `{key}` could not be encoded: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::__private::{decode_arg, reject_unknown_args};
    use super::*;

    #[test]
    fn decode_arg_explains_missing_and_mistyped() {
        let mut input = Record::new();
        input.insert("count".into(), Value::from("three"));
        let missing = decode_arg::<String>(&input, "name", false, "A.b").unwrap_err();
        assert_eq!(missing, "A.b: missing argument `name`");
        let mistyped = decode_arg::<i64>(&input, "count", false, "A.b").unwrap_err();
        assert!(
            mistyped.starts_with("A.b: argument `count`: invalid type: string \"three\""),
            "{mistyped}"
        );
        assert_eq!(decode_arg::<Option<String>>(&input, "name", true, "A.b"), Ok(None));
    }

    #[test]
    fn unknown_arguments_are_named() {
        let mut input = Record::new();
        input.insert("usr".into(), Value::from("x"));
        let e = reject_unknown_args(&input, &["user"], "S.create").unwrap_err();
        assert_eq!(e, "S.create: unknown argument `usr`; its parameters are user");
    }
}
