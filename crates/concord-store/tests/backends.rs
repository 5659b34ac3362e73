//! One contract, every backend: the same tests run on in-memory SQLite, a
//! SQLite file and PostgreSQL. PostgreSQL is reached through
//! `CONCORD_TEST_POSTGRES_URL` (`scripts/test-postgres.sh` starts one); under
//! CI (`CI=true`) its absence fails the suite instead of skipping it.

use std::sync::Arc;

use concord_concept::state::{Change, CollectionSpec, Cond, LogEntry, Op, OpResult, Query};
use concord_concept::{FlowId, Record, RecordId, StateError};
use concord_store::{Backend, StoreError};
use serde_json::{Value, json};

/// Every backend under test, each with a fresh collection namespace.
async fn backends() -> Vec<(String, Arc<dyn Backend>, tempfile::TempDir)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    out.push((
        "sqlite-memory".to_string(),
        concord_store::open("sqlite::memory:").await.unwrap(),
        tempfile::tempdir().unwrap(),
    ));
    let file = format!("sqlite://{}", dir.path().join("test.db").display());
    out.push((
        "sqlite-file".to_string(),
        concord_store::open(&file).await.unwrap(),
        dir,
    ));
    if let Some(url) = concord_store::testing::postgres_url() {
        out.push((
            "postgres".to_string(),
            concord_store::open(&url).await.unwrap(),
            tempfile::tempdir().unwrap(),
        ));
    }
    out
}

/// A collection name no other test (or earlier run) uses.
fn fresh_collection() -> String {
    format!("T{}.docs", uuid_like())
}

fn uuid_like() -> String {
    RecordId::fresh().to_string().replace('-', "")
}

fn entry(flow: &str, seq: u32, concept: &str, completed_at: i64) -> LogEntry {
    LogEntry {
        id: RecordId::fresh().to_string(),
        flow: flow.to_string(),
        seq,
        concept: concept.to_string(),
        action: "act".into(),
        input: json!({"password": "<redacted>", "n": seq}).as_object().unwrap().clone(),
        error: false,
        output: Record::new(),
        sync: (seq > 0).then(|| "S".to_string()),
        matched: Vec::new(),
        started_at: completed_at - 5,
        completed_at,
        kept: true,
    }
}

async fn setup(backend: &Arc<dyn Backend>, unique: &[&str], indexes: &[&str]) -> String {
    let name = fresh_collection();
    backend
        .ensure_collections(vec![CollectionSpec {
            name: name.clone(),
            unique: unique.iter().map(|s| s.to_string()).collect(),
            indexes: indexes.iter().map(|s| s.to_string()).collect(),
        }])
        .await
        .unwrap();
    name
}

async fn write(backend: &Arc<dyn Backend>, ops: Vec<Op>) -> Vec<Result<OpResult, StateError>> {
    let mut tx = backend.begin().await.unwrap();
    let mut results = Vec::new();
    for op in ops {
        results.push(tx.run(op).await);
    }
    tx.commit(vec![entry(
        &FlowId::fresh().to_string(),
        0,
        "T",
        concord_store::now_micros(),
    )])
    .await
    .unwrap();
    results
}

fn insert(c: &str, id: &str, doc: Value) -> Op {
    Op::Insert {
        collection: c.into(),
        id: id.into(),
        doc,
    }
}

async fn ids(backend: &Arc<dyn Backend>, c: &str, query: Query) -> Vec<String> {
    match backend
        .read(Op::Find {
            collection: c.into(),
            query,
        })
        .await
        .unwrap()
    {
        OpResult::Docs(d) => d.into_iter().map(|(id, _)| id).collect(),
        other => panic!("{other:?}"),
    }
}

