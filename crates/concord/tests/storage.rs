//! Concept state and the action log through the engine, on a SQLite file and
//! on PostgreSQL (`CONCORD_TEST_POSTGRES_URL`; required when `CI=true`):
//! atomic actions, no lost updates, uniqueness under concurrency, the log,
//! two processes sharing PostgreSQL, and SIGKILL in the middle of a load.

use std::process::{Command, Stdio};
use std::sync::Arc;

use concord::store::Backend;
use concord::{ActionContext, Engine, EngineBuilder, Outputs, Query, QueryContext, Record, StateError, concept};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Default)]
struct Bank;

#[derive(Serialize, Deserialize)]
struct Counter {
    n: i64,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    transfer: String,
    side: String,
}

#[derive(Serialize, Deserialize)]
struct Account {
    username: String,
}

#[derive(Outputs)]
struct UserOut {
    user: String,
}

#[derive(Outputs)]
struct CountRow {
    n: i64,
}

#[concept(
    collection = "counters",
    collection = "entries",
    index = "entries.transfer",
    unique = "accounts.username"
)]
impl Bank {
    /// Read, then write: the classic lost-update shape.
    pub async fn increment(&self, ctx: &mut ActionContext, counter: String) -> Result<(), String> {
        let mut counters = ctx.collection::<Counter>("counters");
        match counters.get(&counter).await? {
            Some(c) => counters.replace(&counter, &Counter { n: c.n + 1 }).await.map(|_| ()),
            None => counters.insert(&counter, &Counter { n: 1 }).await,
        }
        .map_err(String::from)
    }

    /// Writes the debit, then fails (if asked) before writing the credit.
    pub async fn transfer(&self, ctx: &mut ActionContext, id: String, fail: bool) -> Result<(), String> {
        let mut entries = ctx.collection::<Entry>("entries");
        let debit = Entry {
            transfer: id.clone(),
            side: "debit".into(),
        };
        entries.insert(&format!("{id}-debit"), &debit).await?;
        if fail {
            return Err("refused halfway".into());
        }
        let credit = Entry {
            transfer: id.clone(),
            side: "credit".into(),
        };
        entries
            .insert(&format!("{id}-credit"), &credit)
            .await
            .map_err(String::from)
    }

