//! Sync behaviour as given/when/then: the whole trace of a flow, compared
//! with the expected text (ids numbered, secrets redacted).

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_user_when_they_log_in_then_a_session_is_created_and_returned() {
    // Given
    let app = auth::app().database("sqlite::memory:");
    let requesting = app.requesting();
    let engine = app.load().await.unwrap();
    let creds = json!({"username": "ada", "password": "correct horse"});
    auth::request(&engine, &requesting, "/auth/register", creds.clone())
        .await
        .unwrap();

    // When
    let mut input = creds.as_object().unwrap().clone();
    input.insert("path".into(), "/auth/login".into());
    let report = engine.run("Requesting", "request", input).await.unwrap();

    // Then
    assert_eq!(
        concord::testing::snapshot(&engine, &report),
        r#"Requesting.request {"username":"ada","password":"<redacted>","path":"/auth/login"} => {"request":"<id1>"}
  [auth.LoginRequest] Profile.authenticate {"username":"ada","password":"<redacted>"} => {"user":"<id2>"}
    [auth.CreateSessionOnAuthentication] Sessioning.create {"user":"<id2>"} => {"session":"<redacted>"}
      [auth.RespondWithSession] Requesting.respond {"request":"<id1>","user":"<id2>","session":"<redacted>","message":"Login successful"} => {}
"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_no_such_user_when_logging_in_then_one_error_answer() {
    let app = auth::app().database("sqlite::memory:");
    let engine = app.load().await.unwrap();
    let input = json!({"path": "/auth/login", "username": "bob", "password": "whatever1"})
        .as_object()
        .unwrap()
        .clone();
    let report = engine.run("Requesting", "request", input).await.unwrap();
    assert_eq!(
        concord::testing::snapshot(&engine, &report),
        r#"Requesting.request {"path":"/auth/login","username":"bob","password":"<redacted>"} => {"request":"<id1>"}
  [auth.LoginRequest] Profile.authenticate {"username":"bob","password":"<redacted>"} => {"error":"invalid username or password"}
    [auth.RespondToFailedAuthentication] Requesting.respondWith {"request":"<id1>","code":401,"body":{"error":"invalid username or password"}} => {}
"#
    );
}
