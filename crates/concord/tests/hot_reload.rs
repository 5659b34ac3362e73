//! Hot reload: an edit that checks replaces the syncs between flows; one
//! that does not leaves the old syncs in force.

use std::time::Duration;

use concord::{App, Outputs, Record, concept};

#[derive(Default)]
struct Greeter;

#[derive(Outputs)]
struct Greeting {
    text: String,
}

#[concept]
impl Greeter {
    pub fn greet(&self, text: String) -> Greeting {
        Greeting { text }
    }
}

const V1: &str = "sync Hello\nwhen\n    Requesting.request (path: \"/hi\") : (request)\nthen\n    Requesting.respond (request, text: \"v1\")\n";
const V2: &str = "sync Hello\nwhen\n    Requesting.request (path: \"/hi\") : (request)\nthen\n    Requesting.respond (request, text: \"v2\")\n";
const BROKEN: &str =
    "sync Hello\nwhen\n    Requesting.request (path: \"/hi\") : (request)\nthen\n    Requesting.respnd (request)\n";

async fn answer(engine: &concord::Engine, requesting: &concord::std_concepts::Requesting) -> String {
    let mut input = Record::new();
    input.insert("path".into(), "/hi".into());
    let report = engine.run("Requesting", "request", input).await.unwrap();
    let id = report.records[0].output()["request"].as_str().unwrap().to_string();
    requesting.take_response(&id).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn wait_for(engine: &concord::Engine, requesting: &concord::std_concepts::Requesting, want: &str) -> bool {
    for _ in 0..100 {
        if answer(engine, requesting).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_that_check_replace_the_syncs_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.sync");
    std::fs::write(&file, V1).unwrap();
    let app = App::new()
        .concept(Greeter)
        .syncs(dir.path())
        .database("sqlite::memory:");
    let requesting = app.requesting();
    let (syncs, specs) = app.watcher();
    let engine = app.load().await.unwrap();
    assert_eq!(answer(&engine, &requesting).await, "v1");
    let watcher = concord::watch_syncs(engine.clone(), syncs, specs, Duration::from_millis(50));

    // Sizes differ, so the change is seen even within one mtime tick.
    std::fs::write(&file, format!("{V2}\n")).unwrap();
    assert!(wait_for(&engine, &requesting, "v2").await, "the edit took effect");
    let version = engine.program_version();

    std::fs::write(&file, BROKEN).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        answer(&engine, &requesting).await,
        "v2",
        "a broken edit keeps the old syncs"
    );
    assert_eq!(engine.program_version(), version);
    watcher.abort();
}
