//! A flow still running after the timeout gets 504; the request is then
//! forgotten, and an answer arriving later is refused by Requesting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_engine::EngineBuilder;
use concord_http::HttpConfig;
use concord_macros::concept;
use concord_std::Requesting;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Slow;

#[concept(crate = concord_concept)]
impl Slow {
    pub async fn wait(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

const SYNCS: &str = r#"
sync Wait
when
    Requesting.request (path: "/slow", ms) : ()
then
    Slow.wait (ms)

sync Answer
when
    Requesting.request (path: "/slow") : (request)
    Slow.wait () : ()
then
    Requesting.respond (request, done: true)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_flow_times_out_with_504() {
    let requesting = Arc::new(Requesting::new());
    let builder = EngineBuilder::new().concept_shared(requesting.clone()).concept(Slow);
    let mut sources = concord_syntax::SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new("t.sync", SYNCS)],
        &builder.specs(),
    );
    let engine = builder.build(checked.program.expect("syncs check")).unwrap();
    let config = HttpConfig {
        timeout: Duration::from_millis(200),
        ..HttpConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(concord_http::serve(
        listener,
        concord_http::router(engine, requesting.clone(), config),
    ));

    let ask = |ms: u64| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let body = format!("{{\"ms\": {ms}}}");
        let req = format!(
            "POST /api/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let fast = ask(10).await;
    assert!(fast.starts_with("HTTP/1.1 200"), "{fast}");
    assert!(fast.ends_with(r#"{"done":true}"#), "{fast}");
    let started = Instant::now();
    let slow = ask(1500).await;
    assert!(slow.starts_with("HTTP/1.1 504"), "{slow}");
    assert!(slow.contains("no answer within 200 ms"), "{slow}");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(requesting.pending_count(), 0, "timed-out requests are forgotten");
}

#[derive(Default)]
struct Done {
    marks: std::sync::atomic::AtomicUsize,
}

#[concept(crate = concord_concept)]
impl Done {
    pub fn mark(&self) {
        self.marks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

const ANSWER_THEN_WORK: &str = r#"
sync AnswerFirst
when
    Requesting.request (path: "/later") : (request)
then
    Requesting.respond (request, early: true)
    Slow.wait (ms: 300)

sync MarkAfterWaiting
when
    Requesting.request (path: "/later") : ()
    Slow.wait () : ()
then
    Done.mark ()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_that_goes_on_after_its_answer_finishes_in_the_background() {
    let requesting = Arc::new(Requesting::new());
    let done = Arc::new(Done::default());
    let builder = EngineBuilder::new()
        .concept_shared(requesting.clone())
        .concept(Slow)
        .concept_shared(done.clone());
    let mut sources = concord_syntax::SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new("t.sync", ANSWER_THEN_WORK)],
        &builder.specs(),
    );
    let engine = builder.build(checked.program.expect("syncs check")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(concord_http::serve(
        listener,
        concord_http::router(engine, requesting.clone(), HttpConfig::default()),
    ));
    let started = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /api/later HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.ends_with(r#"{"early":true}"#), "{out}");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "answered before the rest of the flow: {:?}",
        started.elapsed()
    );
    assert_eq!(done.marks.load(std::sync::atomic::Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        done.marks.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the rest of the flow ran after the answer"
    );
    assert_eq!(
        requesting.pending_count(),
        0,
        "and the request was forgotten at its end"
    );
}
