//! conduit against the same endpoints written by hand (`handwritten/`:
//! axum + SQL, one statement per read), on the same database engine, the
//! same data (seeded through each API alike: 500 articles by 50 authors, a
//! reader following 10 of them and favoring 50 articles) and the same load
//! (the repo's generator, keep-alive connections on loopback), in
//! interleaved rounds:
//!
//!     cargo bench -p conduit --bench versus
//!     CONCORD_BENCH_POSTGRES_URL=$(scripts/test-postgres.sh fresh versus_conduit) \
//!     CONCORD_BENCH_POSTGRES_URL_2=$(scripts/test-postgres.sh fresh versus_handwritten) \
//!         cargo bench -p conduit --bench versus
//!
//! The two PostgreSQL databases must be empty, on one server. Per endpoint
//! and side it prints requests/s, p50/p99 and SQL statements per request
//! (the server's `pg_stat_statements` on PostgreSQL; `?` without it), then
//! conduit ÷ hand-written throughput. `CONCORD_VERSUS_ROUNDS` (default 2)
//! sets the rounds, `CONCORD_VERSUS_ONLY=feed,tags` a subset of endpoints.

mod common;
mod handwritten;

use std::net::SocketAddr;
use std::time::Duration;

use concord::store::StatementCounter;
use concord::testing::load::{Figures, Request, run};
use serde_json::json;

/// An endpoint measured: its name, the request, the expected status, the
/// load (connections, requests per round).
struct Endpoint {
    name: &'static str,
    request: Request,
    status: u16,
    connections: usize,
    requests: usize,
}

fn endpoints(seeded: &common::Seeded) -> Vec<Endpoint> {
    let auth = vec![("Authorization".to_string(), seeded.reader.clone())];
    let get = |path: String, headers: Vec<(String, String)>| Request {
        method: "GET",
        path,
        body: String::new(),
        headers,
    };
    let slug = &seeded.slugs[seeded.slugs.len() / 2];
    let favorite_slug = &seeded.slugs[seeded.slugs.len() / 3];
    let read = |name, request| Endpoint {
        name,
        request,
        status: 200,
        connections: 16,
        requests: 3000,
    };
    vec![
        read("list anonymous", get("/api/articles?limit=20".into(), Vec::new())),
        read("list logged in", get("/api/articles?limit=20".into(), auth.clone())),
        read("feed", get("/api/articles/feed?limit=20".into(), auth.clone())),
        read("article", get(format!("/api/articles/{slug}"), auth.clone())),
        read("profile", get("/api/profiles/author7".into(), auth.clone())),
        read("tags", get("/api/tags".into(), Vec::new())),
        // Argon2id at the same parameters on both sides: 4 connections, so
        // that neither side's hashing pool turns requests away.
        Endpoint {
            name: "login",
            request: Request {
                method: "POST",
                path: "/api/users/login".into(),
                body: json!({"user": {"email": "reader@example.com", "password": "password"}}).to_string(),
                headers: Vec::new(),
            },
            status: 200,
            connections: 4,
            requests: 200,
        },
        Endpoint {
            name: "create",
            request: Request {
                method: "POST",
                path: "/api/articles".into(),
                body: json!({"article": {
                    "title": "A new article",
                    "description": "Written under load",
                    "body": "Lorem ipsum dolor sit amet. ".repeat(20),
                    "tagList": ["tag1", "load"]
                }})
                .to_string(),
                headers: auth.clone(),
            },
            status: 201,
            connections: 16,
            requests: 2000,
        },
        Endpoint {
            name: "favorite",
            request: Request {
                method: "POST",
                path: format!("/api/articles/{favorite_slug}/favorite"),
                body: String::new(),
                headers: auth,
            },
            status: 200,
            connections: 16,
            requests: 3000,
        },
    ]
}

/// One side's figures over the rounds.
#[derive(Default)]
struct Tally {
    rps: Vec<f64>,
    p50: Vec<Duration>,
    p99: Vec<Duration>,
    statements: Option<f64>,
}

