//! An interrupted flow, resumed from its journal by a new engine on the same
//! store: the invocation that had committed is not run again, the one that
//! had not is run once, with the same invocation id it had the first time,
//! and the flow's log is whole (one record per invocation, in order).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use concord::store::{Backend, Claim};
use concord::{ActionContext, Engine, EngineBuilder, Record, concept};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Records every invocation id it is given; `second` blocks forever while
/// `stall` is set (the "crash": the flow's task is dropped there).
#[derive(Default)]
struct Steps {
    stall: Arc<AtomicBool>,
    seen: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

#[derive(Serialize, Deserialize)]
struct Done {
    step: String,
}

#[concept(collection = "done")]
impl Steps {
    pub async fn first(&self, ctx: &mut ActionContext, run: String) -> Result<(), String> {
        self.note("first", ctx);
        ctx.collection::<Done>("done")
            .insert(&format!("{run}-first"), &Done { step: "first".into() })
            .await
            .map_err(String::from)
    }

    pub async fn second(&self, ctx: &mut ActionContext, run: String) -> Result<(), String> {
        self.note("second", ctx);
        if self.stall.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        ctx.collection::<Done>("done")
            .insert(&format!("{run}-second"), &Done { step: "second".into() })
            .await
            .map_err(String::from)
    }
}

impl Steps {
    fn note(&self, step: &str, ctx: &ActionContext) {
        self.seen.lock().unwrap().push((step.into(), ctx.record().to_string()));
    }
}

const SYNCS: &str = r#"
sync ThenSecond
when
    Steps.first (run) : ()
then
    Steps.second (run)
"#;

fn engine(store: Arc<dyn Backend>, steps: Steps) -> Engine {
    concord::testing::engine_with(EngineBuilder::new().concept(steps).store(store), SYNCS)
}

async fn resumes_once(url: &str) {
    let store = concord::store::open(url).await.unwrap();
    store
        .ensure_collections(concord::Concept::spec(&Steps::default()).collections)
        .await
        .unwrap();
    let crashed = Steps::default();
    crashed.stall.store(true, Ordering::SeqCst);
    let crashed_seen = crashed.seen.clone();
    let first_engine = engine(store.clone(), crashed);
    let run = concord::RecordId::fresh().to_string();
    let input: Record = json!({ "run": run }).as_object().cloned().unwrap();
    let flow = concord::FlowId::fresh();
    let task = {
        let (engine, input) = (first_engine.clone(), input.clone());
        tokio::spawn(async move { engine.run_in(flow, "Steps", "first", input).await })
    };
    while crashed_seen.lock().unwrap().len() < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    task.abort();
    let _ = task.await;
    drop(first_engine);

    let restarted = Steps::default();
    let seen = restarted.seen.clone();
    let engine = engine(store.clone(), restarted);
    let reports = engine.resume_interrupted(Claim::AtStart).await;
    let report = reports
        .iter()
        .find(|r| r.flow == flow)
        .expect("the interrupted flow was resumed");
    assert_eq!(report.action_names(), ["Steps.first", "Steps.second"]);
    let rerun = seen.lock().unwrap().clone();
    assert_eq!(
        rerun.len(),
        1,
        "only the invocation that had not committed ran again: {rerun:?}"
    );
    let before = crashed_seen.lock().unwrap()[1].clone();
    assert_eq!(rerun[0], before, "with the same invocation id");
    engine.flush_log().await;
    let log = store.flow_log(flow.to_string()).await.unwrap();
    let names: Vec<String> = log
        .iter()
        .map(|e| format!("{}.{}#{}", e.concept, e.action, e.seq))
        .collect();
    assert_eq!(
        names,
        ["Steps.first#0", "Steps.second#1"],
        "the log is whole, each record once"
    );
    let resumptions = store.resumptions(flow.to_string()).await.unwrap();
    assert_eq!(resumptions.len(), 1);
    assert_eq!(resumptions[0].from_seq, 1);
    assert_eq!(
        store.open_flow_owner(flow.to_string()).await.unwrap(),
        None,
        "the journal is closed"
    );
    assert!(
        engine.resume_interrupted(Claim::AtStart).await.is_empty(),
        "a finished flow is not resumed again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_flow_resumes_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    resumes_once(&format!("sqlite://{}", dir.path().join("steps.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_flow_resumes_once_on_postgres() {
    let Some(db) = concord::store::testing::ScratchDatabase::create("concord_resume").await else {
        return;
    };
    resumes_once(&db.url).await;
}