    pub async fn register(
        &self,
        ctx: &mut ActionContext,
        username: String,
        #[sensitive] password: String,
    ) -> Result<UserOut, String> {
        let _ = password;
        let id = ctx.fresh_id();
        match ctx
            .collection::<Account>("accounts")
            .insert(&id, &Account { username })
            .await
        {
            Ok(()) => Ok(UserOut { user: id }),
            Err(e) if e.is_unique_violation() => Err("username taken".into()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn _count(&self, ctx: &QueryContext, counter: String) -> Result<Vec<CountRow>, StateError> {
        Ok(ctx
            .collection::<Counter>("counters")
            .get(&counter)
            .await?
            .map(|c| CountRow { n: c.n })
            .into_iter()
            .collect())
    }
}

const SYNCS: &str = r#"
sync CountAgain
when
    Bank.increment (counter: "chained") : ()
where
    Bank._count (counter: "chained") : (n)
    n < 3
then
    Bank.increment (counter: "chained")
"#;

/// (name, url) of every database under test; SQLite files live in `dir`.
fn databases(dir: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    let mut out = vec![(
        "sqlite-file",
        format!("sqlite://{}", dir.path().join("bank.db").display()),
    )];
    out.extend(concord::store::testing::postgres_url().map(|u| ("postgres", u)));
    out
}

async fn engine(url: &str) -> (Engine, Arc<dyn Backend>) {
    let store = concord::store::open(url).await.unwrap();
    store
        .ensure_collections(concord::Concept::spec(&Bank).collections)
        .await
        .unwrap();
    let builder = EngineBuilder::new().concept(Bank).store(store.clone());
    let mut sources = concord::syntax::SourceMap::new();
    let checked = concord::check::load(
        &mut sources,
        vec![concord::check::SourceText::new("t.sync", SYNCS)],
        &builder.specs(),
    );
    (builder.build(checked.program.expect("syncs check")).unwrap(), store)
}

fn rec(v: Value) -> Record {
    v.as_object().cloned().unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", concord::RecordId::fresh())
}

async fn entries_of(store: &Arc<dyn Backend>, transfer: &str) -> Vec<String> {
    use concord::store::{Op, OpResult};
    let op = Op::Find {
        collection: "Bank.entries".into(),
        query: Query::eq("transfer", transfer),
    };
    match store.read(op).await.unwrap() {
        OpResult::Docs(d) => d.into_iter().map(|(id, _)| id).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_that_fails_halfway_leaves_no_state_but_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    for (name, url) in databases(&dir) {
        let (e, store) = engine(&url).await;
        let (ok, bad) = (unique("ok"), unique("bad"));
        let done = e
            .run("Bank", "transfer", rec(json!({"id": ok, "fail": false})))
            .await
            .unwrap();
        let report = e
            .run("Bank", "transfer", rec(json!({"id": bad, "fail": true})))
            .await
            .unwrap();
        assert!(report.records[0].outcome.is_error(), "{name}");
        assert_eq!(entries_of(&store, &ok).await.len(), 2, "{name}");
        assert!(
            entries_of(&store, &bad).await.is_empty(),
            "{name}: the debit was rolled back"
        );
        let log = store.flow_log(report.flow.to_string()).await.unwrap();
        assert_eq!(log.len(), 1, "{name}");
        assert!(log[0].error, "{name}");
        assert_eq!(log[0].output["error"], "refused halfway", "{name}");
        assert!(
            !log[0].kept,
            "{name}: a flow that changed nothing is read-only (kept in the window)"
        );
        let log = store.flow_log(done.flow.to_string()).await.unwrap();
        assert!(log[0].kept, "{name}: a flow that changed state is kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_increments_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (name, url) in databases(&dir) {
        let (e, store) = engine(&url).await;
        let counter = unique("c");
        let handles: Vec<_> = (0..1000)
            .map(|_| e.spawn("Bank", "increment", rec(json!({ "counter": counter }))))
            .collect();
        for h in handles {
            let r = h.await.unwrap().unwrap();
            assert!(!r.records[0].outcome.is_error(), "{name}: {:?}", r.records[0].outcome);
        }
        let ctx = QueryContext::with_state(concord::FlowId::fresh(), "Bank".into(), Some(store.clone()));
        let rows = Bank._count(&ctx, counter).await.unwrap();
        assert_eq!(rows[0].n, 1000, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_per_username_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    for (name, url) in databases(&dir) {
        let (e, _) = engine(&url).await;
        let username = unique("ada");
        let handles: Vec<_> = (0..50)
            .map(|_| e.spawn("Bank", "register", rec(json!({"username": username, "password": "pw"}))))
            .collect();
        let mut wins = 0;
        for h in handles {
            match &h.await.unwrap().unwrap().records[0].outcome {
                concord::Outcome::Success(_) => wins += 1,
                concord::Outcome::Error(m) => assert_eq!(m, "username taken", "{name}"),
            }
        }
        assert_eq!(wins, 1, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_flows_write_one_collection_and_each_flow_is_logged_with_provenance() {
    let dir = tempfile::tempdir().unwrap();
    for (name, url) in databases(&dir) {
        let (e, store) = engine(&url).await;
        let prefix = unique("t");
        let handles: Vec<_> = (0..300)
            .map(|i| {
                e.spawn(
                    "Bank",
                    "transfer",
                    rec(json!({"id": format!("{prefix}-{i}"), "fail": false})),
                )
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        for i in [0, 150, 299] {
            assert_eq!(entries_of(&store, &format!("{prefix}-{i}")).await.len(), 2, "{name}");
        }
        // A cascade: the chained counter increments itself until it reaches 3.
        let counter_flow = e
            .run("Bank", "increment", rec(json!({"counter": "chained"})))
            .await
            .unwrap();
        let log = store.flow_log(counter_flow.flow.to_string()).await.unwrap();
        assert!(!log.is_empty(), "{name}");
        assert!(
            log.iter().skip(1).all(|r| r.sync.as_deref() == Some("CountAgain")),
            "{name}"
        );
        assert!(log.iter().skip(1).all(|r| r.matched.len() == 1), "{name}");
        let register = e
            .run(
                "Bank",
                "register",
                rec(json!({"username": unique("x"), "password": "hunter22"})),
            )
            .await
            .unwrap();
        let logged = store.flow_log(register.flow.to_string()).await.unwrap();
        assert_eq!(
            logged[0].input["password"], "<redacted>",
            "{name}: secrets are not written in clear"
        );
    }
}

/// The role a child process plays, when this test binary is started by one
/// of the tests below (`CONCORD_STORAGE_CHILD` set); otherwise returns.
fn child_role() -> Option<(String, String, String)> {
    let role = std::env::var("CONCORD_STORAGE_CHILD").ok()?;
    let mut parts = role.splitn(3, '|');
    Some((parts.next()?.into(), parts.next()?.into(), parts.next()?.into()))
}

#[test]
fn storage_child_process() {
    let Some((role, url, arg)) = child_role() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (e, _) = engine(&url).await;
        match role.as_str() {
            "register" => {
                let mut wins = 0;
                for _ in 0..20 {
                    let r = e
                        .run("Bank", "register", rec(json!({"username": arg, "password": "pw"})))
                        .await
                        .unwrap();
                    wins += usize::from(!r.records[0].outcome.is_error());
                }
                println!("wins={wins}");
            }
            "load" => {
                for i in 0.. {
                    let id = format!("{arg}-{i}");
                    let r = e
                        .run("Bank", "transfer", rec(json!({"id": id, "fail": false})))
                        .await
                        .unwrap();
                    assert!(!r.records[0].outcome.is_error());
                    println!("committed {id}");
                }
            }
            other => panic!("unknown role {other}"),
        }
    });
}

fn spawn_child(role: &str, url: &str, arg: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "storage_child_process", "--nocapture", "--test-threads=1"])
        .env("CONCORD_STORAGE_CHILD", format!("{role}|{url}|{arg}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn two_processes_on_one_postgres_race_for_a_username() {
    let Some(url) = concord::store::testing::postgres_url() else {
        eprintln!("note: CONCORD_TEST_POSTGRES_URL is not set; skipped");
        return;
    };
    engine(&url).await; // schema and collections exist before the race
    let username = unique("race");
    let children: Vec<_> = (0..2).map(|_| spawn_child("register", &url, &username)).collect();
    let mut wins = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let n: usize = text
            .lines()
            .find_map(|l| l.split_once("wins=").map(|(_, n)| n))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("child printed no result: {text}"));
        wins += n;
    }
    assert_eq!(wins, 1, "exactly one of 40 registrations across two processes wins");
}

#[tokio::test]
async fn sigkill_mid_load_loses_no_committed_action_and_leaves_none_half_applied() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("killed.db").display());
    engine(&url).await;
    let prefix = unique("k");
    let mut child = spawn_child("load", &url, &prefix);
    let stdout = child.stdout.take().unwrap();
    let mut committed = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("committed ") {
            committed.push(id.to_string());
            if committed.len() == 300 {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(committed.len(), 300, "the child made progress before it was killed");
    let (_, store) = engine(&url).await;
    for id in &committed {
        assert_eq!(
            entries_of(&store, id).await.len(),
            2,
            "committed transfer {id} survived"
        );
    }
    // Transfers the child started after its last report: all or nothing.
    use concord::store::{Op, OpResult};
    let all = match store
        .read(Op::Find {
            collection: "Bank.entries".into(),
            query: Query::all(),
        })
        .await
        .unwrap()
    {
        OpResult::Docs(d) => d,
        other => panic!("{other:?}"),
    };
    let debits = all.iter().filter(|(id, _)| id.ends_with("-debit")).count();
    let credits = all.iter().filter(|(id, _)| id.ends_with("-credit")).count();
    assert_eq!(debits, credits, "no transfer is half-applied");
    assert!(debits >= 300);
}
