//! A where step over several frames asks the concept once, through its
//! batched form, and that changes nothing a flow does: the same programs,
//! randomly generated, run against a concept with batched forms and against
//! the same concept answering one input at a time, record the same things
//! in the same order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use concord_concept::{Concept, Record, Value};
use concord_engine::{Engine, EngineBuilder};
use concord_macros::{Outputs, concept};
use concord_syntax::{SourceMap, render_all};
use serde_json::json;

/// A fixed random graph on `NODES` nodes: each node's successors, a label,
/// and a weight for some nodes.
const NODES: i64 = 12;

struct Graph {
    next: Vec<Vec<i64>>,
    weight: Vec<Option<i64>>,
    /// Calls of the one-input forms, and of the batched ones.
    single_calls: AtomicUsize,
    batch_calls: AtomicUsize,
}

/// xorshift64*: the tests need repeatable numbers, not good ones.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

impl Graph {
    fn random(rng: &mut Rng) -> Graph {
        let next = (0..NODES)
            .map(|_| (0..rng.below(4)).map(|_| rng.below(NODES as u64) as i64).collect())
            .collect();
        let weight = (0..NODES)
            .map(|_| (rng.below(3) > 0).then(|| rng.below(100) as i64))
            .collect();
        Graph {
            next,
            weight,
            single_calls: AtomicUsize::new(0),
            batch_calls: AtomicUsize::new(0),
        }
    }

    fn successors(&self, node: i64) -> Vec<Node> {
        usize::try_from(node)
            .ok()
            .and_then(|n| self.next.get(n))
            .map(|s| s.iter().map(|&node| Node { node }).collect())
            .unwrap_or_default()
    }

