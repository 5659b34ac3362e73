//! An action that finds a bounded resource full (`ActionContext::overloaded`):
//! a flow that has written nothing stops there (`FlowStatus::Overloaded`,
//! which HTTP answers 503 with `Retry-After`); a flow that has written runs
//! the action again after a pause until it gets through, so nothing is left
//! half done, and its log has the action once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use concord::{ActionContext, Engine, EngineBuilder, FlowStatus, Record, concept};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `busy` is refused as overloaded `refusals` times, then succeeds.
#[derive(Default)]
struct Steps {
    refusals: Arc<AtomicUsize>,
    attempts: Arc<AtomicUsize>,
}

#[derive(Serialize, Deserialize)]
struct Done {
    run: String,
}

#[concept(collection = "done")]
impl Steps {
    pub async fn write(&self, ctx: &mut ActionContext, run: String) -> Result<(), String> {
        ctx.collection::<Done>("done")
            .insert(&run, &Done { run: run.clone() })
            .await?;
        Ok(())
    }

    pub async fn busy(&self, ctx: &mut ActionContext, run: String) -> Result<(), String> {
        let _ = run;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let left = self.refusals.load(Ordering::SeqCst);
        if left > 0 {
            self.refusals.store(left - 1, Ordering::SeqCst);
            ctx.overloaded(Duration::from_millis(5));
            return Err("busy".into());
        }
        Ok(())
    }
}

const SYNCS: &str = "sync BusyAfterWrite\nwhen\n    Steps.write (run) : ()\nthen\n    Steps.busy (run)\n";

async fn engine(steps: Steps) -> Engine {
    let store = concord::store::open("sqlite::memory:").await.unwrap();
    store
        .ensure_collections(concord::Concept::spec(&Steps::default()).collections)
        .await
        .unwrap();
    concord::testing::engine_with(EngineBuilder::new().concept(steps).store(store), SYNCS)
}

fn run(id: &str) -> Record {
    json!({ "run": id }).as_object().cloned().unwrap()
}

#[tokio::test]
async fn a_flow_that_wrote_nothing_stops_and_one_that_did_waits_its_turn() {
    let steps = Steps::default();
    let (refusals, attempts) = (steps.refusals.clone(), steps.attempts.clone());
    let engine = engine(steps).await;

    // First thing in its flow: refused, the flow stops with the pause to tell.
    refusals.store(1, Ordering::SeqCst);
    let report = engine.run("Steps", "busy", run("a")).await.unwrap();
    assert_eq!(
        report.status,
        FlowStatus::Overloaded {
            retry_after: Duration::from_millis(5)
        }
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1);

    // After a write: refused twice, run again until it gets through.
    attempts.store(0, Ordering::SeqCst);
    refusals.store(2, Ordering::SeqCst);
    let report = engine.run("Steps", "write", run("b")).await.unwrap();
    assert_eq!(report.status, FlowStatus::Quiescent);
    assert_eq!(report.action_names(), ["Steps.write", "Steps.busy"]);
    assert!(
        !report.records[1].outcome.is_error(),
        "the last attempt's outcome counts"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}
