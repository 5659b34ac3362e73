//! Starting the auth app on a loopback port for end-to-end tests.
#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::path::PathBuf;

use concord::App;
use concord::http::HttpConfig;

/// Serves `app` with `config` on a free loopback port.
pub async fn serve(app: App, config: HttpConfig) -> SocketAddr {
    let router = app.router(config).await.expect("the auth app loads");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(concord::http::serve(listener, router));
    addr
}

/// A syncs directory in `dir` with the app's syncs and
/// `tests/fixtures/pending.sync`, which leaves requests for unknown users
/// unanswered (the edge refuses what no sync could take, so the app itself
/// has no unanswered request).
pub fn syncs_with_pending(dir: &tempfile::TempDir) -> PathBuf {
    let syncs = dir.path().join("syncs");
    std::fs::create_dir_all(&syncs).unwrap();
    for file in std::fs::read_dir(auth::syncs_dir()).unwrap() {
        let file = file.unwrap().path();
        std::fs::copy(&file, syncs.join(file.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pending.sync"),
        syncs.join("pending.sync"),
    )
    .unwrap();
    syncs
}
