//! Tried as an attacker who reads the operator's files would: a user's
//! journey (register, a wrong guess, log in, change the password, post) on
//! the real binary, then its stdout and stderr, the database file (SQLite)
//! or every table (PostgreSQL), and `trace` are searched for the passwords
//! and the JWTs the journey used. None may appear: passwords are stored as
//! Argon2id hashes, JWTs are not stored, and the log redacts both wherever
//! they flow.

use concord::testing::http::send;
use concord::testing::process::{Server, found, sqlite_files};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_conduit");

struct Journey {
    secrets: Vec<(&'static str, String)>,
}

async fn journey(server: &Server, name: &str) -> Journey {
    let addr = server.addr;
    let password = format!("first-Pa55word-{name}");
    let guess = format!("wrong-Gu3ss-{name}");
    let changed = format!("second-Pa55word-{name}");
    let register = json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": password}});
    let r = send(addr, "POST", "/api/users", &register.to_string(), &[]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let first_jwt = r.body["user"]["token"].as_str().unwrap().to_string();
    let wrong = json!({"user": {"email": format!("{name}@example.com"), "password": guess}});
    let r = send(addr, "POST", "/api/users/login", &wrong.to_string(), &[]).await;
    assert!(
        r.status == 401 || r.status == 422 || r.status == 403,
        "{} {:?}",
        r.status,
        r.body
    );
    let login = json!({"user": {"email": format!("{name}@example.com"), "password": password}});
    let r = send(addr, "POST", "/api/users/login", &login.to_string(), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let jwt = r.body["user"]["token"].as_str().unwrap().to_string();
    let auth = format!("Token {jwt}");
    let r = send(addr, "GET", "/api/user", "", &[("Authorization", &auth)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let update = json!({"user": {"password": changed, "bio": "hello"}});
    let r = send(
        addr,
        "PUT",
        "/api/user",
        &update.to_string(),
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let article =
        json!({"article": {"title": format!("Post by {name}"), "description": "d", "body": "b", "tagList": ["x"]}});
    let r = send(
        addr,
        "POST",
        "/api/articles",
        &article.to_string(),
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let relogin = json!({"user": {"email": format!("{name}@example.com"), "password": changed}});
    let r = send(addr, "POST", "/api/users/login", &relogin.to_string(), &[]).await;
    assert_eq!(r.status, 200, "the changed password works: {:?}", r.body);
    let last_jwt = r.body["user"]["token"].as_str().unwrap().to_string();
    Journey {
        secrets: vec![
            ("password", password),
            ("wrong guess", guess),
            ("changed password", changed),
            ("registration JWT", first_jwt),
            ("login JWT", jwt),
            ("last JWT", last_jwt),
        ],
    }
}

fn assert_clean(place: &str, text: &str, journey: &Journey) {
    let leaked = found(text, &journey.secrets);
    assert!(leaked.is_empty(), "{place} holds the {leaked:?}");
}

fn trace_of_recent_flows(database: &str) -> String {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", database)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let listing = run(&["trace"]);
    let mut all = listing.clone();
    // Every flow id the listing names (uuid-shaped words), traced in full.
    for word in listing.split_whitespace() {
        let id = word.trim_matches(|c: char| !c.is_ascii_hexdigit() && c != '-');
        if id.len() == 36 && id.matches('-').count() == 4 {
            all.push_str(&run(&["trace", id]));
        }
    }
    assert!(
        all.contains("User.register") || all.contains("Requesting.request"),
        "trace shows flows:\n{listing}"
    );
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conduit.db");
    let url = format!("sqlite://{}", path.display());
    let server = Server::start(BIN, &[("DATABASE_URL", &url), ("CONCORD_LOG", "debug")]);
    let journey = journey(&server, "sqliteuser").await;
    // Let the log writer catch up before the kill.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let output = server.stop();
    assert!(
        output.contains("User.register"),
        "the log lines are there to search:\n{output}"
    );
    assert_clean("stdout/stderr", &output, &journey);
    assert_clean("the database file", &sqlite_files(&path), &journey);
    assert_clean("trace", &trace_of_recent_flows(&url), &journey);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_on_postgres() {
    let Some(url) = concord::store::testing::postgres_url() else {
        return;
    };
    let name = format!("pguser{}", std::process::id());
    let server = Server::start(BIN, &[("DATABASE_URL", &url), ("CONCORD_LOG", "debug")]);
    let journey = journey(&server, &name).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let output = server.stop();
    assert_clean("stdout/stderr", &output, &journey);
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let tables = client
        .query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", &[])
        .await
        .unwrap();
    let mut everything = String::new();
    for t in tables {
        let table: String = t.get(0);
        let rows = client
            .query(&format!("SELECT t::text FROM \"{table}\" t"), &[])
            .await
            .unwrap();
        for r in rows {
            everything.push_str(&r.get::<_, String>(0));
            everything.push('\n');
        }
    }
    assert!(everything.contains(&name), "the journey's rows are there to search");
    assert_clean("the PostgreSQL tables", &everything, &journey);
}
