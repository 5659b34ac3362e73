//! Seed 001's syncs, as written, are rejected before anything runs, with the
//! diagnostic that explains the `Missing binding: Symbol(session)` bug.

use std::path::PathBuf;
use std::process::Command;

fn broken_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("broken")
}

#[test]
fn check_explains_the_seed_001_bug() {
    let app = auth::app();
    let report = app.check(&broken_dir()).unwrap();
    assert_eq!(report.errors, 2, "{}", report.rendered);
    let r = &report.rendered;
    assert!(
        r.contains("error[E0260]: a then invocation cannot bind outputs: `Sessioning.create` has an output pattern"),
        "{r}"
    );
    assert!(r.contains("auth.sync:17:32"), "points at the then output: {r}");
    assert!(
        r.contains("`session` is used here, but the then output above never binds it"),
        "{r}"
    );
    assert!(
        r.contains("move `Sessioning.create (user) : (session)` into the when clause of a new sync"),
        "explains the split: {r}"
    );
    assert!(
        r.contains("        Sessioning.create (user) : (session)\n"),
        "shows the second sync: {r}"
    );
}

#[test]
fn the_check_command_exits_non_zero_on_the_broken_syncs() {
    let out = Command::new(env!("CARGO_BIN_EXE_auth"))
        .arg("check")
        .arg(broken_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[E0260]"), "{stderr}");
    assert!(stderr.contains("2 error(s)"), "{stderr}");
}

#[test]
fn the_app_syncs_check_cleanly() {
    let out = Command::new(env!("CARGO_BIN_EXE_auth"))
        .arg("check")
        .arg(auth::syncs_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "no warnings expected: {stderr}");
}

#[test]
fn routes_lists_each_path_and_who_answers_each_outcome() {
    let out = Command::new(env!("CARGO_BIN_EXE_auth")).arg("routes").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let login: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "/api/auth/login")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    let expect = [
        "auth.LoginRequest                    invokes on the request: Profile.authenticate",
        "auth.CreateSessionOnAuthentication   invokes when Profile.authenticate succeeds: Sessioning.create",
        "auth.RespondWithSession              responds when Profile.authenticate succeeds and Sessioning.create succeeds: Requesting.respond",
        "auth.RespondToFailedAuthentication   responds when Profile.authenticate fails: Requesting.respondWith",
        "auth.RespondToFailedSession          responds when Sessioning.create fails: Requesting.respondWith",
    ];
    assert_eq!(login, expect, "{text}");
    assert!(text.contains("/api/auth/users/:username"), "{text}");
}

#[test]
fn graph_prints_the_sync_graph() {
    let out = Command::new(env!("CARGO_BIN_EXE_auth")).arg("graph").output().unwrap();
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.starts_with("digraph syncs {"), "{dot}");
    assert!(
        dot.contains("\"Profile\" -> \"Sessioning\" [label=\"auth.CreateSessionOnAuthentication\"];"),
        "{dot}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_auth"))
        .args(["graph", "--svg"])
        .output()
        .unwrap();
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(
        svg.starts_with("<svg") && svg.contains(">UserAuthentication</text>"),
        "{svg}"
    );
}
