//! `auth lsp` driven as an editor drives it, over stdio: initialize, open
//! seed 001's syncs (examples/auth/broken/auth.sync), change them, then ask
//! for hover, completion, definition, symbols and formatting.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

struct Client {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: i64,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_auth"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("auth lsp starts");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Client {
            child,
            input,
            output,
            next_id: 1,
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.input, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.input.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.output.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.output.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// Sends a request and returns its result, passing over notifications.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self.receive();
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics published.
    fn diagnostics(&mut self) -> Value {
        loop {
            let m = self.receive();
            if m["method"] == "textDocument/publishDiagnostics" {
                return m["params"]["diagnostics"].clone();
            }
        }
    }
}

/// The position of the `n`th occurrence of `needle` in `text`, `offset`
/// characters into it (ASCII text).
fn position(text: &str, needle: &str, offset: usize) -> Value {
    let at = text.find(needle).unwrap_or_else(|| panic!("no `{needle}`")) + offset;
    let line = text[..at].matches('\n').count();
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": column})
}

#[test]
fn an_editor_gets_diagnostics_hover_completion_and_definitions() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/broken/auth.sync");
    let seed = std::fs::read_to_string(path).unwrap();
    let uri = format!("file://{path}");
    let doc = json!({"uri": uri});
    let mut c = Client::start();
    let init = c.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    for capability in [
        "hoverProvider",
        "definitionProvider",
        "completionProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
    ] {
        assert!(init["capabilities"].get(capability).is_some(), "{capability}: {init}");
    }
    c.notify("initialized", json!({}));

    // Seed 001's bug, as you type it: E0260 on the `Sessioning.create` line.
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "sync", "version": 1, "text": seed}}),
    );
    let diagnostics = c.diagnostics();
    let create_line = seed
        .lines()
        .position(|l| l.contains("Sessioning.create (user) : (session)"))
        .unwrap();
    let e0260: Vec<&Value> = diagnostics
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "E0260")
        .collect();
    assert!(!e0260.is_empty(), "{diagnostics}");
    assert!(
        e0260.iter().any(|d| d["range"]["start"]["line"] == create_line),
        "E0260 on line {create_line}: {diagnostics}"
    );
    assert!(
        e0260[0]["message"].as_str().unwrap().contains("help:"),
        "with the checker's help: {}",
        e0260[0]
    );

    // Fixed as the reference says (two syncs): the error goes away.
    let fixed = seed
        .replace(
            "Profile.authenticate (username, password) : (user: authenticatedUser)",
            "Profile.authenticate (username, password)",
        )
        .replace(
        "    Sessioning.create (user) : (session)\n    Requesting.respond (request, user, session, message: \"Login successful\")",
            "    Sessioning.create (user)\n\nsync RespondWithSession\nwhen\n    Requesting.request (path: \"/auth/login\") : (request)\n    Sessioning.create (user) : (session)\nthen\n    Requesting.respond (request, user: session, session, message: \"Login successful\")",
        );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    let after = c.diagnostics();
    assert!(
        !after.as_array().unwrap().iter().any(|d| d["code"] == "E0260"),
        "{after}"
    );

    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": doc, "position": position(&fixed, "Sessioning.create", 12)}),
    );
    let shown = hover["contents"]["value"].as_str().unwrap();
    assert!(shown.contains("Sessioning.create (user) : (session)"), "{shown}");

    let completion = c.request(
        "textDocument/completion",
        json!({"textDocument": doc, "position": position(&fixed, "Profile.authenticate ()", 8)}),
    );
    let labels: Vec<&str> = completion
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"authenticate"), "{labels:?}");
    let inside = c.request(
        "textDocument/completion",
        json!({"textDocument": doc, "position": position(&fixed, "Profile.authenticate (username", 22)}),
    );
    let params: Vec<&str> = inside
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["username", "password"], "parameter names inside the pattern");

    let definition = c.request(
        "textDocument/definition",
        json!({"textDocument": doc, "position": position(&fixed, "Profile.authenticate", 10)}),
    );
    let target = definition["uri"].as_str().unwrap();
    assert!(target.ends_with("/examples/auth/src/profile.rs"), "{definition}");
    let line = definition["range"]["start"]["line"].as_u64().unwrap() as usize;
    let rust = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/profile.rs")).unwrap();
    assert!(
        rust.lines().nth(line).unwrap().contains("fn authenticate"),
        "{definition}"
    );

    let symbols = c.request("textDocument/documentSymbol", json!({"textDocument": doc}));
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.starts_with(&["HandleLoginRequest", "CreateSessionOnSuccessfulAuthentication"]),
        "{names:?}"
    );

    let messy =
        "sync   A\nwhen\n  Requesting.request (path: \"/x\") : (request)\nthen\n  Requesting.respond (request)\n";
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": messy}]}),
    );
    c.diagnostics();
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": doc, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(
        edits[0]["newText"],
        "sync A\nwhen\n    Requesting.request (path: \"/x\") : (request)\nthen\n    Requesting.respond (request)\n"
    );

    c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    let status = c.child.wait().unwrap();
    assert!(status.success(), "{status}");
}
