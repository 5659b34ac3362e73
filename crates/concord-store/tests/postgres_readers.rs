//! PostgreSQL's shared read connections come back after the server drops
//! them (a restart, a terminated backend): the read that finds its connection
//! closed runs again on a new one. Its own test binary, so that terminating
//! the readers cannot disturb other tests.

use concord_concept::state::{CollectionSpec, Op, OpResult, Query};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_terminated_reader_connections() {
    let Some(url) = concord_store::testing::postgres_url() else {
        return;
    };
    let store = concord_store::open(&url).await.unwrap();
    store
        .ensure_collections(vec![CollectionSpec {
            name: "Readers.things".into(),
            ..Default::default()
        }])
        .await
        .unwrap();
    let count = || async {
        match store
            .read(Op::Count {
                collection: "Readers.things".into(),
                query: Query::all(),
            })
            .await
        {
            Ok(OpResult::Count(n)) => Ok(n),
            other => Err(format!("{other:?}")),
        }
    };
    for _ in 0..8 {
        count().await.unwrap();
    }
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let terminated = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'concord-reader' AND datname = current_database()",
            &[],
        )
        .await
        .unwrap();
    assert!(!terminated.is_empty(), "the readers were found");
    // No pause: the first reads may find their connection closed only when
    // they use it, and must then run again on a new one.
    for i in 0..16 {
        assert_eq!(count().await, Ok(0), "read {i} after the readers were terminated");
    }
}
