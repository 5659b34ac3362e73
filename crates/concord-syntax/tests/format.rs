//! The formatter on every `.sync` file of the repository and the language
//! reference's examples: the result parses to the same tree (spans aside),
//! keeps every comment in order, is a fixed point, and the examples are
//! already in it (what CI's `fmt --check` enforces).

use std::path::{Path, PathBuf};

use concord_syntax::format::format;
use concord_syntax::{FileId, parse};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sync_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && !p.ends_with("target") && !p.ends_with(".git") && !p.ends_with("node_modules") {
            sync_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "sync") {
            out.push(p);
        }
    }
}

/// The tree's debug text without byte positions.
fn shape(text: &str) -> String {
    let (file, _) = parse(FileId(0), text);
    let debug = format!("{file:?}");
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("Span { start: ") {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        rest = &rest[i..];
        rest = &rest[rest.find('}').map_or(rest.len(), |e| e + 1)..];
    }
    out.push_str(rest);
    out
}

fn comments(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            l.find(" #")
                .map(|i| &l[i + 1..])
                .or(l.trim_start().starts_with('#').then(|| l.trim_start()))
        })
        .map(|c| c.trim_end().to_string())
        .collect()
}

fn check(name: &str, text: &str) -> String {
    let formatted = format(text).unwrap_or_else(|| panic!("{name} does not parse"));
    assert_eq!(shape(text), shape(&formatted), "{name}: the tree changed:\n{formatted}");
    assert_eq!(
        comments(text),
        comments(&formatted),
        "{name}: comments changed:\n{formatted}"
    );
    assert_eq!(
        format(&formatted).as_deref(),
        Some(formatted.as_str()),
        "{name}: not a fixed point"
    );
    assert!(
        formatted.lines().all(|l| l.len() <= concord_syntax::format::WIDTH
            || !l.contains(['(', '{', '['])
            || !l.trim_start().starts_with(|c: char| c.is_ascii_alphabetic())
            || l.len() <= 140),
        "{name}: a line far too long:\n{formatted}"
    );
    formatted
}

#[test]
fn the_repository_s_sync_files_are_formatted() {
    let mut files = Vec::new();
    for dir in ["examples", "crates"] {
        sync_files(&root().join(dir), &mut files);
    }
    assert!(files.len() >= 6, "{files:?}");
    let mut unformatted = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        if format(&text).is_none() {
            continue; // broken on purpose (diagnostics fixtures)
        }
        let formatted = check(&f.display().to_string(), &text);
        if f.components().any(|c| c.as_os_str() == "examples") && formatted != text {
            unformatted.push(f.display().to_string());
        }
    }
    assert!(
        unformatted.is_empty(),
        "not formatted (run `<app> fmt`): {unformatted:?}"
    );
}

#[test]
fn the_language_reference_examples_format_without_changing_meaning() {
    let doc = std::fs::read_to_string(root().join("docs/sync-language.md")).unwrap();
    let mut block: Option<String> = None;
    let mut n = 0;
    for line in doc.lines() {
        match (&mut block, line) {
            (None, "```sync" | "```sync-app") => block = Some(String::new()),
            (Some(text), "```") => {
                check(&format!("docs block {n}"), text);
                n += 1;
                block = None;
            }
            (Some(text), l) => {
                text.push_str(l);
                text.push('\n');
            }
            _ => {}
        }
    }
    assert!(n >= 10, "{n} blocks");
}

#[test]
fn long_lines_break_at_their_last_group_and_comments_stay() {
    let text = "# Top.\nsync   A\nwhen\n  Requesting.request (path: \"/x\", token?, user?: form) : (request)   # the entry\nwhere\n  # before the filter\n  !blank(form.email) && !blank(form.password)\n    else Requesting.respondWith (request, code: 422, body: { errors: compact({ email: if(blank(form.email), [\"can't be blank\"], null), password: null }) })\n  let x = (1 + 2) * 3 - (4 - 5)\nthen\n  Requesting.respond (request, x)\n";
    let formatted = check("sample", text);
    assert_eq!(
        formatted,
        "# Top.\nsync A\nwhen\n    Requesting.request (path: \"/x\", token?, user?: form) : (request)  # the entry\nwhere\n    # before the filter\n    !blank(form.email) && !blank(form.password)\n        else Requesting.respondWith (request, code: 422, body: {\n            errors: compact({\n                email: if(blank(form.email), [\"can't be blank\"], null),\n                password: null\n            })\n        })\n    let x = (1 + 2) * 3 - (4 - 5)\nthen\n    Requesting.respond (request, x)\n"
    );
    assert_eq!(format("sync (broken"), None, "a file that does not parse is left alone");
}
