//! The flow journal as a store keeps it: written in an action's
//! transaction, claimed once, closed with the flow's last records, fenced by
//! owner (a node that lost its flow cannot write it), and resumptions kept
//! until the log's retention.

use concord_concept::state::{Claim, CollectionSpec, LogEntry, Op};
use concord_concept::{FlowId, StateError};
use concord_store::{Backend, LogPolicy, NodeSettings, Retention};
use serde_json::json;

fn node(name: &str, lease_ms: u64) -> NodeSettings {
    NodeSettings {
        node: name.into(),
        lease: std::time::Duration::from_millis(lease_ms),
        journal_key: Some("ab".repeat(32)),
    }
}

fn entry(flow: &str, seq: u32) -> LogEntry {
    LogEntry {
        id: concord_concept::RecordId::fresh().to_string(),
        flow: flow.into(),
        seq,
        concept: "J".into(),
        action: "step".into(),
        input: Default::default(),
        error: false,
        output: Default::default(),
        sync: None,
        matched: Vec::new(),
        started_at: concord_store::now_micros(),
        completed_at: concord_store::now_micros(),
        kept: true,
    }
}

/// One action's write with `snapshot` as its flow's journal.
async fn write(
    store: &dyn Backend,
    collection: &str,
    flow: &str,
    seq: u32,
    snapshot: Option<&str>,
) -> Result<(), StateError> {
    let mut tx = store.begin().await?;
    tx.run(Op::Insert {
        collection: collection.into(),
        id: format!("{flow}-{seq}"),
        doc: json!({"seq": seq}),
    })
    .await?;
    tx.write_journal(flow, snapshot.map(|s| s.as_bytes().to_vec())).await?;
    tx.commit(vec![entry(flow, seq)]).await
}

async fn with_collection(store: &dyn Backend, collection: &str) {
    store
        .ensure_collections(vec![CollectionSpec {
            name: collection.into(),
            ..Default::default()
        }])
        .await
        .unwrap();
}

