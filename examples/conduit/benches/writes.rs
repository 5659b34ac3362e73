//! The write paths: `POST /api/users` (registration: `User.register`,
//! `Password.set` with Argon2id, `JWT.issue`, respond) and
//! `POST /api/articles` with two tags (`Article.create`, `Tag.tag`, respond),
//! by 8 concurrent clients on loopback, on SQLite and — when
//! `CONCORD_BENCH_POSTGRES_URL` names an empty database — PostgreSQL:
//!
//!     cargo bench -p conduit --bench writes
//!     CONCORD_BENCH_POSTGRES_URL=$(scripts/test-postgres.sh fresh conduit_writes) \
//!         cargo bench -p conduit --bench writes
//!
//! Prints requests/s and p50/p99 latency per path. These are the flows the
//! journal makes durable, so they show what it costs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use concord::testing::http::send;
use serde_json::json;

const CLIENTS: usize = 8;
const REGISTRATIONS_PER_CLIENT: usize = 25;
const ARTICLES_PER_CLIENT: usize = 500;

/// Runs `per_client` requests on each of the clients at once; `request(c, i)`
/// gives the path, body and token of client `c`'s `i`th request.
async fn measure(
    addr: SocketAddr,
    per_client: usize,
    request: impl Fn(usize, usize) -> (&'static str, String, Option<String>) + Send + Sync + Clone + 'static,
) -> (f64, Duration, Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let (path, body, token) = request(c, i);
                let auth = token.map(|t| format!("Token {t}"));
                let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
                let at = Instant::now();
                let r = send(addr, "POST", path, &body, &headers).await;
                latencies.push(at.elapsed());
                assert_eq!(r.status, 201, "{path}: {:?}", r.body);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (latencies.len() as f64 / elapsed.as_secs_f64(), at(0.5), at(0.99))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut databases = vec![(
        "SQLite file",
        format!("sqlite://{}", dir.path().join("bench.db").display()),
    )];
    if let Ok(url) = std::env::var("CONCORD_BENCH_POSTGRES_URL") {
        databases.push(("PostgreSQL", url));
    }
    println!("POST /api/users and POST /api/articles, {CLIENTS} concurrent clients on loopback");
    for (name, url) in databases {
        println!("{name}:");
        let addr = conduit::serve_on_loopback(&url).await;
        let (rps, p50, p99) = measure(addr, REGISTRATIONS_PER_CLIENT, |c, i| {
            let name = format!("writer{c}x{i}");
            let body =
                json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": "password"}});
            ("/api/users", body.to_string(), None)
        })
        .await;
        println!(
            "  registration      {rps:>7.0} req/s  p50 {p50:>8.2?}  p99 {p99:>8.2?}  ({} requests)",
            CLIENTS * REGISTRATIONS_PER_CLIENT
        );
        let mut tokens = Vec::new();
        for c in 0..CLIENTS {
            let body = json!({"user": {"email": format!("writer{c}x0@example.com"), "password": "password"}});
            let r = send(addr, "POST", "/api/users/login", &body.to_string(), &[]).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            tokens.push(r.body["user"]["token"].as_str().unwrap().to_string());
        }
        let tokens = std::sync::Arc::new(tokens);
        let (rps, p50, p99) = measure(addr, ARTICLES_PER_CLIENT, move |c, i| {
            let body = json!({"article": {
                "title": format!("Article {i} by writer {c}"),
                "description": "A benchmark article",
                "body": "Lorem ipsum dolor sit amet. ".repeat(20),
                "tagList": [format!("tag{}", i % 10), format!("tag{}", (c + i) % 10 + 10)]
            }});
            ("/api/articles", body.to_string(), Some(tokens[c].clone()))
        })
        .await;
        println!(
            "  article creation  {rps:>7.0} req/s  p50 {p50:>8.2?}  p99 {p99:>8.2?}  ({} requests)",
            CLIENTS * ARTICLES_PER_CLIENT
        );
    }
}
