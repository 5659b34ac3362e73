//! Conformance tests: the reference engine's own scenarios, and the places
//! where concord deliberately differs (`docs/semantics.md`, marked Δ).

use std::sync::{Arc, Mutex};

use concord_concept::{Outcome, Record, Value};
use concord_engine::{Engine, EngineBuilder, FlowReport, FlowStatus};
use concord_macros::{Outputs, concept};
use concord_syntax::{SourceMap, render_all};
use serde_json::json;

// ---- test concepts ---------------------------------------------------------

#[derive(Default)]
struct Button;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Clicked {
    kind: String,
}

#[concept(crate = concord_concept)]
impl Button {
    pub fn clicked(&self, kind: String) -> Clicked {
        Clicked { kind }
    }
}

#[derive(Default)]
struct Counter {
    count: Mutex<i64>,
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Count {
    count: i64,
}

#[concept(crate = concord_concept)]
impl Counter {
    pub fn increment(&self) {
        *self.count.lock().unwrap() += 1;
    }

    pub fn _get_count(&self) -> Vec<Count> {
        vec![Count {
            count: *self.count.lock().unwrap(),
        }]
    }
}

#[derive(Default)]
struct Notification {
    sent: Mutex<Vec<String>>,
}

#[concept(crate = concord_concept)]
impl Notification {
    pub fn notify(&self, message: String) {
        self.sent.lock().unwrap().push(message);
    }
}

#[derive(Default)]
struct List {
    items: Mutex<Vec<Value>>,
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Item {
    value: Value,
}

#[concept(crate = concord_concept)]
impl List {
    pub fn _items(&self) -> Vec<Item> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .map(|v| Item { value: v.clone() })
            .collect()
    }