async fn contract(url: &str) {
    let a = concord_store::open_node(url, &LogPolicy::default(), &node("node-a", 60_000))
        .await
        .unwrap();
    let collection = format!("J{}.docs", FlowId::fresh().to_string().replace('-', ""));
    with_collection(&*a, &collection).await;
    let flow = FlowId::fresh().to_string();
    write(&*a, &collection, &flow, 0, Some("after 0")).await.unwrap();
    write(&*a, &collection, &flow, 1, Some("after 1")).await.unwrap();
    assert_eq!(
        a.open_flow_owner(flow.clone()).await.unwrap().as_deref(),
        Some("node-a")
    );
    let stored = a.flow_log(flow.clone()).await.unwrap();
    assert_eq!(stored.len(), 2, "the records committed with their writes");

    // At start, the node's own open flows come back, with the latest snapshot.
    let claimed = a.claim_flows(Claim::AtStart).await.unwrap();
    let mine = claimed
        .iter()
        .find(|o| o.flow == flow)
        .expect("the open flow is claimed");
    assert_eq!(mine.snapshot, b"after 1");
    assert_eq!(mine.previous_owner, "node-a");

    // Closing the flow deletes its journal with its last records.
    a.finish_flow(flow.clone(), vec![entry(&flow, 2)]).await.unwrap();
    a.flush_log().await;
    assert_eq!(a.open_flow_owner(flow.clone()).await.unwrap(), None);
    assert_eq!(a.flow_log(flow.clone()).await.unwrap().len(), 3);
    assert!(
        !a.claim_flows(Claim::AtStart)
            .await
            .unwrap()
            .iter()
            .any(|o| o.flow == flow),
        "a closed flow is not claimed again"
    );

    // Resumptions are recorded, and go with the log's retention.
    a.note_resumption(flow.clone(), 2, "node-z".into()).await.unwrap();
    let r = a.resumptions(flow.clone()).await.unwrap();
    assert_eq!((r.len(), r[0].from_seq, r[0].node.as_str()), (1, 2, "node-a"));
    a.prune(Retention {
        before: Some(concord_store::now_micros() + 1),
        max_bytes: None,
    })
    .await
    .unwrap();
    assert!(a.resumptions(flow).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    contract(&format!("sqlite://{}", dir.path().join("j.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_contract_on_postgres() {
    let Some(db) = concord_store::testing::ScratchDatabase::create("concord_journal").await else {
        return;
    };
    contract(&db.url).await;
}

/// Node a's lease expires; node b takes the flow over; a's next write to it
/// fails as `FlowTakenOver` and commits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_flow_cannot_write_it() {
    let Some(db) = concord_store::testing::ScratchDatabase::create("concord_fence").await else {
        return;
    };
    let a = concord_store::open_node(&db.url, &LogPolicy::default(), &node("node-a", 50))
        .await
        .unwrap();
    let b = concord_store::open_node(&db.url, &LogPolicy::default(), &node("node-b", 60_000))
        .await
        .unwrap();
    let collection = "Fence.docs".to_string();
    with_collection(&*a, &collection).await;
    let flow = FlowId::fresh().to_string();
    write(&*a, &collection, &flow, 0, Some("a's")).await.unwrap();
    assert!(
        b.claim_flows(Claim::Expired).await.unwrap().is_empty(),
        "a's lease is live"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let taken = b.claim_flows(Claim::Expired).await.unwrap();
    assert_eq!(taken.len(), 1, "b takes the expired flow");
    assert_eq!(
        (taken[0].previous_owner.as_str(), taken[0].snapshot.as_slice()),
        ("node-a", &b"a's"[..])
    );
    assert!(b.claim_flows(Claim::Expired).await.unwrap().is_empty(), "once");
    assert_eq!(
        write(&*a, &collection, &flow, 1, Some("a's again")).await,
        Err(StateError::FlowTakenOver)
    );
    assert_eq!(
        a.flow_log(flow.clone()).await.unwrap().len(),
        1,
        "a's refused write committed nothing"
    );
    write(&*b, &collection, &flow, 1, None).await.unwrap();
    assert_eq!(b.open_flow_owner(flow).await.unwrap(), None, "b finished it");
}

/// A node whose key cannot open a flow's snapshot gives the flow back, and
/// a node with the right key takes it over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_sealed_with_another_key_is_left_to_a_node_that_can_open_it() {
    let Some(db) = concord_store::testing::ScratchDatabase::create("concord_keys").await else {
        return;
    };
    let open = |settings: NodeSettings| {
        let url = db.url.clone();
        async move {
            concord_store::open_node(&url, &LogPolicy::default(), &settings)
                .await
                .unwrap()
        }
    };
    let a = open(node("node-a", 50)).await;
    let other_key = open(NodeSettings {
        journal_key: Some("cd".repeat(32)),
        ..node("node-c", 60_000)
    })
    .await;
    let b = open(node("node-b", 60_000)).await;
    let collection = "Keys.docs".to_string();
    with_collection(&*a, &collection).await;
    let flow = FlowId::fresh().to_string();
    write(&*a, &collection, &flow, 0, Some("sealed by a")).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        other_key.claim_flows(Claim::Expired).await.unwrap().is_empty(),
        "c cannot open it"
    );
    assert_eq!(
        other_key.open_flow_owner(flow.clone()).await.unwrap().as_deref(),
        Some("node-a"),
        "c gave it back"
    );
    assert!(
        other_key.claim_flows(Claim::Expired).await.unwrap().is_empty(),
        "and leaves it alone"
    );
    let taken = b.claim_flows(Claim::Expired).await.unwrap();
    assert_eq!(taken.len(), 1, "b, with a's key, takes it over");
    assert_eq!(taken[0].snapshot, b"sealed by a");
}
