//! The public RealWorld collection (`tests/realworld/`, run by newman)
//! against the conduit example on SQLite and on PostgreSQL (an empty database
//! from `CONCORD_NEWMAN_POSTGRES_URL` when set, as `.ci/run` does; otherwise
//! the shared test database). newman comes
//! from `CONCORD_NEWMAN`, `target/tools/node_modules/.bin/newman` (where
//! `.ci/run` installs it) or `PATH`; under `CI=true` a missing newman fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Assertions in `Conduit.postman_collection.json` on an empty database when
/// every request gets the answer it expects. Some assertions only run after
/// earlier ones pass, so a broken server reports fewer; some run once per
/// article listed, so a database holding other tests' articles (the shared
/// PostgreSQL) reports more.
const FULL_ASSERTIONS: u64 = 311;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn newman() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CONCORD_NEWMAN").map(PathBuf::from),
        Some(workspace_root().join("target/tools/node_modules/.bin/newman")),
    ];
    if let Some(found) = candidates.into_iter().flatten().find(|p| p.is_file()) {
        return Some(found);
    }
    if Command::new("newman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(PathBuf::from("newman"));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but newman is not installed (.ci/run installs it into target/tools)");
    }
    eprintln!("newman not found: skipping the RealWorld collection (npm install --prefix target/tools newman@6)");
    None
}

fn collection() -> PathBuf {
    let shared = workspace_root().join("../shared/realworld/Conduit.postman_collection.json");
    let vendored = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realworld/Conduit.postman_collection.json");
    if vendored.is_file() { vendored } else { shared }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_realworld_collection_passes_on_every_database() {
    let Some(newman) = newman() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut databases = support::databases(&dir);
    // An empty PostgreSQL database when there is one (`.ci/run` makes it):
    // then the assertion count must be exact there too.
    let fresh_postgres = std::env::var("CONCORD_NEWMAN_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if let Some(url) = &fresh_postgres {
        databases.retain(|(name, _)| *name != "postgres");
        databases.push(("postgres", url.clone()));
    }
    for (name, url) in databases {
        let addr = support::start(&url).await;
        let report = dir.path().join(format!("newman-{name}.json"));
        let user = support::unique("newman");
        let newman = newman.clone();
        let collection = collection();
        let report_path = report.clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new(&newman)
                .arg("run")
                .arg(&collection)
                .args([
                    "--delay-request",
                    "1",
                    "--reporters",
                    "cli,json",
                    "--reporter-json-export",
                ])
                .arg(&report_path)
                .args(["--global-var", &format!("APIURL=http://{addr}/api")])
                .args(["--global-var", &format!("USERNAME={user}")])
                .args(["--global-var", &format!("EMAIL={user}@mail.com")])
                .args(["--global-var", "PASSWORD=password"])
                .output()
                .expect("newman runs")
        })
        .await
        .unwrap();
        let cli = String::from_utf8_lossy(&output.stdout);
        let stats: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{name}: no newman report ({e}):\n{cli}")),
        )
        .unwrap();
        let assertions = &stats["run"]["stats"]["assertions"];
        let (total, failed) = (assertions["total"].as_u64(), assertions["failed"].as_u64());
        println!("{name}: {total:?} assertions, {failed:?} failed");
        assert_eq!(failed, Some(0), "{name}: failures\n{cli}");
        let total = total.unwrap_or(0);
        if name == "sqlite" {
            assert_eq!(
                total, FULL_ASSERTIONS,
                "{name} (a fresh database): not every assertion ran\n{cli}"
            );
        } else {
            assert!(total >= FULL_ASSERTIONS, "{name}: only {total} assertions ran\n{cli}");
        }
        assert!(
            output.status.success(),
            "{name}: newman exited with {}\n{cli}",
            output.status
        );
    }
}
