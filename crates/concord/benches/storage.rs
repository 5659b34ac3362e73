//! Storage benchmark: single-action commits per second (state write + log
//! record in one transaction) on each backend, and what persisting the log
//! costs compared with keeping it in memory only. Run with
//!
//!     cargo bench -p concord --bench storage
//!
//! PostgreSQL is included when `CONCORD_TEST_POSTGRES_URL` is set
//! (`eval "$(scripts/test-postgres.sh)"`). Each figure is the median of 3 runs.

use std::sync::Arc;
use std::time::Instant;

use concord::{ActionContext, Engine, EngineBuilder, Record, concept};
use serde::{Deserialize, Serialize};

#[derive(Default)]
struct Notes;

#[derive(Serialize, Deserialize)]
struct Note {
    text: String,
}

#[concept(collection = "notes")]
impl Notes {
    /// One state write.
    pub async fn add(&self, ctx: &mut ActionContext, text: String) -> Result<(), String> {
        let id = ctx.fresh_id();
        ctx.collection::<Note>("notes")
            .insert(&id, &Note { text })
            .await
            .map_err(|e| e.to_string())
    }

    /// No state at all: only the action record.
    pub fn touch(&self, text: String) {
        let _ = text;
    }
}

async fn engine(url: Option<&str>) -> Engine {
    let builder = EngineBuilder::new().concept(Notes);
    let builder = match url {
        Some(url) => {
            let store = concord::store::open(url).await.unwrap();
            store
                .ensure_collections(concord::Concept::spec(&Notes).collections)
                .await
                .unwrap();
            builder.store(store)
        }
        None => builder.log(Arc::new(NullLog)),
    };
    builder.build(Default::default()).unwrap()
}

/// Keeps nothing: "the log in memory" without growing without bound.
struct NullLog;
impl concord::ActionLog for NullLog {
    fn record(&self, record: &concord::ActionRecord) {
        std::hint::black_box(record);
    }
}

fn input() -> Record {
    let mut r = Record::new();
    r.insert("text".into(), "hello".into());
    r
}

async fn rate(e: &Engine, action: &str, total: usize, in_flight: usize) -> f64 {
    let start = Instant::now();
    if in_flight == 1 {
        for _ in 0..total {
            let r = e.run("Notes", action, input()).await.unwrap();
            assert!(!r.records[0].outcome.is_error(), "{:?}", r.records[0].outcome);
        }
        return total as f64 / start.elapsed().as_secs_f64();
    }
    let mut done = 0;
    while done < total {
        let batch = in_flight.min(total - done);
        let handles: Vec<_> = (0..batch).map(|_| e.spawn("Notes", action, input())).collect();
        for h in handles {
            let r = h.await.unwrap().unwrap();
            assert!(!r.records[0].outcome.is_error(), "{:?}", r.records[0].outcome);
        }
        done += batch;
    }
    total as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn measure(e: &Engine, action: &str, total: usize, in_flight: usize) -> f64 {
    rate(e, action, total / 5, in_flight).await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(rate(e, action, total, in_flight).await);
    }
    median(runs)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mut backends: Vec<(&str, Option<String>)> = vec![
        ("no store, log in memory", None),
        ("SQLite file (WAL, synchronous=NORMAL)", Some(file)),
        ("SQLite in memory", Some("sqlite::memory:".into())),
    ];
    if let Ok(url) = std::env::var("CONCORD_TEST_POSTGRES_URL") {
        backends.push(("PostgreSQL (loopback)", Some(url)));
    }
    println!("actions/s, median of 3 runs; 1 task = one flow at a time, 32 = flows in flight");
    println!(
        "{:<40} {:>12} {:>12} {:>12} {:>12}",
        "backend", "touch 1", "touch 32", "add 1", "add 32"
    );
    let mut baseline = None;
    for (name, url) in backends {
        let e = engine(url.as_deref()).await;
        let total = if name.starts_with("Postgre") { 5_000 } else { 20_000 };
        let touch1 = measure(&e, "touch", total, 1).await;
        let touch32 = measure(&e, "touch", total, 32).await;
        let (add1, add32) = if url.is_some() {
            (measure(&e, "add", total, 1).await, measure(&e, "add", total, 32).await)
        } else {
            (f64::NAN, f64::NAN)
        };
        println!("{name:<40} {touch1:>12.0} {touch32:>12.0} {add1:>12.0} {add32:>12.0}");
        match baseline {
            None => baseline = Some(touch1),
            Some(b) => println!(
                "{:<40} persisting the log costs {:.1}x the in-memory log (touch, 1 task)",
                "",
                b / touch1
            ),
        }
    }
}
