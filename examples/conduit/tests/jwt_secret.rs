//! The signing key is never silently weakened: a `JWT_SECRET` shorter than
//! 32 bytes stops the server before it starts, and an unset one is said out
//! loud.

use std::process::Command;

fn conduit(secret: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conduit"));
    cmd.arg("routes").env("DATABASE_URL", "sqlite::memory:");
    match secret {
        Some(s) => cmd.env("JWT_SECRET", s),
        None => cmd.env_remove("JWT_SECRET"),
    };
    cmd.output().unwrap()
}

#[test]
fn a_short_secret_is_refused() {
    let out = conduit(Some("only-twenty-bytes!!!"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("JWT_SECRET is 20 bytes; it must be at least 32"),
        "{stderr}"
    );
    assert!(!stderr.contains("only-twenty"), "the secret is not echoed: {stderr}");
}

#[test]
fn an_unset_secret_is_announced_and_a_long_one_accepted() {
    let out = conduit(None);
    assert!(out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("JWT_SECRET is not set"), "{all}");
    let out = conduit(Some(&"k".repeat(32)));
    assert!(out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("JWT_SECRET"), "{all}");
}
