//! Given/when/then tests of sync behaviour: run a flow, then compare its
//! whole trace with an expected text in which ids are numbered (`<id1>`,
//! `<id2>`, … in order of first appearance, so joins stay visible) and
//! secrets are redacted.

use std::collections::HashMap;
use std::fmt::Write as _;

use concord_engine::{Engine, FlowReport};

/// The flow as an indented tree: each action under the record its sync
/// matched last, with the sync's name; ids numbered, secrets redacted.
pub fn snapshot(engine: &Engine, report: &FlowReport) -> String {
    let sensitive = engine.sensitive_keys();
    let index: HashMap<_, usize> = report.records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut depth = vec![0usize; report.records.len()];
    let mut text = String::new();
    for (i, r) in report.records.iter().enumerate() {
        let parent = r.matched.iter().filter_map(|m| index.get(m)).max();
        depth[i] = parent.map_or(0, |&p| depth[p] + 1);
        let sync = r.sync.as_deref().map(|s| format!("[{s}] ")).unwrap_or_default();
        let _ = writeln!(text, "{}{sync}{}", "  ".repeat(depth[i]), r.display_redacted(sensitive));
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
