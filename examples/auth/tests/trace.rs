//! `trace FLOW` shows a persisted flow as a tree, and nothing secret is in
//! the log: no passwords, hashes or session tokens.

use std::process::Command;

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flow_as_a_tree_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let app = auth::app().database(&url);
    let requesting = app.requesting();
    let engine = app.load().await.unwrap();
    let creds = json!({"username": "ada", "password": "correct horse"});
    auth::request(&engine, &requesting, "/auth/register", creds.clone())
        .await
        .unwrap();
    let mut input = creds.as_object().unwrap().clone();
    input.insert("path".into(), "/auth/login".into());
    let report = engine.run("Requesting", "request", input).await.unwrap();
    let session = requesting
        .take_response(report.records[0].output()["request"].as_str().unwrap())
        .unwrap()["session"]
        .as_str()
        .unwrap()
        .to_string();

    engine.flush_log().await;
    let store = concord::store::open(&url).await.unwrap();
    let entries = store.flow_log(report.flow.to_string()).await.unwrap();
    let tree = concord::render_trace(&entries, &[]);
    let lines: Vec<&str> = tree.lines().collect();
    assert!(
        lines[0].starts_with(&format!("flow {}: 4 action(s)", report.flow)),
        "{tree}"
    );
    assert!(lines[1].starts_with("Requesting.request {"), "{tree}");
    assert!(
        lines[2].starts_with(
            r#"  [auth.LoginRequest] Profile.authenticate {"username":"ada","password":"<redacted>"} => {"user":"#
        ),
        "{tree}"
    );
    assert!(
        lines[3].starts_with("    [auth.CreateSessionOnAuthentication] Sessioning.create {"),
        "{tree}"
    );
    assert!(lines[3].ends_with(r#"=> {"session":"<redacted>"}"#), "{tree}");
    assert!(
        lines[4].starts_with("      [auth.RespondWithSession] Requesting.respond {"),
        "{tree}"
    );

    // Nothing secret anywhere in the log.
    let mut all = String::new();
    for f in store.flows(0, concord::store::now_micros() + 1, 100).await.unwrap() {
        all.push_str(&concord::render_trace(&store.flow_log(f.flow).await.unwrap(), &[]));
    }
    assert!(!all.contains("correct horse"), "passwords are redacted");
    assert!(!all.contains(&session), "session tokens are redacted");
    assert!(!all.contains("$argon2"), "hashes never leave their concept");

    // The same through the command line.
    let out = Command::new(env!("CARGO_BIN_EXE_auth"))
        .args(["trace", &report.flow.to_string()])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), tree);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn why_explains_a_logged_flow_that_got_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("why.db").display());
    let app = auth::app().database(&url);
    let engine = app.load().await.unwrap();
    let input = json!({"path": "/auth/login", "username": "ada"})
        .as_object()
        .unwrap()
        .clone();
    let report = engine.run("Requesting", "request", input).await.unwrap();
    assert_eq!(report.records.len(), 1, "nothing answered");
    engine.flush_log().await;
    let why = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_auth"))
            .arg("why")
            .args(args)
            .env("DATABASE_URL", &url)
            .env("CONCORD_LOG", "error")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let flow = report.flow.to_string();
    let all = why(&[&flow]);
    assert!(
        all.contains("auth.LoginRequest: Requesting.request has no `password`"),
        "{all}"
    );
    let one = why(&[&flow, "auth.LoginRequest"]);
    assert_eq!(one.trim(), "auth.LoginRequest: Requesting.request has no `password`");
}
