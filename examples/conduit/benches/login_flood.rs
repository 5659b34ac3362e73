//! Memory under a login flood: 8 waves of 32 concurrent wrong-password
//! logins against conduit (in this process, on SQLite), printing resident
//! memory before and after and how the logins were answered. The goal is
//! at most 150 MB after the flood (issue: 3.3 GB before hashing was
//! bounded). `cargo bench -p conduit --bench login_flood`.

use serde_json::json;

fn resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let addr = conduit::serve_on_loopback(&format!("sqlite://{}", dir.path().join("flood.db").display())).await;
        let send = |body: serde_json::Value, path: &'static str| async move {
            concord::testing::http::send(addr, "POST", path, &body.to_string(), &[]).await
        };
        let user = json!({"user": {"username": "victim", "email": "victim@example.com", "password": "the password"}});
        assert_eq!(send(user, "/api/users").await.status, 201);
        let before = resident_mb();
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        let started = std::time::Instant::now();
        for _ in 0..8 {
            let wave: Vec<_> = (0..32)
                .map(|_| {
                    tokio::spawn(send(
                        json!({"user": {"email": "victim@example.com", "password": "wrong"}}),
                        "/api/users/login",
                    ))
                })
                .collect();
            for r in wave {
                *statuses.entry(r.await.unwrap().status).or_default() += 1;
            }
        }
        let elapsed = started.elapsed();
        let after = resident_mb();
        println!("login flood: 8 waves x 32 concurrent wrong-password logins in {elapsed:.2?}");
        println!("  answers: {statuses:?}");
        println!("  resident memory: {before:.1} MB before, {after:.1} MB after (goal: at most 150 MB)");
    });
}
