//! The flow explorer (development mode only): its JSON API, that it does not
//! exist outside development mode, and the page itself in headless Chromium
//! (Debian's `chromium`; required under CI=true, skipped with a note
//! elsewhere when it is not installed).

use std::net::SocketAddr;
use std::path::PathBuf;

use concord::http::HttpConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

async fn start(dev: bool, dir: &tempfile::TempDir) -> SocketAddr {
    let url = format!("sqlite://{}", dir.path().join("explorer.db").display());
    let config = HttpConfig {
        dev,
        ..HttpConfig::default()
    };
    let app = auth::app().syncs(support::syncs_with_pending(dir)).database(&url);
    support::serve(app, config).await
}

async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0),
        body.to_string(),
    )
}

/// Registers and logs in; returns the login flow's id as the explorer lists it.
async fn login_flow(addr: SocketAddr) -> String {
    let creds = json!({"username": "ada", "password": "correct horse"}).to_string();
    call(addr, "POST", "/api/auth/register", &creds).await;
    call(addr, "POST", "/api/auth/login", &creds).await;
    call(addr, "POST", "/api/auth/pending", r#"{"username": "nobody"}"#).await;
    let (status, body) = call(addr, "GET", "/_concord/api/flows", "").await;
    assert_eq!(status, 200, "{body}");
    let flows: Vec<Value> = serde_json::from_str(&body).unwrap();
    let login = flows
        .iter()
        .find(|f| f["path"] == "/auth/login" && f["status"] == 200)
        .unwrap_or_else(|| panic!("{flows:?}"));
    assert_eq!(login["actions"], 4);
    assert!(
        flows
            .iter()
            .any(|f| f["path"] == "/auth/pending" && f["status"].is_null()),
        "the unanswered request is listed"
    );
    login["flow"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_api_shows_flows_as_trees() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(true, &dir).await;
    let flow = login_flow(addr).await;
    let (status, body) = call(addr, "GET", &format!("/_concord/api/flows/{flow}"), "").await;
    assert_eq!(status, 200);
    let f: Value = serde_json::from_str(&body).unwrap();
    let shape: Vec<(u64, String)> = f["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["depth"].as_u64().unwrap(), r["action"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        shape,
        [
            (0, "Requesting.request".to_string()),
            (1, "Profile.authenticate".to_string()),
            (2, "Sessioning.create".to_string()),
            (3, "Requesting.respond".to_string())
        ]
    );
    assert_eq!(f["records"][1]["input"]["password"], "<redacted>");
    let (status, svg) = call(addr, "GET", "/_concord/graph.svg", "").await;
    assert_eq!(status, 200);
    assert!(svg.contains("<svg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_does_not_exist_outside_development_mode() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(false, &dir).await;
    for path in ["/_concord/", "/_concord/api/flows", "/_concord/graph.svg"] {
        assert_eq!(call(addr, "GET", path, "").await.0, 404, "{path}");
    }
}

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.exists()))
    });
    if found.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but Chromium is not installed: .ci/run installs Debian's chromium");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_page_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("note: chromium is not installed; the browser test is skipped (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let addr = start(true, &dir).await;
    let flow = login_flow(addr).await;
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/_concord/#flow={flow}");
    let dom = tokio::task::spawn_blocking(move || {
        std::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=5000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("Recent flows"), "{dom}");
    assert!(dom.contains("/auth/login"), "the flow list: {dom}");
    assert!(dom.contains(&format!("Flow {flow}")), "the opened flow: {dom}");
    for expected in [
        "[auth.LoginRequest]",
        "Profile.authenticate",
        "[auth.RespondWithSession]",
        "Requesting.respond",
    ] {
        assert!(dom.contains(expected), "{expected} in {dom}");
    }
}
