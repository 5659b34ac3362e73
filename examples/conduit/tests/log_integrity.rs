//! One request carrying a NUL character among 200 normal ones (reads and
//! writes, concurrently) on a database of its own: the NUL request is a 400
//! naming the field, and every other request's flow is in the log, whole.
//! On PostgreSQL a NUL in `jsonb` used to fail the shared batch and lose
//! other flows' records.

use concord::http::HttpConfig;
use concord::testing::http::send;
use serde_json::json;

async fn two_hundred_requests_and_one_nul(url: &str, db: &str) {
    let served = conduit::app()
        .unwrap()
        .database(url)
        .serve_with(HttpConfig::default())
        .await
        .expect("the conduit app loads");
    let store = served.store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(concord::http::serve(listener, served.router));

    let body = json!({"user": {"username": "writer", "email": "writer@example.com", "password": "password123"}});
    let r = send(addr, "POST", "/api/users", &body.to_string(), &[]).await;
    assert_eq!(r.status, 201, "{db}: {:?}", r.body);
    let auth = format!("Token {}", r.body["user"]["token"].as_str().unwrap());

    let requests: Vec<_> = (0..201)
        .map(|i| {
            let auth = auth.clone();
            tokio::spawn(async move {
                let headers = [("Authorization", auth.as_str())];
                let title = if i == 100 {
                    "a\u{0}b".to_string()
                } else {
                    format!("Post {i}")
                };
                if i % 2 == 0 {
                    let article = json!({"article": {"title": title, "description": "d", "body": "b", "tagList": []}});
                    send(addr, "POST", "/api/articles", &article.to_string(), &headers).await
                } else {
                    send(addr, "GET", "/api/user", "", &headers).await
                }
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in requests {
        let r = r.await.unwrap();
        statuses.push((r.status, r.body));
    }
    let (nul_status, nul_body) = &statuses[100];
    assert_eq!(
        (*nul_status, nul_body["errors"]["article.title"][0].as_str()),
        (400, Some("contains a NUL character (U+0000), which is not accepted")),
        "{db}"
    );
    assert!(
        statuses
            .iter()
            .enumerate()
            .all(|(i, (s, _))| i == 100 || *s == 200 || *s == 201),
        "{db}: {statuses:?}"
    );

    store.flush_log().await;
    let flows = store.flows(0, i64::MAX, 10_000).await.unwrap();
    assert_eq!(
        flows.len(),
        201,
        "{db}: the registration and the 200 normal requests, each logged"
    );
    for flow in &flows {
        let records = store.flow_log(flow.flow.clone()).await.unwrap();
        assert_eq!(records.len() as u64, flow.actions, "{db}");
        assert!(
            records.first().is_some_and(|r| r.action == "request"),
            "{db}: a flow's log begins with its request"
        );
        assert!(
            records
                .iter()
                .any(|r| r.action == "respond" || r.action == "respondWith"),
            "{db}: and holds its answer"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_among_two_hundred_requests_costs_no_flow_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("sqlite://{}", dir.path().join("conduit.db").display());
    two_hundred_requests_and_one_nul(&file, "sqlite").await;
    if let Some(pg) = concord::store::testing::ScratchDatabase::create("log_integrity").await {
        two_hundred_requests_and_one_nul(&pg.url, "postgres").await;
    }
}
