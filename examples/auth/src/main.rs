//! `cargo run -p auth` serves the auth app over HTTP (embedded SQLite by
//! default); `cargo run -p auth -- check examples/auth/broken` checks syncs;
//! `cargo run -p auth -- routes` lists what the syncs answer.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    concord::init_tracing();
    auth::app().main().await
}
