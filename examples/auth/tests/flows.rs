//! The auth app's flows, driven in-process through Requesting.

use std::sync::Arc;

use concord::{Engine, Record};
use concord_std::Requesting;
use serde_json::{Value, json};

async fn setup() -> (Engine, Arc<Requesting>) {
    let app = auth::app();
    let requesting = app.requesting();
    let engine = app
        .database("sqlite::memory:")
        .load()
        .await
        .expect("the auth app loads");
    (engine, requesting)
}

async fn call(e: &(Engine, Arc<Requesting>), path: &str, fields: Value) -> Record {
    auth::request(&e.0, &e.1, path, fields)
        .await
        .expect("every request is answered")
}

#[tokio::test]
async fn register_login_me_logout() {
    let e = setup().await;
    let reg = call(
        &e,
        "/auth/register",
        json!({"username": "ada", "password": "correct horse"}),
    )
    .await;
    let user = reg["user"].as_str().unwrap().to_string();
    let dup = call(
        &e,
        "/auth/register",
        json!({"username": "ada", "password": "whatever else"}),
    )
    .await;
    assert_eq!(dup["error"], "username `ada` is taken");
    let short = call(&e, "/auth/register", json!({"username": "bob", "password": "short"})).await;
    assert_eq!(short["error"], "password must have at least 8 characters");

    let wrong = call(&e, "/auth/login", json!({"username": "ada", "password": "wrong horse"})).await;
    assert_eq!(
        wrong,
        json!({"error": "invalid username or password"})
            .as_object()
            .unwrap()
            .clone()
    );
    let login = call(
        &e,
        "/auth/login",
        json!({"username": "ada", "password": "correct horse"}),
    )
    .await;
    assert_eq!(login["user"], user.as_str());
    assert_eq!(login["message"], "Login successful");
    let session = login["session"].as_str().unwrap().to_string();
    assert_eq!(session.len(), 64, "256-bit token, hex");

    let me = call(&e, "/auth/me", json!({ "session": session })).await;
    assert_eq!(me["username"], "ada");
    let out = call(&e, "/auth/logout", json!({ "session": session })).await;
    assert_eq!(out, json!({"status": "logged_out"}).as_object().unwrap().clone());
    let again = call(&e, "/auth/logout", json!({ "session": session })).await;
    assert_eq!(again["error"], "no such session");
    let me = call(&e, "/auth/me", json!({ "session": session })).await;
    assert_eq!(me["error"], "not logged in");
}

#[tokio::test]
async fn each_failed_login_is_answered_exactly_once() {
    let e = setup().await;
    let mut input = json!({"path": "/auth/login", "username": "nobody", "password": "irrelevant"})
        .as_object()
        .unwrap()
        .clone();
    input.insert("path".into(), "/auth/login".into());
    let report = e.0.run("Requesting", "request", input).await.unwrap();
    let mut responds = report.records_of("Requesting", "respond");
    responds.extend(report.records_of("Requesting", "respondWith"));
    assert_eq!(responds.len(), 1, "{:?}", report.action_names());
    assert!(!responds[0].outcome.is_error());
    assert!(report.records_of("Sessioning", "create").is_empty());
}

#[tokio::test]
async fn a_request_no_sync_handles_gets_no_answer_and_is_forgotten() {
    let e = setup().await;
    let answer = auth::request(&e.0, &e.1, "/nowhere", json!({})).await;
    assert!(answer.is_none());
    assert_eq!(e.1.pending_count(), 0);
}
