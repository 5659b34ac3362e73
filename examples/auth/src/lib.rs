//! The seeds' auth app on concord: register, log in and log out, with the
//! login/logout flows of seeds 001–003 written as checked syncs.
//!
//! Concepts: `Requesting` and `Sessioning` from `concord-std`, and this
//! example's `Profile`. State is in memory for now.

mod profile;

use std::path::PathBuf;
use std::sync::Arc;

use concord::{App, Engine, Record, Value};
use concord_std::{Requesting, Sessioning};

pub use profile::Profile;

/// Where this example's syncs are.
pub fn syncs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("syncs")
}

/// The app, with its concepts registered. Keep `requesting` to read answers.
pub fn app(requesting: Arc<Requesting>) -> App {
    App::new()
        .concept_shared(requesting)
        .concept(Profile)
        .concept(Sessioning::new())
        .syncs(syncs_dir())
}

/// Sends a request through the engine, as the HTTP layer will: runs the flow
/// to quiescence and returns the answer, or `None` if no sync responded.
pub async fn request(engine: &Engine, requesting: &Requesting, path: &str, fields: Value) -> Option<Record> {
    let mut input = fields.as_object().cloned().unwrap_or_default();
    input.insert("path".into(), Value::from(path));
    let report = engine.run("Requesting", "request", input).await.ok()?;
    let id = report.records.first()?.output().get("request")?.as_str()?.to_string();
    let answer = requesting.take_response(&id);
    if answer.is_none() {
        requesting.forget(&id);
    }
    answer
}