    pub async fn _items_async(&self) -> Vec<Item> {
        tokio::task::yield_now().await;
        self._items()
    }
}

#[derive(Default)]
struct Recorder {
    tags: Mutex<Vec<String>>,
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Recorded {
    tag: String,
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct Profile {
    bio: String,
}

#[concept(crate = concord_concept)]
impl Recorder {
    pub fn record(&self, tag: String) -> Recorded {
        self.tags.lock().unwrap().push(tag.clone());
        Recorded { tag }
    }

    /// Rows only for tags starting with "bio".
    pub fn _bio(&self, tag: String) -> Vec<Profile> {
        if tag.starts_with("bio") {
            vec![Profile {
                bio: format!("about {tag}"),
            }]
        } else {
            Vec::new()
        }
    }
}

#[derive(Default)]
struct Risky;

#[concept(crate = concord_concept)]
impl Risky {
    /// Succeeds unless `fail` is true.
    pub fn attempt(&self, fail: bool) -> Result<(), String> {
        if fail { Err("it failed".into()) } else { Ok(()) }
    }

    pub fn explode(&self) {
        panic!("boom");
    }
}

#[derive(Default)]
struct Toggle {
    on: Mutex<bool>,
    reads: Mutex<usize>,
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
struct State {
    on: bool,
}

#[concept(crate = concord_concept)]
impl Toggle {
    pub fn flip(&self) {
        let mut on = self.on.lock().unwrap();
        *on = !*on;
    }

    pub fn _state(&self) -> Vec<State> {
        *self.reads.lock().unwrap() += 1;
        vec![State {
            on: *self.on.lock().unwrap(),
        }]
    }
}

#[derive(Default)]
struct Ping;

#[concept(crate = concord_concept)]
impl Ping {
    pub fn ping(&self) {}
    pub fn pong(&self) {}
}

struct World {
    counter: Arc<Counter>,
    notification: Arc<Notification>,
    list: Arc<List>,
    recorder: Arc<Recorder>,
    toggle: Arc<Toggle>,
    engine: Engine,
}

fn world(syncs: &str) -> World {
    world_with(syncs, |b| b)
}

fn world_with(syncs: &str, configure: impl FnOnce(EngineBuilder) -> EngineBuilder) -> World {
    let counter = Arc::new(Counter::default());
    let notification = Arc::new(Notification::default());
    let list = Arc::new(List::default());
    let recorder = Arc::new(Recorder::default());
    let toggle = Arc::new(Toggle::default());
    let builder = EngineBuilder::new()
        .concept(Button)
        .concept_shared(counter.clone())
        .concept_shared(notification.clone())
        .concept_shared(list.clone())
        .concept_shared(recorder.clone())
        .concept(Risky)
        .concept(Ping)
        .concept_shared(toggle.clone());
    let builder = configure(builder);
    let mut sources = SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new("test.sync", syncs)],
        &builder.specs(),
    );
    let rendered = render_all(&checked.diagnostics, &sources);
    let program = checked
        .program
        .unwrap_or_else(|| panic!("syncs do not check:\n{rendered}"));
    World {
        counter,
        notification,
        list,
        recorder,
        toggle,
        engine: builder.build(program).expect("engine builds"),
    }
}

fn rec(pairs: Value) -> Record {
    pairs.as_object().cloned().unwrap_or_default()
}

async fn click(w: &World, kind: &str) -> FlowReport {
    w.engine
        .run("Button", "clicked", rec(json!({ "kind": kind })))
        .await
        .unwrap()
}

const REFERENCE_SYNCS: &str = r#"
sync ButtonIncrements
when
    Button.clicked (kind: "inc") : ()
then
    Counter.increment ()

sync NotifyOn3
when
    Button.clicked (kind: "inc") : ()
    Counter.increment () : ()
where
    Counter._getCount () : (count)
    count == 3
then
    Notification.notify (message: "reached 3")

sync FanoutOverList
when
    Button.clicked (kind: "fanout") : ()
where
    List._items () : (value)
    let tag = "v:" + value
then
    Recorder.record (tag)

sync FanoutOverListAsync
when
    Button.clicked (kind: "fanout-async") : ()
where
    List._itemsAsync () : (value)
    let tag = "v:" + value
then
    Recorder.record (tag)

sync FanoutPlain
when
    Button.clicked (kind: "fanout-plain") : ()
where
    List._items () : (value)
then
    Recorder.record (tag: value)

sync ChainRecordA
when
    Recorder.record (tag) : ()
where
    !contains(tag, ":")
    let next = tag + ":a"
then
    Recorder.record (tag: next)

sync PreventDoubleFire
when
    Recorder.record (tag: tag1) : ()
    Recorder.record (tag: tag2) : ()
where
    !contains(tag1, ":")
    tag2 == tag1 + ":a"
    let done = tag1 + ":done"
then
    Recorder.record (tag: done)
"#;

// ---- the reference engine's scenarios ----------------------------------------

#[tokio::test]
async fn a_click_increments_the_counter_exactly_once() {
    let w = world(REFERENCE_SYNCS);
    let report = click(&w, "inc").await;
    assert_eq!(*w.counter.count.lock().unwrap(), 1);
    assert_eq!(report.action_names(), ["Button.clicked", "Counter.increment"]);
    assert_eq!(report.status, FlowStatus::Quiescent);
    assert_eq!(report.records[1].sync.as_deref(), Some("ButtonIncrements"));
    assert_eq!(report.records[1].matched, vec![report.records[0].id]);
    assert!(report.records[0].sync.is_none());
}

#[tokio::test]
async fn notify_at_3_fires_once_across_three_flows_and_never_across_flows() {
    let w = world(REFERENCE_SYNCS);
    let mut reports = Vec::new();
    for _ in 0..5 {
        reports.push(click(&w, "inc").await);
    }
    assert_eq!(*w.counter.count.lock().unwrap(), 5);
    assert_eq!(*w.notification.sent.lock().unwrap(), ["reached 3"]);
    let notified: Vec<usize> = reports
        .iter()
        .map(|r| r.records_of("Notification", "notify").len())
        .collect();
    assert_eq!(notified, [0, 0, 1, 0, 0], "only the third flow notifies");
    for r in &reports {
        assert!(
            r.records.iter().all(|rec| rec.flow == r.flow),
            "records never leak across flows"
        );
    }
}

#[tokio::test]
async fn a_query_fans_out_one_action_per_row_sync_and_async() {
    for kind in ["fanout", "fanout-async"] {
        let w = world(REFERENCE_SYNCS);
        *w.list.items.lock().unwrap() = vec![json!(1), json!(2), json!(3)];
        let report = click(&w, kind).await;
        let tags: Vec<String> = report
            .records_of("Recorder", "record")
            .iter()
            .map(|r| r.input["tag"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(tags, ["v:1", "v:2", "v:3"], "{kind}");
    }
}

#[tokio::test]
async fn a_pair_pattern_records_exactly_x_xa_xdone() {
    let w = world(REFERENCE_SYNCS);
    w.engine
        .run("Recorder", "record", rec(json!({"tag": "x"})))
        .await
        .unwrap();
    assert_eq!(*w.recorder.tags.lock().unwrap(), ["x", "x:a", "x:done"]);
}

#[tokio::test]
async fn where_filters_prevent_extra_thens() {
    let w = world(REFERENCE_SYNCS);
    for _ in 0..2 {
        let r = click(&w, "inc").await;
        assert!(r.records_of("Notification", "notify").is_empty());
    }
    // Recording a tag with a colon passes through ChainRecordA's filter
    // without firing it.
    let r = w
        .engine
        .run("Recorder", "record", rec(json!({"tag": "y:z"})))
        .await
        .unwrap();
    assert_eq!(r.action_names(), ["Recorder.record"]);
}

#[tokio::test]
async fn fan_out_composes_with_later_filters_depth_first() {
    let w = world(REFERENCE_SYNCS);
    *w.list.items.lock().unwrap() = vec![json!("a"), json!("b")];
    click(&w, "fanout-plain").await;
    assert_eq!(
        *w.recorder.tags.lock().unwrap(),
        ["a", "a:a", "a:done", "b", "b:a", "b:done"],
        "each fanned-out record cascades completely before the next"
    );
}

// ---- concord's departures (Δ) ------------------------------------------------

const DEPARTURE_SYNCS: &str = r#"
sync OnSuccess
when
    Risky.attempt () : ()
then
    Notification.notify (message: "success")

sync OnError
when
    Risky.attempt () : (error)
then
    Notification.notify (message: error)

sync OnAny
when
    Risky.attempt (fail) : *
then
    Recorder.record (tag: "any")

sync RecordTwice
when
    Button.clicked (kind: "twice") : ()
then
    Recorder.record (tag: "r1")
    Recorder.record (tag: "r2")

sync PairAgain
when
    Button.clicked (kind: "twice") : ()
    Recorder.record (tag) : ()
then
    Notification.notify (message: tag)

sync ListAll
when
    Button.clicked (kind: "collect") : ()
where
    collect { item: value } as items {
        List._items () : (value)
    }
then
    Recorder.record (tag: string(items))

sync OptionalBio
when
    Button.clicked (kind) : ()
where
    optional Recorder._bio (tag: kind) : (bio)
then
    Notification.notify (message: string(bio))

sync NotBio
when
    Button.clicked (kind) : ()
where
    not Recorder._bio (tag: kind)
    kind != "twice"
    kind != "collect"
then
    Recorder.record (tag: "no bio for " + kind)
"#;

#[tokio::test]
async fn success_patterns_do_not_match_errors() {
    let w = world(DEPARTURE_SYNCS);
    w.engine
        .run("Risky", "attempt", rec(json!({"fail": true})))
        .await
        .unwrap();
    assert_eq!(
        *w.notification.sent.lock().unwrap(),
        ["it failed"],
        "only OnError fires on failure"
    );
    w.engine
        .run("Risky", "attempt", rec(json!({"fail": false})))
        .await
        .unwrap();
    assert_eq!(*w.notification.sent.lock().unwrap(), ["it failed", "success"]);
    assert_eq!(
        *w.recorder.tags.lock().unwrap(),
        ["any", "any"],
        "`: *` matches both outcomes"
    );
}

#[tokio::test]
async fn a_second_record_of_the_same_action_pairs_again() {
    let w = world(DEPARTURE_SYNCS);
    let r = click(&w, "twice").await;
    let sent = w.notification.sent.lock().unwrap().clone();
    assert!(
        sent.contains(&"r1".to_string()) && sent.contains(&"r2".to_string()),
        "{sent:?}"
    );
    assert_eq!(
        r.records_of("Notification", "notify")
            .iter()
            .filter(|n| n.sync.as_deref() == Some("PairAgain"))
            .count(),
        2
    );
}

#[tokio::test]
async fn collect_yields_an_empty_list_when_nothing_matches() {
    let w = world(DEPARTURE_SYNCS);
    click(&w, "collect").await;
    *w.list.items.lock().unwrap() = vec![json!(7), json!(8)];
    click(&w, "collect").await;
    assert_eq!(
        *w.recorder.tags.lock().unwrap(),
        ["[]", r#"[{"item":7},{"item":8}]"#],
        "collect keeps the frame and binds [] instead of dropping it"
    );
}

#[tokio::test]
async fn an_optional_query_binds_null_and_not_keeps_only_empty() {
    let w = world(DEPARTURE_SYNCS);
    click(&w, "bio-1").await;
    click(&w, "plain").await;
    assert_eq!(*w.notification.sent.lock().unwrap(), ["about bio-1", "null"]);
    assert_eq!(*w.recorder.tags.lock().unwrap(), ["no bio for plain"]);
}

#[tokio::test]
async fn a_cycle_stops_at_the_quota_with_a_report() {
    let syncs = r#"
sync PingPong
when
    Ping.ping () : ()
then
    Ping.pong ()

sync PongPing
when
    Ping.pong () : ()
then
    Ping.ping ()
"#;
    let w = world_with(syncs, |b| b.step_quota(50));
    let r = w.engine.run("Ping", "ping", Record::new()).await.unwrap();
    assert_eq!(r.records.len(), 50);
    match r.status {
        FlowStatus::Runaway { steps, cycle } => {
            assert_eq!(steps, 50);
            assert_eq!(cycle, ["PingPong", "PongPing", "PingPong"]);
        }
        other => panic!("expected a runaway, got {other:?}"),
    }
}

#[tokio::test]
async fn a_panicking_action_becomes_an_error_outcome() {
    let w = world("sync Nothing\nwhen\n    Ping.ping () : ()\nthen\n    Ping.pong ()\n");
    let r = w.engine.run("Risky", "explode", Record::new()).await.unwrap();
    assert_eq!(
        r.records[0].outcome,
        Outcome::Error("internal error in Risky.explode".into())
    );
}

#[tokio::test]
async fn missing_and_mistyped_arguments_are_error_outcomes() {
    let w = world("sync Nothing\nwhen\n    Ping.ping () : ()\nthen\n    Ping.pong ()\n");
    let r = w.engine.run("Risky", "attempt", Record::new()).await.unwrap();
    assert_eq!(
        r.records[0].outcome,
        Outcome::Error("Risky.attempt: missing argument `fail`".into())
    );
    let r = w
        .engine
        .run("Risky", "attempt", rec(json!({"fail": "yes"})))
        .await
        .unwrap();
    assert_eq!(
        r.records[0].outcome,
        Outcome::Error("Risky.attempt: argument `fail`: invalid type: string \"yes\", expected a boolean".into())
    );
    let r = w
        .engine
        .run("Risky", "attempt", rec(json!({"fail": false, "extra": 1})))
        .await
        .unwrap();
    assert_eq!(
        r.records[0].outcome,
        Outcome::Error("Risky.attempt: unknown argument `extra`; its parameters are fail".into())
    );
    assert!(w.engine.run("Risky", "nope", Record::new()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_run_concurrently_and_stay_separate() {
    let w = world(REFERENCE_SYNCS);
    let handles: Vec<_> = (0..200)
        .map(|_| w.engine.spawn("Button", "clicked", rec(json!({"kind": "inc"}))))
        .collect();
    for h in handles {
        let r = h.await.unwrap().unwrap();
        assert!(r.records.iter().all(|rec| rec.flow == r.flow));
        assert_eq!(r.records_of("Counter", "increment").len(), 1);
    }
    assert_eq!(*w.counter.count.lock().unwrap(), 200);
}

#[tokio::test]
async fn replacing_the_program_changes_what_new_flows_do() {
    let w = world(REFERENCE_SYNCS);
    click(&w, "inc").await;
    let specs = w.engine.specs();
    let mut sources = SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new(
            "new.sync",
            "sync Other\nwhen\n    Button.clicked (kind: \"inc\") : ()\nthen\n    Notification.notify (message: \"hi\")\n",
        )],
        &specs,
    );
    w.engine.replace_program(checked.program.unwrap()).unwrap();
    click(&w, "inc").await;
    assert_eq!(*w.counter.count.lock().unwrap(), 1);
    assert_eq!(*w.notification.sent.lock().unwrap(), ["hi"]);
    assert_eq!(w.engine.sync_names(), ["Other"]);
}

// ---- trace lines ---------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Replaces UUIDs (flow and record ids) so traces can be compared.
fn redact_ids(text: &str) -> String {
    let is_hex = |c: char| c.is_ascii_hexdigit();
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let candidate: String = chars[i..chars.len().min(i + 36)].iter().collect();
        let shape = candidate.len() == 36
            && candidate.char_indices().all(|(k, c)| {
                if [8, 13, 18, 23].contains(&k) {
                    c == '-'
                } else {
                    is_hex(c)
                }
            });
        if shape {
            out.push_str("<id>");
            i += 36;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn each_completed_action_prints_one_trace_line_with_its_sync() {
    let w = world(REFERENCE_SYNCS);
    *w.list.items.lock().unwrap() = vec![json!("a")];
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            click(&w, "inc").await;
            click(&w, "fanout-plain").await;
        });
    });
    let text = redact_ids(&String::from_utf8(captured.0.lock().unwrap().clone()).unwrap());
    let expected = r#" INFO Button.clicked {"kind":"inc"} => {"kind":"inc"} flow=<id> sync=-
 INFO   Counter.increment {} => {} flow=<id> sync=ButtonIncrements
 INFO Button.clicked {"kind":"fanout-plain"} => {"kind":"fanout-plain"} flow=<id> sync=-
 INFO   Recorder.record {"tag":"a"} => {"tag":"a"} flow=<id> sync=FanoutPlain
 INFO     Recorder.record {"tag":"a:a"} => {"tag":"a:a"} flow=<id> sync=ChainRecordA
 INFO       Recorder.record {"tag":"a:done"} => {"tag":"a:done"} flow=<id> sync=PreventDoubleFire
"#;
    assert_eq!(text, expected);
}

#[tokio::test]
async fn sibling_syncs_share_query_answers_until_the_concept_acts() {
    let syncs = r#"
sync IsOff
when
    Button.clicked (kind: "toggle") : ()
where
    Toggle._state () : (on)
    on == false
then
    Recorder.record (tag: "was off")

sync IsOn
when
    Button.clicked (kind: "toggle") : ()
where
    not Toggle._state () : ()
then
    Recorder.record (tag: "never")

sync FlipWhenOff
when
    Button.clicked (kind: "toggle") : ()
where
    Toggle._state () : (on)
    on == false
then
    Toggle.flip ()

sync SeeAfterFlip
when
    Button.clicked (kind: "toggle") : ()
where
    Toggle._state () : (on)
then
    Recorder.record (tag: "now " + string(on))
"#;
    let w = world(syncs);
    click(&w, "toggle").await;
    assert_eq!(
        *w.recorder.tags.lock().unwrap(),
        ["was off", "now true"],
        "the flip (an action of Toggle) makes later syncs read Toggle again"
    );
    assert_eq!(
        *w.toggle.reads.lock().unwrap(),
        2,
        "one read before the flip, one after"
    );
}

#[tokio::test]
async fn explanations_name_the_where_step_that_stopped_a_sync() {
    let w = world(DEPARTURE_SYNCS);
    let r = click(&w, "bio-7").await;
    let lines: Vec<String> = w.engine.explain(&r).await.iter().map(ToString::to_string).collect();
    assert!(
        lines.contains(
            &"NotBio: where step 1 dropped every frame: `not Recorder._bio (tag: \"bio-7\")` found rows".to_string()
        ),
        "{lines:?}"
    );
    let r = click(&w, "twice").await;
    let lines: Vec<String> = w.engine.explain(&r).await.iter().map(ToString::to_string).collect();
    assert!(
        lines
            .contains(&"NotBio: where step 2 dropped every frame: a filter was false for kind = \"twice\"".to_string()),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("OnSuccess")),
        "syncs only on actions absent from the flow are not close: {lines:?}"
    );
}

#[tokio::test]
async fn explanations_are_data_every_renderer_formats() {
    use concord_engine::MissReason;
    let w = world(DEPARTURE_SYNCS);
    let r = click(&w, "bio-7").await;
    let misses = w.engine.explain(&r).await;
    let not_bio = misses.iter().find(|m| m.sync == "NotBio").expect("NotBio came close");
    assert!(
        matches!(&not_bio.reason, MissReason::StepDropped { step: 1, detail } if detail.contains("found rows")),
        "{not_bio:?}"
    );
    assert_eq!(not_bio.to_string(), format!("NotBio: {}", not_bio.reason));
}

#[tokio::test]
async fn an_else_answers_exactly_the_frames_its_step_drops() {
    // Δ: `else` — the frames a step drops, per frame and after fan-out, go
    // to its invocation (recorded as the companion `Sync.elseN`).
    let w = world(
        r#"
sync EachLongItem
when
    Button.clicked (kind: "items") : ()
where
    List._items () : (value)
    len(value) > 1
        else Recorder.record (tag: "short:" + value)
then
    Recorder.record (tag: "long:" + value)

sync NeedsItems
when
    Button.clicked (kind: "any") : ()
where
    List._items () : (value)
        else Recorder.record (tag: "none")
then
    Recorder.record (tag: "some")
"#,
    );
    *w.list.items.lock().unwrap() = vec![json!("a"), json!("bb"), json!("c")];
    let report = click(&w, "items").await;
    assert_eq!(
        *w.recorder.tags.lock().unwrap(),
        ["long:bb", "short:a", "short:c"],
        "the sync's own frames first, then its else's"
    );
    let syncs: Vec<_> = report.records.iter().filter_map(|r| r.sync.as_deref()).collect();
    assert_eq!(syncs, ["EachLongItem", "EachLongItem.else2", "EachLongItem.else2"]);

    w.recorder.tags.lock().unwrap().clear();
    click(&w, "any").await;
    assert_eq!(*w.recorder.tags.lock().unwrap(), ["some", "some", "some"]);
    w.recorder.tags.lock().unwrap().clear();
    w.list.items.lock().unwrap().clear();
    click(&w, "any").await;
    assert_eq!(*w.recorder.tags.lock().unwrap(), ["none"], "no rows: the else, once");
}

#[tokio::test]
async fn explanations_number_steps_as_written_when_views_are_used() {
    let w = world(
        r#"
view Doubled (kind) : (both)
    let twice = kind + kind
    let both = { one: kind, two: twice }

sync LongKinds
when
    Button.clicked (kind) : ()
where
    Doubled (kind) : (both)
    len(both.two) > 100
then
    Recorder.record (tag: kind)
"#,
    );
    let r = click(&w, "short").await;
    let lines: Vec<String> = w.engine.explain(&r).await.iter().map(ToString::to_string).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("LongKinds: where step 2 dropped every frame")),
        "the filter is the second step written, though the view became three: {lines:?}"
    );
}
