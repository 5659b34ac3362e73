//! `cargo run -p conduit` serves the RealWorld API under `/api` (embedded
//! SQLite by default; `DATABASE_URL=postgres://…` for PostgreSQL).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    concord::init_tracing();
    match conduit::app() {
        Ok(app) => app.main().await,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
