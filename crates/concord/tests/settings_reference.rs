//! docs/reference/settings.md lists every setting the code reads, every
//! flag of `serve` and every command: each name in quotes in the sources that
//! looks like a setting (`CONCORD_…`, `REQUESTING_…`, `JWT_SECRET`, …) must be
//! on the page.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !path.ends_with("target") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

/// Quoted names of settings in `text`.
fn settings_in(text: &str) -> Vec<String> {
    let prefixes = ["CONCORD_", "REQUESTING_"];
    let exact = ["JWT_SECRET", "DATABASE_URL", "PORT", "HOST", "HOSTNAME"];
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && (prefixes.iter().any(|p| s.starts_with(p) && s.len() > p.len()) || exact.contains(s))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn every_setting_flag_and_command_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let page = std::fs::read_to_string(root.join("docs/reference/settings.md")).unwrap();
    let mut texts = Vec::new();
    sources(&root.join("crates"), &mut texts);
    sources(&root.join("examples"), &mut texts);
    let mut found: Vec<String> = texts.iter().flat_map(|t| settings_in(t)).collect();
    found.sort();
    found.dedup();
    assert!(found.len() > 20, "the scan finds the settings: {found:?}");
    let missing: Vec<&String> = found.iter().filter(|s| !page.contains(&format!("`{s}`"))).collect();
    assert!(
        missing.is_empty(),
        "docs/reference/settings.md does not list {missing:?}"
    );
    let settings = std::fs::read_to_string(root.join("crates/concord/src/settings.rs")).unwrap();
    let flags = settings
        .split_once("const FLAG_SETTINGS")
        .and_then(|(_, rest)| rest.split_once("];"))
        .map(|(table, _)| table)
        .expect("settings.rs has its FLAG_SETTINGS table");
    for flag in flags.split('"').skip(1).step_by(2).filter(|s| s.starts_with("--")) {
        assert!(
            page.contains(&format!("`{flag}`")),
            "the page does not list the flag {flag}"
        );
    }
    for command in [
        "serve",
        "check [DIR]",
        "routes",
        "trace [FLOW]",
        "why FLOW [SYNC]",
        "graph [--svg]",
        "expand [SYNC]",
    ] {
        assert!(
            page.contains(&format!("`{command}`")),
            "the page does not list `{command}`"
        );
    }
}
