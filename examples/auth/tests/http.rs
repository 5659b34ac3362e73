//! The auth app over real HTTP on a loopback port (embedded SQLite in memory).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use concord::http::HttpConfig;
use serde_json::{Value, json};

mod support;

async fn start(config: HttpConfig) -> SocketAddr {
    support::serve(auth::app().database("sqlite::memory:"), config).await
}

/// The app with a sync that leaves requests for unknown users unanswered.
async fn start_with_pending(config: HttpConfig, dir: &tempfile::TempDir) -> SocketAddr {
    let app = auth::app()
        .syncs(support::syncs_with_pending(dir))
        .database("sqlite::memory:");
    support::serve(app, config).await
}

use concord::testing::http::{Reply, send};

async fn post(addr: SocketAddr, path: &str, body: Value) -> Reply {
    send(addr, "POST", path, &body.to_string(), &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_logout_over_http() {
    let addr = start(HttpConfig::default()).await;
    let creds = json!({"username": "ada", "password": "correct horse"});
    let r = post(addr, "/api/auth/register", creds.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let user = r.body["user"].as_str().unwrap().to_string();
    assert!(r.headers.contains("content-type: application/json"));

    let dup = post(addr, "/api/auth/register", creds.clone()).await;
    assert_eq!(
        (dup.status, dup.body.clone()),
        (422, json!({"error": "username `ada` is taken"}))
    );

    let wrong = post(
        addr,
        "/api/auth/login",
        json!({"username": "ada", "password": "nope nope"}),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.body),
        (401, json!({"error": "invalid username or password"}))
    );

    let login = post(addr, "/api/auth/login", creds.clone()).await;
    assert_eq!(login.status, 200);
    assert_eq!(login.body["user"], user.as_str());
    assert_eq!(login.body["message"], "Login successful");
    let session = login.body["session"].as_str().unwrap().to_string();

    let who = send(addr, "GET", "/api/auth/users/ada", "", &[]).await;
    assert_eq!(
        (who.status, who.body),
        (200, json!({"user": user, "username": "ada"})),
        "route template binds :username"
    );
    let nobody = send(addr, "GET", "/api/auth/users/nobody", "", &[]).await;
    assert_eq!((nobody.status, nobody.body), (404, json!({"error": "no such user"})));

    let me = post(addr, "/api/auth/me", json!({ "session": session })).await;
    assert_eq!(me.body["username"], "ada");
    let out = post(addr, "/api/auth/logout", json!({ "session": session })).await;
    assert_eq!((out.status, out.body), (200, json!({"status": "logged_out"})));
    let again = post(addr, "/api/auth/logout", json!({ "session": session })).await;
    assert_eq!(
        (again.status, again.body),
        (401, json!({"error": "no such session"})),
        "answered once, with the error"
    );
    let bad = post(addr, "/api/auth/logout", json!({"session": "not-a-session"})).await;
    assert_eq!(bad.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_no_sync_answers_is_answered_at_once() {
    let addr = start(HttpConfig::default()).await;
    let started = Instant::now();
    // A path no sync waits for is not found, without starting a flow.
    let r = post(addr, "/api/nowhere", json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "no route matches /nowhere");
    let r = post(addr, "/api/auth/login/", json!({})).await;
    assert_eq!(r.status, 404, "a trailing slash is another path");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not a timeout: {:?}",
        started.elapsed()
    );
    // A login without a password matches no sync: the field is named.
    let r = post(addr, "/api/auth/login", json!({"username": "ada"})).await;
    assert_eq!(
        (r.status, r.body),
        (
            422,
            json!({"error": "`password` is missing", "fields": {"password": ["is missing"]}})
        )
    );
    // A password that is not text would reach `Profile.authenticate` as the
    // wrong type.
    let r = post(addr, "/api/auth/login", json!({"username": "ada", "password": 5})).await;
    assert_eq!(
        (r.status, r.body["fields"].clone()),
        (422, json!({"password": ["must be a string"]}))
    );
    let dir = tempfile::tempdir().unwrap();
    let addr = start_with_pending(HttpConfig::default(), &dir).await;
    let r = post(addr, "/api/auth/pending", json!({"username": "nobody"})).await;
    assert_eq!(r.status, 500, "no sync answered: the server's fault");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_says_what_ran() {
    let addr = start(HttpConfig {
        dev: true,
        ..HttpConfig::default()
    })
    .await;
    let r = post(addr, "/api/nowhere", json!({})).await;
    assert_eq!(r.status, 404, "no flow ran: {}", r.body);
    assert_eq!(r.body.get("actions"), None);
    // A login without a password is refused before any flow runs.
    let r = post(addr, "/api/auth/login", json!({"username": "ada"})).await;
    assert_eq!((r.status, r.body.get("actions")), (422, None));
    // A request for an unknown user that no sync answers: what came close.
    let dir = tempfile::tempdir().unwrap();
    let addr = start_with_pending(
        HttpConfig {
            dev: true,
            ..HttpConfig::default()
        },
        &dir,
    )
    .await;
    let r = post(addr, "/api/auth/pending", json!({"username": "nobody"})).await;
    assert_eq!(r.status, 500);
    let misses: Vec<String> = serde_json::from_value(r.body["nearMisses"].clone()).unwrap();
    assert!(
        misses.iter().any(|m| m.starts_with("pending.AnswerKnownUsersOnly: ")),
        "{misses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_4xx_with_json_errors() {
    let addr = start(HttpConfig {
        body_limit: 1024,
        ..HttpConfig::default()
    })
    .await;
    let r = send(addr, "POST", "/api/auth/login", "{not json", &[]).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("request body is not valid JSON"),
        "{:?}",
        r.body
    );
    let r = send(addr, "POST", "/api/auth/login", "[1, 2]", &[]).await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"error": "request body must be a JSON object, not an array"})
        )
    );
    let big = json!({"username": "x".repeat(5000)}).to_string();
    let r = send(addr, "POST", "/api/auth/login", &big, &[]).await;
    assert_eq!(
        (r.status, r.body),
        (413, json!({"error": "request body is larger than 1024 bytes"}))
    );
    let r = send(addr, "POST", "/api/auth/login?username=a", r#"{"username": "b"}"#, &[]).await;
    assert_eq!(r.status, 400, "ambiguous parameters are refused");
    let r = send(addr, "GET", "/elsewhere", "", &[]).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_is_refused_at_the_edge_naming_the_field() {
    let addr = start(HttpConfig::default()).await;
    let r = post(
        addr,
        "/api/auth/register",
        json!({"username": "a\u{0}b", "password": "pw"}),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({
                "error": "`username` contains a NUL character (U+0000), which is not accepted",
                "fields": {"username": ["contains a NUL character (U+0000), which is not accepted"]}
            })
        )
    );
    let r = send(addr, "POST", "/api/auth/login?username=a%00b", "", &[]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = post(
        addr,
        "/api/auth/register",
        json!({"username": "ada", "extra": {"list": ["ok", "x\u{0}"]}, "password": "long enough"}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (
            400,
            Some("`extra.list[1]` contains a NUL character (U+0000), which is not accepted")
        )
    );
    let r = post(
        addr,
        "/api/auth/register",
        json!({"username": "ada", "password": "long enough"}),
    )
    .await;
    assert_eq!(r.status, 200, "a refused request changes nothing: {:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_the_configured_origin_and_passthrough_closed_by_default() {
    let open = start(HttpConfig {
        allowed_origin: Some("http://localhost:5173".into()),
        ..HttpConfig::default()
    })
    .await;
    let r = send(
        open,
        "OPTIONS",
        "/api/auth/login",
        "",
        &[("Origin", "http://localhost:5173")],
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(
        r.headers.contains("access-control-allow-origin: http://localhost:5173"),
        "{}",
        r.headers
    );
    let closed = start(HttpConfig::default()).await;
    let r = post(closed, "/api/auth/me", json!({})).await;
    assert!(!r.headers.contains("access-control-allow-origin"));
    // POST /api/Sessioning/create is not a passthrough route, and no sync
    // waits for that path.
    let r = post(closed, "/api/Sessioning/create", json!({"user": "u"})).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_passthrough_routes_are_served() {
    let passthrough = concord::http::Passthrough::parse(
        "test",
        "Profile._getUserByUsername: the sign-up form checks whether a name is free\n",
    )
    .unwrap();
    let addr = start(HttpConfig {
        passthrough,
        ..HttpConfig::default()
    })
    .await;
    post(
        addr,
        "/api/auth/register",
        json!({"username": "bob", "password": "correct horse"}),
    )
    .await;
    let r = post(addr, "/api/Profile/_getUserByUsername", json!({"username": "bob"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003_paths_with_user_authentication() {
    let addr = start(HttpConfig::default()).await;
    let creds = json!({"username": "eve", "password": "correct horse"});
    let reg = post(addr, "/api/UserAuthentication/register", creds.clone()).await;
    assert_eq!(reg.status, 200);
    assert!(reg.body["user"].is_string());
    let dup = post(addr, "/api/UserAuthentication/register", creds.clone()).await;
    assert_eq!(
        (dup.status, dup.body),
        (200, json!({"error": "username `eve` is taken"})),
        "seed 003 answers errors with 200"
    );
    let login = post(addr, "/api/UserAuthentication/login", creds).await;
    let session = login.body["session"].as_str().expect("a session").to_string();
    let out = post(addr, "/api/logout", json!({ "session": session })).await;
    assert_eq!(out.body, json!({"status": "logged_out"}));
    // The reference answered this twice (its success sync matched errors too).
    let again = post(addr, "/api/logout", json!({ "session": session })).await;
    assert_eq!(again.body, json!({"error": "no such session"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_where_it_says() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_auth"))
        .args(["serve", "--port", "0", "--database-url", "sqlite::memory:"])
        .env("CONCORD_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = std::io::BufReader::new(stdout).lines().next().unwrap().unwrap();
    let url = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line}"));
    let addr: SocketAddr = url.trim_end_matches("/api").parse().unwrap();
    let r = post(
        addr,
        "/api/auth/register",
        json!({"username": "zed", "password": "correct horse"}),
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_malformed_bodies_get_their_own_status() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = start(HttpConfig {
        body_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    })
    .await;
    let exchange = |request: &'static [u8]| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut answer = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut answer)).await;
        answer
    };
    // Headers promise 100 bytes; 2 arrive.
    let slow =
        exchange(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{}")
            .await;
    assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
    assert!(slow.contains("the request body did not arrive within 300 ms"), "{slow}");
    let chunked = exchange(
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 400"), "{chunked}");
    assert!(chunked.contains("the request body could not be read"), "{chunked}");
}
