//! Hundreds of malformed and hostile requests against every route of
//! conduit (from its route table: odd path parameters, bodies that are not
//! objects, every key and field the syncs read with values of every type,
//! non-numeric query strings, broken credentials, other methods), logged in
//! and not: none is answered 5xx, none shows internals, and the server
//! still works after.

mod support;

use concord::testing::malformed::{requests, send_all};
use support::{Api, start, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_never_a_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(&format!("sqlite://{}", dir.path().join("malformed.db").display())).await;
    let user = Api::new(addr).register(&unique("m")).await;
    let token = format!("Token {}", user.token.clone().unwrap());
    let battery = requests(&conduit::app().unwrap());
    assert!(battery.len() >= 300, "{} requests", battery.len());
    let answers = send_all(addr, &battery, Some(&token)).await;
    let (statuses, failures) = (answers.statuses, answers.failures);
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
