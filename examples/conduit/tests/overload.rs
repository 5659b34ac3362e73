//! A flood of failed logins (which needs no account) over real HTTP: the
//! password hashing pool admits a few per core and the rest are answered
//! 503 with `Retry-After` at once, nothing else is a 5xx, and once the
//! flood is over logins work again. (Its memory figure is a benchmark:
//! `cargo bench -p conduit --bench login_flood`.)

mod support;

use serde_json::json;
use support::{Api, start, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_answered_503_with_retry_after_beyond_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(&format!("sqlite://{}", dir.path().join("flood.db").display())).await;
    let api = Api::new(addr);
    let name = unique("victim");
    api.register(&name).await;
    let email = format!("{name}@example.com");
    let wrong = json!({"user": {"email": email, "password": "not the password"}});
    let logins: Vec<_> = (0..96)
        .map(|_| {
            let (api, wrong) = (api.clone(), wrong.clone());
            tokio::spawn(async move { api.post("/users/login", wrong).await })
        })
        .collect();
    let (mut refused, mut busy) = (0, 0);
    for login in logins {
        let r = login.await.unwrap();
        match r.status {
            401 => {
                assert_eq!(r.body, json!({"errors": {"credentials": ["invalid"]}}));
                refused += 1;
            }
            503 => {
                assert!(r.headers.contains("retry-after: 1"), "{}", r.headers);
                assert!(
                    r.body["errors"]["server"][0].as_str().unwrap().contains("busy"),
                    "{}",
                    r.body
                );
                busy += 1;
            }
            other => panic!(
                "a failed login is 401, or 503 when the server is busy, not {other}: {}",
                r.body
            ),
        }
    }
    assert!(busy > 0 && refused > 0, "{refused} refused, {busy} told to retry");
    let login = api
        .post(
            "/users/login",
            json!({"user": {"email": email, "password": "password"}}),
        )
        .await;
    assert_eq!(login.status, 200, "after the flood: {}", login.body);
}
