//! Engine benchmark: in-memory concepts, no IO. Prints figures; run with
//!
//!     cargo bench -p concord-engine --bench engine
//!
//! Measures (each the median of 3 runs, after a warm-up):
//! 1. actions/s for the chain request -> action -> respond (1 task, and 64
//!    concurrent flows on 2 worker threads);
//! 2. per-action cost at flow lengths 10, 100 and 1,000 (should be flat);
//! 3. per-action cost with 10 versus 200 registered syncs that do not mention
//!    the action (should be flat);
//! 4. resident memory after 10k versus 1M completed flows (should be bounded).

use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_concept::{Record, Value};
use concord_engine::{Engine, EngineBuilder, FlowStatus};
use concord_macros::{Outputs, concept};
use concord_std::Requesting;
use concord_syntax::{SourceMap, render_all};

#[derive(Default)]
struct Worker;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct WorkOut {
    result: i64,
}

#[concept(crate = concord_concept)]
impl Worker {
    pub fn work(&self, amount: i64) -> WorkOut {
        WorkOut { result: amount * 2 }
    }
}

#[derive(Default)]
struct Step;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct StepOut {
    n: i64,
    limit: i64,
}

#[concept(crate = concord_concept)]
impl Step {
    pub fn next(&self, n: i64, limit: i64) -> StepOut {
        StepOut { n, limit }
    }
}

#[derive(Default)]
struct Noise;

#[concept(crate = concord_concept)]
impl Noise {
    pub fn ping(&self, k: i64) {
        let _ = k;
    }
}

const CHAIN: &str = r#"
sync Work
when
    Requesting.request (path: "/work", amount) : ()
then
    Worker.work (amount)

sync Answer
when
    Requesting.request (path: "/work") : (request)
    Worker.work () : (result)
then
    Requesting.respond (request, result)

sync Steps
when
    Step.next () : (n, limit)
where
    n < limit
then
    Step.next (n: n + 1, limit)
"#;

fn engine(noise_syncs: usize, requesting: Arc<Requesting>) -> Engine {
    let builder = EngineBuilder::new()
        .concept_shared(requesting)
        .concept(Worker)
        .concept(Step)
        .concept(Noise)
        .step_quota(10_000);
    let mut text = CHAIN.to_string();
    for k in 0..noise_syncs {
        text.push_str(&format!(
            "\nsync Noise{k}\nwhen\n    Noise.ping (k: {k}) : ()\nthen\n    Noise.ping (k: -1)\n"
        ));
    }
    let mut sources = SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new("bench.sync", text)],
        &builder.specs(),
    );
    let program = checked
        .program
        .unwrap_or_else(|| panic!("{}", render_all(&checked.diagnostics, &sources)));
    builder.build(program).unwrap()
}

