//! `GET /api/articles` (20 per page) over 500 articles by 50 authors, and
//! `GET /api/tags`, on
//! loopback with the repo's load generator, on SQLite and — when
//! `CONCORD_BENCH_POSTGRES_URL` names an empty database — PostgreSQL:
//!
//!     cargo bench -p conduit --bench articles
//!     CONCORD_BENCH_POSTGRES_URL=$(scripts/test-postgres.sh fresh conduit_bench) \
//!         cargo bench -p conduit --bench articles
//!
//! Prints requests/s, p50/p99 latency and SQL statements per request
//! (PostgreSQL's from `pg_stat_statements`: `?` when the server was not
//! started with it, as `scripts/test-postgres.sh` does), anonymous and as a
//! logged-in reader who follows 10 of the authors and favors 50 articles.

mod common;

use std::time::Duration;

use common::{ARTICLES_PER_AUTHOR, AUTHORS, seed};
use concord::store::StatementCounter;
use concord::testing::load::{Request, run};

const CONNECTIONS: usize = 16;

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
    println!(
        "GET /api/articles (20 per page) over {} articles by {AUTHORS} authors, and GET /api/tags; {CONNECTIONS} connections on loopback",
        AUTHORS * ARTICLES_PER_AUTHOR
    );
    for (name, url) in databases {
        println!("{name}:");
        let addr = conduit::serve_on_loopback(&url).await;
        let reader = seed(addr).await.reader;
        let limit = Duration::from_secs(15);
        let cases = [
            ("anonymous", Vec::new()),
            ("logged-in reader", vec![("Authorization".to_string(), reader)]),
        ];
        let list = |headers| Request {
            method: "GET",
            path: "/api/articles?limit=20".into(),
            body: String::new(),
            headers,
        };
        let mut requests: Vec<(&str, Request)> = cases.into_iter().map(|(who, h)| (who, list(h))).collect();
        // The tag list: every distinct tag of the 1,000 tag links.
        requests.push((
            "GET /api/tags",
            Request {
                method: "GET",
                path: "/api/tags".into(),
                body: String::new(),
                headers: Vec::new(),
            },
        ));
        let mut counter = StatementCounter::connect(&url).await.unwrap();
        for (who, request) in requests {
            run(addr, request.clone(), 200, CONNECTIONS, 400, limit).await; // warm-up
            let before = match &mut counter {
                Some(c) => Some(c.so_far().await.unwrap()),
                None => None,
            };
            let f = run(addr, request, 200, CONNECTIONS, 4000, limit).await;
            // What the requests sent, the log writer's batches included.
            let statements = match (&mut counter, before) {
                (Some(c), Some(before)) => {
                    format!(
                        "{:>5.1}",
                        (c.so_far().await.unwrap() - before) as f64 / f.requests as f64
                    )
                }
                _ => "    ?".to_string(),
            };
            println!(
                "  {who:<17} {:>7.0} req/s  p50 {:>8.2?}  p99 {:>8.2?}  {statements} statements/request  ({} requests)",
                f.rps, f.p50, f.p99, f.requests
            );
        }
    }
}
