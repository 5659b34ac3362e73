//! PostgreSQL's shared read connections come back after the server drops
//! them (a restart, a terminated backend): the read that finds its connection
//! closed runs again on a new one. Its own test binary, so that terminating
//! the readers cannot disturb other tests.

use concord_concept::state::{CollectionSpec, Op, OpResult, Query};

/// A store on `url` with `collection` in it.
async fn store_with(url: &str, collection: &str) -> std::sync::Arc<dyn concord_store::Backend> {
    let store = concord_store::open(url).await.unwrap();
    store
        .ensure_collections(vec![CollectionSpec {
            name: collection.into(),
            ..Default::default()
        }])
        .await
        .unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_terminated_reader_connections() {
    let Some(url) = concord_store::testing::postgres_url() else {
        return;
    };
    let store = store_with(&url, "Readers.things").await;
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

/// Reads in flight while their connections are terminated, twice: whichever
/// way each one learns of it (an error from the server, a closed socket, a
/// broken write), it is retried on a new connection and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_in_flight_survive_terminated_reader_connections() {
    let Some(url) = concord_store::testing::postgres_url() else {
        return;
    };
    let store = store_with(&url, "Readers.inflight").await;
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..8 {
        let (store, stop) = (store.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let result = store
                    .read(Op::Count {
                        collection: "Readers.inflight".into(),
                        query: Query::all(),
                    })
                    .await;
                assert!(matches!(result, Ok(OpResult::Count(0))), "read {reads}: {result:?}");
                reads += 1;
            }
            reads
        }));
    }
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'concord-reader' AND datname = current_database()",
                &[],
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.unwrap() > 0, "every reader read");
    }
}
