//! What the action log costs over time: `GET /api/user` at full load on a
//! SQLite file for two minutes (the database's growth, and throughput in the
//! first and last 25 seconds), then one 16 MB article upload (how much of it
//! reaches the log). Run with
//!
//!     cargo bench -p conduit --bench log_growth
//!     LOG_GROWTH_SECS=30 cargo bench -p conduit --bench log_growth   # shorter
//!
//! The log policy is the default one: read-only flows kept in a window of
//! 10,000 records, values over 1 KiB stored as stubs.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use concord::http::HttpConfig;
use concord::testing::http::send;
use concord::testing::load::{Request, run};
use serde_json::json;

const CONNECTIONS: usize = 16;
const WINDOW: Duration = Duration::from_secs(5);

fn database_bytes(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("LOG_GROWTH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growth.db");
    let config = HttpConfig {
        body_limit: 32 << 20,
        ..HttpConfig::default()
    };
    let served = conduit::app()
        .unwrap()
        .database(format!("sqlite://{}", path.display()))
        .serve_with(config)
        .await
        .expect("the conduit app loads");
    let store = served.store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(concord::http::serve(listener, served.router));

    let body = json!({"user": {"username": "reader", "email": "reader@example.com", "password": "password123"}});
    let r = send(addr, "POST", "/api/users", &body.to_string(), &[]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = r.body["user"]["token"].as_str().unwrap().to_string();
    let auth = format!("Token {token}");
    store.flush_log().await;
    let start_bytes = database_bytes(&path);

    let request = Request {
        method: "GET",
        path: "/api/user".into(),
        body: String::new(),
        headers: vec![("Authorization".into(), auth.clone())],
    };
    let windows = (secs / WINDOW.as_secs()).max(2) as usize;
    let mut rates = Vec::new();
    println!(
        "GET /api/user, {CONNECTIONS} connections, {windows} windows of {}s",
        WINDOW.as_secs()
    );
    for w in 0..windows {
        let f = run(addr, request.clone(), 200, CONNECTIONS, 4_000_000, WINDOW).await;
        rates.push(f.rps);
        println!(
            "  {:>4}s  {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  database {:>6.1} MB",
            (w + 1) * WINDOW.as_secs() as usize,
            f.rps,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            database_bytes(&path) as f64 / 1e6
        );
    }
    store.flush_log().await;
    let per = (25 / WINDOW.as_secs()) as usize;
    let per = per.min(windows / 2).max(1);
    let first: f64 = rates[..per].iter().sum::<f64>() / per as f64;
    let last: f64 = rates[windows - per..].iter().sum::<f64>() / per as f64;
    let grown = database_bytes(&path).saturating_sub(start_bytes);
    let (records, logged) = store.log_size().await.unwrap();
    println!(
        "first {}s: {first:.0} req/s; last {}s: {last:.0} req/s (last/first {:.2}); database grew {:.1} MB; \
         log holds {records} records, {:.2} MB of values",
        per as u64 * WINDOW.as_secs(),
        per as u64 * WINDOW.as_secs(),
        last / first,
        grown as f64 / 1e6,
        logged as f64 / 1e6
    );

    // One 16 MB upload: the article is state; the log keeps a stub of it.
    let (_, before) = store.log_size().await.unwrap();
    let text = "0123456789abcdef".repeat(1 << 20);
    let body = json!({"article": {"title": "Big", "description": "16 MB", "body": text, "tagList": []}});
    let r = send(
        addr,
        "POST",
        "/api/articles",
        &body.to_string(),
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 201, "the upload is accepted: {:?}", r.status);
    store.flush_log().await;
    let (_, after) = store.log_size().await.unwrap();
    println!(
        "a {:.1} MB upload added {:.1} KB of log values",
        text.len() as f64 / 1e6,
        after.saturating_sub(before) as f64 / 1e3
    );
}