fn record(pairs: &[(&str, Value)]) -> Record {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

async fn request(engine: &Engine, requesting: &Requesting, amount: i64) -> usize {
    let input = record(&[("path", "/work".into()), ("amount", amount.into())]);
    let report = engine.run("Requesting", "request", input).await.unwrap();
    let id = report.records[0].output()["request"].as_str().unwrap().to_string();
    let answer = requesting.take_response(&id).expect("answered");
    assert_eq!(answer["result"], Value::from(amount * 2));
    report.records.len()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `flows` request chains with up to `concurrency` in flight; returns actions.
async fn run_chains(engine: &Engine, requesting: &Arc<Requesting>, flows: usize, concurrency: usize) -> usize {
    let mut done = 0;
    let mut actions = 0;
    while done < flows {
        let batch = concurrency.min(flows - done);
        let handles: Vec<_> = (0..batch)
            .map(|i| {
                let (e, r) = (engine.clone(), requesting.clone());
                tokio::spawn(async move { request(&e, &r, (done + i) as i64).await })
            })
            .collect();
        for h in handles {
            actions += h.await.unwrap();
        }
        done += batch;
    }
    actions
}

async fn chain_throughput() {
    println!("1. request -> action -> respond");
    let requesting = Arc::new(Requesting::new());
    let e = engine(10, requesting.clone());
    for _ in 0..20_000 {
        request(&e, &requesting, 1).await;
    }
    let flows = 100_000;
    let mut sequential = Vec::new();
    let mut concurrent = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let mut actions = 0;
        for i in 0..flows {
            actions += request(&e, &requesting, i).await;
        }
        sequential.push(actions as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        let actions = run_chains(&e, &requesting, flows as usize, 64).await;
        concurrent.push(actions as f64 / start.elapsed().as_secs_f64());
    }
    println!(
        "   one task:              {:>10.0} actions/s ({:.0} flows/s)",
        median(sequential.clone()),
        median(sequential) / 3.0
    );
    println!(
        "   64 flows in flight:    {:>10.0} actions/s ({:.0} flows/s)",
        median(concurrent.clone()),
        median(concurrent) / 3.0
    );
}

async fn per_action(e: &Engine, length: i64, total_actions: i64) -> Duration {
    let flows = total_actions / length;
    let start = Instant::now();
    for _ in 0..flows {
        let r = e
            .run("Step", "next", record(&[("n", 1.into()), ("limit", length.into())]))
            .await
            .unwrap();
        debug_assert_eq!(r.records.len() as i64, length);
        debug_assert_eq!(r.status, FlowStatus::Quiescent);
    }
    start.elapsed() / (flows * length) as u32
}

async fn flow_length() {
    println!("2. per-action cost by flow length (200k actions each)");
    let e = engine(10, Arc::new(Requesting::new()));
    per_action(&e, 100, 100_000).await;
    let mut costs = Vec::new();
    for length in [10, 100, 1_000] {
        let runs: Vec<f64> = {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(per_action(&e, length, 200_000).await.as_nanos() as f64);
            }
            v
        };
        let m = median(runs);
        println!("   length {length:>5}: {m:>8.0} ns/action");
        costs.push(m);
    }
    let ratio = costs.iter().cloned().fold(f64::MIN, f64::max) / costs.iter().cloned().fold(f64::MAX, f64::min);
    println!("   max/min ratio: {ratio:.2} (target <= 1.30)");
}

async fn unrelated_syncs() {
    println!("3. per-action cost with unrelated syncs registered (flows of 100, 200k actions)");
    let few = engine(10, Arc::new(Requesting::new()));
    let many = engine(200, Arc::new(Requesting::new()));
    per_action(&few, 100, 100_000).await;
    per_action(&many, 100, 100_000).await;
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..3 {
        a.push(per_action(&few, 100, 200_000).await.as_nanos() as f64);
        b.push(per_action(&many, 100, 200_000).await.as_nanos() as f64);
    }
    let (a, b) = (median(a), median(b));
    println!("   10 syncs:  {a:>8.0} ns/action");
    println!("   200 syncs: {b:>8.0} ns/action");
    println!("   ratio: {:.2} (target <= 1.30)", b.max(a) / b.min(a));
}

async fn memory() {
    println!("4. resident memory by completed flows (request chains, 64 in flight)");
    let requesting = Arc::new(Requesting::new());
    let e = engine(10, requesting.clone());
    run_chains(&e, &requesting, 10_000, 64).await;
    let after_10k = rss_kib();
    run_chains(&e, &requesting, 990_000, 64).await;
    let after_1m = rss_kib();
    println!("   after 10k flows: {:>8} KiB", after_10k);
    println!("   after 1M flows:  {:>8} KiB", after_1m);
    println!(
        "   ratio: {:.2} (target <= 1.50); pending requests left: {}",
        after_1m as f64 / after_10k as f64,
        requesting.pending_count()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects sections.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        if wants("memory") {
            // First, so that other sections' allocations do not blur it.
            memory().await;
        }
        if wants("chain") {
            chain_throughput().await;
        }
        if wants("length") {
            flow_length().await;
        }
        if wants("syncs") {
            unrelated_syncs().await;
        }
    });
}
