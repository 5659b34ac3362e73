//! The TextMate grammar (editors/vscode/syntaxes/sync.tmLanguage.json)
//! tokenised by an independent implementation, VS Code's own
//! `vscode-textmate` with Oniguruma (from npm; `.ci/run` installs both into
//! `target/tools`), on every example's syncs: keywords, concepts, actions,
//! queries, strings, comments and built-ins get their scopes.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn has(token: &Value, scope: &str) -> bool {
    token["scopes"].as_array().unwrap().iter().any(|s| s == scope)
}

#[test]
fn the_examples_tokenise_with_the_scopes_an_editor_colours() {
    let modules = root().join("target/tools/node_modules");
    if !modules.join("vscode-textmate").exists() || !modules.join("vscode-oniguruma").exists() {
        assert!(
            std::env::var("CI").is_err(),
            "vscode-textmate and vscode-oniguruma are required under CI in {} (.ci/run installs them)",
            modules.display()
        );
        eprintln!("note: skipped; `npm install --prefix target/tools vscode-textmate@9 vscode-oniguruma@2`");
        return;
    }
    let files: Vec<PathBuf> = [
        "examples/auth/syncs/auth.sync",
        "examples/conduit/syncs/articles.sync",
        "examples/conduit/syncs/users.sync",
    ]
    .iter()
    .map(|f| root().join(f))
    .collect();
    let out = Command::new("node")
        .arg(root().join("editors/vscode/test/tokenize.js"))
        .args(&files)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tokens: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(tokens.len() > 1000, "{} tokens", tokens.len());
    let expect = |text: &str, scope: &str| {
        // Words inside strings and comments are text, not code.
        let in_text = |t: &Value| has(t, "string.quoted.double.sync") || has(t, "comment.line.number-sign.sync");
        let found: Vec<&Value> = tokens
            .iter()
            .filter(|t| t["text"] == text && (scope.starts_with("string") || !in_text(t)))
            .collect();
        assert!(!found.is_empty(), "no token `{text}`");
        for t in found {
            assert!(
                has(t, scope),
                "`{text}` at {}:{} is {:?}, not {scope}",
                t["file"],
                t["line"],
                t["scopes"]
            );
        }
    };
    for keyword in ["when", "where", "then", "else", "optional", "collect", "let", "as"] {
        expect(keyword, "keyword.control.sync");
    }
    expect("sync", "keyword.other.declaration.sync");
    expect("view", "keyword.other.declaration.sync");
    expect("ListArticles", "entity.name.section.sync");
    for concept in ["Requesting", "JWT", "Article", "Sessioning"] {
        expect(concept, "entity.name.type.concept.sync");
    }
    for action in ["respondWith", "create", "register"] {
        expect(action, "entity.name.function.action.sync");
    }
    for query in ["_bySlug", "_verify", "_getUser"] {
        expect(query, "entity.name.function.query.sync");
    }
    for builtin in ["coalesce", "blank", "compact", "integer"] {
        expect(builtin, "support.function.builtin.sync");
    }
    expect("ArticleJson", "entity.name.type.view.sync");
    expect("null", "constant.language.sync");
    expect("422", "constant.numeric.sync");
    expect("/articles", "string.quoted.double.sync");
    expect("can't be blank", "string.quoted.double.sync");
    // Every comment line, and nothing inside a string taken for one.
    for t in &tokens {
        let text = t["text"].as_str().unwrap();
        if text.starts_with('#') {
            assert!(has(t, "comment.line.number-sign.sync"), "{t}");
        }
        if has(t, "comment.line.number-sign.sync") {
            assert!(text.starts_with('#'), "{t}");
        }
    }
    let comments = tokens
        .iter()
        .filter(|t| has(t, "comment.line.number-sign.sync"))
        .count();
    assert!(comments > 20, "{comments} comments");
}
