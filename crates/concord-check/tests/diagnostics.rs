//! Snapshot tests of diagnostics: one `.sync` file per mistake under
//! `tests/diagnostics/`, its rendered diagnostics in the `.stderr` file next
//! to it. Each case's first line names the code it must produce
//! (`# expect: E0260`). Run with `UPDATE_SNAPSHOTS=1` to rewrite snapshots
//! after an intended change, then review the diff.

mod support;

use std::path::Path;

use concord_syntax::{SourceMap, render_all};
use libtest_mimic::{Arguments, Failed, Trial};

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

/// Checks one case against its snapshot (or rewrites the snapshot).
fn run_case(case: &Path) -> Result<(), Failed> {
    let source = std::fs::read_to_string(case).map_err(|e| format!("{}: {e}", case.display()))?;
    let expect: Vec<String> = source
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .ok_or_else(|| format!("{} must start with `# expect: CODE`", case.display()))?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let (rendered, codes) = render_case(case);
    let mut failures = Vec::new();
    for code in &expect {
        if !codes.contains(&code.as_str()) {
            failures.push(format!("expected {code}, got {codes:?}\n{rendered}"));
        }
    }
    let snapshot = case.with_extension("stderr");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &rendered).map_err(|e| e.to_string())?;
    } else {
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
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n\n").into())
    }
}

/// One test per case, named after its file (`cargo test -p concord-check
/// --test diagnostics -- unknown_action`).
fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/diagnostics")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sync"))
        .collect();
    cases.sort();
    let count = cases.len();
    let mut trials: Vec<Trial> = cases
        .into_iter()
        .map(|case| {
            let name = case.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            Trial::test(name, move || run_case(&case))
        })
        .collect();
    trials.push(Trial::test("the_corpus_holds_at_least_30_mistakes", move || {
        if count >= 30 {
            Ok(())
        } else {
            Err(format!("found only {count}").into())
        }
    }));
    libtest_mimic::run(&args, trials).exit();
}
