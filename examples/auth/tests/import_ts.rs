//! `auth import-ts` on the seeds' TypeScript syncs (../shared/seeds): seed
//! 003's translate into syncs that check against the auth app's concepts;
//! seed 001's into syncs on which the checker reports E0260 at the
//! `Sessioning.create` line, the reference's `Missing binding:
//! Symbol(session)`, before anything runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The TypeScript block of a seed document, as a `*.sync.ts` file in `dir`.
fn seed(name: &str, dir: &Path) -> PathBuf {
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds");
    let file = std::fs::read_dir(&seeds)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .unwrap_or_else(|| panic!("no seed {name} in {}", seeds.display()));
    let text = std::fs::read_to_string(file).unwrap();
    let start = text.find("```typescript\n").unwrap() + "```typescript\n".len();
    let end = start + text[start..].find("```").unwrap();
    let path = dir.join(format!("seed{name}.sync.ts"));
    std::fs::write(&path, &text[start..end]).unwrap();
    path
}

fn import(file: &Path, out: &Path) -> (bool, String, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_auth"))
        .arg("import-ts")
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let name = file.file_name().unwrap().to_string_lossy().replace(".sync.ts", ".sync");
    let written = std::fs::read_to_string(out.join(name)).unwrap_or_default();
    (
        run.status.success(),
        written,
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn seed_003_translates_into_syncs_that_check() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, syncs, report) = import(&seed("003", dir.path()), dir.path());
    assert!(ok, "{report}");
    assert!(
        report.contains("8 sync(s) translated, 0 part(s) left to translate by hand (E0295), 0 error(s)"),
        "{report}"
    );
    for expected in [
        "sync LoginFlow\nwhen\n    UserAuthentication.login () : (user)\nthen\n    Sessioning.create (user)\n",
        "    Requesting.request (path: \"/logout\", session) : ()\nthen\n    Sessioning.delete (session)\n",
        "    Sessioning.delete () : (error)\nthen\n    Requesting.respond (request, error)\n",
        "# After a user successfully logs in, create a session for them.\n",
    ] {
        assert!(syncs.contains(expected), "{expected:?} in:\n{syncs}");
    }
    // And it is what `check` sees too.
    let check = Command::new(env!("CARGO_BIN_EXE_auth"))
        .arg("check")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

#[test]
fn seed_001_translates_into_syncs_the_checker_rejects_at_sessioning_create() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, syncs, report) = import(&seed("001", dir.path()), dir.path());
    assert!(!ok, "{report}");
    let line = syncs
        .lines()
        .position(|l| l.trim() == "Sessioning.create (user) : (session)")
        .unwrap_or_else(|| panic!("{syncs}"))
        + 1;
    assert!(
        report.contains(&format!("error[E0260]: a then invocation cannot bind outputs: `Sessioning.create` has an output pattern\n  --> {}:{line}:", dir.path().join("seed001.sync").display())),
        "E0260 at line {line}:\n{report}"
    );
    // The variables are the symbols the TypeScript names stood for.
    assert!(
        syncs.contains("    Requesting.respond (request, user, session, message: \"Login successful\")"),
        "{syncs}"
    );
}
