//! Given/when/then tests of sync behaviour: run a flow, then compare its
//! whole trace with an expected text in which ids are numbered (`<id1>`,
//! `<id2>`, … in order of first appearance, so joins stay visible) and
//! secrets are redacted.

use std::collections::HashMap;
use std::fmt::Write as _;

use concord_engine::{Engine, EngineBuilder, FlowReport};

/// The engine of `builder`'s concepts running `syncs` (the text of one
/// `.sync` file).
///
/// # Panics
/// When the syncs do not check (with the checker's rendered diagnostics),
/// or the engine does not build: this is for tests.
pub fn engine_with(builder: EngineBuilder, syncs: &str) -> Engine {
    let mut sources = concord_syntax::SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new("test.sync", syncs)],
        &builder.specs(),
    );
    let Some(program) = checked.program else {
        panic!(
            "the syncs do not check:\n{}",
            concord_syntax::render_all(&checked.diagnostics, &sources)
        );
    };
    builder.build(program).expect("the engine builds")
}

/// The flow as an indented tree: each action under the record its sync
/// matched last, with the sync's name; ids numbered, secrets redacted.
pub fn snapshot(engine: &Engine, report: &FlowReport) -> String {
    let redactor = engine.redactor();
    let index: HashMap<_, usize> = report.records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut depth = vec![0usize; report.records.len()];
    let mut text = String::new();
    for (i, r) in report.records.iter().enumerate() {
        let parent = r.matched.iter().filter_map(|m| index.get(m)).max();
        depth[i] = parent.map_or(0, |&p| depth[p] + 1);
        let sync = r.sync.as_deref().map(|s| format!("[{s}] ")).unwrap_or_default();
        let _ = writeln!(text, "{}{sync}{}", "  ".repeat(depth[i]), r.display_redacted(&redactor));
    }
    number_ids(&text)
}