async fn count(backend: &Arc<dyn Backend>, c: &str, query: Query) -> u64 {
    match backend
        .read(Op::Count {
            collection: c.into(),
            query,
        })
        .await
        .unwrap()
    {
        OpResult::Count(n) => n,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn distinct_lists_each_value_once_in_order() {
    for (name, b, _dir) in backends().await {
        let c = setup(&b, &[], &["tag"]).await;
        write(
            &b,
            vec![
                insert(&c, "a", json!({"tag": "rust", "on": 1})),
                insert(&c, "b", json!({"tag": "design", "on": 1})),
                insert(&c, "c", json!({"tag": "rust", "on": 2})),
                insert(&c, "d", json!({"on": 2})),
                insert(&c, "e", json!({"tag": "zed", "on": 2})),
            ],
        )
        .await;
        let distinct = |query: Query| {
            let b = b.clone();
            let c = c.clone();
            async move {
                match b
                    .read(Op::Distinct {
                        collection: c,
                        field: "tag".into(),
                        query,
                    })
                    .await
                    .unwrap()
                {
                    OpResult::Docs(d) => d.into_iter().map(|(_, doc)| doc["tag"].clone()).collect::<Vec<_>>(),
                    other => panic!("{other:?}"),
                }
            }
        };
        // In order, each once, documents without it aside.
        assert_eq!(
            distinct(Query::all()).await,
            [json!("design"), json!("rust"), json!("zed")],
            "{name}"
        );
        assert_eq!(
            distinct(Query::eq("on", 2)).await,
            [json!("rust"), json!("zed")],
            "{name}"
        );
        assert_eq!(
            distinct(Query::all().offset(1).limit(1)).await,
            [json!("rust")],
            "{name}"
        );
        let bad = b
            .read(Op::Distinct {
                collection: c.clone(),
                field: "tag'); drop".into(),
                query: Query::all(),
            })
            .await;
        assert!(bad.is_err(), "{name}: field names are checked");
    }
}

#[tokio::test]
async fn count_by_counts_each_value_in_order() {
    for (name, b, _dir) in backends().await {
        let c = setup(&b, &[], &["target"]).await;
        write(
            &b,
            vec![
                insert(&c, "a", json!({"target": "t2", "user": "u1"})),
                insert(&c, "b", json!({"target": "t1", "user": "u1"})),
                insert(&c, "c", json!({"target": "t2", "user": "u2"})),
                insert(&c, "d", json!({"user": "u3"})),
                insert(&c, "e", json!({"target": "t3", "user": "u2"})),
            ],
        )
        .await;
        let count_by = |query: Query| {
            let b = b.clone();
            let c = c.clone();
            async move {
                match b
                    .read(Op::CountBy {
                        collection: c,
                        field: "target".into(),
                        query,
                    })
                    .await
                    .unwrap()
                {
                    OpResult::Docs(d) => d
                        .into_iter()
                        .map(|(_, doc)| (doc["target"].clone(), doc["count"].clone()))
                        .collect::<Vec<_>>(),
                    other => panic!("{other:?}"),
                }
            }
        };
        assert_eq!(
            count_by(Query::all()).await,
            [
                (json!("t1"), json!(1)),
                (json!("t2"), json!(2)),
                (json!("t3"), json!(1))
            ],
            "{name}"
        );
        // Restricted to some values: the others are not counted, and a value
        // no document has is absent (not zero).
        let among = Query::all().and(Cond::In("target".into(), vec![json!("t2"), json!("t9")]));
        assert_eq!(count_by(among).await, [(json!("t2"), json!(2))], "{name}");
        assert_eq!(
            count_by(Query::eq("user", "u2")).await,
            [(json!("t2"), json!(1)), (json!("t3"), json!(1))],
            "{name}"
        );
        let bad = b
            .read(Op::CountBy {
                collection: c.clone(),
                field: "target'); drop".into(),
                query: Query::all(),
            })
            .await;
        assert!(bad.is_err(), "{name}: field names are checked");
    }
}

#[tokio::test]
async fn find_filters_sorts_and_pages() {
    for (name, b, _dir) in backends().await {
        let c = setup(&b, &[], &["n"]).await;
        write(
            &b,
            vec![
                insert(&c, "a", json!({"n": 3, "tag": "x", "bio": null})),
                insert(&c, "b", json!({"n": 1, "tag": "y"})),
                insert(&c, "c", json!({"n": 2, "tag": "x", "bio": "hi"})),
                insert(&c, "d", json!({"n": 10, "tag": "z", "ok": true})),
            ],
        )
        .await;
        assert_eq!(ids(&b, &c, Query::eq("tag", "x")).await, ["a", "c"], "{name}");
        assert_eq!(
            ids(&b, &c, Query::all().sort("n", true)).await,
            ["b", "c", "a", "d"],
            "{name}"
        );
        assert_eq!(
            ids(&b, &c, Query::all().sort("n", false).limit(2)).await,
            ["d", "a"],
            "{name}"
        );
        assert_eq!(
            ids(&b, &c, Query::all().sort("n", true).offset(1).limit(2)).await,
            ["c", "a"],
            "{name}"
        );
        assert_eq!(
            ids(&b, &c, Query::all().sort("n", true).offset(3)).await,
            ["d"],
            "{name}"
        );
        let lt = Query::all().and(Cond::Lt("n".into(), json!(3))).sort("n", true);
        assert_eq!(ids(&b, &c, lt).await, ["b", "c"], "{name}: numbers compare as numbers");
        let gt = Query::all().and(Cond::Gt("n".into(), json!(2))).sort("n", true);
        assert_eq!(ids(&b, &c, gt).await, ["a", "d"], "{name}");
        let ne = Query::all().and(Cond::Ne("tag".into(), json!("x"))).sort("n", true);
        assert_eq!(ids(&b, &c, ne).await, ["b", "d"], "{name}");
        let inn = Query::all()
            .and(Cond::In("tag".into(), vec![json!("y"), json!("z")]))
            .sort("n", true);
        assert_eq!(ids(&b, &c, inn).await, ["b", "d"], "{name}");
        let none = Query::all().and(Cond::In("tag".into(), vec![]));
        assert!(ids(&b, &c, none).await.is_empty(), "{name}");
        let has_bio = Query::all().and(Cond::Exists("bio".into(), true));
        assert_eq!(ids(&b, &c, has_bio).await, ["c"], "{name}: null counts as absent");
        let no_bio = Query::all().and(Cond::Exists("bio".into(), false)).sort("n", true);
        assert_eq!(ids(&b, &c, no_bio).await, ["b", "a", "d"], "{name}");
        assert_eq!(ids(&b, &c, Query::eq("ok", true)).await, ["d"], "{name}: booleans");
        assert_eq!(count(&b, &c, Query::eq("tag", "x")).await, 2, "{name}");
        assert_eq!(
            count(&b, &c, Query::all().limit(1)).await,
            4,
            "{name}: count ignores paging"
        );
        assert_eq!(ids(&b, &c, Query::id("c")).await, ["c"], "{name}");
        let among = Query::all().and(Cond::IdIn(vec!["d".into(), "a".into(), "zz".into()]));
        assert_eq!(ids(&b, &c, among.sort("n", true)).await, ["a", "d"], "{name}");
        let among_none = Query::all().and(Cond::IdIn(vec![]));
        assert!(ids(&b, &c, among_none).await.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn updates_replace_and_deletes() {
    for (name, b, _dir) in backends().await {
        let c = setup(&b, &[], &[]).await;
        write(
            &b,
            vec![
                insert(&c, "a", json!({"n": 1, "keep": "k"})),
                insert(&c, "b", json!({"n": 1})),
            ],
        )
        .await;
        let set = json!({"n": 5, "bio": null}).as_object().unwrap().clone();
        let r = write(
            &b,
            vec![Op::Update {
                collection: c.clone(),
                query: Query::id("a"),
                change: Change::Set(set),
            }],
        )
        .await;
        assert_eq!(r[0], Ok(OpResult::Count(1)), "{name}");
        let docs = b
            .read(Op::Find {
                collection: c.clone(),
                query: Query::id("a"),
            })
            .await
            .unwrap();
        assert_eq!(
            docs,
            OpResult::Docs(vec![("a".into(), json!({"n": 5, "keep": "k", "bio": null}))]),
            "{name}"
        );
        write(
            &b,
            vec![Op::Update {
                collection: c.clone(),
                query: Query::id("b"),
                change: Change::Replace(json!({"other": true})),
            }],
        )
        .await;
        assert_eq!(ids(&b, &c, Query::eq("other", true)).await, ["b"], "{name}");
        let r = write(
            &b,
            vec![Op::Delete {
                collection: c.clone(),
                query: Query::all().limit(1),
            }],
        )
        .await;
        assert_eq!(r[0], Ok(OpResult::Count(1)), "{name}: delete one");
        assert_eq!(count(&b, &c, Query::all()).await, 1, "{name}");
        let r = write(
            &b,
            vec![Op::Delete {
                collection: c.clone(),
                query: Query::all(),
            }],
        )
        .await;
        assert_eq!(r[0], Ok(OpResult::Count(1)), "{name}");
        assert_eq!(count(&b, &c, Query::all()).await, 0, "{name}");
    }
}

#[tokio::test]
async fn unique_fields_are_enforced_by_the_database_with_a_typed_error() {
    for (name, b, _dir) in backends().await {
        let c = setup(&b, &["username"], &[]).await;
        write(&b, vec![insert(&c, "u1", json!({"username": "ada"}))]).await;
        let mut tx = b.begin().await.unwrap();
        let dup = tx.run(insert(&c, "u2", json!({"username": "ada"}))).await;
        assert_eq!(
            dup,
            Err(StateError::Unique {
                collection: c.clone(),
                field: "username".into()
            }),
            "{name}"
        );
        drop(tx);
        let mut tx = b.begin().await.unwrap();
        let same_id = tx.run(insert(&c, "u1", json!({"username": "bob"}))).await;
        assert!(
            matches!(same_id, Err(StateError::Unique { ref field, .. }) if field == "_id"),
            "{name}: {same_id:?}"
        );
        drop(tx);
        assert_eq!(count(&b, &c, Query::all()).await, 1, "{name}");
    }
}

#[tokio::test]
async fn a_transaction_sees_its_writes_and_rolls_back_when_dropped() {
    for (name, b, _dir) in backends().await {
        let c = setup(&b, &[], &[]).await;
        let mut tx = b.begin().await.unwrap();
        tx.run(insert(&c, "a", json!({"n": 1}))).await.unwrap();
        let inside = tx
            .run(Op::Find {
                collection: c.clone(),
                query: Query::all(),
            })
            .await
            .unwrap();
        assert!(matches!(inside, OpResult::Docs(ref d) if d.len() == 1), "{name}");
        drop(tx);
        // PostgreSQL rolls back on a spawned task; give it a moment.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(
            count(&b, &c, Query::all()).await,
            0,
            "{name}: nothing of a dropped transaction remains"
        );
        write(&b, vec![insert(&c, "b", json!({"n": 2}))]).await;
        assert_eq!(count(&b, &c, Query::all()).await, 1, "{name}");
    }
}

#[tokio::test]
async fn the_log_is_queryable_by_flow_and_time_and_pruned() {
    for (name, b, _dir) in backends().await {
        let concept = format!("C{}", uuid_like());
        let (f1, f2) = (FlowId::fresh().to_string(), FlowId::fresh().to_string());
        let old = concord_store::now_micros() - 3_600_000_000;
        let now = concord_store::now_micros();
        for (flow, at) in [(&f1, old), (&f2, now)] {
            for seq in 0..3 {
                let tx = b.begin().await.unwrap();
                tx.commit(vec![entry(flow, seq, &concept, at + seq as i64)])
                    .await
                    .unwrap();
            }
        }
        b.append_log(entry(&f2, 3, &concept, now + 10)).await.unwrap();
        let log = b.flow_log(f2.clone()).await.unwrap();
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2, 3], "{name}");
        assert_eq!(log[1].sync.as_deref(), Some("S"), "{name}");
        assert_eq!(log[0].input["password"], "<redacted>", "{name}");
        let recent = b.flows(now - 1_000_000, now + 1_000_000, 10).await.unwrap();
        assert!(
            recent.iter().any(|f| f.flow == f2 && f.actions == 4),
            "{name}: {recent:?}"
        );
        assert!(!recent.iter().any(|f| f.flow == f1), "{name}");
        let pruned = b
            .prune(concord_store::Retention {
                before: Some(now - 1_000_000),
                max_bytes: None,
            })
            .await
            .unwrap();
        assert!(pruned >= 3, "{name}: {pruned}");
        assert!(b.flow_log(f1).await.unwrap().is_empty(), "{name}");
        assert_eq!(b.flow_log(f2).await.unwrap().len(), 4, "{name}");
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_an_older_one_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("versions.db");
    let url = format!("sqlite://{}", path.display());
    let b = concord_store::open(&url).await.unwrap();
    assert_eq!(b.schema_version().await.unwrap(), concord_store::SCHEMA_VERSION);
    drop(b);
    // Roll the file back to version 1, as an older build left it, with a
    // logged record in it.
    {
        let conn = rusqlite_connection(&path);
        conn.execute_batch(
            "DROP TABLE concord_log; DROP TABLE concord_collections; \
             CREATE TABLE concord_log (id TEXT PRIMARY KEY, flow TEXT NOT NULL, seq INTEGER NOT NULL, \
               concept TEXT NOT NULL, action TEXT NOT NULL, input TEXT NOT NULL, error INTEGER NOT NULL, \
               output TEXT NOT NULL, sync TEXT, matched TEXT NOT NULL, started_at INTEGER NOT NULL, \
               completed_at INTEGER NOT NULL); \
             CREATE INDEX concord_log_flow ON concord_log (flow, seq); \
             INSERT INTO concord_log VALUES ('r1', 'f1', 0, 'A', 'b', '{\"x\":1}', 0, '{}', NULL, '[]', 1, 2); \
             UPDATE concord_meta SET value = '1' WHERE key = 'schema_version';",
        )
        .unwrap();
    }
    let b = concord_store::open(&url).await.unwrap();
    assert_eq!(
        b.schema_version().await.unwrap(),
        concord_store::SCHEMA_VERSION,
        "migrated forward"
    );
    let kept = b.flow_log("f1".into()).await.unwrap();
    assert_eq!(
        (kept.len(), kept[0].input["x"].clone()),
        (1, serde_json::json!(1)),
        "the log survives migration"
    );
    b.ensure_collections(vec![CollectionSpec {
        name: "A.b".into(),
        ..Default::default()
    }])
    .await
    .expect("the v2 registry exists again");
    drop(b);
    rusqlite_connection(&path)
        .execute_batch("UPDATE concord_meta SET value = '99' WHERE key = 'schema_version'")
        .unwrap();
    match concord_store::open(&url).await {
        Err(e @ StoreError::TooNew { found: 99, .. }) => {
            assert!(e.to_string().contains("newer than this build supports"), "{e}");
        }
        Err(other) => panic!("expected TooNew, got {other}"),
        Ok(_) => panic!("expected TooNew, got a store"),
    }
}

fn rusqlite_connection(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test]
async fn urls_are_checked() {
    assert!(matches!(
        concord_store::open("mysql://x").await,
        Err(StoreError::Url(_))
    ));
    assert!(matches!(
        concord_store::open("postgres://127.0.0.1:1/none").await,
        Err(StoreError::Connect(_))
    ));
}
