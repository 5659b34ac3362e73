//! `cargo run -p auth`: runs a scripted session against the auth app and
//! prints each action as the engine completes it.
//! `cargo run -p auth -- check [DIR]`: checks syncs (e.g. `examples/auth/broken`).

use std::process::ExitCode;
use std::sync::Arc;

use concord::Engine;
use concord_std::Requesting;
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    concord::init_tracing();
    let requesting = Arc::new(Requesting::new());
    let app = auth::app(requesting.clone());
    app.main(|engine| demo(engine, requesting)).await
}

async fn demo(engine: Engine, requesting: Arc<Requesting>) -> ExitCode {
    let steps = [
        (
            "/auth/register",
            json!({"username": "ada", "password": "correct horse"}),
        ),
        ("/auth/register", json!({"username": "ada", "password": "another one"})),
        ("/auth/login", json!({"username": "ada", "password": "wrong password"})),
        ("/auth/login", json!({"username": "ada", "password": "correct horse"})),
    ];
    let mut session = None;
    for (path, fields) in steps {
        let answer = auth::request(&engine, &requesting, path, fields.clone()).await;
        println!(
            "{path} {{username: {}, password: ...}} -> {}",
            fields["username"],
            show(&answer)
        );
        if let Some(s) = answer.as_ref().and_then(|a| a.get("session")) {
            session = Some(s.clone());
        }
    }
    let Some(session) = session else {
        eprintln!("login did not return a session");
        return ExitCode::FAILURE;
    };
    for path in ["/auth/me", "/auth/logout", "/auth/logout", "/auth/me"] {
        let fields = json!({ "session": session });
        let answer = auth::request(&engine, &requesting, path, fields).await;
        println!("{path} {{session}} -> {}", show(&answer));
    }
    ExitCode::SUCCESS
}

fn show(answer: &Option<concord::Record>) -> String {
    match answer {
        Some(a) => serde_json::Value::Object(a.clone()).to_string(),
        None => "(no answer)".into(),
    }
}
