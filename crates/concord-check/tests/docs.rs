//! Every `sync` block in docs/sync-language.md checks without errors or
//! unused variables, every `sync-app` block (a complete set of syncs) checks
//! without any diagnostic, and every `sync-error` block is rejected.

mod support;

use concord_syntax::{SourceMap, render_all};

#[test]
fn the_language_reference_examples_check() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sync-language.md");
    let doc = std::fs::read_to_string(path).expect("docs/sync-language.md");
    let mut blocks = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for (n, line) in doc.lines().enumerate() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(kind)) if kind == "sync" || kind == "sync-app" || kind == "sync-error" => {
                current = Some((kind.to_string(), String::new(), n + 1));
            }
            (Some(_), Some("")) => blocks.push(current.take().unwrap()),
            (Some((_, text, _)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    assert!(blocks.len() >= 8, "found only {} sync blocks", blocks.len());
    for (kind, text, line) in blocks {
        let mut sources = SourceMap::new();
        let name = format!("docs/sync-language.md:{line}");
        let checked = concord_check::load(
            &mut sources,
            vec![concord_check::SourceText::new(name, text)],
            &support::specs(),
        );
        let rendered = render_all(&checked.diagnostics, &sources);
        match kind.as_str() {
            "sync" => assert!(
                !checked.diagnostics.iter().any(|d| d.is_error() || d.code == "W0301"),
                "block at line {line} must check:\n{rendered}"
            ),
            "sync-app" => assert!(
                checked.diagnostics.is_empty(),
                "block at line {line} must check cleanly:\n{rendered}"
            ),
            _ => assert!(checked.has_errors(), "block at line {line} must be rejected"),
        }
    }
}

#[test]
fn the_behaviour_contract_the_code_cites_is_in_the_repository() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/semantics.md");
    let doc = std::fs::read_to_string(path).expect("docs/semantics.md");
    for section in ["### 3.1 when", "## 5. Checking before running"] {
        assert!(doc.contains(section), "docs/semantics.md has no `{section}`");
    }
}
