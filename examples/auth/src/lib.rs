//! The seeds' auth app on concord: register, log in and log out, with the
//! login/logout flows of seeds 001–003 written as checked syncs.
//!
//! Concepts: `Requesting` (every app has it), `UserAuthentication` and
//! `Sessioning` from `concord-std`, and this example's `Profile` (the seeds'
//! `authenticate (username, password) : (user)` shape). State lives in the app's
//! database (`DATABASE_URL`, embedded SQLite by default).

mod profile;

use std::path::PathBuf;

use concord::{App, Engine, Record, Value};
use concord_std::{Requesting, Sessioning, UserAuthentication};

pub use profile::Profile;

/// Where this example's syncs are.
pub fn syncs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("syncs")
}

/// The app, with its concepts registered.
pub fn app() -> App {
    App::new()
        .concept(UserAuthentication)
        .concept(Profile)
        .concept(Sessioning::new())
        .syncs(syncs_dir())
}

/// Sends a request through the engine in-process, as the HTTP layer does:
/// runs the flow to quiescence and returns the answer's body, or `None` if
/// no sync responded.
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