    fn weight_of(&self, node: i64) -> Vec<Weight> {
        usize::try_from(node)
            .ok()
            .and_then(|n| self.weight.get(n).copied().flatten())
            .map(|weight| Weight { weight })
            .into_iter()
            .collect()
    }
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Node {
    node: i64,
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Weight {
    weight: i64,
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Label {
    label: String,
}

/// The graph with batched forms.
struct Batched(Graph);

#[concept(crate = concord_concept, name = "Graph")]
impl Batched {
    #[batch(next_many)]
    pub fn _next(&self, node: i64) -> Vec<Node> {
        self.0.single_calls.fetch_add(1, Ordering::Relaxed);
        self.0.successors(node)
    }

    fn next_many(&self, node: Vec<i64>) -> Vec<Vec<Node>> {
        self.0.batch_calls.fetch_add(1, Ordering::Relaxed);
        node.into_iter().map(|n| self.0.successors(n)).collect()
    }

    #[batch(weight_many)]
    pub async fn _weight(&self, node: i64) -> Result<Vec<Weight>, String> {
        self.0.single_calls.fetch_add(1, Ordering::Relaxed);
        Ok(self.0.weight_of(node))
    }

    async fn weight_many(&self, node: Vec<i64>) -> Result<Vec<Vec<Weight>>, String> {
        self.0.batch_calls.fetch_add(1, Ordering::Relaxed);
        Ok(node.into_iter().map(|n| self.0.weight_of(n)).collect())
    }

    #[batch(label_many)]
    pub fn _label(&self, node: i64, prefix: Option<String>) -> Label {
        self.0.single_calls.fetch_add(1, Ordering::Relaxed);
        Label {
            label: format!("{}{node}", prefix.unwrap_or_default()),
        }
    }

    fn label_many(&self, node: Vec<i64>, prefix: Vec<Option<String>>) -> Vec<Label> {
        self.0.batch_calls.fetch_add(1, Ordering::Relaxed);
        node.into_iter()
            .zip(prefix)
            .map(|(node, prefix)| Label {
                label: format!("{}{node}", prefix.unwrap_or_default()),
            })
            .collect()
    }
}

/// The same graph, one input at a time (the trait's default batch).
struct OneByOne(Graph);

#[concept(crate = concord_concept, name = "Graph")]
impl OneByOne {
    pub fn _next(&self, node: i64) -> Vec<Node> {
        self.0.single_calls.fetch_add(1, Ordering::Relaxed);
        self.0.successors(node)
    }

    pub async fn _weight(&self, node: i64) -> Result<Vec<Weight>, String> {
        self.0.single_calls.fetch_add(1, Ordering::Relaxed);
        Ok(self.0.weight_of(node))
    }

    pub fn _label(&self, node: i64, prefix: Option<String>) -> Label {
        self.0.single_calls.fetch_add(1, Ordering::Relaxed);
        Label {
            label: format!("{}{node}", prefix.unwrap_or_default()),
        }
    }
}

#[derive(Default)]
struct Start;

#[concept(crate = concord_concept)]
impl Start {
    pub fn go(&self, node: i64) -> Node {
        Node { node }
    }
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Value>>,
}

#[concept(crate = concord_concept)]
impl Recorder {
    pub fn record(&self, what: Value) {
        self.seen.lock().unwrap().push(what);
    }
}

/// A random sync over the graph: a where clause of 1 to 6 steps, each
/// reading a node some earlier step bound, and a then that records every
/// variable.
fn random_program(rng: &mut Rng) -> String {
    let mut steps = Vec::new();
    let mut nodes = vec!["n0".to_string()];
    let mut recorded = vec!["n0".to_string()];
    for i in 1..=1 + rng.below(6) {
        let from = nodes[rng.below(nodes.len() as u64) as usize].clone();
        let v = format!("v{i}");
        match rng.below(8) {
            0 | 1 => {
                steps.push(format!("Graph._next (node: {from}) : (node: {v})"));
                nodes.push(v.clone());
            }
            2 => steps.push(format!("optional Graph._weight (node: {from}) : (weight: {v})")),
            3 => steps.push(format!("Graph._weight (node: {from}) : (weight: {v})")),
            4 => steps.push(format!("Graph._label (node: {from}, prefix: \"n\") : (label: {v})")),
            5 => steps.push(format!(
                "collect [w{i}, x{i}] as {v} {{\n        Graph._next (node: {from}) : (node: w{i})\n        optional Graph._weight (node: w{i}) : (weight: x{i})\n    }}"
            )),
            6 => {
                steps.push(format!("not Graph._weight (node: {from})"));
                continue;
            }
            _ => {
                steps.push(format!("{from} != {}", rng.below(NODES as u64)));
                continue;
            }
        }
        recorded.push(v);
    }
    format!(
        "sync Walk\nwhen\n    Start.go (node: n0) : ()\nwhere\n    {}\nthen\n    Recorder.record (what: [{}])\n",
        steps.join("\n    "),
        recorded.join(", ")
    )
}

fn engine(graph: Arc<dyn Concept>, syncs: &str) -> (Engine, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let builder = EngineBuilder::new()
        .concept_shared(graph)
        .concept(Start)
        .concept_shared(recorder.clone());
    let mut sources = SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new("walk.sync", syncs)],
        &builder.specs(),
    );
    let rendered = render_all(&checked.diagnostics, &sources);
    let program = checked
        .program
        .unwrap_or_else(|| panic!("generated syncs do not check:\n{syncs}\n{rendered}"));
    (builder.build(program).expect("engine builds"), recorder)
}

async fn walk(engine: &Engine, start: i64) {
    let mut input = Record::new();
    input.insert("node".into(), json!(start));
    let report = engine.run("Start", "go", input).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[tokio::test]
async fn batched_and_one_at_a_time_evaluation_agree_on_random_programs() {
    let (mut batch_calls, mut calls_batched, mut calls_one_by_one, mut records) = (0, 0, 0, 0);
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let program = random_program(&mut rng);
        let graph_seed = rng.below(u64::MAX) | 1;
        let batched = Arc::new(Batched(Graph::random(&mut Rng(graph_seed))));
        let one_by_one = Arc::new(OneByOne(Graph::random(&mut Rng(graph_seed))));
        let (b, b_seen) = engine(batched.clone(), &program);
        let (o, o_seen) = engine(one_by_one.clone(), &program);
        for start in 0..NODES {
            walk(&b, start).await;
            walk(&o, start).await;
        }
        let b_seen = b_seen.seen.lock().unwrap().clone();
        let o_seen = o_seen.seen.lock().unwrap().clone();
        assert_eq!(b_seen, o_seen, "seed {seed}, program:\n{program}");
        records += b_seen.len();
        batch_calls += batched.0.batch_calls.load(Ordering::Relaxed);
        calls_batched += batched.0.single_calls.load(Ordering::Relaxed) + batched.0.batch_calls.load(Ordering::Relaxed);
        calls_one_by_one += one_by_one.0.single_calls.load(Ordering::Relaxed);
        assert_eq!(one_by_one.0.batch_calls.load(Ordering::Relaxed), 0);
    }
    // The programs exercised batching, and it asked the concept less often.
    assert!(records > 1000, "{records} records");
    assert!(batch_calls > 100, "{batch_calls} batched calls");
    assert!(
        calls_batched < calls_one_by_one,
        "{calls_batched} calls batched vs {calls_one_by_one} one at a time"
    );
}

/// A batched form that answers with the wrong number of rows is a failure
/// of that step, named, not a silent mismatch.
struct Miscounting;

#[concept(crate = concord_concept, name = "Graph")]
impl Miscounting {
    #[batch(next_many)]
    pub fn _next(&self, node: i64) -> Vec<Node> {
        vec![Node { node: node + 1 }, Node { node: node + 2 }]
    }

