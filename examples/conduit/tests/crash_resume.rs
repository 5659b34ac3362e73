//! Tried as an operator whose server dies would: the real conduit binary
//! under 8 clients that register and post articles with tags, SIGKILLed at
//! random moments and restarted on the same database, several times. After
//! each restart (which finishes interrupted flows before it serves):
//!
//! - every acknowledged registration can log in, and so can every user whose
//!   registration got as far as existing (no user without a password);
//! - every acknowledged article is there with its tags, and every article
//!   that exists has its tags (none half-created), each once;
//! - no invocation was applied twice: no record id appears twice in the log
//!   (ids are stable per invocation, so a second application would);
//! - the journal is empty, and the resumptions are recorded.
//!
//! On SQLite and PostgreSQL. CI runs 3 kills per backend; a longer run:
//!
//!     CONCORD_CRASH_ROUNDS=12 cargo test -p conduit --test crash_resume -- --nocapture

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use concord::testing::http::send;
use concord::testing::process::Server;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_conduit");
const CLIENTS: usize = 8;
const ARTICLES_PER_USER: usize = 6;

fn rounds() -> usize {
    std::env::var("CONCORD_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// What the clients tried, and what the server acknowledged.
#[derive(Default, Clone)]
struct Seen {
    /// username → password, for every registration sent.
    tried_users: HashMap<String, String>,
    acknowledged_users: Vec<String>,
    /// title → (author, tags), for every article sent.
    tried_articles: HashMap<String, (String, Vec<String>)>,
    acknowledged_articles: Vec<String>,
}

fn password_of(name: &str) -> String {
    format!("Pa55-{name}-word")
}

/// One client: registers a user, posts articles with two tags each as that
/// user, again and again, until the server stops answering.
async fn client(server: std::net::SocketAddr, round: usize, c: usize, seen: Arc<Mutex<Seen>>) {
    for i in 0.. {
        let name = format!("r{round}c{c}u{i}");
        let password = password_of(&name);
        seen.lock().unwrap().tried_users.insert(name.clone(), password.clone());
        let body = json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": password}});
        let Some(r) = try_send(server, "POST", "/api/users", &body.to_string(), None).await else {
            return;
        };
        assert_eq!(r.0, 201, "registration of {name}: {}", r.1);
        seen.lock().unwrap().acknowledged_users.push(name.clone());
        let token = r.1["user"]["token"].as_str().unwrap().to_string();
        for a in 0..ARTICLES_PER_USER {
            let title = format!("Article {a} of {name}");
            let tags = vec![format!("t{}", (c + a) % 5), format!("u{}", (i + a) % 7)];
            seen.lock()
                .unwrap()
                .tried_articles
                .insert(title.clone(), (name.clone(), tags.clone()));
            let body = json!({"article": {"title": title, "description": "d", "body": "b", "tagList": tags}});
            let Some(r) = try_send(server, "POST", "/api/articles", &body.to_string(), Some(&token)).await else {
                return;
            };
            assert_eq!(r.0, 201, "article {title}: {}", r.1);
            seen.lock().unwrap().acknowledged_articles.push(title);
        }
    }
}

/// A request to a server that may die under it: `None` once it has.
async fn try_send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> Option<(u16, Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let auth = token
        .map(|t| format!("Authorization: Token {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.ok()?;
    let text = String::from_utf8_lossy(&reply);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// A random delay in `[from, to)` ms (from the clock: a test needs no
/// cryptographic randomness).
fn random_ms(from: u64, to: u64) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_millis(from + nanos % (to - from))
}

/// What the database says after a restart.
struct Stored {
    journal_rows: i64,
    duplicated_record_ids: i64,
    resumptions: i64,
}

async fn check(addr: std::net::SocketAddr, seen: &Seen, stored: impl std::future::Future<Output = Stored>) -> i64 {
    // Every user who exists can log in: none is left without a password.
    for (name, password) in &seen.tried_users {
        let profile = send(addr, "GET", &format!("/api/profiles/{name}"), "", &[]).await;
        let exists = profile.status == 200;
        let acknowledged = seen.acknowledged_users.contains(name);
        assert!(exists || !acknowledged, "acknowledged user {name} is missing");
        if exists {
            let login = json!({"user": {"email": format!("{name}@example.com"), "password": password}});
            let r = send(addr, "POST", "/api/users/login", &login.to_string(), &[]).await;
            assert_eq!(r.status, 200, "user {name} exists but cannot log in: {:?}", r.body);
        }
    }
    // Every article that exists has its tags, once; acknowledged ones exist.
    let mut by_author: HashMap<&str, Vec<Value>> = HashMap::new();
    for (author, _) in seen.tried_articles.values() {
        if by_author.contains_key(author.as_str()) {
            continue;
        }
        let r = send(
            addr,
            "GET",
            &format!("/api/articles?author={author}&limit=100"),
            "",
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        by_author.insert(author, r.body["articles"].as_array().cloned().unwrap_or_default());
    }
    for (title, (author, tags)) in &seen.tried_articles {
        let copies: Vec<&Value> = by_author[author.as_str()]
            .iter()
            .filter(|a| a["title"] == json!(title))
            .collect();
        assert!(copies.len() <= 1, "article {title} exists {} times", copies.len());
        match copies.first() {
            Some(article) => {
                let mut want = tags.clone();
                want.sort();
                assert_eq!(article["tagList"], json!(want), "article {title} has its tags");
            }
            None => assert!(
                !seen.acknowledged_articles.contains(title),
                "acknowledged article {title} is missing"
            ),
        }
    }
    let stored = stored.await;
    assert_eq!(
        stored.journal_rows, 0,
        "every interrupted flow was finished and its journal closed"
    );
    assert_eq!(stored.duplicated_record_ids, 0, "no invocation was applied twice");
    stored.resumptions
}

/// Kills and restarts the server `rounds()` times under load, checking
/// after each restart (and, with `after_kill`, while it is down); returns
/// the last server, running.
async fn crash_loop(
    env: &[(&str, &str)],
    stored: impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Stored>>>,
    after_kill: impl Fn(&Seen),
) -> Server {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut server = Server::start(BIN, env);
    let mut resumed = 0;
    for round in 0..rounds() {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| tokio::spawn(client(server.addr, round, c, seen.clone())))
            .collect();
        tokio::time::sleep(random_ms(800, 3000)).await;
        server.stop();
        for c in clients {
            if let Err(e) = c.await
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        after_kill(&seen.lock().unwrap().clone());
        server = Server::start(BIN, env);
        // The restart finished interrupted flows before listening; their
        // last log records follow in the log's next batch.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let s = seen.lock().unwrap().clone();
        let (users, acknowledged) = (s.tried_users.len(), s.acknowledged_users.len());
        let (articles, posted) = (s.tried_articles.len(), s.acknowledged_articles.len());
        resumed = check(server.addr, &s, stored()).await;
        println!(
            "round {round}: {users} registrations tried, {acknowledged} acknowledged; \
             {articles} articles tried, {posted} acknowledged; {resumed} flows resumed so far"
        );
    }
    assert!(resumed > 0, "the kills interrupted flows, and they were resumed");
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_flows_finish_after_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conduit.db");
    let url = format!("sqlite://{}", path.display());
    let stored = || {
        let path = path.clone();
        Box::pin(async move {
            let db = rusqlite::Connection::open(&path).unwrap();
            let one = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
            Stored {
                journal_rows: one("SELECT COUNT(*) FROM concord_journal"),
                duplicated_record_ids: one(
                    "SELECT COUNT(*) FROM (SELECT id FROM concord_log GROUP BY id HAVING COUNT(*) > 1)",
                ),
                resumptions: one("SELECT COUNT(*) FROM concord_resumptions"),
            }
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = Stored>>>
    };
    // While the server is down its open flows' journals hold their
    // passwords: sealed, none appears in the database or its WAL; and trace
    // and why name such a flow as not finished.
    let open_flows_checked = std::cell::Cell::new(0);
    let after_kill = |seen: &Seen| {
        let files = concord::testing::process::sqlite_files(&path);
        let passwords: Vec<(&str, &String)> = seen.tried_users.values().map(|p| ("a password", p)).collect();
        assert!(
            concord::testing::process::found(&files, &passwords).is_empty(),
            "a password is readable in the database while flows are open"
        );
        let open: Option<String> = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT flow FROM concord_journal LIMIT 1", [], |r| r.get(0))
            .ok();
        if let Some(flow) = open {
            for command in ["trace", "why"] {
                let out = std::process::Command::new(BIN)
                    .args([command, &flow])
                    .env("DATABASE_URL", &url)
                    .env("JWT_SECRET", "s".repeat(40))
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(text.contains("this flow is not finished"), "{command} {flow}:\n{text}");
            }
            open_flows_checked.set(open_flows_checked.get() + 1);
        }
    };
    let server = crash_loop(
        &[
            ("DATABASE_URL", &url),
            ("JWT_SECRET", &"s".repeat(40)),
            ("CONCORD_DEV", "1"),
        ],
        stored,
        after_kill,
    )
    .await;
    assert!(open_flows_checked.get() > 0, "some kill left open flows to look at");
    // A resumed flow, as trace, why and the explorer show it.
    let flow: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT flow FROM concord_resumptions LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", &url)
            .env("JWT_SECRET", "s".repeat(40))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let trace = run(&["trace", &flow]);
    assert!(
        trace.contains("resumed at") && trace.contains("from record #"),
        "{trace}"
    );
    let why = run(&["why", &flow]);
    assert!(
        why.contains("interrupted on node") && why.contains("resumed at"),
        "{why}"
    );
    let detail = send(server.addr, "GET", &format!("/_concord/api/flows/{flow}"), "", &[]).await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    assert_eq!(
        detail.body["resumptions"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        detail.body
    );
    assert_eq!(detail.body["openOn"], Value::Null, "the flow is finished");
    server.stop();
}

/// What the PostgreSQL database at `url` says.
async fn postgres_stored(url: String) -> Stored {
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let one = async |sql: &str| client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0);
    Stored {
        journal_rows: one("SELECT COUNT(*) FROM concord_journal").await,
        duplicated_record_ids: one(
            "SELECT COUNT(*) FROM (SELECT id FROM concord_log GROUP BY id HAVING COUNT(*) > 1) d",
        )
        .await,
        resumptions: one("SELECT COUNT(*) FROM concord_resumptions").await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_flows_finish_after_sigkill_on_postgres() {
    let Some(db) = concord::store::testing::ScratchDatabase::create("conduit_crash").await else {
        return;
    };
    let url = db.url.clone();
    let stored =
        || Box::pin(postgres_stored(url.clone())) as std::pin::Pin<Box<dyn std::future::Future<Output = Stored>>>;
    crash_loop(
        &[
            ("DATABASE_URL", &url),
            ("JWT_SECRET", &"s".repeat(40)),
            ("CONCORD_NODE_ID", "crash-test-node"),
        ],
        stored,
        |_| {},
    )
    .await
    .stop();
}

/// Three nodes share a PostgreSQL database; node `a` takes the load and is
/// killed for good. Once its lease expires, its interrupted flows are taken
/// over by `b` or `c` — each flow by exactly one of them — and finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_flows_are_taken_over_by_one_other_node() {
    let Some(db) = concord::store::testing::ScratchDatabase::create("conduit_takeover").await else {
        return;
    };
    let secret = "s".repeat(40);
    let node = |id: &'static str| {
        Server::start(
            BIN,
            &[
                ("DATABASE_URL", &db.url),
                ("JWT_SECRET", &secret),
                ("CONCORD_NODE_ID", id),
                ("CONCORD_FLOW_LEASE", "2s"),
            ],
        )
    };
    let a = node("a");
    let b = node("b");
    let c = node("c");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(a.addr, 0, i, seen.clone())))
        .collect();
    tokio::time::sleep(random_ms(1000, 2500)).await;
    a.stop();
    for client in clients {
        let _ = client.await;
    }
    let (admin, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let count = async |sql: &str| admin.query_one(sql, &[]).await.unwrap().get::<_, i64>(0);
    let interrupted = count("SELECT COUNT(*) FROM concord_journal").await;
    assert!(interrupted > 0, "the kill interrupted flows");
    let waited = std::time::Instant::now();
    while count("SELECT COUNT(*) FROM concord_journal").await > 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the other nodes never took node a's flows over"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = seen.lock().unwrap().clone();
    let url = db.url.clone();
    let resumptions = check(b.addr, &seen, postgres_stored(url)).await;
    assert_eq!(resumptions, interrupted, "each interrupted flow was resumed once");
    let by_other_nodes =
        count("SELECT COUNT(*) FROM concord_resumptions WHERE previous_owner = 'a' AND node IN ('b', 'c')").await;
    assert_eq!(by_other_nodes, interrupted, "by b or c, taking them from a");
    let twice =
        count("SELECT COUNT(*) FROM (SELECT flow FROM concord_resumptions GROUP BY flow HAVING COUNT(*) > 1) d").await;
    assert_eq!(twice, 0, "no flow was resumed by two nodes");
    println!(
        "{interrupted} flows of node a taken over in {:.1?} after its kill",
        waited.elapsed()
    );
    b.stop();
    c.stop();
}
