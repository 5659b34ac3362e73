//! Starting the conduit app on a loopback port, and the databases the
//! end-to-end tests run against.
#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;

pub use concord::testing::http::{Reply, send};
use serde_json::Value;

/// Serves the conduit app with state in `database` on a free loopback port.
pub async fn start(database: &str) -> SocketAddr {
    conduit::serve_on_loopback(database).await
}

/// (name, url) of every database under test: a SQLite file in `dir`, and
/// PostgreSQL when available.
pub fn databases(dir: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    let mut out = vec![(
        "sqlite",
        format!("sqlite://{}", dir.path().join("conduit.db").display()),
    )];
    out.extend(concord::store::testing::postgres_url().map(|u| ("postgres", u)));
    out
}

/// A name no other test run has used (the PostgreSQL database is shared).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}{nanos:x}")
}

/// A client for one server, optionally logged in.
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Self {
        Api { addr, token: None }
    }

    pub fn as_user(&self, token: &str) -> Self {
        Api {
            addr: self.addr,
            token: Some(token.to_string()),
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let auth = self.token.as_ref().map(|t| format!("Token {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        send(self.addr, method, &format!("/api{path}"), &body, &headers).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call("PUT", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }

    /// Registers `username` (password "password") and returns a client
    /// logged in as them.
    pub async fn register(&self, username: &str) -> Api {
        let r = self
            .post(
                "/users",
                serde_json::json!({"user": {"username": username, "email": format!("{username}@example.com"), "password": "password"}}),
            )
            .await;
        assert_eq!(r.status, 201, "register {username}: {:?}", r.body);
        self.as_user(r.body["user"]["token"].as_str().expect("a token"))
    }
}
