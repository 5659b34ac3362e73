//! Snapshot tests of diagnostics: one `.sync` file per mistake under
//! `tests/diagnostics/`, its rendered diagnostics in the `.stderr` file next
//! to it. Each case's first line names the code it must produce
//! (`# expect: E0260`). Run with `UPDATE_SNAPSHOTS=1` to rewrite snapshots
//! after an intended change, then review the diff.

mod support;

use std::path::Path;

use concord_syntax::{SourceMap, render_all};

fn render_case(path: &Path) -> (String, Vec<&'static str>) {
    let text = std::fs::read_to_string(path).expect("readable case");
    let name = format!("diagnostics/{}", path.file_name().unwrap().to_string_lossy());
    let mut sources = SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText::new(name, text)],
        &support::specs(),
    );
    let codes = checked.diagnostics.iter().map(|d| d.code).collect();
    (render_all(&checked.diagnostics, &sources), codes)
}

#[test]
fn every_mistake_has_a_precise_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sync"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 30,
        "the corpus holds at least 30 mistakes, found {}",
        cases.len()
    );
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let source = std::fs::read_to_string(case).unwrap();
        let expect = source
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} must start with `# expect: CODE`", case.display()))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>();
        let (rendered, codes) = render_case(case);
        for code in &expect {
            if !codes.contains(&code.as_str()) {
                failures.push(format!(
                    "{}: expected {code}, got {codes:?}\n{rendered}",
                    case.display()
                ));
            }
        }
        let snapshot = case.with_extension("stderr");
        if update {
            std::fs::write(&snapshot, &rendered).unwrap();
            continue;
        }
        match std::fs::read_to_string(&snapshot) {
            Ok(expected) if expected == rendered => {}
            Ok(expected) => failures.push(format!(
                "{} changed (UPDATE_SNAPSHOTS=1 to accept):\n--- expected\n{expected}\n--- actual\n{rendered}",
                snapshot.display()
            )),
            Err(_) => failures.push(format!(
                "{} is missing; run with UPDATE_SNAPSHOTS=1\n{rendered}",
                snapshot.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
