//! Tried as an attacker who reads the operator's files would: register, a
//! wrong guess, log in, ask who is logged in, log out, on the real binary;
//! then its output and the SQLite database file are searched for the
//! passwords and the session token. None may appear: passwords are stored as
//! Argon2id hashes, sessions by the digest of their token, and the log
//! redacts both.

use concord::testing::http::send;
use concord::testing::process::{Server, found, sqlite_files};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_session_token_on_disk_or_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    let url = format!("sqlite://{}", path.display());
    let server = Server::start(
        env!("CARGO_BIN_EXE_auth"),
        &[("DATABASE_URL", &url), ("CONCORD_LOG", "debug")],
    );
    let addr = server.addr;
    let (password, guess) = ("correct-Horse-battery-7", "wrong-Horse-battery-8");
    let post = |path: &'static str, body: serde_json::Value| async move {
        send(addr, "POST", path, &body.to_string(), &[]).await
    };
    let r = post("/api/auth/register", json!({"username": "ada", "password": password})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = post("/api/auth/login", json!({"username": "ada", "password": guess})).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = post("/api/auth/login", json!({"username": "ada", "password": password})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let session = r.body["session"].as_str().unwrap().to_string();
    let r = post("/api/auth/me", json!({"session": session})).await;
    assert_eq!(r.body["username"], "ada");
    // A second login whose session stays live on disk.
    let r = post("/api/auth/login", json!({"username": "ada", "password": password})).await;
    let live = r.body["session"].as_str().unwrap().to_string();
    let r = post("/api/auth/logout", json!({"session": session})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let output = server.stop();
    assert!(
        output.contains("Sessioning.create"),
        "the log lines are there to search:\n{output}"
    );
    let secrets = [
        ("password", password.to_string()),
        ("wrong guess", guess.to_string()),
        ("session token", session),
        ("live session token", live),
    ];
    let leaked = found(&output, &secrets);
    assert!(leaked.is_empty(), "stdout/stderr holds the {leaked:?}");
    let files = sqlite_files(&path);
    assert!(files.contains("ada"), "the journey's rows are there to search");
    let leaked = found(&files, &secrets);
    assert!(leaked.is_empty(), "the database file holds the {leaked:?}");
}
