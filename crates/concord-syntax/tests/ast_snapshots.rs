//! Snapshot tests of the syntax tree for valid input: each
//! `tests/ast/*.sync` parses without diagnostics, and its tree (`{:#?}`,
//! spans included) is the `.ast` file next to it. `UPDATE_SNAPSHOTS=1`
//! rewrites the snapshots after an intended change; review the diff.

use std::path::Path;

use concord_syntax::{FileId, parse};

#[test]
fn valid_input_parses_to_the_recorded_tree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ast");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sync"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).unwrap();
        let (file, diagnostics) = parse(FileId(0), &text);
        if !diagnostics.is_empty() {
            failures.push(format!(
                "{}: valid input has diagnostics: {diagnostics:?}",
                case.display()
            ));
            continue;
        }
        let tree = format!("{file:#?}\n");
        let snapshot = case.with_extension("ast");
        if update {
            std::fs::write(&snapshot, &tree).unwrap();
            continue;
        }
        match std::fs::read_to_string(&snapshot) {
            Ok(expected) if expected == tree => {}
            Ok(expected) => failures.push(format!(
                "{} changed (UPDATE_SNAPSHOTS=1 to accept):\n--- expected\n{expected}\n--- actual\n{tree}",
                snapshot.display()
            )),
            Err(_) => failures.push(format!(
                "{} is missing; run with UPDATE_SNAPSHOTS=1",
                snapshot.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
