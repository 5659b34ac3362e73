//! The log policy, on every backend: read-only flows are kept in a bounded
//! window, flows that changed state are not touched by it; retention by size
//! removes the oldest flows whole; one record the database would refuse
//! (a NUL character) costs no other record of its batch. PostgreSQL cases run
//! in a database of their own, since trimming and pruning act on the whole log.

use std::sync::Arc;

use concord_concept::state::LogEntry;
use concord_concept::{FlowId, Record, RecordId};
use concord_store::{Backend, LogPolicy, Retention};
use serde_json::json;

struct Under {
    name: &'static str,
    backend: Arc<dyn Backend>,
    _dir: tempfile::TempDir,
    _db: Option<concord_store::testing::ScratchDatabase>,
}

async fn backends(policy: &LogPolicy) -> Vec<Under> {
    let mut out = Vec::new();
    out.push(Under {
        name: "sqlite-memory",
        backend: concord_store::open_with("sqlite::memory:", policy).await.unwrap(),
        _dir: tempfile::tempdir().unwrap(),
        _db: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let file = format!("sqlite://{}", dir.path().join("log.db").display());
    out.push(Under {
        name: "sqlite-file",
        backend: concord_store::open_with(&file, policy).await.unwrap(),
        _dir: dir,
        _db: None,
    });
    if let Some(db) = concord_store::testing::ScratchDatabase::create("log_policy").await {
        out.push(Under {
            name: "postgres",
            backend: concord_store::open_with(&db.url, policy).await.unwrap(),
            _dir: tempfile::tempdir().unwrap(),
            _db: Some(db),
        });
    }
    out
}

fn entry(flow: &str, seq: u32, completed_at: i64, kept: bool, input: serde_json::Value) -> LogEntry {
    LogEntry {
        id: RecordId::fresh().to_string(),
        flow: flow.to_string(),
        seq,
        concept: "C".into(),
        action: "act".into(),
        input: input.as_object().cloned().unwrap_or_default(),
        error: false,
        output: Record::new(),
        sync: None,
        matched: Vec::new(),
        started_at: completed_at - 1,
        completed_at,
        kept,
    }
}

#[tokio::test]
async fn read_only_flows_are_kept_in_a_window_and_written_flows_are_not_trimmed() {
    let policy = LogPolicy {
        read_only_window: 40,
        ..LogPolicy::default()
    };
    for under in backends(&policy).await {
        let (name, b) = (under.name, &under.backend);
        let start = concord_store::now_micros();
        let written: Vec<String> = (0..5).map(|_| FlowId::fresh().to_string()).collect();
        for (i, flow) in written.iter().enumerate() {
            let tx = b.begin().await.unwrap();
            tx.commit(vec![
                entry(flow, 0, start + i as i64, true, json!({"n": i})),
                entry(flow, 1, start + i as i64, true, json!({"n": i})),
            ])
            .await
            .unwrap();
        }
        let mut read_only = Vec::new();
        for i in 0..200i64 {
            let flow = FlowId::fresh().to_string();
            for seq in 0..2 {
                b.append_log(entry(
                    &flow,
                    seq,
                    start + 10 + i * 2 + i64::from(seq),
                    false,
                    json!({"i": i}),
                ))
                .await
                .unwrap();
            }
            read_only.push(flow);
            if i % 50 == 49 {
                b.flush_log().await;
            }
        }
        b.flush_log().await;
        let (records, _) = b.log_size().await.unwrap();
        // 10 written records, and at most the window and a quarter of it.
        assert!((10 + 40..=10 + 50 + 2).contains(&records), "{name}: {records} records");
        for flow in &written {
            assert_eq!(
                b.flow_log(flow.clone()).await.unwrap().len(),
                2,
                "{name}: a written flow was trimmed"
            );
        }
        for flow in &read_only[180..] {
            assert_eq!(
                b.flow_log(flow.clone()).await.unwrap().len(),
                2,
                "{name}: a recent flow was trimmed"
            );
        }
        for flow in &read_only[..100] {
            assert!(
                b.flow_log(flow.clone()).await.unwrap().is_empty(),
                "{name}: an old read-only flow stayed"
            );
        }
        for flow in &read_only {
            let n = b.flow_log(flow.clone()).await.unwrap().len();
            assert!(n == 0 || n == 2, "{name}: a flow was cut in half ({n} of 2 records)");
        }
    }
}

#[tokio::test]
async fn retention_by_size_removes_the_oldest_flows_whole() {
    for under in backends(&LogPolicy::default()).await {
        let (name, b) = (under.name, &under.backend);
        let start = concord_store::now_micros();
        let padding = "x".repeat(1000);
        let flows: Vec<String> = (0..30).map(|_| FlowId::fresh().to_string()).collect();
        for (i, flow) in flows.iter().enumerate() {
            let tx = b.begin().await.unwrap();
            let at = start + i as i64 * 10;
            tx.commit(vec![
                entry(flow, 0, at, true, json!({"pad": padding})),
                entry(flow, 1, at + 1, true, json!({"pad": padding})),
            ])
            .await
            .unwrap();
        }
        let (_, before) = b.log_size().await.unwrap();
        assert!(before > 60_000, "{name}: {before} bytes");
        let limit = 20_000;
        let pruned = b
            .prune(Retention {
                before: None,
                max_bytes: Some(limit),
            })
            .await
            .unwrap();
        let (records, bytes) = b.log_size().await.unwrap();
        assert!(bytes <= limit, "{name}: {bytes} bytes left");
        assert!(bytes > limit / 2, "{name}: pruned too much ({bytes} bytes left)");
        assert_eq!(records % 2, 0, "{name}: a flow was cut ({records} records)");
        assert_eq!(pruned + records, 60, "{name}");
        assert_eq!(
            b.flow_log(flows[29].clone()).await.unwrap().len(),
            2,
            "{name}: the newest flow went"
        );
        assert!(
            b.flow_log(flows[0].clone()).await.unwrap().is_empty(),
            "{name}: the oldest flow stayed"
        );
        // Under the limit, nothing more goes.
        let again = b
            .prune(Retention {
                before: None,
                max_bytes: Some(limit),
            })
            .await
            .unwrap();
        assert_eq!(again, 0, "{name}");
    }
}

#[tokio::test]
async fn a_nul_character_costs_no_other_record() {
    for under in backends(&LogPolicy::default()).await {
        let (name, b) = (under.name, &under.backend);
        let start = concord_store::now_micros();
        let flows: Vec<String> = (0..200).map(|_| FlowId::fresh().to_string()).collect();
        for (i, flow) in flows.iter().enumerate() {
            let input = match i {
                77 => json!({"title": "a\u{0}b", "nested": {"k\u{0}ey": ["\u{0}"]}}),
                _ => json!({"title": "fine"}),
            };
            b.append_log(entry(flow, 0, start + i as i64, false, input))
                .await
                .unwrap();
        }
        b.flush_log().await;
        for (i, flow) in flows.iter().enumerate() {
            let log = b.flow_log(flow.clone()).await.unwrap();
            assert_eq!(log.len(), 1, "{name}: flow {i} lost its record");
        }
        let odd = &b.flow_log(flows[77].clone()).await.unwrap()[0];
        assert_eq!(odd.input["title"], "a\u{fffd}b", "{name}");
        assert_eq!(odd.input["nested"]["k\u{fffd}ey"][0], "\u{fffd}", "{name}");
        // In a write transaction too.
        let flow = FlowId::fresh().to_string();
        let tx = b.begin().await.unwrap();
        tx.commit(vec![entry(&flow, 0, start, true, json!({"t": "\u{0}"}))])
            .await
            .unwrap();
        assert_eq!(b.flow_log(flow).await.unwrap().len(), 1, "{name}");
    }
}
