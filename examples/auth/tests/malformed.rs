//! Hundreds of malformed and hostile requests against every route of the
//! auth app (from its route table: odd path parameters, bodies that are not
//! objects, every key the syncs read with values of every type, broken
//! credentials, other methods): none is answered 5xx, none shows
//! internals, and the server still works after.

use concord::http::HttpConfig;
use concord::testing::http::send;
use concord::testing::malformed::{requests, send_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_never_a_server_error() {
    let router = auth::app()
        .database("sqlite::memory:")
        .router(HttpConfig::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(concord::http::serve(listener, router));
    let creds = r#"{"username": "ada", "password": "correct horse"}"#;
    assert_eq!(send(addr, "POST", "/api/auth/register", creds, &[]).await.status, 200);
    let battery = requests(&auth::app());
    assert!(battery.len() >= 300, "{} requests", battery.len());
    let answers = send_all(addr, &battery, None).await;
    let (statuses, failures) = (answers.statuses, answers.failures);
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        battery.len(),
        failures.join("\n")
    );
    assert_eq!(
        send(addr, "POST", "/api/auth/login", creds, &[]).await.status,
        200,
        "the server still works"
    );
    eprintln!("{} malformed requests, no 5xx: {statuses:?}", battery.len());
}
