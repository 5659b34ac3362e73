//! Hundreds of malformed and hostile requests against every route of the
//! auth app (from its route table: odd path parameters, bodies that are not
//! objects, every key the syncs read with values of every type, broken
//! credentials, other methods): none is answered 5xx, none shows
//! internals, and the server still works after.

use concord::http::HttpConfig;
use concord::testing::http::send;
use concord::testing::malformed::{INTERNALS, requests};

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
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for r in &battery {
        let headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let reply = send(addr, &r.method, &r.path, &r.body, &headers).await;
        *statuses.entry(reply.status).or_default() += 1;
        let body = reply.body.to_string();
        if reply.status >= 500 || reply.status == 0 || INTERNALS.iter().any(|i| body.contains(i)) {
            failures.push(format!(
                "{} {} {:.80} -> {} {body:.300}",
                r.method, r.path, r.body, reply.status
            ));
        }
    }
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
