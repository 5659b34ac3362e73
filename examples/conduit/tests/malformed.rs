//! Hundreds of malformed and hostile requests against every route of
//! conduit (from its route table: odd path parameters, bodies that are not
//! objects, every key and field the syncs read with values of every type,
//! non-numeric query strings, broken credentials, other methods), logged in
//! and not: none is answered 5xx, none shows internals, and the server
//! still works after.

mod support;

use concord::testing::http::send;
use concord::testing::malformed::{INTERNALS, requests};
use support::{Api, start, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_never_a_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(&format!("sqlite://{}", dir.path().join("malformed.db").display())).await;
    let user = Api::new(addr).register(&unique("m")).await;
    let token = format!("Token {}", user.token.clone().unwrap());
    let battery = requests(&conduit::app().unwrap());
    assert!(battery.len() >= 300, "{} requests", battery.len());
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (n, r) in battery.iter().enumerate() {
        let mut headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Every other request logged in, so the syncs past the token check run too.
        if n % 2 == 1 && headers.is_empty() {
            headers.push(("Authorization", &token));
        }
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
    assert_eq!(user.get("/user").await.status, 200, "the server still works");
    eprintln!("{} malformed requests, no 5xx: {statuses:?}", battery.len());
}
