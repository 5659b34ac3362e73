//! Every `sync` block of the guide (docs/guide/*.md) checks against the
//! auth example's concepts without errors or unused variables. (Its Rust
//! blocks are doctests of `concord::guide`.)

use std::path::PathBuf;

#[test]
fn the_guide_s_syncs_check() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/guide");
    let specs = auth::app().specs();
    let mut checked = 0;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    pages.sort();
    for page in pages.into_iter().filter(|p| p.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut block: Option<(usize, String)> = None;
        for (n, line) in text.lines().enumerate() {
            match (&mut block, line) {
                (None, "```sync") => block = Some((n + 1, String::new())),
                (Some((start, sync)), "```") => {
                    let name = format!("{}:{start}", page.display());
                    let mut sources = concord::syntax::SourceMap::new();
                    let result = concord::check::load(
                        &mut sources,
                        vec![concord::check::SourceText::new(name.clone(), sync.clone())],
                        &specs,
                    );
                    let rendered = concord::syntax::render_all(&result.diagnostics, &sources);
                    assert!(
                        !result.diagnostics.iter().any(|d| d.is_error() || d.code == "W0301"),
                        "{name} must check:\n{rendered}"
                    );
                    checked += 1;
                    block = None;
                }
                (Some((_, sync)), l) => {
                    sync.push_str(l);
                    sync.push('\n');
                }
                _ => {}
            }
        }
    }
    assert!(checked >= 4, "{checked} sync blocks");
}