async fn measure(
    addr: SocketAddr,
    endpoint: &Endpoint,
    counter: &mut Option<StatementCounter>,
) -> (Figures, Option<f64>) {
    let e = endpoint;
    let limit = Duration::from_secs(10);
    run(addr, e.request.clone(), e.status, e.connections, e.requests / 10, limit).await; // warm-up
    let before = match counter {
        Some(c) => Some(c.so_far().await.unwrap()),
        None => None,
    };
    let f = run(addr, e.request.clone(), e.status, e.connections, e.requests, limit).await;
    let statements = match (counter, before) {
        (Some(c), Some(before)) => Some((c.so_far().await.unwrap() - before) as f64 / f.requests as f64),
        _ => None,
    };
    (f, statements)
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let rounds: usize = std::env::var("CONCORD_VERSUS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let only: Option<Vec<String>> = std::env::var("CONCORD_VERSUS_ONLY")
        .ok()
        .map(|o| o.split(',').map(str::to_string).collect());
    let mut databases = vec![(
        "SQLite file",
        format!("sqlite://{}", dir.path().join("conduit.db").display()),
        "sqlite".to_string(),
    )];
    match (
        std::env::var("CONCORD_BENCH_POSTGRES_URL"),
        std::env::var("CONCORD_BENCH_POSTGRES_URL_2"),
    ) {
        (Ok(a), Ok(b)) => databases.push(("PostgreSQL", a, b)),
        (Ok(_), Err(_)) => panic!("CONCORD_BENCH_POSTGRES_URL_2 names the hand-written side's empty database"),
        _ => {}
    }
    println!("conduit vs hand-written axum + SQL, {rounds} interleaved rounds, loopback; medians of the rounds");
    for (name, conduit_url, handwritten_url) in databases {
        println!("{name}:");
        let conduit = conduit::serve_on_loopback(&conduit_url).await;
        let handwritten = handwritten::serve_on_loopback(&handwritten_url, dir.path()).await;
        let seeded = [common::seed(conduit).await, common::seed(handwritten).await];
        let mut counters = [
            StatementCounter::connect(&conduit_url).await.unwrap(),
            StatementCounter::connect(&handwritten_url).await.unwrap(),
        ];
        println!(
            "  {:<15} {:>24} {:>24} {:>8}",
            "", "conduit req/s (p50, stmts)", "by hand req/s (p50, stmts)", "ratio"
        );
        let (e_conduit, e_hand) = (endpoints(&seeded[0]), endpoints(&seeded[1]));
        for (ec, eh) in e_conduit.iter().zip(&e_hand) {
            if only
                .as_ref()
                .is_some_and(|o| !o.iter().any(|n| ec.name.contains(n.as_str())))
            {
                continue;
            }
            let mut tallies = [Tally::default(), Tally::default()];
            for _ in 0..rounds {
                for (side, (addr, e)) in [(conduit, ec), (handwritten, eh)].into_iter().enumerate() {
                    let (f, statements) = measure(addr, e, &mut counters[side]).await;
                    let t = &mut tallies[side];
                    t.rps.push(f.rps);
                    t.p50.push(f.p50);
                    t.p99.push(f.p99);
                    t.statements = statements;
                }
            }
            let show = |t: &Tally| {
                let statements = t.statements.map_or("?".to_string(), |s| format!("{s:.1}"));
                format!(
                    "{:>7.0} ({:>7.2?}, {statements:>4})",
                    median(t.rps.clone()),
                    median(t.p50.clone())
                )
            };
            let ratio = median(tallies[0].rps.clone()) / median(tallies[1].rps.clone());
            println!(
                "  {:<15} {:>26} {:>26} {ratio:>7.2}x   (p99 {:.1?} / {:.1?})",
                ec.name,
                show(&tallies[0]),
                show(&tallies[1]),
                median(tallies[0].p99.clone()),
                median(tallies[1].p99.clone())
            );
        }
    }
}
