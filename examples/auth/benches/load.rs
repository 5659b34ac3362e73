//! Load generator: the auth app served by concord versus plain axum handlers
//! that call the same concept methods directly, on loopback, bounded in
//! requests and time. Run with
//!
//!     cargo bench -p auth --bench load
//!
//! Scenarios: a cheap authenticated request (`/auth/me`: session lookup,
//! username lookup, respond), a passthrough query, and login (dominated by
//! Argon2id). Prints requests/s, p50 and p99 latency, and concord/plain ratios.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use concord::store::LogEntry;
use concord::testing::http::send;
use concord::testing::load::{Figures, Request};
use concord::{ActionContext, Concept, FlowId, Outcome, QueryContext, Record, RecordId, Value};
use concord_std::Sessioning;
use serde_json::json;

const CONNECTIONS: usize = 16;

/// `total` POSTs of `body` to `path` over `CONNECTIONS` connections.
async fn load(addr: SocketAddr, path: &str, body: String, total: usize, limit: Duration) -> Figures {
    let request = Request {
        method: "POST",
        path: path.to_string(),
        body,
        headers: Vec::new(),
    };
    concord::testing::load::run(addr, request, 200, CONNECTIONS, total, limit).await
}

/// The hand-written app: the same concepts and store, no syncs.
struct Plain {
    store: Arc<dyn concord::store::Backend>,
    sessions: Sessioning,
    profile: auth::Profile,
}

fn query_ctx(p: &Plain, concept: &str) -> QueryContext {
    QueryContext::with_state(FlowId::fresh(), concept.into(), Some(p.store.clone()))
}

async fn plain_me(State(p): State<Arc<Plain>>, body: String) -> axum::response::Response {
    let input: Record = serde_json::from_str(&body).unwrap_or_default();
    let rows = p
        .sessions
        .query(&query_ctx(&p, "Sessioning"), "_getUser", &input)
        .await
        .unwrap_or_default();
    let Some(user) = rows.first().and_then(|r| r.get("user")).cloned() else {
        return json_reply(401, json!({"error": "not logged in"}));
    };
    let mut q = Record::new();
    q.insert("user".into(), user.clone());
    let names = p
        .profile
        .query(&query_ctx(&p, "Profile"), "_getUsername", &q)
        .await
        .unwrap_or_default();
    json_reply(
        200,
        json!({"user": user, "username": names.first().map(|r| r["username"].clone())}),
    )
}

async fn plain_lookup(State(p): State<Arc<Plain>>, body: String) -> axum::response::Response {
    let input: Record = serde_json::from_str(&body).unwrap_or_default();
    let rows = p
        .profile
        .query(&query_ctx(&p, "Profile"), "_getUserByUsername", &input)
        .await
        .unwrap_or_default();
    json_reply(
        200,
        Value::from(rows.into_iter().map(Value::Object).collect::<Vec<_>>()),
    )
}

async fn plain_login(State(p): State<Arc<Plain>>, body: String) -> axum::response::Response {
    let input: Record = serde_json::from_str(&body).unwrap_or_default();
    let user = match act(&p, &p.profile, "Profile", "authenticate", &input).await {
        Outcome::Success(out) => out["user"].clone(),
        Outcome::Error(e) => return json_reply(401, json!({ "error": e })),
    };
    let mut create = Record::new();
    create.insert("user".into(), user.clone());
    match act(&p, &p.sessions, "Sessioning", "create", &create).await {
        Outcome::Success(out) => json_reply(
            200,
            json!({"user": user, "session": out["session"], "message": "Login successful"}),
        ),
        Outcome::Error(e) => json_reply(500, json!({ "error": e })),
    }
}

/// An action with its writes committed, and logged, as the engine would.
async fn act(p: &Plain, concept: &dyn Concept, name: &str, action: &str, input: &Record) -> Outcome {
    let mut ctx = ActionContext::with_state(FlowId::fresh(), RecordId::fresh(), name.into(), p.store.clone());
    let outcome = concept.perform(&mut ctx, action, input).await;
    let entry = LogEntry {
        id: RecordId::fresh().to_string(),
        flow: FlowId::fresh().to_string(),
        seq: 0,
        concept: name.into(),
        action: action.into(),
        input: Record::new(),
        error: outcome.is_error(),
        output: Record::new(),
        sync: None,
        matched: Vec::new(),
        started_at: 0,
        completed_at: 0,
        kept: true,
    };
    match ctx.take_transaction() {
        Some(tx) if !outcome.is_error() => tx.commit(vec![entry]).await.unwrap(),
        _ => p.store.append_log(entry).await.unwrap(),
    }
    outcome
}

fn json_reply(status: u16, body: Value) -> axum::response::Response {
    let mut r = axum::response::Response::new(axum::body::Body::from(body.to_string()));
    *r.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

async fn listen(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("load.db").display());
    // Concord, with the passthrough query open.
    let app = auth::app().database(&url);
    let requesting = app.requesting();
    let engine = app.load().await.unwrap();
    let passthrough = concord::http::Passthrough::parse("bench", "Profile._getUserByUsername: benchmark\n").unwrap();
    let config = concord::http::HttpConfig {
        passthrough,
        ..Default::default()
    };
    let concord_addr = listen(concord::http::router(engine, requesting, config)).await;
    // The plain handlers, on the same database.
    let plain = Arc::new(Plain {
        store: concord::store::open(&url).await.unwrap(),
        sessions: Sessioning::new(),
        profile: auth::Profile,
    });
    let plain_addr = listen(
        Router::new()
            .route("/api/auth/me", post(plain_me))
            .route("/api/Profile/_getUserByUsername", post(plain_lookup))
            .route("/api/auth/login", post(plain_login))
            .with_state(plain),
    )
    .await;

    let creds = json!({"username": "ada", "password": "correct horse"}).to_string();
    send(concord_addr, "POST", "/api/auth/register", &creds, &[]).await;
    let login = send(concord_addr, "POST", "/api/auth/login", &creds, &[]).await;
    let me = json!({"session": login.body["session"]}).to_string();
    let lookup = json!({"username": "ada"}).to_string();

    println!("{CONNECTIONS} connections on loopback; requests/s, p50, p99 (concord vs plain axum handlers)");
    let limit = Duration::from_secs(10);
    let scenarios: [(&str, &'static str, &String, usize); 3] = [
        ("cheap: /auth/me", "/api/auth/me", &me, 20_000),
        ("passthrough query", "/api/Profile/_getUserByUsername", &lookup, 20_000),
        ("login (Argon2id)", "/api/auth/login", &creds, 160),
    ];
    // `cargo bench -p auth --bench load -- cheap` runs matching scenarios only.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    for (name, path, body, total) in scenarios {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        // Warm up both.
        load(concord_addr, path, body.clone(), total / 10 + CONNECTIONS, limit).await;
        load(plain_addr, path, body.clone(), total / 10 + CONNECTIONS, limit).await;
        let c = load(concord_addr, path, body.clone(), total, limit).await;
        let p = load(plain_addr, path, body.clone(), total, limit).await;
        println!(
            "{name:<20} concord {:>8.0}/s p50 {:>7.2?} p99 {:>7.2?} | plain {:>8.0}/s p50 {:>7.2?} p99 {:>7.2?} | time per request {:.2}x",
            c.rps,
            c.p50,
            c.p99,
            p.rps,
            p.p50,
            p.p99,
            p.rps / c.rps
        );
    }
}