/// Replaces every UUID with `<idN>`, numbered by first appearance.
pub fn number_ids(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let candidate: String = chars[i..chars.len().min(i + 36)].iter().collect();
        let is_uuid = candidate.len() == 36
            && candidate.char_indices().all(|(k, c)| {
                if [8, 13, 18, 23].contains(&k) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if is_uuid {
            let n = match seen.iter().position(|s| *s == candidate) {
                Some(n) => n + 1,
                None => {
                    seen.push(candidate);
                    seen.len()
                }
            };
            let _ = write!(out, "<id{n}>");
            i += 36;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numbered_by_first_appearance() {
        let a = "01a20234-84c8-702c-bdc7-8edba629bb89";
        let b = "01a20234-84c7-732e-a2b9-acfbe60c6c66";
        assert_eq!(number_ids(&format!("{a} {b} {a}")), "<id1> <id2> <id1>");
        assert_eq!(number_ids("no ids here"), "no ids here");
    }
}

/// A minimal HTTP/1.1 client for end-to-end tests of apps on a loopback
/// port: one request per connection, JSON in and out.
pub mod http {
    use std::net::SocketAddr;

    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A response: status, headers (lowercased) and the body as JSON
    /// (`null` when empty, a string when not JSON).
    #[derive(Debug, Clone)]
    pub struct Reply {
        /// Status code.
        pub status: u16,
        /// The header block, lowercased.
        pub headers: String,
        /// Parsed body.
        pub body: Value,
    }

    /// Sends `method path` with `body` (sent as is; `""` for none) and extra
    /// headers, and reads the whole response.
    ///
    /// # Panics
    /// If the server cannot be reached: this is for tests.
    pub async fn send(addr: SocketAddr, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("the server accepts connections");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("request sent");
        stream.write_all(body.as_bytes()).await.expect("request body sent");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("response read");
        let text = String::from_utf8_lossy(&raw).to_string();
        let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).unwrap_or(Value::String(body.into()))
        };
        Reply {
            status,
            headers: headers.to_ascii_lowercase(),
            body,
        }
    }
}

/// Malformed and hostile requests for every route an app serves, to check
/// that a client's mistake is never answered as the server's (no 5xx).
pub mod malformed {
    use concord_program::routes::Segment;
    use concord_program::{EntryNeeds, ParamTypes};
    use serde_json::{Value, json};

    use crate::App;

    /// One request of the battery.
    #[derive(Debug, Clone)]
    pub struct Request {
        /// Method.
        pub method: String,
        /// Path with query string, under the app's base path.
        pub path: String,
        /// Body as sent (possibly not JSON).
        pub body: String,
        /// Extra headers.
        pub headers: Vec<(String, String)>,
    }

    /// Values of every JSON type and some hostile ones.
    fn odd_values() -> Vec<Value> {
        vec![
            json!(5),
            json!(-1.5),
            json!(""),
            json!("   "),
            Value::Null,
            json!(true),
            json!([]),
            json!([1, "a", null]),
            json!({}),
            json!({"nested": {"deep": [null, {}]}}),
            json!("x".repeat(20_000)),
            json!("\u{202e}\u{1F600}<script>"),
        ]
    }

    const PATH_VALUES: [&str; 8] = [
        "x",
        "1.0",
        "-1",
        "%20",
        "%C3%A9t%C3%A9",
        "..",
        "%2F",
        "99999999999999999999",
    ];
    const QUERY_VALUES: [&str; 7] = ["abc", "1.5", "-1", "", "%ZZ", "1e999", "9223372036854775808"];
    const CREDENTIALS: [&str; 5] = [
        "Token",
        "Token x.y.z",
        "Bearer ",
        "Basic YTpi",
        "Token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    ];

    /// The battery for `app`'s routes: each route and method with odd path
    /// parameters, bodies that are not JSON objects, every key its syncs
    /// read (and the fields inside them) with values of every type,
    /// query strings that are not numbers, broken credentials, and methods
    /// the route does not take.
    ///
    /// # Panics
    /// If the app's syncs do not check.
    pub fn requests(app: &App) -> Vec<Request> {
        let program = app.program().expect("the syncs check");
        let base = app
            .settings_in_force()
            .map(|s| s.http.base)
            .unwrap_or_else(|_| "/api".into());
        let entry = concord_http::HttpEntry::of(&app.requesting());
        let types = ParamTypes::of(&app.specs());
        let syncs = program.all_syncs();
        let mut out = Vec::new();
        let mut push = |method: &str, path: String, body: String, headers: Vec<(String, String)>| {
            out.push(Request {
                method: method.to_string(),
                path,
                body,
                headers,
            })
        };
        for route in entry.routes(&program).routes() {
            let fill = |value: &str| {
                route
                    .template
                    .segments()
                    .iter()
                    .map(|s| match s {
                        Segment::Literal(l) => l.clone(),
                        Segment::Param(_) => value.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            };
            let path = format!("{base}{}", fill("some-thing"));
            let methods: Vec<String> = match route.any_method {
                true => vec!["POST".into(), "GET".into()],
                false => route.methods.clone(),
            };
            let needs: Vec<EntryNeeds> = route
                .syncs
                .iter()
                .filter_map(|&i| EntryNeeds::of(syncs[i], entry.action(), &types))
                .collect();
            let mut keys: Vec<String> = needs
                .iter()
                .flat_map(|n| n.required.iter().chain(&n.optional).cloned())
                .collect();
            keys.sort();
            keys.dedup();
            let mut nested: Vec<Vec<String>> = needs.iter().flat_map(|n| n.reads.iter().cloned()).collect();
            nested.sort();
            nested.dedup();
            for method in &methods {
                for v in PATH_VALUES {
                    push(method, format!("{base}{}", fill(v)), String::new(), Vec::new());
                }
                for c in CREDENTIALS {
                    push(
                        method,
                        path.clone(),
                        "{}".into(),
                        vec![("Authorization".into(), c.into())],
                    );
                }
                if method == "GET" || method == "DELETE" {
                    for k in &keys {
                        for v in QUERY_VALUES {
                            push(method, format!("{path}?{k}={v}"), String::new(), Vec::new());
                        }
                    }
                    push(method, format!("{path}?a=1&a=2&&=&%"), String::new(), Vec::new());
                    continue;
                }
                for body in [
                    "{not json",
                    "[]",
                    "\"text\"",
                    "42",
                    "null",
                    "{}",
                    "{\"a\":",
                    "\u{feff}{}",
                ] {
                    push(method, path.clone(), body.into(), Vec::new());
                }
                for k in &keys {
                    for v in odd_values() {
                        push(method, path.clone(), json!({ k.clone(): v }).to_string(), Vec::new());
                    }
                }
                for read in &nested {
                    for v in odd_values() {
                        let mut body = v;
                        for field in read.iter().rev() {
                            body = json!({ field.clone(): body });
                        }
                        push(method, path.clone(), body.to_string(), Vec::new());
                    }
                }
            }
            for method in ["PATCH", "OPTIONS", "HEAD", "TRACE"] {
                push(method, path.clone(), String::new(), Vec::new());
            }
        }
        for path in ["/", "/nowhere", "//", "/%", "/a/../b"] {
            push("GET", format!("{base}{path}"), String::new(), Vec::new());
        }
        out
    }

    /// How a server answered a battery.
    #[derive(Debug, Default)]
    pub struct Answers {
        /// How many requests got each status.
        pub statuses: std::collections::BTreeMap<u16, usize>,
        /// Requests answered 5xx, not at all, or with internals in the body.
        pub failures: Vec<String>,
    }

    /// Sends every request of `battery` to `addr`; every other one that has
    /// no headers of its own carries `credential` (an `Authorization`
    /// value), so syncs past a credential check run too.
    pub async fn send_all(addr: std::net::SocketAddr, battery: &[Request], credential: Option<&str>) -> Answers {
        let mut answers = Answers::default();
        for (n, r) in battery.iter().enumerate() {
            let mut headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            if let Some(c) = credential
                && n % 2 == 1
                && headers.is_empty()
            {
                headers.push(("Authorization", c));
            }
            let reply = super::http::send(addr, &r.method, &r.path, &r.body, &headers).await;
            *answers.statuses.entry(reply.status).or_default() += 1;
            let body = reply.body.to_string();
            if reply.status >= 500 || reply.status == 0 || INTERNALS.iter().any(|i| body.contains(i)) {
                answers.failures.push(format!(
                    "{} {} {:.80} -> {} {body:.300}",
                    r.method, r.path, r.body, reply.status
                ));
            }
        }
        answers
    }

    /// Texts of serde, Rust or SQL internals that must not reach a client.
    pub const INTERNALS: [&str; 6] = [
        "invalid type:",
        "expected a sequence",
        "panicked",
        "SQLITE_",
        "syntax error at",
        "missing field `",
    ];
}

/// A bounded HTTP load generator for benchmarks on loopback: keep-alive
/// connections, each sending the same request in a loop, with latency
/// percentiles.
pub mod load {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The request every connection repeats.
    #[derive(Debug, Clone)]
    pub struct Request {
        /// `GET`, `POST`, …
        pub method: &'static str,
        /// Path and query, e.g. `/api/articles?limit=20`.
        pub path: String,
        /// JSON body (`""` for none).
        pub body: String,
        /// Extra headers, e.g. `("Authorization", "Token …")`.
        pub headers: Vec<(String, String)>,
    }

    /// Throughput and latency of one run.
    #[derive(Debug, Clone, Copy)]
    pub struct Figures {
        /// Completed requests per second.
        pub rps: f64,
        /// Median latency.
        pub p50: Duration,
        /// 99th-percentile latency.
        pub p99: Duration,
        /// Completed requests.
        pub requests: usize,
    }

    /// One keep-alive connection; sends a request and reads one response.
    struct Conn {
        stream: tokio::net::TcpStream,
        buf: Vec<u8>,
    }

    impl Conn {
        async fn open(addr: SocketAddr) -> Self {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .expect("the server accepts connections");
            stream.set_nodelay(true).expect("TCP_NODELAY");
            Conn {
                stream,
                buf: Vec::new(),
            }
        }

        async fn send(&mut self, raw: &[u8]) -> (u16, String) {
            self.stream.write_all(raw).await.expect("request sent");
            loop {
                if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if self.buf.len() >= end + 4 + len {
                        let body = String::from_utf8_lossy(&self.buf[end + 4..end + 4 + len]).to_string();
                        self.buf.drain(..end + 4 + len);
                        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                        return (status, body);
                    }
                }
                let mut chunk = [0u8; 16384];
                let n = self.stream.read(&mut chunk).await.expect("response read");
                assert!(n > 0, "the server closed the connection");
                self.buf.extend_from_slice(&chunk[..n]);
            }
        }
    }

    /// Sends `total` requests over `connections` keep-alive connections,
    /// stopping early after `limit`. Every answer must be `expect_status`.
    ///
    /// # Panics
    /// On a connection failure or an unexpected status: this is for benchmarks.
    pub async fn run(
        addr: SocketAddr,
        request: Request,
        expect_status: u16,
        connections: usize,
        total: usize,
        limit: Duration,
    ) -> Figures {
        let mut raw = format!(
            "{} {} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            request.method,
            request.path,
            request.body.len()
        );
        for (k, v) in &request.headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        raw.push_str(&request.body);
        let raw = Arc::new(raw.into_bytes());
        let started = Instant::now();
        let per = total / connections.max(1);
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let raw = raw.clone();
                let path = request.path.clone();
                tokio::spawn(async move {
                    let mut c = Conn::open(addr).await;
                    let mut latencies = Vec::with_capacity(per);
                    for _ in 0..per {
                        if started.elapsed() > limit {
                            break;
                        }
                        let t = Instant::now();
                        let (status, text) = c.send(&raw).await;
                        assert_eq!(status, expect_status, "{path}: {text}");
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("a load task finished"));
        }
        let elapsed = started.elapsed();
        all.sort();
        let at = |q: usize| {
            all.get((all.len() * q / 100).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Figures {
            rps: all.len() as f64 / elapsed.as_secs_f64(),
            p50: at(50),
            p99: at(99),
            requests: all.len(),
        }
    }
}

/// One concept on its own, for its unit tests: its actions run as the
/// engine runs them (in a transaction committed with their log record, on an
/// in-memory SQLite database with the concept's collections), with no syncs.
pub struct ConceptHarness {
    engine: Engine,
    name: String,
}

impl ConceptHarness {
    /// The concept with fresh, empty state.
    ///
    /// # Panics
    /// If the in-memory database cannot be opened: this is for tests.
    pub async fn new<C: concord_concept::Concept>(concept: C) -> Self {
        let spec = concept.spec();
        let store = concord_store::open("sqlite::memory:")
            .await
            .expect("an in-memory database");
        store
            .ensure_collections(spec.collections.clone())
            .await
            .expect("the concept's collections");
        let engine = concord_engine::EngineBuilder::new()
            .store(store)
            .concept(concept)
            .build(concord_program::Program::default())
            .expect("an engine without syncs");
        ConceptHarness {
            engine,
            name: spec.name,
        }
    }

    /// Runs `action` with `input` (a JSON object) and returns its outcome.
    ///
    /// # Panics
    /// If `input` is not an object or the action does not exist.
    pub async fn act(&self, action: &str, input: serde_json::Value) -> concord_concept::Outcome {
        let input = input.as_object().cloned().expect("input is a JSON object");
        let report = self
            .engine
            .run(&self.name, action, input)
            .await
            .expect("the action runs");
        report.records[0].outcome.clone()
    }

    /// Runs `action` and returns its success output.
    ///
    /// # Panics
    /// If the action returns its error case.
    pub async fn ok(&self, action: &str, input: serde_json::Value) -> concord_concept::Record {
        match self.act(action, input).await {
            concord_concept::Outcome::Success(out) => out,
            concord_concept::Outcome::Error(e) => panic!("{}.{action} failed: {e}", self.name),
        }
    }

    /// Runs `action` and returns its error message.
    ///
    /// # Panics
    /// If the action succeeds.
    pub async fn err(&self, action: &str, input: serde_json::Value) -> String {
        match self.act(action, input).await {
            concord_concept::Outcome::Error(e) => e,
            concord_concept::Outcome::Success(out) => panic!("{}.{action} succeeded: {out:?}", self.name),
        }
    }

    /// The rows of `query` for `input`.
    ///
    /// # Panics
    /// If the query fails.
    pub async fn query(&self, query: &str, input: serde_json::Value) -> Vec<serde_json::Value> {
        let input = input.as_object().cloned().expect("input is a JSON object");
        self.engine
            .query(&self.name, query, input)
            .await
            .unwrap_or_else(|e| panic!("{}.{query}: {e}", self.name))
            .into_iter()
            .map(serde_json::Value::Object)
            .collect()
    }
}

/// An app's own binary as a real process on a loopback port, for tests that
/// look at it from outside: what it prints and what it leaves on disk.
pub mod process {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    /// A running server; [`Server::stop`] kills it and returns its output.
    pub struct Server {
        /// Where it listens.
        pub addr: SocketAddr,
        child: Child,
        /// Its stdout and stderr, in a file (a pipe nobody reads would fill
        /// and stall it).
        output: PathBuf,
    }

    impl Server {
        /// Starts `bin serve` with `env` on a free loopback port and waits
        /// (up to 60 s) until it accepts connections.
        ///
        /// # Panics
        /// If it cannot start or never listens: this is for tests.
        pub fn start(bin: &str, env: &[(&str, &str)]) -> Server {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let output = std::env::temp_dir().join(format!("concord-server-{}-{port}.log", std::process::id()));
            let file = std::fs::File::create(&output).expect("a file for the server's output");
            let mut cmd = Command::new(bin);
            cmd.arg("serve")
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string())
                .stdout(file.try_clone().expect("a second handle"))
                .stderr(file);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("the app's binary starts");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut server = Server { addr, child, output };
            let started = Instant::now();
            while std::net::TcpStream::connect(addr).is_err() {
                if let Ok(Some(status)) = server.child.try_wait() {
                    panic!("the server exited ({status}) before listening:\n{}", server.output());
                }
                assert!(started.elapsed() < Duration::from_secs(60), "the server never listened");
                std::thread::sleep(Duration::from_millis(50));
            }
            server
        }

        /// Kills the server (SIGKILL: nothing it still holds is flushed on
        /// the way out) and returns everything it printed.
        pub fn stop(mut self) -> String {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.output()
        }

        fn output(&mut self) -> String {
            String::from_utf8_lossy(&std::fs::read(&self.output).unwrap_or_default()).into_owned()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_file(&self.output);
        }
    }

    /// The bytes of a SQLite database and its write-ahead log, lossily as
    /// text, for searching.
    pub fn sqlite_files(path: &std::path::Path) -> String {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::read(format!("{}{suffix}", path.display())).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect()
    }

    /// Which of `secrets` occur in `haystack` (each named by its label).
    pub fn found<'a, S: AsRef<str>>(haystack: &str, secrets: &[(&'a str, S)]) -> Vec<&'a str> {
        secrets
            .iter()
            .filter(|(_, s)| !s.as_ref().is_empty() && haystack.contains(s.as_ref()))
            .map(|(label, _)| *label)
            .collect()
    }
}
