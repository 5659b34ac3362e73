//! `cargo run -p conduit` serves the RealWorld API under `/api` (embedded
//! SQLite by default; `DATABASE_URL=postgres://…` for PostgreSQL).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    concord::init_tracing();
    conduit::app().main().await
}