    fn next_many(&self, node: Vec<i64>) -> Vec<Vec<Node>> {
        node.into_iter().skip(1).map(|n| vec![Node { node: n + 1 }]).collect()
    }
}

#[tokio::test]
async fn a_batched_form_with_too_few_answers_is_an_error_of_its_step() {
    let (e, seen) = engine(
        Arc::new(Miscounting),
        "sync Walk\nwhen\n    Start.go (node: n0) : ()\nwhere\n    Graph._next (node: n0) : (node: a)\n    Graph._next (node: a) : (node: b)\nthen\n    Recorder.record (what: b)\n",
    );
    let mut input = Record::new();
    input.insert("node".into(), json!(1));
    let report = e.run("Start", "go", input).await.unwrap();
    let messages: Vec<&str> = report.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages, ["Graph._next failed: Graph._next: its batched form gave 1 answers for 2 inputs"; 2],
        "one error per frame"
    );
    assert!(seen.seen.lock().unwrap().is_empty());
}

/// A shelf whose list rows are also its `_get` rows.
#[derive(Default)]
struct Shelf {
    gets: AtomicUsize,
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Book {
    book: i64,
    title: String,
}

#[concept(crate = concord_concept)]
impl Shelf {
    #[also_answers(_get)]
    pub fn _list(&self, count: i64) -> Vec<Book> {
        (0..count)
            .map(|book| Book {
                book,
                title: format!("book {book}"),
            })
            .collect()
    }

    pub fn _get(&self, book: i64) -> Vec<Book> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        vec![Book {
            book,
            title: format!("book {book}"),
        }]
    }
}

#[tokio::test]
async fn rows_a_step_read_answer_the_queries_they_also_answer() {
    let shelf = Arc::new(Shelf::default());
    let recorder = Arc::new(Recorder::default());
    let builder = EngineBuilder::new()
        .concept_shared(shelf.clone())
        .concept(Start)
        .concept_shared(recorder.clone());
    let syncs = "sync Titles\nwhen\n    Start.go (node: n) : ()\nwhere\n    Shelf._list (count: n) : (book)\n    Shelf._get (book) : (title)\n    Shelf._get (book: book + 100) : (title: far)\nthen\n    Recorder.record (what: [title, far])\n";
    let mut sources = SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new("shelf.sync", syncs)],
        &builder.specs(),
    );
    let program = checked
        .program
        .unwrap_or_else(|| panic!("{}", render_all(&checked.diagnostics, &sources)));
    let e = builder.build(program).unwrap();
    let mut input = Record::new();
    input.insert("node".into(), json!(3));
    let report = e.run("Start", "go", input).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        *recorder.seen.lock().unwrap(),
        [
            json!(["book 0", "book 100"]),
            json!(["book 1", "book 101"]),
            json!(["book 2", "book 102"])
        ]
    );
    // The three `_get (book)` came from the list; the three far ones were asked, in one batch.
    assert_eq!(shelf.gets.load(Ordering::Relaxed), 3);
}

/// A shelf that claims its rows answer a query they cannot.
#[derive(Default)]
struct Boastful;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Title {
    title: String,
}

#[concept(crate = concord_concept)]
impl Boastful {
    #[also_answers(_get)]
    pub fn _titles(&self) -> Vec<Title> {
        Vec::new()
    }

    pub fn _get(&self, book: i64) -> Vec<Book> {
        vec![Book {
            book,
            title: String::new(),
        }]
    }
}

#[test]
fn also_answers_that_rows_cannot_answer_is_refused_when_the_engine_is_built() {
    let builder = EngineBuilder::new().concept(Boastful);
    let program = concord_check::load(&mut SourceMap::new(), Vec::new(), &builder.specs())
        .program
        .unwrap();
    let Err(e) = builder.build(program) else {
        panic!("the engine was built");
    };
    assert_eq!(
        e.to_string(),
        "`Boastful._titles` says its rows also answer `_get`, but its rows lack book"
    );
}
