//! What a page costs the database: a logged-in `GET /api/articles?limit=20`
//! over 32 articles sends at most 10 SQL statements (its queries are asked
//! once per where step, not once per article), log writes included, on
//! SQLite and on PostgreSQL (counted by the server's `pg_stat_statements`,
//! which `scripts/test-postgres.sh` loads). Its own test binary: SQLite's
//! count is process-wide.

#[path = "../benches/common/mod.rs"]
mod common;

use std::net::SocketAddr;

use concord::store::StatementCounter;
use concord::testing::http::send;
use serde_json::json;

async fn register(addr: SocketAddr, name: &str) -> String {
    format!("Token {}", common::register(addr, name).await)
}

/// 4 authors with 8 articles each (two tags each), and a reader following
/// two of them and favoring every third article: its token.
async fn seed(addr: SocketAddr) -> String {
    let mut slugs = Vec::new();
    for a in 0..4 {
        let auth = register(addr, &format!("author{a}")).await;
        for i in 0..8 {
            let body = json!({"article": {
                "title": format!("Article {i} by author {a}"),
                "description": "d",
                "body": "b",
                "tagList": [format!("tag{}", (a + i) % 5), format!("tag{}", (a * 3 + i) % 5)]
            }});
            let r = send(
                addr,
                "POST",
                "/api/articles",
                &body.to_string(),
                &[("Authorization", &auth)],
            )
            .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            slugs.push(r.body["article"]["slug"].as_str().unwrap().to_string());
        }
    }
    let reader = register(addr, "reader").await;
    for path in [
        "/api/profiles/author0/follow".to_string(),
        "/api/profiles/author2/follow".to_string(),
    ]
    .into_iter()
    .chain(slugs.iter().step_by(3).map(|s| format!("/api/articles/{s}/favorite")))
    {
        let r = send(addr, "POST", &path, "", &[("Authorization", &reader)]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    reader
}

/// Statements per request over `n` logged-in list requests, after a warm-up.
async fn per_list_page(url: &str, n: u64) -> f64 {
    let addr = conduit::serve_on_loopback(url).await;
    let reader = seed(addr).await;
    let auth = [("Authorization", reader.as_str())];
    let page = |addr| async move {
        let r = send(addr, "GET", "/api/articles?limit=20", "", &auth).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["articles"].as_array().map(Vec::len), Some(20));
    };
    for _ in 0..5 {
        page(addr).await;
    }
    let mut counter = StatementCounter::connect(url)
        .await
        .unwrap()
        .expect("the server counts statements (pg_stat_statements in shared_preload_libraries)");
    let before = counter.so_far().await.unwrap();
    for _ in 0..n {
        page(addr).await;
    }
    // The log writer's batches for these requests, too.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    (counter.so_far().await.unwrap() - before) as f64 / n as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_in_list_page_sends_at_most_ten_statements() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = per_list_page(&format!("sqlite://{}", dir.path().join("page.db").display()), 40).await;
    assert!(sqlite <= 10.0, "SQLite: {sqlite:.1} statements per page");
    if let Some(db) = concord::store::testing::ScratchDatabase::create("conduit_statements").await {
        let postgres = per_list_page(&db.url, 40).await;
        assert!(postgres <= 10.0, "PostgreSQL: {postgres:.1} statements per page");
        eprintln!("statements per logged-in list page: SQLite {sqlite:.1}, PostgreSQL {postgres:.1}");
    }
}
